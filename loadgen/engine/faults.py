"""Fault, CPU and context-switch counters of the worker, and its memory at job end.

getrusage(RUSAGE_THREAD) when jobs are threads (they share one process, so the
process totals would mix jobs), RUSAGE_SELF for a worker process.  Values are
cumulative; the runner takes differences.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass


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
    ru = resource.getrusage(resource.RUSAGE_THREAD if thread else resource.RUSAGE_SELF)
    return Usage(
        minf=ru.ru_minflt,
        majf=ru.ru_majflt,
        ctx=ru.ru_nvcsw + ru.ru_nivcsw,
        usr_ns=round(ru.ru_utime * 1e9),
        sys_ns=round(ru.ru_stime * 1e9),
    )


@dataclass(frozen=True)
class EndMemory:
    """The worker's memory at job end: the region's huge pages and the process's USS."""

    anon_huge_bytes: int  # AnonHugePages of the job's region
    uss_bytes: int  # Private_Clean + Private_Dirty over every mapping (psutil's USS)


_PRIVATE = ("Private_Clean:", "Private_Dirty:")


def end_memory(address: int) -> EndMemory:
    """One pass over /proc/self/smaps: AnonHugePages of the mapping holding ``address``, and USS.

    Per mapping rather than smaps_rollup for the huge pages: it is exact in thread mode
    too, and does not count huge pages of the interpreter's own heap.  The USS comes
    from the same read (psutil's ``memory_full_info`` reads smaps again, ~300 us+), and
    is the whole process's: threads of one worker share it.
    """
    inside = False
    huge = private_kb = 0
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split(" ", 1)[0]
                if head in _PRIVATE:
                    private_kb += int(line.split()[1])
                    continue
                lo, dash, hi = head.partition("-")
                if dash and not head.endswith(":"):
                    try:
                        inside = int(lo, 16) <= address < int(hi, 16)
                    except ValueError:
                        inside = False
                elif inside and head == "AnonHugePages:":
                    huge = int(line.split()[1]) * 1024
    except OSError:
        return EndMemory(0, 0)
    return EndMemory(huge, private_kb * 1024)
