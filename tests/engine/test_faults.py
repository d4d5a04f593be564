"""rusage differences count the faults of touched memory; the region's huge pages come
from its own smaps entry."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest

from loadgen.engine.faults import (
    anon_huge_bytes,
    bss_spans,
    huge_pages_possible,
    own_bss,
    read_usage,
)
from loadgen.engine.region import Region

MIB = 1 << 20
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def test_usage_difference_counts_each_touched_page() -> None:
    region = Region(8 * MIB, "never")
    page = b"x" * mmap.PAGESIZE
    offsets = range(0, 8 * MIB, mmap.PAGESIZE)
    try:
        before = read_usage(False)
        for o in offsets:
            region.mm[o : o + mmap.PAGESIZE] = page
        faults = (read_usage(False) - before).minf
    finally:
        region.close()
    assert 8 * MIB // mmap.PAGESIZE <= faults <= 8 * MIB // mmap.PAGESIZE + 16


@pytest.mark.skipif(
    not THP.exists() or "[never]" in THP.read_text(), reason="transparent huge pages unavailable"
)
def test_advised_region_reports_its_huge_pages_and_unadvised_none() -> None:
    huge, small = Region(16 * MIB, "madvise"), Region(16 * MIB, "never")
    try:
        for r in (huge, small):
            r.mm.write(b"x" * (16 * MIB))
        assert anon_huge_bytes(huge.address) >= 2 * MIB
        assert anon_huge_bytes(small.address) == 0
    finally:
        huge.close()
        small.close()


def test_an_address_outside_every_mapping_has_no_huge_pages() -> None:
    assert anon_huge_bytes(0) == 0


def test_huge_pages_are_possible_only_when_advised_or_always() -> None:
    assert huge_pages_possible("madvise") and not huge_pages_possible("never")
    always = THP.exists() and "[always]" in THP.read_text()
    assert huge_pages_possible("inherit") == always


MAPS = """\
7f00000000-7f00001000 r--p 00000000 fe:00 11 /venv/numpy/_core/_multiarray_umath.cpython-311.so
7f00001000-7f00003000 rw-p 00944000 fe:00 11 /venv/numpy/_core/_multiarray_umath.cpython-311.so
7f00003000-7f00006000 rw-p 00000000 00:00 0
7f00006000-7f00007000 rw-p 009e2000 fe:00 11 /venv/numpy/_core/_multiarray_umath.cpython-311.so
7f00007000-7f00009000 rw-p 00000000 00:00 0
7f10000000-7f10001000 rw-p 00000000 fe:00 12 /usr/lib/libc.so.6
7f10001000-7f10002000 rw-p 00000000 00:00 0
7f10002000-7f10003000 rw-p 00000000 00:00 0 [stack]
"""


def test_the_bss_of_numpys_extension_is_its_anonymous_mappings_and_no_one_elses() -> None:
    # the one between its file mappings and the one after its last: not libc's
    assert bss_spans(MAPS) == [(0x7F00003000, 0x3000), (0x7F00007000, 0x2000)]
    assert bss_spans(MAPS, ("/libc.so",)) == [(0x7F10001000, 0x1000)]


def test_owning_the_bss_touches_each_of_its_pages_once(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text(MAPS)
    touched: list[int] = []
    assert own_bss(touched.append, str(maps)) == 5
    assert touched == [0x7F00003000 + i * mmap.PAGESIZE for i in range(3)] + [
        0x7F00007000 + i * mmap.PAGESIZE for i in range(2)]
    assert own_bss(touched.append, str(tmp_path / "missing")) == 0


def test_in_this_process_numpys_bss_is_found_and_once_owned_faults_no_more() -> None:
    """In a fork each page of it faults at its first write, and then never again."""
    import os

    from loadgen.engine import kernel

    with open("/proc/self/maps") as f:
        spans = bss_spans(f.read())
    pages = [page for start, length in spans for page in range(start, start + length,
                                                                mmap.PAGESIZE)]
    assert pages, "numpy's extension has a .bss"
    kernel.shared_add(pages[0], 0)  # compiled, and its code paged in, before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        counts = []
        for _ in range(2):
            before = read_usage(False).minf
            for page in pages:
                kernel.shared_add(page, 0)
            counts.append(read_usage(False).minf - before)
        os.write(write, " ".join(map(str, counts)).encode())
        os._exit(0)
    os.close(write)
    try:
        first, second = map(int, os.read(read, 64).split())
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert first >= len(pages) and second == 0, (len(pages), first, second)
