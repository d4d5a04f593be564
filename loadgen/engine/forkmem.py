"""Leave the fork helper's heap out of the workers that never run Python.

fork copies the page tables of every private mapping that has pages, and exit tears the
child's copy down again: for the helper (numpy, numba and LLVM loaded, some 60 MiB of
anonymous memory) that is milliseconds per worker, more than a storm worker's own job.
A lean worker (``loadgen.engine.lean``) touches only machine code, its stack and the
blocks made for it, so the helper marks its large writable anonymous mappings, and the
libraries that code never calls into, ``MADV_DONTFORK`` while it forks lean workers and
``MADV_DOFORK`` again before it forks a Python one.  The JIT's machine code and data are
never marked, nor the stack; the helper checks the arrangement once at start
(``leanspawn.probe``) and falls back to less before relying on it.
"""

from __future__ import annotations

import ctypes
import re

from loadgen.engine.hygiene import libc

MADV_DONTFORK = 10
MADV_DOFORK = 11
MIN_BYTES = 256 << 10  # smaller ones hold little, and ld.so's and libc's own state is there
# what the compiled code calls into: the C library (system calls, memcpy, the vDSO's
# clock), the dynamic loader, the math and compiler support libraries, and numba's
# runtime (its helper library: math, random state, errors; NRT's allocator).  numba's
# other extension modules (dispatch, typing, ufunc building, jitclass boxing) serve
# Python alone; each kept library is five mappings more for every fork to copy.
KEEP_LIBRARIES = ("/libc.so", "/ld-linux", "/libm.so", "/libgcc", "/numba/_helperlib.",
                  "/numba/core/runtime/_nrt_python.")
_LIBRARY = re.compile(r"^/\S*\.so(\.[0-9.]+)?$")
_MAPS = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$")


def _mappings() -> list[tuple[int, int, str, str]]:
    """(start, end, permissions, name) of each of this process's mappings; an anonymous
    one is named "" (or "[heap]", "[stack]", ...)."""
    out: list[tuple[int, int, str, str]] = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            m = _MAPS.match(line.rstrip("\n"))
            if m is not None:
                out.append((int(m[1], 16), int(m[2], 16), m[3], m[4]))
    return out


def candidates(min_bytes: int = MIN_BYTES) -> list[tuple[int, int]]:
    """(start, length) of this process's large private writable anonymous mappings, the
    brk heap included, the stack not, nor any that touches anonymous machine code or
    read-only data: the JIT's writable sections (its GOT) sit next to them."""
    anon = [(lo, hi, perms) for lo, hi, perms, name in _mappings() if name in ("", "[heap]")]
    jit_edges = {edge for lo, hi, perms in anon if perms in ("r-xp", "r--p") for edge in (lo, hi)}
    return [(lo, hi - lo) for lo, hi, perms in anon
            if perms == "rw-p" and hi - lo >= min_bytes
            and lo not in jit_edges and hi not in jit_edges]


def libraries(keep: tuple[str, ...] = KEEP_LIBRARIES) -> list[tuple[int, int]]:
    """(start, length) of the file mappings (shared libraries, Python's extension
    modules) whose path names none of ``keep``: code a lean worker never runs, whose
    mappings fork would still copy one by one."""
    # shared objects only: "/dev/zero (deleted)" and memfds are shared blocks
    return [(lo, hi - lo) for lo, hi, _, name in _mappings()
            if _LIBRARY.search(name) and not any(k in name for k in keep)]


def _advise(ranges: list[tuple[int, int]], advice: int) -> None:
    """Advise each range, whatever madvise answers: a range that changed since the maps
    were read (part of it unmapped, a heap trimmed) fails with ENOMEM, yet the kernel has
    advised what is still mapped of it, so it is restored like the others (or a later
    Python worker would be forked without it, and die at its first touch)."""
    madvise = libc().madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    for lo, n in ranges:
        madvise(lo, n, advice)


def shed(keep: tuple[tuple[int, int], ...] = (), with_libraries: bool = False
         ) -> list[tuple[int, int]]:
    """Mark the candidates (and with ``with_libraries`` the libraries), but none
    overlapping ``keep``, not to be inherited; returns what was marked, for ``restore``."""

    def kept(lo: int, n: int) -> bool:
        return any(lo < k_lo + k_n and k_lo < lo + n for k_lo, k_n in keep)

    marked = [r for r in candidates() + (libraries() if with_libraries else []) if not kept(*r)]
    _advise(marked, MADV_DONTFORK)
    return marked


def restore(ranges: list[tuple[int, int]]) -> None:
    """Children inherit these mappings again."""
    _advise(ranges, MADV_DOFORK)
