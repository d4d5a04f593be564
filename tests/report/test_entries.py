"""group_reporting merge math (fio's sum_thread_stats) and per-direction runtime rules."""

from __future__ import annotations

import math

import numpy as np

from loadgen.plan import Group, Job, Plan, RwMode
from loadgen.report.entries import build_entries, group_run_stats, runtime_ms
from loadgen.results import GroupResult, JobResult, RunResult
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.moments import Moments


def worker(n: int, name: str, group: int, samples_r: list[int], runtime_ns: int, gr: bool = True,
           rw: RwMode = RwMode.RANDRW, bw: tuple[int, int, float] | None = None) -> JobResult:
    job = Job(
        name=name, thread_number=n, subjob=0, numjobs=1, group_id=group, rw=rw, group_reporting=gr
    )
    totals = IntervalStats(thread_number=n, runtime_ns=runtime_ns, minf=10 * n, ctx=n,
                           usr_ns=3_000_000, sys_ns=1_000_000)
    d = totals.dirs[0]
    d.ios, d.bytes = len(samples_r), 4096 * len(samples_r)
    d.clat.add_batch(np.array(samples_r, dtype=np.uint64))
    d.lat.add_batch(np.array(samples_r, dtype=np.uint64) + 10)
    if bw:
        lo, hi, mean = bw
        d.bw_samples = Moments(n=2, mean=mean, m2=8.0, min=lo, max=hi)
    return JobResult(job=job, totals=totals, pid=100 + n)


def run(*groups: list[JobResult]) -> RunResult:
    gres = [GroupResult(i, list(g)) for i, g in enumerate(groups)]
    plan = Plan(groups=tuple(Group(i, tuple(j.job for j in g)) for i, g in enumerate(groups)))
    return RunResult(plan=plan, groups=gres)


def test_merged_entry_sums_counts_and_takes_max_runtime() -> None:
    a = worker(1, "g", 0, [100, 200, 300], 40_000_000, bw=(10, 20, 15.0))
    b = worker(2, "g", 0, [1000, 5000], 55_200_000, bw=(30, 50, 40.0))
    (entry,) = build_entries(run([a, b]))
    r = entry.dirs[0]
    assert entry.name == "g" and len(entry.members) == 2 and entry.pid == 101
    assert r.total_ios == 5 and r.io_bytes == 5 * 4096
    assert r.runtime_ms == 56  # max of 40 and ceil(55.2)
    assert entry.minf == 30 and entry.ctx == 3 and entry.usr_ms == 6
    assert entry.total_run_time_ms == 40 + 55  # summed, as fio does
    # exact moments: the same as one stat over all samples
    all_samples = np.array([100, 200, 300, 1000, 5000], dtype=np.float64)
    assert r.clat.moments.n == 5 and r.clat.moments.min == 100 and r.clat.moments.max == 5000
    assert math.isclose(r.clat.moments.mean, all_samples.mean())
    assert math.isclose(r.clat.moments.stddev, all_samples.std(ddof=1))
    assert int(r.clat.hist.sum()) == 5
    # bw samples: pure sum of every field
    assert (r.bw.n, r.bw.min, r.bw.max, r.bw.mean, r.bw.m2) == (4, 40, 70, 55.0, 16.0)


def test_runtime_only_for_the_directions_a_job_does() -> None:
    w = worker(1, "w", 0, [], 42_000_000, gr=False, rw=RwMode.WRITE)
    (entry,) = build_entries(run([w]))
    assert entry.dirs[0].runtime_ms == 0 and entry.dirs[1].runtime_ms == 42


def test_no_merge_without_group_reporting_or_across_groups() -> None:
    a, b = worker(1, "a", 0, [1], 1_000_000, gr=False), worker(2, "a", 0, [2], 1_000_000, gr=False)
    c, d = worker(3, "c", 1, [3], 1_000_000), worker(4, "d", 2, [4], 1_000_000)
    entries = build_entries(run([a, b], [c], [d]))
    assert [(e.name, e.groupid, len(e.members)) for e in entries] == [
        ("a", 0, 1),
        ("a", 0, 1),
        ("c", 1, 1),
        ("d", 2, 1),
    ]


def test_group_run_stats_aggregate_and_ranges() -> None:
    a = worker(1, "a", 0, [1] * 1000, 100_000_000, gr=False)
    b = worker(2, "b", 0, [1] * 500, 200_000_000, gr=False)
    entries = build_entries(run([a, b]))
    rs = group_run_stats(entries, run([a, b]))[0]
    assert rs.min_run[0] == 100 and rs.max_run[0] == 200
    assert rs.io_bytes[0] == 1500 * 4096
    assert rs.agg(0) == 1500 * 4096 * 1000 // 200
    assert rs.min_bw[0] == 500 * 4096 * 1000 // 200 and rs.max_bw[0] == 1000 * 4096 * 1000 // 100


def test_runtime_rounds_microseconds_up() -> None:
    assert (
        runtime_ms(0) == 0
        and runtime_ms(999) == 0
        and runtime_ms(1000) == 1
        and runtime_ms(36_000_001) == 36
    )
    assert runtime_ms(36_001_000) == 37
