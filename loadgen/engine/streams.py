"""The job's independent random streams, seeded and generated the way fio's are.

fio gives every purpose its own state (offsets, rwmix, block size per direction,
random/sequential split, ...), each seeded from one of the job's ``rand_seeds``
(init.c ``setup_random_seeds``): ``randseed`` mixed with the job's thread_number, so
clones differ but replay.  With randrepeat every stream is re-seeded at each loop start,
so every loop repeats the same offsets and directions.  The generators are fio's
Tausworthe ones (``loadgen.engine.taus``), so a uniform random job's offsets, directions,
block sizes and percentage_random splits are fio's, number for number; the non-uniform
distributions draw from the offset stream but not in fio's order.
"""

from __future__ import annotations

import secrets

from loadgen.engine.taus import Tausworthe

OFFSET, RWMIX, BS_READ, BS_WRITE, SEQRAND_READ, SEQRAND_WRITE, DISTRIBUTION, STARTDELAY = range(8)
_NSTREAMS = 8

# fio's rand_seeds slots (fio.h, the enum ending in FIO_RAND_NR_OFFS)
SEED_BS, SEED_BS1, SEED_MIX, SEED_BLOCK = 0, 1, 4, 6
SEED_SEQ_RAND_READ, SEED_START_DELAY, SEED_ZONE = 10, 13, 16
NSEEDS = 24
_MIX = 0x9E370001
_M64 = (1 << 64) - 1


def fio_seeds(randseed: int, thread_number: int) -> tuple[int, ...]:
    """fio's ``rand_seeds`` of a repeatable job: the seed is stirred four times, then
    slot i gets ``seed * thread_number + i`` with one more stir per slot."""
    seed = randseed & _M64
    for _ in range(4):
        seed = (seed * _MIX) & _M64
    out: list[int] = []
    for i in range(NSEEDS):
        out.append((seed * thread_number + i) & _M64)
        seed = (seed * _MIX) & _M64
    return tuple(out)


class Streams:
    """One generator per purpose, each made on first use: a job draws from two or three
    of the eight.  A stream's numbers do not depend on which others were made.

    Each purpose takes fio's seed slot and word size for it (init.c
    ``td_fill_rand_seeds``): rwmix and percentage_random are always 32-bit, the others
    64-bit under ``random_generator=tausworthe64``; with verify both directions' block
    sizes come from the read slot, and both directions' percentage_random from one slot.
    """

    def __init__(self, seeds: tuple[int, ...], use64: bool, verify: bool) -> None:
        bs_write = SEED_BS if verify else SEED_BS1
        self._how = (
            (seeds[SEED_BLOCK], use64),  # OFFSET
            (seeds[SEED_MIX], False),  # RWMIX
            (seeds[SEED_BS], use64),  # BS_READ
            (seeds[bs_write], use64),  # BS_WRITE
            (seeds[SEED_SEQ_RAND_READ], False),  # SEQRAND_READ
            (seeds[SEED_SEQ_RAND_READ], False),  # SEQRAND_WRITE
            (seeds[SEED_ZONE], use64),  # DISTRIBUTION
            (seeds[SEED_START_DELAY], use64),  # STARTDELAY
        )
        self._gens: list[Tausworthe | None] = [None] * _NSTREAMS

    def _gen(self, i: int) -> Tausworthe:
        g = self._gens[i]
        if g is None:
            g = Tausworthe(*self._how[i])
            self._gens[i] = g
        return g

    @property
    def offset(self) -> Tausworthe:
        return self._gen(OFFSET)

    @property
    def rwmix(self) -> Tausworthe:
        return self._gen(RWMIX)

    def bs(self, direction: int) -> Tausworthe:
        """Block sizes of one direction (0 read, 1 write)."""
        return self._gen(BS_WRITE if direction else BS_READ)

    def seqrand(self, direction: int) -> Tausworthe:
        """percentage_random's sequential-or-random draw of one direction."""
        return self._gen(SEQRAND_WRITE if direction else SEQRAND_READ)

    @property
    def distribution(self) -> Tausworthe:
        return self._gen(DISTRIBUTION)

    @property
    def startdelay(self) -> Tausworthe:
        return self._gen(STARTDELAY)


class Seeder:
    """Makes the streams for each loop: the same ones every time when repeatable."""

    def __init__(
        self,
        randseed: int,
        thread_number: int,
        reseed: bool,
        fixed: bool,
        use64: bool = False,
        verify: bool = False,
    ) -> None:
        """``reseed``: every loop starts the streams again (randrepeat); ``fixed``: the
        seeds come from randseed (randrepeat, or randseed given), else from the OS."""
        self.repeatable = reseed
        self._use64 = use64
        self._verify = verify
        # fio seeds an unrepeatable job's slots from the OS; the streams then just
        # continue from loop to loop
        self.seeds = (
            fio_seeds(randseed, thread_number)
            if fixed
            else tuple(secrets.randbits(64) for _ in range(NSEEDS))
        )

    def make(self) -> Streams:
        return Streams(self.seeds, self._use64, self._verify)
