"""Whole `loadgen run` processes: where reports go, SIGUSR1 snapshots, run-level figures."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from loadgen.controller import execute
from loadgen.controller.supervisor import USS_SAMPLES
from loadgen.plan import RunOptions
from loadgen.report import render_json
from loadgen.report.jsonl import validate
from loadgen.status import ExitStatus

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
    return subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", str(tmp_path / "t.fio"), "--eta=never", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )


def test_jsonl_on_stdout_keeps_stdout_json_and_sends_the_report_to_stderr(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=-", "--output-format=normal,json")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    records = [orjson.loads(line) for line in stdout.splitlines()]  # every stdout line is JSON
    assert (
        records[0]["event.dataset"] == "loadgen.run_start"
        and records[-1]["event.dataset"] == "loadgen.run_end"
    )
    assert all(validate(r) == [] for r in records)
    text = stderr.decode()
    assert "t: (groupid=0, jobs=1): err= 0" in text and '"jobs" : [' in text


def test_jsonl_on_stdout_with_output_file_leaves_stderr_quiet(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=-", "--output=report.txt")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    assert all(orjson.loads(line) for line in stdout.splitlines())
    assert stderr == b""
    assert "t: (groupid=0, jobs=1): err= 0" in (tmp_path / "report.txt").read_text()


def test_report_goes_to_stdout_when_jsonl_is_a_file(tmp_path: Path) -> None:
    proc = _loadgen(tmp_path, JOB, "--jsonl=run.jsonl")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    assert b"t: (groupid=0, jobs=1): err= 0" in stdout and b"groupid" not in stderr


def _wait_for_interval(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while b'"event.dataset":"loadgen.interval"' not in (
        path.read_bytes() if path.exists() else b""
    ):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("no interval was reported")
        time.sleep(0.02)


@pytest.mark.parametrize("output", ["", "report.txt"])
def test_sigusr1_prints_the_run_so_far_and_the_run_completes(tmp_path: Path, output: str) -> None:
    args = ["--jsonl=run.jsonl", "--status-interval=100ms"] + (
        [f"--output={output}"] if output else []
    )
    proc = _loadgen(tmp_path, TIMED, *args)
    _wait_for_interval(tmp_path / "run.jsonl", proc)
    proc.send_signal(signal.SIGUSR1)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    text = (tmp_path / output).read_text() if output else stdout.decode()
    # the final report's header follows the snapshot
    snapshot, _, final = text.partition("Starting 1 process")
    assert "t: (groupid=0, jobs=1): err= 0" in snapshot and "Run status group 0" in snapshot
    assert "t: (groupid=0, jobs=1): err= 0" in final
    lines = [orjson.loads(x) for x in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    (end,) = [r for r in lines if r["event.dataset"] == "loadgen.end"]
    assert (
        end["loadgen.error"] == 0 and end["loadgen.job_runtime"] >= 1500
    )  # the worker ran its whole time undisturbed
    assert lines[-1]["loadgen.exit_status"] == ExitStatus.OK


def test_controller_cpu_and_worker_uss_are_reported(tmp_path: Path) -> None:
    result = execute(
        make_plan([dict(numjobs=2, size=8 * MIB, rw="write")]), RunOptions(eta="never")
    )
    assert result.controller_cpu_s > 0
    assert 0 < result.controller_cpu_pct <= 100 * (os.cpu_count() or 1)
    for job in result.jobs:
        # sampled at release: the worker's own memory, its region mapped but untouched
        assert 0 < job.totals.uss_bytes < 8 * MIB
    document = orjson.loads(render_json(result))
    assert document["loadgen"]["controller_cpu_s"] == pytest.approx(  # %f in the JSON
        result.controller_cpu_s, abs=1e-6
    )
    assert [j["loadgen"]["uss_bytes"] for j in document["jobs"]] == [
        j.totals.uss_bytes for j in result.jobs
    ]


def test_a_storm_samples_the_uss_of_a_spread_of_its_workers() -> None:
    n = 3 * USS_SAMPLES + 1
    plan = make_plan([dict(numjobs=n, size=64 * 1024, rw="write")])
    result = execute(plan, RunOptions(eta="never"))
    sampled = sorted(j.job.thread_number for j in result.jobs if j.totals.uss_bytes)
    # the jobs fork in thread-number order: every 4th of the 49 is read, the last included
    assert sampled == list(range(1, n + 1, 4))


def test_verify_only_checks_write_numbers_when_given_and_error_dump_changes_nothing(
        tmp_path: Path) -> None:
    """A file written in random order, verified as a sequential write: with
    verify_write_sequence=1 the first block fails on its write number (fio's words, as fio
    does with a file), without it every checksum holds; error_dump=0/1 print the same, as
    fio prints verify failures whatever error_dump says."""
    (tmp_path / "data.bin").write_bytes(bytes(256 * 1024))
    job = "[v]\nsize=256k\nverify=crc32c\nbacking=file\nfilename=data.bin\n"
    proc = _loadgen(tmp_path, job + "rw=randwrite\n")
    proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    verify = job + "rw=write\nverify_only=1\n"
    proc = _loadgen(tmp_path, verify)
    proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK  # fio: verify_only turns the check off
    errors = []
    for dump in (0, 1):
        proc = _loadgen(tmp_path, verify + f"verify_write_sequence=1\nerror_dump={dump}\n")
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == ExitStatus.FAILED
        errors.append(re.sub(r"\(pid \d+\)", "", stderr.decode()))
    assert errors[0] == errors[1]
    assert re.search(r"verify: bad header numberio \d+, wanted 0 at file v offset 0, "
                     r"length 4096 \(requested block: offset=0, length=4096\)", errors[0])


def test_a_flipped_byte_is_found_by_verify_and_reported_with_its_offset(tmp_path: Path) -> None:
    """Write with verify into a kept file, flip one byte of it, verify it with verify_only:
    the report names the bad block's offset, and the stream has a verify_failed event."""
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(MIB))
    job = "[v]\nrw=write\nsize=1m\nverify=md5\nbacking=file\nfilename=data.bin\n"
    proc = _loadgen(tmp_path, job)
    proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.OK
    at = 3 * 4096 + 1000
    with data.open("r+b") as f:
        f.seek(at)
        byte = f.read(1)[0]
        f.seek(at)
        f.write(bytes([byte ^ 0x40]))
    proc = _loadgen(tmp_path, job + "verify_only=1\nverify_state_load=1\n", "--jsonl=v.jsonl")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitStatus.FAILED
    text = stdout.decode()
    assert ("v: (groupid=0, jobs=1): err=84 (md5: verify failed at file v offset 12288, "
            "length 4096") in text
    records = [orjson.loads(line) for line in (tmp_path / "v.jsonl").read_bytes().splitlines()]
    failed = [r for r in records if r.get("event.action") == "verify_failed"]
    assert len(failed) == 1 and all(validate(r) == [] for r in records)
    assert (failed[0]["loadgen.verify.offset"], failed[0]["loadgen.verify.length"]) == (12288,
                                                                                      4096)
    assert failed[0]["loadgen.error"] == 84
