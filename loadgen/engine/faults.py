"""Fault, CPU and context-switch counters of the worker, and its region's huge pages.

getrusage(RUSAGE_THREAD) when jobs are threads (they share one process, so the
process totals would mix jobs), RUSAGE_SELF for a worker process.  Values are
cumulative; the runner takes differences.
"""

from __future__ import annotations

import resource
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
