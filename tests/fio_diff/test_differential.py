"""The corpus run through fio (``LOADGEN_FIO``) and loadgen: same counts, bytes, minf, keys.

Skipped, with the reason, when ``LOADGEN_FIO`` does not name an fio binary.  Each case runs
both tools at small sizes (a few MiB, well under a second of I/O each).
"""

from __future__ import annotations

import struct
import subprocess
import time

import pytest

from tests.test_blktrace import (
    BACKMERGE,
    FLUSH,
    NOTIFY,
    QUEUE,
    QUEUE_TC,
    READ,
    TIMESTAMP,
    WRITE,
    action,
    record,
    trace_bytes,
)

from .harness import (
    CORPUS,
    DIRECTIONS,
    FIO,
    GLOBAL,
    Case,
    compare,
    fio_skip_reason,
    run_fio,
    run_loadgen,
    trace_rows,
)

pytestmark = [pytest.mark.skipif(fio_skip_reason() is not None, reason=str(fio_skip_reason())),
              pytest.mark.slow]


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case.name,
                 marks=[pytest.mark.xfail(reason=case.known, strict=False)] if case.known else [])
    for case in CORPUS
])
def test_fio_and_loadgen_report_the_same(case, tmp_path):
    comparison = compare(case, tmp_path)
    assert comparison.problems == [], comparison.problems
    assert comparison.rows  # at least one entry was compared


def test_exec_commands_write_the_same_files(tmp_path):
    case = next(c for c in CORPUS if c.name == "exec_pre_post")
    compare(case, tmp_path)
    for tool in ("fio", "loadgen"):
        assert (tmp_path / tool / "x.prerun.txt").read_text() == "pre\n"
        assert (tmp_path / tool / "x.postrun.txt").read_text() == "post\n"


@pytest.mark.parametrize("recorder", ["fio", "loadgen"])
def test_a_trace_recorded_by_either_tool_replays_the_same_in_both(recorder, tmp_path):
    recording = tmp_path / "record.fio"
    recording.write_text(GLOBAL + "[rec]\nsize=1m\nrw=randrw\nbsrange=4k-16k\n"
                                  "write_iolog=rec.log\n")
    made = (run_fio if recorder == "fio" else run_loadgen)(recording, (), tmp_path)
    assert made.status == 0, made.stderr
    trace = (tmp_path / "rec.log").read_text()
    rows = trace_rows(tmp_path / "rec.log")
    case = Case("replay_recorded", "[r]\nsize=2m\nread_iolog=rec.log\nreplay_no_stall=1\n",
                files=(("rec.log", trace),))
    (tmp_path / "replay").mkdir()
    comparison = compare(case, tmp_path / "replay")
    assert comparison.problems == [], comparison.problems
    (job,) = comparison.loadgen.doc["jobs"]
    for direction in DIRECTIONS:
        mine = [n for d, _, n in rows if d == direction]
        assert (job[direction]["total_ios"], job[direction]["io_bytes"]) == (len(mine), sum(mine))


@pytest.mark.parametrize("clock", [1, 7])
def test_job_start_is_on_the_same_clock_in_both(clock, tmp_path):
    """job_start_clock_id=N: both tools' JSON job_start is clock N's ms as the job ran."""
    path = tmp_path / "start.fio"
    path.write_text(GLOBAL + f"[s]\nsize=1m\nrw=write\njob_start_clock_id={clock}\n")
    for run in (run_fio, run_loadgen):
        before = time.clock_gettime_ns(clock) // 1_000_000
        made = run(path, (), tmp_path)
        after = time.clock_gettime_ns(clock) // 1_000_000
        assert made.status == 0, made.stderr
        assert before <= made.doc["jobs"][0]["job_start"] <= after


