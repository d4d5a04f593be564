"""log_store_compressed: fio's .log.fz (zlib streams of struct io_sample records).

The records are read back here with zlib and printed the way fio's flush_samples prints
them; tests/fio_diff/test_logs.py has fio's own ``--inflate-log`` read the files.
"""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine.fzlog import AVG_MAX_BIT, ISSUE_TIME_BIT, OFFSET_BIT, PRIO_BIT, record_dtype
from loadgen.engine.iolog import IoLogs
from loadgen.plan import Job
from tests.engine.conftest import make_job, run_job

K = 1024
MS = 1_000_000


def inflate(data: bytes) -> list[bytes]:
    """The decompressed contents of each zlib stream of a .fz file, in order."""
    out = []
    while data:
        stream = zlib.decompressobj()
        out.append(stream.decompress(data))
        assert stream.eof
        data = stream.unused_data
    return out


def flush_samples(chunk: bytes, job: Job) -> list[str]:
    """fio's flush_samples (iolog.c) over one stream's records: the flags of the first
    record say which columns follow."""
    records = np.frombuffer(chunk, dtype=record_dtype(job))
    lines = []
    for r in records:
        flags = int(r["ddir"])
        cells = [str(int(r["time"])), str(int(r["val0"]))]
        if flags & AVG_MAX_BIT:
            cells.append(str(int(r["val1"])))
        cells += [str(flags & 0xFFFFFFF), str(int(r["bs"]))]
        if flags & OFFSET_BIT:
            cells.append(str(int(r["offset"])))
        prio = int(r["priority"])
        cells.append(f"0x{prio:04x}" if flags & PRIO_BIT else str(int(prio >> 13 == 1)))
        if flags & ISSUE_TIME_BIT:
            cells.append(str(int(r["issue"])))
        lines.append(", ".join(cells))
    return lines


def feed_chunks(logs: IoLogs, n: int = 300) -> None:
    """The same I/Os into any IoLogs: three chunks of n I/Os, 1 ms apart."""
    rng = np.random.default_rng(7)
    for k in range(3):
        offs = rng.integers(0, 1024, n) * 4096
        lens = np.full(n, 8192, dtype=np.int64)
        dirs = rng.integers(0, 2, n).astype(np.int8)
        starts = (k * MS + np.arange(n) * 1000).astype(np.int64)
        clat = rng.integers(1_000, 90_000, n)
        logs.add(0, (k + 1) * MS, offs, lens, dirs, starts, clat, clat + 40)
    logs.close(4 * MS)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "log_offset": True,
            "log_issue_time": True,
            "log_prio": True,
            "ioprio": 3,
            "ioprio_class": 1,
        },
        {"ioprio_class": 1},
        {"log_avg_msec": 1, "log_window_value": "both", "log_offset": True},
        {"log_compression": 4096},  # many streams
    ],
)
def test_a_compressed_log_holds_the_text_logs_lines(in_tmp: Path, extra: dict) -> None:
    text_job = make_job(
        rw="randrw", write_lat_log="t", write_bw_log="t", write_iops_log="t", **extra
    )
    fz_job = dataclasses.replace(
        text_job, write_lat_log="z", write_bw_log="z", write_iops_log="z", log_store_compressed=True
    )
    feed_chunks(IoLogs(text_job))
    feed_chunks(IoLogs(fz_job))
    for kind in ("lat", "clat", "bw", "iops"):
        text = (in_tmp / f"t_{kind}.1.log").read_text().splitlines()
        streams = inflate((in_tmp / f"z_{kind}.1.log.fz").read_bytes())
        if "log_compression" in extra:
            assert len(streams) > 1
            assert all(len(s) % record_dtype(fz_job).itemsize == 0 for s in streams)
        assert text and [line for s in streams for line in flush_samples(s, fz_job)] == text
    assert (in_tmp / "z_slat.1.log.fz").read_bytes() == b""  # empty, as fio's


def test_a_run_writes_fz_logs_and_a_text_hist_log(in_tmp: Path) -> None:
    job = make_job(
        rw="write",
        size=256 * K,
        write_lat_log="r",
        write_hist_log="r",
        log_hist_msec=1000,
        log_store_compressed=True,
    )
    res = run_job(job)
    names = sorted(p.name for p in in_tmp.iterdir())
    assert names == ["r_clat.1.log.fz", "r_clat_hist.1.log", "r_lat.1.log.fz", "r_slat.1.log.fz"]
    lines = [
        line
        for s in inflate((in_tmp / "r_clat.1.log.fz").read_bytes())
        for line in flush_samples(s, job)
    ]
    assert len(lines) == res.ios[1] == 64
    assert all(line.split(", ")[2:] == ["1", "4096", "0"] for line in lines)


def test_jobs_sharing_a_log_append_whole_streams(in_tmp: Path) -> None:
    """per_job_logs=0: each job appends its streams at its end, so none is cut."""
    for number in (1, 2):
        run_job(
            make_job(
                rw="write",
                size=64 * K,
                thread_number=number,
                write_iops_log="s",
                per_job_logs=False,
                log_store_compressed=True,
            )
        )
    streams = inflate((in_tmp / "s_iops.log.fz").read_bytes())
    job = make_job(write_iops_log="s")
    assert sum(len(flush_samples(s, job)) for s in streams) == 32
