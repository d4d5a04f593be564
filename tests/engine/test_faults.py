"""rusage differences count the faults of touched memory; the region's huge pages come
from its own smaps entry."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest

from loadgen.engine.faults import anon_huge_bytes, huge_pages_possible, read_usage
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
