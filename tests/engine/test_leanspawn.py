"""Lean workers (engine.lean, engine.leanspawn): what the child does and what the helper
sends for it, read back from the worker's stats pipe as the controller reads it."""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from loadgen import protocol
from loadgen.engine import forkmem, lean, leanspawn
from loadgen.engine.faults import usage_of
from loadgen.engine.region import Region
from loadgen.engine.runner import Calibration
from loadgen.plan import Job, RwMode
from loadgen.stats.jobstats import IntervalStats

from .conftest import make_job, run_job

pytestmark = pytest.mark.skipif(not lean.SUPPORTED, reason="no system call table here")


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    return Calibration.measure()


@dataclass
class Relayed:
    kinds: list[int] = field(default_factory=list)
    deltas: list[IntervalStats] = field(default_factory=list)
    status: int = 0

    @property
    def total(self) -> IntervalStats:
        out = IntervalStats()
        for d in self.deltas:
            out.merge(d)
        return out


def _messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    for _, kind, payload in protocol.Reassembler().feed(data):
        yield kind, payload


def run_lean(job: Job, cal: Calibration, interval_ns: int = 10**12,
             mode: str = leanspawn.SHED, before_release: str = "", pipe_bytes: int = 0,
             kill_after_s: float = 0.0) -> Relayed:
    """Prepare, fork and release one lean worker as the helper does; pump its relay until
    it exits; everything its pipe carried.  ``kill_after_s``: SIGKILL it that long after
    the release."""
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    data_r, data_w = os.pipe2(os.O_CLOEXEC)
    if pipe_bytes:  # a pipe as small as an unprivileged user's past the pipe quota
        fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, pipe_bytes)
    worker = leanspawn.LeanWorker(job, cal, interval_ns, 0, gate_r, data_w,
                                  os.getpriority(os.PRIO_PROCESS, 0))
    marked = leanspawn.shed_checked(cal, mode, worker.spans())
    try:
        pid = worker.fork()
    finally:
        forkmem.restore(marked)
        os.close(gate_r)
    if before_release:
        os.kill(pid, getattr(signal, before_release))
    os.close(gate_w)
    out = Relayed()
    if kill_after_s:
        time.sleep(kill_after_s)
        os.kill(pid, signal.SIGKILL)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        worker.pump()
        time.sleep(0.0005)
    worker.finish(status, usage_of(usage))
    out.status = status
    data = b""
    while True:  # EOF: the relay wrote everything and closed the pipe
        chunk = os.read(data_r, 1 << 16)
        if not chunk:
            break
        data += chunk
        worker.drain()
    os.close(data_r)
    for kind, payload in _messages(data):
        out.kinds.append(kind)
        if kind == protocol.INTERVAL:
            out.deltas.append(protocol.decode_interval(payload))
    return out


def storm_job(**kw: object) -> Job:
    base: dict[str, object] = {"size": 4 << 20, "rw": RwMode.RANDRW}
    base.update(kw)
    return make_job(**base)


def test_a_lean_worker_does_the_python_workers_ios_with_its_regions_faults(
        calibration: Calibration) -> None:
    job = storm_job()
    got = run_lean(job, calibration)
    assert os.WIFEXITED(got.status) and os.WEXITSTATUS(got.status) == 0
    assert got.kinds == [protocol.READY, protocol.INTERVAL, protocol.DONE]
    (final,) = got.deltas
    assert final.final and final.first_op_ns > 0 and final.overhead_ns > 0
    python = run_job(job)
    assert [d.ios for d in final.dirs] == list(python.ios)
    assert [d.bytes for d in final.dirs] == list(python.bytes)
    for d in final.dirs:  # every I/O timed into fio's histogram and the exact moments
        assert int(d.clat.hist.sum()) == d.ios == d.clat.moments.n
        assert d.clat.moments.min <= d.clat.moments.mean <= d.clat.moments.max
    pages = job.size // 4096
    assert pages <= final.minf <= pages + 16
    assert final.runtime_ns == final.t_end_ns - final.t_start_ns > 0


def test_large_blocks_stamp_a_source_the_child_made_its_own_before_the_window(
        calibration: Calibration) -> None:
    """Scrambling writes into the write source, which the child inherited copy-on-write:
    its 256 pages of a 1 MiB source fault before the window, not in it."""
    job = storm_job(rw=RwMode.WRITE, size=8 << 20, bs_min=(1 << 20, 1 << 20),
                    bs_max=(1 << 20, 1 << 20))
    (final,) = run_lean(job, calibration).deltas
    assert final.dirs[1].ios == 8
    pages = job.size // 4096
    assert pages <= final.minf <= pages + 16


@pytest.mark.parametrize("mode", [leanspawn.HEAP, leanspawn.PLAIN])
def test_with_more_of_the_helper_inherited_it_runs_the_same(
        calibration: Calibration, mode: str) -> None:
    job = storm_job(rw=RwMode.WRITE, size=1 << 20)
    got = run_lean(job, calibration, mode=mode)
    assert got.total.dirs[1].ios == 256 and got.kinds[-1] == protocol.DONE


