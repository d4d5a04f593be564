"""One job inside one worker: setup (mmap), run (the measured I/O loop), close (munmap).

Latency definitions (fio §2.8 for a sync engine):

* **clat** is the copy alone: two clock reads around the one copy of each I/O.
* **lat** is clat plus the per-I/O bookkeeping before the copy.  fio stamps start_time
  at the end of get_io_u, a few tens of ns before the copy.  A third clock read per
  I/O would cost more than what it measures, so lat = clat + the chunk's measured
  per-I/O loop time ((chunk wall time - Σclat) / I/Os, averaged over each fold of
  the statistics).  Its moments are recorded unless disable_lat; its histogram only
  with lat_percentiles=1, the only case in which fio reports lat percentiles.
* With gtod_reduce (or disable_clat and disable_lat) no per-I/O clock is read and runs
  are coalesced into as few copies as the pattern allows.

I/Os are generated in numpy batches and executed in chunks sized to take about
``CHUNK_TARGET_NS``, so that stop(), runtime and interval reports stay timely even
when every I/O faults or a block is huge.
"""

from __future__ import annotations

import errno
import mmap
import os
import time
from collections.abc import Callable

import numpy as np

from loadgen.engine.copyloops import Copier, clock
from loadgen.engine.heap import keep_heap
from loadgen.engine.faults import Usage, end_memory, read_usage
from loadgen.engine.iolog import IoLogs
from loadgen.engine.pattern import AccessPattern, Batch
from loadgen.engine.recorder import DISTINCT_LIMIT, FOLD_OPS, Recorder
from loadgen.engine.region import Region, RegionError
from loadgen.plan import READ, WRITE, Job
from loadgen.stats.jobstats import IntervalStats

BATCH_OPS = 4096  # I/Os generated per numpy batch
REPLAY_BATCH_OPS = 65536  # small replayed loops are tiled into batches of up to this many I/Os
ARRAY_REPLAY_BATCH_OPS = 16384  # ... when the loop needs the batch's arrays (untimed, per-I/O logs)
REPLAY_TILE_MAX = 4096  # ... when a loop has at most this many I/Os
CHUNK_TARGET_NS = 4_000_000  # one executed chunk: about 4 ms
FIRST_CHUNK = 8  # the chunk size adapts from here (a few huge blocks already take ms)
CALIBRATION_PAGES = 64
CALIBRATION_OPS = 4096


