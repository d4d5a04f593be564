"""Shedding the helper's heap (engine.forkmem): what is marked, and that it is undone."""

from __future__ import annotations

import ctypes
import mmap

import numpy as np
import pytest

from loadgen.engine import forkmem


def test_shedding_marks_the_heap_not_to_be_copied_and_restore_undoes_it() -> None:
    keep = np.full(1 << 20, 1, dtype=np.uint8)  # a large anonymous mapping of its own
    span = (keep.ctypes.data & ~4095, 1 << 20)
    marked = forkmem.shed((span,))
    try:
        assert marked
        assert all("dc" in _vmflags(lo) for lo, _ in marked)
        assert "dc" not in _vmflags(keep.ctypes.data)
    finally:
        forkmem.restore(marked)
    assert not any("dc" in _vmflags(lo) for lo, _ in marked)


def test_a_range_that_lost_a_page_since_the_maps_were_read_is_restored_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """madvise fails on the hole (ENOMEM) but marks the rest: shed must still return the
    range, so that restore unmarks it."""
    block = mmap.mmap(-1, 3 * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    lo = np.frombuffer(block, dtype=np.uint8).ctypes.data
    block.write(b"x" * (3 * mmap.PAGESIZE))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    assert libc.munmap(lo + 2 * mmap.PAGESIZE, mmap.PAGESIZE) == 0  # the range's end goes
    monkeypatch.setattr(forkmem, "candidates", lambda: [(lo, 3 * mmap.PAGESIZE)])
    marked = forkmem.shed()
    try:
        assert "dc" in _vmflags(lo)  # the mapped part is marked all the same
        assert (lo, 3 * mmap.PAGESIZE) in marked
    finally:
        forkmem.restore(marked)
    assert "dc" not in _vmflags(lo)


def _vmflags(address: int) -> list[str]:
    """The VmFlags of the mapping holding ``address`` (/proc/self/smaps)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(" ", 1)[0]
            if "-" in head and ":" not in head:
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    return []


def test_only_shared_objects_count_as_libraries_not_shared_blocks() -> None:
    block = mmap.mmap(-1, 1 << 16)  # MAP_SHARED: "/dev/zero (deleted)" in the maps
    address = np.frombuffer(block, dtype=np.uint8).ctypes.data
    ranges = forkmem.libraries()
    assert ranges and not any(lo <= address < lo + n for lo, n in ranges)
    with open("/proc/self/maps") as maps:
        named = {line.split()[-1] for line in maps if len(line.split()) >= 6}
    assert any("/libc.so" in name for name in named)
    libc_ranges = [r for r in forkmem.libraries(keep=()) if r not in ranges]
    assert libc_ranges  # what KEEP_LIBRARIES keeps is left alone by default


def test_numbas_runtime_is_kept_and_its_python_side_modules_are_shed() -> None:
    import numba.core.runtime._nrt_python
    from numba import _dispatcher, _helperlib

    ranges = forkmem.libraries()

    def shed(module: object) -> bool:
        path = str(getattr(module, "__file__", ""))
        with open("/proc/self/maps") as maps:
            starts = [int(line.split("-", 1)[0], 16) for line in maps
                      if line.rstrip().endswith(path)]
        assert starts, path
        return all(any(lo <= at < lo + n for lo, n in ranges) for at in starts)

    assert shed(_dispatcher)  # calls from Python into compiled code: not a lean worker's
    assert not shed(_helperlib)
    assert not shed(numba.core.runtime._nrt_python)
