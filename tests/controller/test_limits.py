"""RLIMIT_NOFILE too small for a run: refused at the start with the number, for real
(the limit is set in the child with ``resource`` before loadgen starts)."""

from __future__ import annotations

import resource
from pathlib import Path

import orjson
import pytest

from loadgen.controller.limits import fds_needed
from loadgen.status import ExitStatus
from tests.jobfile.plans import load
from tests.reliability.faults import read_jsonl, start_loadgen
from tests.reliability.test_e2e import finish, job, outputs

STORM = "[global]\nioengine=page_fault\nbs=4k\nsize=1m\nrw=randwrite\n[a]\nnumjobs=8\n"


def _needed(args: list[str]) -> int:
    plan, opts = load(args)
    return fds_needed(plan, opts)[0]


@pytest.mark.parametrize("short", [16, 1])  # the event loop's own socketpair; one short
def test_too_few_fds_is_one_line_with_the_number_and_nothing_starts(
        tmp_path: Path, short: int) -> None:
    jsonl, report, args = outputs(tmp_path)
    argv = [str(job(tmp_path, STORM)), *args]
    needed = _needed(argv)
    limit = short if short > 1 else needed - 1
    run = start_loadgen(argv, limits={resource.RLIMIT_NOFILE: limit})
    status, stderr = finish(run)
    assert status == ExitStatus.BAD_INPUT
    assert stderr.splitlines() == [
        f"loadgen: this run needs {needed} open files (8 worker processes in its largest group, "
        f"one stats pipe each, and {needed - 8} for loadgen itself), but RLIMIT_NOFILE allows "
        f"{limit}: raise it (ulimit -n {needed})"]
    assert run.seen == {} and not jsonl.exists()


def test_the_number_said_is_enough(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    argv = [str(job(tmp_path, STORM)), *args]
    run = start_loadgen(argv, limits={resource.RLIMIT_NOFILE: _needed(argv)})
    status, stderr = finish(run)
    assert (status, stderr) == (ExitStatus.OK, "")
    assert read_jsonl(jsonl)[-1]["loadgen.exit_status"] == ExitStatus.OK
    assert [j["write"]["total_ios"] for j in orjson.loads(report.read_bytes())["jobs"]] == [256] * 8


# loaded by the run's processes (PYTHONPATH): the budget says loadgen itself needs nothing,
# so the run starts short of descriptors, as when something else took them meanwhile
# (the controller only: the variable is gone before it starts the fork helper)
NO_BUDGET = """\
import os
if os.environ.pop("LOADGEN_TEST_NO_BUDGET", ""):
    import loadgen.controller.limits as limits
    limits.FDS_OF_LOADGEN = 0
"""


@pytest.mark.parametrize("nofile", [18, 20, 22, 24])  # each runs out at another point
def test_running_out_of_fds_anyway_is_one_line_and_leaves_nothing(
        tmp_path: Path, nofile: int) -> None:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(NO_BUDGET)
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, STORM)), *args], extra_path=inject,
                        extra_env={"LOADGEN_TEST_NO_BUDGET": "1"},
                        limits={resource.RLIMIT_NOFILE: nofile})
    status, stderr = finish(run)  # no traceback, no process left, and it ends
    assert status == ExitStatus.FAILED
    first = stderr.splitlines()[0]
    assert first.startswith("loadgen: out of file descriptors: Too many open files") or \
        first == ("loadgen: the worker fork helper exited (OSError: stats pipes lost in "
                  "transit (MSG_CTRUNC): too few file descriptors (RLIMIT_NOFILE)); "
                  "stopping the run"), stderr
