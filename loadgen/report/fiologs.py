"""fio's per-I/O and histogram log formats (iolog.c ``flush_samples``/``flush_hist_samples``).

fio's log tools (tools/fiologparser.py, tools/hist/fiologparser_hist.py, fio2gnuplot)
split each line on ',' and read integer fields by position, so loadgen's logs use
fio's file names and exactly these fields:

* bw/iops/lat/clat logs: ``time_ms, value, ddir, bs, prio`` (ddir 0 read, 1 write);
* clat_hist logs: ``time_ms, ddir, bs, c0, c1, ..., c1855`` -- counts per histogram
  bucket for the interval since the previous line, ``2**coarseness`` buckets summed
  per column.
"""

from __future__ import annotations

import numpy as np

from loadgen.stats import histogram

LOG_KINDS = ("bw", "iops", "lat", "clat", "slat", "clat_hist")


def log_path(prefix: str, kind: str, thread_number: int, per_job_logs: bool = True) -> str:
    """fio's log file name: ``P_kind.N.log``, or ``P_kind.log`` when ``per_job_logs=0``."""
    if kind not in LOG_KINDS:
        raise ValueError(f"unknown log kind {kind!r}")
    return f"{prefix}_{kind}.{thread_number}.log" if per_job_logs else f"{prefix}_{kind}.log"


def sample_line(time_ms: int, value: int, ddir: int, bs: int, prio: int = 0) -> str:
    """One bw/iops/lat sample line (``prio`` is 1 only for the real-time I/O class)."""
    return f"{int(time_ms)}, {int(value)}, {int(ddir)}, {int(bs)}, {int(prio)}\n"


def hist_line(time_ms: int, ddir: int, bs: int, counts: np.ndarray, coarseness: int = 0) -> str:
    """One clat_hist line: this interval's per-bucket counts, summed in groups of 2**coarseness."""
    if len(counts) != histogram.PLAT_NR:
        raise ValueError(f"a histogram has {histogram.PLAT_NR} buckets, not {len(counts)}")
    stride = 1 << coarseness
    columns = np.asarray(counts, dtype=np.uint64).reshape(-1, stride).sum(axis=1)
    return f"{int(time_ms)}, {int(ddir)}, {int(bs)}, " + ", ".join(str(int(c)) for c in columns) + "\n"
