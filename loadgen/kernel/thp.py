"""Transparent huge pages: settings, and the per-size (mTHP) event counters.

Since Linux 6.8 each folio size has its own ``hugepages-<size>kB`` directory with
an ``enabled`` policy and ``stats/`` counters (anon_fault_alloc, split, swpout, ...).
These are the only place that says which sizes the kernel actually used, so a
report keeps them keyed by size.  All counters are system-wide.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TypedDict

THP_ROOT = "/sys/kernel/mm/transparent_hugepage"
_SIZE_DIR = re.compile(r"^hugepages-(\d+)kB$")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def selected(choice_line: str | None) -> str:
    """The bracketed value of a sysfs choice line (``always [madvise] never`` -> ``madvise``)."""
    if not choice_line:
        return ""
    match = re.search(r"\[([^\]]+)\]", choice_line)
    return match.group(1) if match else choice_line


def size_dirs(root: str = THP_ROOT) -> list[tuple[str, str]]:
    """(``"64kB"``, directory) for every mTHP size, smallest first."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    sizes = [(int(m.group(1)), name) for name in names if (m := _SIZE_DIR.match(name))]
    return [(f"{kb}kB", os.path.join(root, name)) for kb, name in sorted(sizes)]


class ThpSettings(TypedDict):
    """The THP policy as the run header reports it (sysfs choice values; "" where absent)."""

    enabled: str
    defrag: str
    shmem_enabled: str
    pmd_size_bytes: int
    mthp_enabled: dict[str, str]  # "64kB" -> its enabled setting


def settings(root: str = THP_ROOT) -> ThpSettings:
    """THP policy now: enabled, defrag, PMD size, and every size's ``enabled`` setting."""
    pmd = _read(os.path.join(root, "hpage_pmd_size"))
    return {
        "enabled": selected(_read(os.path.join(root, "enabled"))),
        "defrag": selected(_read(os.path.join(root, "defrag"))),
        "shmem_enabled": selected(_read(os.path.join(root, "shmem_enabled"))),
        "pmd_size_bytes": int(pmd) if pmd and pmd.isdigit() else 0,
        "mthp_enabled": {size: selected(policy) for size, d in size_dirs(root)
                         if (policy := _read(os.path.join(d, "enabled"))) is not None},
    }


@functools.lru_cache(maxsize=8)
def stat_files(root: str = THP_ROOT) -> tuple[tuple[str, str, str], ...]:
    """(size, counter, path) of every mTHP counter file; the set is fixed while the system runs."""
    files = []
    for size, directory in size_dirs(root):
        stats_dir = os.path.join(directory, "stats")
        try:
            names = sorted(os.listdir(stats_dir))
        except OSError:
            continue
        files += [(size, name, os.path.join(stats_dir, name)) for name in names]
    return tuple(files)


def _read_int(path: str) -> int | None:
    """One raw read of a small sysfs counter (no text wrapper: this runs ~150 times a snapshot)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 64))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def mthp_snapshot(root: str = THP_ROOT) -> dict[str, dict[str, int]]:
    """Every per-size counter now: {"64kB": {"anon_fault_alloc": n, ...}}; {} without mTHP stats."""
    out: dict[str, dict[str, int]] = {}
    for size, name, path in stat_files(root):
        value = _read_int(path)
        if value is not None:
            out.setdefault(size, {})[name] = value
    return out


def mthp_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """``after - before`` per size and counter (missing in ``before`` counts from 0)."""
    return {
        size: {name: value - before.get(size, {}).get(name, 0) for name, value in counters.items()}
        for size, counters in after.items()
    }
