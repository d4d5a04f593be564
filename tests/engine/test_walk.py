"""fio's offset walk in compiled code: modes decided per batch, cursors carried across
batches, block-size draws refilled mid-batch."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.engine import walk
from loadgen.engine.pattern import AccessPattern
from tests.engine.conftest import loop_ios, make_job

K = 1024
M = 1024 * 1024


def ios_in_batches(
    job_kw: dict[str, object], batch: int, limit: int = 3000
) -> list[tuple[int, int, int]]:
    p = AccessPattern(make_job(**job_kw))
    out: list[tuple[int, int, int]] = []
    while not p.exhausted and len(out) < limit:
        b = p.next_batch(batch)
        out.extend(zip(b.offsets.tolist(), b.lengths.tolist(), b.dirs.tolist(), strict=True))
    return out[:limit]


@pytest.mark.parametrize(
    "job_kw",
    [
        {"rw": "randread", "rw_postfix": 8, "size": 4 * M},
        {"rw": "randrw", "rw_postfix": 3, "rw_sequencer": "identical", "size": 4 * M},
        {"rw": "randrw", "percentage_random": (30, 70), "size": 4 * M},
        {"rw": "rw", "rw_postfix": 4 * K, "size": 4 * M},
    ],
)
def test_batch_size_does_not_change_the_ios(job_kw: dict[str, object]) -> None:
    # the rw=<mode>:N counter, the cursors and the map carry from one batch to the next
    whole = ios_in_batches(job_kw, 4096)
    assert whole and ios_in_batches(job_kw, 5) == whole
    assert ios_in_batches(job_kw, 1, limit=400) == whole[:400]


def test_every_nth_io_decides_and_the_others_follow_on() -> None:
    ios = loop_ios(AccessPattern(make_job(rw="randread", rw_postfix=8, size=64 * M)))
    for i in range(1, 800):
        (prev, n, _), (off, _, _) = ios[i - 1], ios[i]
        if i % 8:  # fio: the counter starts at 1, so the first I/O and every 8th are random
            assert off == prev + n
    # the deciding I/Os are random: they do not follow on
    jumps = sum(ios[i][0] != ios[i - 1][0] + ios[i - 1][1] for i in range(8, 800, 8))
    assert jumps >= 95


def test_identical_repeats_the_directions_last_offset() -> None:
    ios = loop_ios(
        AccessPattern(make_job(rw="randread", rw_postfix=4, rw_sequencer="identical", size=64 * M))
    )
    for i in range(1, 400):
        if i % 4:  # the first I/O and every 4th decide (random), the others repeat
            assert ios[i][0] == ios[i - 1][0]
    assert len({ios[i][0] for i in range(0, 400, 4)}) > 90


def test_random_ios_through_the_map_take_blocks_no_random_io_took() -> None:
    job = make_job(rw="randwrite", rw_postfix=4, size=1 * M)
    ios = loop_ios(AccessPattern(job))
    taken: set[int] = set()
    for i, (off, _, _) in enumerate(ios):
        if i % 4 == 0:  # a random one: never a block an earlier random one used
            assert off not in taken
            taken.add(off)
    assert len(taken) == 256  # and the loop ends once the map is full


def _geometry(start: int, end: int, bs_min: int, bs_max: int) -> np.ndarray:
    from loadgen.engine import randmap

    geo = np.zeros(randmap.G_SIZE, dtype=np.int64)
    for d in (0, 1):
        g = randmap.G_STRIDE * d
        geo[g + randmap.G_LASTB] = (end - start) // bs_min
        geo[g + randmap.G_BA] = bs_min
        geo[g + randmap.G_MIN] = bs_min
        geo[g + randmap.G_MAX] = bs_max
    geo[randmap.G_START], geo[randmap.G_END] = start, end
    return geo


def _walk(
    u_bs: np.ndarray, cur: np.ndarray, n: int, offset: int
) -> tuple[int, int, np.ndarray, np.ndarray]:
    geo = _geometry(0, 64 * K, 4 * K, 16 * K)
    dirs = np.ones(n, dtype=np.int8)
    modes = np.full(n, walk.SEQ, dtype=np.int8)
    offs = np.zeros(n, dtype=np.int64)
    lens = np.zeros(n, dtype=np.int64)
    none = np.zeros(5, dtype=np.uint64)
    made, status = walk.walk(
        dirs,
        modes,
        np.zeros(n),
        np.zeros(n, dtype=np.int64),
        geo,
        np.zeros(1, dtype=np.int64),
        np.zeros(1),
        u_bs,
        cur,
        np.zeros(1, dtype=np.uint64),
        0,
        none,
        none,
        walk.SRC_NONE,
        offset,
        False,
        False,
        False,
        0,
        0,
        offs,
        lens,
        np.zeros(3, dtype=np.int64),
    )
    return made, status, offs[:made], lens[:made]


def test_a_walk_out_of_size_draws_stops_and_goes_on_where_it_was() -> None:
    draws = np.array([0.9, 0.1, 0.5, 0.2, 0.7, 0.3])
    cur = np.array([0, 0, -1, -1, -1, 0], dtype=np.int64)
    made, status, offs, lens = _walk(np.tile(draws[:2], (2, 1)), cur, 6, 0)
    assert (made, status) == (2, walk.NEED_DRAWS)
    made2, status2, offs2, lens2 = _walk(np.tile(draws[2:], (2, 1)), cur, 4, 0)
    whole = _walk(np.tile(draws, (2, 1)), np.array([0, 0, -1, -1, -1, 0], dtype=np.int64), 6, 0)
    assert whole[0] == made + made2
    assert np.concatenate([offs, offs2]).tolist() == whole[2].tolist()
    assert np.concatenate([lens, lens2]).tolist() == whole[3].tolist()


def test_a_sequential_walk_ends_at_the_region_end_and_holes_wrap() -> None:
    cur = np.array([0, 0, -1, -1, -1, 0], dtype=np.int64)
    made, status, offs, lens = _walk(np.full((2, 64), 0.0), cur, 64, 0)
    assert (made, status) == (16, walk.EXHAUSTED)
    assert offs.tolist() == list(range(0, 64 * K, 4 * K)) and set(lens.tolist()) == {4 * K}
    # with 4k holes a step past the end wraps to the start (fio): the loop ends at its bytes
    cur = np.array([0, 0, -1, -1, -1, 0], dtype=np.int64)
    made, status, offs, _ = _walk(np.full((2, 64), 0.0), cur, 12, 4 * K)
    assert (made, status) == (12, walk.OK)
    assert offs.tolist() == [*range(0, 64 * K, 8 * K), 0, 8 * K, 16 * K, 24 * K]


def test_only_random_ios_mark_the_map() -> None:
    # fio marks the map for an I/O with a random offset only (IO_U_F_BUSY_OK otherwise),
    # so later random I/Os may land on blocks that sequential ones wrote
    from loadgen.engine import randmap

    geo = _geometry(0, 64 * K, 4 * K, 4 * K)
    geo[randmap.G_FIXED] = geo[randmap.G_STRIDE + randmap.G_FIXED] = 1
    words = np.zeros(1, dtype=np.uint64)
    randmap._clear(words, 16)
    cur = np.array([0, 0, -1, -1, -1, 16], dtype=np.int64)
    none = np.zeros(5, dtype=np.uint64)

    def run(modes: list[int], u: list[float]) -> list[int]:
        n = len(modes)
        offs = np.zeros(n, dtype=np.int64)
        made, _ = walk.walk(
            np.ones(n, dtype=np.int8),
            np.array(modes, dtype=np.int8),
            np.array(u),
            np.zeros(n, dtype=np.int64),
            geo,
            np.zeros(1, dtype=np.int64),
            np.zeros(1),
            np.zeros((2, 4)),
            cur,
            words,
            16,
            none,
            none,
            walk.SRC_MAP,
            0,
            False,
            False,
            False,
            0,
            0,
            offs,
            np.zeros(n, dtype=np.int64),
            np.zeros(3, dtype=np.int64),
        )
        return [int(o) // (4 * K) for o in offs[:made]]

    assert run([walk.SEQ, walk.SEQ, walk.SEQ], [0.0] * 3) == [0, 1, 2]
    assert cur[walk.CUR_FREE] == 16 and int(words[0]) & 0xFFFF == 0
    # a random draw of block 1 takes it (free in the map although written), then block 1
    # again is used, so the next free one, 2
    assert run([walk.RAND, walk.RAND], [1 / 16, 1 / 16]) == [1, 2]
    assert cur[walk.CUR_FREE] == 14


def test_bs_is_seq_rand_sizes_by_mode_and_places_by_direction() -> None:
    # fio (checked): randread bs=64k,4k bs_is_seq_rand=1 on 4 MiB does 34-63 reads of 4k
    # at 64k offsets (the map, indexed by 64k blocks, ends the loop at its first wrap)
    ios = loop_ios(
        AccessPattern(
            make_job(
                rw="randread",
                size=4 * M,
                bs_min=(64 * K, 4 * K),
                bs_max=(64 * K, 4 * K),
                blockalign=(64 * K, 4 * K),  # fio's default: each direction's block size
                bs_is_seq_rand=True,
            )
        )
    )
    assert 1 < len(ios) <= 64
    assert {n for _, n, _ in ios} == {4 * K} and all(o % (64 * K) == 0 for o, _, _ in ios)
    # with rw=randwrite:2 the random I/O (the first, fio's counter starts at 1) is sized by
    # the write slot, the next by the read one
    ios = loop_ios(
        AccessPattern(
            make_job(
                rw="randwrite",
                rw_postfix=2,
                size=4 * M,
                bs_min=(4 * K, 16 * K),
                bs_max=(4 * K, 16 * K),
                blockalign=(4 * K, 16 * K),
                bs_is_seq_rand=True,
            )
        ),
        limit=200,
    )
    assert [n for _, n, _ in ios[:6]] == [16 * K, 4 * K] * 3
