"""fio's read/write direction choice for mixed workloads (io_u.c ``get_rw_ddir``).

State: the current direction D, a threshold T and the cumulative issue counts.  Before
each I/O, if issued[D] >= T a value v in 1..100 is drawn and READ chosen when v <= P;
switching sets T = issued[old] * mix[new] // 100 first.  Only a switch whose new
direction is behind its threshold forces further I/Os without a draw (a "catch-up"),
which only happens while the counts are small.  A batch is stepped I/O by I/O in
compiled code (``_choose``) over draws looked at in the stream and taken once the
choices stand; a loop's replay checks a recorded loop with vectorised arithmetic
(``_scan``).
"""

from __future__ import annotations

import numba
import numpy as np

from loadgen.engine.taus import Tausworthe
from loadgen.plan import READ, WRITE


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _choose(draws: np.ndarray, read_mix: int, write_mix: int, state: np.ndarray,
            out: np.ndarray) -> int:
    """fio's get_rw_ddir for each I/O of ``out``: state is (direction, threshold, reads,
    writes, forced) and is updated; returns how many of ``draws`` were used."""
    ddir, threshold = state[0], state[1]
    used = 0
    for i in range(len(out)):
        if state[2 + ddir] < threshold:  # catch-up: the direction continues, no draw
            state[4] += 1
        else:
            new = np.int64(WRITE if draws[used] > read_mix else READ)
            used += 1
            if new != ddir:
                threshold = state[2 + ddir] * (read_mix if new == READ else write_mix) // 100
                ddir = new
        out[i] = ddir
        state[2 + ddir] += 1
    state[0], state[1] = ddir, threshold
    return used


class DirectionChooser:
    def __init__(self, rwmixread: int) -> None:
        self.mix = (rwmixread, 100 - rwmixread)
        self.ddir = READ
        self.threshold = 0
        self.issued = [0, 0]
        self._rng: Tausworthe | None = None
        # draws the latest choices used: looked at in the stream, taken at the next
        # ``choose`` (so ``unchoose`` can run them again)
        self._pending = 0
        self.forced = 0  # I/Os that took the current direction without a draw
        # the state before the latest ``choose`` and how many of its I/Os are issued, for
        # ``unchoose``
        self._undo: tuple[int, int, list[int], int] = (READ, 0, [0, 0], 0)
        self._chosen = 0

    def new_loop(self, rng: Tausworthe) -> None:
        """Loop start: the threshold resets, the stream may be re-seeded (counts persist)."""
        self.threshold = 0
        if rng is not self._rng:
            self._rng = rng
            self._pending = 0

    def reset_counts(self) -> None:
        """Ramp end: fio's reset_all_stats zeroes the issue counts."""
        self.issued = [0, 0]

    def _scan(
        self, dirs: np.ndarray, issued: list[int], ddir: int
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """Check I/Os that all drew: (index of the first catch-up switch or -1, each
        I/O's threshold if it switches, which I/Os switch)."""
        n = len(dirs)
        is_w = dirs.astype(np.int64)
        wr_before = issued[WRITE] + np.cumsum(is_w) - is_w
        rd_before = issued[READ] + np.arange(n, dtype=np.int64) - (wr_before - issued[WRITE])
        prev = np.empty(n, dtype=np.int8)
        prev[0] = ddir
        prev[1:] = dirs[:-1]
        switch = dirs != prev
        is_r = dirs == READ
        old_count = np.where(is_r, wr_before, rd_before)
        new_count = np.where(is_r, rd_before, wr_before)
        thr = old_count * np.where(is_r, self.mix[READ], self.mix[WRITE]) // 100
        # After the switching I/O the new direction has new_count+1 issues; the next
        # I/O draws only if that reaches the threshold.
        bad = np.flatnonzero(switch & (new_count + 1 < thr))
        return (int(bad[0]) if len(bad) else -1), thr, switch

    def _apply(self, dirs: np.ndarray, thr: np.ndarray, switch: np.ndarray) -> None:
        """Advance the state over I/Os that all drew."""
        nw = int(np.count_nonzero(dirs))
        self.issued[WRITE] += nw
        self.issued[READ] += len(dirs) - nw
        sw = np.flatnonzero(switch)
        if len(sw):
            self.threshold = int(thr[sw[-1]])
        self.ddir = int(dirs[-1])

    def _run(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int8)
        state = np.array([self.ddir, self.threshold, *self.issued, 0], dtype=np.int64)
        assert self._rng is not None
        draws = self._rng.peek_integers(1, 101, n)  # v in 1..100; at most one per I/O
        self._pending = _choose(draws, self.mix[READ], self.mix[WRITE], state, out)
        self.ddir, self.threshold = int(state[0]), int(state[1])
        self.issued = [int(state[2]), int(state[3])]
        self.forced += int(state[4])
        return out

    def choose(self, n: int) -> np.ndarray:
        """Directions (0=read, 1=write) of the next ``n`` I/Os, as int8."""
        if self._pending:
            assert self._rng is not None
            self._rng.skip(self._pending)
            self._pending = 0
        self._undo = (self.ddir, self.threshold, list(self.issued), self.forced)
        self._chosen = n
        return self._run(n)

    def unchoose(self, m: int, failed: bool = False) -> None:
        """The last ``m`` directions of the latest ``choose`` were not issued: the state
        goes back to just after the others.  With ``failed`` the first of them stays
        chosen, not issued: fio chose it for an I/O that then found no offset (the loop
        ends there), so its draw, direction and threshold count."""
        if m <= 0:
            return
        self._chosen -= m  # counts issued ones only: a later cut drops the failed one too
        self.ddir, self.threshold, issued, self.forced = self._undo
        self.issued = list(issued)
        self._pending = 0
        if self._chosen + failed:
            self._run(self._chosen + failed)
        if failed:
            self.issued[self.ddir] -= 1

    def replay(self, dirs: np.ndarray, times: int) -> int:
        """Replay a recorded loop's directions (all drawn, none forced) up to ``times``
        times; returns how many replays are exact (0: generate the loop afresh).

        Exact while no switch would force a catch-up.  That condition is linear in the
        number of earlier replays, so when it holds for the first replay and the loop's
        own read/write counts grow no slower than the thresholds they set, it holds for
        every later one.
        """
        self.threshold = 0
        bad, thr, switch = self._scan(dirs, self.issued, self.ddir)
        if bad >= 0:
            return 0
        nw = int(np.count_nonzero(dirs))
        nr = len(dirs) - nw
        steady = nw * 100 >= nr * self.mix[WRITE] and nr * 100 >= nw * self.mix[READ]
        n = times if steady else 1
        if n > 1:
            second = [self.issued[READ] + nr, self.issued[WRITE] + nw]
            if self._scan(dirs, second, int(dirs[-1]))[0] >= 0:
                n = 1
        if n > 1:
            self.issued[WRITE] += nw * (n - 1)
            self.issued[READ] += nr * (n - 1)
            self.ddir = int(dirs[-1])
            _, thr, switch = self._scan(dirs, self.issued, self.ddir)
        self._apply(dirs, thr, switch)
        return n
