"""SIGINT/SIGTERM while no event loop listens: before the run (imports, job files, the
fork helper) and after it (writing the report).

The loop's own receiver (``Supervisor._watch_signals``) handles them during the run.
Outside it, Python's defaults would end loadgen with a KeyboardInterrupt traceback
(SIGINT) or without a report (SIGTERM).  Here a first signal is remembered and said in
one line: before the run, the run stops as soon as it starts (the report of what was
done, nothing, is still written; status 3); after it, nothing is left to cut short, so
the report is finished and the status stays the run's own.  A second SIGINT exits at
once, as during the run.

This module imports only the standard library's lightest parts: the command line
installs it before it imports anything heavy.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from loadgen.status import ExitStatus, StopReason

# what signal.getsignal gives back and signal.signal takes
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class Stoppable(Protocol):
    stopping: bool
    stop_reason: StopReason | None


def say(line: str) -> None:
    """One line on stderr, safe inside a signal handler (no buffered stream to re-enter)."""
    with contextlib.suppress(OSError):  # no stderr to tell: the exit status still says it
        os.write(2, f"loadgen: {line}\n".encode())


class StartupSignals:
    """Installed for a whole ``loadgen`` command; ``target`` is told once it exists."""

    def __init__(self) -> None:
        self.received = 0
        self.target: Stoppable | None = None
        self.run_ended = False
        self._previous: dict[int, Handler] = {}

    def install(self) -> None:
        """Handle SIGTERM, and SIGINT unless it was ignored on purpose (``nohup``, ``&``);
        ignore SIGUSR1 (a report request: the run's loop answers it, nothing before)."""
        self._previous.setdefault(signal.SIGUSR1, signal.getsignal(signal.SIGUSR1))
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        for signum in (signal.SIGTERM, signal.SIGINT):
            current = signal.getsignal(signum)
            if signum == signal.SIGINT and current is signal.SIG_IGN:
                continue
            self._previous.setdefault(signum, current)
            signal.signal(signum, self)

    def restore(self) -> None:
        """Put back what was there before the first ``install`` (loadgen used as a library)."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def attach(self, target: Stoppable) -> None:
        self.target = target
        self._tell()

    def end_run(self) -> None:
        """Every worker is gone and the status is settled: a signal from now on cuts
        nothing short (``run_end`` already holds the status the process exits with)."""
        self.run_ended = True
        self.target = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            say("second SIGINT: exiting at once")
            os._exit(ExitStatus.SIGNALLED)  # the helper and its workers die with us (PDEATHSIG)
        if not self.received:
            name = signal.Signals(signum).name
            say(f"{name} after the run ended: finishing the report" if self.run_ended
                else f"{name}: stopping")
        self.received = signum
        self._tell()

    def _tell(self) -> None:
        if self.received and self.target is not None and not self.target.stop_reason:
            self.target.stop_reason = StopReason.SIGNAL
            self.target.stopping = True
