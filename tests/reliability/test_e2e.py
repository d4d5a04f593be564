"""Faults injected for real into ``python -m loadgen run``: OOM kills inside a memory
cgroup, killed and crashing workers, signals to the controller, a closed pipe, a full
disk.  After each: no process of the run is left (orphan or zombie), every JSON line
is whole and valid, and the final report is there where the run could write it."""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen import launch
from loadgen.controller import cgroup, outcome
from tests.conftest import limited_memory_group
from tests.reliability.faults import (
    MARK_VAR,
    REPO,
    LoadgenRun,
    read_jsonl,
    start_loadgen,
    wait_for_lines,
    wait_gone,
)

RUN_LIMIT_BYTES = 256 << 20  # controller + workers + a victim that wants 1 GiB

TIMED = """\
[global]
ioengine=page_fault
bs=4k
size=4m
rw=randwrite
time_based=1
runtime={runtime}

[timed]
numjobs={numjobs}
"""


def job(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test.fio"
    path.write_text(text)
    return path


def outputs(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    jsonl, report = tmp_path / "run.jsonl", tmp_path / "report.json"
    return jsonl, report, [f"--jsonl={jsonl}", "--output-format=json", f"--output={report}"]


def finish(run: LoadgenRun, timeout_s: float = 60) -> tuple[int, str]:
    """Wait for the run; its status and stderr; and no process of it may be left."""
    try:
        _, stderr = run.proc.communicate(timeout=timeout_s)
    finally:
        left = wait_gone(run)
        if run.proc.poll() is None:
            run.proc.kill()
    assert left == [], f"processes left behind: {left}"
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return run.proc.returncode, text


def events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event.dataset") == "loadgen.event"]


def report_jobs(report: Path) -> dict[str, list[dict[str, Any]]]:
    """The fio JSON report's jobs by name (numjobs clones share a name)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in orjson.loads(report.read_bytes())["jobs"]:
        by_name.setdefault(entry["jobname"], []).append(entry)
    return by_name


@pytest.fixture
def run_group() -> Iterator[cgroup.MemoryCgroup]:
    """A memory cgroup for a whole run (controller and workers), 256 MiB."""
    yield from limited_memory_group("loadgen-test-run", RUN_LIMIT_BYTES)


OOM_JOB = """\
[global]
ioengine=page_fault
bs=64k
rw=write

[victim]
size=1g
oom_policy={policy}
{victim_extra}

[bystander]
size=4m
time_based=1
runtime={bystander_runtime}

[after]
stonewall
size=4m
"""


def test_oom_kill_is_reported_and_the_run_goes_on(tmp_path: Path,
                                                   run_group: cgroup.MemoryCgroup) -> None:
    jsonl, report, args = outputs(tmp_path)
    text = OOM_JOB.format(policy="report", victim_extra="", bystander_runtime=2)
    status, _ = finish(start_loadgen([str(job(tmp_path, text)), *args], group=run_group))
    assert status == 4
    assert run_group.oom_kills() >= 1 and run_group.pids() == []
    oom = [e for e in events(read_jsonl(jsonl)) if e["loadgen.job"] == "victim"]
    assert len(oom) == 1 and oom[0]["loadgen.outcome.kind"] == "oom_killed"
    assert oom[0]["loadgen.outcome.oom_evidence"] in ("kmsg", "memcg")
    # reported before it died
    assert oom[0]["loadgen.error"] == errno.ENOMEM and oom[0]["loadgen.total_ios"] >= 0
    jobs = report_jobs(report)
    assert jobs["victim"][0]["error"] == errno.ENOMEM
    assert jobs["victim"][0]["loadgen"]["outcome"] == "oom_killed"
    assert jobs["bystander"][0]["error"] == 0 and jobs["after"][0]["error"] == 0
    assert jobs["after"][0]["write"]["io_bytes"] == 4 << 20


def test_oom_respawn_restarts_the_worker_up_to_the_cap(
    tmp_path: Path, run_group: cgroup.MemoryCgroup
) -> None:
    """A sized job whose region never fits: every replacement is OOM-killed too, until
    the cap; then the kill is reported as under oom_policy=report."""
    jsonl, report, args = outputs(tmp_path)
    text = OOM_JOB.format(policy="respawn", victim_extra="", bystander_runtime=1)
    status, stderr = finish(start_loadgen([str(job(tmp_path, text)), *args], group=run_group))
    happened = [
        (e["event.action"], e["loadgen.job"], e.get("loadgen.outcome.kind"))
        for e in events(read_jsonl(jsonl))
    ]
    victim = report_jobs(report)["victim"][0]
    assert victim["loadgen"].get("restarts") == outcome.MAX_RESPAWNS, (status, stderr, happened)
    oom = [h for h in happened if h[1] == "victim"]
    assert oom == [("worker_respawned", "victim", "oom_killed")] * outcome.MAX_RESPAWNS + [
        ("worker_died", "victim", "oom_killed")
    ]
    assert status == 4
    assert report_jobs(report)["after"][0]["error"] == 0


def test_oom_abort_stops_the_run(tmp_path: Path, run_group: cgroup.MemoryCgroup) -> None:
    jsonl, report, args = outputs(tmp_path)
    text = OOM_JOB.format(policy="abort", victim_extra="", bystander_runtime=120)
    status, _ = finish(
        start_loadgen([str(job(tmp_path, text)), *args], group=run_group), timeout_s=90
    )
    assert status == 4
    jobs = report_jobs(report)
    assert jobs["victim"][0]["loadgen"]["outcome"] == "oom_killed"
    assert jobs["bystander"][0]["loadgen"]["outcome"] == "stopped"
    assert "after" not in jobs or jobs["after"][0]["write"]["io_bytes"] == 0
    read_jsonl(jsonl)


@pytest.mark.parametrize(
    ("signum", "status", "kind", "error"),
    [
        (signal.SIGKILL, 1, "killed", errno.EINTR),  # no OOM record of it: a plain kill -9
        (signal.SIGSEGV, 1, "crashed", errno.EFAULT),
    ],
)
def test_worker_death_is_reported_and_the_others_go_on(
    tmp_path: Path, signum: int, status: int, kind: str, error: int
) -> None:
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=3, numjobs=2))), *args])
    victim = run.wait_for_workers(2)[0]
    wait_for_lines(jsonl, 2, run)
    victim.send_signal(signum)
    got, _ = finish(run)
    assert got == status
    died = [e for e in events(read_jsonl(jsonl)) if e["process.pid"] == victim.pid]
    assert [(e["event.action"], e["loadgen.outcome.kind"]) for e in died] == [("worker_died", kind)]
    jobs = report_jobs(report)["timed"]
    assert sorted(j["error"] for j in jobs) == sorted([0, error])
    assert [j for j in jobs if j["error"] == 0][0]["loadgen"]["outcome"] == "ok"


def test_kill_9_beside_real_oom_kills_is_not_called_oom(tmp_path: Path,
                                                        run_group: cgroup.MemoryCgroup) -> None:
    """In one run the OOM killer takes the victim and the test `kill -9`s the bystander:
    the kernel's records name the victim only, so the bystander is "killed by SIGKILL"
    (status 1, which wins over the OOM kill's 4), with what was looked at in the text."""
    jsonl, report, args = outputs(tmp_path)
    text = OOM_JOB.format(policy="report", victim_extra="", bystander_runtime=120)
    run = start_loadgen([str(job(tmp_path, text)), *args], group=run_group)
    deadline = time.monotonic() + 60
    bystander = None
    while bystander is None and time.monotonic() < deadline:
        run.note_children()
        records = [orjson.loads(line) for line in jsonl.read_bytes().splitlines()] \
            if jsonl.exists() else []
        oom_seen = any(r.get("loadgen.outcome.kind") == "oom_killed" for r in events(records))
        pids = {r["process.pid"] for r in records
                if r["event.dataset"] == "loadgen.interval" and r["loadgen.job"] == "bystander"}
        if oom_seen and pids:
            bystander = pids.pop()
        time.sleep(0.05)
    assert bystander is not None, "no OOM kill and a running bystander within 60 s"
    os.kill(bystander, signal.SIGKILL)
    status, stderr = finish(run, timeout_s=90)
    assert status == 1
    jobs = report_jobs(report)
    assert jobs["victim"][0]["loadgen"]["outcome"] == "oom_killed"
    killed = jobs["bystander"][0]
    assert (killed["loadgen"]["outcome"], killed["error"]) == ("killed", errno.EINTR)
    detail = killed["loadgen"]["outcome_detail"]["text"]
    assert detail.startswith("killed by SIGKILL, not by the OOM killer (")
    assert f"loadgen: bystander (pid {bystander}): {detail}\n" in stderr
    assert jobs["after"][0]["error"] == 0
    read_jsonl(jsonl)


# ---- jobs that fail to start: one stderr line each, and in every report format ------------
ALL_FORMATS = "--output-format=terse,json,normal"


def split_report(text: str) -> tuple[list[list[str]], dict[str, Any], str]:
    """The terse lines, the JSON document and the normal report of one combined report."""
    start = text.index("\n{\n") + 1
    document, end = json.JSONDecoder().raw_decode(text, start)
    terse = [line.split(";") for line in text[:start].splitlines() if line.startswith("3;")]
    return terse, document, text[end:]


def check_failed_jobs_are_reported(report_text: str, stderr: str, records: list[dict[str, Any]],
                                   failed: dict[str, tuple[int, str]]) -> None:
    """``failed``: job name -> (errno, the stderr line's text after "NAME[ (pid N)]: ")."""
    terse, document, normal = split_report(report_text)
    json_errors = sorted((j["jobname"], j["error"]) for j in document["jobs"] if j["error"])
    assert json_errors == sorted((name, err) for name, (err, _) in failed.items())
    assert sorted((t[2], int(t[4])) for t in terse if t[4] != "0") == json_errors
    normal_errors = re.findall(r"^(\S+): \(groupid=\d+, jobs=\d+\): err=\s*(\d+) \(", normal, re.M)
    assert sorted((name, int(err)) for name, err in normal_errors) == json_errors
    said = [line for line in stderr.splitlines() if not line.startswith("loadgen: SIG")]
    assert len(said) == len(failed)
    for line in said:
        name = line.removeprefix("loadgen: ").split(" ", 1)[0].rstrip(":")
        assert line.endswith(f": {failed[name][1]}"), line
    jsonl_errors = sorted((e["loadgen.job"], e["loadgen.error"]) for e in events(records)
                          if e["event.action"] in ("job_error", "spawn_failed"))
    assert jsonl_errors == json_errors


def test_a_mapping_the_kernel_refuses_is_said_and_reported(tmp_path: Path,
                                                            run_group: cgroup.MemoryCgroup) -> None:
    """size=100g inside a 256 MiB memory cgroup: the mmap is refused (ENOMEM)."""
    text = ("[global]\nioengine=page_fault\nbs=4k\nrw=write\n"
            "[huge]\nsize=100g\n[small]\nsize=4m\n")
    jsonl, report = tmp_path / "run.jsonl", tmp_path / "report.txt"
    run = start_loadgen([str(job(tmp_path, text)), f"--jsonl={jsonl}", ALL_FORMATS,
                         f"--output={report}"], group=run_group)
    status, stderr = finish(run)
    assert status == 1
    check_failed_jobs_are_reported(report.read_text(), stderr, read_jsonl(jsonl), {
        "huge": (errno.ENOMEM, "mmap of 107374182400 bytes refused: Cannot allocate memory")})
    assert "small: (groupid=0, jobs=1): err= 0:" in report.read_text()


def _unprivileged_python() -> str | None:
    """A python of this version that an unprivileged user may run (the tests' own may be
    under root's home), or None."""
    import shutil

    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        found = shutil.which(name, path=os.defpath)
        if found is None:
            continue
        mode = Path(found).resolve().stat().st_mode
        parents_ok = all(p.stat().st_mode & 0o001 for p in Path(found).resolve().parents)
        same = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, check=False).stdout.strip()
        if mode & 0o001 and parents_ok and same == str(tuple(sys.version_info[:2])):
            return found
    return None


NOBODY = 65534
NPROC = 60


def test_forks_refused_by_a_process_limit_are_each_said_and_reported() -> None:
    """`ulimit -u 60` for an unprivileged user (root is exempt from RLIMIT_NPROC) and a
    storm of 200: most forks fail with EAGAIN."""
    import sysconfig
    import tempfile

    python = _unprivileged_python()
    if python is None or os.geteuid() != 0:
        pytest.skip("needs root and a python an unprivileged user can run")
    work = Path(tempfile.mkdtemp(prefix="loadgen-nproc-"))
    try:
        work.chmod(0o777)
        jobfile = work / "storm.fio"
        jobfile.write_text("[global]\nioengine=page_fault\nbs=4k\nsize=256k\nrw=write\n"
                           "[storm]\nnumjobs=200\n")
        jsonl, report = work / "run.jsonl", work / "report.txt"

        def unprivileged() -> None:
            resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

        mark = uuid.uuid4().hex
        site = sysconfig.get_paths()["purelib"]
        env = {"PATH": os.defpath, "PYTHONPATH": os.pathsep.join((str(REPO), site)), MARK_VAR: mark}
        proc = subprocess.Popen([python, "-m", "loadgen", "run", str(jobfile), f"--jsonl={jsonl}",
                                 ALL_FORMATS, f"--output={report}"], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=unprivileged)
        status, stderr = finish(LoadgenRun(proc, mark), timeout_s=120)
        assert status == 1
        records = read_jsonl(jsonl)
        failed = {e["loadgen.thread_number"] for e in events(records)
                  if e["event.action"] == "spawn_failed"}
        assert 100 < len(failed) < 200  # the limit let some of the storm through
        _, document, _ = split_report(report.read_text())
        assert [j["error"] for j in document["jobs"]].count(errno.EAGAIN) == len(failed)
        text = "cannot create a worker process: Resource temporarily unavailable"
        assert stderr.splitlines() == [f"loadgen: storm: {text}"] * len(failed)
        normal = report.read_text()
        assert normal.count(f"err=11 ({text})") == len(failed)
        terse, _, _ = split_report(normal)
        assert [t[4] for t in terse].count(str(errno.EAGAIN)) == len(failed)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


# loaded by every Python process of the run (PYTHONPATH); the processes forked from the
# fork helper (the workers) or the helper itself then hit a bug in the engine, as with a
# real one
ENGINE_BUG = """\
import os
import loadgen.engine.runner

_LOADED_IN = os.getpid()

def _broken_run(self, *args, **kwargs):
    if (os.getpid() == _LOADED_IN) == {in_helper}:
        raise ValueError("injected engine bug")

loadgen.engine.runner.JobRunner.run = _broken_run
"""


def _inject(tmp_path: Path, in_helper: bool) -> Path:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(ENGINE_BUG.format(in_helper=in_helper))
    return inject


def test_worker_exception_goes_to_the_event_record_not_the_terminal(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen(
        [str(job(tmp_path, TIMED.format(runtime=2, numjobs=2))), *args],
        extra_path=_inject(tmp_path, in_helper=False),
    )
    status, stderr = finish(run)
    assert status == 1
    raised = [e for e in events(read_jsonl(jsonl)) if e["event.action"] == "worker_exception"]
    assert len(raised) == 2
    assert all("ValueError: injected engine bug" in e["loadgen.outcome.traceback"] for e in raised)
    assert stderr.count("worker raised ValueError: injected engine bug") == 2  # one line each
    jobs = report_jobs(report)["timed"]
    assert [j["loadgen"]["outcome"] for j in jobs] == ["exception", "exception"]
    assert all(j["error"] == errno.EIO for j in jobs)


def test_fork_helper_bug_stops_the_run_cleanly(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    text = TIMED.format(runtime=2, numjobs=2) + "[later]\nstonewall\n"
    run = start_loadgen(
        [str(job(tmp_path, text)), *args], extra_path=_inject(tmp_path, in_helper=True)
    )
    status, stderr = finish(run)
    assert status == 1
    assert "the worker fork helper exited (ValueError: injected engine bug)" in stderr
    died = [e for e in events(read_jsonl(jsonl)) if e["event.action"] == "helper_died"]
    assert (
        len(died) == 1 and "ValueError: injected engine bug" in died[0]["loadgen.outcome.traceback"]
    )
    jobs = report_jobs(report)
    assert [j["error"] for j in jobs["timed"]] == [errno.ECHILD, errno.ECHILD]
    assert "later" not in jobs


def test_workers_volunteer_for_the_oom_killer_and_the_controller_does_not(tmp_path: Path) -> None:
    jsonl, _, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))), *args])
    workers = run.wait_for_workers(2)
    wait_for_lines(jsonl, 1, run)
    adj = {p.pid: int(Path(f"/proc/{p.pid}/oom_score_adj").read_text()) for p in workers}
    controller_adj = int(Path(f"/proc/{run.pid}/oom_score_adj").read_text())
    run.proc.terminate()
    assert finish(run)[0] == 3
    assert set(adj.values()) == {1000}
    expected = launch.CONTROLLER_OOM_SCORE_ADJ if _has_cap_sys_resource() else 0
    assert controller_adj == expected


