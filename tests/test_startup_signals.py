"""Signals before the event loop listens: remembered, told to the run, double ^C exits."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus, StopReason
from tests.reliability.faults import read_jsonl, signal_at, start_loadgen
from tests.reliability.test_e2e import TIMED, finish, job, outputs

REPO = Path(__file__).resolve().parents[1]


@dataclass
class FakeRun:
    stopping: bool = False
    stop_reason: StopReason | None = None


def test_signal_before_the_run_exists_stops_it_when_attached() -> None:
    signals = StartupSignals()
    signals(signal.SIGTERM, None)
    run = FakeRun()
    signals.attach(run)
    assert (run.stopping, run.stop_reason) == (True, StopReason.SIGNAL)


def test_signal_after_attach_stops_the_run_and_keeps_an_earlier_reason() -> None:
    signals, run = StartupSignals(), FakeRun()
    signals.attach(run)
    assert not run.stopping
    run.stop_reason = StopReason.ABORT
    signals(signal.SIGTERM, None)
    assert run.stop_reason is StopReason.ABORT


CHILD = r"""
import signal, sys, time
from loadgen.startup_signals import StartupSignals
signals = StartupSignals()
signals.install()
print("ready", flush=True)
time.sleep(0.2)  # the test's first SIGINT arrives
print("survived first", signals.received == signal.SIGINT, flush=True)
time.sleep(30)  # the second SIGINT ends the process
"""


def test_real_signals_first_remembered_second_sigint_exits_at_once() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGINT)
    assert child.stdout.readline() == "survived first True\n"
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=10) == ExitStatus.SIGNALLED


def test_an_ignored_sigint_stays_ignored() -> None:
    code = ("import signal; from loadgen.startup_signals import StartupSignals; "
            "StartupSignals().install(); print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert done.stdout.strip() == "True"


def test_restore_puts_the_previous_handlers_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    signals = StartupSignals()
    signals.install()
    signals.install()  # again after the event loop put the defaults back
    assert signal.getsignal(signal.SIGTERM) is signals
    signals.restore()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# ---- real signals at known moments of a real `python -m loadgen` --------------------------
# Each moment is reached for sure (the injected hook leaves a mark), so the test does not
# depend on when a timer fires: from the command line's first step on, a signal is one
# line and status 3, and the run's outputs are complete.
START_MOMENTS = [
    "import:loadgen.jobfile",  # the job-file language: the first heavy import
    "import:fractions",  # inside it (loadgen.jobfile.expr)
    "open:JOBFILE",  # reading the job file
    "import:numpy",
    "import:loadgen.controller",
    "import:anyio",
]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize("moment", START_MOMENTS)
def test_signal_at_each_moment_of_the_start_is_status_3_and_one_line(
        tmp_path: Path, moment: str, signum: int) -> None:
    jobfile = job(tmp_path, TIMED.format(runtime=30, numjobs=2))
    jsonl, report, args = outputs(tmp_path)
    hook, env = signal_at(tmp_path, moment.replace("JOBFILE", str(jobfile)), signum)
    run = start_loadgen([str(jobfile), *args], extra_path=hook, extra_env=env)
    status, stderr = finish(run)
    assert (tmp_path / "signalled").exists(), f"{moment} was never reached"
    assert status == ExitStatus.SIGNALLED, stderr
    assert stderr.splitlines() == [f"loadgen: {signal.Signals(signum).name}: stopping"]
    records = read_jsonl(jsonl)
    assert records[0]["event.dataset"] == "loadgen.run_start"
    # no worker was started
    assert {r["event.dataset"] for r in records[1:-1]} <= {"loadgen.kernel"}
    assert records[-1]["loadgen.interrupted"] is True
    assert records[-1]["loadgen.exit_status"] == ExitStatus.SIGNALLED
    assert orjson.loads(report.read_bytes())["jobs"] == []


def test_signal_while_the_plan_is_read_is_status_3_and_prints_no_plan(tmp_path: Path) -> None:
    jobfile = job(tmp_path, TIMED.format(runtime=30, numjobs=2))
    hook, env = signal_at(tmp_path, "import:fractions", signal.SIGINT)
    run = start_loadgen([str(jobfile)], extra_path=hook, extra_env=env, command="plan")
    stdout, stderr = run.proc.communicate(timeout=60)
    assert (tmp_path / "signalled").exists()
    assert run.proc.returncode == ExitStatus.SIGNALLED
    assert stderr.decode().splitlines() == ["loadgen: SIGINT: stopping"]
    assert stdout == b""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signal_while_the_report_is_written_keeps_the_runs_status(
    tmp_path: Path, signum: int
) -> None:
    """The report goes into a FIFO with a one-page buffer, so loadgen is inside its write
    when the test has read the first page: the signal comes at that moment.  Nothing is
    cut short: the report is finished, and the status is the run's own (``run_end``)."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
    keep = os.open(fifo, os.O_WRONLY)  # a writer until loadgen's: no early EOF for the reader
    jsonl = tmp_path / "run.jsonl"
    text = "[global]\nioengine=page_fault\nbs=4k\nsize=1m\nrw=randwrite\n[a]\nnumjobs=4\n"
    run = start_loadgen(
        [str(job(tmp_path, text)), f"--jsonl={jsonl}", "--output-format=json+", f"--output={fifo}"]
    )
    try:
        os.set_blocking(reader, True)
        first = os.read(reader, 1024)  # the report has begun; more than a page is still to go
        os.close(keep)
        run.proc.send_signal(signum)
        rest = b""
        while chunk := os.read(reader, 1 << 16):
            rest += chunk
    finally:
        os.close(reader)
    status, stderr = finish(run)
    name = signal.Signals(signum).name
    assert stderr.splitlines() == [f"loadgen: {name} after the run ended: finishing the report"]
    records = read_jsonl(jsonl)
    assert status == records[-1]["loadgen.exit_status"] == ExitStatus.OK
    assert records[-1]["loadgen.interrupted"] is False
    report = orjson.loads(first + rest)
    assert len(rest) > 4096 and len(report["jobs"]) == 4
    assert all(j["error"] == 0 and j["write"]["total_ios"] == 256 for j in report["jobs"])
