"""Fault, CPU and context-switch counters of the worker, and its region's huge pages.

getrusage(RUSAGE_THREAD) when jobs are threads (they share one process, so the
process totals would mix jobs), RUSAGE_SELF for a worker process.  Values are
cumulative; the runner takes differences.
"""

from __future__ import annotations

import mmap
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@dataclass(frozen=True)
class Usage:
    minf: int
    majf: int
    ctx: int
    usr_ns: int
    sys_ns: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.minf - other.minf,
            self.majf - other.majf,
            self.ctx - other.ctx,
            self.usr_ns - other.usr_ns,
            self.sys_ns - other.sys_ns,
        )


def read_usage(thread: bool) -> Usage:
    return usage_of(resource.getrusage(resource.RUSAGE_THREAD if thread else resource.RUSAGE_SELF))


def usage_of(ru: resource.struct_rusage) -> Usage:
    """A ``getrusage`` or ``wait4`` result as a Usage."""
    return Usage(
        minf=ru.ru_minflt,
        majf=ru.ru_majflt,
        ctx=ru.ru_nvcsw + ru.ru_nivcsw,
        usr_ns=round(ru.ru_utime * 1e9),
        sys_ns=round(ru.ru_stime * 1e9),
    )


def huge_pages_possible(thp: str) -> bool:
    """Whether the region can hold transparent huge pages: advised, or THP is ``always``."""
    if thp == "never":
        return False
    if thp == "madvise":
        return True
    try:
        return "[always]" in THP_ENABLED.read_text()
    except OSError:
        return False


def anon_huge_bytes(address: int) -> int:
    """AnonHugePages of the mapping holding ``address`` (/proc/self/smaps).

    Per mapping rather than smaps_rollup: exact in thread mode too, and it does not
    count huge pages of the interpreter's own heap.
    """
    inside = False
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split(" ", 1)[0]
                lo, dash, hi = head.partition("-")
                if dash and not head.endswith(":"):
                    try:
                        inside = int(lo, 16) <= address < int(hi, 16)
                    except ValueError:
                        inside = False
                elif inside and head == "AnonHugePages:":
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


# numpy keeps freed small buffers in a cache in its extension's .bss; pages of it that
# the fork helper never wrote are first written by whichever report needs a new size
CACHE_LIBRARIES = ("/_multiarray_umath.",)


def bss_spans(maps: str, libraries: tuple[str, ...] = CACHE_LIBRARIES) -> list[tuple[int, int]]:
    """(start, length) of each anonymous writable mapping right after a mapping of one of
    ``libraries``: the library's .bss (``maps``: the text of /proc/self/maps)."""
    spans = []
    previous = ""
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            continue
        path = fields[5].strip() if len(fields) > 5 else ""
        if not path and fields[1].startswith("rw") and any(lib in previous for lib in libraries):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            spans.append((start, end - start))
        previous = path
    return spans


def own_bss(touch: Callable[[int], object], maps_path: str = "/proc/self/maps",
            libraries: tuple[str, ...] = CACHE_LIBRARIES) -> int:
    """Write every page of the libraries' .bss now (``touch``: adds 0 to the word at an
    address atomically, so another thread's concurrent writes are kept), so its first
    writes are not faults in the measured window; returns the pages touched."""
    try:
        with open(maps_path) as maps:
            spans = bss_spans(maps.read(), libraries)
    except OSError:
        return 0
    pages = 0
    for start, length in spans:
        for page in range(start, start + length, mmap.PAGESIZE):
            touch(page)
            pages += 1
    return pages
