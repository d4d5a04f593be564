"""Fleet runs on a loopback cluster of 3 Dask workers: synchronized start, one merged stream,
a killed worker, Ctrl-C.  Each host's controller is a real ``loadgen run``."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
from distributed import Client, LocalCluster

from loadgen.fleet import daskapi
from loadgen.report.jsonl import validate
from loadgen.status import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
JOB = """\
[global]
ioengine=page_fault
size=4m
rw=randwrite
[w]
numjobs=2
"""
JOBS_PER_HOST = 2


def _fleet(tmp_path: Path, cluster: LocalCluster, job: str, *args: str) -> subprocess.Popen[bytes]:
    (tmp_path / "job.fio").write_text(job)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadgen",
            "run",
            "job.fio",
            f"--cluster={cluster.scheduler_address}",
            "--jsonl=merged.jsonl",
            "--output-format=json",
            "--output=report.json",
            "--status-interval=100ms",
            *args,
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "merged.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _report(tmp_path: Path) -> dict[str, Any]:
    return dict(orjson.loads((tmp_path / "report.json").read_bytes()))


def _wait_for_intervals(tmp_path: Path, proc: subprocess.Popen[bytes], hosts: set[str]) -> None:
    """Until every job of every host has an interval record that measured I/O in the merged
    stream, while the run goes on (on a busy machine a job's first intervals may have none)."""

    def measured() -> set[str]:
        jobs = {(r["host.name"], r["loadgen.thread_number"]) for r in _records(tmp_path)
                if r["event.dataset"] == "loadgen.interval"
                and r["loadgen.read.io_bytes"] + r["loadgen.write.io_bytes"] > 0}
        return {h for h in hosts if sum(host == h for host, _ in jobs) >= JOBS_PER_HOST}

    deadline = time.monotonic() + 60
    while measured() < hosts:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                f"no interval records from every host: {proc.communicate()[1].decode()[-2000:]}"
            )
        time.sleep(0.05)


def _names(cluster: LocalCluster) -> set[str]:
    with Client(cluster.scheduler_address) as client:
        client.wait_for_workers(3, timeout=60)
        return {str(w["name"]) for w in daskapi.workers(client).values()}


def test_three_hosts_start_together_and_the_merged_stream_sums_to_the_fleet_totals(
    tmp_path: Path, cluster: LocalCluster
) -> None:
    names = _names(cluster)
    proc = _fleet(tmp_path, cluster, JOB + "time_based\nruntime=500ms\n")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == ExitStatus.OK, stderr.decode()[-2000:]
    report = _report(tmp_path)
    fleet = report["loadgen"]["fleet"]
    assert set(fleet["outcomes"]) == names and set(fleet["outcomes"].values()) == {"completed"}

    # the barrier: no host's workers were released before every host's workers were ready
    ready, released = [], []
    for host in report["loadgen"]["hosts"]:
        (group,) = host["loadgen"]["groups"]
        released.append(group["release_epoch_ns"])
        ready.append(group["ready_epoch_ns"])
    assert len(ready) == 3 and 0 < max(ready) <= min(released)
    (start,) = fleet["start"]
    assert start["hosts"] == 3 and start["start_skew_ns"] == max(released) - min(released)
    assert set(fleet["clock"]) == names  # the offset estimate the skew is read against

    # one merged stream, every record valid and named after its host
    records = _records(tmp_path)
    assert all(validate(r) == [] for r in records)
    assert {r["host.name"] for r in records} == names
    intervals: collections.Counter[str] = collections.Counter()
    ends: collections.Counter[str] = collections.Counter()
    for r in records:
        if r["event.dataset"] == "loadgen.interval":
            intervals[r["host.name"]] += r["loadgen.write.io_bytes"]
        elif r["event.dataset"] == "loadgen.end":
            ends[r["host.name"]] += r["loadgen.write.io_bytes"]
    per_host = {name: t["write.io_bytes"] for name, t in fleet["per_host"].items()}
    assert dict(intervals) == dict(ends) == per_host
    assert all(v > 0 for v in per_host.values())
    assert sum(per_host.values()) == fleet["totals"]["write.io_bytes"]

    # fio's client/server shape: every host's jobs, then "All clients" summing them
    stats = report["client_stats"]
    assert [s["jobname"] for s in stats] == ["w"] * 6 + ["All clients"]
    assert {s["hostname"] for s in stats[:-1]} == names
    assert stats[-1]["write"]["io_bytes"] == fleet["totals"]["write.io_bytes"]
    assert stats[-1]["write"]["total_ios"] == sum(s["write"]["total_ios"] for s in stats[:-1])
    assert stats[-1]["write"]["clat_ns"]["N"] == stats[-1]["write"]["total_ios"]
    assert isinstance(report["global options"], list) and len(report["global options"]) == 3


def test_ctrl_c_stops_every_host_and_writes_what_each_measured(
    tmp_path: Path, cluster: LocalCluster
) -> None:
    names = _names(cluster)
    proc = _fleet(tmp_path, cluster, JOB + "time_based\nruntime=60s\n")
    _wait_for_intervals(tmp_path, proc, names)  # lines arrive while the hosts run
    assert not any(r["event.dataset"] == "loadgen.run_end" for r in _records(tmp_path))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.SIGNALLED, stderr.decode()[-2000:]
    report = _report(tmp_path)
    assert report["loadgen"]["interrupted"] is True
    assert set(report["loadgen"]["fleet"]["outcomes"].values()) == {"stopped"}
    for job in report["client_stats"][:-1]:
        assert (
            job["write"]["io_bytes"] > 0 and job["job_runtime"] < 60_000
        )  # measured, then stopped
    run_ends = [r for r in _records(tmp_path) if r["event.dataset"] == "loadgen.run_end"]
    assert {r["host.name"] for r in run_ends} == names and all(
        r["loadgen.interrupted"] for r in run_ends
    )


def test_a_killed_worker_is_an_event_and_the_other_hosts_finish(
    tmp_path: Path, cluster: LocalCluster
) -> None:
    names = _names(cluster)
    victim = sorted(names)[0]
    proc = _fleet(tmp_path, cluster, JOB + "time_based\nruntime=4s\n")
    _wait_for_intervals(tmp_path, proc, names)
    with Client(cluster.scheduler_address) as client:
        address = next(
            a for a, w in daskapi.workers(client).items() if str(w["name"]) == victim
        )
        os.kill(client.run(os.getpid, workers=[address])[address], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == ExitStatus.FAILED, stderr.decode()[-2000:]
    records = _records(tmp_path)
    died = [
        r
        for r in records
        if r["event.dataset"] == "loadgen.event" and r["event.action"] == "host_died"
    ]
    assert [r["host.name"] for r in died] == [victim]
    outcomes = _report(tmp_path)["loadgen"]["fleet"]["outcomes"]
    assert outcomes == {name: "died" if name == victim else "completed" for name in names}
    for name in names - {victim}:  # the others ran to their end
        ends = [
            r for r in records if r["event.dataset"] == "loadgen.end" and r["host.name"] == name
        ]
        assert len(ends) == 2 and all(
            e["loadgen.error"] == 0 and e["loadgen.job_runtime"] >= 4000 for e in ends
        )
    # the dead host's controller stopped itself (its lifeline to the agent closed)
    (start,) = [
        r for r in records if r["event.dataset"] == "loadgen.run_start" and r["host.name"] == victim
    ]
    deadline = time.monotonic() + 60
    while psutil.pid_exists(start["process.pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(start["process.pid"])
