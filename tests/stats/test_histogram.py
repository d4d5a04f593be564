"""fio's histogram and latency buckets: indexing equals fio's definitions exactly, and the
percentile walk compares in long double as fio does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loadgen.stats import histogram, latbuckets

PFPLUS = Path(__file__).parents[1] / "report" / "data" / "pfplus.json"  # fio-samples copy


def reference_index(v: int) -> int:
    """fio's plat_val_to_idx, written out bit by bit."""
    msb = v.bit_length() - 1 if v else 0
    if msb <= histogram.PLAT_BITS:
        return v
    err = msb - histogram.PLAT_BITS
    return min(
        (err + 1) * histogram.PLAT_VAL + ((v >> err) & (histogram.PLAT_VAL - 1)),
        histogram.PLAT_NR - 1,
    )


def test_value_to_index_matches_fio_on_edges_and_random_values() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            np.arange(0, 70_000),
            rng.integers(0, 2**40, 20_000),
            2 ** np.arange(0, 62),
            2 ** np.arange(1, 62) - 1,
            2 ** np.arange(1, 62) + 1,
        ]
    ).astype(np.uint64)
    got = histogram.value_to_index(values)
    want = np.array([reference_index(int(v)) for v in values])
    assert np.array_equal(got, want)


def test_latbuckets_table_matches_searchsorted() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([np.arange(0, 70_000), rng.integers(0, 5 * 10**9, 20_000)]).astype(
        np.int64
    )
    got = latbuckets.bucket_index(values)
    want = np.searchsorted(latbuckets.EDGES_NS, values, side="right")
    assert np.array_equal(got, want)


@pytest.mark.skipif(not PFPLUS.exists(), reason="fio json+ sample not available")
@pytest.mark.parametrize("ddir", ["read", "write"])
def test_percentiles_rebuilt_from_fio_bins_match_fio(ddir: str) -> None:
    """Rebuild the histogram from json+ bins (each bin is a bucket's value); the walk
    must give all 17 percentiles fio printed."""
    clat = json.loads(PFPLUS.read_text())["jobs"][0][ddir]["clat_ns"]
    hist = histogram.empty()
    for value, count in clat["bins"].items():
        idx = int(histogram.value_to_index(np.array([int(value)]))[0])
        assert int(histogram.BUCKET_VALUES[idx]) == int(value)
        hist[idx] += count
    assert int(hist.sum()) == clat["N"]
    got = histogram.percentiles(hist)
    want = {float(p): v for p, v in clat["percentile"].items()}
    assert got == want
    assert histogram.bins(hist) == {int(k): v for k, v in clat["bins"].items()}


def test_percentile_walk_on_synthetic_samples() -> None:
    """First bucket whose cumulative count reaches p% of N; values < 128 ns exact."""
    samples = np.arange(1, 101, dtype=np.int64)  # 1..100 ns, one each
    hist = histogram.empty()
    histogram.add_samples(hist, samples)
    pct = histogram.percentiles(hist, (1.0, 50.0, 99.0, 99.5, 100.0))
    assert pct == {1.0: 1, 50.0: 50, 99.0: 99, 99.5: 100, 100.0: 100}


def test_99_95_of_8000_needs_the_next_bucket_as_in_fio() -> None:
    """(long double)99.95/100*8000 is 7996 + 2.3e-13, so 7996 samples do not reach it (fio's
    kb job in tests/report/data/big_plus.json); in double it rounds to exactly 7996."""
    hist = histogram.empty()
    histogram.add_samples(hist, np.array([100] * 7996 + [1000] * 4, dtype=np.uint64))
    expected = histogram.index_to_value(int(histogram.value_to_index(np.array([1000]))[0]))
    assert histogram.percentiles(hist, [99.95]) == {99.95: expected}
    assert histogram.percentiles(hist, [99.9])[99.9] == 100
