"""/proc/vmstat: one read per snapshot, deltas of the memory-management event counters.

The counters are system-wide and monotonic (except the ``nr_*`` gauges), so a
delta between a group's start and end says what the kernel did while it ran,
give or take what other processes did at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable

VMSTAT_PATH = "/proc/vmstat"

# The counters a report carries: faults, THP events, page allocation and freeing,
# NUMA placement, compaction, swap and reclaim, OOM kills.
REPORTED_EXACT = ("pgfault", "pgmajfault", "pgfree", "pswpin", "pswpout", "oom_kill",
                  "nr_anon_pages", "nr_anon_transparent_hugepages")
REPORTED_PREFIXES = ("thp_", "pgalloc_", "numa_", "compact_", "pgscan_", "pgsteal_")


def parse(text: str) -> dict[str, int]:
    """``name value`` lines into a dict (lines that do not parse are skipped)."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        try:
            counters[name] = int(value)
        except ValueError:
            continue
    return counters


def snapshot(path: str = VMSTAT_PATH) -> dict[str, int]:
    """Every counter of /proc/vmstat now (one read); empty if the file cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            return parse(f.read())
    except OSError:
        return {}


def is_reported(name: str) -> bool:
    return name in REPORTED_EXACT or name.startswith(REPORTED_PREFIXES)


def delta(
    before: dict[str, int], after: dict[str, int], names: Iterable[str] | None = None
) -> dict[str, int]:
    """``after - before`` for the reported counters (or ``names``), in /proc/vmstat order.

    A counter missing from ``before`` counts from 0; one missing from ``after`` is left out.
    """
    wanted = set(names) if names is not None else None
    return {
        name: value - before.get(name, 0)
        for name, value in after.items()
        if (name in wanted if wanted is not None else is_reported(name))
    }
