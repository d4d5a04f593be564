"""What a run produced, as handed from the controller to the reports.

The controller fills these from the workers' interval deltas; the report writers
(fio json/json+/normal/terse, JSON lines end records) only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from loadgen.kernel.counters import Delta as KernelDelta
from loadgen.kernel.sysinfo import RunHeader
from loadgen.plan import Job, Plan
from loadgen.stats.jobstats import IntervalStats
from loadgen.status import Outcome, OutcomeKind


class CgroupReport(TypedDict, total=False):
    """A job's memory cgroup over its group: limits, event and stat deltas, peak usage."""

    memory_limit: int
    memory_high: int
    path: str
    version: int  # 1 or 2
    events: dict[str, int]
    stat: dict[str, int]
    peak_bytes: int


class BackingFileReport(TypedDict):
    path: str
    created: bool  # made by this run (and removed after it)


class MmReport(TypedDict, total=False):
    """A job's memory-controls report (the job's ``loadgen.mm``, docs/memory.md): only the
    parts its options asked for."""

    backing: str
    refault: str
    cgroup: CgroupReport
    ksm_system_wide: dict[str, int]
    mthp_policy: dict[str, str]  # "64kB" -> the policy set for the group
    huge_page_faults: int
    file: BackingFileReport
    region: dict[str, int | str]  # RegionStats but its backing
    fault_kinds: dict[str, int]  # FaultKindCounts


@dataclass
class SteadyStateResult:
    """fio's steady-state ring of one job (or group, with group_reporting) as the report
    shows it: the samples in ring order from ``head``, the last criterion computed."""

    attained: bool = False
    buffer_full: bool = False
    head: int = 0
    tail: int = 0
    bw: list[int] = field(default_factory=list)  # bytes/s per interval
    iops: list[int] = field(default_factory=list)
    lat: list[int] = field(default_factory=list)  # mean completion latency, ns
    slope: float = 0.0
    deviation: float = 0.0
    criterion: float = 0.0

    @staticmethod
    def mean(values: list[int]) -> int:
        """fio's steadystate_data_mean: the integer mean over the whole ring."""
        return sum(values) // len(values) if values else 0

    def ordered(self, values: list[int]) -> list[int]:
        """fio's JSON order: from head, or from the one before it when the ring is full
        and still going (head then points at the second sample)."""
        n = len(values)
        if not n:
            return []
        start = self.head if (self.attained or not self.buffer_full) else (self.head - 1) % n
        return [values[(start + i) % n] for i in range(n)]


@dataclass
class JobResult:
    """One worker (one numjobs clone) of one job."""

    job: Job
    totals: IntervalStats = field(default_factory=IntervalStats)
    pid: int = 0
    # fio's "job_start": ms on job_start_clock_id's clock (default the wall clock) when the
    # measured window started
    start_epoch_ms: int = 0
    end_epoch_ms: int = 0
    error: int = 0  # errno-style, fio's "error"; 0 = ok
    error_text: str = ""
    # reported under the job's "loadgen" key (docs/reports.md)
    outcome: OutcomeKind | None = None  # how the worker ended, where it did not complete
    last_end: Outcome | None = None  # the worker's last death or stop (also one respawned)
    restarts: int = 0  # fresh workers started in its place (oom_policy=respawn)
    kernel: KernelDelta | None = None  # the group's system-wide counter deltas
    # memory controls' report (cgroup events/stat deltas, KSM, mTHP policy, huge-page
    # faults; docs/memory.md), built by loadgen.controller.memctl
    mm: MmReport | None = None
    steadystate: SteadyStateResult | None = None  # the job's steadystate= check, if any
    # the controller's own state, never reported: CLOCK_MONOTONIC means nothing outside it
    ready_ns: int = 0  # when the worker said it was ready, waiting for the release


@dataclass
class GroupResult:
    """One stonewall group: its workers and how they were started."""

    id: int
    jobs: list[JobResult] = field(default_factory=list)
    spawn_s: float = 0.0  # first worker process created -> last worker ready
    start_skew_ns: int = 0  # spread of the workers' first operations after release
    # reported under the group's entry of the top-level "loadgen" key
    workers: int = 0  # worker processes (threads of one count once)
    fork_s: float = 0.0  # the fork helper's first fork -> its last
    ready_epoch_ns: int = 0  # when the last worker was ready at the barrier (wall clock)
    release_epoch_ns: int = 0  # when the barrier released the workers (wall clock)
    kernel: KernelDelta | None = None  # system-wide counter deltas over the group
    # the controller's own state, never reported
    release_ns: int = 0  # the release on CLOCK_MONOTONIC, the clock of the workers' stats


@dataclass
class RunResult:
    plan: Plan
    groups: list[GroupResult] = field(default_factory=list)
    header: RunHeader = field(default_factory=RunHeader)  # kernel, CPU, THP settings, version...
    run_id: str = ""
    start_epoch_ns: int = 0
    end_epoch_ns: int = 0
    interrupted: bool = False  # stopped by a signal before the plan finished
    # an output that could not be written mid-run (full disk): why, and what got out
    output_failure: str = ""
    # reported under the top-level "loadgen" key: the controller process's own CPU
    controller_cpu_s: float = 0.0
    controller_cpu_pct: float = 0.0  # of one core, over the run's wall time

    @property
    def jobs(self) -> list[JobResult]:
        """Every worker in fio's thread order (the order of fio's ``jobs[]``)."""
        return [j for g in self.groups for j in g.jobs]