class EngineError(Exception):
    """A per-job error (e.g. mmap refused); ``errno`` says which."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err


CalibrationKey = tuple[bool, bool, int, bool, int]
_CALIBRATIONS: dict[CalibrationKey, float] = {}  # per process, inherited by forked workers
_WARM_HEAPS: set[tuple[int, bool]] = set()  # (pid, mixed) whose heap the recorder has warmed


def calibration_key(job: Job, pattern: AccessPattern, timed: bool) -> CalibrationKey:
    """What the loop's per-I/O cost depends on: timed or not, numpy (thread) copies or not,
    the block copied, and the direction mix."""
    bs = min(pattern.min_bs, 64 * 1024)
    return timed, job.thread, bs, pattern.mixed, job.rwmixread if pattern.mixed else pattern.fixed_dir


def _may_fold_while_measured(job: Job, pattern: AccessPattern) -> bool:
    """Whether the job can issue a full recorder fold (FOLD_OPS I/Os) while measured."""
    if job.time_based or job.runtime_ns or job.ramp_time_ns:
        return True
    loops = max(job.loops, 1)
    ios = job.bytes_per_pass * loops // max(pattern.min_bs, 1)
    if job.number_ios:
        ios = min(ios, job.number_ios * loops)
    return ios >= FOLD_OPS


def _measure_loop(job: Job, pattern: AccessPattern, timed: bool) -> float:
    """Best of three runs of the job's kind of loop (its direction mix, its smallest
    block) over a small pre-faulted scratch mapping: mean wall ns per I/O."""
    bs = min(pattern.min_bs, 64 * 1024)
    size = CALIBRATION_PAGES * mmap.PAGESIZE
    size = max(size - size % bs, bs)
    scratch = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        scratch[:] = b"\x01" * size
        copier = Copier(scratch, bs, gil_free=job.thread)
        rng = np.random.default_rng(0)
        offs = rng.integers(0, size // bs, CALIBRATION_OPS, dtype=np.int64) * bs
        if pattern.mixed:
            dirs = (rng.random(CALIBRATION_OPS) * 100 >= job.rwmixread).astype(np.int8)
        else:
            dirs = np.full(CALIBRATION_OPS, pattern.fixed_dir, dtype=np.int8)
        lens = np.full(CALIBRATION_OPS, bs, dtype=np.int64)
        offs_list = offs.tolist()
        dirs_arg: list[int] | int = dirs.tolist() if pattern.mixed else int(dirs[0])
        best = float("inf")
        for _ in range(3):
            t0 = clock()
            if timed:
                copier.timed(offs_list, bs, dirs_arg)
            else:
                copier.untimed(offs, lens, dirs, distinct=False)
            best = min(best, (clock() - t0) / CALIBRATION_OPS)
        copier.close()
    finally:
        scratch.close()
    return best


def _warm_recorder_heap(job: Job, record_clat: bool, record_lat: bool) -> None:
    """Fold one full-size batch of latencies, so the heap grows to the recorder's working
    size here, in setup, and not in the measured window."""
    warm = Recorder(job, record_clat, record_lat)
    warm.start(clock())
    rng = np.random.default_rng(0)
    dirs = (rng.random(FOLD_OPS) < 0.5).astype(np.int8)
    # Latencies across the whole counted range and beyond: every fold array at its largest.
    clat = rng.integers(0, 2 * DISTINCT_LIMIT, FOLD_OPS, dtype=np.int64)
    warm.add(dirs, np.full(FOLD_OPS, mmap.PAGESIZE, dtype=np.int64), clat, 0)
    warm.take()


class JobRunner:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.region: Region | None = None
        self.pattern: AccessPattern | None = None
        self.copier: Copier | None = None
        self.timed = not (job.gtod_reduce or (job.disable_clat and job.disable_lat))
        self.record_clat = self.timed and not job.disable_clat
        self.record_lat = self.timed and not job.disable_lat
        self.overhead_ns = 0.0
        self._address = 0

    # ---- setup / close ------------------------------------------------------------------
    def setup(self) -> None:
        """Map the region (+madvise), build buffers and the pattern, calibrate the loop."""
        job = self.job
        if job.rw not in ("read", "write", "randread", "randwrite", "rw", "readwrite", "randrw"):
            raise EngineError(errno.EINVAL, f"rw={job.rw}: the page_fault engine supports only reads and writes")
        keep_heap()
        try:
            self.region = Region.for_job(job)
        except RegionError as exc:
            raise EngineError(exc.errno or errno.ENOMEM, f"{job.name}: {exc.strerror}") from exc
        probe = np.frombuffer(self.region.mm, dtype=np.uint8, count=1)
        self._address = int(probe.ctypes.data)
        del probe
        self.pattern = AccessPattern(job)
        self.copier = Copier(self.region.mm, self.pattern.max_bs, gil_free=job.thread)
        self.overhead_ns = self._calibrate()

    def close(self) -> None:
        if self.copier is not None:
            self.copier.close()
            self.copier = None
        if self.region is not None:
            self.region.close()
            self.region = None

    def _calibrate(self) -> float:
        """The loop's own cost per I/O on memory that no longer faults (ns), measured once
        per kind of loop (``calibration_key``) per process and then reused.

        The fork helper sets up one job of each kind before forking a group, so a
        storm's clones inherit the figure instead of each spending ~5 ms measuring it.
        The recorder's heap warm-up still runs once per process: a forked clone shares
        the helper's heap copy-on-write, so its first full fold would fault in the
        window.  A job too short to fill one fold skips it (its folds come after the
        final usage reading, or are small), which keeps a storm's clones light.
        """
        assert self.pattern is not None
        key = calibration_key(self.job, self.pattern, self.timed)
        overhead = _CALIBRATIONS.get(key)
        if overhead is None:
            overhead = _CALIBRATIONS[key] = _measure_loop(self.job, self.pattern, self.timed)
        heap = (os.getpid(), self.pattern.mixed)
        if self.timed and heap not in _WARM_HEAPS and _may_fold_while_measured(self.job, self.pattern):
            _warm_recorder_heap(self.job, self.record_clat, self.record_lat)
            _WARM_HEAPS.add(heap)
        return overhead

    # ---- run ----------------------------------------------------------------------------
    def run(self, report: Callable[[IntervalStats], None], interval_ns: int, stop: Callable[[], bool]) -> None:
        """Run the whole job; report deltas about every ``interval_ns``, then one final."""
        if self.pattern is None or self.copier is None or self.region is None:
            self.setup()
        assert self.pattern is not None and self.copier is not None
        _Run(self, report, interval_ns, stop).go()


class _Run:
    """State of one run() call: counters, phase (ramp or measured), limits."""

    def __init__(self, runner: JobRunner, report: Callable[[IntervalStats], None], interval_ns: int, stop: Callable[[], bool]) -> None:
        job = runner.job
        self.runner = runner
        self.job = job
        self.pattern: AccessPattern = runner.pattern  # type: ignore[assignment]
        self.copier: Copier = runner.copier  # type: ignore[assignment]
        self.report = report
        self.interval_ns = max(interval_ns, 1)
        self.stop = stop
        self.recorder = Recorder(job, runner.record_clat, runner.record_lat)
        self.logs = IoLogs.for_job(job)
        self.timed = runner.timed
        self.stamped = self.timed and self.logs is not None and self.logs.per_io
        self.fixed_len = self.pattern.fixed_len
        self.mixed = self.pattern.mixed
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
        self.chunk = FIRST_CHUNK
        self.first_op_sent = False

    # ---- phases -------------------------------------------------------------------------
    def go(self) -> None:
        job = self.job
        if not self._delay():
            self._finish(clock(), measured_start=None, usage_last=None, first_op=0)
            return
        now = clock()
        in_ramp = job.ramp_time_ns > 0
        ramp_end = now + job.ramp_time_ns
        measured_start = None if in_ramp else now
        usage_last = None if in_ramp else read_usage(job.thread)
        if not in_ramp:
            self.recorder.start(now)
        last_report = now
        first_op = 0
        batch = Batch.empty()
        pos = 0
        while True:
            if self.stop():
                break
            now = clock()
            if in_ramp and now >= ramp_end:
                in_ramp = False
                measured_start = last_report = now
                usage_last = read_usage(job.thread)
                self.recorder.start(now)
                if self.pattern.chooser is not None:
                    self.pattern.chooser.reset_counts()
                self.done_bytes = self.done_ios = 0
                self.loops_left = max(job.loops, 1)
                if not self.time_based:
                    # fio resets its counters at ramp end, so the whole workload runs
                    # again; start it from a fresh loop so that it is exactly that.
                    self.pattern.start_loop()
                    batch, pos, self.pass_bytes = Batch.empty(), 0, 0
            if measured_start is not None:
                if job.runtime_ns and now - measured_start >= job.runtime_ns:
                    break
                self.recorder.windows(now)
                if now - last_report >= self.interval_ns:
                    assert usage_last is not None
                    usage_last = self._report(last_report, now, measured_start, usage_last, first_op)
                    last_report = now
            if pos >= len(batch):
                batch = self.pattern.next_batch(BATCH_OPS)
                pos = 0
                if not len(batch):
                    if not self._next_loop(in_ramp):
                        break
                    continue
            k = min(self.chunk, len(batch) - pos)
            if not in_ramp and not self.time_based:
                k = self._within_limits(batch, pos, k)
                if k == 0:
                    break
            if self.think_left:
                k = min(k, self.think_left)
            t0, k = self._execute(batch, pos, k, record=not in_ramp, epoch=measured_start or now)
            if not in_ramp and not first_op:
                first_op = t0
            pos += k
            if self.think_left:
                self.think_left -= k
                if self.think_left == 0:
                    self._think()
                    self.think_left = job.thinktime_blocks
        self._finish(clock(), measured_start, usage_last, first_op, last_report)

    def _delay(self) -> bool:
        """startdelay (a range picks a value per job); False when stopped meanwhile."""
        lo, hi = self.job.startdelay_ns
        delay = lo if hi <= lo else int(self.pattern.streams.startdelay.integers(lo, hi + 1))
        end = clock() + delay
        while True:
            left = end - clock()
            if left <= 0:
                return True
            if self.stop():
                return False
            time.sleep(min(left, 5_000_000) / 1e9)

    def _next_loop(self, in_ramp: bool) -> bool:
        """The region is used up: start another loop or end (fio's keep_running)."""
        job = self.job
        if self.pass_bytes == 0:
            return False  # a loop that did nothing would never do anything
        self.pass_bytes = 0
        if self.time_based or in_ramp:
            self.pattern.start_loop()
            return True
        self.loops_left -= 1
        if self.loops_left <= 0:
            if self.ios_limit and self.done_ios >= self.ios_limit:
                return False
            limit = job.bytes_per_pass
            if self.done_bytes >= limit or limit - self.done_bytes < self.pattern.max_bs or not job.io_size:
                return False
            self.pattern.start_loop()
            return True
        # Plain loops (no io_size passes): several replayed loops may come as one batch.
        span = max(self.pattern.template_ops, 1)
        tiles = 1
        if not job.io_size and span <= REPLAY_TILE_MAX:
            # Only timed slices runs leave a tiled batch's arrays unbuilt (see Batch.tiled);
            # built, they are new memory faulted inside the window.
            batch_ops = REPLAY_BATCH_OPS if self.timed and not self.stamped else ARRAY_REPLAY_BATCH_OPS
            tiles = min(self.loops_left, batch_ops // span)
        self.loops_left -= self.pattern.start_loop(tiles) - 1
        return True

    def _within_limits(self, batch: Batch, pos: int, k: int) -> int:
        """How many of the next k I/Os fio would still issue (bytes and number_ios)."""
        if self.ios_limit:
            k = min(k, self.ios_limit - self.done_ios)
        if k <= 0:
            return 0
        if batch.arith is not None or self.fixed_len:
            bs = batch.arith[1] if batch.arith is not None else self.pattern.min_bs
            return min(k, max(-(-(self.bytes_limit - self.done_bytes) // bs), 0))
        lens = batch.lengths[pos : pos + k]
        before = self.done_bytes + np.cumsum(lens) - lens
        return int(np.count_nonzero(before < self.bytes_limit))

    def _execute(self, batch: Batch, pos: int, k: int, record: bool, epoch: int) -> tuple[int, int]:
        """Run I/Os [pos, pos+k) of the batch (replayed tiles may round k down to whole
        tiles); returns the chunk's start stamp and how many I/Os ran."""
        tile = batch.tile_len
        if tile and self.timed and not self.stamped and pos % tile == 0 and k >= tile:
            return self._execute_tiles(batch, pos, k // tile, record)
        end = pos + k
        run = batch.arith
        stamps = None
        if self.timed:
            o_list, n_list, d_list = batch.lists()
            if self.stamped:
                t0 = clock()
                starts, clat_list = self.copier.stamped(
                    list(o_list[pos:end]), batch.lengths[pos:end].tolist(), batch.dirs[pos:end].tolist()
                )
                t1 = clock()
                stamps = np.frombuffer(starts, dtype=np.int64)
            else:
                lens_arg = n_list[0] if run is not None else n_list[pos] if self.fixed_len else n_list[pos:end]
                dirs_arg = d_list[0] if run is not None else d_list[pos:end] if self.mixed else d_list[pos]
                t0 = clock()
                clat_list = self.copier.timed(o_list[pos:end], lens_arg, dirs_arg)
                t1 = clock()
            clat = np.frombuffer(clat_list, dtype=np.int64)
            prep = max(0, (t1 - t0 - int(clat.sum())) // k)
        else:
            t0 = clock()
            if run is not None:
                first, bs, ddir = run
                self.copier.copy_range(first + pos * bs, first + end * bs, ddir)
            else:
                self.copier.untimed(batch.offsets[pos:end], batch.lengths[pos:end], batch.dirs[pos:end], distinct=self.pattern.use_map)
            t1 = clock()
            clat = None
            prep = 0
        n_bytes = k * run[1] if run is not None else int(batch.lengths[pos:end].sum())
        self.pass_bytes += n_bytes
        if record:
            self.done_bytes += n_bytes
            self.done_ios += k
            if run is not None:
                self.recorder.add_run(run[2], k, n_bytes, clat, prep)
            else:
                self.recorder.add(batch.dirs[pos:end], batch.lengths[pos:end], clat, prep)
            if self.logs is not None:
                self.logs.add(epoch, t1, batch.offsets[pos:end], batch.lengths[pos:end], batch.dirs[pos:end], stamps, clat, prep)
        self._next_chunk(k, t1 - t0, BATCH_OPS)
        return t0, k

    def _next_chunk(self, k: int, spent: int, cap: int) -> None:
        """Size the next chunk to take about CHUNK_TARGET_NS, at most ``cap`` I/Os (BATCH_OPS
        where per-chunk arrays are made; replayed slices may run a whole tiled batch)."""
        self.chunk = int(min(cap, max(1, k * CHUNK_TARGET_NS // max(spent, 1))))

    def _execute_tiles(self, batch: Batch, pos: int, tiles: int, record: bool) -> tuple[int, int]:
        """Whole replayed tiles, timed, from precomputed slices: writes then reads of
        each tile when that cannot change faults (``tile_distinct``), else in order."""
        assert batch.tile_slices is not None
        k = tiles * batch.tile_len
        writes, reads = batch.tile_slices
        bs = (writes or reads)[0].stop - (writes or reads)[0].start
        if batch.tile_distinct:
            t0 = clock()
            cw = self.copier.write_slices(writes * tiles)
            cr = self.copier.read_slices(reads * tiles)
            t1 = clock()
            # One run per direction: the recorder needs no per-I/O direction array.
            runs = [(WRITE, np.frombuffer(cw, dtype=np.int64)), (READ, np.frombuffer(cr, dtype=np.int64))]
            spent = int(runs[0][1].sum()) + int(runs[1][1].sum())
        else:
            o_list, n_list, d_list = batch.lists()
            end = pos + k
            t0 = clock()
            cl = self.copier.timed(o_list[pos:end], n_list[pos], d_list[pos:end] if self.mixed else d_list[pos])
            t1 = clock()
            clat = np.frombuffer(cl, dtype=np.int64)
            spent = int(clat.sum())
            runs = []
        prep = max(0, (t1 - t0 - spent) // k)
        n_bytes = k * bs
        self.pass_bytes += n_bytes
        if record:
            self.done_bytes += n_bytes
            self.done_ios += k
            for ddir, run_clat in runs:
                if len(run_clat):
                    self.recorder.add_run(ddir, len(run_clat), len(run_clat) * bs, run_clat, prep)
            if not runs:
                if self.mixed:
                    self.recorder.add(batch.dirs[pos : pos + k], batch.lengths[pos : pos + k], clat, prep)
                else:
                    self.recorder.add_run(int(batch.dirs[pos]), k, n_bytes, clat, prep)
        self._next_chunk(k, t1 - t0, REPLAY_BATCH_OPS)
        return t0, k

    def _think(self) -> None:
        """thinktime: spin thinktime_spin, then sleep the rest."""
        job = self.job
        spin_end = clock() + job.thinktime_spin_ns
        while clock() < spin_end:
            pass
        rest = job.thinktime_ns - job.thinktime_spin_ns
        if rest > 0:
            time.sleep(rest / 1e9)

    # ---- reports ------------------------------------------------------------------------
    def _report(self, t_start: int, now: int, measured_start: int, usage_last: Usage, first_op: int) -> Usage:
        usage = read_usage(self.job.thread)
        delta = self.recorder.take()
        self._fill(delta, t_start, now, measured_start, usage - usage_last, first_op)
        self.report(delta)
        return usage

    def _fill(self, delta: IntervalStats, t_start: int, now: int, measured_start: int, usage: Usage, first_op: int) -> None:
        delta.t_start_ns = max(t_start, measured_start)
        delta.t_end_ns = now
        delta.runtime_ns = now - delta.t_start_ns
        delta.minf, delta.majf, delta.ctx = usage.minf, usage.majf, usage.ctx
        delta.usr_ns, delta.sys_ns = usage.usr_ns, usage.sys_ns
        if first_op and not self.first_op_sent:
            delta.first_op_ns = first_op
            self.first_op_sent = True

    def _finish(self, now: int, measured_start: int | None, usage_last: Usage | None, first_op: int, last_report: int = 0) -> None:
        """Exactly one final delta: the rest of the counts plus the once-per-job fields."""
        # Counters first: folding the statistics is bookkeeping, not the workload.
        usage = read_usage(self.job.thread)
        if measured_start is not None:
            self.recorder.windows(now)
        delta = self.recorder.take()
        if measured_start is not None and usage_last is not None:
            self._fill(delta, last_report or measured_start, now, measured_start, usage - usage_last, first_op)
        else:
            delta.t_start_ns = delta.t_end_ns = now
        delta.final = True
        delta.overhead_ns = self.runner.overhead_ns
        memory = end_memory(self.runner._address)
        delta.anon_huge_bytes, delta.uss_bytes = memory.anon_huge_bytes, memory.uss_bytes
        if self.logs is not None:
            self.logs.close(now - (measured_start or now))
        self.report(delta)
