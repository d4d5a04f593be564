"""The job's mapping: made once in setup, kept across loops, unmapped at the end.

The defaults are fio's page_fault engine: ``size`` bytes MAP_PRIVATE|MAP_ANONYMOUS, no
MAP_POPULATE, so every first touch faults.  The THP choice (``thp``) is applied with
madvise before the first touch, since the kernel decides huge pages at fault time.

``MemoryControls`` choose the backing (shared anonymous, memfd, a file, hugetlb) and what
is done to the mapping at setup (MAP_POPULATE, mlock, MADV_MERGEABLE) and at the end of
each pass (``end_pass``: MADV_COLD, MADV_COLLAPSE once, a delayed MADV_HUGEPAGE, and the
re-fault before the next pass).  Each such call is timed here and kept in ``stats()``,
apart from the I/O latencies.

Re-fault rules: ``dontneed`` zaps the page tables (private pages are freed, so the next
touch allocates again; shared, memfd and file pages stay in the page cache, so the next
touch is a minor fault that maps the cached page).  ``remap`` puts a fresh mapping at the
same address with one mmap(MAP_FIXED), which the kernel performs as munmap + mmap under
one lock (a separate munmap would leave a gap that another thread of the process could
take), and applies the setup advice again.  ``pageout`` reclaims the pages: private and
shmem pages go to swap where there is swap (the next touch is a major fault) and stay
resident where there is none; file pages are written back and dropped.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import time

import numpy as np

from loadgen.kernel.mmfacts import hugetlb_pool
from loadgen.plan import Backing, Job, MemoryControls, Mlock, NumaPolicy, Refault
from loadgen.stats.mmstats import RegionStats

__all__ = ["Region", "RegionError", "RegionStats"]

THP_MODES = ("inherit", "madvise", "never")

MAP_FIXED = 0x10
MAP_POPULATE = 0x8000
MAP_HUGETLB = 0x40000
MAP_HUGE_SHIFT = 26
MADV_DONTNEED = 4
MADV_MERGEABLE = 12
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_COLLAPSE = 25
MADV_POPULATE_WRITE = 23  # Linux 5.14
MLOCK_ONFAULT = 1
# fio's numa_mem_policy modes as the kernel's MPOL_* (uapi/linux/mempolicy.h)
MPOL_MODES = {"default": 0, "prefer": 1, "bind": 2, "interleave": 3, "local": 4}
# mbind(2) has no libc wrapper (libnuma has one); its number per architecture
SYS_MBIND = {"x86_64": 237, "aarch64": 235, "ppc64le": 259, "ppc64": 259, "s390x": 268,
             "riscv64": 235, "loongarch64": 235, "i686": 274, "armv7l": 319}
_PROT = mmap.PROT_READ | mmap.PROT_WRITE

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mlock2.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint]
_libc.syscall.restype = ctypes.c_long
_MAP_FAILED = ctypes.c_void_p(-1).value

clock = time.perf_counter_ns
FIO_ENGINE = MemoryControls()  # the defaults: fio's page_fault engine


class RegionError(OSError):
    """The mapping (or its madvise) was refused."""


def _errno_name(err: int) -> str:
    return errno.errorcode.get(err, str(err))


def _ksm_merging_pages() -> int:
    try:
        with open("/proc/self/ksm_stat", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == "ksm_merging_pages":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


class Region:
    """``size`` bytes of the chosen backing; ``address`` is where it starts."""

    def __init__(self, size: int, thp: str = "inherit", controls: MemoryControls = FIO_ENGINE,
                 name: str = "loadgen", policy: NumaPolicy | None = None) -> None:
        if thp not in THP_MODES:
            raise RegionError(errno.EINVAL, f"thp={thp!r}: expected one of {', '.join(THP_MODES)}")
        if size <= 0:
            raise RegionError(errno.EINVAL, f"size={size}: the region must not be empty")
        self.size = size
        self.thp = thp
        self.controls = controls
        self.policy = policy  # numa_mem_policy: (mode, nodes), bound to the mapping
        self._fd = -1
        self._flags = 0
        self._populate_ns = self._mlock_ns = 0
        self._passes = self._refaults = self._refault_ns = self._refault_max_ns = self._cold_ns = 0
        self._collapse, self._collapse_ns = "", 0
        delayed = bool(controls.thp_delay_ns or controls.thp_delay_passes)
        self._thp_pending = thp == "madvise" and delayed
        self._thp_advised_pass = self._thp_advised_ns = 0
        try:
            self._fd, self._flags = self._open_backing(name)
            t0 = clock()
            self.mm = self._map()
            if controls.populate:
                self._populate_ns = clock() - t0
        except BaseException:
            if self._fd >= 0:
                os.close(self._fd)
            raise
        probe = np.frombuffer(self.mm, dtype=np.uint8, count=1)
        self.address = int(probe.ctypes.data)
        del probe
        try:
            self._advise_setup()
        except BaseException:
            self._unmap()
            raise
        self.created_ns = clock()

    @classmethod
    def for_job(cls, job: Job) -> Region:
        return cls(job.size, job.thp, job.mm, job.name, job.numa_mem_policy)

    # ---- setup ----------------------------------------------------------------------------
    def _open_backing(self, name: str) -> tuple[int, int]:
        """(fd or -1, mmap flags) of the backing; a file or memfd is sized to the region."""
        c = self.controls
        anon = mmap.MAP_ANONYMOUS
        if c.backing is Backing.ANON:
            return -1, mmap.MAP_PRIVATE | anon
        if c.backing is Backing.SHARED:
            return -1, mmap.MAP_SHARED | anon
        if c.backing is Backing.HUGETLB:
            page = c.hugepage_size or hugetlb_pool().page_size
            size_bits = (page.bit_length() - 1) << MAP_HUGE_SHIFT
            return -1, mmap.MAP_PRIVATE | anon | MAP_HUGETLB | size_bits
        try:
            if c.backing is Backing.MEMFD:
                fd = os.memfd_create(f"loadgen:{name}", os.MFD_CLOEXEC)
            else:
                fd = os.open(c.filename, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            what = "memfd_create" if c.backing is Backing.MEMFD else f"open {c.filename}"
            raise RegionError(exc.errno or errno.EIO,
                              f"backing={c.backing}: {what}: {exc.strerror}") from exc
        try:
            if os.fstat(fd).st_size < self.size:
                os.ftruncate(fd, self.size)
        except OSError as exc:
            os.close(fd)
            raise RegionError(exc.errno or errno.EIO, f"backing={c.backing}: cannot size it to "
                              f"{self.size} bytes: {exc.strerror}") from exc
        return fd, mmap.MAP_SHARED

    def _populate_flag(self) -> int:
        """MAP_POPULATE, unless a memory policy must be bound before the pages exist (then
        ``_advise_setup`` populates after the binding)."""
        return MAP_POPULATE if self.controls.populate and self.policy is None else 0

    def _map(self) -> mmap.mmap:
        flags = self._flags | self._populate_flag()
        try:
            return mmap.mmap(self._fd, self.size, flags=flags, prot=_PROT)
        except OSError as exc:
            raise RegionError(exc.errno or errno.ENOMEM, self._map_refused(exc)) from exc

    def _map_refused(self, exc: OSError) -> str:
        c = self.controls
        backing = "" if c.backing is Backing.ANON else f" (backing={c.backing})"
        text = f"mmap of {self.size} bytes{backing} refused: {exc.strerror}"
        if c.backing is Backing.HUGETLB and exc.errno == errno.ENOMEM:
            pool = hugetlb_pool(c.hugepage_size)
            text += f"; {pool.hint(self.size // pool.page_size)}"
        return text

    def _advise_setup(self) -> None:
        """The advice a fresh mapping gets, at setup and again after each remap."""
        c = self.controls
        if self.thp == "never":
            self._madvise(MADV_NOHUGEPAGE, "thp=never")
        elif self.thp == "madvise":
            pending = self._thp_pending
            self._madvise(MADV_NOHUGEPAGE if pending else MADV_HUGEPAGE, "thp=madvise")
        if c.ksm:
            self._madvise(MADV_MERGEABLE, "ksm=1")
        if self.policy is not None:
            self._bind(*self.policy)
            if c.populate:
                t0 = clock()
                self._madvise(MADV_POPULATE_WRITE, "populate=1")
                self._populate_ns += clock() - t0
        if c.mlock is not Mlock.OFF:
            t0 = clock()
            if c.mlock is Mlock.ON:
                rc = _libc.mlock(self.address, self.size)
            else:
                rc = _libc.mlock2(self.address, self.size, MLOCK_ONFAULT)
            if rc != 0:
                err = ctypes.get_errno()
                raise RegionError(err, f"mlock={c.mlock} of {self.size} bytes refused: "
                                  f"{os.strerror(err)}"
                                  " (RLIMIT_MEMLOCK; root or CAP_IPC_LOCK may lock more)")
            self._mlock_ns += clock() - t0

    def _bind(self, mode: str, nodes: tuple[int, ...]) -> None:
        """fio's numa_mem_policy on the mapping (mbind), before any of its pages exist, so
        that every fault allocates by it, in whichever thread faults."""
        number = SYS_MBIND.get(os.uname().machine)
        what = f"numa_mem_policy={mode}" + (f":{','.join(map(str, nodes))}" if nodes else "")
        if number is None:
            raise RegionError(errno.ENOSYS, f"{what}: mbind's system call number is not known "
                              f"on {os.uname().machine}")
        bits = 64 * (max(nodes, default=0) // 64 + 1)
        mask = (ctypes.c_ulong * (bits // 64))()
        for node in nodes:
            mask[node // 64] |= 1 << (node % 64)
        # the kernel reads maxnode - 1 bits of the mask (as libnuma passes it)
        if _libc.syscall(number, ctypes.c_void_p(self.address), ctypes.c_size_t(self.size),
                         ctypes.c_int(MPOL_MODES[mode]), mask if nodes else None,
                         ctypes.c_ulong(bits + 1 if nodes else 0), ctypes.c_uint(0)) != 0:
            err = ctypes.get_errno()
            raise RegionError(err, f"{what}: mbind of {self.size} bytes refused: "
                              f"{os.strerror(err)}")

    def _madvise(self, advice: int, what: str) -> None:
        try:
            self.mm.madvise(advice)
        except OSError as exc:
            raise RegionError(exc.errno or errno.EINVAL,
                              f"madvise({what}) refused: {exc.strerror}") from exc

    # ---- between passes ---------------------------------------------------------------------
    def end_pass(self, more: bool) -> None:
        """The pass over the region has ended; ``more``: another pass follows.

        MADV_COLD (cold=1), MADV_COLLAPSE after the first pass (collapse=1), the delayed
        MADV_HUGEPAGE (thp_delay), then the re-fault when another pass follows.  A job
        with none of these (fio's engine) costs one attribute test."""
        c = self.controls
        if not c.per_pass:
            return
        self._passes += 1
        if c.cold:
            t0 = clock()
            self._madvise(MADV_COLD, "cold=1")
            self._cold_ns += clock() - t0
        if c.collapse and not self._collapse:
            t0 = clock()
            try:
                self.mm.madvise(MADV_COLLAPSE)
                self._collapse = "ok"
            except OSError as exc:
                self._collapse = _errno_name(exc.errno or errno.EINVAL)
            self._collapse_ns = clock() - t0
        if self._thp_pending:
            now = clock()
            due_pass = c.thp_delay_passes and self._passes >= c.thp_delay_passes
            due_time = c.thp_delay_ns and now - self.created_ns >= c.thp_delay_ns
            if due_pass or due_time:
                self._madvise(MADV_HUGEPAGE, "thp_delay")
                self._thp_pending = False
                self._thp_advised_pass, self._thp_advised_ns = self._passes, now - self.created_ns
        if more and c.refault is not Refault.NONE:
            self.refault()

    def refault(self) -> None:
        """Make the next touch of every page fault again (``refault=``), timed."""
        mode = self.controls.refault
        t0 = clock()
        if mode is Refault.DONTNEED:
            self._madvise(MADV_DONTNEED, "refault=dontneed")
        elif mode is Refault.PAGEOUT:
            self._madvise(MADV_PAGEOUT, "refault=pageout")
        elif mode is Refault.REMAP:
            self._remap()
        else:
            return
        spent = clock() - t0
        self._refaults += 1
        self._refault_ns += spent
        self._refault_max_ns = max(self._refault_max_ns, spent)

    def _remap(self) -> None:
        flags = self._flags | MAP_FIXED | self._populate_flag()
        got = _libc.mmap(self.address, self.size, _PROT, flags, self._fd, 0)
        if got == _MAP_FAILED or got != self.address:
            err = ctypes.get_errno() or errno.ENOMEM
            raise RegionError(err, f"refault=remap: mmap(MAP_FIXED) of {self.size} bytes refused: "
                              f"{os.strerror(err)}")
        mlock_before, populate_before = self._mlock_ns, self._populate_ns
        self._advise_setup()
        # a re-lock or re-populate is part of the re-fault's cost
        self._mlock_ns, self._populate_ns = mlock_before, populate_before

    # ---- reporting and end ----------------------------------------------------------------------
    @property
    def refaults(self) -> int:
        """Re-faults done so far."""
        return self._refaults

    def stats(self) -> RegionStats:
        return RegionStats(
            backing=str(self.controls.backing), populate_ns=self._populate_ns,
            mlock_ns=self._mlock_ns,
            passes=self._passes, refaults=self._refaults, refault_ns=self._refault_ns,
            refault_max_ns=self._refault_max_ns, cold_ns=self._cold_ns, collapse=self._collapse,
            collapse_ns=self._collapse_ns, thp_advised_pass=self._thp_advised_pass,
            thp_advised_ns=self._thp_advised_ns,
            ksm_merging_pages=_ksm_merging_pages() if self.controls.ksm else 0,
        )

    def _unmap(self) -> None:
        self.mm.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        """munmap (outside the measured window).  A file the run created is removed by the
        controller, which also does it when a worker dies."""
        self._unmap()
