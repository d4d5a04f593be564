"""Turns the kernel's accumulators into interval deltas (``IntervalStats``).

The kernel counts into one ``State``; ``take`` copies what the current interval
gathered into a fresh delta and zeroes the interval part, so nothing is allocated per
I/O and only the small delta per interval.  The bw/iops windows (fio's
bwavgtime/iopsavgtime) run over the whole measured window, across intervals.
"""

from __future__ import annotations

import numpy as np

from loadgen.engine import kernel as k
from loadgen.plan import Job
from loadgen.stats import histogram
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.moments import Moments


def _moments(acc: np.ndarray, accf: np.ndarray, at: int, atf: int) -> Moments:
    """Exact moments from the kernel's shifted sums: n, K, sum(x-K), min, max; sum((x-K)^2)."""
    n = int(acc[at])
    if n == 0:
        return Moments()
    shift, s1, s2 = int(acc[at + 1]), int(acc[at + 2]), float(accf[atf])
    mean_dev = s1 / n
    m2 = max(s2 - s1 * mean_dev, 0.0)
    return Moments(n, shift + mean_dev, m2, int(acc[at + 3]), int(acc[at + 4]))


def _sample_moments(acc: np.ndarray, accf: np.ndarray, at: int, atf: int) -> Moments:
    n = int(acc[at])
    if n == 0:
        return Moments()
    return Moments(n, float(accf[atf]), float(accf[atf + 1]), int(acc[at + 1]), int(acc[at + 2]))


class Recorder:
    """The measured window's accounting for one job, over the kernel's ``State``."""

    def __init__(self, job: Job, state: k.State) -> None:
        self.job = job
        self.state = state
        self.flags = 0
        # I/Os, bytes, completion-latency sum and count of the deltas taken so far
        self.taken = np.zeros(4, dtype=np.int64)

    def start(self, t0: int) -> None:
        """The measured window starts (after ramp): every count and window from zero."""
        acc, accf = self.state.acc, self.state.accf
        acc[:] = 0
        accf[:] = 0.0
        self.taken[:] = 0
        for kind, length in enumerate((self.job.bwavgtime_ms, self.job.iopsavgtime_ms)):
            acc[k.A_WIN + 4 * kind] = t0
            acc[k.A_WIN + 4 * kind + 1] = max(length, 1)

    def so_far(self) -> np.ndarray:
        """I/Os, bytes, completion-latency sum and count (ns) of both directions since the
        measured window started, the current interval included (steady-state samples)."""
        acc = self.state.acc
        out = self.taken.copy()
        for d in (0, 1):
            at = k.A_MOM + 5 * d
            n = int(acc[at])
            out += (
                acc[k.A_CNT + 2 * d],
                acc[k.A_CNT + 2 * d + 1],
                int(acc[at + 1]) * n + int(acc[at + 2]),
                n,
            )
        return out

    def take(self, thread_number: int) -> IntervalStats:
        """The current interval's delta; the interval accumulators start again from zero."""
        acc, accf = self.state.acc, self.state.accf
        self.taken[:] = self.so_far()
        out = IntervalStats(thread_number=thread_number)
        for d, ds in enumerate(out.dirs):
            ds.ios = int(acc[k.A_CNT + 2 * d])
            ds.bytes = int(acc[k.A_CNT + 2 * d + 1])
            ds.clat.moments = _moments(acc, accf, k.A_MOM + 5 * d, k.AF_MOM + d)
            ds.lat.moments = _moments(acc, accf, k.A_MOM + 10 + 5 * d, k.AF_MOM + 2 + d)
            for kind, stat in ((0, ds.clat), (1, ds.lat)):
                at = k.A_HIST + (2 * kind + d) * histogram.PLAT_NR
                stat.hist = acc[at : at + histogram.PLAT_NR].astype(np.uint64)
            ds.bw_samples = _sample_moments(acc, accf, k.A_SMP + 3 * d, k.AF_SMP + 2 * d)
            ds.iops_samples = _sample_moments(
                acc, accf, k.A_SMP + 3 * (2 + d), k.AF_SMP + 2 * (2 + d)
            )
        out.latency_buckets = acc[k.A_LBK : k.A_HIST].astype(np.uint64)
        out.syncs = int(acc[k.A_SYNC])
        out.sync.moments = _moments(acc, accf, k.A_SYNC + 1, k.AF_SYNC)
        out.sync.hist = acc[k.A_SYNC_HIST : k.A_SYNC_HIST + histogram.PLAT_NR].astype(np.uint64)
        acc[k.A_CNT : k.A_CNT + 4] = 0
        acc[k.A_MOM : k.A_WIN] = 0
        acc[k.A_LBK :] = 0
        accf[:] = 0.0
        return out
