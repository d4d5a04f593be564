"""Whole runs in-process: groups in order, barrier start, process vs thread mode, failures."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import orjson
import psutil
import pytest

from loadgen.controller import execute, exit_status
from loadgen.controller.supervisor import worker_units
from loadgen.errors import InputError
from loadgen.plan import RunOptions
from loadgen.report.jsonl import validate
from loadgen.status import ExitStatus

from .plans import make_plan

FAST = 100_000_000  # 100 ms status interval


def _opts(tmp_path: Path, **kw) -> RunOptions:
    return RunOptions(jsonl=str(tmp_path / "run.jsonl"), eta="never", **kw)


def _lines(tmp_path: Path) -> list[dict]:
    return [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]


def test_groups_run_in_order(tmp_path: Path) -> None:
    plan = make_plan([dict(numjobs=2), dict(numjobs=3, rw="randread"), dict(numjobs=2, rw="write")])
    result = execute(plan, _opts(tmp_path))
    assert exit_status(result) == ExitStatus.OK
    assert [g.id for g in result.groups] == [0, 1, 2]
    for before, after in itertools.pairwise(result.groups):
        last_end = max(j.totals.t_end_ns for j in before.jobs)
        assert all(j.totals.first_op_ns > last_end for j in after.jobs)
    for job in result.jobs:
        assert job.totals.dirs[0].bytes + job.totals.dirs[1].bytes == job.job.size


def test_barrier_releases_all_after_the_last_ready(tmp_path: Path) -> None:
    result = execute(make_plan([dict(numjobs=16)]), _opts(tmp_path))
    (group,) = result.groups
    last_ready = max(j.ready_ns for j in group.jobs)
    assert all(j.ready_ns for j in group.jobs)
    assert last_ready <= group.release_ns
    assert all(j.totals.first_op_ns > group.release_ns for j in group.jobs)
    assert group.spawn_s > 0
    firsts = [j.totals.first_op_ns for j in group.jobs]
    assert group.start_skew_ns == max(firsts) - min(firsts)
    start = [r for r in _lines(tmp_path) if r["event.dataset"] == "loadgen.start"]
    assert (
        len(start) == 1
        and start[0]["loadgen.workers"] == 16
        and start[0]["loadgen.spawn_s"] == group.spawn_s
    )


def test_process_mode_gives_each_job_its_own_process(tmp_path: Path) -> None:
    result = execute(make_plan([dict(numjobs=4)]), _opts(tmp_path))
    pids = {j.pid for j in result.jobs}
    assert len(pids) == 4 and os.getpid() not in pids


def test_thread_mode_shares_one_process(tmp_path: Path) -> None:
    plan = make_plan([dict(numjobs=4, thread=True)])
    assert len(worker_units(plan.groups[0].jobs)) == 1
    result = execute(plan, _opts(tmp_path))
    assert exit_status(result) == ExitStatus.OK
    (pid,) = {j.pid for j in result.jobs}
    assert pid != os.getpid()
    assert all(j.totals.dirs[1].bytes == j.job.size for j in result.jobs)


def test_stream_validates_and_interval_deltas_sum_to_totals(tmp_path: Path) -> None:
    plan = make_plan(
        [
            dict(numjobs=3, time_based=True, runtime_ns=450_000_000, rw="randrw", size=16 << 20),
            dict(numjobs=2, rw="write"),
        ]
    )
    result = execute(plan, _opts(tmp_path, status_interval_ns=FAST))
    lines = _lines(tmp_path)
    for rec in lines:
        assert validate(rec) == [], rec["event.dataset"]
    assert (
        lines[0]["event.dataset"] == "loadgen.run_start"
        and lines[-1]["event.dataset"] == "loadgen.run_end"
    )
    assert [r["event.dataset"] for r in lines].count("loadgen.start") == 2
    assert [r["event.dataset"] for r in lines].count("loadgen.group_end") == 2
    ends = {r["loadgen.thread_number"]: r for r in lines if r["event.dataset"] == "loadgen.end"}
    assert sorted(ends) == [j.job.thread_number for j in result.jobs]
    for key in ("loadgen.write.io_bytes", "loadgen.read.total_ios", "loadgen.minf"):
        for group_end in (r for r in lines if r["event.dataset"] == "loadgen.group_end"):
            assert group_end[key] == sum(
                e[key] for e in ends.values() if e["loadgen.group"] == group_end["loadgen.group"]
            )
        assert lines[-1][key] == sum(e[key] for e in ends.values())
    for job in result.jobs:
        tn = job.job.thread_number
        intervals = [
            r
            for r in lines
            if r["event.dataset"] == "loadgen.interval" and r["loadgen.thread_number"] == tn
        ]
        assert intervals[-1]["loadgen.final"] and not any(
            r["loadgen.final"] for r in intervals[:-1]
        )
        if job.job.time_based:
            assert len(intervals) >= 2  # 100 ms intervals over 450 ms (fewer when starved of CPU)
        for key in (
            "read.total_ios",
            "write.total_ios",
            "read.io_bytes",
            "write.io_bytes",
            "minf",
            "majf",
            "read.clat_ns.N",
            "write.clat_ns.N",
        ):
            key = "loadgen." + key
            assert sum(r[key] for r in intervals) == ends[tn][key], key
        totals = job.totals
        assert ends[tn]["loadgen.write.io_bytes"] == totals.dirs[1].bytes
        assert sum(r["loadgen.write.clat_ns.N"] for r in intervals) == int(
            totals.dirs[1].clat.hist.sum()
        )
        assert sum(r["loadgen.read.clat_ns.N"] for r in intervals) == int(
            totals.dirs[0].clat.hist.sum()
        )


def test_setup_error_fails_that_job_only(tmp_path: Path) -> None:
    # no such CPU: sched_setaffinity refuses the job's CPU set with EINVAL
    plan = make_plan([dict(numjobs=2), dict(cpus_allowed=[1 << 16]), dict(numjobs=1, rw="read")])
    result = execute(plan, _opts(tmp_path))
    errors = {j.job.thread_number: j.error for j in result.jobs}
    assert errors == {1: 0, 2: 0, 3: errno.EINVAL, 4: 0}
    assert exit_status(result) == ExitStatus.FAILED
    events = [r for r in _lines(tmp_path) if r["event.dataset"] == "loadgen.event"]
    assert [(e["event.action"], e["loadgen.thread_number"]) for e in events] == [("job_error", 3)]


def _workers_of(pid: int) -> list[psutil.Process]:
    """Worker processes: the helper's children (those that still exist)."""
    workers = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if child.ppid() != pid:
                workers.append(child)
        except psutil.NoSuchProcess:
            pass
    return workers


