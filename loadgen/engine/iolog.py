"""fio's per-I/O logs (write_bw_log, write_lat_log, write_iops_log, write_hist_log).

Files are ``<prefix>_<type>.<thread_number>.log`` in the current directory (without
``.N``, appended, when per_job_logs=0).  Lines are ``time_ms, value, ddir, bs, prio``
(+ ``offset`` before prio with log_offset).  Without log_avg_msec there is one line per
I/O (lat/clat in ns, iops 1, bw bytes*1e6/clat_ns); with it one line per direction per
window (averaged lat/clat; bw KiB/s and iops over the window) with bs and offset 0, the
partial window flushed at the end.  The slat file stays empty (sync engine).  Lines are
formatted per chunk with numpy, never per I/O in the hot loop.
"""

from __future__ import annotations

from typing import IO

import numpy as np

from loadgen.plan import READ, WRITE, Job
from loadgen.stats import histogram

_MS = 1_000_000


def log_name(prefix: str, kind: str, job: Job) -> str:
    return (
        f"{prefix}_{kind}.{job.thread_number}.log" if job.per_job_logs else f"{prefix}_{kind}.log"
    )


def _lines(cols: list[np.ndarray]) -> str:
    """Rows of ", "-separated integers."""
    if not len(cols[0]):
        return ""
    table = np.column_stack([np.asarray(c, dtype=np.int64) for c in cols])
    return "\n".join(", ".join(map(str, row)) for row in table.tolist()) + "\n"


class _Avg:
    """One averaged log's current window per direction: sum and count of values."""

    def __init__(self) -> None:
        self.sum = [0, 0]
        self.n = [0, 0]


class IoLogs:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.avg_ns = job.log_avg_msec * _MS
        self.per_io = self.avg_ns == 0 and bool(
            job.write_lat_log or job.write_bw_log or job.write_iops_log
        )
        mode = "w" if job.per_job_logs else "a"
        self.files: dict[str, IO[str]] = {}
        for prefix, kinds in (
            (job.write_lat_log, ("lat", "clat", "slat")),
            (job.write_bw_log, ("bw",)),
            (job.write_iops_log, ("iops",)),
            (job.write_hist_log, ("clat_hist",)),
        ):
            for kind in kinds if prefix else ():
                # closed in close(): the files live as long as the job
                self.files[kind] = open(log_name(prefix, kind, job), mode)  # noqa: SIM115
        self.window_start = 0  # ns since epoch
        self.avg = {kind: _Avg() for kind in ("lat", "clat")}
        self.bytes = [0, 0]
        self.ios = [0, 0]
        self.hist_ns = (job.log_hist_msec or 1000) * _MS
        self.hist_start = 0
        self.hist = [histogram.empty(), histogram.empty()]

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
        if self.per_io and starts is not None and clat is not None and lat is not None:
            t_ms = (starts + clat - epoch) // _MS
            self._per_io(t_ms, offs, lens, dirs, clat, lat)
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
            self._hist_flush(now - epoch, final=False)

    def _row_tail(self, dirs: np.ndarray, lens: np.ndarray, offs: np.ndarray) -> list[np.ndarray]:
        zeros = np.zeros(len(dirs), dtype=np.int64)
        cols = [dirs, lens]
        if self.job.log_offset:
            cols.append(offs)
        cols.append(zeros)
        return cols

    def _per_io(
        self,
        t_ms: np.ndarray,
        offs: np.ndarray,
        lens: np.ndarray,
        dirs: np.ndarray,
        clat: np.ndarray,
        lat: np.ndarray,
    ) -> None:
        tail = self._row_tail(dirs, lens, offs)
        files = self.files
        if "lat" in files:
            files["lat"].write(_lines([t_ms, lat, *tail]))
            files["clat"].write(_lines([t_ms, clat, *tail]))
        if "bw" in files:
            files["bw"].write(_lines([t_ms, lens * 1_000_000 // np.maximum(clat, 1), *tail]))
        if "iops" in files:
            files["iops"].write(_lines([t_ms, np.ones(len(t_ms), dtype=np.int64), *tail]))

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
                self.avg["clat"].sum[d] += int(clat[m].sum())
                self.avg["lat"].sum[d] += int(lat[m].sum())
                self.avg["clat"].n[d] += k
                self.avg["lat"].n[d] += k
        if elapsed - self.window_start >= self.avg_ns:
            self._avg_flush(elapsed)

    def _avg_flush(self, elapsed: int) -> None:
        t_ms = elapsed // _MS
        spent_ms = max((elapsed - self.window_start) // _MS, 1)
        offset_col = ", 0" if self.job.log_offset else ""
        for d in (READ, WRITE):
            for kind in ("lat", "clat"):
                acc = self.avg[kind]
                if kind in self.files and acc.n[d]:
                    self.files[kind].write(
                        f"{t_ms}, {acc.sum[d] // acc.n[d]}, {d}, 0{offset_col}, 0\n"
                    )
            if self.ios[d]:
                if "bw" in self.files:
                    kib_s = self.bytes[d] * 1000 // spent_ms // 1024
                    self.files["bw"].write(
                        f"{t_ms}, {kib_s}, {d}, 0{offset_col}, 0\n"
                    )
                if "iops" in self.files:
                    self.files["iops"].write(
                        f"{t_ms}, {self.ios[d] * 1000 // spent_ms}, {d}, 0{offset_col}, 0\n"
                    )
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
                f.write(
                    f"{elapsed // _MS}, {d}, 0, "
                    + ", ".join(map(str, self.hist[d].tolist()))
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
