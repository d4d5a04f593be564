"""What a helper or worker process does to itself so that nothing is left behind and the
host survives: die with the parent, volunteer for the OOM killer, pin CPUs, size pipes."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import signal
from collections.abc import Callable
from typing import cast

from loadgen.plan import Job
from loadgen.status import ExitStatus

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PIPE_SIZE = 256 * 1024  # pages are allocated only when used


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, resolved once: a fork helper resolves it (and the functions it calls)
    before forking, so workers do not repeat the dlopen and symbol lookups."""
    lib = ctypes.CDLL(None, use_errno=True)
    lib.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return lib


@functools.cache
def _libc_fork() -> Callable[[], int] | None:
    try:
        fork = ctypes.PyDLL(None, use_errno=True).fork  # PyDLL: the GIL stays held
    except AttributeError:
        return None
    fork.argtypes = ()
    fork.restype = ctypes.c_int
    return cast("Callable[[], int]", fork)


def bare_fork() -> int:
    """fork(2) without Python's at-fork work (interpreter re-initialisation and the
    callbacks modules registered), which in a child of a numba-laden process writes to a
    few hundred inherited pages, each a copy-on-write fault.  Only for a single-threaded
    parent whose children never return into its code and end in ``os._exit``."""
    fork = _libc_fork()
    if fork is None:
        return os.fork()
    pid = fork()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return pid


def die_with_parent(expected_parent: int) -> None:
    """SIGKILL us when our parent dies; if it already died, go now (the race prctl leaves)."""
    libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(ExitStatus.FAILED)


def set_process_name(name: str) -> None:
    """Name this process (``ps``, ``top``, ``perf``, ``pkill``) by its role; the kernel
    keeps 15 bytes."""
    libc().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def volunteer_for_oom_killer() -> None:
    """A storm that exhausts memory should lose workers, not the controller or the host."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum for the dynamic threshold
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_heap() -> bool:
    """Make glibc reuse freed memory instead of returning it (heap trims, big mmaps), so
    the numpy temporaries of each batch do not fault fresh pages in the measured window.
    Process-wide, inherited by forked children, done once; False where mallopt is
    unavailable."""
    try:
        mallopt = libc().mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def enlarge_pipe(fd: int, size: int = PIPE_SIZE) -> None:
    """Room for seconds of deltas, so a busy controller never makes a worker wait in write."""
    # Over pipe-max-size or the user's pipe quota the default 64 KiB still works.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


def cpus_for(job: Job) -> set[int] | None:
    """fio's cpus_allowed/cpus_allowed_policy: the CPU set this job may run on (None = any)."""
    if not job.cpus_allowed:
        return None
    if job.cpus_allowed_policy == "split":
        cpus = sorted(set(job.cpus_allowed))
        return {cpus[(job.thread_number - 1) % len(cpus)]}
    return set(job.cpus_allowed)
