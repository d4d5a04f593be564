"""Interval deltas add up to job totals: counts, histograms and moments."""

from __future__ import annotations

import numpy as np

from loadgen.plan import READ, WRITE
from loadgen.stats import histogram
from loadgen.stats.jobstats import IntervalStats


def _interval(rng: np.random.Generator, t0: int) -> tuple[IntervalStats, np.ndarray]:
    delta = IntervalStats(
        thread_number=1, t_start_ns=t0, t_end_ns=t0 + 10, runtime_ns=10, minf=3, ctx=1
    )
    samples = rng.integers(100, 100_000, 50)
    delta.dirs[WRITE].ios = len(samples)
    delta.dirs[WRITE].bytes = 4096 * len(samples)
    delta.dirs[WRITE].clat.add_batch(samples)
    return delta, samples


def test_deltas_sum_to_the_totals_of_all_samples() -> None:
    rng = np.random.default_rng(1)
    total = IntervalStats()
    everything = []
    for i in range(5):
        delta, samples = _interval(rng, 1000 + 10 * i)
        total.merge(delta)
        everything.append(samples)
    allsamples = np.concatenate(everything)
    expected = histogram.empty()
    histogram.add_samples(expected, allsamples)
    write = total.dirs[WRITE]
    assert write.ios == 250 and write.bytes == 250 * 4096
    assert np.array_equal(write.clat.hist, expected)
    assert write.clat.moments.n == 250 and write.clat.moments.max == allsamples.max()
    assert total.dirs[READ].ios == 0
    assert (total.minf, total.ctx, total.runtime_ns) == (15, 5, 50)
    assert (total.t_start_ns, total.t_end_ns) == (1000, 1050)


def test_first_error_is_kept() -> None:
    total = IntervalStats()
    total.merge(IntervalStats(error=12, error_text="oom"))
    total.merge(IntervalStats(error=5, error_text="io"))
    assert (total.error, total.error_text) == (12, "oom")
