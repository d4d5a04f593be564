"""Worker outcomes from real exit statuses: exits, crashes, kills, real OOM kills."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.controller import cgroup, outcome
from loadgen.plan import Job, Plan
from loadgen.results import GroupResult, JobResult, RunResult
from loadgen.status import ExitStatus, OutcomeKind
from tests.reliability.faults import run_hog


def _returncode(code: str) -> tuple[int, int]:
    """Run ``code`` in a child; its pid and its returncode (``-N`` for signal N)."""
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    return child.pid, child.wait(timeout=30)


def _blind_watch(tmp_path: Path) -> outcome.OomWatch:
    """An OomWatch with no kernel records to read: nothing can confirm an OOM kill."""
    return outcome.OomWatch(groups=[], vmstat_path=tmp_path / "no-vmstat")


def test_clean_exit_after_final_interval_is_completed() -> None:
    pid, rc = _returncode("pass")
    result = outcome.classify(pid, rc, finished=True)
    assert (result.kind, result.errno, result.is_death) == ("completed", 0, False)


def test_clean_exit_without_final_interval_is_an_early_exit() -> None:
    pid, rc = _returncode("pass")
    result = outcome.classify(pid, rc, finished=False)
    assert (result.kind, result.errno, result.is_death) == ("exited", errno.ECHILD, True)


def test_nonzero_exit_is_reported_with_its_status() -> None:
    pid, rc = _returncode("raise SystemExit(7)")
    result = outcome.classify(pid, rc, finished=False)
    assert (result.kind, result.exit_code) == ("exited", 7)
    assert "7" in result.text


def test_real_segfault_is_a_crash() -> None:
    pid, rc = _returncode("import ctypes; ctypes.string_at(0)")
    result = outcome.classify(pid, rc, finished=False)
    assert (result.kind, result.signal, result.errno) == ("crashed", signal.SIGSEGV, errno.EFAULT)
    assert "SIGSEGV" in result.text


def test_sigkill_without_kernel_record_is_probably_oom(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    child.kill()
    result = outcome.classify(child.pid, child.wait(), finished=False, oom=_blind_watch(tmp_path))
    assert (result.kind, result.errno, result.oom_evidence) == ("probably_oom", errno.ENOMEM, "")
    assert result.is_oom and "probably OOM" in result.text


def test_other_signal_is_a_kill() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    child.send_signal(signal.SIGUSR1)
    result = outcome.classify(child.pid, child.wait(), finished=False)
    assert (result.kind, result.signal) == ("killed", signal.SIGUSR1)


def test_signal_sent_by_loadgen_is_a_stop() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    child.terminate()
    result = outcome.classify(child.pid, child.wait(), finished=False, stop_requested=True)
    assert (result.kind, result.is_death) == ("stopped", False)


def test_graceful_stop_after_final_interval_is_a_stop_not_completion() -> None:
    pid, rc = _returncode("pass")
    assert outcome.classify(pid, rc, finished=True, stop_requested=True).kind == "stopped"


def test_worker_exception_keeps_traceback() -> None:
    trace = 'Traceback (most recent call last):\n  File "x", line 1\nValueError: bad region\n'
    pid, rc = _returncode("raise SystemExit(1)")
    result = outcome.classify(pid, rc, finished=False, traceback=trace)
    assert result.kind == "exception" and result.traceback == trace
    assert "ValueError: bad region" in result.text


def test_job_error_is_a_failure_with_its_errno() -> None:
    pid, rc = _returncode("pass")
    result = outcome.classify(pid, rc, finished=True, job_error=(errno.ENOMEM, "mmap failed"))
    assert (result.kind, result.errno, result.text) == ("failed", errno.ENOMEM, "mmap failed")


def test_real_oom_kill_is_confirmed(memory_group: cgroup.MemoryCgroup) -> None:
    watch = outcome.OomWatch(groups=[memory_group])
    watch.open_kmsg()
    try:
        hog = run_hog(memory_group)
        result = outcome.classify(hog.pid, hog.wait(timeout=60), finished=False, oom=watch)
    finally:
        watch.close()
    assert (result.kind, result.errno) == ("oom_killed", errno.ENOMEM)
    assert result.oom_evidence in ("kmsg", "memcg")


def test_one_oom_kill_confirms_one_sigkill_only(memory_group: cgroup.MemoryCgroup,
                                                tmp_path: Path) -> None:
    watch = outcome.OomWatch(groups=[memory_group], vmstat_path=tmp_path / "no-vmstat")
    hog = run_hog(memory_group)
    first = outcome.classify(hog.pid, hog.wait(timeout=60), finished=False, oom=watch)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    bystander.kill()
    second = outcome.classify(bystander.pid, bystander.wait(), finished=False, oom=watch)
    assert (first.kind, first.oom_evidence) == ("oom_killed", "memcg")
    assert (second.kind, second.errno, second.is_oom) == ("killed", errno.EINTR, False)
    assert second.text == ("killed by SIGKILL, not by the OOM killer (its memory cgroup's "
                           "oom_kill count did not rise (/dev/kmsg: not readable))")


def test_sigkill_with_a_complete_kernel_log_naming_another_pid_is_no_oom_kill(
        memory_group: cgroup.MemoryCgroup) -> None:
    """An OOM kill in the same cgroup raised the counts, and /dev/kmsg names its victim:
    a plain `kill -9` of another process is "killed by SIGKILL", whichever is reaped first."""
    watch = outcome.OomWatch(groups=[memory_group])
    watch.open_kmsg()
    if not watch.kmsg_complete:
        watch.close()
        pytest.skip("/dev/kmsg is not readable here")
    try:
        hog = run_hog(memory_group)
        hog_status = hog.wait(timeout=60)
        bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        bystander.kill()
        killed = outcome.classify(bystander.pid, bystander.wait(), finished=False, oom=watch)
        oom = outcome.classify(hog.pid, hog_status, finished=False, oom=watch)
    finally:
        watch.close()
    assert (oom.kind, oom.oom_evidence) == ("oom_killed", "kmsg")
    assert (killed.kind, killed.errno, killed.signal) == ("killed", errno.EINTR, signal.SIGKILL)
    assert killed.text == ("killed by SIGKILL, not by the OOM killer "
                           "(the kernel log (/dev/kmsg) has no OOM kill of it)")


@pytest.mark.parametrize(
    ("policy", "restarts", "action"),
    [("report", 0, "continue"), ("respawn", 0, "respawn"),
     ("respawn", outcome.MAX_RESPAWNS, "continue"), ("abort", 0, "abort")],
)
def test_oom_policy_decides_the_next_step(policy: str, restarts: int, action: str) -> None:
    oom = outcome.Outcome(OutcomeKind.OOM_KILLED, 1, errno.ENOMEM, signal=9, oom_evidence="memcg")
    assert outcome.next_action(oom, policy, restarts) == action


def test_non_oom_deaths_never_respawn() -> None:
    crash = outcome.Outcome(OutcomeKind.CRASHED, 1, errno.EFAULT, signal=11)
    assert outcome.next_action(crash, "respawn", 0) == "continue"


def _o(kind: str) -> outcome.Outcome:
    return outcome.Outcome(OutcomeKind(kind), 1)


@pytest.mark.parametrize(
    ("kinds", "interrupted", "output_failed", "status"),
    [
        (["completed", "completed"], False, False, ExitStatus.OK),
        (["completed", "crashed"], False, False, ExitStatus.FAILED),
        (["completed", "failed"], False, False, ExitStatus.FAILED),
        (["completed", "oom_killed"], False, False, ExitStatus.OOM),
        (["probably_oom", "stopped"], False, False, ExitStatus.OOM),
        (["oom_killed", "exception"], False, False, ExitStatus.FAILED),
        (["stopped", "completed"], True, False, ExitStatus.SIGNALLED),
        (["completed"], False, True, ExitStatus.FAILED),
    ],
)
def test_exit_status(kinds: list[str], interrupted: bool, output_failed: bool, status: int) -> None:
    outcomes = [_o(k) for k in kinds]
    assert outcome.exit_status(outcomes, interrupted=interrupted,
                               output_failed=output_failed) == status


def test_outcome_dict_leaves_out_empty_fields() -> None:
    record = outcome.Outcome(OutcomeKind.CRASHED, 42, errno.EFAULT, "crashed: killed by SIGSEGV",
                             signal=11).to_dict()
    assert record == {"kind": "crashed", "pid": 42, "errno": errno.EFAULT,
                      "text": "crashed: killed by SIGSEGV", "signal": 11}


def _run_result(*jobs: tuple[str | None, int], interrupted: bool = False) -> RunResult:
    """A RunResult whose jobs have the given (loadgen.outcome, error)."""
    results = []
    for n, (kind, error) in enumerate(jobs, start=1):
        job = Job(name=f"j{n}", thread_number=n, subjob=0, numjobs=1, group_id=0)
        results.append(JobResult(job=job, pid=100 + n, error=error,
                                 outcome=OutcomeKind(kind) if kind else None))
    return RunResult(plan=Plan(groups=()), groups=[GroupResult(id=0, jobs=results)],
                     interrupted=interrupted)


@pytest.mark.parametrize(("jobs", "interrupted", "output_failed", "status"), [
    ([(None, 0), (None, 0)], False, False, ExitStatus.OK),
    ([(None, 0), (None, errno.EINVAL)], False, False, ExitStatus.FAILED),  # job error, no outcome
    ([(None, 0), ("oom_killed", errno.ENOMEM)], False, False, ExitStatus.OOM),
    ([("stopped", 0), ("stopped", 0)], True, False, ExitStatus.SIGNALLED),
    ([("stopped", 0)], False, False, ExitStatus.OK),  # stopped because stdout's reader left
    ([(None, 0)], False, True, ExitStatus.FAILED),
])
def test_run_exit_status_reads_each_jobs_outcome(
    jobs: list[tuple[str | None, int]], interrupted: bool, output_failed: bool, status: int
) -> None:
    result = _run_result(*jobs, interrupted=interrupted)
    assert outcome.run_exit_status(result, output_failed=output_failed) == status


def test_replacement_of_a_timed_job_runs_what_is_left() -> None:
    job = Job(name="t", thread_number=1, subjob=0, numjobs=1, group_id=0, runtime_ns=10_000,
              ramp_time_ns=1_000, startdelay_ns=(5, 9), time_based=True)
    replacement = outcome.replacement_job(job, elapsed_ns=4_000)
    assert replacement is not None
    assert (replacement.runtime_ns, replacement.ramp_time_ns, replacement.startdelay_ns) == (
        7_000,
        0,
        (0, 0),
    )
    assert outcome.replacement_job(job, elapsed_ns=11_000) is None


def test_replacement_of_a_sized_job_starts_over() -> None:
    job = Job(name="s", thread_number=1, subjob=0, numjobs=1, group_id=0, size=1 << 30,
              startdelay_ns=(5, 5))
    assert outcome.replacement_job(job, elapsed_ns=10**12) == Job(
        name="s", thread_number=1, subjob=0, numjobs=1, group_id=0, size=1 << 30)
