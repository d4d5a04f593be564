"""fio's random map (lib/axmap.c): one bit per block, so that every block is touched
exactly once per loop.

A chosen block that is already used is replaced by the next free block after it,
wrapping around (no redraw).  An I/O of several blocks marks the free blocks it covers
and is shortened at the first used one.  The map is a word bitmap searched in compiled
code 64 blocks per step; bits past the last block are kept set, so a search never
returns them.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from loadgen.engine.kernel import trailing_zeros

_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _next_free(words: Any, block: int) -> int:
    """The first free block at or after ``block``, cyclic; -1 when the map is full."""
    nw = len(words)
    w = block >> 6
    free = ~words[w] & (_ALL << np.uint64(block & 63))
    for _ in range(nw + 1):
        if free:
            return (w << 6) + trailing_zeros(free)  # type: ignore[no-any-return]
        w += 1
        if w == nw:
            w = 0
        free = ~words[w]
    return -1


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _set(words: Any, block: int) -> None:
    words[block >> 6] |= np.uint64(1) << np.uint64(block & 63)


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _is_set(words: Any, block: int) -> bool:
    return (words[block >> 6] >> np.uint64(block & 63)) & np.uint64(1) != 0  # type: ignore[no-any-return]


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _clear(words: Any, nblocks: int) -> None:
    words[:] = 0
    tail = nblocks & 63
    if tail:
        words[len(words) - 1] = _ALL << np.uint64(tail)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _claim(
    words: Any, nblocks: int, free: int, cand: Any, out: Any, cycling: bool, resets: Any
) -> tuple[int, int, int]:
    """Claim one block per I/O of ``out`` from the candidates in order; returns (claimed,
    free left, candidates used).  Without ``cycling`` it stops when the map is full; with
    it the map is cleared and goes on, spending the candidate that found it full (fio's
    get_next_rand_block draws again after the reset), and it is also cleared before the
    I/Os whose indices are in ``resets`` (ascending)."""
    n = 0
    j = 0
    r = 0
    while n < len(out) and j < len(cand):
        if r < len(resets) and resets[r] == n:
            _clear(words, nblocks)
            free = nblocks
            r += 1
        if free == 0:
            if not cycling:
                break
            _clear(words, nblocks)
            free = nblocks
            j += 1
            if j == len(cand):
                break
        b = cand[j]
        j += 1
        if _is_set(words, b):
            b = _next_free(words, b)
        _set(words, b)
        free -= 1
        out[n] = b
        n += 1
    return n, free, j


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _mark_run(words: Any, nblocks: int, start: int, count: int) -> int:
    """Mark up to ``count`` free blocks from ``start``, stopping at the first used one or
    the map end (fio's axmap_set_nr); returns how many it marked."""
    end = min(start + count, nblocks)
    b = start
    while b < end and not _is_set(words, b):
        _set(words, b)
        b += 1
    return b - start


# Per-direction geometry of sized claims (``_claim_sized``): G_STRIDE int64 per direction,
# then the region's start and end.
G_LASTB, G_BA, G_MIN, G_MAX, G_UNALIGNED, G_FIXED, G_NSPLIT, G_SPLIT_AT = range(8)
G_STRIDE = 8
G_START = 2 * G_STRIDE
G_END = G_START + 1
G_SIZE = G_END + 1
# _claim_sized's status: every I/O made, the loop has no block left, block-size draws used up
SIZED_OK, SIZED_EXHAUSTED, SIZED_NEED_DRAWS = range(3)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def fitting_length(
    geo: Any, g: int, split_bs: Any, split_cum: Any, draws: Any, used: int, room: int
) -> tuple[int, int]:
    """fio's get_next_buflen for one I/O, by the sizer at ``geo[g:]``: its fixed size, or
    lengths drawn from ``draws[used:]`` (bsrange's min + max*r rounded down to min unless
    unaligned, or bssplit's first entry whose cumulative share covers r among those that
    fit) until one fits in ``room``.  Returns (length, or -1 when the draws ran out;
    draws used so far)."""
    mn = geo[g + G_MIN]
    mx = geo[g + G_MAX]
    if geo[g + G_FIXED]:
        return mn, used
    ns = geo[g + G_NSPLIT]
    at = geo[g + G_SPLIT_AT]
    while used < len(draws):
        r = draws[used]
        used += 1
        if ns:
            cand = split_bs[at + ns - 1]
            for j in range(ns):
                if r * 100.0 <= split_cum[at + j] and split_bs[at + j] <= room:
                    cand = split_bs[at + j]
                    break
        else:
            cand = mn + np.int64(mx * r)
        if not geo[g + G_UNALIGNED]:
            cand -= cand % mn
        cand = min(cand, mx)
        if cand <= room:
            return cand, used
    return -1, used


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _claim_sized(
    words: Any,
    nblocks: int,
    free: int,
    dirs: Any,
    u_block: Any,
    geo: Any,
    split_bs: Any,
    split_cum: Any,
    u_bs: Any,
    offs: Any,
    lens: Any,
    cycling: bool,
    taken: Any,
) -> tuple[int, int, int]:
    """Random I/Os of several block sizes through the map, in order (fio's
    get_next_rand_block, get_next_buflen and mark_random_map): the block is drawn over the
    direction's own blocks and replaced by the next free one when used; the length is
    drawn (and redrawn while it would cross the region end) from ``u_bs[d]``; the I/O
    marks the free blocks it covers, shortened at the first used one.  Block draws are
    taken in order, one per I/O and one more for each full map (spent, as in ``_claim``,
    or, without ``cycling``, by the I/O that ends the loop); ``taken`` gets how many
    block draws and block-size draws of each direction were used.  Returns (I/Os made,
    free blocks left, status)."""
    start = geo[G_START]
    end = geo[G_END]
    used = np.zeros(2, dtype=np.int64)
    j = 0
    k = 0
    status = SIZED_OK
    for i in range(len(dirs)):
        if free == 0:
            if j < len(u_block):
                j += 1
            if not cycling:
                status = SIZED_EXHAUSTED
                break
            _clear(words, nblocks)
            free = nblocks
        if j == len(u_block):
            status = SIZED_NEED_DRAWS
            break
        d = np.int64(dirs[i])
        g = G_STRIDE * d
        b = min(np.int64(u_block[j] * geo[g + G_LASTB]), nblocks - 1)
        j += 1
        if _is_set(words, b):
            b = _next_free(words, b)
        off = start + b * geo[g + G_BA]
        room = end - off
        mn = geo[g + G_MIN]
        if off >= end or room < mn:
            status = SIZED_EXHAUSTED
            break
        length, used[d] = fitting_length(geo, g, split_bs, split_cum, u_bs[d], used[d], room)
        if length < 0:
            j -= 1  # this I/O again, from its block draw
            status = SIZED_NEED_DRAWS
            break
        marked = _mark_run(words, nblocks, (off - start) // mn, (length + mn - 1) // mn)
        free -= marked
        offs[k] = off
        lens[k] = min(length, marked * mn)
        k += 1
    taken[0], taken[1], taken[2] = j, used[0], used[1]
    return k, free, status


_NO_RESETS = np.zeros(0, dtype=np.int64)


class RandomMap:
    def __init__(self, nblocks: int) -> None:
        self.nblocks = nblocks
        self.words = np.zeros(max((nblocks + 63) // 64, 1), dtype=np.uint64)
        self.free = nblocks
        self.reset()

    def reset(self) -> None:
        _clear(self.words, self.nblocks)
        self.free = self.nblocks

    @property
    def full(self) -> bool:
        return self.free == 0

    def claim_single(self, candidates: np.ndarray) -> np.ndarray:
        """Resolve one-block I/Os in order; the result is shorter if the map fills."""
        out = np.empty(len(candidates), dtype=np.int64)
        n, self.free, _ = _claim(
            self.words, self.nblocks, self.free, candidates.astype(np.int64), out, False,
            _NO_RESETS,
        )
        return out[:n]

    def claim_cycling(
        self, candidates: np.ndarray, n: int, resets: np.ndarray = _NO_RESETS
    ) -> tuple[np.ndarray, int]:
        """``n`` one-block I/Os from the candidates, a full map cleared and claiming going
        on (time_based), and the map also cleared before each I/O index in ``resets``
        (the first I/O of each strided zone visit).  Returns the blocks (fewer when the
        candidates ran out) and how many candidates were used."""
        out = np.empty(n, dtype=np.int64)
        k, self.free, used = _claim(self.words, self.nblocks, self.free,
                                    candidates.astype(np.int64), out, True,
                                    resets.astype(np.int64))
        return out[:k], int(used)

    def claim_sized(
        self,
        dirs: np.ndarray,
        u_block: np.ndarray,
        geo: np.ndarray,
        split: tuple[np.ndarray, np.ndarray],
        u_bs: np.ndarray,
        cycling: bool,
    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """Random I/Os with drawn lengths (``_claim_sized``); returns offsets, lengths
        (as many as were made), the status and the draws used (block, read sizes, write
        sizes)."""
        n = len(dirs)
        offs = np.empty(n, dtype=np.int64)
        lens = np.empty(n, dtype=np.int64)
        taken = np.zeros(3, dtype=np.int64)
        k, self.free, status = _claim_sized(
            self.words,
            self.nblocks,
            self.free,
            dirs,
            u_block,
            geo,
            split[0],
            split[1],
            u_bs,
            offs,
            lens,
            cycling,
            taken,
        )
        return offs[:k], lens[:k], int(status), taken
