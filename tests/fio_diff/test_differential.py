"""The corpus run through fio (``LOADGEN_FIO``) and loadgen: same counts, bytes, minf, keys.

Skipped, with the reason, when ``LOADGEN_FIO`` does not name an fio binary.  Each case runs
both tools at small sizes (a few MiB, well under a second of I/O each).
"""

from __future__ import annotations

import time

import pytest

from .harness import (
    CORPUS,
    DIRECTIONS,
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
