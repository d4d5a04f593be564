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
(``refault=dontneed|remap``) starts every page over: call ``reset``.  ``refault=pageout``
does not: a paged-out page comes back as a swap-in (a major fault, ``majf``) and a page
that maps the zero page keeps mapping it.  The rule is for
base pages: where the kernel maps large folios (thp=madvise, mTHP sizes set to always)
one fault covers many pages, and the region's AnonHugePages says how many huge pages
it got (the report's ``huge_page_faults``).

The engine keeps the accounting only for jobs that ask (``fault_kinds=1``): it costs
numpy work per executed chunk, outside the kernel's timing (docs/performance.md).
"""

from __future__ import annotations

import mmap

import numpy as np

from loadgen.kernel.mmfacts import hugetlb_pool
from loadgen.plan import WRITE, Backing, Job, Refault
from loadgen.stats.mmstats import FaultKindCounts

__all__ = ["FaultKindCounts", "FaultKinds"]

UNTOUCHED, ZERO, PRIVATE = 0, 1, 2
EXPAND_LIMIT = 1 << 20  # pages expanded at once; bigger batches are split


class FaultKinds:
    """Per-page state of one region, advanced by the I/Os in the order they are issued."""

    def __init__(self, size: int, page: int = mmap.PAGESIZE, zero_page: bool = True) -> None:
        self.page = page
        self.zero_page = zero_page
        self.state = np.zeros(-(-size // page), dtype=np.uint8)
        self.state.fill(UNTOUCHED)  # touched now (setup), not in the measured window
        self.first_read = self.first_write = self.cow_after_zero = 0
        self._untouched = len(self.state)  # pages in state UNTOUCHED
        self._private = 0  # ... in state PRIVATE; the rest map the zero page

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
        self._untouched, self._private = len(self.state), 0

    def after_refault(self, mode: Refault) -> None:
        """The region was re-faulted between passes: dontneed and remap start every page
        over; pageout does not (a paged-out page comes back as a swap-in, a major fault)."""
        if mode in (Refault.DONTNEED, Refault.REMAP):
            self.reset()

    def zero_counts(self) -> None:
        """Count from here on (the measured window starts); the pages keep their state."""
        self.first_read = self.first_write = self.cow_after_zero = 0

    def counts(self) -> FaultKindCounts:
        return FaultKindCounts(self.first_read, self.first_write, self.cow_after_zero)

    def prime(self, offsets: np.ndarray, lengths: np.ndarray, dirs: np.ndarray) -> None:
        """Account these I/Os and forget them: the heap then holds the temporaries a chunk
        needs (``keep_heap`` keeps them), so the measured window takes no faults for them."""
        self.observe(offsets, lengths, dirs)
        self.reset()
        self.zero_counts()

    def observe_run(self, offsets: np.ndarray, lengths: np.ndarray, dirs: np.ndarray,
                    start: int, count: int) -> None:
        """Account what one kernel call ran: ``count`` I/Os from index ``start``, wrapping
        around at the arrays' end.  After one whole round a replay changes no page's
        state, so at most one round is looked at."""
        n = len(offsets)
        if count <= 0 or not n or self.settled:
            return
        if not self._untouched and not np.any(dirs == WRITE):
            return  # reads of touched pages change nothing
        if count >= n:
            if start == 0:
                self.observe(offsets, lengths, dirs)
                return
            order = np.r_[start:n, 0:start]
        elif start + count <= n:
            end = start + count
            self.observe(offsets[start:end], lengths[start:end], dirs[start:end])
            return
        else:
            order = np.r_[start:n, 0 : start + count - n]
        self.observe(offsets[order], lengths[order], dirs[order])

    @property
    def settled(self) -> bool:
        """No I/O can change a count any more: every page is allocated."""
        return self._private == len(self.state)

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
        fresh_writes = int(np.count_nonzero(fresh & first_is_write))
        fresh_reads = int(np.count_nonzero(fresh & ~first_is_write))
        self.first_write += fresh_writes
        self.first_read += fresh_reads
        self._untouched -= fresh_writes + fresh_reads
        if self.zero_page:
            on_zero = (fresh & ~first_is_write) | (was == ZERO)
            cow = int(np.count_nonzero(on_zero & wrote))
            self.cow_after_zero += cow
            self._private += fresh_writes + cow
            self.state[touched] = np.where(wrote, PRIVATE, np.where(fresh, ZERO, was))
        else:
            self._private += fresh_writes + fresh_reads
            self.state[touched] = PRIVATE
