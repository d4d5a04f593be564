"""The worker side's pure parts: fio's CPU placement and the helper's message framing."""

from __future__ import annotations

import socket

from loadgen.engine.worker import cpus_for, recv_msg, send_msg

from .plans import make_plan


def test_no_cpus_allowed_means_no_restriction() -> None:
    assert cpus_for(make_plan([dict()]).jobs[0]) is None


def test_shared_policy_gives_every_job_the_whole_set() -> None:
    jobs = make_plan([dict(numjobs=3, cpus_allowed=[1, 3])]).jobs
    assert [cpus_for(j) for j in jobs] == [{1, 3}] * 3


def test_split_policy_takes_the_thread_numbers_cpu_round_robin() -> None:
    # a first group shifts thread numbers: split counts over the whole run, as fio
    jobs = make_plan(
        [dict(numjobs=1), dict(numjobs=4, cpus_allowed=[5, 2, 7], cpus_allowed_policy="split")]
    ).jobs
    # thread 2..5 -> index 1,2,0,1 of [2,5,7]
    assert [cpus_for(j) for j in jobs[1:]] == [{5}, {7}, {2}, {5}]


def test_messages_carry_fds_across_the_helper_socket() -> None:
    a, b = socket.socketpair()
    r, w = socket.socketpair()
    try:
        send_msg(a, {"op": "spawn", "units": [[1] * 1000]}, (r.fileno(),))
        msg, fds = recv_msg(b)
        assert msg == {"op": "spawn", "units": [[1] * 1000]} and len(fds) == 1
        received = socket.socket(fileno=fds[0])
        w.sendall(b"x")
        assert received.recv(1) == b"x"
        received.close()
    finally:
        for s in (a, b, r, w):
            s.close()
