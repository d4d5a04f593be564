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

_MS = 1_000_000


class _Window:
    """One window kind (bw or iops): start time and the counts at its start."""

    def __init__(self, length_ms: int, t0: int) -> None:
        self.length_ns = max(length_ms, 1) * _MS
        self.t0 = t0
        self.bytes = [0, 0]
        self.ios = [0, 0]


class Recorder:
    def __init__(self, job: Job, record_clat: bool, record_lat: bool) -> None:
        self.job = job
        self.record_clat = record_clat
        self.record_lat = record_lat
        self.samples = not (job.disable_bw or job.gtod_reduce)
        self.active = (READ, WRITE) if job.rw in ("rw", "readwrite", "randrw") else (
            (WRITE,) if job.rw in ("write", "randwrite") else (READ,)
        )
        self.bytes = [0, 0]  # measured-window totals, for the windows
        self.ios = [0, 0]
        self.delta = IntervalStats(thread_number=job.thread_number)
        self._bw: _Window | None = None
        self._iops: _Window | None = None

    def start(self, t0: int) -> None:
        """The measured window starts (after ramp): counts and windows from zero."""
        self.bytes = [0, 0]
        self.ios = [0, 0]
        self.delta = IntervalStats(thread_number=self.job.thread_number)
        self._bw = _Window(self.job.bwavgtime_ms, t0)
        self._iops = _Window(self.job.iopsavgtime_ms, t0)

    def add(self, dirs: np.ndarray, lens: np.ndarray, clat: np.ndarray | None, prep_ns: int) -> None:
        """Account one chunk.  ``dirs`` None-free int8, ``clat`` in ns or None (untimed)."""
        stats = self.delta
        idx = None
        if clat is not None and self.record_clat:
            idx = histogram.value_to_index(clat)
            latbuckets.add_samples(stats.latency_buckets, clat)
        lat = clat + prep_ns if clat is not None and self.record_lat else None
        lat_idx = None
        if lat is not None:
            lat_idx = histogram.value_to_index(lat) if prep_ns or idx is None else idx
        single = len(self.active) == 1
        for d in self.active:
            mask = None if single else dirs == d
            k = len(dirs) if mask is None else int(np.count_nonzero(mask))
            if not k:
                continue
            ds = stats.dirs[d]
            nbytes = int(lens.sum() if mask is None else lens[mask].sum())
            ds.ios += k
            ds.bytes += nbytes
            self.ios[d] += k
            self.bytes[d] += nbytes
            if idx is not None:
                c = clat if mask is None else clat[mask]
                ds.clat.moments.add_batch(c)
                ds.clat.hist += np.bincount(idx if mask is None else idx[mask], minlength=histogram.PLAT_NR).astype(np.uint64)
            if lat is not None and lat_idx is not None:
                lv = lat if mask is None else lat[mask]
                ds.lat.moments.add_batch(lv)
                ds.lat.hist += np.bincount(lat_idx if mask is None else lat_idx[mask], minlength=histogram.PLAT_NR).astype(np.uint64)

    def windows(self, now: int) -> None:
        """Take bw/iops samples for every window that has completed by ``now``."""
        if not self.samples or self._bw is None or self._iops is None:
            return
        for win, is_bw in ((self._bw, True), (self._iops, False)):
            spent = now - win.t0
            if spent < win.length_ns:
                continue
            spent_ms = spent // _MS
            for d in self.active:
                ds = self.delta.dirs[d]
                if is_bw:
                    value = (self.bytes[d] - win.bytes[d]) * 1000 // spent_ms // 1024
                    ds.bw_samples.add_batch(np.array([value], dtype=np.int64))
                else:
                    value = (self.ios[d] - win.ios[d]) * 1000 // spent_ms
                    ds.iops_samples.add_batch(np.array([value], dtype=np.int64))
            win.t0 = now
            win.bytes = list(self.bytes)
            win.ios = list(self.ios)

    def take(self) -> IntervalStats:
        """Hand over the current delta and start a new one."""
        out = self.delta
        self.delta = IntervalStats(thread_number=self.job.thread_number)
        return out
