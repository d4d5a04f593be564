"""Moments merged from any split of the samples equal the moments of all of them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.stats.moments import Moments


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=200), st.data())
def test_merging_splits_gives_the_whole(samples: list[int], data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(samples)), max_size=5)))
    merged = Moments()
    for lo, hi in zip([0, *cuts], [*cuts, len(samples)], strict=False):
        part = Moments()
        part.add_batch(np.array(samples[lo:hi], dtype=np.int64))
        merged.merge(part)
    arr = np.array(samples, dtype=np.float64)
    assert merged.n == len(samples)
    assert merged.min == min(samples) and merged.max == max(samples)
    assert np.isclose(merged.mean, arr.mean(), rtol=1e-12, atol=1e-6)
    expected_sd = arr.std(ddof=1) if len(samples) > 1 else 0.0
    assert np.isclose(merged.stddev, expected_sd, rtol=1e-9, atol=1e-6)


def test_stddev_is_zero_for_one_sample() -> None:
    m = Moments()
    m.add_batch(np.array([42]))
    assert (m.n, m.mean, m.stddev, m.min, m.max) == (1, 42.0, 0.0, 42, 42)
