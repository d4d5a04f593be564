"""One job inside one worker: setup (map, pattern, kernel state), run (the measured
loop), close (unmap).

The pattern makes numpy batches of I/Os; the compiled kernel (``engine.kernel``) runs
them in calls that return at least every ``CHUNK_NS``, at each status-interval point and
at the runtime or ramp end, so stop(), runtime and interval reports stay timely even
when every I/O faults or a block is huge.  Everything the measured window uses (kernel
state, buffers, the first batch) is allocated and touched in setup, so the job's minor
faults are its region's.

Interval deltas follow the run-wide grid (``IntervalStats.interval_index``): a delta
is sent each time the job's clock passes ``origin + k*interval`` (index k), and a final
partial one at the end.
"""

from __future__ import annotations

import errno
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from loadgen.engine import clock, flow, kernel, verifystate
from loadgen.engine.buffers import WriteSource, buffer_seed
from loadgen.engine.faultkinds import FaultKinds
from loadgen.engine.faults import (
    Usage,
    anon_huge_bytes,
    huge_pages_possible,
    own_bss,
    read_usage,
)
from loadgen.engine.hygiene import keep_heap
from loadgen.engine.iolog import IoLogs
from loadgen.engine.iomem import IoMem
from loadgen.engine.pattern import AccessPattern, Batch
from loadgen.engine.rate import Pacer
from loadgen.engine.recorder import Recorder
from loadgen.engine.region import Region, RegionError
from loadgen.engine.trace import IologWriter, iolog_file_name
from loadgen.engine.verify import Verifier, region_view
from loadgen.plan import SYNC, Job, RwMode
from loadgen.stats.jobstats import IntervalStats, SsSample
from loadgen.stats.mmstats import MmStats

BATCH_OPS = 4096  # I/Os generated per numpy batch
CHUNK_NS = 10_000_000  # a kernel call returns at least this often
UNLIMITED = 1 << 62
OVERHEAD_OPS = 2048  # empty copies timed to measure the kernel's own per-I/O cost
PACE_WINDOW = 4096  # upcoming I/Os a pacing step looks at
VERIFY_CHUNK = 1024  # blocks read and checked per verify step


class EngineError(Exception):
    """A per-job error (e.g. mmap refused); ``errno`` says which.  A verify mismatch also
    names the bad bytes (``bad_offset`` -1: not a mismatch)."""

    def __init__(self, err: int, message: str, bad_offset: int = -1, bad_length: int = 0) -> None:
        super().__init__(message)
        self.errno = err
        self.bad_offset = bad_offset
        self.bad_length = bad_length


def is_timed(job: Job) -> bool:
    """Whether the kernel reads the clock around each I/O."""
    return not (job.gtod_reduce or (job.disable_clat and job.disable_lat))


