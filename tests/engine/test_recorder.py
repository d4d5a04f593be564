"""Recorder folding: distinct-value counting is exact whatever the spread of latencies."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.engine.recorder import DISTINCT_LIMIT, _distinct


@pytest.mark.parametrize(
    "clat",
    [
        np.array([120, 130, 120, 140] * 50, dtype=np.int64),  # cache-hot: one small bincount
        np.concatenate([np.full(1000, 150), [50_000, 70_000, 10**9]]).astype(np.int64),  # rare outliers
        np.random.default_rng(3).integers(0, 4 * DISTINCT_LIMIT, 5000),  # wide: the full limit is used
        np.concatenate([np.full(64, 100), np.random.default_rng(4).integers(1000, 60_000, 2000)]).astype(np.int64),
    ],
)
def test_distinct_values_and_counts_reproduce_the_samples(clat: np.ndarray) -> None:
    values, counts = _distinct(clat)
    assert counts.min() >= 1 and int(counts.sum()) == len(clat)
    assert np.array_equal(np.sort(np.repeat(values, counts)), np.sort(clat))