def test_a_blktrace_replays_the_same_ios_in_order_in_both(tmp_path):
    """The I/Os themselves, in order, from each tool's clat log with log_offset: a trace
    with notify, merge, issue and completion events, a zero-byte event, a flush and a
    read queued without a direction (fio takes it for a read)."""
    events = [record(10, 0, 0, action(TIMESTAMP, NOTIFY), b"\0" * 16)]
    events += [
        record(1_000 + i * 20_000, i * 16, 8192, action(QUEUE, WRITE, QUEUE_TC)) for i in range(24)
    ]
    events += [
        record(600_000, 8, 4096, action(BACKMERGE, WRITE, QUEUE_TC)),
        record(610_000, 0, 0, action(QUEUE, READ, QUEUE_TC)),
        record(620_000, 0, 0, action(QUEUE, WRITE, FLUSH, QUEUE_TC)),
    ]
    events += [
        record(700_000 + i * 5_000, (23 - i) * 16 + 4, 2048, action(QUEUE, QUEUE_TC))
        for i in range(24)
    ]
    (tmp_path / "trace.bin").write_bytes(b"".join(events))
    path = tmp_path / "blk.fio"
    path.write_text(
        GLOBAL + "[b]\nread_iolog=trace.bin\nreplay_redirect=/dev/null\n"
        "write_lat_log=b\nlog_offset=1\n"
    )
    seen = {}
    for run in (run_fio, run_loadgen):
        (tmp_path / run.__name__).mkdir()
        (tmp_path / run.__name__ / "trace.bin").write_bytes(b"".join(events))
        made = run(path, (), tmp_path / run.__name__)
        assert made.status == 0, made.stderr
        (job,) = made.doc["jobs"]
        rows = [
            tuple(line.split(", ")[2:5])
            for line in (tmp_path / run.__name__ / "b_clat.1.log").read_text().splitlines()
        ]
        seen[run.__name__] = (rows, [(job[d]["total_ios"], job[d]["io_bytes"]) for d in DIRECTIONS])
    assert seen["run_fio"] == seen["run_loadgen"]
    rows, counts = seen["run_loadgen"]
    assert counts == [(24, 24 * 2048), (24, 24 * 8192)]
    assert rows[:2] == [("1", "8192", "0"), ("1", "8192", "8192")]
    assert rows[24] == ("0", "2048", str(23 * 8192 + 2048))


def test_a_blktrace_merge_is_fios_merge(tmp_path):
    """merge_blktrace_file with scalars and iters: loadgen's merged trace holds the queue
    events of fio's --merge-blktrace-only output, with fio's times, in time order. fio
    also writes the trace's last record read (here a completion event) again at each
    pass boundary, and the next pass waits behind that record's time."""
    a = [("write", i * 4096, 4096) for i in range(6)]
    b = [("read", i * 8192, 8192) for i in range(4)]
    for tool in ("fio", "loadgen"):
        (tmp_path / tool).mkdir()
        (tmp_path / tool / "a.bin").write_bytes(trace_bytes(a, gap_ns=30_000))
        (tmp_path / tool / "b.bin").write_bytes(trace_bytes(b, gap_ns=70_000, order=">"))
    path = tmp_path / "merge.fio"
    path.write_text(GLOBAL + "[m]\nread_iolog=a.bin:b.bin\nmerge_blktrace_file=merged.bin\n"
                             "merge_blktrace_scalars=50:100\nmerge_blktrace_iters=3:1\n"
                             "replay_redirect=/dev/null\n")
    subprocess.run([FIO, "--merge-blktrace-only", str(path)], cwd=tmp_path / "fio",
                   capture_output=True, timeout=60)  # fio exits 1 after merging (its bug)
    made = run_loadgen(path, (), tmp_path / "loadgen")
    assert made.status == 0, made.stderr

    def records(tool):
        data = (tmp_path / tool / "merged.bin").read_bytes()
        rows = [struct.unpack_from("=IIQQIIIIIHH", data, pos) for pos in range(0, len(data), 48)]
        return [(r[2], r[3], r[4], r[5]) for r in rows]  # time, sector, bytes, action

    theirs, ours = records("fio"), records("loadgen")
    extra = [r for r in theirs if r[3] & 0xFFFF != QUEUE]
    assert len(extra) == 2 and len(ours) == 6 * 3 + 4  # one a pass boundary of a
    assert sorted(r for r in theirs if r not in extra) == sorted(ours)
    assert [r[0] for r in ours] == sorted(r[0] for r in ours)
    (job,) = made.doc["jobs"]
    assert (job["write"]["total_ios"], job["read"]["total_ios"]) == (18, 4)
