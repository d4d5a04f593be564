"""One BLAS/OpenMP thread per process.

numpy's OpenBLAS starts a thread pool sized to the CPU count at import; in a storm
that is hundreds of workers times that many idle threads, and forking a process
with threads is unsafe.  The memcpy loop needs no BLAS, so every loadgen process
asks for one thread, before numpy is first imported.
"""

from __future__ import annotations

import os

SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pin_blas_threads() -> None:
    """Effective only before numpy's first import (the user's explicit setting wins)."""
    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
