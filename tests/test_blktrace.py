"""blktrace binary traces replayed by read_iolog (fio blktrace.c): which events become
I/Os, their offsets, sizes and timing, and the replay options."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from loadgen.blktrace import MergeError, byte_order, merge, parse_trace
from loadgen.plan import SYNC
from loadgen.replaylog import LogError, ReplayOptions, load

MAGIC = 0x65617407  # BLK_IO_TRACE_MAGIC | BLK_IO_TRACE_VERSION
# categories (blktrace_api.h), shifted above the action by BLK_TC_SHIFT
READ, WRITE, FLUSH, QUEUE_TC, ISSUE_TC, COMPLETE_TC, NOTIFY, DISCARD = (
    1,
    2,
    4,
    16,
    64,
    128,
    1024,
    8192,
)
QUEUE, BACKMERGE, ISSUE, COMPLETE = 1, 2, 7, 8  # __BLK_TA_*
TIMESTAMP = 1  # __BLK_TN_TIMESTAMP: a notify whose low bits read as QUEUE


def action(kind: int, *categories: int) -> int:
    out = kind
    for category in categories:
        out |= category << 16
    return out


def record(
    time_ns: int,
    sector: int,
    size: int,
    act: int,
    pdu: bytes = b"",
    order: str = "<",
    magic: int = MAGIC,
    device: int = (8 << 20),
) -> bytes:
    """One struct blk_io_trace (48 bytes) and its payload."""
    return (
        struct.pack(
            order + "IIQQIIIIIHH",
            magic,
            0,
            time_ns,
            sector,
            size,
            act,
            4321,
            device,
            0,
            0,
            len(pdu),
        )
        + pdu
    )


def trace_bytes(ios: list[tuple[str, int, int]], gap_ns: int = 100_000, order: str = "<") -> bytes:
    """A trace of these (direction, offset, length) I/Os, each queued, issued and
    completed, queue events gap_ns apart; a "flush" is a write flush of no bytes."""
    out = [record(0, 0, 0, action(0, NOTIFY), b"fio\0", order)]
    for i, (direction, offset, length) in enumerate(ios):
        kind = WRITE if direction == "write" else READ
        t = 1_000 + i * gap_ns
        if direction == "flush":
            out.append(record(t, 0, 0, action(QUEUE, WRITE, FLUSH, QUEUE_TC), order=order))
            continue
        out += [
            record(t, offset // 512, length, action(QUEUE, kind, QUEUE_TC), order=order),
            record(t + 40, offset // 512, length, action(ISSUE, kind, ISSUE_TC), order=order),
            record(t + 90, offset // 512, length, action(COMPLETE, kind, COMPLETE_TC), order=order),
        ]
    return b"".join(out)


IOS = [("write", 0, 4096), ("write", 8192, 8192), ("read", 0, 4096), ("read", 65536, 512)]


def test_queue_events_become_the_ios_at_their_sectors_with_their_sizes() -> None:
    log = parse_trace(trace_bytes(IOS), ReplayOptions())
    assert log.offsets.tolist() == [0, 8192, 0, 65536]
    assert log.lengths.tolist() == [4096, 8192, 4096, 512]
    assert log.dirs.tolist() == [1, 1, 0, 0]
    # fio's delay_since_ttime: each I/O waits the ns since the queue event before, in µs
    assert log.due_ns is not None and log.due_ns.tolist() == [0, 100_000, 200_000, 300_000]


def test_a_foreign_byte_order_is_read_as_fio_swaps_it() -> None:
    data = trace_bytes(IOS, order=">")
    assert byte_order(data) == ">" and byte_order(trace_bytes(IOS)) == "<"
    assert parse_trace(data, ReplayOptions()).offsets.tolist() == [0, 8192, 0, 65536]
    assert byte_order(b"fio version 3 iolog\n" + b" " * 64) is None


def test_only_queue_events_of_data_count() -> None:
    data = b"".join(
        [
            record(500, 0, 0, action(TIMESTAMP, NOTIFY), b"\0" * 12),  # notify: not an I/O
            record(1_000, 8, 4096, action(QUEUE, WRITE, QUEUE_TC)),
            record(1_500, 16, 4096, action(BACKMERGE, WRITE, QUEUE_TC)),  # merges: not queued
            record(2_000, 24, 0, action(QUEUE, READ, QUEUE_TC)),  # zero bytes: left out
            record(3_000, 0, 0, action(QUEUE, WRITE, FLUSH, QUEUE_TC)),  # a flush: a sync
            record(5_000, 32, 2048, action(QUEUE, QUEUE_TC)),  # neither read nor write: a read
        ]
    )
    log = parse_trace(data, ReplayOptions())
    assert (log.offsets.tolist(), log.lengths.tolist(), log.dirs.tolist()) == (
        [4096, 0, 16384],
        [4096, 0, 2048],
        [1, SYNC, 0],  # the flush is the engine's sync, as fio's DDIR_SYNC
    )
    assert log.due_ns is not None and log.due_ns.tolist() == [0, 2_000, 4_000]


def test_time_is_kept_in_whole_microseconds_per_io_and_scaled() -> None:
    data = b"".join(
        record(1_000 + i * 1_500, i * 8, 4096, action(QUEUE, READ, QUEUE_TC)) for i in range(5)
    )
    log = parse_trace(data, ReplayOptions())
    assert log.due_ns is not None and log.due_ns.tolist() == [0, 1_000, 2_000, 3_000, 4_000]
    fast = parse_trace(trace_bytes(IOS), ReplayOptions(time_scale=200))
    assert fast.due_ns is not None and fast.due_ns.tolist() == [0, 50_000, 100_000, 150_000]
    assert parse_trace(trace_bytes(IOS), ReplayOptions(no_stall=True)).due_ns is None


def test_scale_align_and_skip_as_fios_store_ipo() -> None:
    log = parse_trace(trace_bytes(IOS), ReplayOptions(scale=2, align=8192))
    assert log.offsets.tolist() == [0, 0, 0, 32768]
    assert log.lengths.tolist() == [8192, 8192, 8192, 8192]  # lengths rounded up
    reads = parse_trace(trace_bytes(IOS), ReplayOptions(skip=("write",)))
    assert reads.dirs.tolist() == [0, 0]


def test_a_discard_is_a_trim_the_page_fault_engine_cannot_replay() -> None:
    data = trace_bytes(IOS[:1]) + record(9_000_000, 64, 4096, action(QUEUE, DISCARD, QUEUE_TC))
    with pytest.raises(LogError) as caught:
        parse_trace(data, ReplayOptions())
    assert caught.value.line == 5
    assert str(caught.value).startswith("blktrace record 5: trim cannot be replayed")
    assert len(parse_trace(data, ReplayOptions(skip=("trim",))).offsets) == 1


def test_bad_records_are_named_by_number() -> None:
    data = trace_bytes(IOS[:1])
    with pytest.raises(LogError) as caught:
        parse_trace(data + record(1, 0, 4096, 0, magic=0x65617406), ReplayOptions())
    assert (caught.value.line, str(caught.value)) == (
        5,
        "blktrace record 5: bad blktrace version 6 (fio reads 7)",
    )
    with pytest.raises(LogError) as caught:
        parse_trace(data + record(1, 0, 4096, 0, magic=0x12345607), ReplayOptions())
    assert str(caught.value) == "blktrace record 5: bad magic in blktrace data: 12345607"


def test_a_trace_cut_short_replays_what_came_before() -> None:
    data = trace_bytes(IOS)
    assert len(parse_trace(data[:-20], ReplayOptions()).offsets) == 4  # a completion cut
    assert len(parse_trace(data[: -3 * 48 - 10], ReplayOptions()).offsets) == 3


def test_load_tells_a_trace_from_an_iolog(tmp_path: Path) -> None:
    (tmp_path / "t.bin").write_bytes(trace_bytes(IOS))
    (tmp_path / "t.log").write_text("fio version 3 iolog\n1 f add\n2 f read 4096 4096\n")
    assert load(str(tmp_path / "t.bin"), ReplayOptions()).offsets.tolist() == [0, 8192, 0, 65536]
    assert load(str(tmp_path / "t.log"), ReplayOptions()).offsets.tolist() == [4096]


def _records(path: Path) -> list[tuple[int, int, int, int]]:
    """(time, sector, bytes, action) of each record of a (this machine's order) trace."""
    data = path.read_bytes()
    out = []
    for pos in range(0, len(data), 48):
        fields = struct.unpack_from("=IIQQIIIIIHH", data, pos)
        assert fields[-1] == 0  # no payloads in a merged trace
        out.append((fields[2], fields[3], fields[4], fields[5]))
    return out


def _trace(path: Path, times: list[int], sector: int, kind: int = WRITE, order: str = "<") -> None:
    """Queue events at these times, each with an issue event after it, and a notify."""
    out = [record(0, 0, 0, action(TIMESTAMP, NOTIFY), b"abc", order)]
    for i, t in enumerate(times):
        out.append(record(t, sector + i, 512, action(QUEUE, kind, QUEUE_TC), order=order))
        out.append(record(t + 5, sector + i, 512, action(ISSUE, kind, ISSUE_TC), order=order))
    path.write_bytes(b"".join(out))


def test_merge_orders_the_queue_events_of_every_trace_by_time(tmp_path: Path) -> None:
    _trace(tmp_path / "a", [100, 300, 500], 0)
    _trace(tmp_path / "b", [200, 300, 400], 100, READ, order=">")
    merge([str(tmp_path / "a"), str(tmp_path / "b")], (), (), str(tmp_path / "m"))
    assert [(t, s) for t, s, _, _ in _records(tmp_path / "m")] == [
        (100, 0),
        (200, 100),
        (300, 1),
        (300, 101),
        (400, 102),
        (500, 2),
    ]  # a tie: a first
    assert {a for *_, a in _records(tmp_path / "m")} == {
        action(QUEUE, WRITE, QUEUE_TC),
        action(QUEUE, READ, QUEUE_TC),
    }


def test_merge_scales_and_repeats_each_trace(tmp_path: Path) -> None:
    """fio's read_trace: pass k of a trace is (time + k * length) * scalar / 100, with
    length the time of the last record read (scaled only if it was a queue event)."""
    _trace(tmp_path / "a", [1000, 2000], 0)
    _trace(tmp_path / "b", [1500, 2600], 100)
    merge([str(tmp_path / "a"), str(tmp_path / "b")], (50, 100), (2, 1), str(tmp_path / "m"))
    # a's last record is the issue event at 2005: its second pass is (t + 2005) / 2
    assert [(t, s) for t, s, _, _ in _records(tmp_path / "m")] == [
        (500, 0),
        (1000, 1),
        (1500, 100),
        (1502, 0),
        (2002, 1),
        (2600, 101),
    ]


def test_merge_keeps_each_traces_own_order(tmp_path: Path) -> None:
    _trace(tmp_path / "a", [500, 100], 0)  # time goes back: still after the first
    _trace(tmp_path / "b", [300], 100)
    merge([str(tmp_path / "a"), str(tmp_path / "b")], (), (), str(tmp_path / "m"))
    assert [s for _, s, _, _ in _records(tmp_path / "m")] == [100, 0, 1]


def test_merge_checks_its_lists_and_its_inputs(tmp_path: Path) -> None:
    _trace(tmp_path / "a", [100], 0)
    (tmp_path / "t.log").write_text("fio version 3 iolog\n")
    paths = [str(tmp_path / "a"), str(tmp_path / "a")]
    with pytest.raises(MergeError, match=r"merge_blktrace_scalars\(3\) != nr_logs\(2\)"):
        merge(paths, (1, 2, 3), (), str(tmp_path / "m"))
    with pytest.raises(MergeError, match="t.log: not a blktrace"):
        merge([str(tmp_path / "t.log")], (), (), str(tmp_path / "m"))
