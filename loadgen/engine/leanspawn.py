"""The fork helper's side of a lean worker (``loadgen.engine.lean``): prepared before the
fork, its counts relayed after.

Before the fork the helper maps the job's region (the child inherits the empty mapping;
the helper unmaps its own view after), generates every I/O with the job's
``AccessPattern`` and fills the write source, all in a private block the child inherits,
and writes the parameters and the kernel's initial state into a block both map.  After
the fork it sends the worker's messages on the worker's own stats pipe, as a Python
worker would: READY at once, an interval delta for each slot the child publishes, and
at the child's exit the final delta and DONE.  A child killed in its window sends no
final, but what it had counted is still in the shared block: that goes out as one more
delta, not final (fio too reports a killed job's counts from its shared state).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
import resource
import signal
import time
from collections.abc import Callable

import numpy as np

from loadgen import protocol
from loadgen.engine import forkmem, kernel, lean
from loadgen.engine.buffers import WriteSource, buffer_seed
from loadgen.engine.faults import Usage, huge_pages_possible, usage_of
from loadgen.engine.hygiene import libc
from loadgen.engine.pattern import AccessPattern
from loadgen.engine.recorder import Recorder
from loadgen.engine.region import Region, RegionError
from loadgen.engine.runner import BATCH_OPS, Calibration, is_timed, kernel_flags
from loadgen.plan import Job, RwMode
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.mmstats import MmStats, RegionStats

WORKER_NAME = b"loadgen-worker"
OOM_PATH = b"/proc/self/oom_score_adj"
OOM_VALUE = b"1000"  # a storm that exhausts memory should lose workers, not the host
PRIVATE = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
ENV = "LOADGEN_LEAN"  # "0": every worker is a Python worker (to compare, or to rule lean out)
# lean workers without the helper's heap and libraries, without its heap, with all, none
SHED, HEAP, PLAIN, OFF = "shed", "heap", "plain", ""
MODES = (SHED, HEAP, PLAIN)  # the order they are tried in


class Unfit(Exception):
    """This job cannot run as a lean worker after all (a Python worker runs it)."""


def unfit(unit: tuple[Job, ...],
          huge_possible: Callable[[str], bool] = huge_pages_possible) -> str:
    """``lean.unfit``, and the region must hold no huge pages (their count is read from
    the worker's /proc/self/smaps at its end, which a lean worker cannot do);
    ``huge_possible``: the THP check (a storm's helper asks it once per group)."""
    why = lean.unfit(unit)
    if not why and huge_possible(unit[0].thp):
        why = "the region may hold transparent huge pages"
    return why


def _usage(words: np.ndarray) -> Usage:
    """A raw struct rusage (18 words: two timevals, then 14 counters) as a Usage."""
    utime, stime = (int(words[i]) + int(words[i + 1]) / 1e6 for i in (0, 2))
    return usage_of(resource.struct_rusage((utime, stime, *map(int, words[4:18]))))


def _all_ios(pattern: AccessPattern) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every I/O of the job's one pass, in order (what the runner's batches would be)."""
    batches = []
    total = 0
    while True:
        batch = pattern.next_batch(BATCH_OPS)
        if not len(batch):
            break
        total += len(batch)
        if total > lean.MAX_IOS or pattern.repeat != 1 or pattern.replay_due is not None:
            raise Unfit(f"over {lean.MAX_IOS} I/Os")
        batches.append(batch)
    if not batches:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8)
    return (np.concatenate([b.offsets for b in batches]),
            np.concatenate([b.lengths for b in batches]),
            np.concatenate([b.dirs for b in batches]))


def _errno() -> int:
    """The C library's errno of this thread (a raw system call's, not ctypes' copy)."""
    where = libc().__errno_location
    where.restype = ctypes.c_void_p
    return ctypes.c_int.from_address(where()).value


def _aligned(n: int) -> int:
    return -(-n // 64) * 64


BLOCK_BYTES = -(-8 * lean.SHARED_WORDS // mmap.PAGESIZE) * mmap.PAGESIZE  # a page multiple


class Slab:
    """The shared blocks of up to ``n`` lean workers in one MAP_SHARED mapping, after a
    header page whose first word counts the forked workers still running (their end
    hold, ``lean._hold``).

    One mapping, not one per worker: every fork copies the helper's mappings, so a block
    each would make a storm's forks cost more the more workers are already forked.  A
    block's pages are given back (MADV_REMOVE) once its worker is finished; the mapping
    goes when the slab and every view of it are gone."""

    def __init__(self, n: int) -> None:
        self.map = mmap.mmap(-1, mmap.PAGESIZE + BLOCK_BYTES * max(n, 1))
        self.words = np.frombuffer(self.map, dtype=np.int64)
        self.used = 0

    def __len__(self) -> int:
        return (len(self.map) - mmap.PAGESIZE) // BLOCK_BYTES

    @property
    def running_at(self) -> int:
        """The address of the count of running workers (a futex word in its low half)."""
        return int(self.words.ctypes.data)

    def running(self) -> int:
        """How many of the slab's forked workers have not yet ended their job (the
        count ``lean._hold`` waits on)."""
        return int(self.words[0])

    def count(self, change: int) -> None:
        """A worker joins the count before its fork (+1), or leaves it when the fork
        failed (-1); a child leaves it itself at its end (``lean._hold``).  Atomic: a
        co-forker counts its workers in at the same time."""
        kernel.shared_add(self.running_at, change)

    def block(self, index: int) -> np.ndarray:
        """The words of block ``index`` (a group's unit ``index`` has block ``index``)."""
        if not 0 <= index < len(self):
            raise Unfit(f"no block {index} in this group's slab of {len(self)}")
        at = (mmap.PAGESIZE + index * BLOCK_BYTES) // 8
        return self.words[at:at + lean.SHARED_WORDS]

    def take(self) -> tuple[int, np.ndarray]:
        """The next free block: its index and its words."""
        index, self.used = self.used, self.used + 1
        return index, self.block(index)

    def give_back(self, index: int) -> None:
        """The block's worker is finished: its pages go (the words read zero after)."""
        with contextlib.suppress(OSError, ValueError):
            self.map.madvise(mmap.MADV_REMOVE, mmap.PAGESIZE + index * BLOCK_BYTES,
                             BLOCK_BYTES)

    def release(self) -> None:
        """End every held worker's wait now (a stop: they exit without their peers)."""
        with contextlib.suppress(ValueError):
            self.words[0] = 0
            libc().syscall(ctypes.c_long(lean.SYS_FUTEX), ctypes.c_void_p(self.running_at),
                           ctypes.c_long(lean.FUTEX_WAKE), ctypes.c_long(lean.WAKE_ALL),
                           ctypes.c_void_p(None))


def roomy(units: tuple[tuple[Job, ...], ...], available: int) -> bool:
    """Whether a group's lean workers may keep their memory until the last has ended:
    all their regions together take at most half of ``available`` (MemAvailable), so a
    held worker that is done does not become what an OOM kill frees, reported as if its
    job had died."""
    return 2 * sum(unit[0].size for unit in units) <= available


def fresh_region_stats(job: Job) -> RegionStats:
    """A lean job's region stats: ``lean.unfit`` leaves it no populate, lock, KSM or
    delayed advice, so they are a fresh mapping's (``Region.stats`` right after it)."""
    return RegionStats(backing=str(job.mm.backing), populate_ns=0, mlock_ns=0, passes=0,
                       refaults=0, refault_ns=0, refault_max_ns=0, cold_ns=0, collapse="",
                       collapse_ns=0, thp_advised_pass=0, thp_advised_ns=0,
                       ksm_merging_pages=0)


class LeanWorker:
    """One lean worker: its blocks and region before the fork, its relay after."""

    private: mmap.mmap | None  # the child's block of I/Os and buffers, until the fork
    region: Region | None  # the child's region, until the fork

    def __init__(self, job: Job, calibration: Calibration, interval_ns: int, origin_ns: int,
                 gate_r: int, data_w: int, nice: int, slab: Slab | None = None,
                 defer_exits_s: float = 0.0, hold: bool = False, block: int = -1,
                 parent: int = 0) -> None:
        """``slab``: where its shared block is taken from (a slab of its own if None),
        ``block`` its index there (-1: the next free one); ``defer_exits_s``: how long the
        helper may hold back its end while its peers run (``protocol.SpawnRequest``'s);
        ``hold``: the child itself then waits for its peers before it exits
        (``lean._hold``; never in a memory cgroup of its own); ``parent``: the helper's
        pid when this process is its co-forker (the child becomes the helper's, a
        sibling of this process), 0 when this process is the helper."""
        try:
            RwMode(job.rw)
            pattern = AccessPattern(job)
        except ValueError as exc:  # the Python worker reports it as the job's error
            raise Unfit(str(exc)) from exc
        offs, lens, dirs = _all_ios(pattern)
        self._relay(job, calibration, interval_ns, data_w, Slab(1) if slab is None else slab,
                    block, defer_exits_s)
        self.parent = parent
        max_bs = max(pattern.max_bs, 1)
        n = len(offs)
        ring = WriteSource.ring_bytes(job, max_bs)
        at_lens = _aligned(8 * n)
        at_dirs = at_lens + _aligned(8 * n)
        at_ring = at_dirs + _aligned(max(n, 1))
        at_rbuf = -(-(at_ring + ring) // mmap.PAGESIZE) * mmap.PAGESIZE  # its pages its own
        self.private = mmap.mmap(-1, at_rbuf + max_bs, flags=PRIVATE)
        try:
            self.region = Region.for_job(job)
        except RegionError as exc:
            self._unmap()
            raise Unfit(str(exc)) from exc
        private = np.frombuffer(self.private, dtype=np.uint8)
        address = private.ctypes.data
        private[:at_lens].view(np.int64)[:n] = offs
        private[at_lens:at_dirs].view(np.int64)[:n] = lens
        private[at_dirs:at_dirs + n].view(np.int8)[:] = dirs
        source = WriteSource(job, pattern.max_bs, buffer_seed(job.randseed, job.thread_number),
                             private[at_ring:at_ring + ring])
        h = self.words
        state = kernel.State.over(h, lean.STATE)
        ctl = state.ctl
        ctl[kernel.C_BASE] = self.region.address
        ctl[kernel.C_SRC] = source.address
        ctl[kernel.C_SRC_STEP] = source.step
        ctl[kernel.C_SRC_SLOTS] = source.slots
        ctl[kernel.C_RBUF] = address + at_rbuf
        ctl[kernel.C_SYNC_A] = job.fsync_blocks
        ctl[kernel.C_SYNC_B] = job.fdatasync_blocks
        ctl[kernel.C_SYNC_C] = job.sync_file_range_nr
        state.clock[0] = calibration.tsc_ns_per_tick
        state.acc[kernel.A_WIN + 1] = max(job.bwavgtime_ms, 1)
        state.acc[kernel.A_WIN + 5] = max(job.iopsavgtime_ms, 1)
        h[lean.P_NIOS] = n
        h[lean.P_GATE] = gate_r
        h[lean.P_PPID] = parent or os.getpid()
        h[lean.P_NICE] = nice
        h[lean.P_FLAGS] = kernel_flags(job, False, source.scramble)
        h[lean.P_BYTES] = job.bytes_per_pass
        h[lean.P_IOS] = job.number_ios
        h[lean.P_RUNTIME] = job.runtime_ns
        h[lean.P_INTERVAL] = self.interval_ns
        h[lean.P_ORIGIN] = origin_ns
        h[lean.P_OFFS] = address
        h[lean.P_LENS] = address + at_lens
        h[lean.P_DIRS] = address + at_dirs
        h[lean.P_RBUF] = address + at_rbuf
        h[lean.P_RBUF_LEN] = max_bs
        h[lean.P_START_CLOCK] = job.job_start_clock_id
        # a held worker keeps its memory: not where a memory limit makes that a new OOM
        h[lean.P_HOLD_NS] = int(defer_exits_s * 1e9) if hold and not job.mm.cgroup else 0
        h[lean.P_HOLD_AT] = self.slab.running_at
        raw = h.view(np.uint8)
        for word, text in ((lean.S_NAME, WORKER_NAME[:15]), (lean.S_OOM_PATH, OOM_PATH),
                           (lean.S_OOM_VALUE, OOM_VALUE)):
            raw[8 * word:8 * word + len(text)] = np.frombuffer(text, dtype=np.uint8)

    def _relay(self, job: Job, calibration: Calibration, interval_ns: int, data_w: int,
               slab: Slab, block: int, defer_exits_s: float) -> None:
        """What the relay needs, whoever forks the child."""
        self.job = job
        self.data_w = -1  # until ``attach``: what is said meanwhile waits
        self.ready_ns = 0  # when the child was forked, ready at the gate
        self.pending = bytearray()  # frames the pipe had no room for yet
        self.finished = False  # the child's last message is queued: close once it is out
        self.pid = 0
        self.defer_exits_s = defer_exits_s
        self.overhead_ns = calibration.overhead_ns(is_timed(job))
        self.interval_ns = max(interval_ns, 1)
        self.slab = slab
        if block < 0:
            self.block_index, self.words = slab.take()  # none may outlive ``close``
        else:
            self.block_index, self.words = block, slab.block(block)
        self.private = None
        self.region = None
        self.region_stats = fresh_region_stats(job)
        self.last_report = 0
        self.usage_last: Usage | None = None
        self.first_op_sent = False
        if data_w >= 0:
            self.attach(data_w)

    @classmethod
    def adopt(cls, job: Job, calibration: Calibration, interval_ns: int, slab: Slab,
              block: int, pid: int, defer_exits_s: float = 0.0) -> LeanWorker:
        """The relay of a child a co-forker prepared in ``slab``'s block ``block`` and
        forked as the helper's own (``pid``); its READY, with the time of its fork (the
        block's ``lean.S_FORKED_NS``), goes out once it is ``attach``-ed."""
        worker = cls.__new__(cls)
        worker._relay(job, calibration, interval_ns, -1, slab, block, defer_exits_s)
        worker.parent = 0
        worker.pid = pid
        worker._ready(int(worker.words[lean.S_FORKED_NS]))
        return worker

    def attach(self, data_w: int) -> bool:
        """Its stats pipe, made once the group is forked (a pipe made before a fork would
        be every later child's to close: thousands of descriptors each, in a storm);
        what was said meanwhile goes out now (``drain``'s result)."""
        os.set_blocking(data_w, False)  # one relay for many workers: it never waits on a pipe
        self.data_w = data_w
        return self.drain()

    def _ready(self, forked_ns: int) -> None:
        self.ready_ns = forked_ns
        self._send(protocol.READY, protocol.encode_message(protocol.Ready(self.pid, forked_ns)))

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The child's own mappings (start, length), which must never be shed."""
        assert self.region is not None and self.private is not None
        private = np.frombuffer(self.private, dtype=np.uint8)
        return (self.region.address, self.region.size), (private.ctypes.data, len(private))

    # ---- the fork -----------------------------------------------------------------------
    def fork(self) -> int:
        """Fork the child (SIGTERM blocked in it: it polls for a stop); say READY for it
        (at once, or when ``attach``-ed)."""
        assert self.region is not None and self.private is not None
        shared = self.words.ctypes.data
        private = np.frombuffer(self.private, dtype=np.uint8).ctypes.data
        flags = lean.SIGCHLD | (lean.CLONE_PARENT if self.parent else 0)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        self.slab.count(1)
        try:
            pid = int(lean.spawn(shared, private, flags))
            err = _errno() if pid < 0 else 0
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        if pid < 0:
            self.slab.count(-1)
            raise OSError(err or errno.EAGAIN, os.strerror(err or errno.EAGAIN))
        self.pid = pid
        # the region and the block are the child's now; the helper's views go
        self.region.close()
        self.region = None
        self.private.close()
        self.private = None
        self._ready(time.monotonic_ns())
        return pid

    # ---- the relay ------------------------------------------------------------------------
    def _send(self, kind: protocol.MessageKind, payload: bytes) -> bool:
        for frame in protocol.frames(self.job.thread_number, kind, payload):
            self.pending += frame
        return self.drain()

    def drain(self) -> bool:
        """Write what the pipe takes now; once the last message is out, close it.  True
        when nothing is left to write (the helper selects for writing otherwise)."""
        while self.pending and self.data_w >= 0:
            try:
                done = os.write(self.data_w, self.pending[:1 << 16])
            except BlockingIOError:
                return False
            except OSError:  # the controller is gone: nothing to tell
                self.pending.clear()
                break
            del self.pending[:done]
        if self.finished:
            self.close()
        return True

    def _start(self) -> bool:
        """Whether the child's measured window has started (then its start is known)."""
        h = self.words
        if h[lean.S_STATUS] == lean.STATUS_FORKED:
            return False
        if self.usage_last is None:
            self.usage_last = _usage(h[lean.S_RU0:lean.S_RU0 + lean.RUSAGE_WORDS])
            self.last_report = int(h[lean.S_START])
        return True

    def _delta(self, state: kernel.State, now: int, usage: Usage, first_op: int
               ) -> IntervalStats:
        """The runner's _fill: a delta from ``state``'s accumulators up to ``now``."""
        assert self.usage_last is not None
        delta = Recorder(self.job, state).take(self.job.thread_number)
        delta.t_start_ns = max(self.last_report, int(self.words[lean.S_START]))
        delta.t_end_ns = now
        delta.runtime_ns = now - delta.t_start_ns
        used = usage - self.usage_last
        delta.minf, delta.majf, delta.ctx = used.minf, used.majf, used.ctx
        delta.usr_ns, delta.sys_ns = used.usr_ns, used.sys_ns
        if first_op and not self.first_op_sent:
            delta.first_op_ns = first_op
            delta.job_start_ms = int(self.words[lean.S_START_MS])
            self.first_op_sent = True
        self.usage_last = usage
        self.last_report = now
        return delta

    def pump(self) -> bool:
        """Send the interval the child published, if any; False while frames wait for
        room in the pipe (``drain`` them then)."""
        h = self.words
        if not self._start() or h[lean.S_PUBLISHED] == h[lean.S_CONSUMED]:
            return not self.pending
        slot = lean.SLOT
        ru = h[slot + lean.SL_RU:slot + lean.SL_RU + lean.RUSAGE_WORDS]
        delta = self._delta(kernel.State.over(h, lean.SLOT_STATE), int(h[slot + lean.SL_END]),
                            _usage(ru),
                            int(h[slot + lean.SL_FIRST]))
        delta.interval_index = int(h[slot + lean.SL_INDEX])
        kernel.shared_add(h.ctypes.data + 8 * lean.S_CONSUMED, 1)
        return self._send(protocol.INTERVAL, protocol.encode_interval(delta))

    def finish(self, status: int, usage: Usage | None = None, reaped_ns: int = 0) -> bool:
        """The child exited: its last interval, then the final delta and DONE if it ended
        its job, or, killed in its window, what it counted until then (as fio, whose job
        state outlives its process: the block does); the pipe closes once they are out,
        as the child's own would (False: they are not yet, ``drain`` again when the pipe
        has room).  ``usage``: the child's from ``wait4`` and ``reaped_ns`` when (its
        counts need both if killed; 0: now)."""
        try:
            self.pump()
            if self.ended():
                self._final()
            elif os.WIFSIGNALED(status) and usage is not None:
                self._killed(usage, reaped_ns or time.monotonic_ns())
        finally:
            self._unmap()
            self.finished = True
        return self.drain()

    def ended(self) -> bool:
        """Whether the child ended its job (its counts are complete)."""
        return bool(self.words[lean.S_STATUS] == lean.STATUS_DONE) and self._start()

    def _final(self) -> None:
        """The final delta and DONE of a child that ended its job (``ended``)."""
        h = self.words
        state = kernel.State.over(h, lean.STATE)
        end = int(h[lean.S_END])
        ru = h[lean.S_RU1:lean.S_RU1 + lean.RUSAGE_WORDS]
        delta = self._delta(state, end, _usage(ru), int(state.ctl[kernel.C_FIRST]))
        delta.interval_index = (end - int(h[lean.S_ORIGIN])) // self.interval_ns + 1
        delta.final = True
        delta.overhead_ns = self.overhead_ns
        delta.mm = MmStats(self.region_stats, None)
        self._send(protocol.INTERVAL, protocol.encode_interval(delta))
        self._send(protocol.DONE, protocol.encode_message(protocol.Done(self.pid, 0)))

    def _killed(self, usage: Usage, now: int) -> None:
        """The counts of a child killed in its window, up to ``now`` (its reap: it died at
        most a wake-up before): a delta that is not final, as from a Python worker killed
        after an interval."""
        h = self.words
        if h[lean.S_STATUS] != lean.STATUS_RUNNING or not self._start():
            return
        state = kernel.State.over(h, lean.STATE)
        delta = self._delta(state, now, usage, int(state.ctl[kernel.C_FIRST]))
        delta.interval_index = (now - int(h[lean.S_ORIGIN])) // self.interval_ns + 1
        self._send(protocol.INTERVAL, protocol.encode_interval(delta))

    def _unmap(self) -> None:
        if self.region is not None:
            self.region.close()
            self.region = None
        if self.private is not None:
            self.private.close()
            self.private = None
        if self.block_index >= 0:
            # while peers run, the block's pages go now; once none does, the whole slab
            # soon goes with the group's last relay, and a madvise per block (~0.1 ms
            # each) would only lengthen the storm's end
            if self.slab.running() > 0:
                self.slab.give_back(self.block_index)
            self.block_index = -1

    def close(self) -> None:
        """Release the helper's views, the blocks and the stats pipe (idempotent); what
        was not written yet is dropped."""
        self.pending.clear()
        if self.data_w >= 0:
            os.close(self.data_w)
            self.data_w = -1
        self._unmap()


def shed_for(mode: str, keep: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """What a lean fork in ``mode`` leaves out of the child (``forkmem.shed``)."""
    if mode in (SHED, HEAP):
        return forkmem.shed(keep, with_libraries=mode == SHED)
    return []


def shed_checked(calibration: Calibration, mode: str, keep: tuple[tuple[int, int], ...]
                 ) -> list[tuple[int, int]]:
    """Shed what lean workers about to be forked can do without, from ``mode`` down,
    checked by a probe fork now: the mappings shed are this moment's (``forkmem``)."""
    for each in MODES[MODES.index(mode):] if mode in MODES else ():
        shed = shed_for(each, keep)
        if not shed or probe(calibration, PLAIN):
            return shed
        forkmem.restore(shed)
    return []


def probe(calibration: Calibration, mode: str) -> bool:
    """Whether a lean worker forked in ``mode`` (PLAIN: with what is shed now) runs a tiny
    job to its end here; a child that touched what it was not given dies of it.  The
    JIT's writable data lies where the allocator put it, so what can be shed is known
    only by trying, in the process that will fork."""
    # writes, reads, syncs and an interval slot: every path of the child's code
    job = Job(name="lean-probe", thread_number=0, subjob=0, numjobs=1, group_id=0,
              size=64 << 10, rw=RwMode.RANDRW, fsync_blocks=2)
    try:
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    except OSError:  # out of descriptors already: no lean workers (they would hold more)
        return False
    try:
        data_r, data_w = os.pipe2(os.O_CLOEXEC)
    except OSError:
        os.close(gate_r)
        os.close(gate_w)
        return False
    try:
        worker = LeanWorker(job, calibration, 1000, 0, gate_r, data_w,
                            os.getpriority(os.PRIO_PROCESS, 0))
    except Unfit:
        for fd in (gate_r, gate_w, data_r, data_w):
            os.close(fd)
        return False
    marked = shed_for(mode, worker.spans())
    try:
        pid = worker.fork()
    except OSError:
        pid = 0
    finally:
        forkmem.restore(marked)
        os.close(gate_w)
        os.close(gate_r)
    try:
        if not pid:
            return False
        _, status = os.waitpid(pid, 0)
        words = worker.words
        ios = int(words[lean.ACC + kernel.A_TOT] + words[lean.ACC + kernel.A_TOT + 2])
        del words
        return os.WIFEXITED(status) and not os.WEXITSTATUS(status) and worker.ended() and (
            ios == job.size // 4096)
    finally:
        worker.close()
        os.close(data_r)


def choose_mode(calibration: Calibration) -> str:
    """How this helper forks the workers that can be lean (SHED, PLAIN or OFF)."""
    if os.environ.get(ENV) == "0" or not lean.SUPPORTED:
        return OFF
    for mode in MODES:
        if probe(calibration, mode):
            return mode
    return OFF
