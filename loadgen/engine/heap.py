"""Keep the worker's own allocations from faulting inside the measured window.

glibc serves big allocations (>= 128 KiB at first) with fresh mmaps and trims the heap
top on free, so every batch's numpy arrays and lists would fault new pages and inflate
the job's minor-fault count.  Raising both thresholds makes freed memory be reused
instead.  Process-wide and idempotent; a no-op where mallopt is unavailable.
Done once per process (the settings are inherited by forked workers): finding libc
runs ``ldconfig -p`` in a subprocess, about 4 ms, which a storm of workers would
otherwise pay once each.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum for the dynamic threshold
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_heap() -> bool:
    """Returns whether mallopt accepted both settings."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