def measure_overhead(timed: bool, tsc_ns_per_tick: float = 0.0) -> float:
    """The kernel's own cost per I/O in ns: a call of empty (0-byte) copies, timed as the
    job is, best of three.  Cheap enough (tens of µs) to run per process."""
    state = kernel.State(1, tsc_ns_per_tick)
    scratch = np.full(64, 1, dtype=np.uint8)
    ctl = state.ctl
    ctl[kernel.C_BASE] = ctl[kernel.C_SRC] = ctl[kernel.C_RBUF] = scratch.ctypes.data
    flags = kernel.F_RECORD | kernel.F_SAMPLES
    if timed:
        flags |= kernel.F_TIMED | kernel.F_CLAT | kernel.F_LAT
    offs = np.full(OVERHEAD_OPS, 0, dtype=np.int64)
    lens = np.full(OVERHEAD_OPS, 0, dtype=np.int64)
    dirs = np.tile(np.array([0, 1], dtype=np.int8), OVERHEAD_OPS // 2)
    best = float("inf")
    for _ in range(3):
        ctl[kernel.C_FLAGS] = flags
        ctl[kernel.C_BYTES_LEFT] = ctl[kernel.C_IOS_LEFT] = UNLIMITED
        state.acc[kernel.A_WIN + 1] = state.acc[kernel.A_WIN + 5] = 1 << 40
        t0 = state.now()
        state.run(offs, lens, dirs, 0, OVERHEAD_OPS)
        best = min(best, (state.now() - t0) / OVERHEAD_OPS)
    return best


def own_process_bss() -> None:
    """``faults.own_bss`` once per process: a fork's pages are its parent's until it
    writes them, whatever the parent wrote."""
    _own_bss(os.getpid())


@functools.cache
def _own_bss(pid: int) -> int:
    return own_bss(lambda address: kernel.shared_add(address, 0))


def kernel_flags(job: Job, logs: bool, scramble: bool) -> int:
    """The kernel's flags for the job's measured I/Os (F_RECORD aside)."""
    flags = 0
    if is_timed(job):
        flags |= kernel.F_TIMED
        if not job.disable_clat:
            flags |= kernel.F_CLAT
        if not job.disable_lat:
            flags |= kernel.F_LAT
            if job.lat_percentiles:
                flags |= kernel.F_LAT_HIST
    if not (job.disable_bw or job.gtod_reduce):
        flags |= kernel.F_SAMPLES
    if logs:
        flags |= kernel.F_LOG
    if scramble:
        flags |= kernel.F_SCRAMBLE
    return flags


@dataclass(frozen=True)
class Calibration:
    """The clock and the loop's cost per I/O, measured once by a fork helper and passed
    to every worker it forks."""

    tsc_ns_per_tick: float  # 0.0: the kernel reads CLOCK_MONOTONIC (loadgen.engine.clock)
    timed_overhead_ns: float
    untimed_overhead_ns: float

    @classmethod
    def measure(cls, tsc: clock.TscCalibration | None = None) -> Calibration:
        """``tsc``: a TSC calibration begun earlier (the helper probes meanwhile)."""
        ns_per_tick = clock.tsc_ns_per_tick() if tsc is None else tsc.finish()
        return cls(ns_per_tick, measure_overhead(True, ns_per_tick),
                   measure_overhead(False, ns_per_tick))

    def overhead_ns(self, timed: bool) -> float:
        return self.timed_overhead_ns if timed else self.untimed_overhead_ns


class JobRunner:
    """Setup, run and close of one job; ``overhead_ns`` and the clock's ``tsc_ns_per_tick``
    may be given (a fork helper measures them once for all its workers) or are measured
    in setup."""

    def __init__(
        self,
        job: Job,
        overhead_ns: float | None = None,
        tsc_ns_per_tick: float | None = None,
        flow_table: flow.FlowTable | None = None,
    ) -> None:
        self.job = job
        self.timed = is_timed(job)
        self.overhead_ns = overhead_ns
        if job.clocksource != "cpu":
            if tsc_ns_per_tick:  # the helper measured the overhead on the TSC
                self.overhead_ns = None
            tsc_ns_per_tick = 0.0
        self.tsc_ns_per_tick = (
            clock.tsc_ns_per_tick() if tsc_ns_per_tick is None else tsc_ns_per_tick
        )
        self.region: Region | None = None
        self.pattern: AccessPattern | None = None
        self.state: kernel.State | None = None
        self.first: Batch | None = None
        # the buffers whose addresses the kernel holds (ctl): alive as long as the state is
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None
        self.source: WriteSource | None = None
        self.verifier: Verifier | None = None
        self._address = 0
        self.kinds: FaultKinds | None = None  # fault_kinds=1: the executed I/Os' fault kinds
        self.state_writes = -1  # verify_state_load: the writes the saved state records
        self.iomem: IoMem | None = None
        self._flow_given = flow_table
        self.flow_table: flow.FlowTable | None = None  # joined: close() leaves it
        self.shared: flow.FlowTable | None = None  # holds ramp_counter's mapping
        self.ramp_counter = 0  # ramp_size with group_reporting: the group's bytes (address)

    def setup(self) -> None:
        """Map the region (+madvise), build the pattern, buffers and kernel state."""
        job = self.job
        try:
            RwMode(job.rw)
        except ValueError:
            raise EngineError(
                errno.EINVAL, f"rw={job.rw}: the page_fault engine supports only reads and writes"
            ) from None
        keep_heap()
        try:
            self.region = Region.for_job(job)
        except RegionError as exc:
            raise EngineError(exc.errno or errno.ENOMEM, f"{job.name}: {exc.strerror}") from exc
        self._address = self.region.address
        try:
            self.pattern = AccessPattern(job)
        except ValueError as exc:
            raise EngineError(errno.EINVAL, f"{job.name}: {exc}") from exc
        max_bs = max(self.pattern.max_bs, 1)
        ring = WriteSource.ring_bytes(job, max_bs)
        try:  # fio's mem=: the area of the write ring and the read buffer
            self.iomem = IoMem(job, ring + max_bs)
        except OSError as exc:
            raise EngineError(exc.errno or errno.ENOMEM,
                              f"{job.name}: mem={job.mem}: {exc.strerror or exc}") from exc
        area = self.iomem.array
        self.source = WriteSource(job, self.pattern.max_bs,
                                  buffer_seed(job.randseed, job.thread_number), area[:ring])
        rbuf = area[ring:ring + max_bs]
        rbuf[:] = 0  # touched now: the buffer's faults are setup's, not the measured window's
        self._buffers = (self.source.ring, rbuf)
        logs = (IoLogs.wanted(job) or bool(job.write_iolog)) and self.timed
        self.state = kernel.State(BATCH_OPS if logs else 1, self.tsc_ns_per_tick)
        ctl = self.state.ctl
        ctl[kernel.C_BASE] = self._address
        ctl[kernel.C_SRC] = self.source.address
        ctl[kernel.C_SRC_STEP] = self.source.step
        ctl[kernel.C_SRC_SLOTS] = self.source.slots
        ctl[kernel.C_RBUF] = rbuf.ctypes.data
        ctl[kernel.C_SPIN] = job.rate.thinkcycles
        if self.pattern.replay is None:  # a replay's syncs are its log's (fio's read_iolog_get)
            ctl[kernel.C_SYNC_A] = job.fsync_blocks
            ctl[kernel.C_SYNC_B] = job.fdatasync_blocks
            ctl[kernel.C_SYNC_C] = job.sync_file_range_nr
        if job.flow:  # fio's flow_init_job; close() takes it out again
            # the helper's, shared by its workers; else one of this runner's own
            table = self._flow_given or flow.FlowTable()
            table.join(job)
            self.flow_table = table
            ctl[kernel.C_FLOW] = table.flow_address(job.flow_slot)
            ctl[kernel.C_FLOW_MINE] = table.job_address(job.thread_number) + 8
            ctl[kernel.C_FLOW_WEIGHT] = job.flow
            ctl[kernel.C_FLOW_SLEEP] = job.flow_sleep_us
        if job.ramp_size and job.group_reporting:  # the group ramps by its bytes together
            self.shared = self.flow_table or self._flow_given or flow.FlowTable()
            self.ramp_counter = self.shared.ramp_address(job.group_id)
        if job.verify.on:
            self.verifier = Verifier(job, region_view(self._address, job.size))
            if job.verify.only and job.verify.state_load:
                try:
                    self.state_writes = verifystate.load(job)
                except verifystate.StateError as exc:
                    raise EngineError(exc.errno or errno.EINVAL, f"{job.name}: {exc}") from exc
        self.first = self.pattern.next_batch(BATCH_OPS)
        # the next batch is made while this one is alive: free chunks of its size, already
        # faulted in, for its arrays, so batch boundaries take no fresh heap pages in the
        # measured window (glibc keeps them: hygiene.keep_heap)
        scratch = [np.ones(BATCH_OPS, np.int64) for _ in range(2)]
        del scratch
        if job.mm.fault_kinds:
            self.kinds = FaultKinds.for_job(job)
            self.kinds.prime(self.first.offsets, self.first.lengths, self.first.dirs)
        if self.overhead_ns is None:
            self.overhead_ns = measure_overhead(self.timed, self.tsc_ns_per_tick)

    def close(self) -> None:
        if self.flow_table is not None:
            self.flow_table.leave(self.job.thread_number)
            self.flow_table = None
        self.state = None
        self.shared = None
        self.ramp_counter = 0
        self._buffers = None
        self.source = None
        if self.iomem is not None:
            self.iomem.close()
            self.iomem = None
        self.verifier = None
        self.first = None
        if self.region is not None:
            self.region.close()
            self.region = None

    def run(
        self,
        report: Callable[[IntervalStats], None],
        interval_ns: int,
        stop: Callable[[], bool],
        origin_ns: int = 0,
        sample: Callable[[SsSample], None] = lambda s: None,
        rehearse: Callable[[IntervalStats], None] = lambda d: None,
    ) -> None:
        """Run the whole job; report a delta at every point ``origin_ns + k*interval_ns``
        (origin 0: the measured window's start), then one final; with steadystate=, give
        ``sample`` the counts of each ``ss_interval``.  ``rehearse``: what ``report`` does
        to a delta short of sending it (its encoding), done before the window to dry
        deltas so that its first touches of memory fault there."""
        if self.state is None:
            self.setup()
        _Run(self, report, interval_ns, stop, origin_ns, sample, rehearse).go()


class _Run:
    """State of one run() call: counters, phase (ramp or measured), limits."""

    def __init__(
        self,
        runner: JobRunner,
        report: Callable[[IntervalStats], None],
        interval_ns: int,
        stop: Callable[[], bool],
        origin_ns: int,
        sample: Callable[[SsSample], None] = lambda s: None,
        rehearse: Callable[[IntervalStats], None] = lambda d: None,
    ) -> None:
        job = runner.job
        assert runner.pattern is not None and runner.state is not None
        self.runner = runner
        self.job = job
        self.pattern = runner.pattern
        self.state = runner.state
        self.report = report
        self.interval_ns = max(interval_ns, 1)
        self.origin_ns = origin_ns
        self.stop = stop
        self.recorder = Recorder(job, self.state)
        self.logs = IoLogs.for_job(job)
        self.timed = runner.timed
        self.kernel_logs = self.timed and (self.logs is not None or bool(job.write_iolog))
        self.source = runner.source
        self.verifier = runner.verifier
        self.pacer = Pacer(job, job.randseed ^ (job.thread_number << 16))
        self.iolog: IologWriter | None = None
        self.error: EngineError | None = None
        self.verify_only = job.verify.only and self.verifier is not None
        # verify_state_load: verify only the writes the saved state records (fio's
        # verify_state_should_stop); a write-only pattern stops at exactly that many I/Os
        self.state_writes = runner.state_writes if self.verify_only else -1
        self.replayed = 0
        self.ramp_bytes = 0  # ramp_size: the job's bytes in the ramp (no group counter)
        iotime = job.rate.thinktime_iotime_ns
        self.last_think = 0
        scramble = self.source is not None and self.source.scramble and self.verifier is None
        self.flags = kernel_flags(job, self.kernel_logs, scramble)
        # limits (measured window only; fio resets its counters at ramp end)
        loops = max(job.loops, 1)
        self.bytes_limit = job.bytes_per_pass * loops
        self.ios_limit = job.number_ios * loops if job.number_ios else 0
        if self.state_writes >= 0 and not RwMode(job.rw).reads:
            self.ios_limit = min(self.ios_limit or self.state_writes, self.state_writes)
            if not self.state_writes:  # ios_limit 0 means none: the byte budget stops it
                self.bytes_limit = 0
        self.loops_left = loops
        self.done_bytes = 0
        self.done_ios = 0
        self.pass_bytes = 0
        blocks = job.thinktime_ns and (not iotime or job.rate.thinktime_blocks_set)
        self.think_left = job.thinktime_blocks if blocks else 0
        self.time_based = self.pattern.time_based
        # the region has work at each pass end (re-fault, MADV_COLD, ...): passes are run
        # one by one, never replayed as tiles, and a time-based pass stops at its bytes
        self.per_pass = job.mm.per_pass
        self.first_op_sent = False
        self.measured_start = 0
        self.start_clock_ms = 0  # job_start_clock_id's clock at measured_start (fio's epoch)
        self.last_report = 0
        self.next_report = 0
        self.usage_last: Usage | None = None
        self.rebase = False  # usage_last is read again before the next measured kernel call
        # steadystate=: fio's helper thread reads every job's counts each ss_interval, on
        # its own timer from the run's start (restarted at a ramp's end)
        self.sample = sample
        self.rehearse = rehearse
        self.ss_ns = job.steadystate.interval_ms * 1_000_000 if job.steadystate.on else 0
        self.ss_origin = 0
        self.next_ss = UNLIMITED
        self.ss_last = 0
        self.ss_base = np.zeros(4, dtype=np.int64)

    # ---- phases -------------------------------------------------------------------------
    def go(self) -> None:
        job = self.job
        state = self.state
        ctl = state.ctl
        if not self._delay():
            self._finish(state.now())
            return
        now = state.now()
        in_ramp = job.ramp_time_ns > 0 or job.ramp_size > 0
        ramp_end = now + job.ramp_time_ns if job.ramp_time_ns else UNLIMITED
        if self.runner.first is not None and len(self.runner.first):
            self._rehearse(self.runner.first)
            now = state.now()
        if not in_ramp:
            self._start_measured(now)
        self.pacer.reset(now)
        self.last_think = now
        if self.job.write_iolog:
            self.iolog = IologWriter(self.job.write_iolog, iolog_file_name(self.job), now)
        batch = self.runner.first or Batch.empty()
        self.runner.first = None
        replay_t0 = now  # when the current loop of a read_iolog replay began
        pos = 0
        left = len(batch) * self.pattern.repeat
        limited = False
        while True:
            if self.stop():
                break
            now = state.now()
            if in_ramp and (now >= ramp_end or self._ramped()):
                in_ramp = False
                self._start_measured(now)
                self.pacer.reset(now)
                self.pattern.reset_issued()
                if self.pattern.sequence is not None:
                    # its blocks come from the issue count: the rest of this batch counted
                    # on from the ramp's
                    batch, pos, left = Batch.empty(), 0, 0
                if not self.time_based and self.pattern.replay is None:
                    # fio resets its counters at ramp end, so the whole workload runs
                    # again; start it from a fresh loop so that it is exactly that (a
                    # replayed log is not run again: its I/Os go on where they were).
                    self.pattern.start_loop()
                    batch, pos, left, self.pass_bytes = Batch.empty(), 0, 0, 0
            measured = not in_ramp
            if measured:
                if job.runtime_ns and now - self.measured_start >= job.runtime_ns:
                    break
                if now >= self.next_report:
                    self._report(now)
                if now >= self.next_ss:
                    self._ss_sample(now)
            if left == 0:
                # the spent batch's arrays go first: the next reuses their memory, faulted in
                batch = Batch.empty()
                batch = self.pattern.next_batch(BATCH_OPS)
                replay_t0 = now
                pos = 0
                left = len(batch) * self.pattern.repeat
                if not left:
                    if not self._next_loop(in_ramp):
                        break
                    continue
            count = left
            if self.think_left:
                count = min(count, self.think_left)
            if self.source is not None and self.source.changing:
                count = min(count, self.source.slots)
            if self.verifier is not None and job.verify.backlog:
                count = min(count, max(job.verify.backlog - self.verifier.since_backlog, 1))
            iotime = job.rate.thinktime_iotime_ns
            if iotime and job.thinktime_ns and now - self.last_think >= iotime:
                self._think()
                continue
            due = self.pattern.replay_due
            if due is not None:  # read_iolog timing: only the I/Os due by now
                ready = int(np.searchsorted(due, now - replay_t0, side="right")) - pos
                if ready <= 0:
                    self._sleep_until(min(replay_t0 + int(due[pos]), now + CHUNK_NS,
                                          self._horizon(now, in_ramp, ramp_end)))
                    continue
                count = min(count, ready)
            if self.pacer.active:
                count = min(count, PACE_WINDOW)
                idx = (pos + np.arange(count)) % len(batch)
                count, wait = self.pacer.allowed(batch.lengths[idx], batch.dirs[idx], now)
                if not count:
                    self._sleep_until(min(now + wait, now + CHUNK_NS, self._horizon(now, in_ramp,
                                                                                   ramp_end)))
                    continue
            if self.kernel_logs and measured:
                count = min(count, len(batch) - pos, BATCH_OPS)
            deadline = now + CHUNK_NS
            if in_ramp:
                deadline = min(deadline, ramp_end)
            else:
                deadline = min(deadline, self.next_report, self.next_ss)
                if job.runtime_ns:
                    deadline = min(deadline, self.measured_start + job.runtime_ns)
            ctl[kernel.C_FLAGS] = self.flags | (kernel.F_RECORD if measured else 0)
            ctl[kernel.C_DEADLINE] = deadline
            budgeted = measured and not self.time_based
            if budgeted:
                ctl[kernel.C_BYTES_LEFT] = self.bytes_limit - self.done_bytes
                ctl[kernel.C_IOS_LEFT] = (
                    (self.ios_limit - self.done_ios) if self.ios_limit else UNLIMITED
                )
            else:
                ctl[kernel.C_BYTES_LEFT] = ctl[kernel.C_IOS_LEFT] = UNLIMITED
                if self.per_pass and self.time_based:
                    ctl[kernel.C_BYTES_LEFT] = max(job.bytes_per_pass - self.pass_bytes, 1)
                if in_ramp and job.ramp_size:  # the ramp ends at the I/O that reaches it
                    ctl[kernel.C_BYTES_LEFT] = min(
                        int(ctl[kernel.C_BYTES_LEFT]), max(job.ramp_size - self._ramp_done(), 1)
                    )
            dirs = batch.dirs
            if self.verify_only:  # read what the writes would have written
                dirs = np.where(batch.dirs == SYNC, SYNC, 0).astype(np.int8)
            if self.rebase and measured:
                # the window's counts start at its first I/O: the loop's first pass over
                # its own Python (pages of code and objects first touched since the fork)
                # is the worker's, not the job's
                self.usage_last = read_usage(job.thread)
                self.rebase = False
            ran = state.run(batch.offsets, batch.lengths, dirs, pos, count)
            if in_ramp and job.ramp_size:
                self._ramp_add(int(ctl[kernel.C_PASS]))
            if self.runner.kinds is not None:  # outside the kernel's timing
                self.runner.kinds.observe_run(batch.offsets, batch.lengths, dirs, pos, ran)
            if ran and self._after_chunk(batch, pos, ran, now, measured):
                break
            self.pass_bytes += int(ctl[kernel.C_PASS])
            if self.per_pass and self.time_based and self.pass_bytes >= job.bytes_per_pass:
                self._end_pass(True)  # the pattern wraps on by itself
                self.pass_bytes = 0
            if budgeted:
                self.done_bytes = self.bytes_limit - int(ctl[kernel.C_BYTES_LEFT])
                if self.ios_limit:
                    self.done_ios = self.ios_limit - int(ctl[kernel.C_IOS_LEFT])
                if self.done_bytes >= self.bytes_limit or (
                    self.ios_limit and self.done_ios >= self.ios_limit
                ):
                    # a replayed log's sync lines after its last I/O still run (fio
                    # replays the whole log); they move no bytes, and the next call runs
                    # nothing else
                    limited = self.pattern.replay is None or ran in (0, left)
            if self.logs is not None and measured and ran:
                self._log(batch, pos, ran, int(ctl[kernel.C_NOW]))
            pos = (pos + ran) % len(batch)
            left -= ran
            if self.think_left:
                self.think_left -= ran
                if self.think_left <= 0:
                    self._think()
                    self.think_left = job.thinktime_blocks
            if limited:
                if self.per_pass:
                    self._end_pass(False)
                break
        if self.error is None and not self.stop():
            self._verify_phase()
        self._finish(state.now())
        if self.error is not None:
            raise self.error

    def _ramp_done(self) -> int:
        """Bytes of the ramp so far: the job's own, or its group's (group_reporting)."""
        if self.runner.ramp_counter:
            return int(kernel.shared_add(self.runner.ramp_counter, 0))
        return self.ramp_bytes

    def _ramp_add(self, done: int) -> None:
        if self.runner.ramp_counter:
            kernel.shared_add(self.runner.ramp_counter, done)
        else:
            self.ramp_bytes += done

    def _ramped(self) -> bool:
        """fio's ramp_period_check by amount: the ramp's bytes reached ramp_size."""
        return bool(self.job.ramp_size) and self._ramp_done() >= self.job.ramp_size

    def _horizon(self, now: int, in_ramp: bool, ramp_end: int) -> int:
        """The next moment the loop must look up: ramp end, a report, the runtime end."""
        if in_ramp:
            return ramp_end
        end = min(self.next_report, self.next_ss)
        if self.job.runtime_ns:
            end = min(end, self.measured_start + self.job.runtime_ns)
        return end

    def _sleep_until(self, when: int) -> None:
        left = when - self.state.now()
        if left > 0:
            time.sleep(left / 1e9)

    def _after_chunk(self, batch: Batch, pos: int, ran: int, start: int, measured: bool) -> bool:
        """Per-chunk work of the per-I/O options; True when the job must end (an error)."""
        job = self.job
        if self.pacer.active or (self.iolog is not None and measured) or (
            self.verifier is not None
        ):
            idx = (pos + np.arange(ran)) % len(batch)
            offs, lens, dirs = batch.offsets[idx], batch.lengths[idx], batch.dirs[idx]
        else:
            # nothing below reads the chunk's I/Os: a replayed loop's chunk is 10^5 I/Os,
            # whose index arrays would be megabytes of fresh pages in the measured window
            offs = lens = dirs = batch.offsets[:0]
        if self.pacer.active:
            self.pacer.issued(lens, dirs)
        if self.source is not None and self.source.changing:
            self.source.refill(int(self.state.ctl[kernel.C_SRC_NEXT]))
        if self.iolog is not None and measured:
            stamps = (self.state.logs[0, :ran] if self.kernel_logs
                      else np.full(ran, start, dtype=np.int64))
            self.iolog.add(stamps, offs, lens, dirs)
        acc = self.state.acc
        if measured and any(job.rate.max_latency_ns):
            kind = 1 if (self.flags & kernel.F_LAT) else 0
            for d in (0, 1):
                limit = job.rate.max_latency_ns[d]
                at = kernel.A_MOM + 10 * kind + 5 * d
                if limit and acc[at] and acc[at + 4] > limit:
                    self.error = EngineError(errno.ETIMEDOUT, (
                        f"{job.name}: latency of {int(acc[at + 4]) // 1000} usec exceeds "
                        f"specified max ({limit // 1000} usec)"))
                    return True
        if measured and job.rate.checks_min:
            done_b = (int(acc[kernel.A_TOT + 1]), int(acc[kernel.A_TOT + 3]))
            done_i = (int(acc[kernel.A_TOT]), int(acc[kernel.A_TOT + 2]))
            message = self.pacer.below_min(self.state.now(), done_b, done_i, job.name)
            if message:
                self.error = EngineError(errno.EIO, message)
                return True
        verifier = self.verifier
        if verifier is None:
            return False
        if self.verify_only:
            writes = dirs == 1
            w_offs, w_lens = offs[writes], lens[writes]
            ended = False
            if self.state_writes >= 0 and self.replayed + len(w_offs) >= self.state_writes:
                keep = self.state_writes - self.replayed
                w_offs, w_lens, ended = w_offs[:keep], w_lens[:keep], True
            # the phantom writes' numbers, which the earlier run's headers hold if it did
            # the same writes (fio's do_dry_run numbers them so)
            nums = np.arange(self.replayed, self.replayed + len(w_offs), dtype=np.int64)
            self.replayed += len(w_offs)
            return self._checked(verifier.check(w_offs, w_lens, nums)) or ended
        verifier.stamp(offs, lens, dirs)
        if verifier.backlog_due():
            return self._read_back(*verifier.backlog_batch())
        return False

    def _checked(self, go_on: bool) -> bool:
        verifier = self.verifier
        assert verifier is not None
        if verifier.mismatches and (not go_on or self.error is None):
            first = verifier.mismatches[0]
            self.error = EngineError(errno.EILSEQ, first.message, first.offset, first.length)
        return not go_on

    def _read_back(self, offs: np.ndarray, lens: np.ndarray, nums: np.ndarray) -> bool:
        """Read these blocks through the kernel (counted as reads, as fio's verify reads)
        and check them; True when verify_fatal stops the job."""
        verifier = self.verifier
        assert verifier is not None
        ctl = self.state.ctl
        reads = np.zeros(len(offs), dtype=np.int8)
        ctl[kernel.C_SYNC_PENDING] = 0  # fio's verify reads are no workload I/O: no sync
        flags = self.flags & ~kernel.F_LOG
        # the workload's budget and pass the loop reads after its kernel call: verify
        # reads have budgets of their own and pass no bytes of the workload
        kept = [kernel.C_BYTES_LEFT, kernel.C_IOS_LEFT, kernel.C_PASS, kernel.C_NOW]
        saved = ctl[kept].copy()
        try:
            for at in range(0, len(offs), VERIFY_CHUNK):
                sl = slice(at, at + VERIFY_CHUNK)
                chunk_offs = np.ascontiguousarray(offs[sl])
                chunk_lens = np.ascontiguousarray(lens[sl])
                n = len(chunk_offs)
                done = 0
                while done < n:  # a flow may hold reads back: the kernel returns at its deadline
                    if self.stop():
                        return False
                    ctl[kernel.C_FLAGS] = flags | kernel.F_RECORD
                    ctl[kernel.C_DEADLINE] = self.state.now() + CHUNK_NS
                    ctl[kernel.C_BYTES_LEFT] = ctl[kernel.C_IOS_LEFT] = UNLIMITED
                    done += self.state.run(chunk_offs, chunk_lens, reads[:n], done, n - done)
                    now = self.state.now()
                    if now >= self.next_report:
                        self._report(now)
                    if now >= self.next_ss:
                        self._ss_sample(now)
                if self._checked(verifier.check(offs[sl], lens[sl], nums[sl])):
                    return True
            return False
        finally:
            ctl[kept] = saved

    def _verify_phase(self) -> None:
        """fio's do_verify: after a write workload (not time-based), read back the latest
        write of every block and check it."""
        job = self.job
        verifier = self.verifier
        if verifier is None or self.verify_only or not job.verify.do_verify:
            return
        if not RwMode(job.rw).writes or self.time_based:
            return
        self._read_back(*verifier.pending())

    def _start_measured(self, now: int) -> None:
        self.measured_start = self.last_report = now
        self.start_clock_ms = time.clock_gettime_ns(self.job.job_start_clock_id) // 1_000_000
        self.usage_last = read_usage(self.job.thread)
        self.rebase = True  # once more, just before the first measured kernel call
        self.recorder.start(now)
        self.state.ctl[kernel.C_FIRST] = 0
        # fio zeroes io_issues at ramp end: syncs count writes from here
        self.state.ctl[kernel.C_WRITES] = self.state.ctl[kernel.C_SYNC_PENDING] = 0
        if self.runner.kinds is not None:
            self.runner.kinds.zero_counts()
        self.done_bytes = self.done_ios = 0
        self.loops_left = max(self.job.loops, 1)
        origin = self.origin_ns or now
        self.next_report = origin + ((now - origin) // self.interval_ns + 1) * self.interval_ns
        if self.ss_ns:
            ramped = self.job.ramp_time_ns or self.job.ramp_size
            self.ss_origin = now if ramped else origin
            self.next_ss = self.ss_origin + ((now - self.ss_origin) // self.ss_ns + 1) * self.ss_ns
            self.ss_last = now
            self.ss_base[:] = 0

    def _delay(self) -> bool:
        """startdelay (a range picks a value per job); False when stopped meanwhile."""
        lo, hi = self.job.startdelay_ns
        delay = lo if hi <= lo else int(self.pattern.streams.startdelay.integers(lo, hi + 1))
        end = time.monotonic_ns() + delay
        while True:
            left = end - time.monotonic_ns()
            if left <= 0:
                return True
            if self.stop():
                return False
            time.sleep(min(left, 5_000_000) / 1e9)

    def _rehearse(self, first: Batch) -> None:
        """What the window's first moments run, done once before it: an empty kernel
        call, dry intervals (the window zeroes its counts) and, for a short pass that
        loops, a loop change; so the pages of code and data they touch first since the
        fork fault here, not in the measured window.  The dry intervals are the largest
        (every histogram bucket counted) and the smallest a delta can be, made and
        encoded as a report would be: the allocator's memory for any delta between
        the two is then touched already."""
        self.state.ctl[kernel.C_FLAGS] = 0
        self.state.run(first.offsets, first.lengths, first.dirs, 0, 0)
        own_process_bss()
        acc = self.state.acc
        for counted in (1, 0):
            acc[kernel.A_LBK : kernel.A_SYNC] = counted
            acc[kernel.A_SYNC_HIST :] = counted
            delta = self.recorder.take(self.job.thread_number)
            usage = read_usage(self.job.thread)
            self._fill(delta, self.state.now(), usage - usage)
            self.rehearse(delta)
        if self.job.loops > 1 and self.pattern.replay is None and len(first) < BATCH_OPS:
            # a second pattern of the job (the same sequence from the start) ends its first
            # loop and starts the next; the job's own pattern is untouched
            shadow = AccessPattern(self.job)
            for _ in range(4):  # the pass fits in one batch: the loop ends within two
                if not len(shadow.next_batch(BATCH_OPS)):
                    break
            shadow.start_loop(self.job.loops - 1)
            shadow.next_batch(BATCH_OPS)

    def _next_loop(self, in_ramp: bool) -> bool:
        """The region is used up: start another loop or end (fio's keep_running); the
        region's end-of-pass work comes between the two."""
        if self.pass_bytes == 0:
            return False  # a loop that did nothing would never do anything
        self.pass_bytes = 0
        more = self._another_loop(in_ramp)
        if self.per_pass:
            self._end_pass(more)
        return more

    def _end_pass(self, more: bool) -> None:
        region = self._region()
        refaults = region.refaults
        region.end_pass(more)
        if self.runner.kinds is not None and region.refaults != refaults:
            self.runner.kinds.after_refault(region.controls.refault)

    def _region(self) -> Region:
        assert self.runner.region is not None  # set up before any run
        return self.runner.region

    def _another_loop(self, in_ramp: bool) -> bool:
        job = self.job
        if self.time_based or in_ramp:
            self.pattern.start_loop()
            return True
        self.loops_left -= 1
        if self.loops_left <= 0:
            if self.ios_limit and self.done_ios >= self.ios_limit:
                return False
            limit = job.bytes_per_pass
            if (
                self.done_bytes >= limit
                or limit - self.done_bytes < self.pattern.max_bs
                or not job.io_size
            ):
                return False
            self.pattern.start_loop()
            return True
        # Plain loops (no io_size passes): the replayed loops left come as one batch that
        # the kernel runs round and round.
        tiles = self.loops_left if not (job.io_size or self.per_pass) else 1
        self.loops_left -= self.pattern.start_loop(tiles) - 1
        return True

    def _log(self, batch: Batch, pos: int, ran: int, now: int) -> None:
        assert self.logs is not None
        if self.kernel_logs:
            sl = slice(pos, pos + ran)
            logs = self.state.logs
            keep = self._ios_of(batch.dirs[sl])  # the kernel stamps reads and writes only
            self.logs.add(
                self.measured_start,
                now,
                batch.offsets[sl][keep],
                batch.lengths[sl][keep],
                batch.dirs[sl][keep],
                logs[0, :ran][keep],
                logs[1, :ran][keep],
                logs[2, :ran][keep],
            )
            return
        idx = (pos + np.arange(ran)) % len(batch)
        idx = idx[self._ios_of(batch.dirs[idx])]
        self.logs.add(
            self.measured_start,
            now,
            batch.offsets[idx],
            batch.lengths[idx],
            batch.dirs[idx],
            None,
            None,
            None,
        )

    def _ios_of(self, dirs: np.ndarray) -> slice | np.ndarray:
        """The reads and writes among ``dirs``: a replayed log's sync lines are left out of
        the per-I/O logs."""
        if self.pattern.replay is None:
            return slice(None)
        keep: np.ndarray = dirs != SYNC
        return keep

    def _think(self) -> None:
        """thinktime: spin thinktime_spin, then sleep the rest."""
        job = self.job
        t0 = time.monotonic_ns()
        spin_end = t0 + job.thinktime_spin_ns
        while time.monotonic_ns() < spin_end:
            pass
        rest = job.thinktime_ns - job.thinktime_spin_ns
        if rest > 0:
            time.sleep(rest / 1e9)
        self.last_think = time.monotonic_ns()
        self.pacer.after_think(self.last_think - t0)

    # ---- reports ------------------------------------------------------------------------
    def _index(self, now: int) -> int:
        """The grid point at or before ``now``: a delta ending at it carries this index."""
        origin = self.origin_ns or self.measured_start
        return (now - origin) // self.interval_ns

    def _report(self, now: int) -> None:
        usage = read_usage(self.job.thread)
        delta = self.recorder.take(self.job.thread_number)
        assert self.usage_last is not None
        self._fill(delta, now, usage - self.usage_last)
        delta.interval_index = self._index(now)
        self.usage_last = usage
        self.last_report = now
        self.next_report = (self.origin_ns or self.measured_start) + (
            delta.interval_index + 1
        ) * self.interval_ns
        self.report(delta)

    def _ss_sample(self, now: int) -> None:
        """The counts since the last steady-state point, to the controller's check."""
        so_far = self.recorder.so_far()
        ios, nbytes, lat_sum, lat_n = (int(v) for v in so_far - self.ss_base)
        self.ss_base = so_far
        index = (now - self.ss_origin) // self.ss_ns
        self.next_ss = self.ss_origin + (index + 1) * self.ss_ns
        self.sample(
            SsSample(
                index, now - self.ss_last, now - self.measured_start, ios, nbytes, lat_sum, lat_n
            )
        )
        self.ss_last = now

    def _fill(self, delta: IntervalStats, now: int, usage: Usage) -> None:
        delta.t_start_ns = max(self.last_report, self.measured_start)
        delta.t_end_ns = now
        delta.runtime_ns = now - delta.t_start_ns
        delta.minf, delta.majf, delta.ctx = usage.minf, usage.majf, usage.ctx
        delta.usr_ns, delta.sys_ns = usage.usr_ns, usage.sys_ns
        first_op = int(self.state.ctl[kernel.C_FIRST])
        if first_op and not self.first_op_sent:
            delta.first_op_ns = first_op
            delta.job_start_ms = self.start_clock_ms
            self.first_op_sent = True

    def _save_verify_state(self) -> None:
        """fio saves a write job's verify state when its thread ends (verify_state_save)."""
        job = self.job
        if (self.verifier is not None and job.verify.state_save and not self.verify_only
                and RwMode(job.rw).writes):
            verifystate.save(job, self.verifier.numberio)

    def _finish(self, now: int) -> None:
        """Exactly one final delta: the rest of the counts plus the once-per-job fields."""
        # Counters first: what follows is bookkeeping, not the workload.
        usage = read_usage(self.job.thread)
        delta = self.recorder.take(self.job.thread_number)
        if self.usage_last is not None:
            self._fill(delta, now, usage - self.usage_last)
            delta.interval_index = self._index(now) + 1
        else:
            delta.t_start_ns = delta.t_end_ns = now
        delta.final = True
        delta.overhead_ns = self.runner.overhead_ns or 0.0
        if huge_pages_possible(self.job.thp):
            delta.anon_huge_bytes = anon_huge_bytes(self.runner._address)
        if self.runner.region is not None:
            kinds = self.runner.kinds
            delta.mm = MmStats(self.runner.region.stats(), kinds.counts() if kinds else None)
        if self.logs is not None:
            self.logs.close(now - (self.measured_start or now))
        if self.iolog is not None:
            self.iolog.close(now)
            self.iolog = None
        self._save_verify_state()
        self.report(delta)
