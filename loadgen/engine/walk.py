"""fio's offset walk, I/O by I/O, in compiled code: for the patterns whose next offset
depends on the I/O before it in ways no whole-batch formula covers.

Those are random jobs with ``rw=<mode>:N`` (runs of sequential or, with
``rw_sequencer=identical``, repeated offsets between random ones), ``percentage_random``
below 100, and sequential jobs with holes that mix directions or draw their lengths.
Each I/O arrives with its direction and mode (the caller decides the modes for a whole
batch: they depend only on counters and pre-drawn numbers); the walk keeps fio's
per-direction cursors (io_u.c get_next_offset, get_next_seq_offset,
get_next_rand_block, get_next_buflen and mark_random_map) and stops where fio's loop
would end.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from loadgen.engine import lfsr, randmap
from loadgen.engine.randmap import (
    G_BA,
    G_END,
    G_LASTB,
    G_MIN,
    G_START,
    G_STRIDE,
)

# An I/O's mode (fio's should_do_random and rw_sequencer).
SEQ, RAND, SAME = 0, 1, 2
# Where a random I/O's block comes from: none (a sequential job: no offset ends the
# loop), uniform over the direction's blocks, the random map, the shift register, or a
# block given per I/O (random_distribution=sequence, zipf, pareto, normal, zoned).
SRC_NONE, SRC_UNIFORM, SRC_MAP, SRC_LFSR, SRC_GIVEN = range(5)
# The cursors (int64): each direction's last end and last start (-1: none yet), a block
# drawn for an I/O that waits for block-size draws, the map's free blocks.
CUR_POS = 0
CUR_START = 2
CUR_PENDING = 4
CUR_FREE = 5
CUR_SIZE = 6
# How a walk ended: every I/O made, the loop has no offset left, block-size draws used up
# (call again with fresh draws for the I/Os not made).
OK, EXHAUSTED, NEED_DRAWS = randmap.SIZED_OK, randmap.SIZED_EXHAUSTED, randmap.SIZED_NEED_DRAWS


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def seq_next(pos: int, start: int, end: int, add: int, wrap: bool) -> int:
    """The next sequential offset after ``pos`` (fio get_next_seq_offset and the checks of
    get_next_offset; -1: none), with holes of ``add`` bytes between I/Os.

    fio's own arithmetic, unsigned and mixing positions from the region start with
    positions in the mapping (its file size and io_size are both ``end`` here): a hole
    before the start wraps to ``end + add``, one past the end to ``start``, both counted
    from the start; a backward walk with a start offset begins at the end.  Checked
    against fio's iologs with and without offset=50%.
    """
    if wrap and pos >= end:
        pos = start
    if pos >= end:
        return -1
    if pos == start and start and add < 0:
        pos = end  # fio: "only rewind if we already hit the end"
    rel = pos - start
    if rel != 0 and add != 0:
        rel += add
        if rel < 0 or rel >= end:
            rel = start if add > 0 else end + add
    if rel < 0 or rel >= end or start + rel >= end:
        return -1
    return start + rel


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def walk(
    dirs: Any,
    modes: Any,
    u_block: Any,
    given: Any,
    geo: Any,
    split_bs: Any,
    split_cum: Any,
    u_bs: Any,
    cur: Any,
    words: Any,
    nblocks: int,
    lfsr_state: Any,
    lfsr_initial: Any,
    src: int,
    seq_add: int,
    wrap: bool,
    cycling: bool,
    seq_rand: bool,
    spread_end: int,
    base: int,
    offs: Any,
    lens: Any,
    taken: Any,
) -> tuple[int, int]:
    """Offsets and lengths of ``dirs``' I/Os into ``offs``/``lens``, in order; returns
    (I/Os made, status).

    A SAME I/O repeats its direction's last offset, a SEQ one follows its direction's
    last end (``seq_add`` bytes of hole; with nowhere to go a random job takes a random
    block instead), a RAND one takes a block from ``src``: ``u_block`` scaled to the
    direction's blocks (through the map, the next free one when used; the map cleared
    when full under ``cycling``), the shift register (restarted under ``cycling``), or
    ``given`` (-1: no block).  The length is drawn from ``u_bs[d]`` and redrawn while it
    would cross the region end (with ``seq_rand``, fio's bs_is_seq_rand, from the write
    slot for a RAND I/O and the read slot for the others); with the map a RAND I/O marks
    the blocks it covers (in its direction's smallest blocks) and stops at the first used
    one, the others mark nothing (fio's IO_U_F_BUSY_OK).  With ``spread_end`` (zipf,
    pareto, normal: fio draws their blocks over the whole file) a block's I/O is checked
    against that end from the zone at ``base`` instead: one starting at or crossing it
    ends the loop, and its length is drawn to fit before it plus the start offset (fio's
    io_u_fits).  ``u_block`` is taken in order, one draw per block chosen from it and
    one by the I/O that finds the map full (spent under ``cycling``, which then clears
    the map and draws again, as fio's get_next_rand_block); ``taken`` gets how many
    block draws and block-size draws of each direction were used."""
    start = geo[G_START]
    end = geo[G_END]
    used = np.zeros(2, dtype=np.int64)
    one = np.zeros(1, dtype=np.int64)
    free = cur[CUR_FREE]
    ub = 0
    k = 0
    status = OK
    for i in range(len(dirs)):
        d = np.int64(dirs[i])
        g = G_STRIDE * d
        mode = modes[i]
        block = -1
        off = -1
        room = -1
        if mode == SAME:
            off = cur[CUR_START + d]
            if off == -1:
                off = start
        elif mode == SEQ:
            off = seq_next(cur[CUR_POS + d], start, end, seq_add, wrap)
        if off < 0:
            if cur[CUR_PENDING] >= 0:
                block = cur[CUR_PENDING]
                cur[CUR_PENDING] = -1
            elif src == SRC_UNIFORM:
                if ub == len(u_block):
                    status = NEED_DRAWS
                    break
                block = int(u_block[ub] * geo[g + G_LASTB])
                ub += 1
            elif src == SRC_MAP:
                if free == 0 and ub < len(u_block):
                    ub += 1
                    if not cycling:
                        status = EXHAUSTED
                        break
                    randmap._clear(words, nblocks)
                    free = nblocks
                if ub == len(u_block):
                    status = NEED_DRAWS
                    break
                block = min(int(u_block[ub] * geo[g + G_LASTB]), nblocks - 1)
                ub += 1
                if randmap._is_set(words, block):
                    block = randmap._next_free(words, block)
            elif src == SRC_LFSR:
                got = lfsr._fill(lfsr_state, one)
                if got == 0 and cycling:
                    lfsr_state[:] = lfsr_initial
                    got = lfsr._fill(lfsr_state, one)
                if got == 0:
                    status = EXHAUSTED
                    break
                block = one[0]
            elif src == SRC_GIVEN:
                block = given[i]
            if block < 0:  # a sequential job at its end, or no block given
                status = EXHAUSTED
                break
            off = start + block * geo[g + G_BA]
            if spread_end:
                if off + base >= spread_end:
                    status = EXHAUSTED
                    break
                room = spread_end + start - (off + base)
            elif off >= end:  # fio: an offset at or past the end ends the loop
                status = EXHAUSTED
                break
        if room < 0:
            room = end - off
        mn = geo[g + G_MIN]
        s = int(g)  # the sizer of the length: the direction's, or with seq_rand the mode's slot
        if seq_rand:
            s = G_STRIDE if mode == RAND else 0
        if room < geo[s + G_MIN]:
            status = EXHAUSTED
            break
        length, used[d] = randmap.fitting_length(
            geo, s, split_bs, split_cum, u_bs[d], used[d], room
        )
        if length < 0:
            cur[CUR_PENDING] = block  # this I/O again, with the same block
            status = NEED_DRAWS
            break
        if spread_end and block >= 0 and off + base + length > spread_end:
            status = EXHAUSTED  # fio: an I/O that crosses the file end ends the loop
            break
        if src == SRC_MAP and mode == RAND:
            # fio's mark_random_map, in units of the direction's min block, shortened at the
            # first used one; fio marks nothing for the other modes (IO_U_F_BUSY_OK), even
            # for the random block a sequential I/O with nowhere to go falls back to
            marked = randmap._mark_run(words, nblocks, (off - start) // mn, (length + mn - 1) // mn)
            free -= marked
            length = min(length, marked * mn)
        offs[k] = off
        lens[k] = length
        cur[CUR_START + d] = off
        cur[CUR_POS + d] = off + length
        k += 1
    cur[CUR_FREE] = free
    taken[0], taken[1], taken[2] = ub, used[0], used[1]
    return k, status