def test_a_lean_worker_reports_on_the_interval_grid(calibration: Calibration) -> None:
    job = storm_job(rw=RwMode.WRITE, size=64 << 20)  # 16384 faults: tens of ms
    got = run_lean(job, calibration, interval_ns=2_000_000)
    assert len(got.deltas) >= 3 and got.deltas[-1].final
    assert not any(d.final for d in got.deltas[:-1])
    indexes = [d.interval_index for d in got.deltas]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    assert got.total.dirs[1].ios == 16384
    assert got.total.dirs[1].bytes == 64 << 20
    assert int(got.total.dirs[1].clat.hist.sum()) == 16384
    for a, b in zip(got.deltas, got.deltas[1:], strict=False):
        assert a.t_end_ns == b.t_start_ns  # the deltas tile the measured window


def test_a_full_pipe_never_holds_the_relay_up_and_nothing_is_lost(
        calibration: Calibration) -> None:
    job = storm_job(rw=RwMode.WRITE, size=64 << 20)
    got = run_lean(job, calibration, interval_ns=1_000_000, pipe_bytes=4096)
    assert len(got.deltas) >= 3 and got.deltas[-1].final  # far more than 4 KiB of them
    assert got.total.dirs[1].ios == 16384 and got.kinds[-1] == protocol.DONE


def test_sigterm_is_a_stop_with_a_final_report(calibration: Calibration) -> None:
    got = run_lean(storm_job(rw=RwMode.WRITE, size=64 << 20), calibration,
                   before_release="SIGTERM")
    assert os.WIFEXITED(got.status) and os.WEXITSTATUS(got.status) == 0
    assert got.kinds == [protocol.READY, protocol.INTERVAL, protocol.DONE]
    assert got.total.dirs[1].ios == 0


def test_a_killed_lean_worker_says_nothing_more(calibration: Calibration) -> None:
    got = run_lean(storm_job(), calibration, before_release="SIGKILL")
    assert os.WIFSIGNALED(got.status) and os.WTERMSIG(got.status) == signal.SIGKILL
    assert got.kinds == [protocol.READY]


def test_a_worker_killed_in_its_window_still_reports_what_it_did(
        calibration: Calibration) -> None:
    """Its counts are in the block the helper maps: they go out as a delta that is not
    final, with no DONE (fio reports a killed job's I/Os from its shared state too)."""
    job = storm_job(rw=RwMode.WRITE, size=256 << 20)  # 65536 faults: far past 20 ms
    got = run_lean(job, calibration, kill_after_s=0.02)
    assert os.WIFSIGNALED(got.status)
    assert got.kinds == [protocol.READY, protocol.INTERVAL]
    (delta,) = got.deltas
    assert not delta.final and 0 < delta.dirs[1].ios < 65536
    assert delta.dirs[1].bytes == 4096 * delta.dirs[1].ios
    assert abs(int(delta.dirs[1].clat.hist.sum()) - delta.dirs[1].ios) <= 1  # killed mid-I/O
    assert delta.minf >= delta.dirs[1].ios and delta.first_op_ns > 0
    assert delta.runtime_ns > 0


def test_the_probe_finds_a_way_to_fork_lean_workers_here(calibration: Calibration) -> None:
    assert leanspawn.probe(calibration, leanspawn.PLAIN)
    assert leanspawn.choose_mode(calibration) in (leanspawn.SHED, leanspawn.HEAP, leanspawn.PLAIN)


