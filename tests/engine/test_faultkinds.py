"""The fault-kind rule: synthetic orders, and the kernel's own counts for a real job's order."""

from __future__ import annotations

import mmap
import resource

import numpy as np

from loadgen.engine.faultkinds import FaultKindCounts, FaultKinds
from loadgen.engine.pattern import AccessPattern
from loadgen.engine.region import Region
from loadgen.plan import READ, WRITE, Backing, MemoryControls, Refault, RwMode
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


# ---- what one kernel call ran (observe_run) ----------------------------------------------
def test_a_call_that_wraps_around_the_batch_is_counted_in_issue_order() -> None:
    offs, lens, dirs = ios([0, 1, 2, 3], [WRITE, READ, READ, WRITE])
    wrapped, plain = FaultKinds(SIZE), FaultKinds(SIZE)
    wrapped.observe_run(offs, lens, dirs, 3, 3)  # I/Os 3, 0, 1
    plain.observe(*ios([3, 0, 1], [WRITE, WRITE, READ]))
    assert wrapped.counts() == plain.counts() == FaultKindCounts(1, 2, 0)
    wrapped.observe_run(offs, lens, dirs, 2, 1)  # I/O 2: a read of a fresh page
    assert wrapped.counts().first_read == 2


def test_a_replayed_call_counts_each_page_once_in_its_first_round() -> None:
    """Rounds after the first change no page's state, so 10 rounds count as one."""
    offs, lens, dirs = ios([5, 6, 5], [READ, READ, WRITE])
    many, once = FaultKinds(SIZE), FaultKinds(SIZE)
    many.observe_run(offs, lens, dirs, 1, 30)  # rounds from I/O 1: 6, 5(w), 5(r), 6, ...
    once.observe(*ios([6, 5, 5], [READ, WRITE, READ]))
    assert many.counts() == once.counts()
    assert (many.counts().first_read, many.counts().first_write) == (1, 1)


def test_counts_stop_changing_once_every_page_is_allocated() -> None:
    kinds = FaultKinds(4 * PAGE)
    kinds.observe_run(*ios([0, 1, 2, 3], [READ, WRITE, WRITE, READ]), 0, 4)
    kinds.observe_run(*ios([0, 3], [WRITE, WRITE]), 0, 2)
    assert kinds.settled and kinds.counts().cow_after_zero == 2
    kinds.observe_run(*ios([0, 1], [READ, WRITE]), 0, 2)
    assert kinds.counts().total == 6
    kinds.after_refault(Refault.PAGEOUT)  # pages come back as swap-ins, not first touches
    assert kinds.settled
    kinds.after_refault(Refault.DONTNEED)
    assert not kinds.settled
    kinds.observe_run(*ios([0], [WRITE]), 0, 1)
    assert kinds.counts().first_write == 3


def test_prime_leaves_no_counts_and_no_state() -> None:
    kinds = FaultKinds(SIZE)
    kinds.prime(*ios([0, 1], [READ, WRITE]))
    kinds.observe(*ios([0], [WRITE]))
    assert kinds.counts() == FaultKindCounts(0, 1, 0)
