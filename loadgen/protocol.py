"""The wire between the controller and the worker side: one module, one version.

Two channels, both checked by ``PROTOCOL_VERSION`` at the fork helper's handshake
(the helper's first message is ``Hello``; the controller refuses another version):

* the **helper socket** (controller <-> fork helper): frozen dataclasses
  (``SpawnRequest``, ``SignalRequest``, ``StopJobsRequest``, ``ExitRequest``; ``Hello``,
  ``Compiling``, ``Spawned``, ``Pipes``, ``ChildExit``, ``Crash``), each a length-prefixed pickle
  (they carry ``Job`` objects), file descriptors riding on the length prefix;
* each worker's **stats pipe** (worker -> controller), framed as below.

Each worker process has its own pipe (see ``loadgen.engine.helper`` for why not one
per group); the jobs of a thread-mode worker share it under a lock.  Frames keep
each message self-describing (sender, kind, length) and small: every frame is one
``os.write`` of at most ``PIPE_BUF`` bytes, which POSIX makes atomic, so frames of
different threads never tear or interleave inside a frame.

Frame (one ``os.write``, at most ``PIPE_BUF`` = 4096 bytes)::

    u32 thread_number | u16 payload_len | u8 kind | u8 flags | payload

``flags & MORE`` says that the message continues in the next frame *of the same
thread_number*; the reader appends payloads per thread_number until a frame without
``MORE``.  Messages longer than one frame (interval records with wide histograms)
are thus chunked; each chunk is still atomic, so only chunks of different threads
interleave, never bytes.

Message kinds (payload after reassembly):

* ``READY``   orjson object ``{"pid", "t_ready_ns"}``: setup done, waiting at the gate.
* ``ERROR``   orjson object ``{"pid", "error", "error_text", "traceback", "bad_offset",
  "bad_length"}``: setup or run failed (bad_offset >= 0: a verify mismatch there).
* ``INTERVAL`` an ``IntervalStats`` delta (never cumulative): ``u32 head_len``, an
  orjson object with every scalar field (``dirs`` as a two-item list of
  ``{ios, bytes, clat, lat, bw_samples, iops_samples}`` with moments as
  ``[n, mean, m2, min, max]``), then five sparse arrays in the order read clat,
  read lat, write clat, write lat, latency buckets, sync latency; each is ``u16 nnz``,
  ``nnz x u16`` bucket indices, ``nnz x u64`` counts (little endian).  The final
  delta's ``mm`` (``MmStats``: the region's own calls and the fault kinds) is the
  head's ``"mm"`` object (``MmStats.to_dict``), ``null`` on every other delta; ``"sync"``
  holds the sync latency's moments (``syncs`` counts the syncs issued).
* ``DONE``    orjson object ``{"pid", "report_block_ns"}``: the job finished and
  sent its final interval.
* ``SS_SAMPLE`` seven little-endian i64 (``SsSample``: index, span_ns, elapsed_ns, ios,
  bytes, lat_sum, lat_n): the job's counts over one steady-state check interval.

CLOCK_MONOTONIC timestamps (``t_ready_ns``, ``first_op_ns``) are system-wide, so the
controller compares them across workers directly.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from enum import IntEnum
from typing import Any

import numpy as np
import orjson

from loadgen.plan import Job
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import DirStats, IntervalStats, LatencyStat, SsSample
from loadgen.stats.mmstats import MmStats
from loadgen.stats.moments import Moments

PIPE_BUF = 4096
HEADER = struct.Struct("<IHBB")
MAX_PAYLOAD = PIPE_BUF - HEADER.size
MORE = 1

PROTOCOL_VERSION = 6


class MessageKind(IntEnum):
    """What a stats-pipe message carries."""

    READY = 1
    ERROR = 2
    INTERVAL = 3
    DONE = 4
    SS_SAMPLE = 5


READY, ERROR, INTERVAL, DONE, SS_SAMPLE = (
    MessageKind.READY,
    MessageKind.ERROR,
    MessageKind.INTERVAL,
    MessageKind.DONE,
    MessageKind.SS_SAMPLE,
)

_U32 = struct.Struct("<I")
_SS_SAMPLE = struct.Struct("<7q")
_U16 = struct.Struct("<H")
# IntervalStats scalar fields that travel as they are (dirs and arrays are special).
_SCALARS = tuple(
    f.name for f in fields(IntervalStats)
    if f.name not in ("dirs", "latency_buckets", "mm", "sync")
)


def frames(thread_number: int, kind: int, payload: bytes) -> list[bytes]:
    """Split one message into frames that each fit one atomic pipe write."""
    out = []
    for start in range(0, max(len(payload), 1), MAX_PAYLOAD):
        chunk = payload[start : start + MAX_PAYLOAD]
        more = MORE if start + MAX_PAYLOAD < len(payload) else 0
        out.append(HEADER.pack(thread_number, len(chunk), kind, more) + chunk)
    return out


def send(fd: int, thread_number: int, kind: int, payload: bytes) -> None:
    """Write a message as atomic frames (blocking: the pipe is large, see the controller)."""
    for frame in frames(thread_number, kind, payload):
        os.write(fd, frame)


class Reassembler:
    """Turns the byte stream of a shared pipe back into whole messages."""

    def __init__(self) -> None:
        self._buf = b""
        self._partial: dict[int, list[bytes]] = {}

    def feed(self, data: bytes) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(thread_number, kind, payload)`` for every message completed by ``data``."""
        buf = self._buf + data
        pos = 0
        while len(buf) - pos >= HEADER.size:
            thread_number, length, kind, flags = HEADER.unpack_from(buf, pos)
            end = pos + HEADER.size + length
            if end > len(buf):
                break
            parts = self._partial.setdefault(thread_number, [])
            parts.append(buf[pos + HEADER.size : end])
            pos = end
            if not flags & MORE:
                del self._partial[thread_number]
                yield thread_number, kind, b"".join(parts)
        self._buf = buf[pos:]