def _has_cap_sys_resource() -> bool:
    """Lowering oom_score_adj needs CAP_SYS_RESOURCE (bit 24), which root may lack (sandboxes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


def test_sigterm_stops_workers_and_still_reports(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))), *args])
    run.wait_for_workers(2)
    wait_for_lines(jsonl, 2, run)
    run.proc.terminate()
    status, stderr = finish(run)
    assert status == 3
    assert stderr.splitlines() == ["loadgen: SIGTERM: stopping all workers"]
    records = read_jsonl(jsonl)
    assert records[-1]["event.dataset"] == "loadgen.run_end"
    jobs = report_jobs(report)["timed"]
    assert len(jobs) == 2 and all(j["write"]["total_ios"] > 0 for j in jobs)


def test_ctrl_c_to_the_process_group_is_quiet(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen(
        [str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))), *args], new_session=True
    )
    run.wait_for_workers(2)
    wait_for_lines(jsonl, 1, run)
    os.killpg(run.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches every process
    status, stderr = finish(run)
    assert status == 3 and "KeyboardInterrupt" not in stderr
    assert len(report_jobs(report)["timed"]) == 2
    read_jsonl(jsonl)


def test_second_sigint_exits_at_once_without_orphans(tmp_path: Path) -> None:
    jsonl, _, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=4))), *args])
    run.wait_for_workers(4)
    wait_for_lines(jsonl, 1, run)
    run.proc.send_signal(signal.SIGINT)
    run.proc.send_signal(signal.SIGINT)
    status, _ = finish(run)
    assert status == 3
    read_jsonl(jsonl)


def test_sighup_reopens_the_jsonl_file(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    rotated = tmp_path / "run.jsonl.1"
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=1))), *args])
    wait_for_lines(jsonl, 2, run)
    jsonl.rename(rotated)
    run.proc.send_signal(signal.SIGHUP)
    wait_for_lines(jsonl, 1, run)
    run.proc.terminate()
    assert finish(run)[0] == 3
    before, after = read_jsonl(rotated), read_jsonl(jsonl)
    assert (
        before[0]["event.dataset"] == "loadgen.run_start"
        and after[-1]["event.dataset"] == "loadgen.run_end"
    )
    assert (
        after[0]["event.dataset"] != "loadgen.run_start"
    )  # the stream goes on; no second run_start
    assert report.exists()


def test_failed_sighup_reopen_is_an_event_that_says_so(tmp_path: Path) -> None:
    """After rotation the path is a directory: the reopen fails, writing goes on in the
    old file, and the ``reopen`` event there says what happened (not "reopened")."""
    jsonl, report, args = outputs(tmp_path)
    rotated = tmp_path / "run.jsonl.1"
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=1))), *args])
    wait_for_lines(jsonl, 2, run)
    jsonl.rename(rotated)
    jsonl.mkdir()
    run.proc.send_signal(signal.SIGHUP)
    wait_for_lines(rotated, 1, run, record_type="event")
    run.proc.terminate()
    status, stderr = finish(run)
    assert status == 3
    problem = (f"--jsonl {jsonl}: cannot reopen (Is a directory); still writing the old file")
    assert stderr.splitlines() == [f"loadgen: {problem}", "loadgen: SIGTERM: stopping all workers"]
    records = read_jsonl(rotated)
    (reopen,) = [e for e in events(records) if e["event.action"] == "reopen"]
    assert (reopen["log.level"], reopen["loadgen.error"]) == ("warning", errno.EISDIR)
    assert reopen["message"] == f"SIGHUP: {problem}"
    assert records[-1]["event.dataset"] == "loadgen.run_end"
    assert list(jsonl.iterdir()) == []


def test_controller_sigkill_takes_the_workers_down(tmp_path: Path) -> None:
    jsonl, _, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=4))), *args])
    run.wait_for_workers(4)
    wait_for_lines(jsonl, 1, run)
    run.proc.kill()
    run.proc.wait()
    assert wait_gone(run) == []
    read_jsonl(jsonl)


def test_closed_stdout_ends_the_run_with_status_zero(tmp_path: Path) -> None:
    run = start_loadgen([str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))), "--jsonl=-"])
    assert run.proc.stdout is not None
    first = run.proc.stdout.readline()
    run.proc.stdout.close()  # `| head -1`
    assert orjson.loads(first)["event.dataset"] == "loadgen.run_start"
    status, _ = finish(run)
    assert status == 0


def test_full_disk_stops_the_run_and_says_what_was_written(
    tmp_path: Path, tiny_tmpfs: Path
) -> None:
    (tiny_tmpfs / "filler").write_bytes(b"\0" * (56 << 10))  # leave ~8 KiB
    jsonl = tiny_tmpfs / "run.jsonl"
    report = tmp_path / "report.json"
    run = start_loadgen(
        [
            str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))),
            f"--jsonl={jsonl}",
            "--output-format=json",
            f"--output={report}",
        ]
    )
    status, stderr = finish(run)
    assert status == 1
    records = read_jsonl(jsonl)
    assert "No space left on device" in stderr
    assert f"{len(records)} lines" in stderr
    assert report.exists()


@pytest.mark.parametrize("option", ["--jsonl", "--output"])
def test_unwritable_output_is_bad_input_and_nothing_starts(tmp_path: Path, option: str) -> None:
    target = tmp_path / "no-such-dir" / "out"
    run = start_loadgen(
        [str(job(tmp_path, TIMED.format(runtime=120, numjobs=2))), f"{option}={target}"]
    )
    status, stderr = finish(run, timeout_s=30)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "cannot write" in stderr
    assert run.seen == {}
