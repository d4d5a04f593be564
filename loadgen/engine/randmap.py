"""fio's random map (lib/axmap.c): one bit per minimum-size block, so that every block
is touched exactly once per loop.

A chosen block that is already used is replaced by the next free block after it,
wrapping around (no redraw).  An I/O of several blocks marks the free blocks it covers
and is shortened at the first used one.  The next-free search is a union-find over
"next candidate" pointers with path compression, so it is amortised O(1); a batch
without any collision is accepted fully vectorised.
"""

from __future__ import annotations

from array import array

import numpy as np


class RandomMap:
    def __init__(self, nblocks: int) -> None:
        self.nblocks = nblocks
        self.used = bytearray(nblocks)
        self._used_np = np.frombuffer(self.used, dtype=np.uint8)
        self.free = nblocks
        self._next: array | None = None  # built on the first collision of a loop

    def reset(self) -> None:
        self._used_np[:] = 0
        self.free = self.nblocks
        self._next = None

    @property
    def full(self) -> bool:
        return self.free == 0

    def next_free(self, block: int) -> int:
        """The first free block at or after ``block`` (cyclic).  The map must not be full."""
        used = self.used
        if not used[block]:
            return block
        nxt = self._pointers()
        # Invariant: for a used block b, every block strictly between b and nxt[b] is used.
        p = nxt[block]
        while used[p]:
            p = nxt[p]
        q = block
        while q != p:
            q_next = nxt[q]
            nxt[q] = p
            q = q_next
        return p

    def _pointers(self) -> array:
        nxt = self._next
        if nxt is None:
            n = self.nblocks
            nxt = self._next = array("q", range(1, n + 1))
            nxt[n - 1] = 0
        return nxt

    def claim_single(self, candidates: np.ndarray) -> np.ndarray:
        """Resolve one-block I/Os in order; the result may be shorter if the map fills."""
        n = min(len(candidates), self.free)
        cand = candidates[:n]
        if n == 0:
            return cand
        used_np = self._used_np
        used_before = self.nblocks - self.free
        # While the map is sparse most batches have no collision at all: take them whole.
        if n * (used_before + n) < self.nblocks and not used_np[cand].any() and len(np.unique(cand)) == n:
            used_np[cand] = 1
            self.free -= n
            return cand
        # The batch fits in the free blocks, so the cycling claim never resets the map here.
        return self.claim_cycling(cand)

    def claim_cycling(self, candidates: np.ndarray) -> np.ndarray:
        """Resolve one-block I/Os in order, each taking the next free block at or after its
        candidate, clearing the map whenever it fills (time_based: the map resets and
        offsets continue), in one pass."""
        # An int64 array, not a list: no thousands of live int objects (see copyloops).
        out = array("q", candidates.astype(np.int64).tobytes())
        used = self.used
        nxt = self._pointers()
        free = self.free
        for i, b in enumerate(out):
            if free == 0:
                self.reset()
                nxt = self._pointers()
                free = self.nblocks
            if used[b]:
                # next_free, inlined (a call per collision costs more than the loop body)
                p = nxt[b]
                while used[p]:
                    p = nxt[p]
                while b != p:
                    b_next = nxt[b]
                    nxt[b] = p
                    b = b_next
                out[i] = p
            used[b] = 1
            free -= 1
        self.free = free
        return np.frombuffer(out, dtype=np.int64)

    def mark_run(self, start: int, nblocks: int) -> int:
        """Mark an I/O of up to ``nblocks`` blocks from the free block ``start``.

        Returns how many blocks it covers: it stops at the first used block.
        """
        end = min(start + nblocks, self.nblocks)
        hit = np.flatnonzero(self._used_np[start:end])
        if len(hit):
            end = start + int(hit[0])
        self._used_np[start:end] = 1
        self.free -= end - start
        return end - start
