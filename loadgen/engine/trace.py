"""write_iolog: every I/O issued, in fio's iolog v3 format (iolog.c log_io_u).

A header line, the file's ``add`` and ``open``, one ``USEC FILE read|write OFFSET LENGTH``
line per I/O (µs since the log started, taken when the I/O's chunk began unless the
kernel stamped each I/O), and ``close`` at the end.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from loadgen.plan import Backing, Job

VERSION_LINE = "fio version 3 iolog"
DIRECTION = ("read", "write")


def iolog_file_name(job: Job) -> str:
    """The file an iolog names, as fio's: ``filename=`` where the job has one (backing=file),
    else fio's default ``$jobname.$jobnum.$filenum`` (the clone's number, one file)."""
    if job.mm.backing is Backing.FILE and job.mm.filename:
        return job.mm.filename
    return f"{job.name}.{job.subjob}.0"


class IologWriter:
    def __init__(self, path: str, file_name: str, now_ns: int) -> None:
        self.file: TextIO = open(path, "w", buffering=1 << 16)  # noqa: SIM115 (closed in close)
        self.name = file_name
        self.start = now_ns
        self.file.write(f"{VERSION_LINE}\n0 {file_name} add\n0 {file_name} open\n")

    def add(self, stamps_ns: np.ndarray, offs: np.ndarray, lens: np.ndarray,
            dirs: np.ndarray) -> None:
        usec = ((stamps_ns - self.start) // 1000).tolist()
        name = self.name
        self.file.write("".join(
            f"{t} {name} {DIRECTION[d]} {o} {n}\n"
            for t, o, n, d in zip(usec, offs.tolist(), lens.tolist(), dirs.tolist(),
                                  strict=True)))

    def close(self, now_ns: int) -> None:
        self.file.write(f"{(now_ns - self.start) // 1000} {self.name} close\n")
        self.file.close()
