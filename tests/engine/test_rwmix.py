"""fio's direction choice: the compiled chooser equals the per-I/O rule exactly, and
the long-run read share matches rwmixread."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.engine.rwmix import DirectionChooser
from loadgen.engine.taus import Tausworthe


class ScriptedRng:
    """Hands out a fixed sequence of 1..100 draws, whatever the batch sizes asked."""

    def __init__(self, draws: np.ndarray) -> None:
        self.draws = draws
        self.pos = 0

    def peek_integers(self, lo: int, hi: int, n: int) -> np.ndarray:
        out: np.ndarray = self.draws[self.pos : self.pos + n]
        return out

    def skip(self, n: int) -> None:
        self.pos += n


def reference(draws: list[int], n: int, pread: int, issued: list[int] | None = None) -> list[int]:
    """io_u.c get_rw_ddir, one I/O at a time."""
    mix = (pread, 100 - pread)
    ddir, thr, issued = 0, 0, list(issued or [0, 0])
    it = iter(draws)
    out = []
    for _ in range(n):
        if issued[ddir] >= thr:
            new = 0 if next(it) <= pread else 1
            if new != ddir:
                thr = issued[ddir] * mix[new] // 100
            ddir = new
        issued[ddir] += 1
        out.append(ddir)
    return out


@pytest.mark.parametrize("pread", [90, 70, 50, 10, 1, 99])
def test_compiled_choice_equals_per_io_rule(pread: int) -> None:
    draws = np.random.default_rng(pread).integers(1, 101, size=60_000)
    chooser = DirectionChooser(pread)
    chooser.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    got: list[int] = []
    for n in (1, 2, 3, 50, 7, 4096, 1000, 13):
        got += chooser.choose(n).tolist()
    assert got == reference(draws.tolist(), len(got), pread)


def test_catch_up_run_takes_no_draw() -> None:
    # R R R R then W: threshold = 4*50//100 = 2, W has 1 after the switch -> one forced W.
    draws = np.array([1, 1, 1, 1, 100, 1, 1, 1] + [50] * 100)
    chooser = DirectionChooser(50)
    chooser.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    got = chooser.choose(8).tolist()
    assert got == reference(draws.tolist(), 8, 50) == [0, 0, 0, 0, 1, 1, 0, 0]
    assert chooser.forced == 1


@pytest.mark.parametrize("pread", [90, 70, 50, 10])
def test_read_share_within_one_percent_over_100k(pread: int) -> None:
    chooser = DirectionChooser(pread)
    chooser.new_loop(Tausworthe(pread))
    dirs = chooser.choose(100_000)
    assert abs((dirs == 0).mean() * 100 - pread) < 1.0


def test_replay_advances_state_like_generating_again() -> None:
    draws = np.random.default_rng(5).integers(1, 101, size=10_000)
    a, b = DirectionChooser(50), DirectionChooser(50)
    a.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    b.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    a.choose(300)
    template = b.choose(300)
    # b replays three more loops at once; a generates them (re-seeded: same draws).
    assert b.replay(template, 3) == 3
    for _ in range(3):
        a.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
        assert np.array_equal(a.choose(300), template)
    assert a.issued == b.issued and a.ddir == b.ddir


@pytest.mark.parametrize("pread", [10, 50, 73])
def test_unchoosing_leaves_the_state_of_choosing_fewer(pread: int) -> None:
    """Directions given back are as if never chosen: the next ones are the same as when
    only the kept ones had been chosen."""
    draws = np.random.default_rng(pread).integers(1, 101, size=5000)

    def chooser() -> DirectionChooser:
        c = DirectionChooser(pread)
        c.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
        return c

    a = chooser()
    a.choose(100)
    a.unchoose(37)
    b = chooser()
    b.choose(63)
    assert (a.ddir, a.threshold, a.issued, a.forced) == (b.ddir, b.threshold, b.issued, b.forced)
    assert a.choose(500).tolist() == b.choose(500).tolist()


def test_a_failed_io_keeps_its_direction_but_not_its_issue() -> None:
    """fio chose a direction for the I/O that found no offset: its draw and direction
    stay, it is not counted as issued."""
    draws = np.random.default_rng(1).integers(1, 101, size=5000)
    a = DirectionChooser(50)
    a.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    a.choose(100)
    a.unchoose(40, failed=True)
    b = DirectionChooser(50)
    b.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    last = int(b.choose(61)[-1])
    b.issued[last] -= 1
    assert (a.ddir, a.threshold, a.issued) == (b.ddir, b.threshold, b.issued)
    assert a.choose(300).tolist() == b.choose(300).tolist()



def test_unchoosing_after_the_draws_were_refilled() -> None:
    """A choice that refilled the buffered draws can still be given back exactly."""
    draws = np.random.default_rng(4).integers(1, 101, size=40000)
    a = DirectionChooser(50)
    a.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    a.choose(8000)
    a.choose(4096)  # past the first 8192 draws
    a.unchoose(100)
    b = DirectionChooser(50)
    b.new_loop(ScriptedRng(draws))  # type: ignore[arg-type]
    b.choose(8000)
    b.choose(3996)
    assert (a.ddir, a.threshold, a.issued) == (b.ddir, b.threshold, b.issued)
    assert a.choose(9000).tolist() == b.choose(9000).tolist()
