"""The job's independent random streams, seeded the way fio seeds them.

fio gives every purpose its own stream (offsets, rwmix, block size per direction,
random/sequential split, ...), seeded from ``randseed`` and the job's thread_number so
that clones differ but replay.  With randrepeat every stream is re-seeded at each
loop start, so every loop repeats the same offsets and directions.  The generator is
numpy's PCG64, not fio's taus88: shapes and replay semantics match, numbers do not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

OFFSET, RWMIX, BS_READ, BS_WRITE, SEQRAND_READ, SEQRAND_WRITE, DISTRIBUTION, STARTDELAY = range(8)
_NSTREAMS = 8


@dataclass
class Streams:
    """One numpy Generator per purpose."""

    offset: np.random.Generator
    rwmix: np.random.Generator
    bs: tuple[np.random.Generator, np.random.Generator]
    seqrand: tuple[np.random.Generator, np.random.Generator]
    distribution: np.random.Generator
    startdelay: np.random.Generator


class Seeder:
    """Makes the streams for each loop: the same ones every time when repeatable."""

    def __init__(self, randseed: int, thread_number: int, repeatable: bool) -> None:
        self.repeatable = repeatable
        # Unrepeatable runs take one OS seed per job; the streams then just continue.
        self._root = (
            [randseed, thread_number] if repeatable else [secrets.randbits(64), thread_number]
        )

    def make(self) -> Streams:
        gens = [
            np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._root + [i])))
            for i in range(_NSTREAMS)
        ]
        return Streams(
            offset=gens[OFFSET],
            rwmix=gens[RWMIX],
            bs=(gens[BS_READ], gens[BS_WRITE]),
            seqrand=(gens[SEQRAND_READ], gens[SEQRAND_WRITE]),
            distribution=gens[DISTRIBUTION],
            startdelay=gens[STARTDELAY],
        )
