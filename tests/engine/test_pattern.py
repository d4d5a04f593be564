"""Where I/Os go (fio §2.1-2.5): cursors, random map coverage, replayed loops, seeds,
offsets of clones, holes, distributions."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from loadgen.engine import pattern as pattern_mod
from loadgen.engine.pattern import AccessPattern, region_bounds
from loadgen.plan import BsSplitEntry
from tests.engine.conftest import loop_ios, make_job

K = 1024
M = 1024 * 1024


@pytest.mark.parametrize("rw", ["randread", "randwrite", "randrw"])
def test_random_map_touches_every_block_once_per_loop(rw: str) -> None:
    p = AccessPattern(make_job(rw=rw, size=4 * M))
    for _ in range(2):
        ios = loop_ios(p)
        assert sorted(o for o, _, _ in ios) == list(range(0, 4 * M, 4 * K))
        p.start_loop()


def test_random_map_with_bsrange_covers_size_exactly() -> None:
    p = AccessPattern(
        make_job(rw="randwrite", size=1 * M, bs_min=(4 * K, 4 * K), bs_max=(64 * K, 64 * K))
    )
    ios = loop_ios(p)
    assert sum(n for _, n, _ in ios) == 1 * M
    touched = np.zeros(1 * M // (4 * K), dtype=int)
    for o, n, _ in ios:
        touched[o // (4 * K) : (o + n) // (4 * K)] += 1
    assert (touched == 1).all()


@pytest.mark.parametrize(
    "extra",
    [
        {"rw": "randrw", "bs_min": (4 * K, 4 * K), "bs_max": (16 * K, 16 * K)},
        {
            "rw": "randwrite",
            "bssplit": ((BsSplitEntry(4 * K, 70), BsSplitEntry(32 * K, 30)),) * 2,
            "bs_min": (4 * K, 4 * K),
            "bs_max": (32 * K, 32 * K),
        },
    ],
)
def test_random_map_with_drawn_lengths_covers_each_block_once(extra: dict[str, object]) -> None:
    p = AccessPattern(make_job(size=2 * M, **extra))
    for _ in range(2):
        ios = loop_ios(p)
        touched = np.zeros(2 * M // (4 * K), dtype=int)
        for o, n, _ in ios:
            assert o % (4 * K) == 0 and n % (4 * K) == 0 and 4 * K <= n <= 32 * K
            touched[o // (4 * K) : (o + n) // (4 * K)] += 1
        assert (touched == 1).all()
        assert len({n for _, n, _ in ios}) > 1  # lengths really are drawn
        p.start_loop()


def test_time_based_random_map_with_bsrange_clears_a_full_map_and_goes_on() -> None:
    p = AccessPattern(
        make_job(
            rw="randwrite",
            size=256 * K,
            bs_min=(4 * K, 4 * K),
            bs_max=(16 * K, 16 * K),
            time_based=True,
            runtime_ns=10**9,
        )
    )
    batch = p.next_batch(4096)
    assert not p.exhausted
    assert int(batch.lengths.sum()) > 8 * 256 * K  # many times the region in one batch


def test_loops_replay_the_same_offsets_and_directions() -> None:
    job = make_job(rw="randrw", size=1 * M)
    p = AccessPattern(job)
    first = loop_ios(p)
    p.start_loop()
    assert loop_ios(p) == first  # replayed from the recorded loop


def test_regenerated_loop_equals_first_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the replay shortcut the re-seeded streams give the same loop again."""
    monkeypatch.setattr(pattern_mod, "REPLAY_MAX_OPS", 0)
    p = AccessPattern(make_job(rw="randrw", size=1 * M))
    first = loop_ios(p)
    p.start_loop()
    assert p.template_ops == 0
    assert loop_ios(p) == first


def test_thread_number_changes_the_sequence() -> None:
    a = loop_ios(AccessPattern(make_job(rw="randrw", size=1 * M, thread_number=1)))
    b = loop_ios(AccessPattern(make_job(rw="randrw", size=1 * M, thread_number=2)))
    assert a != b and sorted(o for o, _, _ in a) == sorted(o for o, _, _ in b)


