"""The job's I/O buffer area (fio's ``mem``/``iomem``): what the write source ring and the
read buffer are backed by.

fio allocates one area for its I/O units (memory.c); loadgen's is the write ring and the
read buffer, allocated here the way fio allocates its area:

* ``malloc``: process heap (numpy), fio's default;
* ``shm``/``shmhuge``: a SysV segment (``SHM_HUGETLB`` for shmhuge, the size rounded up to
  the huge page size), marked for removal as soon as it is attached, so no segment outlives
  the worker;
* ``mmap``: private anonymous memory, or with ``mmap:FILE`` a private mapping of FILE
  (truncated to the size);
* ``mmaphuge``: ``MAP_HUGETLB`` anonymous memory (size rounded up), or with a file (on a
  hugetlbfs mount) a shared mapping of it;
* ``mmapshared``: with a file, a shared mapping of it (the written data shows in the file);
  without one, private anonymous memory, exactly as fio maps it.

A FILE that did not exist is created and removed when the job closes; one that existed is
kept.  ``iomem_align`` puts the area's start that many bytes past page alignment (fio's
mem_align).
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from pathlib import Path

import numpy as np

from loadgen.plan import Job, MemKind

_PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE
_MAP_HUGETLB = 0x40000
_IPC_PRIVATE = 0
_IPC_CREAT = 0o1000
_IPC_RMID = 0
_SHM_HUGETLB = 0o4000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmat.restype = ctypes.c_void_p
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmdt.argtypes = [ctypes.c_void_p]
_libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
_FAILED = ctypes.c_void_p(-1).value


def huge_page_size() -> int:
    """The system's default huge page size (fio rounds huge areas up to hugepage-size)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Hugepagesize:"):
                return int(line.split()[1]) * 1024
    return 2 << 20


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


class IoMem:
    """One job's buffer area; ``array`` is the whole of it, ``close`` gives it back."""

    def __init__(self, job: Job, size: int) -> None:
        self.kind = job.mem
        self.path = Path(job.mem_file) if job.mem_file else None
        self.keep = self.path is not None and self.path.exists()
        self._address = 0
        self._length = 0
        self._shm = False
        self._fd = -1
        self._heap: np.ndarray | None = None
        page = mmap.PAGESIZE
        need = size + job.mem_align
        if self.kind.huge:
            huge = huge_page_size()
            need = -(-need // huge) * huge
        else:
            need = -(-need // page) * page
        try:
            base = self._allocate(need)
        except OSError:
            self.close()
            raise
        self.array = np.ctypeslib.as_array(
            (ctypes.c_uint8 * size).from_address(base + job.mem_align))

    def _allocate(self, length: int) -> int:
        kind = self.kind
        if kind is MemKind.MALLOC:
            self._heap = np.full(length + mmap.PAGESIZE, 0, dtype=np.uint8)
            start = int(self._heap.ctypes.data)
            return -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # fio aligns to the page
        if kind in (MemKind.SHM, MemKind.SHMHUGE):
            flags = _IPC_CREAT | 0o600 | (_SHM_HUGETLB if kind.huge else 0)
            shm_id = _libc.shmget(_IPC_PRIVATE, length, flags)
            if shm_id < 0:
                raise _fail("shmget")
            address = _libc.shmat(shm_id, None, 0)
            _libc.shmctl(shm_id, _IPC_RMID, None)  # gone once detached, even after a crash
            if address in (None, _FAILED):
                raise _fail("shmat")
            self._address, self._shm = address, True
            return int(address)
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        fd = -1
        if self.path is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._fd = fd
            if kind is MemKind.MMAP:
                os.ftruncate(fd, length)
            elif os.fstat(fd).st_size < length:
                os.ftruncate(fd, length)  # fio expects the file big enough; make it so
            flags = mmap.MAP_PRIVATE if kind is MemKind.MMAP else mmap.MAP_SHARED
        elif kind is MemKind.MMAPHUGE:
            flags |= _MAP_HUGETLB
        address = _libc.mmap(None, length, _PROT_RW, flags, fd, 0)
        if address in (None, _FAILED):
            raise _fail("mmap")
        self._address, self._length = address, length
        return int(address)

    def close(self) -> None:
        """Unmap or detach the area; a file loadgen created is removed (fio's TD_F_MMAP_KEEP)."""
        self._heap = None
        if self._address and self._shm:
            _libc.shmdt(self._address)
        elif self._address:
            _libc.munmap(self._address, self._length)
        self._address = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self.path is not None and not self.keep:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
