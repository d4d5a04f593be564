"""The job's anonymous mapping: created once, kept across loops, unmapped at the end.

fio's page_fault engine maps ``size`` bytes MAP_PRIVATE|MAP_ANONYMOUS with no
MAP_POPULATE, so every first touch faults.  The THP choice (``thp``) is applied with
madvise before the first touch, since the kernel decides huge pages at fault time.
"""

from __future__ import annotations

import ctypes
import errno
import mmap

THP_MODES = ("inherit", "madvise", "never")


class RegionError(OSError):
    """The mapping (or its madvise) was refused."""


class Region:
    """``size`` bytes of private anonymous memory; ``address`` is where it starts."""

    def __init__(self, size: int, thp: str = "inherit") -> None:
        if thp not in THP_MODES:
            raise RegionError(errno.EINVAL, f"thp={thp!r}: expected one of {', '.join(THP_MODES)}")
        if size <= 0:
            raise RegionError(errno.EINVAL, f"size={size}: the region must not be empty")
        try:
            self.mm = mmap.mmap(
                -1,
                size,
                flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                prot=mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError as exc:
            raise RegionError(exc.errno or errno.ENOMEM,
                              f"mmap of {size} bytes refused: {exc.strerror}") from exc
        self.size = size
        if thp != "inherit":
            advice = mmap.MADV_HUGEPAGE if thp == "madvise" else mmap.MADV_NOHUGEPAGE
            try:
                self.mm.madvise(advice)
            except OSError as exc:
                self.mm.close()
                raise RegionError(exc.errno or errno.EINVAL,
                                  f"madvise(thp={thp}) refused: {exc.strerror}") from exc
        # The address only: no buffer export is kept, so close() can always unmap.
        anchor = ctypes.c_char.from_buffer(self.mm)
        self.address = ctypes.addressof(anchor)
        del anchor

    def close(self) -> None:
        """munmap (outside the measured window)."""
        self.mm.close()
