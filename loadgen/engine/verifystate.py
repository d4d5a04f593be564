"""fio's verify state file (verify-state.h): how many writes a verify job issued.

A write job with verify saves it at its end (``verify_state_save``, on by default, as in
fio); a later ``verify_only`` job with ``verify_state_load`` reads it and verifies only
the writes it records, so a write job cut short (runtime, a signal) is not reported as
corrupt where it never wrote.  The file is fio's, byte for byte: a header (version 7,
body size, CRC-32C of the body) and one ``thread_io_list`` of depth 1 -- depth, the
number of writes issued, the job index, fio's random state (zero here: loadgen's streams
are not fio's), the name, and one in-flight write (none: a sync engine).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from loadgen.engine.verify import CRC32C, crc_reflected
from loadgen.plan import Job

VERSION = 7
INVALID_NUMBERIO = (1 << 64) - 1
_HEADER = struct.Struct("<QQQ")
_HEAD = struct.Struct("<I4xQQ")  # depth, numberio, index
_RAND_BYTES = 56  # struct thread_rand_state: use64 and the larger of its two states
_NAME_BYTES = 64


class StateError(Exception):
    """The state file is missing or not fio's; ``errno`` 0 for a bad file."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err


def state_path(job: Job) -> Path:
    """fio's verify_state_gen_name: local-NAME-INDEX-verify.state, '/' in NAME as '.'."""
    return Path(f"local-{job.name.replace('/', '.')}-{job.thread_number - 1}-verify.state")


def _crc32c(data: bytes) -> int:
    """fio_crc32c: initial value ~0, no final inversion."""
    return int(crc_reflected(np.frombuffer(data, np.uint8), np.uint64(0xFFFFFFFF), CRC32C))


def save(job: Job, writes: int) -> Path:
    """Write the state of a job that issued ``writes`` writes; returns the file."""
    name = job.name.encode()[:_NAME_BYTES - 1].ljust(_NAME_BYTES, b"\0")
    body = (_HEAD.pack(1, writes, job.thread_number - 1) + bytes(_RAND_BYTES) + name
            + struct.pack("<Q", INVALID_NUMBERIO))
    path = state_path(job)
    path.write_bytes(_HEADER.pack(VERSION, len(body), _crc32c(body)) + body)
    return path


def load(job: Job) -> int:
    """The number of writes the job's saved state records (StateError if it cannot)."""
    path = state_path(job)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(exc.errno or 0, f"fio: state file: {path}: {exc.strerror}") from exc
    if len(data) < _HEADER.size + _HEAD.size:
        raise StateError(0, f"fio: failed reading verify state header: {path}")
    version, size, crc = _HEADER.unpack_from(data)
    if version != VERSION:
        raise StateError(0, f"fio: unsupported ({version}) version in verify state header")
    body = data[_HEADER.size:_HEADER.size + size]
    if len(body) != size or _crc32c(body) != crc:
        raise StateError(0, f"fio: verify state is corrupt: {path}")
    _depth, writes, _index = _HEAD.unpack_from(body)
    return int(writes)
