from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import psutil
import pytest

from loadgen import launch, protocol
from loadgen.controller import run
from loadgen.errors import InputError
from loadgen.plan import RunOptions
from loadgen.status import ExitStatus
from tests.controller.plans import make_plan


def test_protect_controller_lowers_or_reports_what_is_in_effect(tmp_path: Path) -> None:
    adj = tmp_path / "oom_score_adj"
    adj.write_text("0\n")
    assert launch.protect_controller(str(adj)) == launch.CONTROLLER_OOM_SCORE_ADJ
    assert launch.protect_controller(str(tmp_path / "missing" / "adj")) == 0


def _hello(helper: launch.HelperProcess) -> protocol.HelperReply:
    buf = b""
    while True:
        data = helper.replies.recv(1 << 16)
        assert data, "the helper exited before its Hello"
        messages, buf = protocol.split_replies(buf + data)
        if messages:
            return messages[0]


def test_a_launched_helper_greets_and_a_discarded_one_is_gone() -> None:
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    helper = launch.HelperProcess()
    try:
        hello = _hello(helper)
        protocol.check_hello(hello)  # this controller's protocol version
        assert psutil.Process(helper.process.pid).ppid() == os.getpid()
    finally:
        helper.discard()
    assert helper.process.returncode is not None  # killed and reaped
    assert helper.commands.fileno() == helper.replies.fileno() == -1
    assert os.getpriority(os.PRIO_PROCESS, 0) == nice  # the boost is undone
    helper.discard()  # twice is harmless


def test_a_run_refused_before_it_starts_discards_the_early_helper(tmp_path: Path) -> None:
    helper = launch.HelperProcess()
    bad = RunOptions(eta="never", output=str(tmp_path / "no" / "such" / "dir" / "report"))
    with pytest.raises(InputError):
        run(make_plan([dict(size=64 * 1024)]), bad, helper=helper)
    assert helper.process.returncode is not None  # killed and reaped
    assert helper.process.pid not in {p.pid for p in psutil.Process().children()}


def test_a_helper_killed_before_the_run_asks_it_for_workers_ends_the_run_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    helper = launch.HelperProcess()
    helper.process.kill()  # as the OOM killer or a user's kill -9 would
    helper.process.wait()
    opts = RunOptions(eta="never", output_format=("json",), output=str(tmp_path / "report.json"))
    status = run(make_plan([dict(size=64 * 1024, numjobs=4)]), opts, helper=helper)
    assert status == ExitStatus.FAILED
    stderr = capfd.readouterr().err
    assert stderr == "loadgen: the worker fork helper exited; stopping the run\n"
    report = json.loads((tmp_path / "report.json").read_text())
    assert [j["error"] for j in report["jobs"]] == [errno.ECHILD] * 4
    assert helper.process.pid not in {p.pid for p in psutil.Process().children()}
