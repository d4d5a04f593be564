"""exitall/exit_what, wait_for and exec_prerun/exec_postrun carried out in real runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.controller import execute
from loadgen.plan import RunOptions
from loadgen.results import RunResult
from tests.jobfile.plans import load

from ..jobfile.conftest import FACTS

LONG_NS = 60 * 10**9


def _run(tmp_path: Path, text: str, *argv: str) -> RunResult:
    path = tmp_path / "j.fio"
    path.write_text("[global]\nioengine=page_fault\nbs=4k\n" + text)
    plan, _ = load([*argv, str(path)], facts=FACTS, environ={}, note=lambda m: None)
    return execute(plan, RunOptions(eta="never"))


def _by_name(result: RunResult) -> dict[str, list]:
    jobs: dict[str, list] = {}
    for job in result.jobs:
        jobs.setdefault(job.job.name, []).append(job)
    return jobs


EXITALL = """\
[short]
size=1m
rw=write
exitall
[long]
size=16m
rw=randread
time_based
runtime=60
[later]
stonewall
size=1m
rw=write
"""


@pytest.mark.parametrize("exit_what", ["group", "stonewall", "all"])
def test_exitall_stops_the_others_when_one_ends(tmp_path, exit_what):
    result = _run(tmp_path, EXITALL, f"--exit_what={exit_what}")
    jobs = _by_name(result)
    (short,), (long,), (later,) = jobs["short"], jobs["long"], jobs["later"]
    assert short.totals.dirs[1].ios == 256 and short.error == 0
    assert long.error == 0 and long.totals.runtime_ns < LONG_NS  # stopped, not run out
    if exit_what == "all":  # fio: every later job ends without I/O and without an error
        assert later.totals.dirs[1].ios == 0 and later.error == 0
    else:
        assert later.totals.dirs[1].ios == 256
    assert not result.interrupted


def test_without_exitall_the_long_job_runs_out(tmp_path):
    text = EXITALL.replace("exitall\n", "").replace("runtime=60", "runtime=1")
    (long,) = _by_name(_run(tmp_path, text))["long"]
    assert long.totals.runtime_ns >= 10**9


def test_exitall_on_error_stops_the_others_when_one_fails(tmp_path):
    text = ("[bad]\nsize=1m\ncgroup=no/such/parent/lg\nexitall_on_error\n"
            "[long]\nsize=16m\nrw=randread\ntime_based\nruntime=60\n")
    jobs = _by_name(_run(tmp_path, text))
    assert jobs["bad"][0].error != 0
    assert jobs["long"][0].totals.runtime_ns < LONG_NS


def test_wait_for_starts_the_job_after_its_waitee(tmp_path):
    text = ("[first]\nsize=8m\nrw=randread\ntime_based\nruntime=300ms\nnumjobs=2\n"
            "[second]\nwait_for=first\nsize=1m\nrw=write\n[third]\nsize=1m\nrw=write\n")
    result = _run(tmp_path, text)
    jobs = _by_name(result)
    assert [g.id for g in result.groups] == [0]  # one group: wait_for is no stonewall
    first_end = max(j.end_epoch_ms for j in jobs["first"])
    (second,), (third,) = jobs["second"], jobs["third"]
    assert second.totals.dirs[1].ios == 256 and third.totals.dirs[1].ios == 256
    assert second.start_epoch_ms >= first_end
    assert third.start_epoch_ms < first_end  # not waiting: starts with the group


def test_exec_prerun_and_postrun_write_their_output_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, "[x]\nsize=1m\nrw=write\nexec_prerun=echo before\n"
                            "exec_postrun=echo after\nnumjobs=2\n")
    assert all(j.totals.dirs[1].ios == 256 for j in result.jobs)
    assert (tmp_path / "x.prerun.txt").read_text() == "before\n"
    assert (tmp_path / "x.postrun.txt").read_text() == "after\n"


def test_a_failed_prerun_leaves_the_job_without_io_or_error_as_fio(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, "[x]\nsize=1m\nrw=write\nexec_prerun=exit 3\nexec_postrun=echo after\n"
                            "[y]\nsize=1m\nrw=write\n")
    jobs = _by_name(result)
    assert (jobs["x"][0].totals.dirs[1].ios, jobs["x"][0].error) == (0, 0)
    assert jobs["y"][0].totals.dirs[1].ios == 256
    assert not (tmp_path / "x.postrun.txt").exists()


def _vmlck_kib(status: str) -> int:
    line = next(line for line in status.splitlines() if line.startswith("VmLck:"))
    return int(line.split()[1])


def test_lockmem_is_locked_while_the_job_runs_and_given_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _vmlck_kib(Path("/proc/self/status").read_text())
    # the probe's prerun runs once the group's memory is pinned: its shell's parent is us
    result = _run(tmp_path, "[pin]\nsize=1m\nrw=write\nlockmem=64m\n"
                            "[probe]\nsize=1m\nrw=write\nexec_prerun=cat /proc/$PPID/status\n")
    assert all(j.error == 0 and j.totals.dirs[1].ios == 256 for j in result.jobs)
    during = _vmlck_kib((tmp_path / "probe.prerun.txt").read_text())
    assert during - before >= 64 * 1024
    assert _vmlck_kib(Path("/proc/self/status").read_text()) == before


def test_lockmem_is_clamped_as_fio():
    from loadgen.controller.jobcontrol import LOCKMEM_RESERVE, lockmem_size
    from loadgen.plan import Job

    job = Job(name="x", thread_number=1, subjob=0, numjobs=1, group_id=0, lockmem=8 << 30)
    assert lockmem_size(job, 4 << 30) == (4 << 30) - LOCKMEM_RESERVE
    assert lockmem_size(job, 64 << 30) == 8 << 30


def test_a_waiter_starts_even_when_its_waitee_ran_no_io(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(tmp_path, "[first]\nsize=1m\nrw=write\nexec_prerun=false\n"
                            "[second]\nwait_for=first\nsize=1m\nrw=write\n")
    jobs = _by_name(result)
    assert jobs["first"][0].totals.dirs[1].ios == 0
    assert jobs["second"][0].totals.dirs[1].ios == 256


@pytest.mark.parametrize(("extra", "deferred"), [
    ("", True),
    ("exitall\n", False),
    ("exitall_on_error=1\n", False),
    ("exec_postrun=true\n", False),
    ("oom_policy=respawn\n", False),
])
def test_ends_are_held_back_only_where_no_one_acts_on_them(extra: str, deferred: bool,
                                                            tmp_path: Path) -> None:
    from loadgen.controller import jobcontrol

    path = tmp_path / "j.fio"
    path.write_text(f"[storm]\nioengine=page_fault\nsize=1m\nnumjobs=4\n{extra}")
    plan, _ = load([str(path)], facts=FACTS, environ={}, note=lambda m: None)
    got = jobcontrol.exit_deferral_s(plan, plan.groups[0])
    assert got == (jobcontrol.DEFER_EXITS_S if deferred else 0.0)


def test_a_job_waiting_for_another_means_no_end_is_held_back(tmp_path: Path) -> None:
    from loadgen.controller import jobcontrol

    path = tmp_path / "j.fio"
    path.write_text("[a]\nioengine=page_fault\nsize=1m\n[b]\nioengine=page_fault\nsize=1m\n"
                    "wait_for=a\n")
    plan, _ = load([str(path)], facts=FACTS, environ={}, note=lambda m: None)
    assert jobcontrol.exit_deferral_s(plan, plan.groups[0]) == 0.0
