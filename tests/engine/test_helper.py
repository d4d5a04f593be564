from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen import protocol
from loadgen.engine.helper import CO_FORK_MIN, HELPER_NAME
from loadgen.launch import HelperProcess
from loadgen.plan import Job, RwMode


def _replies_until_spawned(helper: HelperProcess) -> list[protocol.HelperReply]:
    got: list[protocol.HelperReply] = []
    buf = b""
    while not any(isinstance(m, protocol.Spawned) for m in got):
        data = helper.replies.recv(1 << 16)
        assert data, "the helper exited"
        messages, buf = protocol.split_replies(buf + data)
        got += messages
    return got


def test_the_serving_helper_is_named_and_maps_the_kernel_but_not_scipy() -> None:
    helper = HelperProcess()
    try:
        gate_r, gate_w = os.pipe()
        protocol.send_msg(helper.commands, protocol.SpawnRequest(0, (), 10**9), (gate_r,))
        os.close(gate_r)
        os.close(gate_w)
        replies = _replies_until_spawned(helper)  # it serves: the kernel is loaded
        protocol.check_hello(replies[0])
        assert [m.pids for m in replies if isinstance(m, protocol.Spawned)] == [()]
        pid = helper.process.pid
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == HELPER_NAME
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
        assert "llvmlite" in maps  # the compiled kernel's runtime, inherited by each worker
        assert "/scipy/" not in maps  # numba's version check only: kept out of every fork
    finally:
        helper.discard()


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("PPid:")).split()[1])


def _group(jobs: list[tuple[int, int]]) -> tuple[protocol.Spawned, dict[int, int], int]:
    """A group of randrw jobs of (size, block size) ``jobs`` through a fresh helper, its
    workers held at the gate until each one's parent is read: the reply, pid -> parent
    of each worker that then exited with status 0, and the helper's pid."""
    units = tuple((Job(name="co", thread_number=i + 1, subjob=i, numjobs=len(jobs),
                       group_id=0, size=size, bs_min=(bs, bs), bs_max=(bs, bs),
                       rw=RwMode.RANDRW),) for i, (size, bs) in enumerate(jobs))
    helper = HelperProcess()
    try:
        gate_r, gate_w = os.pipe()
        protocol.send_msg(helper.commands, protocol.SpawnRequest(0, units, 10**9), (gate_r,))
        os.close(gate_r)
        (spawned,) = (m for m in _replies_until_spawned(helper)
                      if isinstance(m, protocol.Spawned))
        parents = {pid: _ppid(pid) for pid in spawned.pids if pid}
        os.close(gate_w)  # the run starts
        exits: dict[int, int] = {}
        buf = b""
        while len(exits) < len(parents):
            data = helper.replies.recv(1 << 16)
            assert data, "the helper exited"
            messages, buf = protocol.split_replies(buf + data)
            exits.update((m.pid, m.status) for m in messages if isinstance(m, protocol.ChildExit))
        return spawned, {pid: parents[pid] for pid in exits if exits[pid] == 0}, helper.process.pid
    finally:
        helper.discard()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a co-forker needs a second CPU")
