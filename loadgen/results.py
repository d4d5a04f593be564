"""What a run produced, as handed from the controller to the reports.

The controller fills these from the workers' interval deltas; the report writers
(fio json/json+/normal/terse, JSON lines end records) only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadgen.plan import Job, Plan
from loadgen.stats.jobstats import IntervalStats


@dataclass
class JobResult:
    """One worker (one numjobs clone) of one job."""

    job: Job
    totals: IntervalStats = field(default_factory=IntervalStats)
    pid: int = 0
    start_epoch_ms: int = 0  # wall clock at the job's first operation (fio "job_start")
    end_epoch_ms: int = 0
    error: int = 0  # errno-style, fio's "error"; 0 = ok
    error_text: str = ""
    # loadgen's additions, reported under the job's "loadgen" key: kernel counter deltas
    # (labelled system-wide where they are), overhead_ns, outcome (e.g. OOM kill), ...
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class GroupResult:
    """One stonewall group: its workers and how they were started."""

    id: int
    jobs: list[JobResult] = field(default_factory=list)
    spawn_s: float = 0.0  # first worker process created -> last worker ready
    start_skew_ns: int = 0  # spread of the workers' first operations after release
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. system-wide vmstat deltas


@dataclass
class RunResult:
    plan: Plan
    groups: list[GroupResult] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)  # kernel, CPU, THP settings, version...
    run_id: str = ""
    start_epoch_ns: int = 0
    end_epoch_ns: int = 0
    interrupted: bool = False  # stopped by a signal before the plan finished
    # an output that could not be written mid-run (full disk): why, and what got out
    output_failure: str = ""
    # run-level additions reported under the top-level "loadgen" key, e.g. controller_cpu_s
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def jobs(self) -> list[JobResult]:
        """Every worker in fio's thread order (the order of fio's ``jobs[]``)."""
        return [j for g in self.groups for j in g.jobs]
