"""How a worker ended, told apart well enough to act on and to report.

A worker that exits 0 after its final interval completed its job; everything else is
a death the run reports (an ``event`` JSON line, the job's fio ``error`` and its
``loadgen.outcome``) while the other workers go on.  A SIGKILL nobody in loadgen sent
is checked against the kernel's own OOM-kill records (the memory cgroup's ``oom_kill``
count, ``/dev/kmsg``, ``/proc/vmstat``) so an OOM kill is reported as one, and a job's
``oom_policy`` then decides between reporting, respawning and aborting the run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from loadgen.controller import cgroup
from loadgen.plan import Job
from loadgen.results import JobResult, RunResult
from loadgen.status import ExitStatus, OutcomeKind
from loadgen.status import Outcome as Outcome  # what classify() returns, beside the kinds

# a job without a runtime could respawn forever if its region never fits; stress-ng
# stops at its timeout, loadgen at this many restarts of one worker
MAX_RESPAWNS = 10

# the kernel's OOM-kill lines: "oom-kill:" (before the signal; rate-limited with the
# rest of the OOM report), "Killed process" (right after it), the reaper's line; a record
# overwritten before it is read is skipped, so each of them may be missing
_KMSG_OOM = (
    re.compile(rb"oom-kill:.*[,:]pid=(\d+),"),
    re.compile(rb"Killed process (\d+) "),
    re.compile(rb"oom_reaper: reaped process (\d+) "),
)
# how long a SIGKILL with no "Killed process" record yet waits for it, where an oom_kill
# count rose (the kernel logs it just after sending the signal)
KMSG_WAIT_STEPS = 10
KMSG_WAIT_STEP_S = 0.005
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


@dataclass
class OomWatch:
    """The kernel's OOM-kill records since the run started.

    Counters are read as deltas from the baseline taken at construction; every OOM kill
    attributed to a worker uses up one unit of each delta, so two SIGKILLs after one OOM
    kill are not both confirmed by the same count."""

    groups: list[cgroup.MemoryCgroup] = field(default_factory=list)
    vmstat_path: Path = Path("/proc/vmstat")
    _group_base: dict[Path, int] = field(default_factory=dict)
    _group_used: dict[Path, int] = field(default_factory=dict)
    _vmstat_base: int = 0
    _vmstat_used: int = 0
    _kmsg_fd: int = -1
    _kmsg_pids: set[int] = field(default_factory=set)
    _kmsg_lossy: bool = False  # records were overwritten before they were read

    @classmethod
    def start(cls) -> OomWatch:
        """Watch the caller's memory cgroup (workers inherit it), vmstat and kmsg."""
        own = cgroup.group_of("self")
        watch = cls(groups=[own] if own else [])
        watch.open_kmsg()
        return watch

    def __post_init__(self) -> None:
        for group in self.groups:
            self._baseline(group)
        self._vmstat_base = self._vmstat_oom_kills() or 0

    def _baseline(self, group: cgroup.MemoryCgroup) -> None:
        with contextlib.suppress(OSError):
            self._group_base[group.path] = group.oom_kills()
            self._group_used[group.path] = 0

    def open_kmsg(self, path: str = "/dev/kmsg") -> None:
        """Start reading the kernel log from its current end; without permission
        (``dmesg_restrict``, containers) OOM kills are confirmed by counters only."""
        try:
            self._kmsg_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(self._kmsg_fd, 0, os.SEEK_END)
        except OSError:
            self._kmsg_fd = -1

    def close(self) -> None:
        if self._kmsg_fd >= 0:
            os.close(self._kmsg_fd)
            self._kmsg_fd = -1

    @property
    def kmsg_complete(self) -> bool:
        """Every kernel record since the start was read: the log alone can tell an OOM
        kill ("Killed process N" is logged for each one, never rate-limited)."""
        return self._kmsg_fd >= 0 and not self._kmsg_lossy

    def _drain_kmsg(self) -> None:
        """Read the records logged since the last call, never blocking."""
        while self._kmsg_fd >= 0:
            try:
                record = os.read(self._kmsg_fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:  # records overwritten before we read them: skip on
                self._kmsg_lossy = True
                continue
            except OSError:
                return
            if not record:
                return
            for pattern in _KMSG_OOM:
                if match := pattern.search(record):
                    self._kmsg_pids.add(int(match.group(1)))

    def _vmstat_oom_kills(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            for line in self.vmstat_path.read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        return None

    def _group_units(self) -> list[Path]:
        """The watched groups whose oom_kill count rose more than was attributed."""
        rose = []
        for group in self.groups:
            with contextlib.suppress(OSError):
                delta = group.oom_kills() - self._group_base.get(group.path, 0)
                if delta > self._group_used.get(group.path, 0):
                    rose.append(group.path)
        return rose

    def _vmstat_unit(self) -> bool:
        count = self._vmstat_oom_kills()
        return count is not None and count - self._vmstat_base > self._vmstat_used

    def _readable_counts(self) -> list[str]:
        counts = []
        for group in self.groups:
            with contextlib.suppress(OSError):
                group.oom_kills()
                counts.append("its memory cgroup's")
                break
        if self._vmstat_oom_kills() is not None:
            counts.append("/proc/vmstat's")
        return counts

    def _take(self, groups: list[Path], vmstat: bool) -> None:
        """Attribute one unit of each count that rose to the worker being classified."""
        if groups:
            self._group_used[groups[0]] = self._group_used.get(groups[0], 0) + 1
        if vmstat:
            self._vmstat_used += 1

    def evidence(self, pid: int) -> str:
        """Which kernel record shows that ``pid`` was OOM-killed: ``kmsg`` (names the
        pid), ``memcg`` (its cgroup's count rose), ``vmstat`` (the system-wide count
        rose); ``""`` where none does (``looked_at`` says what was read).

        The counts rise before the kernel sends the SIGKILL, the "Killed process" record
        right after it: so with a complete kernel log, a count that rose for some other
        victim waits a moment for the record, and no record means no OOM kill of ``pid``.
        Every attribution uses up one unit of each count, so one OOM kill never explains
        two SIGKILLs."""
        self._drain_kmsg()
        groups, vmstat = self._group_units(), self._vmstat_unit()
        if pid not in self._kmsg_pids and self.kmsg_complete and (groups or vmstat):
            for _ in range(KMSG_WAIT_STEPS):  # the record follows the signal: not yet out?
                time.sleep(KMSG_WAIT_STEP_S)
                self._drain_kmsg()
                if pid in self._kmsg_pids:
                    break
        if pid in self._kmsg_pids:
            self._take(groups, vmstat)
            return "kmsg"
        if self.kmsg_complete:
            return ""
        self._take(groups, vmstat)
        if groups:
            return "memcg"
        return "vmstat" if vmstat else ""

    def looked_at(self) -> str:
        """The kernel records read for the last ``evidence``, for the text of a SIGKILL
        that was not an OOM kill; ``""`` where none could be read."""
        if self.kmsg_complete:
            return "the kernel log (/dev/kmsg) has no OOM kill of it"
        if counts := self._readable_counts():
            unread = "lost records" if self._kmsg_fd >= 0 else "not readable"
            return f"{' and '.join(counts)} oom_kill count did not rise (/dev/kmsg: {unread})"
        return ""


_EVIDENCE_TEXT = {
    "kmsg": "the kernel log names it",
    "memcg": "its memory cgroup's oom_kill count rose",
    "vmstat": "the system's oom_kill count rose",
}


def classify(
    pid: int,
    returncode: int | None,
    *,
    finished: bool,
    stop_requested: bool = False,
    job_error: tuple[int, str] = (0, ""),
    traceback: str = "",
    oom: OomWatch | None = None,
) -> Outcome:
    """Name a reaped worker's end.

    ``returncode`` follows ``multiprocessing``/``subprocess``: ``-N`` for signal N.
    ``finished``: the worker sent its final interval.  ``stop_requested``: loadgen
    told it to stop before its job was done (a stopped worker still sends a final
    interval and exits 0).  ``job_error``: the errno/text the job reported.
    ``traceback``: what the worker reported before exiting on an exception."""
    if returncode is not None and returncode < 0:
        signum = -returncode
        name = _signal_name(signum)
        if stop_requested and signum in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT):
            return Outcome(OutcomeKind.STOPPED, pid, errno.EINTR, f"stopped by loadgen ({name})",
                           signal=signum)
        if signum == signal.SIGKILL:
            evidence = oom.evidence(pid) if oom is not None else ""
            if evidence:
                return Outcome(OutcomeKind.OOM_KILLED, pid, errno.ENOMEM,
                               f"killed by the OOM killer ({_EVIDENCE_TEXT[evidence]})",
                               signal=signum, oom_evidence=evidence)
            looked = oom.looked_at() if oom is not None else ""
            if looked:  # the kernel's records were there to read, and none names it
                return Outcome(OutcomeKind.KILLED, pid, errno.EINTR,
                               f"killed by SIGKILL, not by the OOM killer ({looked})",
                               signal=signum)
            return Outcome(OutcomeKind.PROBABLY_OOM, pid, errno.ENOMEM,
                           "killed by SIGKILL, probably OOM (no kernel OOM record readable: "
                           "/dev/kmsg, the memory cgroup's and /proc/vmstat's oom_kill)",
                           signal=signum)
        if signum in _CRASH_SIGNALS:
            return Outcome(OutcomeKind.CRASHED, pid, errno.EFAULT, f"crashed: killed by {name}",
                           signal=signum)
        return Outcome(OutcomeKind.KILLED, pid, errno.EINTR, f"killed by {name}", signal=signum)
    if traceback:
        last = traceback.strip().splitlines()[-1] if traceback.strip() else "exception"
        return Outcome(OutcomeKind.EXCEPTION, pid, job_error[0] or errno.EIO,
                       f"worker raised {last}", exit_code=returncode, traceback=traceback)
    if job_error[0]:
        return Outcome(OutcomeKind.FAILED, pid, job_error[0],
                       job_error[1] or os.strerror(job_error[0]), exit_code=returncode)
    if returncode == 0 and finished and not stop_requested:
        return Outcome(OutcomeKind.COMPLETED, pid, exit_code=0)
    if stop_requested:
        return Outcome(OutcomeKind.STOPPED, pid, errno.EINTR, "stopped by loadgen",
                       exit_code=returncode)
    return Outcome(OutcomeKind.EXITED, pid, errno.ECHILD,
                   f"exited with status {returncode} before finishing its job",
                   exit_code=returncode)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def next_action(outcome: Outcome, oom_policy: str, restarts: int) -> str:
    """What the controller does after ``outcome``: ``continue`` (record it; the other
    workers and later groups go on), ``respawn`` (a fresh worker with a fresh region),
    or ``abort`` (stop the whole run)."""
    if not outcome.is_oom:
        return "continue"
    if oom_policy == "respawn" and restarts < MAX_RESPAWNS:
        return "respawn"
    if oom_policy == "abort":
        return "abort"
    return "continue"


def replacement_job(job: Job, elapsed_ns: int) -> Job | None:
    """The job a respawned worker runs, ``elapsed_ns`` after its group started: what is
    left of a runtime (``None`` when nothing is), no start delay, no second ramp; a
    sized job starts its pass again in the fresh region."""
    if not job.runtime_ns:
        return replace(job, startdelay_ns=(0, 0))
    left = job.runtime_ns + job.ramp_time_ns - elapsed_ns
    if left <= 0:
        return None
    return replace(job, runtime_ns=left, ramp_time_ns=0, ramp_size=0, startdelay_ns=(0, 0))


def exit_status(outcomes: list[Outcome], *, interrupted: bool,
                output_failed: bool = False) -> ExitStatus:
    """The run's exit status from every worker's final outcome.

    A signal stop wins (the plan did not finish); then any non-OOM failure or death
    (and an output that could not be written); then OOM kills; else success.  Workers
    that were OOM-killed and then respawned to completion count as completed."""
    if interrupted:
        return ExitStatus.SIGNALLED
    ended = (OutcomeKind.COMPLETED, OutcomeKind.STOPPED)
    if output_failed or any(o.kind not in ended and not o.is_oom for o in outcomes):
        return ExitStatus.FAILED
    if any(o.is_oom for o in outcomes):
        return ExitStatus.OOM
    return ExitStatus.OK


def run_exit_status(result: RunResult, *, output_failed: bool = False) -> ExitStatus:
    """``exit_status`` of a finished run: each job's ``loadgen.outcome`` (absent = it
    completed, or failed where it has an ``error``)."""
    def kind(job: JobResult) -> OutcomeKind:
        if job.outcome is not None:
            return job.outcome
        return OutcomeKind.FAILED if job.error else OutcomeKind.COMPLETED

    outcomes = [Outcome(kind(j), j.pid) for j in result.jobs]
    return exit_status(outcomes, interrupted=result.interrupted, output_failed=output_failed)
