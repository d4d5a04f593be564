"""fio's random generators (lib/rand.c): the combined Tausworthe taus88 (32-bit, fio's
default ``random_generator=tausworthe``) and taus258 (64-bit, ``tausworthe64``), seeded
as fio's ``init_rand_seed`` seeds them, and read as fio reads them.

fio turns a raw value r into a number only through ``r / (max + 1.0)``: offsets
(``lastb * u``, io_u.c ``__get_next_rand_offset``), ``rand_between`` (rwmix,
percentage_random, startdelay) and block sizes (``min + max * u``).  ``random`` gives that
u and ``integers(low, high)`` gives ``low + trunc((high - low) * u)``, so with the same
seed a consumer that draws what fio draws, in fio's order, gets fio's numbers.  The
method names and arguments are numpy ``Generator``'s, of which they are the subset used.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_CRANKS = 6  # fio discards the first six values of a fresh state
# ``(2^31) + (2^17) + (2^7)`` in fio's C is exclusive-or inside each parenthesis: 29+19+5
_LCG_START = 53


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _fill32(s: Any, out: Any) -> None:
    """taus88: the next ``len(out)`` values of state ``s`` (three 32-bit words held in
    uint64, so no intermediate is ever truncated by numba's integer typing)."""
    m = np.uint64(0xFFFFFFFF)
    s1, s2, s3 = s[0], s[1], s[2]
    for i in range(len(out)):
        s1 = (((s1 & np.uint64(4294967294)) << np.uint64(12)) & m) ^ (
            (((s1 << np.uint64(13)) & m) ^ s1) >> np.uint64(19))
        s2 = (((s2 & np.uint64(4294967288)) << np.uint64(4)) & m) ^ (
            (((s2 << np.uint64(2)) & m) ^ s2) >> np.uint64(25))
        s3 = (((s3 & np.uint64(4294967280)) << np.uint64(17)) & m) ^ (
            (((s3 << np.uint64(3)) & m) ^ s3) >> np.uint64(11))
        out[i] = s1 ^ s2 ^ s3
    s[0], s[1], s[2] = s1, s2, s3


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _fill64(s: Any, out: Any) -> None:
    """taus258: the next ``len(out)`` values of state ``s`` (five 64-bit words)."""
    s1, s2, s3, s4, s5 = s[0], s[1], s[2], s[3], s[4]
    for i in range(len(out)):
        x = ((s1 << np.uint64(1)) ^ s1) >> np.uint64(53)
        s1 = ((s1 & np.uint64(18446744073709551614)) << np.uint64(10)) ^ x
        x = ((s2 << np.uint64(24)) ^ s2) >> np.uint64(50)
        s2 = ((s2 & np.uint64(18446744073709551104)) << np.uint64(5)) ^ x
        x = ((s3 << np.uint64(3)) ^ s3) >> np.uint64(23)
        s3 = ((s3 & np.uint64(18446744073709547520)) << np.uint64(29)) ^ x
        x = ((s4 << np.uint64(5)) ^ s4) >> np.uint64(24)
        s4 = ((s4 & np.uint64(18446744073709420544)) << np.uint64(23)) ^ x
        x = ((s5 << np.uint64(3)) ^ s5) >> np.uint64(33)
        s5 = ((s5 & np.uint64(18446744073701163008)) << np.uint64(8)) ^ x
        out[i] = s1 ^ s2 ^ s3 ^ s4 ^ s5
    s[0], s[1], s[2], s[3], s[4] = s1, s2, s3, s4, s5


def _at_least(x: int, m: int) -> int:
    """fio's ``__seed``: the words must be above a minimum for the full period."""
    return x + m if x < m else x


def _seed_words(seed: int, use64: bool) -> list[int]:
    """fio's ``__init_rand32`` / ``__init_rand64`` before the cranks: each word is an LCG
    step of the one before, xored with the seed."""
    minima: tuple[int, ...]
    if use64:
        mult, mask, minima = 6906969069, _M64, (1, 7, 15, 33, 49)
    else:
        mult, mask, minima = 69069, _M32, (1, 7, 15)
    seed &= mask  # fio passes the 64-bit seed to taus88 as an unsigned int
    words: list[int] = []
    x = _LCG_START
    for m in minima:
        x = _at_least(((x * mult) & mask) ^ seed, m) & mask
        words.append(x)
    return words


class Tausworthe:
    """One of fio's random states: draws come in fio's order, batch or scalar alike.

    ``peek`` looks at values without taking them, so a batch can be drawn generously
    and only what its I/Os used taken (``skip``): the next batch goes on where fio's
    would.
    """

    __slots__ = ("_ahead", "_fill", "_scale", "_state", "use64")

    def __init__(self, seed: int, use64: bool = False) -> None:
        self.use64 = use64
        self._state = np.array(_seed_words(seed, use64), dtype=np.uint64)
        self._fill = _fill64 if use64 else _fill32
        self._scale = 1.0 / (2.0**64 if use64 else 2.0**32)  # 1 / (rand_max + 1.0)
        self._ahead = np.empty(0, dtype=np.uint64)  # made by peek, not yet taken
        self.raw(_CRANKS)

    def _peek_raw(self, n: int) -> np.ndarray:
        short = n - len(self._ahead)
        if short > 0:
            fresh = np.empty(short, dtype=np.uint64)
            self._fill(self._state, fresh)
            self._ahead = np.concatenate([self._ahead, fresh]) if len(self._ahead) else fresh
        return self._ahead[:n]

    def raw(self, n: int) -> np.ndarray:
        """The next ``n`` raw values, as fio's ``__rand`` returns them (taken)."""
        if not len(self._ahead):
            out = np.empty(n, dtype=np.uint64)
            self._fill(self._state, out)
            return out
        out = self._peek_raw(n).copy()
        self.skip(n)
        return out

    def skip(self, n: int) -> None:
        """Take ``n`` values that were peeked at."""
        self._ahead = self._ahead[n:]

    def peek(self, n: int) -> np.ndarray:
        """The next ``n`` values as ``random`` would give them, without taking them."""
        u: np.ndarray = self._peek_raw(n).astype(np.float64) * self._scale
        return u

    def _uniform(self, size: int | tuple[int, ...] | None) -> np.ndarray:
        n = 1 if size is None else int(np.prod(size))
        u: np.ndarray = self.raw(n).astype(np.float64) * self._scale
        return u if size is None or isinstance(size, int) else u.reshape(size)

    def random(self, size: int | tuple[int, ...] | None = None) -> Any:
        """u = r / (rand_max + 1.0), in [0, 1): a float, or an array of ``size``."""
        u = self._uniform(size)
        return float(u[0]) if size is None else u

    def integers(
        self,
        low: int,
        high: int,
        size: int | tuple[int, ...] | None = None,
        dtype: Any = np.int64,
    ) -> Any:
        """Integers in [low, high) as fio makes them: ``low + trunc((high - low) * u)``
        (its ``rand_between(low, high - 1)``, and its offset draw with low 0)."""
        out = _scaled(self._uniform(size), low, high).astype(dtype, copy=False)
        return int(out[0]) if size is None else out

    def peek_integers(self, low: int, high: int, n: int) -> np.ndarray:
        """The next ``n`` values as ``integers`` would give them, without taking them."""
        return _scaled(self.peek(n), low, high)


def _scaled(u: np.ndarray, low: int, high: int) -> np.ndarray:
    out: np.ndarray = low + (float(high - low) * u).astype(np.int64)
    return out
