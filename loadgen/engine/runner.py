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
import time
from collections.abc import Callable

import numpy as np

from loadgen.engine import kernel
from loadgen.engine.faultkinds import FaultKinds
from loadgen.engine.faults import Usage, anon_huge_bytes, huge_pages_possible, read_usage
from loadgen.engine.hygiene import keep_heap
from loadgen.engine.iolog import IoLogs
from loadgen.engine.pattern import AccessPattern, Batch
from loadgen.engine.recorder import Recorder
from loadgen.engine.region import Region, RegionError
from loadgen.plan import Job, RwMode
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.mmstats import MmStats

BATCH_OPS = 4096  # I/Os generated per numpy batch
CHUNK_NS = 10_000_000  # a kernel call returns at least this often
UNLIMITED = 1 << 62
OVERHEAD_OPS = 2048  # empty copies timed to measure the kernel's own per-I/O cost


class EngineError(Exception):
    """A per-job error (e.g. mmap refused); ``errno`` says which."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err


def is_timed(job: Job) -> bool:
    """Whether the kernel reads the clock around each I/O."""
    return not (job.gtod_reduce or (job.disable_clat and job.disable_lat))


def measure_overhead(timed: bool) -> float:
    """The kernel's own cost per I/O in ns: a call of empty (0-byte) copies, timed as the
    job is, best of three.  Cheap enough (tens of µs) to run per process."""
    state = kernel.State(1)
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


def write_source(size: int) -> np.ndarray:
    """``size`` non-zero bytes (written pages are never mistaken for the zero page)."""
    return np.resize(np.arange(1, 256, dtype=np.uint8), max(size, 1))


class JobRunner:
    """Setup, run and close of one job; ``overhead_ns`` may be given (a fork helper
    measures it once for all its workers) or is measured in setup."""

    def __init__(self, job: Job, overhead_ns: float | None = None) -> None:
        self.job = job
        self.timed = is_timed(job)
        self.overhead_ns = overhead_ns
        self.region: Region | None = None
        self.pattern: AccessPattern | None = None
        self.state: kernel.State | None = None
        self.first: Batch | None = None
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None
        self._address = 0
        self.kinds: FaultKinds | None = None  # fault_kinds=1: the executed I/Os' fault kinds

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
        src = write_source(self.pattern.max_bs)
        rbuf = np.full(max(self.pattern.max_bs, 1), 0, dtype=np.uint8)
        self._buffers = (src, rbuf)
        logs = IoLogs.wanted(job) and self.timed
        self.state = kernel.State(BATCH_OPS if logs else 1)
        ctl = self.state.ctl
        ctl[kernel.C_BASE] = self._address
        ctl[kernel.C_SRC] = src.ctypes.data
        ctl[kernel.C_RBUF] = rbuf.ctypes.data
        self.first = self.pattern.next_batch(BATCH_OPS)
        if job.mm.fault_kinds:
            self.kinds = FaultKinds.for_job(job)
            self.kinds.prime(self.first.offsets, self.first.lengths, self.first.dirs)
        if self.overhead_ns is None:
            self.overhead_ns = measure_overhead(self.timed)

    def close(self) -> None:
        self.state = None
        self._buffers = None
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
    ) -> None:
        """Run the whole job; report a delta at every point ``origin_ns + k*interval_ns``
        (origin 0: the measured window's start), then one final."""
        if self.state is None:
            self.setup()
        _Run(self, report, interval_ns, stop, origin_ns).go()


class _Run:
    """State of one run() call: counters, phase (ramp or measured), limits."""

    def __init__(
        self,
        runner: JobRunner,
        report: Callable[[IntervalStats], None],
        interval_ns: int,
        stop: Callable[[], bool],
        origin_ns: int,
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
        self.kernel_logs = self.timed and self.logs is not None
        flags = 0
        if self.timed:
            flags |= kernel.F_TIMED
            if not job.disable_clat:
                flags |= kernel.F_CLAT
            if not job.disable_lat:
                flags |= kernel.F_LAT
                if job.lat_percentiles:
                    flags |= kernel.F_LAT_HIST
        if not (job.disable_bw or job.gtod_reduce):
            flags |= kernel.F_SAMPLES
        if self.kernel_logs:
            flags |= kernel.F_LOG
        self.flags = flags
        # limits (measured window only; fio resets its counters at ramp end)
        loops = max(job.loops, 1)
        self.bytes_limit = job.bytes_per_pass * loops
        self.ios_limit = job.number_ios * loops if job.number_ios else 0
        self.loops_left = loops
        self.done_bytes = 0
        self.done_ios = 0
        self.pass_bytes = 0
        self.think_left = job.thinktime_blocks if job.thinktime_ns else 0
        self.time_based = self.pattern.time_based
        # the region has work at each pass end (re-fault, MADV_COLD, ...): passes are run
        # one by one, never replayed as tiles, and a time-based pass stops at its bytes
        self.per_pass = job.mm.per_pass
        self.first_op_sent = False
        self.measured_start = 0
        self.last_report = 0
        self.next_report = 0
        self.usage_last: Usage | None = None

    # ---- phases -------------------------------------------------------------------------
    def go(self) -> None:
        job = self.job
        state = self.state
        ctl = state.ctl
        if not self._delay():
            self._finish(state.now())
            return
        now = state.now()
        in_ramp = job.ramp_time_ns > 0
        ramp_end = now + job.ramp_time_ns
        if not in_ramp:
            self._start_measured(now)
        batch = self.runner.first or Batch.empty()
        self.runner.first = None
        pos = 0
        left = len(batch) * self.pattern.repeat
        limited = False
        while True:
            if self.stop():
                break
            now = state.now()
            if in_ramp and now >= ramp_end:
                in_ramp = False
                self._start_measured(now)
                if self.pattern.chooser is not None:
                    self.pattern.chooser.reset_counts()
                if not self.time_based:
                    # fio resets its counters at ramp end, so the whole workload runs
                    # again; start it from a fresh loop so that it is exactly that.
                    self.pattern.start_loop()
                    batch, pos, left, self.pass_bytes = Batch.empty(), 0, 0, 0
            measured = not in_ramp
            if measured:
                if job.runtime_ns and now - self.measured_start >= job.runtime_ns:
                    break
                if now >= self.next_report:
                    self._report(now)
            if left == 0:
                batch = self.pattern.next_batch(BATCH_OPS)
                pos = 0
                left = len(batch) * self.pattern.repeat
                if not left:
                    if not self._next_loop(in_ramp):
                        break
                    continue
            count = left
            if self.think_left:
                count = min(count, self.think_left)
            if self.kernel_logs and measured:
                count = min(count, len(batch) - pos, BATCH_OPS)
            deadline = now + CHUNK_NS
            if in_ramp:
                deadline = min(deadline, ramp_end)
            else:
                deadline = min(deadline, self.next_report)
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
            ran = state.run(batch.offsets, batch.lengths, batch.dirs, pos, count)
            if self.runner.kinds is not None:  # outside the kernel's timing
                self.runner.kinds.observe_run(batch.offsets, batch.lengths, batch.dirs, pos, ran)
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
                    limited = True
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
        self._finish(state.now())

    def _start_measured(self, now: int) -> None:
        self.measured_start = self.last_report = now
        self.usage_last = read_usage(self.job.thread)
        self.recorder.start(now)
        self.state.ctl[kernel.C_FIRST] = 0
        if self.runner.kinds is not None:
            self.runner.kinds.zero_counts()
        self.done_bytes = self.done_ios = 0
        self.loops_left = max(self.job.loops, 1)
        origin = self.origin_ns or now
        self.next_report = origin + ((now - origin) // self.interval_ns + 1) * self.interval_ns

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
            self.logs.add(
                self.measured_start,
                now,
                batch.offsets[sl],
                batch.lengths[sl],
                batch.dirs[sl],
                logs[0, :ran],
                logs[1, :ran],
                logs[2, :ran],
            )
            return
        idx = (pos + np.arange(ran)) % len(batch)
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

    def _think(self) -> None:
        """thinktime: spin thinktime_spin, then sleep the rest."""
        job = self.job
        spin_end = time.monotonic_ns() + job.thinktime_spin_ns
        while time.monotonic_ns() < spin_end:
            pass
        rest = job.thinktime_ns - job.thinktime_spin_ns
        if rest > 0:
            time.sleep(rest / 1e9)

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

    def _fill(self, delta: IntervalStats, now: int, usage: Usage) -> None:
        delta.t_start_ns = max(self.last_report, self.measured_start)
        delta.t_end_ns = now
        delta.runtime_ns = now - delta.t_start_ns
        delta.minf, delta.majf, delta.ctx = usage.minf, usage.majf, usage.ctx
        delta.usr_ns, delta.sys_ns = usage.usr_ns, usage.sys_ns
        first_op = int(self.state.ctl[kernel.C_FIRST])
        if first_op and not self.first_op_sent:
            delta.first_op_ns = first_op
            self.first_op_sent = True

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
        self.report(delta)