def test_same_seed_same_sequence_different_seed_different() -> None:
    a = loop_ios(AccessPattern(make_job(rw="randrw", size=1 * M, randseed=5)))
    b = loop_ios(AccessPattern(make_job(rw="randrw", size=1 * M, randseed=5)))
    c = loop_ios(AccessPattern(make_job(rw="randrw", size=1 * M, randseed=6)))
    assert a == b != c


def test_randrepeat_off_changes_each_loop() -> None:
    p = AccessPattern(make_job(rw="randrw", size=1 * M, randrepeat=False))
    first = loop_ios(p)
    p.start_loop()
    assert loop_ios(p) != first


def test_rw_keeps_independent_cursors_from_zero() -> None:
    """rw=rw: reads and writes each walk from offset 0 (R0 R1 R2 W0 R3 ...)."""
    p = AccessPattern(make_job(rw="rw", size=64 * 4 * K))
    ios = loop_ios(p)[:40]
    for d in (0, 1):
        offs = [o for o, _, dd in ios if dd == d]
        assert offs == list(range(0, 4 * K * len(offs), 4 * K))
    assert {d for _, _, d in ios} == {0, 1}


def test_sequential_holes_from_rw_postfix() -> None:
    p = AccessPattern(make_job(rw="write", rw_postfix=4 * K, size=64 * K))
    offs = [o for o, _, _ in loop_ios(p, limit=12)][:12]
    # holes of 4k after each I/O; past the end the cursor wraps to the start (fio)
    assert offs[:8] == [0, 8 * K, 16 * K, 24 * K, 32 * K, 40 * K, 48 * K, 56 * K]
    assert offs[8] == 0


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        # fio's iologs of size=64k bs=4k rw=read:<skip> (the offsets in KiB)
        (-8, [0, 56, 52, 48, 44, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4, 0]),
        (-12, [0, 52, 44, 36, 28, 20, 12, 4, 52, 44, 36, 28, 20, 12, 4, 52]),
        (-60, [0] + [4] * 15),
        (-64, [0] * 16),
        (60, [0] * 16),
    ],
)
def test_backward_skips_wrap_to_the_end_as_fio(skip: int, expected: list[int]) -> None:
    p = AccessPattern(make_job(rw="read", rw_postfix=skip * K, size=64 * K))
    ios = loop_ios(p)
    # the walk never runs out of offsets: the loop ends after its bytes (size)
    assert [o // K for o, _, _ in ios] == expected
    assert sum(n for _, n, _ in ios) == 64 * K


def test_a_backward_walk_goes_on_in_the_next_loop() -> None:
    # fio (checked): rw=read:-12k loops=2 continues from the last offset, no restart
    p = AccessPattern(make_job(rw="read", rw_postfix=-12 * K, size=64 * K, loops=2))
    first = [o // K for o, _, _ in loop_ios(p)]
    p.start_loop()
    second = [o // K for o, _, _ in loop_ios(p)]
    assert first[-1] == 52 and second[:3] == [44, 36, 28]


def test_backward_skips_with_drawn_lengths_stay_in_the_region() -> None:
    job = make_job(rw="read", rw_postfix=-8 * K, size=256 * K, bs_min=(4 * K, 4 * K),
                   bs_max=(16 * K, 16 * K))
    ios = loop_ios(AccessPattern(job))
    assert ios and all(o >= 0 and o + n <= 256 * K for o, n, _ in ios)
    assert sum(n for _, n, _ in ios) <= 256 * K + 16 * K


def test_random_postfix_identical_repeats_offsets() -> None:
    job = make_job(rw="randread", rw_postfix=4, rw_sequencer="identical", size=1 * M)
    offs = [o for o, _, _ in loop_ios(AccessPattern(job))][:40]
    # Only every 4th I/O takes a new random offset; the others repeat the last one.
    assert len(set(offs)) <= 12
    seq = [o for o, _, _ in loop_ios(AccessPattern(replace(job, rw_sequencer="sequential")))][:8]
    assert seq[1] == seq[0] + 4 * K


def test_percentage_random_mixes_sequential_steps() -> None:
    job = make_job(rw="randread", percentage_random=(50, 50), size=4 * M, norandommap=True)
    ios = loop_ios(AccessPattern(job), limit=20_000)
    steps = sum(1 for (a, n, _), (b, _, _) in zip(ios, ios[1:], strict=False) if b == a + n)
    assert 0.35 < steps / len(ios) < 0.65


def test_offset_increment_moves_each_clone() -> None:
    for subjob in range(4):
        job = make_job(rw="write", size=1 * M, subjob=subjob, offset_increment=128 * K)
        offs = [o for o, _, _ in loop_ios(AccessPattern(job))]
        assert offs[0] == subjob * 128 * K and offs[-1] == 1 * M - 4 * K
        assert len(offs) == (1 * M - subjob * 128 * K) // (4 * K)


def test_offset_increment_beyond_size_means_no_io() -> None:
    p = AccessPattern(make_job(rw="randwrite", size=1 * M, subjob=1, offset_increment=1 * M))
    assert p.exhausted and loop_ios(p) == []


def test_offset_percent_covers_the_tail() -> None:
    job = make_job(rw="randrw", size=1 * M, offset_percent=25)
    assert region_bounds(job) == (256 * K, 1 * M)
    offs = sorted(o for o, _, _ in loop_ios(AccessPattern(job)))
    assert offs == list(range(256 * K, 1 * M, 4 * K))


def test_size_rounds_down_to_block_size() -> None:
    assert len(loop_ios(AccessPattern(make_job(rw="write", size=10 * K)))) == 2
    assert len(loop_ios(AccessPattern(make_job(rw="randwrite", size=10 * K)))) == 2


def test_norandommap_samples_with_replacement() -> None:
    p = AccessPattern(make_job(rw="randread", size=1 * M, norandommap=True))
    assert p.map is None
    batch = p.next_batch(4096)
    assert len(set(batch.offsets.tolist())) < 4096 and batch.offsets.max() <= 1 * M - 4 * K


def test_blockalign_turns_the_map_off_and_aligns() -> None:
    job = make_job(rw="randwrite", size=4 * M, blockalign=(64 * K, 64 * K))
    p = AccessPattern(job)
    assert p.map is None
    batch = p.next_batch(1000)
    assert not (batch.offsets % (64 * K)).any()


def test_zipf_is_skewed() -> None:
    job = make_job(
        rw="randread", size=64 * M, random_distribution="zipf", distribution_params=(1.2,)
    )
    p = AccessPattern(job)
    assert p.map is None
    offs = np.concatenate([p.next_batch(4096).offsets for _ in range(10)])
    top = Counter(offs.tolist()).most_common(160)  # 1% of 16384 blocks
    assert sum(c for _, c in top) / len(offs) > 0.4


def test_pareto_is_skewed() -> None:
    job = make_job(
        rw="randread", size=64 * M, random_distribution="pareto", distribution_params=(0.2,)
    )
    offs = np.concatenate([AccessPattern(job).next_batch(4096).offsets for _ in range(5)])
    top = Counter(offs.tolist()).most_common(3277)  # 20% of blocks
    assert sum(c for _, c in top) / len(offs) > 0.6


def test_normal_concentrates_values_then_hashes_them() -> None:
    job = make_job(
        rw="randread", size=64 * M, random_distribution="normal", distribution_params=(5.0,)
    )
    offs = np.concatenate([AccessPattern(job).next_batch(4096).offsets for _ in range(5)])
    assert len(set(offs.tolist())) < 0.5 * len(offs)  # few distinct blocks, spread by the hash


def test_zoned_puts_access_share_in_its_region_share() -> None:
    job = make_job(
        rw="randread",
        size=16 * M,
        random_distribution="zoned",
        zones=(((80.0, 20), (20.0, 80)), ()),
    )
    offs = np.concatenate([AccessPattern(job).next_batch(4096).offsets for _ in range(10)])
    assert abs((offs < 16 * M * 20 // 100).mean() - 0.80) < 0.02


def test_zoned_abs_uses_byte_sizes() -> None:
    job = make_job(
        rw="randread",
        size=16 * M,
        random_distribution="zoned_abs",
        zones=(((50.0, 1 * M), (50.0, 15 * M)), ()),
    )
    offs = np.concatenate([AccessPattern(job).next_batch(4096).offsets for _ in range(10)])
    assert abs((offs < 1 * M).mean() - 0.5) < 0.03


def test_bssplit_lengths_in_random_job_without_map() -> None:
    split = (BsSplitEntry(4 * K, 50), BsSplitEntry(16 * K, 50))
    job = make_job(
        rw="randwrite",
        size=16 * M,
        bssplit=(split, split),
        norandommap=True,
        bs_min=(4 * K, 4 * K),
        bs_max=(16 * K, 16 * K),
    )
    batch = AccessPattern(job).next_batch(4096)
    assert set(batch.lengths.tolist()) == {4 * K, 16 * K}
    assert (batch.offsets + batch.lengths <= 16 * M).all()


def test_lfsr_touches_every_block_once_without_a_map() -> None:
    p = AccessPattern(
        make_job(rw="randwrite", size=4 * M, random_generator="lfsr", norandommap=True)
    )
    assert p.map is None and p.lfsr is not None
    for _ in range(2):
        offs = [o for o, _, _ in loop_ios(p)]
        assert sorted(offs) == list(range(0, 4 * M, 4 * K)) and offs != sorted(offs)
        p.start_loop()


def test_lfsr_yields_each_value_once_then_stops() -> None:
    """A 3-bit register (fio's taps 3,2) covers 0..6 once from any legal seed, then ends."""
    from loadgen.engine.lfsr import Lfsr

    for seed in range(7):
        lfsr = Lfsr(7, seed)
        got = lfsr.take(10).tolist()
        assert sorted(got) == list(range(7)) and lfsr.done and not len(lfsr.take(1))


def test_unknown_random_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="random_generator"):
        AccessPattern(make_job(rw="randread", size=1 * M, random_generator="mt19937"))


def test_per_direction_block_sizes_use_fios_map_rules() -> None:
    """bs=4k,16k with rw=randrw: reads 4k, writes 16k, each at its own block number in the
    4k-granular map; the loop ends when a write's next free block lies past the end."""
    job = make_job(
        rw="randrw",
        size=16 * M,
        bs_min=(4 * K, 16 * K),
        bs_max=(4 * K, 16 * K),
        blockalign=(4 * K, 16 * K),
    )
    ios = loop_ios(AccessPattern(job))
    reads = [o for o, n, d in ios if d == 0]
    writes = [o for o, n, d in ios if d == 1]
    assert {n for _, n, d in ios if d == 0} == {4 * K} and {n for _, n, d in ios if d == 1} == {
        16 * K
    }
    assert not any(o % (16 * K) for o in writes) and all(o + 16 * K <= 16 * M for o in writes)
    assert all(o + 4 * K <= 16 * M for o in reads)
    assert 800 < len(ios) < 1100  # fio 3.42 runs 952 with its seed


def _zone_job(**kw: object) -> AccessPattern:
    base: dict[str, object] = {"size": 1 * M, "zone_size": 64 * K, "zone_range": 64 * K,
                               "zone_skip": 192 * K}
    base.update(kw)
    return AccessPattern(make_job(**base))


def test_strided_zones_touch_only_the_zones_in_turn() -> None:
    ios = loop_ios(_zone_job(rw="read"))
    # fio's iolog: 16 blocks at 0, 256k, 512k, 768k, then the same zones again
    assert sum(n for _, n, _ in ios) == 1 * M
    starts = [o // K for o, _, _ in ios[::16]]
    assert starts == [0, 256, 512, 768] * 4
    assert all(o % (256 * K) < 64 * K for o, _, _ in ios)


@pytest.mark.parametrize("rw", ["randread", "randwrite"])
def test_random_zone_visits_use_each_block_of_the_zone_once(rw: str) -> None:
    ios = loop_ios(_zone_job(rw=rw))
    assert len(ios) == 256
    for visit in range(16):
        blocks = sorted(o // (4 * K) for o, _, _ in ios[visit * 16:(visit + 1) * 16])
        first = (visit % 4) * 64
        assert blocks == list(range(first, first + 16))


def test_a_zone_smaller_than_its_range_takes_a_random_part_of_it() -> None:
    ios = loop_ios(_zone_job(rw="randread", zone_size=32 * K, zone_range=64 * K,
                             zone_skip=64 * K))
    for visit in range(len(ios) // 8):
        offs = [o for o, _, _ in ios[visit * 8:(visit + 1) * 8]]
        zone = (visit % 8) * 128 * K
        assert len(set(offs)) == 8 and all(zone <= o < zone + 64 * K for o in offs)


def test_a_zone_larger_than_its_range_goes_round_it_again() -> None:
    offs = [o // K for o, _, _ in loop_ios(_zone_job(rw="read", zone_size=128 * K,
                                                     zone_skip=64 * K))]
    assert offs[:32] == list(range(0, 64, 4)) * 2
    assert offs[32] == 128


def test_zones_end_the_loop_at_the_region_end() -> None:
    # 800k: the fourth zone (768k) has 32k left, then an I/O would cross the end (fio)
    ios = loop_ios(_zone_job(rw="write", size=800 * K))
    assert sum(n for _, n, _ in ios) == 3 * 64 * K + 32 * K
    assert max(o + n for o, n, _ in ios) == 800 * K


@pytest.mark.parametrize("extra", [
    {"random_generator": "lfsr"},
    {"norandommap": True},
    {"bs_min": (4 * K, 4 * K), "bs_max": (16 * K, 16 * K)},
])
def test_every_random_kind_stays_in_its_zones(extra: dict[str, object]) -> None:
    ios = loop_ios(_zone_job(rw="randread", **extra))
    assert sum(n for _, n, _ in ios) >= 1 * M
    assert all(o % (256 * K) + n <= 64 * K for o, n, _ in ios)


SPREAD = [("zipf", (1.2, -1.0)), ("pareto", (0.5, -1.0)), ("normal", (0.0, -1.0))]


@pytest.mark.parametrize(("kind", "params"), SPREAD)
def test_zipf_pareto_normal_in_zones_draw_over_the_region_from_the_zone_start(
    kind: str, params: tuple[float, ...]
) -> None:
    # fio (checked, zipf:1.2 with 64k zones every 256k of 1m): the first visit's 16 I/Os
    # land anywhere in the region, later ones at the zone start plus such an offset, and
    # the first that lands at or past the region end ends the loop (one run: 22 of 256)
    ios = loop_ios(_zone_job(rw="randread", random_distribution=kind, distribution_params=params))
    assert 16 <= len(ios) < 256
    assert any(o >= 64 * K for o, _, _ in ios[:16])
    for i, (o, n, _) in enumerate(ios):
        assert o >= (i // 16) % 4 * 256 * K and o + n <= 1 * M


@pytest.mark.parametrize(("kind", "params"), SPREAD)
def test_zipf_pareto_normal_in_one_zone_cover_the_region(
    kind: str, params: tuple[float, ...]
) -> None:
    # zones 1m apart in 1m: every visit is at 0, and each I/O goes anywhere in the region
    ios = loop_ios(
        _zone_job(
            rw="randread",
            zone_skip=1 * M - 64 * K,
            random_distribution=kind,
            distribution_params=params,
        )
    )
    assert len(ios) == 256
    assert len({o // (64 * K) for o, _, _ in ios}) > 4


def test_zipf_in_zones_with_percentage_random_leaves_the_zone_too() -> None:
    # zipf:40 centred at 0.75 draws block 192 (768k) all but always; fio (checked): the
    # random I/Os of zone 0 go there, the sequential ones round zone 0, and zone 1's first
    # random I/O (at 1m) ends the loop
    ios = loop_ios(
        _zone_job(
            rw="randread",
            random_distribution="zipf",
            distribution_params=(40.0, 0.75),
            percentage_random=(50, 50),
        )
    )
    assert 16 <= len(ios) < 256
    assert {o for o, _, _ in ios[:16]} - set(range(0, 64 * K, 4 * K)) == {768 * K}
    assert all(o + n <= 1 * M for o, n, _ in ios)


def test_zipf_blocks_count_the_whole_size_not_io_size() -> None:
    # fio sizes the distribution by the file (size), not by io_size (checked: offsets up
    # to 4m with size=4m io_size=1m)
    p = AccessPattern(
        make_job(
            rw="randread",
            size=4 * M,
            io_size=1 * M,
            random_distribution="zipf",
            distribution_params=(1.2, -1.0),
        )
    )
    assert p.next_batch(256).offsets.max() >= 1 * M


def test_a_larger_write_blockalign_takes_zipf_blocks_past_the_end() -> None:
    # bs=4k,64k: blocks count 4k ranges, a write's offset is the block times 64k, so most
    # writes would start past the region, and the first of them ends the loop (fio: 3 I/Os)
    ios = loop_ios(
        AccessPattern(
            make_job(
                rw="randrw",
                size=4 * M,
                bs_min=(4 * K, 64 * K),
                bs_max=(4 * K, 64 * K),
                blockalign=(4 * K, 64 * K),
                random_distribution="pareto",
                distribution_params=(0.5, -1.0),
            )
        )
    )
    assert len(ios) < 64
    assert all(o + n <= 4 * M for o, n, _ in ios)


def test_zipf_with_the_shift_register_still_draws_zipf() -> None:
    # fio: a zipf job has no shift register, random_generator=lfsr or not
    p = AccessPattern(
        make_job(
            rw="randread",
            size=4 * M,
            random_generator="lfsr",
            random_distribution="zipf",
            distribution_params=(1.2, -1.0),
        )
    )
    assert p.lfsr is None
    assert len(set(p.next_batch(1024).offsets.tolist())) < 900


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        # fio's iologs of size=64k offset=50% rw=read:<skip> (KiB): a backward walk with a
        # start offset begins at the end, and ends where fio's unsigned checks refuse
        (4, [32, 40, 48, 56]),
        (-8, [56, 52, 48, 44, 40, 36, 32]),
        (-4, [60]),
        (-64, [32] * 16),
    ],
)
def test_skips_with_a_start_offset_follow_fio(skip: int, expected: list[int]) -> None:
    p = AccessPattern(make_job(rw="read", rw_postfix=skip * K, size=64 * K, offset_percent=50))
    assert [o // K for o, _, _ in loop_ios(p)] == expected


def test_zones_go_on_with_the_next_zone_in_the_next_loop() -> None:
    # fio (checked, loops=2): a loop that ends at its bytes leaves the zones where they are
    p = _zone_job(rw="read", zone_skip=128 * K, loops=2)
    first = loop_ios(p)
    p.start_loop()
    second = loop_ios(p)
    zones = [o // (64 * K) for o, _, _ in first[::16]] + [o // (64 * K) for o, _, _ in second[::16]]
    assert zones == [0, 3, 6, 9, 12, 15] * 5 + [0, 3]


def test_zones_start_again_after_the_region_end_ended_a_loop() -> None:
    p = _zone_job(rw="write", size=800 * K)
    first = loop_ios(p)
    p.start_loop()
    assert loop_ios(p) == first


@pytest.mark.parametrize(
    ("stride", "blocks"),
    [
        (False, [2, 0, 1, 2, 0, 1]),  # fio's examples/sequence-distribution.fio, job 1
        (True, [2, 0, 1, 5, 3, 4]),  # ... job 2: each cycle moves on by the sequence length
    ],
)
def test_sequence_distribution_issues_the_listed_blocks(stride: bool, blocks: list[int]) -> None:
    job = make_job(rw="randread", size=12 * 4096, io_size=6 * 4096, bs_min=(4096, 4096),
                   bs_max=(4096, 4096), random_distribution="sequence",
                   random_sequence=(2, 0, 1), random_sequence_stride=stride)
    # the pattern cycles on; the runner's byte budget (io_size) ends the loop at 6
    assert [off // 4096 for off, _, _ in loop_ios(AccessPattern(job))][:6] == blocks


def test_a_strided_sequence_ends_the_loop_at_the_first_block_past_the_end() -> None:
    job = make_job(rw="randread", size=8 * 4096, bs_min=(4096, 4096), bs_max=(4096, 4096),
                   random_distribution="sequence", random_sequence=(3, 1, 2, 0, 5),
                   random_sequence_stride=True)
    assert [off // 4096 for off, _, _ in loop_ios(AccessPattern(job))] == [3, 1, 2, 0, 5]
    # the next cycle's first block is 5 + 3 = 8: past the 8 blocks, so it ends there


def test_a_sequence_block_outside_the_region_is_refused() -> None:
    job = make_job(rw="randread", size=4 * 4096, bs_min=(4096, 4096), bs_max=(4096, 4096),
                   random_distribution="sequence", random_sequence=(1, 4))
    with pytest.raises(ValueError, match="sequence access block 4 in base pattern out of bounds"):
        AccessPattern(job)