def test_a_large_lean_group_is_half_forked_by_a_co_forker_as_the_helpers_children() -> None:
    """From CO_FORK_MIN lean workers on, a fork of the helper prepares and forks the
    second half; every worker is still the helper's child and runs to its end."""
    for n, co_forked in ((CO_FORK_MIN - 1, 0), (CO_FORK_MIN, CO_FORK_MIN - CO_FORK_MIN // 2)):
        spawned, parents, helper_pid = _group([(64 << 10, 4096)] * n)
        assert spawned.co_forked == co_forked and spawned.fork_errno == 0
        assert len(set(spawned.pids)) == n and 0 not in spawned.pids
        assert parents == dict.fromkeys(spawned.pids, helper_pid)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a co-forker needs a second CPU")
def test_a_unit_the_co_forker_cannot_prepare_is_the_helpers_python_worker() -> None:
    """The last job's 64 TiB region (in 1 GiB blocks: few enough I/Os to be lean) cannot
    be mapped, more than the machine holds: the co-forker leaves it, the helper forks it
    as a Python worker, which reports the failure as the job's and exits non-zero; every
    other worker runs as before."""
    jobs = [(64 << 10, 4096)] * (CO_FORK_MIN - 1) + [(64 << 40, 1 << 30)]
    spawned, parents, helper_pid = _group(jobs)
    assert spawned.co_forked == CO_FORK_MIN // 2 - 1
    assert 0 not in spawned.pids and len(set(spawned.pids)) == CO_FORK_MIN
    assert set(parents) == set(spawned.pids[:-1])  # the last one exited with its error
    assert set(parents.values()) == {helper_pid}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a co-forker needs a second CPU")
def test_each_stats_pipe_is_its_workers_in_fork_order() -> None:
    """Lean workers' pipes are made once the group is forked, a Python worker's before
    its fork: still, the n-th read end is the n-th forked worker's, whoever forked it
    (here: the helper, the co-forker, and the helper's Python worker last)."""
    jobs = [(64 << 10, 4096)] * (CO_FORK_MIN - 1) + [(64 << 40, 1 << 30)]
    units = tuple((Job(name="p", thread_number=i + 1, subjob=i, numjobs=len(jobs),
                       group_id=0, size=size, bs_min=(bs, bs), bs_max=(bs, bs),
                       rw=RwMode.RANDRW),) for i, (size, bs) in enumerate(jobs))
    helper = HelperProcess()
    pipes: list[int] = []
    try:
        gate_r, gate_w = os.pipe()
        protocol.send_msg(helper.commands, protocol.SpawnRequest(0, units, 10**9), (gate_r,))
        os.close(gate_r)
        got: list[protocol.HelperReply] = []
        buf = b""
        while not any(isinstance(m, protocol.Spawned) for m in got):
            data, fds, _flags, _addr = socket.recv_fds(helper.replies, 1 << 16,
                                                       protocol.FDS_PER_MESSAGE)
            assert data, "the helper exited"
            pipes += fds
            messages, buf = protocol.split_replies(buf + data)
            got += messages
        (spawned,) = (m for m in got if isinstance(m, protocol.Spawned))
        assert spawned.co_forked > 0 and 0 not in spawned.pids
        assert len(pipes) == len(units)
        for index, fd in enumerate(pipes[:-1]):  # each lean one's first message: its READY
            (thread_number, kind, payload), = itertools.islice(
                protocol.Reassembler().feed(os.read(fd, 1 << 16)), 1)
            assert (thread_number, kind) == (index + 1, protocol.READY)
            assert orjson.loads(payload)["pid"] == spawned.pids[index]
        # the Python worker's: the error of its region, which cannot be mapped
        (thread_number, kind, _payload), = itertools.islice(
            protocol.Reassembler().feed(os.read(pipes[-1], 1 << 16)), 1)
        assert (thread_number, kind) == (len(units), protocol.ERROR)
        os.close(gate_w)
    finally:
        for fd in pipes:
            os.close(fd)
        helper.discard()


def _jobs(cwd: str, *args: str, lean: str = "") -> list[dict[str, Any]]:
    """The JSON report's jobs of ``loadgen run ARGS`` run in ``cwd`` (``lean``: the
    LOADGEN_LEAN setting, "" to leave it)."""
    env = {**os.environ, "LOADGEN_LEAN": lean} if lean else None
    out = subprocess.run([sys.executable, "-m", "loadgen", "run", *args, "--output-format=json"],
                         capture_output=True, text=True, env=env, check=True, cwd=cwd,
                         timeout=120).stdout
    jobs: list[dict[str, Any]] = json.loads(out[out.index("{"):])["jobs"]
    return jobs


def _storm(tmp: str, lean: str, numjobs: int, size_kib: int) -> list[dict[str, Any]]:
    job = Path(tmp) / "storm.fio"
    job.write_text("[storm]\nioengine=page_fault\nrw=randrw\nbs=4k\n"
                   f"size={size_kib}k\nnumjobs={numjobs}\n")
    return _jobs(tmp, str(job), lean=lean)


@pytest.mark.parametrize(("numjobs", "size_kib"), [(8, 1024), (CO_FORK_MIN, 64)])
def test_a_storm_runs_as_lean_workers_with_the_python_workers_counts(
        tmp_path: object, numjobs: int, size_kib: int) -> None:
    """Also with a co-forker (CO_FORK_MIN workers): the relays it leaves the helper
    report each job's own counts."""
    lean = _storm(str(tmp_path), "1", numjobs, size_kib)
    python = _storm(str(tmp_path), "0", numjobs, size_kib)

    def ios(jobs: list[dict[str, Any]]) -> list[tuple[int, int]]:
        return [(j["read"]["total_ios"], j["write"]["total_ios"]) for j in jobs]

    pages = size_kib // 4
    assert ios(lean) == ios(python) and sum(map(sum, ios(lean))) == numjobs * pages
    assert all(pages <= j["minf"] <= pages + 16 for j in lean), [j["minf"] for j in lean]


def _fresh_write_faults(tmp: str, *extra: str) -> list[int]:
    """Each job's minor faults beyond its pages: a 32 MiB write (two batches) in two
    Python workers (LOADGEN_LEAN=0), forked by the helper as every worker is."""
    jobs = _jobs(tmp, "--name=w", "--rw=write", "--bs=4k", "--size=32m", "--numjobs=2",
                 *extra, lean="0")
    return [int(j["minf"]) - 8192 for j in jobs]


def test_python_workers_fault_only_their_pages(tmp_path: Path) -> None:
    """What a forked Python worker first touches of its own code and heap (the loop, the
    kernel's dispatch, the next batch's arrays) faults before its window, not in it."""
    got = _fresh_write_faults(str(tmp_path))
    assert all(0 <= extra <= 16 for extra in got), got


def test_python_worker_threads_fault_only_their_pages(tmp_path: Path) -> None:
    got = _fresh_write_faults(str(tmp_path), "--thread")
    assert all(0 <= extra <= 16 for extra in got), got


def test_each_report_in_a_python_workers_window_costs_it_few_faults(tmp_path: Path) -> None:
    """A 1.2 s time-based write reports once a second, then every 100 ms (11 deltas in
    its window).  A delta is made and encoded from the worker's own memory (its thread's
    malloc arena, touched by dry deltas of every size before the window), not from pages
    the helper left behind, which cost 4-8 faults a report."""

    def extra(*args: str) -> int:
        out = subprocess.run(
            [sys.executable, "-m", "loadgen", "run", "--name=w", "--rw=write", "--bs=4k",
             "--size=16m", "--time_based", "--runtime=1200ms", "--output-format=json", *args],
            capture_output=True, text=True, env={**os.environ, "LOADGEN_LEAN": "0"},
            check=True, cwd=tmp_path, timeout=120).stdout
        decoder, at, report = json.JSONDecoder(), out.index("{"), {}
        while at < len(out):  # the cumulative reports, then the final one
            report, at = decoder.raw_decode(out, at)
            at = len(out) if "{" not in out[at:] else out.index("{", at)
        (job,) = report["jobs"]
        return int(job["minf"]) - 4096

    once, every_100ms = extra(), extra("--status-interval=100ms")
    assert 0 <= once <= 16, once
    assert (every_100ms - once) / 10 <= 3, (once, every_100ms)


def test_a_cache_hot_worker_faults_as_fios_does(tmp_path: Path) -> None:
    """page_fault_cache_hot (64 pages, randrw, loops=100): its loop changes come early in
    its window, and their code's first touches must not count (fio takes 72 faults)."""
    profile = Path(__file__).parents[2] / "profiles" / "page_fault.fio"
    (job,) = _jobs(str(tmp_path), str(profile), "--section=page_fault_cache_hot")
    assert 64 <= job["minf"] <= 64 + 16, job["minf"]


def _state(pid: int) -> str:
    """A child's state letter (Z once it exited, before its reap), or "" once reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # (gone between the open and the read)
        return ""


@contextlib.contextmanager
def _short_and_long(defer_exits_s: float) -> Iterator[tuple[HelperProcess, int, int]]:
    """A 4 KiB and a 256 MiB lean worker forked and released: (the helper, the short
    one's pid, the long one's); the helper is discarded after."""
    from .conftest import make_job

    short = make_job(rw="write", size=4096, thread_number=1)
    long = make_job(rw="write", size=256 << 20, thread_number=2)
    helper = HelperProcess()
    try:
        gate_r, gate_w = os.pipe()
        request = protocol.SpawnRequest(0, ((short,), (long,)), 10**12,
                                        defer_exits_s=defer_exits_s)
        protocol.send_msg(helper.commands, request, (gate_r,))
        os.close(gate_r)
        (spawned,) = [m for m in _replies_until_spawned(helper)
                      if isinstance(m, protocol.Spawned)]
        os.close(gate_w)
        short_pid, long_pid = spawned.pids
        yield helper, short_pid, long_pid
    finally:
        helper.discard()


def _minor_faults(pid: int) -> int:
    """A child's minor faults so far (a zombie keeps its count), or -1 once reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[7])
    except (FileNotFoundError, ProcessLookupError):
        return -1


def _first_exit_vs_the_long_worker(defer_exits_s: float) -> int:
    """The long worker's minor faults at the moment the short one's exit notice arrives
    (-1: it was reaped by then)."""
    with _short_and_long(defer_exits_s) as (helper, short_pid, long_pid):
        buf = b""
        while True:
            data = helper.replies.recv(1 << 16)
            assert data, "the helper exited"
            messages, buf = protocol.split_replies(buf + data)
            for m in messages:
                if isinstance(m, protocol.ChildExit) and m.pid == short_pid:
                    return _minor_faults(long_pid)


def test_a_lean_workers_end_waits_for_its_peers_window_only_when_the_run_allows_it() -> None:
    """SpawnRequest.defer_exits_s: the short worker's end is held back until its peer has
    ended its window too, having faulted its whole 256 MiB region (no bookkeeping in the
    peer's window); without it, it comes while the peer still faults."""
    pages = (256 << 20) // 4096
    deferred = _first_exit_vs_the_long_worker(30.0)
    assert deferred == -1 or deferred >= pages, deferred
    assert 0 <= _first_exit_vs_the_long_worker(0.0) < pages


def _resident(pid: int) -> int:
    """A process's resident pages (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def _short_states_while_the_long_worker_runs(defer_exits_s: float) -> set[str]:
    """The short worker's states, sampled whenever the long one's resident size has grown
    since the last look (so it is still faulting in its window, not exiting)."""
    seen: set[str] = set()
    with _short_and_long(defer_exits_s) as (_, short_pid, long_pid):
        deadline = time.monotonic() + 60
        last = 0
        while time.monotonic() < deadline and _state(long_pid) not in ("Z", ""):
            short_state, now = _state(short_pid), _resident(long_pid)
            if now > last:
                seen.add(short_state)
            last = max(last, now)
    return seen


def test_lean_workers_with_deferred_ends_exit_together() -> None:
    """With its end deferred a lean worker that is done waits for its peers before it
    exits (its teardown stays out of their windows); without, it exits at once."""
    held = _short_states_while_the_long_worker_runs(30.0)
    assert held and not held & {"Z", ""}, held
    assert _short_states_while_the_long_worker_runs(0.0) & {"Z", ""}
