"""fio's CPU placement of a job (cpus_allowed, cpus_allowed_policy)."""

from __future__ import annotations

import os

from loadgen.engine.hygiene import bare_fork, cpus_for, keep_heap, set_process_name
from tests.controller.plans import make_plan


def test_no_cpus_allowed_means_no_restriction() -> None:
    assert cpus_for(make_plan([{}]).jobs[0]) is None


def test_shared_policy_gives_every_job_the_whole_set() -> None:
    jobs = make_plan([{"numjobs": 3, "cpus_allowed": [1, 3]}]).jobs
    assert [cpus_for(j) for j in jobs] == [{1, 3}] * 3


def test_split_policy_takes_the_thread_numbers_cpu_round_robin() -> None:
    # a first group shifts thread numbers: split counts over the whole run, as fio
    jobs = make_plan(
        [{"numjobs": 1}, {"numjobs": 4, "cpus_allowed": [5, 2, 7], "cpus_allowed_policy": "split"}]
    ).jobs
    assert [cpus_for(j) for j in jobs[1:]] == [
        {5},
        {7},
        {2},
        {5},
    ]  # thread 2..5 -> index 1,2,0,1 of [2,5,7]


def test_bare_fork_child_runs_python_and_its_status_reaches_the_parent() -> None:
    r, w = os.pipe()
    pid = bare_fork()
    if pid == 0:  # the child: Python works (allocation, I/O), then os._exit
        try:
            os.write(w, str(sum(range(1000))).encode())
        finally:
            os._exit(7)
    os.close(w)
    got = os.read(r, 64)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert got == b"499500"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7


def test_keep_heap_is_done_once() -> None:
    assert keep_heap() is keep_heap()


def test_set_process_name_names_the_process_by_its_role() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            set_process_name("loadgen-worker-and-more")
            with open("/proc/self/comm", "rb") as f:
                os.write(w, f.read())
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == b"loadgen-worker-\n"  # the kernel keeps 15 bytes
