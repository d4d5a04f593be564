"""Turns each executed chunk of I/Os into interval statistics (vectorised per chunk).

Holds the current interval's ``IntervalStats`` delta and fio's bw/iops windows
(bwavgtime/iopsavgtime): a sample is taken once a full window has passed, valued
Δbytes*1000/Δms/1024 KiB/s and Δios*1000/Δms, per direction, as fio does.
"""

from __future__ import annotations

import numpy as np

from loadgen.plan import READ, WRITE, Job
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import DirStats, IntervalStats
from loadgen.stats.moments import Moments

_MS = 1_000_000
FOLD_OPS = 32768
DISTINCT_LIMIT = 1 << 16  # latencies below this (ns) are counted per distinct value
LOG_MSEC_SLACK = 1  # fio takes a window up to 1 ms early


def _moments_from_counts(values: np.ndarray, counts: np.ndarray) -> Moments:
    """Exact n/mean/m2/min/max of samples given as distinct values with counts."""
    n = int(counts.sum())
    v = values.astype(np.float64)
    c = counts.astype(np.float64)
    mean = float(v @ c) / n
    m2 = float(((v - mean) ** 2) @ c)
    return Moments(n, mean, m2, int(values.min()), int(values.max()))


class _Window:
    """One window kind (bw or iops): start time and the counts at its start."""

    def __init__(self, length_ms: int, t0: int) -> None:
        self.length_ms = max(length_ms, 1)
        self.t0 = t0
        self.bytes = [0, 0]
        self.ios = [0, 0]