def _moments_out(m: Moments) -> list[Any]:
    return [m.n, m.mean, m.m2, m.min, m.max]


def _moments_in(v: list[Any]) -> Moments:
    return Moments(int(v[0]), float(v[1]), float(v[2]), int(v[3]), int(v[4]))


def _sparse_out(counts: np.ndarray) -> bytes:
    idx = np.flatnonzero(counts)
    return _U16.pack(len(idx)) + idx.astype("<u2").tobytes() + counts[idx].astype("<u8").tobytes()


def _sparse_in(data: bytes, pos: int, size: int) -> tuple[np.ndarray, int]:
    (nnz,) = _U16.unpack_from(data, pos)
    pos += 2
    idx = np.frombuffer(data, dtype="<u2", count=nnz, offset=pos)
    pos += 2 * nnz
    vals = np.frombuffer(data, dtype="<u8", count=nnz, offset=pos)
    pos += 8 * nnz
    out = np.zeros(size, dtype=np.uint64)
    out[idx] = vals
    return out, pos


def encode_interval(stats: IntervalStats) -> bytes:
    """Compact form of a delta: scalars as orjson, histograms sparse."""
    head: dict[str, Any] = {name: getattr(stats, name) for name in _SCALARS}
    head["dirs"] = [
        {
            "ios": d.ios,
            "bytes": d.bytes,
            "clat": _moments_out(d.clat.moments),
            "lat": _moments_out(d.lat.moments),
            "bw_samples": _moments_out(d.bw_samples),
            "iops_samples": _moments_out(d.iops_samples),
        }
        for d in stats.dirs
    ]
    head["mm"] = stats.mm  # a dataclass (or None): orjson writes it as MmStats.to_dict
    head["sync"] = _moments_out(stats.sync.moments)
    head_bytes = orjson.dumps(head)
    arrays = [
        stats.dirs[0].clat.hist,
        stats.dirs[0].lat.hist,
        stats.dirs[1].clat.hist,
        stats.dirs[1].lat.hist,
        stats.latency_buckets,
        stats.sync.hist,
    ]
    return _U32.pack(len(head_bytes)) + head_bytes + b"".join(_sparse_out(a) for a in arrays)


def decode_interval(data: bytes) -> IntervalStats:
    (head_len,) = _U32.unpack_from(data, 0)
    head = orjson.loads(data[4 : 4 + head_len])
    pos = 4 + head_len
    arrays = []
    for size in (histogram.PLAT_NR,) * 4 + (latbuckets.NBUCKETS, histogram.PLAT_NR):
        arr, pos = _sparse_in(data, pos, size)
        arrays.append(arr)
    dirs = tuple(
        DirStats(
            ios=d["ios"],
            bytes=d["bytes"],
            clat=LatencyStat(_moments_in(d["clat"]), arrays[2 * i]),
            lat=LatencyStat(_moments_in(d["lat"]), arrays[2 * i + 1]),
            bw_samples=_moments_in(d["bw_samples"]),
            iops_samples=_moments_in(d["iops_samples"]),
        )
        for i, d in enumerate(head.pop("dirs"))
    )
    mm = head.pop("mm", None)
    sync = LatencyStat(_moments_in(head.pop("sync")), arrays[5])
    known = {k: v for k, v in head.items() if k in _SCALARS}
    out = IntervalStats(dirs=dirs, latency_buckets=arrays[4], **known)  # type: ignore[arg-type]
    out.mm = None if mm is None else MmStats.from_dict(mm)
    out.sync = sync
    return out


def encode_ss_sample(sample: SsSample) -> bytes:
    return _SS_SAMPLE.pack(*astuple(sample))


def decode_ss_sample(data: bytes) -> SsSample:
    return SsSample(*_SS_SAMPLE.unpack(data))


# ---- the small stats-pipe messages ------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    """Setup done, waiting at the gate."""

    pid: int
    t_ready_ns: int


@dataclass(frozen=True)
class JobError:
    """Setup or run failed; ``traceback`` only for a bug (it goes to the event record);
    ``bad_offset`` >= 0: a verify mismatch, at these bytes of the region."""

    pid: int
    error: int
    error_text: str
    traceback: str = ""
    bad_offset: int = -1
    bad_length: int = 0


