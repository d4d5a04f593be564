"""The job's independent random streams, seeded the way fio seeds them.

fio gives every purpose its own stream (offsets, rwmix, block size per direction,
random/sequential split, ...), seeded from ``randseed`` and the job's thread_number so
that clones differ but replay.  With randrepeat every stream is re-seeded at each
loop start, so every loop repeats the same offsets and directions.  The generator is
numpy's PCG64, not fio's taus88: shapes and replay semantics match, numbers do not.
"""

from __future__ import annotations

import secrets

import numpy as np

OFFSET, RWMIX, BS_READ, BS_WRITE, SEQRAND_READ, SEQRAND_WRITE, DISTRIBUTION, STARTDELAY = range(8)
_NSTREAMS = 8


class Streams:
    """One numpy Generator per purpose, each made on first use: a job draws from two or
    three of the eight, and a Generator costs tens of µs (a storm worker makes them in
    its setup).  A stream's numbers do not depend on which others were made."""

    def __init__(self, root: list[int]) -> None:
        self._root = root
        self._gens: list[np.random.Generator | None] = [None] * _NSTREAMS

    def _gen(self, i: int) -> np.random.Generator:
        g = self._gens[i]
        if g is None:
            g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._root + [i])))
            self._gens[i] = g
        return g

    @property
    def offset(self) -> np.random.Generator:
        return self._gen(OFFSET)

    @property
    def rwmix(self) -> np.random.Generator:
        return self._gen(RWMIX)

    def bs(self, direction: int) -> np.random.Generator:
        """Block sizes of one direction (0 read, 1 write)."""
        return self._gen(BS_WRITE if direction else BS_READ)

    def seqrand(self, direction: int) -> np.random.Generator:
        """percentage_random's sequential-or-random draw of one direction."""
        return self._gen(SEQRAND_WRITE if direction else SEQRAND_READ)

    @property
    def distribution(self) -> np.random.Generator:
        return self._gen(DISTRIBUTION)

    @property
    def startdelay(self) -> np.random.Generator:
        return self._gen(STARTDELAY)


class Seeder:
    """Makes the streams for each loop: the same ones every time when repeatable."""

    def __init__(self, randseed: int, thread_number: int, repeatable: bool) -> None:
        self.repeatable = repeatable
        # Unrepeatable runs take one OS seed per job; the streams then just continue.
        self._root = (
            [randseed, thread_number] if repeatable else [secrets.randbits(64), thread_number]
        )

    def make(self) -> Streams:
        return Streams(self._root)
