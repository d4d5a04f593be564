"""SIGINT/SIGTERM on a whole controller process: stop, report, leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psutil
import pytest

from loadgen.status import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
LONG = 30_000_000_000  # far longer than any test waits: only a signal ends these runs


def _start(tmp_path: Path, numjobs: int) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "run.jsonl"
    spec = {"groups": [{"numjobs": numjobs, "time_based": True, "runtime_ns": LONG},
                       {"numjobs": 1}],  # never starts: the plan stops at the signal
            "opts": {"jsonl": str(out), "eta": "never", "status_interval_ns": 100_000_000}}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/controller/plans.py"), orjson.dumps(spec).decode()],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until every worker reported an interval
        if (
            out.exists()
            and out.read_bytes().count(b'"event.dataset":"loadgen.interval"') >= numjobs
        ):
            return proc, out
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run did not start")


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _gone(procs: list[psutil.Process]) -> bool:
    """Exited (a zombie waiting for init counts: it runs nothing)."""
    _, alive = psutil.wait_procs(procs, timeout=5)
    return all(p.status() == psutil.STATUS_ZOMBIE for p in alive if p.is_running())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_workers_and_still_reports(tmp_path: Path, signum: int) -> None:
    proc, out = _start(tmp_path, numjobs=4)
    procs = _descendants(proc.pid)
    assert len(procs) == 5  # the fork helper and its four workers
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=20)
    assert proc.returncode == ExitStatus.SIGNALLED
    assert _gone(procs)
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    types = [r["event.dataset"].removeprefix("loadgen.") for r in lines]
    assert types.count("end") == 4 and types.count("start") == 1 and types[-1] == "run_end"
    assert (
        lines[-1]["loadgen.interrupted"] is True
        and lines[-1]["loadgen.exit_status"] == ExitStatus.SIGNALLED
    )
    assert all(
        r["loadgen.write.io_bytes"] > 0 for r in lines if r["event.dataset"] == "loadgen.end"
    )
    assert b"g0" in stdout  # the final report still came out


def test_second_sigint_exits_at_once_without_orphans(tmp_path: Path) -> None:
    proc, _ = _start(tmp_path, numjobs=4)
    procs = _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)
    assert proc.returncode == ExitStatus.SIGNALLED
    assert _gone(procs)
