"""The random map: next free block after a collision (with wrap), runs shortened at
the first used block, and the vectorised batch path equals the one-by-one definition."""

from __future__ import annotations

import numpy as np

from loadgen.engine import randmap
from loadgen.engine.randmap import RandomMap


def reference_claims(nblocks: int, candidates: list[int]) -> list[int]:
    """fio's rule written naively: take the candidate, else the next free after it."""
    used = [False] * nblocks
    out = []
    for c in candidates:
        if all(used):
            break
        b = c
        while used[b]:
            b = (b + 1) % nblocks
        used[b] = True
        out.append(b)
    return out


def test_collision_takes_next_free_block_and_wraps() -> None:
    m = RandomMap(4)
    assert m.claim_single(np.array([3, 3, 3, 3])).tolist() == [3, 0, 1, 2]
    assert m.full


def test_batch_claims_equal_reference_for_random_candidates() -> None:
    rng = np.random.default_rng(11)
    for nblocks in (1, 7, 64, 1000):
        m = RandomMap(nblocks)
        cands = rng.integers(0, nblocks, size=3 * nblocks)
        got: list[int] = []
        for chunk in np.array_split(cands, 5):
            got += m.claim_single(chunk).tolist()
        assert got == reference_claims(nblocks, cands.tolist())
        assert sorted(got) == list(range(nblocks))  # each block exactly once


def test_sparse_batch_without_collisions_is_taken_as_is() -> None:
    m = RandomMap(100)
    assert m.claim_single(np.array([5, 50, 7])).tolist() == [5, 50, 7]
    assert m.free == 97


def test_run_is_shortened_at_first_used_block() -> None:
    m = RandomMap(16)
    m.claim_single(np.array([6]))
    assert randmap._mark_run(m.words, 16, 4, 5) == 2  # blocks 4, 5; block 6 is used
    assert randmap._mark_run(m.words, 16, 14, 5) == 2  # stops at the map end, never wraps
    past_end = (1 << 64) - (1 << 16)  # bits past the last block stay set
    marked = (1 << 4) | (1 << 5) | (1 << 14) | (1 << 15)
    assert int(m.words[0]) == past_end | marked | (1 << 6)


def test_reset_clears_every_block() -> None:
    m = RandomMap(8)
    m.claim_single(np.arange(8))
    assert m.full
    m.reset()
    assert m.free == 8 and m.claim_single(np.array([2])).tolist() == [2]


def test_cycling_claims_clear_the_map_when_full() -> None:
    """Each time the map is full the candidate that found it so is spent (fio draws again
    after the reset): 50 candidates make 16 + 16 + 16 claims and the last one."""
    rng = np.random.default_rng(2)
    cands = rng.integers(0, 16, size=50)
    m = RandomMap(16)
    blocks, used = m.claim_cycling(cands, 50)
    want = reference_claims(16, cands[:16].tolist())
    want += reference_claims(16, cands[17:33].tolist()) + reference_claims(
        16, cands[34:50].tolist()
    )
    assert blocks.tolist() == want and used == 50
    assert m.free == 0


def test_cycling_claims_stop_at_the_count_asked_for() -> None:
    """Only the candidates the claims used are reported used, the spent one included."""
    cands = np.arange(40, dtype=np.int64) % 8
    m = RandomMap(8)
    blocks, used = m.claim_cycling(cands, 10)
    assert blocks.tolist() == list(range(8)) + [1, 2] and used == 11 and m.free == 6
