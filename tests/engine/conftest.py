"""Shared helpers for the engine tests: jobs, a run that collects every report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from loadgen.engine.flow import FlowTable
from loadgen.engine.pattern import AccessPattern
from loadgen.engine.runner import JobRunner
from loadgen.plan import Job
from loadgen.stats.jobstats import IntervalStats


@pytest.fixture(scope="session", autouse=True)
def _kernel_loaded() -> None:
    """As the fork helper does before any job: every compiled function loaded and each
    pattern path run once, so no test's measured window loads machine code (its faults
    would count as the job's)."""
    from loadgen.engine import helper, kernel, verify

    kernel.compile_kernel()
    helper.warm_up()
    verify.warm_up()  # the helper does it before forking a verifying group


def make_job(**kw: object) -> Job:
    base: dict[str, object] = {"name": "t", "thread_number": 1, "subjob": 0, "numjobs": 1}
    base["group_id"] = 0
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


@dataclass
class RunResult:
    reports: list[IntervalStats] = field(default_factory=list)
    total: IntervalStats = field(default_factory=IntervalStats)

    @property
    def ios(self) -> tuple[int, int]:
        return self.total.dirs[0].ios, self.total.dirs[1].ios

    @property
    def bytes(self) -> tuple[int, int]:
        return self.total.dirs[0].bytes, self.total.dirs[1].bytes


def run_job(
    job: Job, interval_ns: int = 10**12, stop: Callable[[], bool] = lambda: False,
    flow_table: FlowTable | None = None,
) -> RunResult:
    runner = JobRunner(job, flow_table=flow_table)
    runner.setup()
    out = RunResult()
    try:

        def report(delta: IntervalStats) -> None:
            out.reports.append(delta)
            out.total.merge(delta)

        runner.run(report, interval_ns, stop)
    finally:
        runner.close()
    return out


def loop_ios(pattern: AccessPattern, limit: int = 1 << 20) -> list[tuple[int, int, int]]:
    """Every (offset, length, dir) of the pattern's current loop."""
    out: list[tuple[int, int, int]] = []
    while not pattern.exhausted and len(out) < limit:
        b = pattern.next_batch(4096)
        out.extend(zip(b.offsets.tolist(), b.lengths.tolist(), b.dirs.tolist(), strict=False))
    return out


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    return tmp_path
