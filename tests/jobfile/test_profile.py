"""Key acceptance: profiles/page_fault.fio resolves to fio's values on this machine."""

from __future__ import annotations

import os
from pathlib import Path

from loadgen.jobfile import load

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "page_fault.fio"


def test_page_fault_profile_matches_fio_on_this_machine():
    plan, _ = load([str(PROFILE)], environ={}, note=lambda message: None)
    pagesize = os.sysconf("SC_PAGESIZE")
    mb_memory = os.sysconf("SC_PHYS_PAGES") * pagesize // 2**20
    ncpus = max(1, os.sysconf("SC_NPROCESSORS_CONF"))
    five_eighths = 5 * 1024 * 1024 * mb_memory // 8

    assert len(plan.groups) == 13
    sections = [job for job in plan.jobs if job.subjob == 0]
    assert [job.group_id for job in sections] == list(range(13))
    by_name = {job.name: job for job in sections}
    assert len(by_name) == 13

    storm = by_name["page_fault_process_storm"]
    assert storm.numjobs == ncpus
    assert len(plan.groups[2].jobs) == ncpus
    assert storm.size == 8 * 1024 * pagesize
    assert (storm.rw, storm.rwmixread) == ("randrw", 50)

    hot = by_name["page_fault_cache_hot"]
    assert (hot.size, hot.loops) == (64 * pagesize, 100)
    assert by_name["page_fault_pressure"].size == 7 * 1024 * 1024 * mb_memory // 8
    assert by_name["page_fault_warm"].loops == 3
    assert (by_name["page_fault_read_heavy"].rwmixread, by_name["page_fault_write_heavy"].rwmixread) == (90, 10)

    mthp = by_name["page_fault_mthp"]
    assert (mthp.bs_min, mthp.bs_max, mthp.blockalign) == ((16384,) * 2, (1 << 20,) * 2, (16384,) * 2)
    large = by_name["page_fault_large_block"]
    assert (large.bs_min, large.blockalign) == ((2 << 20,) * 2, (2 << 20,) * 2)

    others = set(by_name) - {"page_fault_process_storm", "page_fault_cache_hot", "page_fault_pressure"}
    for name in others:
        assert by_name[name].size == five_eighths, name
    for job in plan.jobs:
        if job.name not in ("page_fault_mthp", "page_fault_large_block"):
            assert job.bs_min == job.bs_max == (pagesize, pagesize)
        assert job.stonewall == (job.subjob == 0)
    assert dict(plan.global_options)["size"] == str(five_eighths)
