"""fio's ``random_generator=lfsr`` (lib/lfsr.c): a maximal-length XNOR shift register over
the region's blocks, so every block comes exactly once per loop, without a random map.

The register has the fewest bits whose range exceeds the block count; values beyond the
last block are skipped.  The seed is fio's offset seed for the job (init.c
``setup_random_seeds``: ``randseed`` mixed with the thread number), so a repeatable job
visits its blocks in fio's order; every loop starts again from the seed.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

# Tap positions for an n-bit maximal-length LFSR, n = 3..63 (fio's table).
TAPS: tuple[tuple[int, ...], ...] = (
    (),
    (),
    (),
    (3, 2),
    (4, 3),
    (5, 3),
    (6, 5),
    (7, 6),
    (8, 6, 5, 4),
    (9, 5),
    (10, 7),
    (11, 9),
    (12, 6, 4, 1),
    (13, 4, 3, 1),
    (14, 5, 3, 1),
    (15, 14),
    (16, 15, 13, 4),
    (17, 14),
    (18, 11),
    (19, 6, 2, 1),
    (20, 17),
    (21, 19),
    (22, 21),
    (23, 18),
    (24, 23, 22, 17),
    (25, 22),
    (26, 6, 2, 1),
    (27, 5, 2, 1),
    (28, 25),
    (29, 27),
    (30, 6, 4, 1),
    (31, 28),
    (32, 31, 29, 1),
    (33, 20),
    (34, 27, 2, 1),
    (35, 33),
    (36, 25),
    (37, 5, 4, 3, 2, 1),
    (38, 6, 5, 1),
    (39, 35),
    (40, 38, 21, 19),
    (41, 38),
    (42, 41, 20, 19),
    (43, 42, 38, 37),
    (44, 43, 18, 17),
    (45, 44, 42, 41),
    (46, 45, 26, 25),
    (47, 42),
    (48, 47, 21, 20),
    (49, 40),
    (50, 49, 24, 23),
    (51, 50, 36, 35),
    (52, 49),
    (53, 52, 38, 37),
    (54, 53, 18, 17),
    (55, 31),
    (56, 55, 35, 34),
    (57, 50),
    (58, 39),
    (59, 58, 38, 37),
    (60, 59),
    (61, 60, 46, 45),
    (62, 61, 6, 5),
    (63, 62),
)
@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _fill(state: Any, out: Any) -> int:
    """Next values into ``out``; state = [last, xormask, top bit, max value, values given]."""
    last = state[0]
    xormask = state[1]
    top = state[2]
    max_val = state[3]
    given = state[4]
    n = 0
    one = np.uint64(1)
    while n < len(out) and given <= max_val:
        given += one
        while True:
            last = ((last >> one) | top) ^ (((last & one) - one) & xormask)
            if last <= max_val:
                break
        out[n] = np.int64(last)
        n += 1
    state[0] = last
    state[4] = given
    return n


class Lfsr:
    """Block indices 0..nblocks-1, each once per loop, in the shift register's order."""

    def __init__(self, nblocks: int, seed: int) -> None:
        """``seed``: fio's offset seed slot (``rand_seeds[FIO_RAND_BLOCK_OFF]``)."""
        bits = next((i for i in range(3, 64) if (1 << i) > nblocks), 0)
        if not bits or nblocks <= 0:
            raise ValueError(f"random_generator=lfsr: {nblocks} blocks is out of range")
        taps = TAPS[bits]
        self.nblocks = nblocks
        self._xormask = sum(1 << (t - 1) for t in taps)
        self._top = 1 << (taps[0] - 1)
        self._seed = seed & ((self._top << 1) - 1)
        if self._seed == (self._top << 1) - 1:  # all ones is the XNOR register's dead state
            self._seed ^= 1
        # the register at the start of a loop (``reset``), also for compiled callers
        self.initial = np.array(
            (self._seed, self._xormask, self._top, self.nblocks - 1, 0), dtype=np.uint64
        )
        self.state = self.initial.copy()

    def reset(self) -> None:
        self.state[:] = self.initial

    @property
    def done(self) -> bool:
        return int(self.state[4]) >= self.nblocks

    def take(self, n: int) -> np.ndarray:
        """Up to ``n`` next block indices (fewer once the loop's blocks are used up)."""
        out = np.empty(n, dtype=np.int64)
        got = _fill(self.state, out)
        return out[:got]
