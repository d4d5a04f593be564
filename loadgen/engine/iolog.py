"""fio's per-I/O logs (write_bw_log, write_lat_log, write_iops_log, write_hist_log).

Files are ``<prefix>_<type>.<thread_number>.log`` in the current directory (without
``.N``, appended, when per_job_logs=0).  Lines are fio's ``time_ms, value[, value1], ddir,
bs[, offset], prio[, issue_ns]``: value1 (the window's maximum) with
log_window_value=both, offset with log_offset, issue_ns (clat and slat logs, 0 in the
others) with log_issue_time; prio (0 in window lines) is 1/0 (the RT class or not) or,
with log_prio, fio's ``0x%04x`` ioprio value; times are ms since the job's start, or
since the Unix epoch with log_unix_epoch.  Without log_avg_msec there is one line per
I/O (lat/clat in ns, iops 1, bw bytes*1e6/clat_ns); with it one line per direction per
window (averaged lat/clat; bw KiB/s and iops over the window) with bs and offset 0, the
partial window flushed at the end.  The histogram log has a line per direction every
log_hist_msec: time, ddir, bs, then fio's 1856 clat buckets, or with log_hist_coarseness=N
their sums over each 2^N neighbours.  The slat file stays empty (sync engine).  Lines are
formatted per chunk with numpy, never per I/O in the hot loop; with log_store_compressed
they go to ``fzlog.FzLog`` (fio's .log.fz) instead of a text file.
"""

from __future__ import annotations

import time
from typing import IO

import numpy as np

from loadgen.engine.fzlog import FzLog
from loadgen.plan import READ, WRITE, Job
from loadgen.stats import histogram

_MS = 1_000_000


def log_name(prefix: str, kind: str, job: Job) -> str:
    """fio's name; ``.log.fz`` when stored compressed (the histogram log stays text: fio's
    compressed one holds memory addresses where the buckets should be)."""
    name = (
        f"{prefix}_{kind}.{job.thread_number}.log" if job.per_job_logs else f"{prefix}_{kind}.log"
    )
    return name + ".fz" if compressed(job, kind) else name


def compressed(job: Job, kind: str) -> bool:
    return job.log_store_compressed and kind != "clat_hist"


IOPRIO_CLASS_RT = 1
IOPRIO_CLASS_BE = 2
IOPRIO_CLASS_SHIFT = 13


def prio_value(job: Job) -> int:
    """fio's ``ioprio_value(class, prio)`` of the job; prio alone means the best-effort
    class (fio)."""
    if job.ioprio_class < 0 and job.ioprio < 0:
        return 0
    klass = job.ioprio_class if job.ioprio_class >= 0 else IOPRIO_CLASS_BE
    return (klass << IOPRIO_CLASS_SHIFT) | max(job.ioprio, 0)


def prio_column(job: Job) -> str:
    """fio's priority column: the priority value in hex with log_prio, else whether the
    class is RT."""
    value = prio_value(job)
    if job.log_prio:
        return f"0x{value:04x}"
    return "1" if value >> IOPRIO_CLASS_SHIFT == IOPRIO_CLASS_RT else "0"


def _lines(cols: list[np.ndarray], prio: str = "", after: list[np.ndarray] | None = None) -> str:
    """Rows of ", "-separated integers; ``prio`` (one text for every row), then ``after``."""
    if not len(cols[0]):
        return ""
    table = np.column_stack([np.asarray(c, dtype=np.int64) for c in cols])
    heads = [", ".join(map(str, row)) for row in table.tolist()]
    if prio:
        heads = [f"{head}, {prio}" for head in heads]
    if after:
        tails = np.column_stack([np.asarray(c, dtype=np.int64) for c in after]).tolist()
        heads = [head + "".join(f", {v}" for v in tail) for head, tail in zip(heads, tails,
                                                                               strict=True)]
    return "\n".join(heads) + "\n"


class _Avg:
    """One averaged log's current window per direction: sum, count and maximum of values."""

    def __init__(self) -> None:
        self.sum = [0, 0]
        self.n = [0, 0]
        self.max = [0, 0]