class Recorder:
    def __init__(self, job: Job, record_clat: bool, record_lat: bool) -> None:
        self.job = job
        self.record_clat = record_clat
        self.record_lat = record_lat
        self.samples = not (job.disable_bw or job.gtod_reduce)
        self.lat_hist = job.lat_percentiles
        self.active = (READ, WRITE) if job.rw in ("rw", "readwrite", "randrw") else (
            (WRITE,) if job.rw in ("write", "randwrite") else (READ,)
        )
        self.bytes = [0, 0]  # measured-window totals, for the windows
        self.ios = [0, 0]
        self.delta = IntervalStats(thread_number=job.thread_number)
        self._pending: list[tuple[np.ndarray | None, np.ndarray, int]] = []
        self._pending_ops = 0
        self._bw: _Window | None = None
        self._iops: _Window | None = None

    def start(self, t0: int) -> None:
        """The measured window starts (after ramp): counts and windows from zero."""
        self.bytes = [0, 0]
        self.ios = [0, 0]
        self.delta = IntervalStats(thread_number=self.job.thread_number)
        self._pending = []
        self._pending_ops = 0
        self._bw = _Window(self.job.bwavgtime_ms, t0)
        self._iops = _Window(self.job.iopsavgtime_ms, t0)

    def add(self, dirs: np.ndarray, lens: np.ndarray, clat: np.ndarray | None, prep_ns: int) -> None:
        """Account one chunk: ``clat`` in ns (None when untimed); lat = clat + prep_ns.

        Counts are added at once (the bw/iops windows need them); latencies are kept
        and folded into the histograms and moments every ``FOLD_OPS`` I/Os, so the
        numpy calls per fold are paid once per many chunks.
        """
        stats = self.delta
        k = len(dirs)
        if len(self.active) == 1:
            d = self.active[0]
            nbytes = int(lens.sum())
            stats.dirs[d].ios += k
            stats.dirs[d].bytes += nbytes
            self.ios[d] += k
            self.bytes[d] += nbytes
        else:
            nw = int(np.count_nonzero(dirs))
            wbytes = int(lens[dirs != 0].sum())
            rbytes = int(lens.sum()) - wbytes
            for d, n, b in ((READ, k - nw, rbytes), (WRITE, nw, wbytes)):
                stats.dirs[d].ios += n
                stats.dirs[d].bytes += b
                self.ios[d] += n
                self.bytes[d] += b
        if clat is not None and (self.record_clat or self.record_lat):
            self._pending.append((dirs, clat, prep_ns))
            self._pending_ops += k
            if self._pending_ops >= FOLD_OPS:
                self._fold()

    def add_run(self, ddir: int, k: int, nbytes: int, clat: np.ndarray | None, prep_ns: int) -> None:
        """Account a chunk of ``k`` I/Os all in direction ``ddir`` (no per-I/O arrays)."""
        ds = self.delta.dirs[ddir]
        ds.ios += k
        ds.bytes += nbytes
        self.ios[ddir] += k
        self.bytes[ddir] += nbytes
        if clat is not None and (self.record_clat or self.record_lat):
            self._pending.append((None, clat, prep_ns))
            self._pending_ops += k
            if self._pending_ops >= FOLD_OPS:
                self._fold()

    def _fold(self) -> None:
        """Fold the pending latencies into the current delta's statistics.

        Latencies below ``DISTINCT_LIMIT`` ns are first counted per distinct value (one
        bincount), so histograms, latency buckets and exact moments are computed over
        the few hundred distinct values instead of every sample.  lat uses the fold's
        mean per-I/O loop time (lat is clat plus that estimate anyway).
        """
        if not self._pending:
            return
        single = len(self.active) == 1
        clat = np.concatenate([p[1] for p in self._pending])
        n = len(clat)
        prep = round(sum(p[2] * len(p[1]) for p in self._pending) / n)
        dirs = None if single else np.concatenate([p[0] for p in self._pending]).astype(np.int64)
        self._pending = []
        self._pending_ops = 0
        ndirs = 1 if single else 2
        key = clat if dirs is None else clat + dirs * DISTINCT_LIMIT
        big = np.flatnonzero(clat >= DISTINCT_LIMIT)
        if len(big):
            key = np.delete(key, big)
        counts = np.bincount(key, minlength=ndirs * DISTINCT_LIMIT)
        nz = np.flatnonzero(counts)
        all_values: list[np.ndarray] = []
        all_counts: list[np.ndarray] = []
        for slot, d in enumerate(self.active):
            part = nz[(nz >= slot * DISTINCT_LIMIT) & (nz < (slot + 1) * DISTINCT_LIMIT)]
            values = part - slot * DISTINCT_LIMIT
            cnt = counts[part]
            if len(big):
                big_d = clat[big] if dirs is None else clat[big][dirs[big] == d]
                values = np.concatenate([values, big_d])
                cnt = np.concatenate([cnt, np.ones(len(big_d), dtype=np.int64)])
            if len(values):
                self._add_distinct(self.delta.dirs[d], values, cnt, prep)
                all_values.append(values)
                all_counts.append(cnt)
        if self.record_clat and all_values:
            v = np.concatenate(all_values)
            c = np.concatenate(all_counts)
            lb = np.bincount(latbuckets.bucket_index(v), weights=c, minlength=latbuckets.NBUCKETS)
            self.delta.latency_buckets += lb.astype(np.uint64)

    def _add_distinct(self, ds: DirStats, values: np.ndarray, counts: np.ndarray, prep: int) -> None:
        """One direction's latencies given as distinct values and their counts."""
        m = _moments_from_counts(values, counts)
        if self.record_clat:
            ds.clat.moments.merge(m)
            h = np.bincount(histogram.value_to_index(values), weights=counts, minlength=histogram.PLAT_NR)
            ds.clat.hist += h.astype(np.uint64)
        if self.record_lat:
            ds.lat.moments.merge(Moments(m.n, m.mean + prep, m.m2, m.min + prep, m.max + prep))
            if self.lat_hist:
                h = np.bincount(histogram.value_to_index(values + prep), weights=counts, minlength=histogram.PLAT_NR)
                ds.lat.hist += h.astype(np.uint64)

    def windows(self, now: int) -> None:
        """Take bw/iops samples for every window that has completed by ``now``."""
        if not self.samples or self._bw is None or self._iops is None:
            return
        for win, is_bw in ((self._bw, True), (self._iops, False)):
            spent_ms = (now - win.t0) // _MS
            if spent_ms < win.length_ms and win.length_ms - spent_ms > LOG_MSEC_SLACK:
                continue
            for d in self.active:
                ds = self.delta.dirs[d]
                delta = self.bytes[d] - win.bytes[d] if is_bw else self.ios[d] - win.ios[d]
                if not delta or not spent_ms:
                    continue  # fio: no entry for a direction without I/O
                value = delta * 1000 // spent_ms // (1024 if is_bw else 1)
                (ds.bw_samples if is_bw else ds.iops_samples).merge(Moments(1, float(value), 0.0, value, value))
            win.t0 = now
            win.bytes = list(self.bytes)
            win.ios = list(self.ios)

    def take(self) -> IntervalStats:
        """Hand over the current delta and start a new one."""
        self._fold()
        out = self.delta
        self.delta = IntervalStats(thread_number=self.job.thread_number)
        return out
