"""blktrace binary traces for ``read_iolog`` replay (fio blktrace.c).

A trace is ``struct blk_io_trace`` records (fio's blktrace_api.h: magic, sequence, time in
ns, sector, bytes, action, pid, device, cpu, error, pdu_len; 48 bytes, then pdu_len bytes
of payload), in the byte order of the machine that traced (fio swaps a foreign one).
As fio, only the queue events (``__BLK_TA_QUEUE``) become I/Os: a write when the action
has the write category, else a read, at sector*512 with the event's bytes; a flush is a
sync, a discard a trim; notify events and zero-byte events are left out, and so is a last
record the file cuts short.  Each I/O waits
the time since the queue event before it (fio's ``delay_since_ttime``, in whole µs).

The events are turned into the iolog v3 lines fio would store for them and replayed by
``loadgen.replaylog``, so both kinds of log share one meaning of every option; a bad
record is ``LogError`` with its 1-based record number as the line.
"""

from __future__ import annotations

import struct

from loadgen.replaylog import LogError, ReplayLog, ReplayOptions, parse

MAGIC = 0x65617400  # BLK_IO_TRACE_MAGIC, the version in the low byte
VERSION = 0x07
RECORD = 48
TC_WRITE, TC_FLUSH, TC_NOTIFY, TC_DISCARD = 1 << 1, 1 << 2, 1 << 10, 1 << 13
TA_QUEUE = 1
_SHIFT = 16  # BLK_TC_SHIFT: categories sit above the action
_LAYOUT = "IIQQIIIIIHH"


def byte_order(head: bytes) -> str | None:
    """fio's is_blktrace: "<" or ">" by the first record's magic; None if not a trace."""
    if len(head) < RECORD:
        return None
    for order in ("<", ">"):
        (magic,) = struct.unpack_from(order + "I", head)
        if magic & 0xFFFFFF00 == MAGIC:
            return order
    return None


def _bad(number: int, message: str) -> LogError:
    return LogError(number, f"blktrace record {number}: {message}")


def _v3_lines(data: bytes, order: str, align: int) -> tuple[list[str], list[int]]:
    """The trace's queue events as iolog v3 lines (times in µs, one clock that only moves
    on), and the record number of each line for messages."""
    record = struct.Struct(order + _LAYOUT)
    lines = ["fio version 3 iolog", "1 blk add"]
    numbers = [0, 0]
    clock_us = 1  # parse() takes a time of 0 for "no line before"
    last_ns = 0
    pos = number = 0
    while pos < len(data):
        number += 1
        if len(data) - pos < RECORD:
            break  # a trace cut short (tracing killed): fio replays what came before
        magic, _, when, sector, size, action, *_, pdu_len = record.unpack_from(data, pos)
        pos += RECORD + pdu_len
        if magic & 0xFFFFFF00 != MAGIC:
            raise _bad(number, f"bad magic in blktrace data: {magic:x}")
        if magic & 0xFF != VERSION:
            raise _bad(number, f"bad blktrace version {magic & 0xFF} (fio reads {VERSION})")
        if action & 0xFFFF != TA_QUEUE:
            continue
        categories = action >> _SHIFT
        if categories & TC_NOTIFY:
            continue
        if last_ns and when >= last_ns:  # fio's delay_since_ttime, stored in whole µs
            clock_us += (when - last_ns) // 1000
        last_ns = when
        if align:  # fio's t_bytes_align: lengths up to the alignment
            size = (size + align - 1) & ~(align - 1)
        if categories & TC_DISCARD:
            words = f"trim {sector * 512} {size}"
        elif categories & TC_FLUSH:
            words = "sync 0 0"
        elif not size:
            continue  # fio: "ignoring zero byte trace"
        else:
            words = f"{'write' if categories & TC_WRITE else 'read'} {sector * 512} {size}"
        lines.append(f"{clock_us} blk {words}")
        numbers.append(number)
    return lines, numbers


def parse_trace(data: bytes, options: ReplayOptions) -> ReplayLog:
    """A blktrace's I/Os, as fio replays them; LogError names the first bad record."""
    order = byte_order(data)
    if order is None:
        raise _bad(1, "no blktrace magic")
    lines, numbers = _v3_lines(data, order, options.align)
    try:
        return parse("\n".join(lines) + "\n", options)
    except LogError as exc:  # a line of ours: say which record it came from
        raise _bad(numbers[exc.line - 1], str(exc)) from None


class MergeError(ValueError):
    """A merge that cannot be made; the message names the file."""


def _queue_records(path: str, scalar: int) -> tuple[list[tuple[int, list[int]]], int]:
    """A trace's queue events of a direction (fio's read_trace keeps no others), each as
    (time, its fields with pdu_len 0), and fio's ``bc->length`` for one pass: the time
    of the last record read, scaled if it was kept."""
    with open(path, "rb") as f:
        data = f.read()
    order = byte_order(data)
    if order is None:
        raise MergeError(f"{path}: not a blktrace (fio: file is not a blktrace)")
    record = struct.Struct(order + _LAYOUT)
    out: list[tuple[int, list[int]]] = []
    pos = 0
    length = 0
    while len(data) - pos >= RECORD:
        fields = list(record.unpack_from(data, pos))
        pos += RECORD + fields[-1]
        categories = fields[5] >> _SHIFT
        if fields[5] & 0xFFFF != TA_QUEUE or not categories & (1 | TC_WRITE | TC_DISCARD):
            length = fields[2]
            continue
        length = fields[2] * scalar // 100
        fields[-1] = 0  # fio writes the record without its payload
        out.append((fields[2], fields))
    if pos < len(data):
        raise MergeError(f"{path}: a short blktrace record at the end (fio: iolog short read)")
    return out, length


def merge(paths: list[str], scalars: tuple[int, ...], iters: tuple[int, ...], out: str) -> None:
    """fio's merge_blktrace_iologs: the traces' queue events into one trace at ``out``:
    trace i's times scaled by scalars[i] percent, the trace run iters[i] times, each pass
    after the last (defaults 100 and 1), and the traces merged by time, each in its own
    order (the earliest next event first; on a tie the trace in the lower slot)."""
    for name, values in (("merge_blktrace_scalars", scalars), ("merge_blktrace_iters", iters)):
        if values and len(values) != len(paths):
            raise MergeError(f"{name}({len(values)}) != nr_logs({len(paths)}) (as fio)")
    native = struct.Struct("=" + _LAYOUT)
    streams: list[list[tuple[int, list[int]]]] = []
    for index, path in enumerate(paths):
        scalar = scalars[index] if scalars else 100
        records, length = _queue_records(path, scalar)
        passes = [
            [((t + one * length) * scalar // 100, fields) for t, fields in records]
            for one in range(iters[index] if iters else 1)
        ]
        streams.append([event for events in passes for event in events])
    slots = [(stream, 0) for stream in streams if stream]  # (events, the next one)
    merged: list[bytes] = []
    while slots:
        at = min(range(len(slots)), key=lambda i: (slots[i][0][slots[i][1]][0], i))
        stream, pos = slots[at]
        when, fields = stream[pos]
        merged.append(native.pack(*fields[:2], when, *fields[3:]))
        if pos + 1 < len(stream):
            slots[at] = (stream, pos + 1)
        else:  # fio's merge_finish_file: the last slot moves into the freed one
            slots[at] = slots[-1]
            slots.pop()
    with open(out, "wb") as f:
        f.write(b"".join(merged))
