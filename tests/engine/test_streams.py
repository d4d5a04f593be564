"""The job's streams: fio's seed slots, the purposes' slots and word sizes, re-seeding."""

from __future__ import annotations

from loadgen.engine.streams import SEED_BLOCK, SEED_BS, SEED_BS1, SEED_MIX, Seeder, fio_seeds
from loadgen.engine.taus import Tausworthe

# fio 3.42 --debug=random of two jobs: the first with the default randseed (0x89), the
# second (thread_number 2) with randseed=1234; slots 0, 4, 6 and 23
FIO_SEEDS = {
    (0x89, 1): (5942511153023025289, 2501048522732208269, 6803328749335347343,
                2435071312708042912),
    (1234, 2): (9297673928085342628, 9912317889524795816, 12417362781497985450,
                12628550180020685243),
}


def test_seed_slots_are_fios() -> None:
    for (randseed, thread), want in FIO_SEEDS.items():
        got = fio_seeds(randseed, thread)
        assert len(got) == 24 and tuple(got[i] for i in (0, 4, 6, 23)) == want


def test_each_purpose_draws_from_its_slot() -> None:
    seeds = fio_seeds(0x89, 1)
    s = Seeder(0x89, 1, reseed=True, fixed=True).make()
    assert s.offset.raw(3).tolist() == Tausworthe(seeds[SEED_BLOCK]).raw(3).tolist()
    assert s.rwmix.raw(3).tolist() == Tausworthe(seeds[SEED_MIX]).raw(3).tolist()
    assert s.bs(0).raw(3).tolist() == Tausworthe(seeds[SEED_BS]).raw(3).tolist()
    assert s.bs(1).raw(3).tolist() == Tausworthe(seeds[SEED_BS1]).raw(3).tolist()
    # both directions' percentage_random streams start from one slot (fio's loop over
    # seq_rand_state seeds each with FIO_RAND_SEQ_RAND_READ_OFF)
    assert s.seqrand(0).raw(3).tolist() == s.seqrand(1).raw(3).tolist()


def test_tausworthe64_widens_all_but_rwmix_and_seqrand() -> None:
    s = Seeder(0x89, 1, reseed=True, fixed=True, use64=True).make()
    assert s.offset.use64 and s.bs(0).use64 and s.startdelay.use64
    assert not s.rwmix.use64 and not s.seqrand(0).use64


def test_verify_sizes_writes_from_the_read_slot() -> None:
    s = Seeder(0x89, 1, reseed=True, fixed=True, verify=True).make()
    assert s.bs(1).raw(3).tolist() == s.bs(0).raw(3).tolist()


def test_fixed_seeds_repeat_across_runs_and_os_seeds_do_not() -> None:
    a = Seeder(5, 3, reseed=False, fixed=True).make().offset.raw(4).tolist()
    b = Seeder(5, 3, reseed=False, fixed=True).make().offset.raw(4).tolist()
    c = Seeder(5, 3, reseed=False, fixed=False).make().offset.raw(4).tolist()
    d = Seeder(5, 3, reseed=False, fixed=False).make().offset.raw(4).tolist()
    assert a == b and c != d and a != c
