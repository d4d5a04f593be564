"""fio's log-linear latency histogram (stat.h, stat.c), in nanoseconds.

1856 buckets: values below 128 ns are exact; above, each power-of-two range
[2^(g+5), 2^(g+6)) is split into 64 equal buckets, so a bucket's midpoint is
within 0.78% of any value in it.  Using fio's exact bucketing and percentile
walk means the same samples give fio's numbers exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

PLAT_BITS = 6
PLAT_VAL = 1 << PLAT_BITS
PLAT_GROUP_NR = 29
PLAT_NR = PLAT_GROUP_NR * PLAT_VAL  # 1856

DEFAULT_PERCENTILES: tuple[float, ...] = (
    1.0,
    5.0,
    10.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    70.0,
    80.0,
    90.0,
    95.0,
    99.0,
    99.5,
    99.9,
    99.95,
    99.99,
)


def empty() -> np.ndarray:
    """A fresh histogram: one uint64 count per bucket."""
    return np.zeros(PLAT_NR, dtype=np.uint64)


def _value_to_index_exact(v: np.ndarray) -> np.ndarray:
    """``plat_val_to_idx`` by arithmetic: frexp gives the highest set bit exactly."""
    _, exp = np.frexp(v.astype(np.float64))
    msb = exp.astype(np.int64) - 1  # frexp(0) = (0, 0) -> msb -1, handled by v < 128
    shift = np.maximum(msb - PLAT_BITS, 0)
    idx = (shift + 1) * PLAT_VAL + (
        (v >> shift.astype(np.uint64)) & np.uint64(PLAT_VAL - 1)
    ).astype(np.int64)
    idx = np.where(v < (PLAT_VAL << 1), v.astype(np.int64), idx)
    out: np.ndarray = np.minimum(idx, PLAT_NR - 1)
    return out


# Latencies below 64 us (the common case) are looked up in a table: one gather per batch.
_TABLE_LIMIT = 1 << 16


@functools.cache
def _table() -> np.ndarray:
    """Made on first use: most processes never convert latencies here (the kernel does)."""
    return _value_to_index_exact(np.arange(_TABLE_LIMIT, dtype=np.uint64)).astype(np.int16)


def value_to_index(values: np.ndarray) -> np.ndarray:
    """Bucket index of each latency (ns), vectorised ``plat_val_to_idx``."""
    v = np.asarray(values)
    if v.dtype != np.uint64:
        v = v.astype(np.uint64)
    idx: np.ndarray = _table()[np.minimum(v, np.uint64(_TABLE_LIMIT - 1))].astype(np.int64)
    big = np.flatnonzero(v >= _TABLE_LIMIT)
    if len(big):
        idx[big] = _value_to_index_exact(v[big])
    return idx


def index_to_value(idx: int) -> int:
    """Representative value (ns) of bucket ``idx``: its midpoint, truncated
    (``plat_idx_to_val``)."""
    if idx < (PLAT_VAL << 1):
        return idx
    error_bits = (idx >> PLAT_BITS) - 1
    base = 1 << (error_bits + PLAT_BITS)
    k = idx % PLAT_VAL
    return int(base + (k + 0.5) * (1 << error_bits))


BUCKET_VALUES: np.ndarray = np.array([index_to_value(i) for i in range(PLAT_NR)], dtype=np.uint64)
# indexed by searchsorted's result, which is PLAT_NR past the last bucket: fio's walk then
# stops at the last one
_WALK_VALUES = np.append(BUCKET_VALUES, BUCKET_VALUES[-1])


def add_samples(hist: np.ndarray, samples_ns: np.ndarray) -> None:
    """Count a batch of latencies into ``hist`` in place."""
    if len(samples_ns):
        hist += np.bincount(value_to_index(samples_ns), minlength=PLAT_NR).astype(np.uint64)


@functools.lru_cache(maxsize=64)
def _fractions(plist: tuple[float, ...]) -> tuple[tuple[float, ...], np.ndarray]:
    """A percentile list in ascending order, and each p/100 as a long double."""
    ordered = tuple(sorted(plist))
    return ordered, np.array(ordered, dtype=np.longdouble) / np.longdouble(100.0)


@functools.lru_cache(maxsize=4096)
def _thresholds(plist: tuple[float, ...], total: int) -> tuple[tuple[float, ...], np.ndarray]:
    """The sorted list and the count each percentile's bucket must reach: ``ceil(p/100*N)``
    in long double.  Cached per N: a storm's jobs have totals of a few nearby values."""
    ordered, fractions = _fractions(plist)
    # Counts are integers, so cum >= t  <=>  cum >= ceil(t): the long double thresholds
    # become exact integers and one integer searchsorted serves the whole list (the
    # live stream asks for this per job per interval, a storm's report per job).
    return ordered, np.ceil(fractions * np.longdouble(total)).astype(np.uint64)


def percentiles(hist: np.ndarray, plist: Sequence[float] = DEFAULT_PERCENTILES) -> dict[float, int]:
    """fio's percentile walk: the first bucket whose cumulative count reaches p% of N.

    fio compares in long double (``sum >= (long double)p / 100.0 * N``); numpy's
    longdouble is the same type, so boundary cases (p% of N within rounding of an
    integer, e.g. 99.95% of 8000) pick fio's bucket, not the one double rounding gives.
    Returns {p: value_ns} in ascending p order; empty when the histogram is empty.
    """
    cum = hist.cumsum(dtype=np.uint64)  # the methods: np.cumsum's dispatch costs more here
    total = int(cum[-1]) if len(cum) else 0
    if total == 0:
        return {}
    ordered, thresholds = _thresholds(tuple(plist), total)
    idx = cum.searchsorted(thresholds, side="left")  # first i with cum[i] >= threshold
    values: list[int] = _WALK_VALUES[idx].tolist()
    return dict(zip(ordered, values, strict=True))


def bins(hist: np.ndarray) -> dict[int, int]:
    """json+ ``bins``: {representative value: count} for non-empty buckets."""
    nz = np.flatnonzero(hist)
    return dict(zip(BUCKET_VALUES[nz].tolist(), hist[nz].tolist(), strict=True))
