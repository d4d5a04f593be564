"""fio's compressed log files (``log_store_compressed=1``, ``NAME.log.fz``).

fio keeps log samples as ``struct io_sample`` records (iolog.h) and, with
``log_store_compressed``, writes them deflated instead of as text: the file is zlib
streams one after another, each holding whole records.  ``fio --inflate-log=FILE``
inflates the streams in turn and prints each one's records with ``flush_samples``, so a
file written here prints the very lines the text log would hold.  The record (x86-64,
little endian): time u64, value u64, value1 u64, ddir u32 with the column flags in its
top bits, priority u16, 2 bytes of padding, bs u64, then the offset u64 (log_offset) and
the issue time u64 (log_issue_time).

The log lines come in as the text ``IoLogs`` formats (one source for every column) and
are packed back into records here, a chunk of lines at a time.
"""

from __future__ import annotations

import fcntl
import zlib
from typing import IO

import numpy as np

from loadgen.plan import Job

# fio's column flags in io_sample.__ddir (iolog.h)
OFFSET_BIT = 0x80000000
PRIO_BIT = 0x40000000
AVG_MAX_BIT = 0x20000000
ISSUE_TIME_BIT = 0x10000000
IOPRIO_CLASS_RT = 1
IOPRIO_CLASS_SHIFT = 13
STREAM_BYTES = 1 << 20  # records per zlib stream when log_compression does not say


def record_dtype(job: Job) -> np.dtype:
    """fio's struct io_sample with the job's optional columns."""
    fields = [
        ("time", "<u8"),
        ("val0", "<i8"),
        ("val1", "<u8"),
        ("ddir", "<u4"),
        ("priority", "<u2"),
        ("pad", "<u2"),
        ("bs", "<u8"),
    ]
    if job.log_offset:
        fields.append(("offset", "<u8"))
    if job.log_issue_time:
        fields.append(("issue", "<u8"))
    return np.dtype(fields)


class FzLog:
    """A text log's lines written as fio's .fz file: ``write`` takes formatted lines."""

    def __init__(self, path: str, job: Job, prio_value: int) -> None:
        self.job = job
        self.dtype = record_dtype(job)
        self.both = job.log_window_value == "both"
        self.flags = (
            (OFFSET_BIT if job.log_offset else 0)
            | (PRIO_BIT if job.log_prio else 0)
            | (AVG_MAX_BIT if self.both else 0)
            | (ISSUE_TIME_BIT if job.log_issue_time else 0)
        )
        # without log_prio the column says whether the class is RT: "1" stands for the
        # job's priority value, whose class is RT
        self.prio_value = prio_value
        self.stream_bytes = job.log_compression or STREAM_BYTES
        self.shared = not job.per_job_logs  # one file for every job: appended at the end
        self.file: IO[bytes] | None = open(path, "ab" if self.shared else "wb")  # noqa: SIM115
        self.stream: zlib._Compress | None = None
        self.in_stream = 0  # record bytes in the open stream
        self.held: list[bytes] = []  # a shared file's streams until close

    def _records(self, text: str) -> np.ndarray:
        rows = [line.split(", ") for line in text.splitlines()]
        out = np.zeros(len(rows), dtype=self.dtype)
        if not rows:
            return out
        at = 3 if self.both else 2  # time and the value columns, then ddir, bs[, offset], prio
        prio_at = at + 2 + (1 if self.job.log_offset else 0)
        if self.job.log_prio:
            prios = [int(row[prio_at], 16) for row in rows]
        else:
            prios = [self.prio_value if row[prio_at] == "1" else 0 for row in rows]
        for row in rows:
            row[prio_at] = "0"
        table = np.array(rows, dtype=np.int64)
        out["time"] = table[:, 0]
        out["val0"] = table[:, 1]
        if self.both:
            out["val1"] = table[:, 2]
        out["ddir"] = table[:, at] | self.flags
        out["bs"] = table[:, at + 1]
        if self.job.log_offset:
            out["offset"] = table[:, at + 2]
        out["priority"] = prios
        if self.job.log_issue_time:
            out["issue"] = table[:, prio_at + 1]
        return out

    def write(self, text: str) -> None:
        records = self._records(text)
        if not len(records):
            return
        data = records.tobytes()
        step = max(self.stream_bytes // self.dtype.itemsize, 1) * self.dtype.itemsize
        while data:
            if self.stream is None:
                self.stream = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15)
                self.in_stream = 0
            room = step - self.in_stream
            part, data = data[:room], data[room:]
            self._out(self.stream.compress(part))
            self.in_stream += len(part)
            if self.in_stream >= step:
                self._end_stream()

    def _end_stream(self) -> None:
        if self.stream is not None:
            self._out(self.stream.flush(zlib.Z_FINISH))
            self.stream = None

    def _out(self, data: bytes) -> None:
        if not data:
            return
        if self.shared:
            self.held.append(data)
        elif self.file is not None:
            self.file.write(data)

    def close(self) -> None:
        self._end_stream()
        if self.file is None:
            return
        if self.shared and self.held:  # whole streams, appended under a file lock
            fcntl.flock(self.file, fcntl.LOCK_EX)
            self.file.write(b"".join(self.held))
            self.file.flush()
            fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        self.file = None