@dataclass(frozen=True)
class Done:
    """The job finished and sent its final interval."""

    pid: int
    report_block_ns: int


def encode_message(message: Ready | JobError | Done) -> bytes:
    return orjson.dumps(message)  # orjson writes a dataclass's fields as asdict would


def decode_ready(data: bytes) -> Ready:
    return Ready(**orjson.loads(data))


def decode_error(data: bytes) -> JobError:
    return JobError(**orjson.loads(data))


def decode_done(data: bytes) -> Done:
    return Done(**orjson.loads(data))


# ---- the helper socket ------------------------------------------------------------------------
@dataclass(frozen=True)
class Hello:
    """The helper's first message: its protocol version."""

    version: int
    pid: int


@dataclass(frozen=True)
class Compiling:
    """The helper is compiling the kernel (no cached machine code yet)."""


@dataclass(frozen=True)
class SpawnRequest:
    """Fork one worker per unit (a unit: the jobs of one process).  ``origin_ns`` is the
    run's interval-grid origin when known (0: the workers read it from the gate).
    ``defer_exits_s``: how long the helper may hold back a lean worker's end (its final
    counts and its exit notice) while other lean workers still run (0: never)."""

    group: int
    units: tuple[tuple[Job, ...], ...]
    interval_ns: int
    origin_ns: int = 0
    defer_exits_s: float = 0.0


@dataclass(frozen=True)
class SignalRequest:
    signum: int


@dataclass(frozen=True)
class StopJobsRequest:
    """End these jobs (thread numbers) and no others, in whichever workers run them."""

    thread_numbers: tuple[int, ...]


@dataclass(frozen=True)
class ExitRequest:
    """Kill and reap every worker, then exit."""


@dataclass(frozen=True)
class Spawned:
    """The reply to a SpawnRequest; ``pids`` 0 where the fork failed (``fork_errno``);
    ``co_forked``: how many of them the helper's co-forker forked."""

    group: int
    pids: tuple[int, ...]
    t_first_fork_ns: int
    t_last_fork_ns: int
    fork_errno: int
    co_forked: int = 0


@dataclass(frozen=True)
class Pipes:
    """``count`` stats-pipe read ends ride on this message, in fork order."""

    count: int


@dataclass(frozen=True)
class ChildExit:
    """A worker was reaped: its wait status and its CPU time (wait4 rusage)."""

    pid: int
    status: int
    usr_ns: int
    sys_ns: int


@dataclass(frozen=True)
class Crash:
    """The helper hit a bug and exits; its traceback goes to the event record."""

    traceback: str


HelperRequest = SpawnRequest | SignalRequest | StopJobsRequest | ExitRequest
HelperReply = Hello | Compiling | Spawned | Pipes | ChildExit | Crash
LENGTH = struct.Struct("<Q")
MAX_FDS = 4  # per request (the gate)
FDS_PER_MESSAGE = 250  # the kernel's SCM_MAX_FD is 253


def send_msg(
    sock: socket.socket, message: HelperRequest | HelperReply, fds: tuple[int, ...] = ()
) -> None:
    """One length-prefixed pickle; ``fds`` ride on the length prefix."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if fds:
        socket.send_fds(sock, [LENGTH.pack(len(data))], list(fds))
        sock.sendall(data)
    else:  # one write: each wakes the reader (a storm's exits are hundreds of messages)
        sock.sendall(LENGTH.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, n: int, head: bytes = b"") -> bytes:
    buf = bytearray(head)
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def recv_request(sock: socket.socket) -> tuple[HelperRequest, list[int]]:
    """Blocking receive of one request and the fds attached to it."""
    head, fds, _flags, _addr = socket.recv_fds(sock, LENGTH.size, MAX_FDS)
    if not head:
        raise EOFError
    (length,) = LENGTH.unpack(_recv_exact(sock, LENGTH.size, head))
    message = pickle.loads(_recv_exact(sock, length))
    if not isinstance(message, HelperRequest):
        raise ValueError(f"not a helper request: {type(message).__name__}")
    return message, list(fds)


def split_replies(buf: bytes) -> tuple[list[HelperReply], bytes]:
    """The whole replies at the start of ``buf`` and what is left (a partial one)."""
    out: list[HelperReply] = []
    while len(buf) >= LENGTH.size:
        (length,) = LENGTH.unpack_from(buf)
        if len(buf) < LENGTH.size + length:
            break
        message = pickle.loads(buf[LENGTH.size : LENGTH.size + length])
        if not isinstance(message, Hello | Compiling | Spawned | Pipes | ChildExit | Crash):
            raise ValueError(f"not a helper reply: {type(message).__name__}")
        out.append(message)
        buf = buf[LENGTH.size + length :]
    return out, buf


def check_hello(message: HelperReply) -> None:
    """The handshake: the helper must speak this module's version."""
    if not isinstance(message, Hello) or message.version != PROTOCOL_VERSION:
        got = message.version if isinstance(message, Hello) else type(message).__name__
        raise ValueError(f"fork helper protocol {got}, expected {PROTOCOL_VERSION}")
