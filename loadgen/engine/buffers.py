"""What written blocks hold: the kernel's write source (fio's fill_io_buffer).

fio fills a job's write buffers with random bytes once; ``buffer_pattern`` repeats a
pattern, ``zero_buffers`` writes zeroes, ``buffer_compress_percentage`` makes each
``buffer_compress_chunk`` part random for (100 - N)% and zeroes (or the pattern) for the
rest, ``dedupe_percentage`` makes that share of writes repeat an earlier write's contents,
and ``refill_buffers`` draws fresh contents for every write.  ``scramble_buffers`` (on by
default, off with compression and dedupe, as fio) stamps each write's offset and time into
every 512-byte sector; the kernel does that (``kernel.F_SCRAMBLE``).

Duplicates repeat the last unique write (``dedupe_mode=repeat``) or, with
``working_set``, one of the first N unique writes drawn at random (fio's working set).
There the k-th unique write of a worker is a pure function of its seed and k (a Philox
stream keyed by the seed at counter k), so a duplicate is regenerated rather than kept,
and with ``dedupe_global`` a worker can draw another worker's blocks: the working set
is split over the run's workers in thread-number order, as fio rotates its seeds.

The kernel copies write k from slot k % slots of a ring; contents that change per write
(refill, dedupe) refill the slots a kernel call used, in write order, and the runner caps
a call at ``slots`` I/Os so that no slot is used twice with the same contents.
"""

from __future__ import annotations

import bisect
import functools

import numpy as np

from loadgen.plan import BufferControls, Job

RING_SLOTS = 64
_M64 = (1 << 64) - 1


def buffer_seed(randseed: int, thread_number: int) -> int:
    """A worker's write-buffer seed: clones differ, reruns repeat, and another worker's
    dedupe working set can name this worker's blocks."""
    return randseed + thread_number