def test_the_lean_setting_off_means_python_workers(
        calibration: Calibration, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(leanspawn.ENV, "0")
    assert leanspawn.choose_mode(calibration) == leanspawn.OFF


def _maps() -> int:
    with open("/proc/self/maps") as maps:
        return len(maps.readlines())


def test_a_groups_workers_share_one_slab_each_with_its_own_counts(
        calibration: Calibration) -> None:
    """Forked workers hold one mapping of the helper between them (each fork copies every
    mapping the helper has), and no worker's counts land in another's block."""
    sizes = [256 << 10, 512 << 10, 1 << 20]
    slab = leanspawn.Slab(len(sizes))
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    pipes = [os.pipe2(os.O_CLOEXEC) for _ in sizes]
    before = _maps()
    workers = []
    for (_, data_w), size in zip(pipes, sizes, strict=True):
        worker = leanspawn.LeanWorker(storm_job(rw=RwMode.WRITE, size=size), calibration,
                                      10**12, 0, gate_r, data_w, 0, slab)
        worker.fork()
        workers.append(worker)
    assert _maps() - before <= 1  # the slab; regions and private blocks are the children's
    os.close(gate_r)
    os.close(gate_w)
    for worker in workers:
        _, status = os.waitpid(worker.pid, 0)
        assert worker.finish(status)
    for (data_r, _), size in zip(pipes, sizes, strict=True):
        data = b""
        while chunk := os.read(data_r, 1 << 16):
            data += chunk
        os.close(data_r)
        (final,) = (protocol.decode_interval(p) for k, p in _messages(data)
                    if k == protocol.INTERVAL)
        assert final.dirs[1].ios == size // 4096 and final.dirs[1].bytes == size
    with pytest.raises(leanspawn.Unfit):  # every block of the slab is taken
        slab.take()


def test_a_finished_workers_block_is_given_back() -> None:
    slab = leanspawn.Slab(2)
    index, words = slab.take()
    _, other = slab.take()
    words[:] = 7
    other[:] = 9
    slab.give_back(index)
    assert not words.any() and (other == 9).all()


def test_a_workers_block_goes_while_a_peer_runs_and_stays_for_the_slab_after_the_last(
        calibration: Calibration) -> None:
    """A finished worker's block is given back while another worker of its slab has not
    ended (that one waits at a gate of its own here); the last one's is left for the slab
    to go whole, without a madvise per block at a storm's end."""
    slab = leanspawn.Slab(2)
    gates = [os.pipe2(os.O_CLOEXEC) for _ in range(2)]
    pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(2)]
    workers = []
    for (gate_r, _), (_, data_w) in zip(gates, pipes, strict=True):
        worker = leanspawn.LeanWorker(storm_job(rw=RwMode.WRITE, size=64 << 10), calibration,
                                      10**12, 0, gate_r, data_w, 0, slab)
        workers.append((worker, worker.block_index))
        worker.fork()
        os.close(gate_r)
    open_gates = [gate_w for _, gate_w in gates]
    try:
        for (worker, index), peer_runs in zip(workers, (True, False), strict=True):
            os.close(open_gates.pop(0))
            _, status = os.waitpid(worker.pid, 0)
            assert slab.running() == (1 if peer_runs else 0)
            assert worker.finish(status)
            assert slab.block(index).any() != peer_runs, index  # zeroed: given back
    finally:
        for gate_w in open_gates:  # (a failed check: the waiting worker goes too)
            os.close(gate_w)
        for data_r, _ in pipes:
            os.close(data_r)


def test_a_units_block_is_its_index_in_the_slab() -> None:
    """What a co-forker and the helper agree on without talking: unit i, block i."""
    slab = leanspawn.Slab(3)
    for index in range(3):
        taken, words = slab.take()
        assert taken == index and words.ctypes.data == slab.block(index).ctypes.data
    with pytest.raises(leanspawn.Unfit):
        slab.block(3)


def test_a_lean_jobs_region_stats_are_a_fresh_mappings() -> None:
    """The stats a relay reports without the region (a co-forker mapped it) are the
    region's own, right after its mapping."""
    job = make_job(rw=RwMode.RANDRW, size=1 << 20)
    assert not leanspawn.unfit((job,))
    region = Region.for_job(job)
    try:
        assert leanspawn.fresh_region_stats(job) == region.stats()
    finally:
        region.close()


def test_a_group_is_held_only_with_room_to_spare() -> None:
    """Its regions together at most half of what is available."""
    units = tuple((storm_job(size=64 << 20),) for _ in range(4))  # 256 MiB in all
    assert leanspawn.roomy(units, 512 << 20)
    assert not leanspawn.roomy(units, (512 << 20) - 1)


def test_a_worker_with_a_memory_limit_is_not_held(calibration: Calibration) -> None:
    from loadgen.plan import MemoryControls

    slab = leanspawn.Slab(2)
    held_ns = []
    for mm in (MemoryControls(), MemoryControls(memory_limit=64 << 20)):
        r, w = os.pipe2(os.O_CLOEXEC)
        worker = leanspawn.LeanWorker(storm_job(mm=mm), calibration, 10**12, 0, r, w, 0,
                                      slab, defer_exits_s=0.5, hold=True)
        held_ns.append(int(worker.words[lean.P_HOLD_NS]))
        worker.close()
        os.close(r)
    assert held_ns == [500_000_000, 0]


def test_a_worker_that_is_not_held_still_counts_itself_out(calibration: Calibration) -> None:
    """A held worker that ends first is woken by its unheld peer's end, not by its own
    30 s bound."""
    slab = leanspawn.Slab(2)
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(2)]
    workers = []
    for (_, data_w), (size, hold) in zip(pipes, ((4096, True), (64 << 20, False)), strict=True):
        worker = leanspawn.LeanWorker(storm_job(rw=RwMode.WRITE, size=size), calibration,
                                      10**12, 0, gate_r, data_w, 0, slab,
                                      defer_exits_s=30.0, hold=hold)
        worker.fork()
        workers.append(worker)
    start = time.monotonic()
    os.close(gate_r)
    os.close(gate_w)
    for worker in workers:
        _, status = os.waitpid(worker.pid, 0)
        assert os.WIFEXITED(status) and worker.finish(status)
    assert time.monotonic() - start < 15
    for data_r, _ in pipes:
        while os.read(data_r, 1 << 16):
            pass
        os.close(data_r)
