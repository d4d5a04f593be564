"""Fault kinds told apart from the operation order: zero-page reads, first writes, COW.

The rule, per base page of a private anonymous region (the kernel's, checked against
getrusage in tests/engine/test_faultkinds.py):

* the first touch of a page that is a **read** maps the shared zero page: one minor
  fault, nothing allocated (``first_read``);
* the first touch that is a **write** allocates a zeroed page: one minor fault
  (``first_write``);
* a **write to a page that still maps the zero page** is a copy-on-write fault that
  allocates the page (``cow_after_zero``);
* every later read or write of an allocated page takes no fault.

Shared backings (shmem, memfd, file) and hugetlb have no zero page: a first read
allocates (or maps the cached page) and a later write takes no second fault, so for them
``zero_page=False`` counts every first touch and never a COW.  A re-fault between passes
(``refault=dontneed|remap``) starts every page over: call ``reset``.  The rule is for
base pages: where the kernel maps large folios (thp=madvise, mTHP sizes set to always)
one fault covers many pages, and the region's AnonHugePages says how many huge pages
it got (the report's ``huge_page_faults``).
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np

from loadgen.kernel.mmfacts import hugetlb_pool
from loadgen.plan import WRITE, Backing, Job

UNTOUCHED, ZERO, PRIVATE = 0, 1, 2
EXPAND_LIMIT = 1 << 20  # pages expanded at once; bigger batches are split


@dataclass(frozen=True)
class FaultKindCounts:
    first_read: int  # zero-page mappings (or allocations without a zero page)
    first_write: int
    cow_after_zero: int

    @property
    def total(self) -> int:
        return self.first_read + self.first_write + self.cow_after_zero


class FaultKinds:
    """Per-page state of one region, advanced by the I/Os in the order they are issued."""

    def __init__(self, size: int, page: int = mmap.PAGESIZE, zero_page: bool = True) -> None:
        self.page = page
        self.zero_page = zero_page
        self.state = np.zeros(-(-size // page), dtype=np.uint8)
        self.first_read = self.first_write = self.cow_after_zero = 0

    @classmethod
    def for_job(cls, job: Job) -> FaultKinds:
        backing = job.mm.backing
        page = mmap.PAGESIZE
        if backing is Backing.HUGETLB:
            page = job.mm.hugepage_size or hugetlb_pool().page_size
        return cls(job.size, page, zero_page=backing is Backing.ANON)

    def reset(self) -> None:
        """Every page faults again (a re-fault between passes)."""
        self.state[:] = UNTOUCHED

    def counts(self) -> FaultKindCounts:
        return FaultKindCounts(self.first_read, self.first_write, self.cow_after_zero)

    def observe(self, offsets: np.ndarray, lengths: np.ndarray, dirs: np.ndarray) -> None:
        """Account I/Os ``i`` (offset, length, direction) in array order."""
        if not len(offsets):
            return
        first = offsets // self.page
        npages = (offsets + lengths - 1) // self.page - first + 1
        if int(npages.sum()) > EXPAND_LIMIT and len(offsets) > 1:
            half = len(offsets) // 2
            self.observe(offsets[:half], lengths[:half], dirs[:half])
            self.observe(offsets[half:], lengths[half:], dirs[half:])
            return
        total = int(npages.sum())
        starts = np.cumsum(npages) - npages
        within = np.arange(total, dtype=np.int64) - np.repeat(starts, npages)
        pages = np.repeat(first, npages) + within
        writes = np.repeat(dirs, npages) == WRITE
        touched, first_index, inverse = np.unique(pages, return_index=True, return_inverse=True)
        first_is_write = writes[first_index]
        wrote = np.bincount(inverse, weights=writes, minlength=len(touched)) > 0
        was = self.state[touched]
        fresh = was == UNTOUCHED
        self.first_write += int(np.count_nonzero(fresh & first_is_write))
        self.first_read += int(np.count_nonzero(fresh & ~first_is_write))
        if self.zero_page:
            on_zero = (fresh & ~first_is_write) | (was == ZERO)
            self.cow_after_zero += int(np.count_nonzero(on_zero & wrote))
            self.state[touched] = np.where(wrote, PRIVATE, np.where(fresh, ZERO, was))
        else:
            self.state[touched] = PRIVATE
