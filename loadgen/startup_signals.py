"""SIGINT/SIGTERM while no event loop listens: before the run (imports, job files, the
fork helper) and after it (writing the report).

The loop's own receiver (``Supervisor._watch_signals``) handles them during the run.
Outside it, Python's defaults would end loadgen with a KeyboardInterrupt traceback
(SIGINT) or without a report (SIGTERM).  Here a first signal is remembered, so the run
stops as soon as it starts and the report of what was done (nothing, or everything)
is still written; a second SIGINT exits at once, as during the run.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any, Protocol

from loadgen.status import ExitStatus, StopReason


class Stoppable(Protocol):
    stopping: bool
    stop_reason: StopReason | None


class StartupSignals:
    """Installed for the whole ``loadgen run``; ``target`` is told once it exists."""

    def __init__(self) -> None:
        self.received = 0
        self.target: Stoppable | None = None
        self._previous: dict[int, Any] = {}

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

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            os._exit(ExitStatus.SIGNALLED)  # the helper and its workers die with us (PDEATHSIG)
        self.received = signum
        self._tell()

    def _tell(self) -> None:
        if self.received and self.target is not None and not self.target.stop_reason:
            self.target.stop_reason = StopReason.SIGNAL
            self.target.stopping = True
