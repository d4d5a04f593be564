"""The worker's end-of-job memory reading: the region's huge pages and the process USS."""

from __future__ import annotations

import ctypes
import mmap

import psutil

from loadgen.engine.faults import end_memory

MIB = 1 << 20


def test_uss_counts_a_touched_private_region_like_psutil() -> None:
    region = mmap.mmap(-1, 16 * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        address = ctypes.addressof(ctypes.c_char.from_buffer(region))
        before = end_memory(address)
        region.write(b"x" * (16 * MIB))  # every page private and dirty now
        after = end_memory(address)
        assert after.uss_bytes - before.uss_bytes >= 16 * MIB
        uss = psutil.Process().memory_full_info().uss
        assert abs(after.uss_bytes - uss) < 4 * MIB  # the same smaps fields, read a moment apart
    finally:
        region.close()


def test_address_outside_every_mapping_has_no_huge_pages_but_a_uss() -> None:
    memory = end_memory(0)
    assert memory.anon_huge_bytes == 0 and memory.uss_bytes > 0
