"""fio's latency_ns / latency_us / latency_ms distribution (io_u.c ``io_u_mark_latency``).

Not derivable from the 1856-bucket histogram (750 ns is not a bucket edge), so the
engine counts these 32 buckets directly from each batch of clat samples.
"""

from __future__ import annotations

import numpy as np

NS_KEYS = ("2", "4", "10", "20", "50", "100", "250", "500", "750", "1000")
US_KEYS = NS_KEYS
MS_KEYS = ("2", "4", "10", "20", "50", "100", "250", "500", "750", "1000", "2000", ">=2000")
NBUCKETS = len(NS_KEYS) + len(US_KEYS) + len(MS_KEYS)  # 32

_LIMITS = np.array([2, 4, 10, 20, 50, 100, 250, 500, 750, 1000], dtype=np.int64)
# Exclusive upper bounds of buckets 0..30, in ns; bucket 31 (">=2000 ms") takes the rest.
EDGES_NS: np.ndarray = np.concatenate(
    [_LIMITS, _LIMITS * 1000, _LIMITS * 1_000_000, np.array([2_000_000_000], dtype=np.int64)]
)


def empty() -> np.ndarray:
    return np.zeros(NBUCKETS, dtype=np.uint64)


def add_samples(counts: np.ndarray, clat_ns: np.ndarray) -> None:
    """Count a batch of clat samples (ns) into the 32 buckets in place.

    fio truncates to the table's unit before comparing (ns/1000 < K for the us table),
    which is the same as comparing ns against K*1000 with an exclusive bound.
    """
    if len(clat_ns):
        counts += np.bincount(bucket_index(clat_ns), minlength=NBUCKETS).astype(np.uint64)


_TABLE_LIMIT = 1 << 16
_TABLE = np.searchsorted(EDGES_NS, np.arange(_TABLE_LIMIT, dtype=np.int64), side="right").astype(
    np.int8
)


def bucket_index(clat_ns: np.ndarray) -> np.ndarray:
    """Bucket (0..31) of each clat; a table lookup when every value is below 64 us."""
    v = np.asarray(clat_ns, dtype=np.int64)
    idx = _TABLE[np.clip(v, 0, _TABLE_LIMIT - 1)].astype(np.int64)
    big = np.flatnonzero(v >= _TABLE_LIMIT)
    if len(big):
        idx[big] = np.searchsorted(EDGES_NS, v[big], side="right")
    return idx