class IoLogs:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.avg_ns = job.log_avg_msec * _MS
        self.per_io = self.avg_ns == 0 and bool(
            job.write_lat_log or job.write_bw_log or job.write_iops_log
        )
        mode = "w" if job.per_job_logs else "a"
        self.files: dict[str, IO[str] | FzLog] = {}
        for prefix, kinds in (
            (job.write_lat_log, ("lat", "clat", "slat")),
            (job.write_bw_log, ("bw",)),
            (job.write_iops_log, ("iops",)),
            (job.write_hist_log, ("clat_hist",)),
        ):
            for kind in kinds if prefix else ():
                name = log_name(prefix, kind, job)
                if compressed(job, kind):
                    self.files[kind] = FzLog(name, job, prio_value(job))
                    continue
                # closed in close(): the files live as long as the job
                self.files[kind] = open(name, mode)  # noqa: SIM115
        self.window_start = 0  # ns since epoch
        self.avg = {kind: _Avg() for kind in ("lat", "clat")}
        self.bytes = [0, 0]
        self.ios = [0, 0]
        self.hist_ns = (job.log_hist_msec or 1000) * _MS
        self.hist_start = 0
        self.hist = [histogram.empty(), histogram.empty()]
        self.hist_bs = [0, 0]  # the last I/O's block size per direction (fio logs the one
        # whose completion closes the window)
        self.hist_stride = 1 << job.log_hist_coarseness
        self.prio = prio_column(job)
        self.both = job.log_window_value == "both"
        self.window_max = job.log_window_value == "max"
        self.epoch_ms = -1  # added to every time with log_unix_epoch (-1: not known yet)

    @staticmethod
    def wanted(job: Job) -> bool:
        return bool(
            job.write_lat_log or job.write_bw_log or job.write_iops_log or job.write_hist_log
        )

    @staticmethod
    def for_job(job: Job) -> IoLogs | None:
        return IoLogs(job) if IoLogs.wanted(job) else None

    def add(
        self,
        epoch: int,
        now: int,
        offs: np.ndarray,
        lens: np.ndarray,
        dirs: np.ndarray,
        starts: np.ndarray | None,
        clat: np.ndarray | None,
        lat: np.ndarray | None,
    ) -> None:
        """One executed chunk: per-I/O start stamps, clat and lat (None when untimed)."""
        if self.epoch_ms < 0:
            self.epoch_ms = 0
            if self.job.log_unix_epoch:  # the epoch clock at the job's start (fio's epoch)
                since = time.monotonic_ns() - epoch
                self.epoch_ms = (time.clock_gettime_ns(self.job.log_epoch_clock) - since) // _MS
        if self.per_io and starts is not None and clat is not None and lat is not None:
            t_ms = (starts + clat - epoch) // _MS + self.epoch_ms
            self._per_io(t_ms, offs, lens, dirs, clat, lat, starts - epoch)
        elif self.avg_ns:
            self._averaged(now - epoch, lens, dirs, clat, lat)
        if "clat_hist" in self.files and clat is not None:
            idx = histogram.value_to_index(clat)
            for d in (READ, WRITE):
                m = dirs == d
                if m.any():
                    self.hist[d] += np.bincount(idx[m], minlength=histogram.PLAT_NR).astype(
                        np.uint64
                    )
                    self.hist_bs[d] = int(lens[m][-1])
            self._hist_flush(now - epoch, final=False)

    def _row_tail(self, dirs: np.ndarray, lens: np.ndarray, offs: np.ndarray) -> list[np.ndarray]:
        cols = [dirs, lens]
        if self.job.log_offset:
            cols.append(offs)
        return cols

    def _per_io(
        self,
        t_ms: np.ndarray,
        offs: np.ndarray,
        lens: np.ndarray,
        dirs: np.ndarray,
        clat: np.ndarray,
        lat: np.ndarray,
        issued: np.ndarray,
    ) -> None:
        tail = self._row_tail(dirs, lens, offs)
        zeros = np.zeros(len(dirs), dtype=np.int64)
        value1 = [zeros] if self.both else []  # a per-I/O line has no window maximum
        issue = [issued] if self.job.log_issue_time else None
        none = [zeros] if self.job.log_issue_time else None
        files = self.files
        prio = self.prio
        if "lat" in files:
            files["lat"].write(_lines([t_ms, lat, *value1, *tail], prio, none))
            files["clat"].write(_lines([t_ms, clat, *value1, *tail], prio, issue))
        if "bw" in files:
            bw = lens * 1_000_000 // np.maximum(clat, 1)
            files["bw"].write(_lines([t_ms, bw, *value1, *tail], prio, none))
        if "iops" in files:
            ones = np.ones(len(t_ms), dtype=np.int64)
            files["iops"].write(_lines([t_ms, ones, *value1, *tail], prio, none))

    def _averaged(
        self,
        elapsed: int,
        lens: np.ndarray,
        dirs: np.ndarray,
        clat: np.ndarray | None,
        lat: np.ndarray | None,
    ) -> None:
        for d in (READ, WRITE):
            m = dirs == d
            k = int(np.count_nonzero(m))
            if not k:
                continue
            self.bytes[d] += int(lens[m].sum())
            self.ios[d] += k
            if clat is not None and lat is not None:
                for kind, values in (("clat", clat[m]), ("lat", lat[m])):
                    acc = self.avg[kind]
                    acc.sum[d] += int(values.sum())
                    acc.n[d] += k
                    acc.max[d] = max(acc.max[d], int(values.max()))
        if elapsed - self.window_start >= self.avg_ns:
            self._avg_flush(elapsed)

    def _window_line(self, t_ms: int, mean: int, top: int, d: int) -> str:
        """One averaged line: avg, max or both (fio's log_window_value); bs, offset,
        priority and issue time are 0 in windows (fio's window sample carries none)."""
        value = f"{top}" if self.window_max else f"{mean}, {top}" if self.both else f"{mean}"
        offset = ", 0" if self.job.log_offset else ""
        issue = ", 0" if self.job.log_issue_time else ""
        prio = "0x0000" if self.job.log_prio else "0"
        return f"{t_ms + self.epoch_ms}, {value}, {d}, 0{offset}, {prio}{issue}\n"

    def _avg_flush(self, elapsed: int) -> None:
        t_ms = elapsed // _MS
        spent_ms = max((elapsed - self.window_start) // _MS, 1)
        self.epoch_ms = max(self.epoch_ms, 0)
        for d in (READ, WRITE):
            for kind in ("lat", "clat"):
                acc = self.avg[kind]
                if kind in self.files and acc.n[d]:
                    self.files[kind].write(
                        self._window_line(t_ms, acc.sum[d] // acc.n[d], acc.max[d], d))
            if self.ios[d]:
                if "bw" in self.files:
                    kib_s = self.bytes[d] * 1000 // spent_ms // 1024
                    self.files["bw"].write(self._window_line(t_ms, kib_s, kib_s, d))
                if "iops" in self.files:
                    iops = self.ios[d] * 1000 // spent_ms
                    self.files["iops"].write(self._window_line(t_ms, iops, iops, d))
        self.window_start = elapsed
        self.avg = {kind: _Avg() for kind in ("lat", "clat")}
        self.bytes = [0, 0]
        self.ios = [0, 0]

    def _hist_flush(self, elapsed: int, final: bool) -> None:
        if not final and elapsed - self.hist_start < self.hist_ns:
            return
        f = self.files["clat_hist"]
        for d in (READ, WRITE):
            if self.hist[d].any():
                # fio's flush_hist_samples: each cell sums ``stride`` adjacent buckets
                cells = self.hist[d].reshape(-1, self.hist_stride).sum(axis=1)
                f.write(
                    f"{elapsed // _MS + max(self.epoch_ms, 0)}, {d}, {self.hist_bs[d]}, "
                    + ", ".join(map(str, cells.tolist()))
                    + "\n"
                )
                self.hist[d] = histogram.empty()
        self.hist_start = elapsed

    def close(self, elapsed: int) -> None:
        """Flush the partial window (fio does at job end) and close every file."""
        if self.avg_ns:
            self._avg_flush(elapsed)
        if "clat_hist" in self.files:
            self._hist_flush(elapsed, final=True)
        for f in self.files.values():
            f.close()
