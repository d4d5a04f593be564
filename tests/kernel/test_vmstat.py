"""/proc/vmstat parsing, deltas, and a real allocation seen in pgfault."""

from __future__ import annotations

import os

import pytest

from loadgen.kernel import vmstat

from .probe import run_probe

TOUCH_PAGES = """
import json, mmap, os, resource
from loadgen.kernel import vmstat
page = os.sysconf("SC_PAGE_SIZE")
pages = {pages}
m = mmap.mmap(-1, pages * page, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.madvise(mmap.MADV_NOHUGEPAGE)
before = vmstat.snapshot()
own_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for off in range(0, pages * page, page):
    m[off] = 1
own = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - own_before
after = vmstat.snapshot()  # the process's own counted faults all fall inside this window
print(json.dumps({{"delta": vmstat.delta(before, after), "own_minflt": own}}))
"""


def test_parse_skips_bad_lines() -> None:
    assert vmstat.parse("pgfault 10\nbogus\nthp_fault_alloc 3\nx y\n") == {
        "pgfault": 10,
        "thp_fault_alloc": 3,
    }


def test_delta_reports_the_documented_counters_only() -> None:
    before = {"pgfault": 10, "nr_free_pages": 5, "thp_fault_alloc": 1, "compact_stall": 0}
    after = {
        "pgfault": 25,
        "nr_free_pages": 2,
        "thp_fault_alloc": 4,
        "compact_stall": 2,
        "oom_kill": 1,
    }
    assert vmstat.delta(before, after) == {
        "pgfault": 15,
        "thp_fault_alloc": 3,
        "compact_stall": 2,
        "oom_kill": 1,
    }
    assert vmstat.delta(before, after, names=["nr_free_pages"]) == {"nr_free_pages": -3}


@pytest.mark.skipif(not os.path.exists(vmstat.VMSTAT_PATH), reason="no /proc/vmstat")
def test_real_snapshot_reads_every_counter_of_the_file() -> None:
    snap = vmstat.snapshot()
    with open(vmstat.VMSTAT_PATH) as raw:  # every line of the file, parsed independently
        expected = {name: int(value) for name, value in (line.split() for line in raw)}
    # counters only grow, so a snapshot taken after ours reads at least as much
    assert set(snap) == set(expected)
    grown = [n for n in snap if not n.startswith("nr_") and snap[n] > expected[n]]
    assert grown == []
    assert set(vmstat.delta(snap, snap).values()) == {0}


@pytest.mark.skipif(not os.path.exists(vmstat.VMSTAT_PATH), reason="no /proc/vmstat")
def test_touching_pages_raises_pgfault_by_at_least_that_many() -> None:
    """System-wide, so other processes only add: the delta is at least the pages this process
    faulted."""
    pages = 4096  # 16 MiB of 4k pages
    out = run_probe(TOUCH_PAGES.format(pages=pages))
    assert out["own_minflt"] >= pages * 0.95  # the process really faulted each page once
    assert out["delta"]["pgfault"] >= out["own_minflt"] >= pages * 0.95
