"""fio's read/write direction choice for mixed workloads (io_u.c ``get_rw_ddir``).

State: the current direction D, a threshold T and the cumulative issue counts.  Before
each I/O, if issued[D] >= T a value v in 1..100 is drawn and READ chosen when v <= P;
switching sets T = issued[old] * mix[new] // 100 first.  Only a switch whose new
direction is behind its threshold forces further I/Os without a draw (a "catch-up"),
which only happens while the counts are small.  So a batch is computed as
vectorised coin flips, checked for catch-ups, and only a catch-up is stepped in Python.
"""

from __future__ import annotations

import numpy as np

from loadgen.plan import READ, WRITE

_DRAW_CHUNK = 8192


class DirectionChooser:
    def __init__(self, rwmixread: int) -> None:
        self.mix = (rwmixread, 100 - rwmixread)
        self.ddir = READ
        self.threshold = 0
        self.issued = [0, 0]
        self._rng: np.random.Generator | None = None
        self._draws = np.empty(0, dtype=np.int64)
        self._pos = 0

    def new_loop(self, rng: np.random.Generator) -> None:
        """Loop start: the threshold resets, the stream may be re-seeded (counts persist)."""
        self.threshold = 0
        if rng is not self._rng:
            self._rng = rng
            self._draws = np.empty(0, dtype=np.int64)
            self._pos = 0

    def reset_counts(self) -> None:
        """Ramp end: fio's reset_all_stats zeroes the issue counts."""
        self.issued = [0, 0]

    def _take(self, n: int) -> np.ndarray:
        """The next ``n`` draws of v in 1..100 (buffered so unused draws carry over)."""
        avail = len(self._draws) - self._pos
        if avail < n:
            assert self._rng is not None
            fresh = self._rng.integers(1, 101, size=max(n - avail, _DRAW_CHUNK), dtype=np.int64)
            self._draws = np.concatenate([self._draws[self._pos :], fresh])
            self._pos = 0
        out = self._draws[self._pos : self._pos + n]
        return out

    def choose(self, n: int) -> np.ndarray:
        """Directions (0=read, 1=write) of the next ``n`` I/Os, as int8."""
        out = np.empty(n, dtype=np.int8)
        done = 0
        pread = self.mix[READ]
        while done < n:
            need = n - done
            if self.issued[self.ddir] < self.threshold:
                # Catch-up: the current direction continues without a draw.
                k = min(need, self.threshold - self.issued[self.ddir])
                out[done : done + k] = self.ddir
                self.issued[self.ddir] += k
                done += k
                continue
            v = self._take(need)
            dirs = (v > pread).astype(np.int8)
            # Which of these I/Os would not draw (a catch-up after a switch)?  Compute the
            # counts before each I/O assuming every I/O draws, and find the first switch
            # whose new direction lags behind the threshold it sets.
            is_w = dirs.astype(np.int64)
            wr_before = self.issued[WRITE] + np.cumsum(is_w) - is_w
            rd_before = self.issued[READ] + np.arange(need, dtype=np.int64) - (wr_before - self.issued[WRITE])
            prev = np.empty(need, dtype=np.int8)
            prev[0] = self.ddir
            prev[1:] = dirs[:-1]
            switch = dirs != prev
            old_count = np.where(prev == READ, rd_before, wr_before)
            new_count = np.where(dirs == READ, rd_before, wr_before)
            mix_new = np.where(dirs == READ, self.mix[READ], self.mix[WRITE])
            thr = old_count * mix_new // 100
            # After the switching I/O the new direction has new_count+1 issues; the next
            # I/O draws only if that reaches the threshold.
            bad = switch & (new_count + 1 < thr)
            bad_idx = np.flatnonzero(bad)
            k = need if len(bad_idx) == 0 else int(bad_idx[0]) + 1
            out[done : done + k] = dirs[:k]
            self._pos += k
            nw = int(is_w[:k].sum())
            self.issued[WRITE] += nw
            self.issued[READ] += k - nw
            # Threshold as set by the last switch in the accepted part.
            sw = np.flatnonzero(switch[:k])
            if len(sw):
                self.threshold = int(thr[sw[-1]])
            self.ddir = int(dirs[k - 1])
            done += k
        return out
