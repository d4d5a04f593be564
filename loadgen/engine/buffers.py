"""What written blocks hold: the kernel's write source (fio's fill_io_buffer).

fio fills a job's write buffers with random bytes once; ``buffer_pattern`` repeats a
pattern, ``zero_buffers`` writes zeroes, ``buffer_compress_percentage`` makes each
``buffer_compress_chunk`` part random for (100 - N)% and zeroes (or the pattern) for the
rest, ``dedupe_percentage`` makes that share of writes repeat an earlier write's contents,
and ``refill_buffers`` draws fresh contents for every write.  ``scramble_buffers`` (on by
default, off with compression and dedupe, as fio) stamps each write's offset and time into
every 512-byte sector; the kernel does that (``kernel.F_SCRAMBLE``).

The kernel copies write k from slot k % slots of a ring; contents that change per write
(refill, dedupe) refill the slots a kernel call used, in write order, and the runner caps
a call at ``slots`` I/Os so that no slot is used twice with the same contents.
"""

from __future__ import annotations

import numpy as np

from loadgen.plan import BufferControls, Job

RING_SLOTS = 64


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
        return c.scramble and not (c.refill or c.compress_percentage or c.dedupe_percentage
                                   or c.zero)

    def _random(self, n: int) -> np.ndarray:
        return self.rng.integers(0, 256, n, dtype=np.uint8)

    def _fill(self, buf: np.ndarray) -> None:
        c = self.controls
        size = len(buf)
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

    def _compressible(self, size: int) -> np.ndarray:
        """fio's fill_random_buf_percentage: per segment (the compress chunk, at most the
        minimum write), (100 - pct)% random bytes, then zeroes or the pattern."""
        c = self.controls
        pct = c.compress_percentage
        segment = min(self.min_write, c.compress_chunk or self.min_write, size) or size
        random_len = segment * (100 - pct) // 100
        count = -(-size // segment)
        out = self._random(count * segment).reshape(count, segment)
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
