"""fio's iolog v2/v3 read for replay: I/Os, timing and the replay options (fio iolog.c)."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.plan import READ, SYNC, WRITE
from loadgen.replaylog import LogError, ReplayOptions, parse

V3 = """fio version 3 iolog
29 f add
192 f open
198 f read 0 4096
212 f write 8192 8192
215 f sync 0 0
300 f read 12288 4096
301 f close
"""
V2 = """fio version 2 iolog
f add
f open
f write 4096 4096
f wait 5 0
f read 0 512
f close
"""


def test_version_3_gives_offsets_directions_lengths_and_due_times() -> None:
    log = parse(V3, ReplayOptions())
    assert log.offsets.tolist() == [0, 8192, 0, 12288]
    assert log.lengths.tolist() == [4096, 8192, 0, 4096]
    assert log.dirs.tolist() == [READ, WRITE, SYNC, READ]  # the sync line is the engine's sync
    # fio's delay_since_ttime: the first line has no predecessor, then each line waits the
    # time since the line before (the add at 29 us starts the clock)
    assert log.due_ns is not None
    assert log.due_ns.tolist() == [169_000, 183_000, 186_000, 271_000]
    assert (log.extent, log.total_bytes, log.ios) == (16384, 16384, 3)


def test_time_scale_and_no_stall_change_the_timing_only() -> None:
    fast = parse(V3, ReplayOptions(time_scale=200))
    assert fast.due_ns is not None
    assert fast.due_ns.tolist() == [84_500, 91_500, 93_000, 135_500]
    none = parse(V3, ReplayOptions(no_stall=True))
    assert none.due_ns is None
    assert none.offsets.tolist() == fast.offsets.tolist() == [0, 8192, 0, 12288]


def test_version_2_waits_until_a_time_in_ms() -> None:
    log = parse(V2, ReplayOptions())
    assert log.offsets.tolist() == [4096, 0]
    assert log.dirs.tolist() == [1, 0]
    assert log.due_ns is not None and log.due_ns.tolist() == [0, 5_000_000]
    assert parse(V2, ReplayOptions(no_stall=True)).due_ns is None


def test_skip_scale_and_align_as_fio() -> None:
    log = parse(V3, ReplayOptions(skip=("write", "sync")))
    assert log.offsets.tolist() == [0, 12288] and not log.dirs.any()
    scaled = parse(V3, ReplayOptions(scale=2))
    assert scaled.offsets.tolist() == [0, 4096, 0, 6144]
    aligned = parse(V3.replace("12288", "12800"), ReplayOptions(align=8192))
    assert aligned.offsets.tolist() == [0, 8192, 0, 8192]


def test_a_log_without_stalls_has_no_schedule() -> None:
    log = parse("fio version 3 iolog\n0 f add\n0 f read 0 4096\n0 f read 4096 4096\n",
                ReplayOptions())
    assert log.due_ns is None
    assert np.array_equal(log.offsets, [0, 4096])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "not an fio iolog"),
        ("fio version 1 iolog\n", 1, "only iolog versions 2 and 3"),
        ("fio version 3 iolog\n0 f add\n5 f rad 0 4096\n", 3, "bad iolog action 'rad'"),
        ("fio version 3 iolog\n5 f read 0\n", 2, "bad iolog3 line"),
        ("fio version 2 iolog\nf read x 4096\n", 2, "offset 'x' is not a number"),
        ("fio version 2 iolog\nf read 0 99999999999\n", 2, "length '99999999999'"),
        ("fio version 3 iolog\nt f add\n", 2, "time 't' is not a number"),
        ("fio version 2 iolog\nf trim 0 4096\n", 2, "trim cannot be replayed"),
        ("fio version 2 iolog\nf delete\n", 2, "bad file action 'delete'"),
        ("fio version 2 iolog\nf read 0 0\n", 2, "length 0"),
    ],
)
def test_bad_logs_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(LogError) as caught:
        parse(text, ReplayOptions())
    assert caught.value.line == line
    assert message in str(caught.value)


def test_sync_and_datasync_lines_are_syncs_and_skip_sync_leaves_datasync() -> None:
    # fio (checked): replay_skip=sync drops the sync lines only; both kinds count as syncs
    text = "fio version 2 iolog\nf write 0 4096\nf sync 0 0\nf datasync 0 0\nf sync 0 0\n"
    assert parse(text, ReplayOptions()).dirs.tolist() == [WRITE, SYNC, SYNC, SYNC]
    assert parse(text, ReplayOptions(skip=("sync",))).dirs.tolist() == [WRITE, SYNC]


def test_trim_is_left_out_when_skipped() -> None:
    log = parse("fio version 2 iolog\nf trim 0 4096\nf read 0 4096\n",
                ReplayOptions(skip=("trim",)))
    assert log.offsets.tolist() == [0]