def test_killed_worker_is_an_error_and_others_complete(tmp_path: Path) -> None:
    plan = make_plan([dict(numjobs=3, time_based=True, runtime_ns=1_200_000_000)])
    victim: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            workers = _workers_of(os.getpid())
            path = tmp_path / "run.jsonl"
            if len(workers) == 3 and path.exists() and b'"loadgen.interval"' in path.read_bytes():
                victim.append(workers[1].pid)
                os.kill(workers[1].pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one)
    killer.start()
    result = execute(plan, _opts(tmp_path, status_interval_ns=FAST))
    killer.join()
    assert victim
    dead = [j for j in result.jobs if j.pid == victim[0]]
    # a SIGKILL no kernel OOM record explains is a kill (docs/reliability.md): EINTR, exit 1
    assert len(dead) == 1 and dead[0].error == errno.EINTR and "SIGKILL" in dead[0].error_text
    assert all(j.error == 0 and j.totals.final for j in result.jobs if j.pid != victim[0])
    assert exit_status(result) == ExitStatus.FAILED
    lines = _lines(tmp_path)
    (event,) = [r for r in lines if r["event.dataset"] == "loadgen.event"]
    assert (
        event["event.action"] == "worker_died"
        and event["loadgen.thread_number"] == dead[0].job.thread_number
    )
    assert len([r for r in lines if r["event.dataset"] == "loadgen.end"]) == 3
    assert not psutil.Process().children(recursive=True)  # helper and workers all reaped


def test_a_lean_worker_killed_in_its_window_keeps_its_ios_in_the_report(
        tmp_path: Path) -> None:
    """A sized storm job runs as a lean worker: SIGKILLed half-way, its I/Os so far are
    still its job's (its counts outlive it in the block the helper maps), with EINTR."""
    plan = make_plan([dict(numjobs=2, rw="write", size=256 * 1024 * 1024)])
    victim: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not victim:
            for worker in _workers_of(os.getpid()):
                with contextlib.suppress(psutil.Error):
                    if worker.cpu_times().system >= 0.02:  # faulting: in its window
                        victim.append(worker.pid)
                        worker.kill()
                        break
            time.sleep(0.002)

    killer = threading.Thread(target=kill_one)
    killer.start()
    result = execute(plan, _opts(tmp_path))
    killer.join()
    (dead,) = [j for j in result.jobs if j.pid == victim[0]]
    assert dead.error == errno.EINTR and not dead.totals.final
    pages = 256 * 1024 * 1024 // 4096
    assert 0 < dead.totals.dirs[1].ios < pages and dead.totals.minf >= dead.totals.dirs[1].ios
    (alive,) = [j for j in result.jobs if j.pid != victim[0]]
    assert alive.error == 0 and alive.totals.dirs[1].ios == pages
    # its end was held back until its peer's (jobcontrol.exit_deferral_s), but its window
    # ended at its death, while the peer still ran
    assert dead.totals.t_end_ns < alive.totals.t_end_ns


def test_split_policy_pins_each_worker_to_one_cpu_at_the_callers_priority(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    plan = make_plan(
        [
            dict(
                numjobs=4,
                cpus_allowed=cpus,
                cpus_allowed_policy="split",
                time_based=True,
                runtime_ns=1_000_000_000,
            )
        ]
    )
    seen: dict[int, list[int]] = {}
    nices: set[int] = set()

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 4:
            for w in _workers_of(os.getpid()):
                try:
                    affinity = w.cpu_affinity()
                    if len(affinity) == 1:  # set by the worker just before its I/O
                        seen[w.pid] = affinity
                        nices.add(w.nice())
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = execute(plan, _opts(tmp_path, status_interval_ns=FAST))
    watcher.join()
    assert exit_status(result) == ExitStatus.OK
    for job in result.jobs:
        assert seen.get(job.pid) == [cpus[(job.job.thread_number - 1) % len(cpus)]]
    assert nices == {os.getpriority(os.PRIO_PROCESS, 0)}  # the controller's boost is not inherited


def test_unwritable_stream_is_an_input_error_before_anything_starts(tmp_path: Path) -> None:
    opts = RunOptions(jsonl=str(tmp_path / "missing" / "run.jsonl"), eta="never")
    with pytest.raises(InputError, match="--jsonl"):
        execute(make_plan([dict()]), opts)
    assert not psutil.Process().children(recursive=True)
