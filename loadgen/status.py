"""How a run and its workers end: the one definition of exit statuses, worker outcomes and
stop reasons that the CLI, the controller, the reports and the docs use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum, StrEnum
from typing import Any


class ExitStatus(IntEnum):
    """What a loadgen command's exit status means (``meaning``; the README's table)."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    SIGNALLED = 3
    OOM = 4

    @property
    def meaning(self) -> str:
        return _EXIT_MEANINGS[self]


_EXIT_MEANINGS = {
    ExitStatus.OK: "every job completed (also when the reader of stdout went away, as in "
                   "`loadgen run … --jsonl=- | head -1`)",
    ExitStatus.FAILED: "a job failed, a worker died, or an output could not be written mid-run; "
                       "`loadgen compare --fail-on-regression`: a larger significant regression",
    ExitStatus.BAD_INPUT: "bad input (job file, option, unwritable output path): one line "
                          "`FILE:LINE: message`, nothing started",
    ExitStatus.SIGNALLED: "stopped by SIGINT or SIGTERM; the report and the JSON lines cover "
                          "what was done",
    ExitStatus.OOM: "a worker was killed by the OOM killer (or by a SIGKILL no kernel record "
                    "could explain, where none was readable) and nothing else failed",
}


def exit_status_table() -> str:
    """The README's "Exit status" table (Markdown), one row per ``ExitStatus``."""
    cell = {status: status.meaning.replace("|", "\\|") for status in ExitStatus}  # Markdown
    rows = [f"| {status.value} | {cell[status]} |\n" for status in ExitStatus]
    return "| status | meaning |\n|---|---|\n" + "".join(rows)


class OutcomeKind(StrEnum):
    """How one worker ended (the job's ``loadgen.outcome``, the ``outcome.kind`` of events)."""

    COMPLETED = "completed"  # exit 0 after its final interval
    FAILED = "failed"  # the job itself reported an error (fio's ``error``; e.g. mmap ENOMEM)
    OOM_KILLED = "oom_killed"  # SIGKILL with the kernel's OOM record for it
    PROBABLY_OOM = "probably_oom"  # SIGKILL nobody in loadgen sent, no OOM record readable
    CRASHED = "crashed"  # SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGABRT
    KILLED = "killed"  # any other signal loadgen did not send
    EXCEPTION = "exception"  # the worker's Python code raised
    EXITED = "exited"  # a non-zero exit status with no report from the worker
    STOPPED = "stopped"  # loadgen stopped it (SIGINT/SIGTERM to the run, or oom_policy=abort)

    @property
    def is_oom(self) -> bool:
        return self in (OutcomeKind.OOM_KILLED, OutcomeKind.PROBABLY_OOM)

    @property
    def is_death(self) -> bool:
        """The worker ended before its job did, for reasons of its own."""
        return self not in (OutcomeKind.COMPLETED, OutcomeKind.FAILED, OutcomeKind.STOPPED)


class HostOutcomeKind(StrEnum):
    """How one host of a fleet run ended (``loadgen.fleet.outcomes``, docs/fleet.md)."""

    PENDING = "pending"  # still running, or never heard of again
    COMPLETED = "completed"  # its controller exited OK
    FAILED = "failed"  # its controller failed, or the fleet agent did
    STOPPED = "stopped"  # its controller was stopped by a signal (or not waited for)
    OOM_KILLED = "oom_killed"  # its controller's exit status was OOM
    KILLED = "killed"  # its controller was killed by a signal
    DIED = "died"  # its Dask worker left the cluster mid-run
    MISSED_BARRIER = "missed_barrier"  # it never reached a group's barrier in time


class StopReason(StrEnum):
    """Why a run stopped before its plan was done (also the stop event's ``event.action``)."""

    SIGNAL = "signal"  # SIGINT/SIGTERM: the run counts as interrupted (ExitStatus.SIGNALLED)
    ABORT = "abort"  # oom_policy=abort
    OUTPUT = "output"  # an output (--jsonl) could not be written
    HELPER = "helper"  # the worker fork helper exited


@dataclass(frozen=True)
class Outcome:
    """One worker's end: its ``kind`` and what backs it (``oom_evidence`` for an OOM kill,
    ``traceback`` for an exception)."""

    kind: OutcomeKind
    pid: int
    errno: int = 0  # fio-style "error": ENOMEM for OOM, EFAULT for a crash, ...
    text: str = ""  # one line for people: "killed by the OOM killer (memory cgroup ...)"
    exit_code: int | None = None
    signal: int | None = None
    oom_evidence: str = ""  # memcg | kmsg | vmstat; "" = none
    traceback: str = ""

    @property
    def is_oom(self) -> bool:
        return self.kind.is_oom

    @property
    def is_death(self) -> bool:
        """The worker ended before its job did, for reasons of its own."""
        return self.kind.is_death

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}
