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
SAMPLE = 64  # latencies that set a fold's counting cut-off
LOG_MSEC_SLACK = 1  # fio takes a window up to 1 ms early


def _moments_from_counts(values: np.ndarray, counts: np.ndarray) -> Moments:
    """Exact n/mean/m2/min/max of samples given as distinct values with counts.

    Multiply-and-sum, not ``@``: a dot product goes to BLAS, whose threads (when the
    worker was not started single-threaded) spin on other CPUs after a long one.
    """
    n = int(counts.sum())
    v = values.astype(np.float64)
    c = counts.astype(np.float64)
    mean = float((v * c).sum()) / n
    m2 = float(((v - mean) ** 2 * c).sum())
    return Moments(n, mean, m2, int(values.min()), int(values.max()))


def _distinct(clat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct latencies and how often each occurs; values at or above a cut-off
    come once each (exact either way).

    The cut-off follows the typical value (a few times the largest of the first
    ``SAMPLE`` latencies), so a cache-hot fold counts into a few thousand bins and a
    rare preempted copy does not make it zero and scan ``DISTINCT_LIMIT`` of them;
    when that leaves too many outliers, the full ``DISTINCT_LIMIT`` is used.
    """
    cut = min(DISTINCT_LIMIT, 4 << int(clat[:SAMPLE].max()).bit_length())
    small = clat < cut
    n_big = len(clat) - int(np.count_nonzero(small))
    if n_big * 16 > len(clat) and cut < DISTINCT_LIMIT:
        small = clat < DISTINCT_LIMIT
        n_big = len(clat) - int(np.count_nonzero(small))
    counts = np.bincount(clat if n_big == 0 else clat[small])
    values = np.flatnonzero(counts)
    if n_big == 0:
        return values, counts[values]
    big = clat[~small]
    return np.concatenate([values, big]), np.concatenate([counts[values], np.ones(len(big), dtype=np.int64)])


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
        # (the chunk's directions, or its one direction; clat; prep ns) per pending chunk
        self._pending: list[tuple[np.ndarray | int, np.ndarray, int]] = []
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
            self._pending.append((ddir, clat, prep_ns))
            self._pending_ops += k
            if self._pending_ops >= FOLD_OPS:
                self._fold()

    def _fold(self) -> None:
        """Fold the pending latencies into the current delta's statistics.

        Each direction's latencies below ``DISTINCT_LIMIT`` ns are first counted per
        distinct value (one bincount sized by the largest value, so a cache-hot fold
        counts into a few hundred bins), and histograms, latency buckets and exact
        moments are computed over those distinct values instead of every sample.
        lat uses the fold's mean per-I/O loop time (lat is clat plus that estimate anyway).
        """
        if not self._pending:
            return
        pending = self._pending
        self._pending = []
        self._pending_ops = 0
        n = sum(len(p[1]) for p in pending)
        prep = round(sum(p[2] * len(p[1]) for p in pending) / n)
        by_dir: dict[int, list[np.ndarray]] = {d: [] for d in self.active}
        for dirs, clat, _ in pending:
            if len(self.active) == 1:
                by_dir[self.active[0]].append(clat)
            elif isinstance(dirs, int):
                by_dir[dirs].append(clat)
            else:
                writes = dirs != 0
                by_dir[WRITE].append(clat[writes])
                by_dir[READ].append(clat[~writes])
        all_values: list[np.ndarray] = []
        all_counts: list[np.ndarray] = []
        for d, parts in by_dir.items():
            clat = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
            if not len(clat):
                continue
            values, counts = _distinct(clat)
            self._add_distinct(self.delta.dirs[d], values, counts, prep)
            all_values.append(values)
            all_counts.append(counts)
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
