"""Signals before the event loop listens: remembered, told to the run, double ^C exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus, StopReason

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
