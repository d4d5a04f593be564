"""The fault-kind rule: synthetic orders, and the kernel's own counts for a real job's order."""

from __future__ import annotations

import mmap
import resource

import numpy as np

from loadgen.engine.faultkinds import FaultKinds
from loadgen.engine.pattern import AccessPattern
from loadgen.engine.region import Region
from loadgen.plan import READ, WRITE, Backing, MemoryControls, RwMode
from tests.engine.conftest import make_job

PAGE = mmap.PAGESIZE
PAGES = 256
SIZE = PAGES * PAGE


def ios(pages: list[int], dirs: list[int], length: int = PAGE) -> tuple[np.ndarray, ...]:
    return (np.array(pages, dtype=np.int64) * PAGE, np.full(len(pages), length, dtype=np.int64),
            np.array(dirs, dtype=np.int8))


def test_read_then_write_is_one_zero_page_and_one_cow_fault_per_page() -> None:
    kinds = FaultKinds(SIZE)
    every = list(range(PAGES))
    kinds.observe(*ios(every, [READ] * PAGES))
    kinds.observe(*ios(every, [WRITE] * PAGES))
    counts = kinds.counts()
    assert (counts.first_read, counts.cow_after_zero, counts.first_write) == (PAGES, PAGES, 0)


def test_write_first_is_one_fault_and_later_touches_none() -> None:
    kinds = FaultKinds(SIZE)
    kinds.observe(*ios([0, 0, 1, 1], [WRITE, READ, WRITE, WRITE]))
    assert kinds.counts().total == 2 and kinds.counts().first_write == 2


def test_order_inside_one_batch_counts() -> None:
    kinds = FaultKinds(SIZE)
    kinds.observe(*ios([3, 3, 4, 4], [READ, WRITE, WRITE, READ]))
    counts = kinds.counts()
    assert (counts.first_read, counts.cow_after_zero, counts.first_write) == (1, 1, 1)


def test_multi_page_blocks_and_reset() -> None:
    kinds = FaultKinds(SIZE)
    kinds.observe(*ios([0], [READ], length=4 * PAGE))
    assert kinds.counts().first_read == 4
    kinds.reset()
    kinds.observe(*ios([0], [WRITE], length=4 * PAGE))
    assert kinds.counts().first_write == 4 and kinds.counts().cow_after_zero == 0


def test_without_a_zero_page_a_first_read_is_the_only_fault() -> None:
    kinds = FaultKinds.for_job(make_job(size=SIZE, mm=MemoryControls(backing=Backing.SHARED)))
    kinds.observe(*ios([0, 0], [READ, WRITE]))
    assert kinds.counts().total == 1 and kinds.counts().cow_after_zero == 0


def faults() -> int:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_minflt + usage.ru_majflt


def test_the_rule_matches_the_kernel_on_a_random_mixed_job() -> None:
    """A randrw job's own order, played one byte per I/O on a real region (no THP): the
    kernel's fault count equals first reads + first writes + COW writes."""
    job = make_job(rw=RwMode.RANDRW, size=SIZE, norandommap=True, number_ios=4 * PAGES)
    pattern = AccessPattern(job)
    batches = []
    while sum(len(b) for b in batches) < 4 * PAGES:
        batch = pattern.next_batch(1024)
        if not len(batch):
            break
        batches.append(batch)
    offs = np.concatenate([b.offsets for b in batches]).tolist()
    dirs = np.concatenate([b.dirs for b in batches]).tolist()
    kinds = FaultKinds(SIZE)
    kinds.observe(np.array(offs, dtype=np.int64), np.full(len(offs), PAGE, dtype=np.int64),
                  np.array(dirs, dtype=np.int8))
    region = Region(SIZE, "never")
    try:
        mem = np.frombuffer(region.mm, dtype=np.uint8)
        pairs = list(zip(offs, dirs, strict=True))
        before = faults()
        for off, ddir in pairs:
            if ddir == WRITE:
                mem[off] = 1
            else:
                int(mem[off])  # the read is the point
        measured = faults() - before
        del mem
    finally:
        region.close()
    counts = kinds.counts()
    assert counts.first_read and counts.cow_after_zero and counts.first_write  # all three occur
    assert counts.total <= measured <= counts.total + 16
