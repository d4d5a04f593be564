"""Block sizes: bsrange uniform over multiples of min, bssplit shares, redraw to fit."""

from __future__ import annotations

import numpy as np

from loadgen.engine.blocksize import BlockSizer
from loadgen.plan import BsSplitEntry

K = 1024


def test_bsrange_is_uniform_over_multiples_of_min() -> None:
    sizer = BlockSizer(4 * K, 64 * K, (), False)
    lens = sizer.draw(np.random.default_rng(0), 160_000)
    values, counts = np.unique(lens, return_counts=True)
    assert values.tolist() == [4 * K * i for i in range(1, 17)]
    assert np.all(np.abs(counts / len(lens) - 1 / 16) < 0.005)


def test_bs_unaligned_skips_rounding() -> None:
    sizer = BlockSizer(4 * K, 64 * K, (), True)
    lens = sizer.draw(np.random.default_rng(0), 10_000)
    assert (lens % (4 * K) != 0).any() and lens.min() >= 4 * K and lens.max() <= 64 * K


def test_bssplit_shares_follow_percentages() -> None:
    split = (BsSplitEntry(4 * K, 10), BsSplitEntry(32 * K, 40), BsSplitEntry(64 * K, 50))
    sizer = BlockSizer(4 * K, 64 * K, split, False)
    lens = sizer.draw(np.random.default_rng(2), 100_000)
    for bs, pct in ((4 * K, 10), (32 * K, 40), (64 * K, 50)):
        assert abs((lens == bs).mean() * 100 - pct) < 1.0


def test_draw_fitting_respects_room_and_fails_below_min() -> None:
    sizer = BlockSizer(4 * K, 64 * K, (), False)
    rng = np.random.default_rng(4)
    assert all(sizer.draw_fitting(rng, 12 * K) <= 12 * K for _ in range(200))
    assert sizer.draw_fitting(rng, 4 * K - 1) == 0
