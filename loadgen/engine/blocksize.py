"""Block size choice per direction (io_u.c ``get_next_buflen``).

Fixed ``bs``; ``bsrange`` draws ``min + max*u``, rounds down to a multiple of min
(unless bs_unaligned) and clamps to max, which is uniform over min*{1..k} when max is
k*min; ``bssplit`` walks the entries in ascending-percentage order taking the first
whose cumulative percentage covers the draw, among those that still fit.  A length
that would cross the region end is redrawn.
"""

from __future__ import annotations

import numpy as np

from loadgen.engine.taus import Tausworthe
from loadgen.plan import BsSplitEntry

_RANDMAX = float(2**32)


class BlockSizer:
    """Lengths for one direction."""

    def __init__(
        self, bs_min: int, bs_max: int, bssplit: tuple[BsSplitEntry, ...], unaligned: bool
    ) -> None:
        entries = sorted((e for e in bssplit if e.pct > 0), key=lambda e: e.pct)
        self.split_bs = np.array([e.bs for e in entries], dtype=np.int64)
        self.split_cum = np.cumsum([e.pct for e in entries]).astype(np.float64)
        if len(entries):
            bs_min, bs_max = int(self.split_bs.min()), int(self.split_bs.max())
        self.min = bs_min
        self.max = bs_max
        self.unaligned = unaligned
        self.fixed = bs_min == bs_max

    def _round(self, lens: np.ndarray) -> np.ndarray:
        if not self.unaligned:
            lens = lens - lens % self.min
        out: np.ndarray = np.minimum(lens, self.max)
        return out

    def draw(self, rng: Tausworthe, n: int) -> np.ndarray:
        """``n`` lengths ignoring the region end (the common case: everything fits)."""
        if self.fixed:
            return np.full(n, self.min, dtype=np.int64)
        r = rng.random(n)
        if len(self.split_bs):
            # first entry with r*100 <= cum (fio: r/cum <= RANDMAX/100)
            idx = np.searchsorted(self.split_cum, r * 100.0, side="left")
            return self._round(self.split_bs[np.minimum(idx, len(self.split_bs) - 1)])
        return self._round(self.min + (self.max * r).astype(np.int64))

    def draw_fitting(self, rng: Tausworthe, room: int) -> int:
        """One length that fits in ``room`` bytes, or 0 when not even min fits."""
        if room < self.min:
            return 0
        if self.fixed:
            return self.min
        while True:
            r = float(rng.random())
            if len(self.split_bs):
                length = int(self.split_bs[-1])
                for bs, cum in zip(self.split_bs.tolist(), self.split_cum.tolist(), strict=True):
                    if r * 100.0 <= cum and bs <= room:
                        length = bs
                        break
                length = int(self._round(np.array([length]))[0])
            else:
                length = int(self._round(np.array([self.min + int(self.max * r)]))[0])
            if length <= room:
                return length
