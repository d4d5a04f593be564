"""Whole `loadgen run` processes: where reports go, SIGUSR1 snapshots, run-level extras."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from loadgen.controller import EXIT_OK, execute
from loadgen.controller.reportout import report_sink
from loadgen.errors import InputError
from loadgen.plan import RunOptions
from loadgen.report import render_json
from loadgen.report.jsonl import validate

from .plans import MIB, make_plan

ROOT = Path(__file__).resolve().parents[2]
JOB = """\
[t]
ioengine=page_fault
size=8m
rw=randwrite
"""
TIMED = JOB + "time_based\nruntime=1500ms\n"


def _loadgen(tmp_path: Path, job: str, *args: str) -> subprocess.Popen:
    (tmp_path / "t.fio").write_text(job)
    return subprocess.Popen([sys.executable, "-m", "loadgen", "run", str(tmp_path / "t.fio"), "--eta=never", *args],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)


def test_jsonl_on_stdout_keeps_stdout_json_and_sends_the_report_to_stderr(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=-", "--output-format=normal,json")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OK
    records = [orjson.loads(line) for line in stdout.splitlines()]  # every stdout line is JSON
    assert records[0]["type"] == "run_start" and records[-1]["type"] == "run_end"
    assert all(validate(r) == [] for r in records)
    text = stderr.decode()
    assert "t: (groupid=0, jobs=1): err= 0" in text and '"jobs" : [' in text


def test_jsonl_on_stdout_with_output_file_leaves_stderr_quiet(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=-", "--output=report.txt")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OK
    assert all(orjson.loads(line) for line in stdout.splitlines())
    assert stderr == b""
    assert "t: (groupid=0, jobs=1): err= 0" in (tmp_path / "report.txt").read_text()


def test_report_goes_to_stdout_when_jsonl_is_a_file(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=run.jsonl")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OK
    assert b"t: (groupid=0, jobs=1): err= 0" in stdout and b"groupid" not in stderr


def _wait_for_interval(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while b'"type":"interval"' not in (path.read_bytes() if path.exists() else b""):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("no interval was reported")
        time.sleep(0.02)


@pytest.mark.parametrize("output", ["", "report.txt"])
def test_sigusr1_prints_the_run_so_far_and_the_run_completes(tmp_path: Path, output: str) -> None:
    args = ["--jsonl=run.jsonl", "--status-interval=100ms"] + ([f"--output={output}"] if output else [])
    proc = _loadgen(tmp_path, TIMED, *args)
    _wait_for_interval(tmp_path / "run.jsonl", proc)
    proc.send_signal(signal.SIGUSR1)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OK
    text = (tmp_path / output).read_text() if output else stdout.decode()
    snapshot, _, final = text.partition("Starting 1 process")  # the final report's header follows the snapshot
    assert "t: (groupid=0, jobs=1): err= 0" in snapshot and "Run status group 0" in snapshot
    assert "t: (groupid=0, jobs=1): err= 0" in final
    lines = [orjson.loads(x) for x in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    (end,) = [r for r in lines if r["type"] == "end"]
    assert end["error"] == 0 and end["job_runtime"] >= 1500  # the worker ran its whole time undisturbed
    assert lines[-1]["exit_status"] == EXIT_OK


def test_controller_cpu_and_worker_uss_are_reported(tmp_path: Path) -> None:
    result = execute(make_plan([dict(numjobs=2, size=8 * MIB, rw="write")]), RunOptions(eta="never"))
    assert result.extras["controller_cpu_s"] > 0
    assert 0 < result.extras["controller_cpu_pct"] <= 100 * (os.cpu_count() or 1)
    for job in result.jobs:
        # sampled at release: the worker's own memory, its region mapped but untouched
        assert 0 < job.totals.uss_bytes < 8 * MIB
    document = orjson.loads(render_json(result))
    assert document["loadgen"]["controller_cpu_s"] == pytest.approx(result.extras["controller_cpu_s"], abs=1e-6)  # %f in the JSON
    assert [j["loadgen"]["uss_bytes"] for j in document["jobs"]] == [j.totals.uss_bytes for j in result.jobs]


def test_report_sink_follows_the_stdout_rule(tmp_path: Path) -> None:
    assert report_sink(RunOptions(jsonl="-")).open().fd == 2
    assert report_sink(RunOptions(jsonl="run.jsonl")).open().fd == 1
    assert report_sink(RunOptions(jsonl="-", output=str(tmp_path / "r.txt"))).target == str(tmp_path / "r.txt")
    with pytest.raises(InputError, match="cannot write"):
        report_sink(RunOptions(output=str(tmp_path / "missing" / "report.txt"))).open()
    with pytest.raises(InputError, match="unknown output format"):
        report_sink(RunOptions(output_format=("xml",)))