def pattern_fill(pattern: bytes, size: int) -> np.ndarray:
    """``size`` bytes of ``pattern`` repeated (fio's cpy_pattern)."""
    reps = -(-size // len(pattern))
    return np.frombuffer(pattern * reps, dtype=np.uint8)[:size].copy()


class WriteSource:
    """The ring of write buffers of one job (one slot when contents never change)."""

    def __init__(self, job: Job, max_bs: int, seed: int, area: np.ndarray | None = None) -> None:
        """``area``: memory for the ring (``ring_bytes`` of it; the job's mem= area), else
        the heap."""
        self.controls: BufferControls = job.buffers
        self.pattern = bytes.fromhex(job.buffers.pattern)
        self.min_write = max(job.bs_min[1], 1)
        self.step = max(max_bs, 1)
        c = self.controls
        self.changing = c.refill or bool(c.dedupe_percentage)
        self.slots = RING_SLOTS if self.changing else 1
        self.rng = np.random.default_rng(seed)
        if area is None:
            self.ring = np.full((self.slots, self.step), 0, dtype=np.uint8)
        else:
            self.ring = area[:self.slots * self.step].reshape(self.slots, self.step)
        self.previous = np.empty(0, dtype=np.uint8)  # the last unique contents (dedupe)
        # dedupe_mode=working_set (fio leaves dedupe_percentage=100 repeating one buffer)
        self.working = bool(c.dedupe_working_set_pages) and c.dedupe_percentage < 100
        self.seed = seed
        self.thread_number = job.thread_number
        self.unique = 0  # unique writes so far: the next one is the seed's block k
        self.written = 0  # writes whose slots were refilled (the kernel's C_SRC_NEXT)
        for slot in range(self.slots):
            self._fill(self.ring[slot])

    @staticmethod
    def ring_bytes(job: Job, max_bs: int) -> int:
        """The ring's size: one slot, or RING_SLOTS when contents change per write."""
        changing = job.buffers.refill or bool(job.buffers.dedupe_percentage)
        return (RING_SLOTS if changing else 1) * max(max_bs, 1)

    @property
    def address(self) -> int:
        return int(self.ring.ctypes.data)

    @property
    def scramble(self) -> bool:
        """fio scrambles unless buffers are refilled, compressed or deduplicated (its
        TD_F_COMPRESS), or zeroed on request."""
        c = self.controls
        return c.scramble and not (
            c.refill or c.compress_percentage or c.dedupe_percentage or c.zero
        )

    def _random(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        return (self.rng if rng is None else rng).integers(0, 256, n, dtype=np.uint8)

    # the working set's streams, made only by jobs that have one (each costs tens of µs,
    # which a storm worker would pay in its setup)
    @functools.cached_property
    def keyed(self) -> np.random.Philox:
        return np.random.Philox(key=self.seed & ((1 << 128) - 1))

    @functools.cached_property
    def keyed_rng(self) -> np.random.Generator:
        return np.random.Generator(self.keyed)

    @functools.cached_property
    def index_rng(self) -> np.random.Generator:
        """fio's working-set index stream."""
        return np.random.default_rng([self.seed, 1])

    def _keyed_stream(self, seed: int, k: int) -> np.random.Generator:
        """The stream of a worker's k-th unique write (Philox keyed by the worker's seed,
        at counter k): the same contents wherever and whenever they are drawn."""
        seed &= (1 << 128) - 1
        state = self.keyed.state
        state["state"] = {
            "counter": np.array([0, k, 0, 0], dtype=np.uint64),
            "key": np.array([seed & _M64, seed >> 64], dtype=np.uint64),
        }
        state["buffer_pos"] = 4  # nothing buffered from an earlier position
        state["has_uint32"] = 0
        self.keyed.state = state
        return self.keyed_rng

    def _working_set_block(self, index: int) -> tuple[int, int]:
        """(seed, k) of working-set block ``index``: this worker's k-th unique write, or
        with dedupe_global another worker's (fio's init_dedupe_working_set_seeds: blocks of
        pages // workers per worker, starting with this one, in thread-number order)."""
        c = self.controls
        if not c.dedupe_global:
            return self.seed, index
        workers = c.dedupe_workers
        per = max(c.dedupe_working_set_pages // workers, 1)
        turn = index // per
        owner = (self.thread_number - 1 + turn) % workers + 1
        starts = [first for first, _ in c.dedupe_randseeds]
        randseed = c.dedupe_randseeds[bisect.bisect_right(starts, owner) - 1][1]
        return buffer_seed(randseed, owner), index - turn * per

    def _fill(self, buf: np.ndarray) -> None:
        c = self.controls
        size = len(buf)
        if self.working:
            if int(self.rng.integers(1, 101)) <= c.dedupe_percentage:
                pick = int(self.index_rng.integers(0, c.dedupe_working_set_pages))
                seed, k = self._working_set_block(pick)
            else:
                seed, k = self.seed, self.unique
                self.unique += 1
            buf[:] = self._compressible(size, self._keyed_stream(seed, k))
            return
        repeat = c.dedupe_percentage and len(self.previous)
        if repeat and int(self.rng.integers(1, 101)) <= c.dedupe_percentage:
            buf[:] = self.previous
            return
        if c.compress_percentage or c.dedupe_percentage:
            buf[:] = self._compressible(size)
        elif self.pattern:
            buf[:] = pattern_fill(self.pattern, size)
        elif c.zero:
            buf[:] = 0
        else:
            buf[:] = self._random(size)
        if c.dedupe_percentage:
            self.previous = buf.copy()

    def _compressible(self, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """fio's fill_random_buf_percentage: per segment (the compress chunk, at most the
        minimum write), (100 - pct)% random bytes, then zeroes or the pattern."""
        c = self.controls
        pct = c.compress_percentage
        segment = min(self.min_write, c.compress_chunk or self.min_write, size) or size
        random_len = segment * (100 - pct) // 100
        count = -(-size // segment)
        out = self._random(count * segment, rng).reshape(count, segment)
        if random_len < segment:
            rest = segment - random_len
            out[:, random_len:] = pattern_fill(self.pattern, rest) if self.pattern else 0
        return out.reshape(-1)[:size]

    def refill(self, writes: int) -> None:
        """Fresh contents in the slots the writes since the last refill used, in their
        order (``writes``: the kernel's count of writes so far), so that the contents are
        drawn once per write, in write order, as fio fills each write's buffer."""
        if self.changing:
            for done in range(self.written, writes):
                self._fill(self.ring[done % self.slots])
        self.written = writes
