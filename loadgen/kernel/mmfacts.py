"""Memory-management facts of this machine: the hugetlb pools, swap, and KSM's counters.

Read by the controller before a run (can the job's backing work here?) and after each
group (KSM's system-wide counters), and by the worker's region for its error messages;
nothing here changes a setting.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

HUGEPAGES_ROOT = "/sys/kernel/mm/hugepages"
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"
MEMINFO = "/proc/meminfo"
SWAPS = "/proc/swaps"
KSM_ROOT = "/sys/kernel/mm/ksm"


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def default_hugepage_size(meminfo: str = MEMINFO) -> int:
    """``Hugepagesize`` of /proc/meminfo in bytes (the size MAP_HUGETLB uses by default)."""
    with contextlib.suppress(OSError), open(meminfo, encoding="ascii") as f:
        for line in f:
            if line.startswith("Hugepagesize:"):
                return int(line.split()[1]) * 1024
    return 2 * 1024 * 1024


@dataclass(frozen=True)
class HugetlbPool:
    """One hugetlb page size's pool and the file that sizes it."""

    page_size: int
    exists: bool  # the kernel offers this size
    total: int
    free: int
    control: str  # /proc/sys/vm/nr_hugepages for the default size, else the size's own file

    def hint(self, needed_pages: int) -> str:
        """What to do when the pool is too small: the one line a user needs."""
        mib = self.page_size // (1024 * 1024)
        return (f"the hugetlb pool of {mib} MiB pages has {self.free} free of {self.total}, "
                f"{needed_pages} needed: raise {self.control} (as root, e.g. "
                f"echo {self.total + needed_pages - self.free} > {self.control})")


def hugetlb_pool(page_size: int = 0, root: str = HUGEPAGES_ROOT) -> HugetlbPool:
    """The pool of ``page_size`` pages (0 = the default size)."""
    default = default_hugepage_size()
    size = page_size or default
    directory = os.path.join(root, f"hugepages-{size // 1024}kB")
    total = _read_int(os.path.join(directory, "nr_hugepages"))
    free = _read_int(os.path.join(directory, "free_hugepages"))
    control = NR_HUGEPAGES if size == default else os.path.join(directory, "nr_hugepages")
    return HugetlbPool(size, total is not None, total or 0, free or 0, control)


def swap_active(swaps: str = SWAPS) -> bool:
    """Whether any swap device (zram included) is on: /proc/swaps lists more than its header."""
    try:
        with open(swaps, encoding="ascii") as f:
            return len(f.read().strip().splitlines()) > 1
    except OSError:
        return False


def ksm_snapshot(root: str = KSM_ROOT) -> dict[str, int]:
    """Every numeric KSM file now (pages_shared, pages_sharing, full_scans, run, ...);
    {} where the kernel has no KSM."""
    out: dict[str, int] = {}
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        value = _read_int(os.path.join(root, name))
        if value is not None:
            out[name] = value
    return out


def ksm_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """KSM's counters over a window: differences, except the settings and gauges, which are
    their value at the end (pages_shared and pages_sharing are both: the end is the state)."""
    return {name: value - before.get(name, 0) if name in KSM_EVENTS else value
            for name, value in after.items() if name not in KSM_TUNABLES}


KSM_EVENTS = frozenset({"full_scans", "pages_scanned"})
KSM_TUNABLES = frozenset({
    "advisor_max_cpu", "advisor_max_pages_to_scan", "advisor_min_pages_to_scan",
    "advisor_target_scan_time", "max_page_sharing", "merge_across_nodes", "pages_to_scan",
    "sleep_millisecs", "smart_scan", "stable_node_chains_prune_millisecs", "use_zero_pages",
})
