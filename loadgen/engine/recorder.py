"""Turns each executed chunk of I/Os into interval statistics (vectorised per chunk).

Holds the current interval's ``IntervalStats`` delta and fio's bw/iops windows
(bwavgtime/iopsavgtime): a sample is taken once a full window has passed, valued
Δbytes*1000/Δms/1024 KiB/s and Δios*1000/Δms, per direction, as fio does.
"""

from __future__ import annotations

import numpy as np

from loadgen.plan import READ, WRITE, Job
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.moments import Moments

_MS = 1_000_000
FOLD_OPS = 32768
LOG_MSEC_SLACK = 1  # fio takes a window up to 1 ms early


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
        """Fold the pending latencies into the current delta's statistics."""
        if not self._pending:
            return
        single = len(self.active) == 1
        dirs = None if single else np.concatenate([p[0] for p in self._pending])
        clat = np.concatenate([p[1] for p in self._pending])
        preps = [p[2] for p in self._pending]
        sizes = [len(p[1]) for p in self._pending]
        self._pending = []
        self._pending_ops = 0
        stats = self.delta
        lat = None
        if self.record_lat:
            lat = clat + (np.repeat(np.array(preps, dtype=np.int64), sizes) if len(set(preps)) > 1 else preps[0])
        if self.record_clat:
            latbuckets.add_samples(stats.latency_buckets, clat)
            idx = histogram.value_to_index(clat)
            if single:
                h = np.bincount(idx, minlength=histogram.PLAT_NR)
                stats.dirs[self.active[0]].clat.hist += h.astype(np.uint64)
            else:
                h = np.bincount(idx + dirs.astype(np.int64) * histogram.PLAT_NR, minlength=2 * histogram.PLAT_NR)
                for d in (READ, WRITE):
                    stats.dirs[d].clat.hist += h[d * histogram.PLAT_NR : (d + 1) * histogram.PLAT_NR].astype(np.uint64)
        if lat is not None and self.lat_hist:
            idx = histogram.value_to_index(lat)
            for d in self.active:
                sel = idx if single else idx[dirs == d]
                stats.dirs[d].lat.hist += np.bincount(sel, minlength=histogram.PLAT_NR).astype(np.uint64)
        for d in self.active:
            mask = None if single else dirs == d
            ds = stats.dirs[d]
            if self.record_clat:
                ds.clat.moments.add_batch(clat if mask is None else clat[mask])
            if lat is not None:
                ds.lat.moments.add_batch(lat if mask is None else lat[mask])

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
