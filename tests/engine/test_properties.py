"""Random small jobs: every combination ends, stays inside its region and never does
more than its amount (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.engine.pattern import AccessPattern, region_bounds
from loadgen.plan import BsSplitEntry
from tests.engine.conftest import loop_ios, make_job, run_job

K = 1024

jobs = st.builds(
    dict,
    rw=st.sampled_from(["read", "write", "randread", "randwrite", "rw", "randrw"]),
    size=st.sampled_from([4 * K, 10 * K, 64 * K, 256 * K, 1000 * K]),
    bs=st.sampled_from([(4 * K, 4 * K), (4 * K, 16 * K), (8 * K, 8 * K), (512, 4 * K)]),
    bssplit=st.booleans(),
    rw_postfix=st.sampled_from([0, 0, 4 * K, 3]),
    rw_sequencer=st.sampled_from(["sequential", "identical"]),
    percentage_random=st.sampled_from([100, 100, 50, 0]),
    norandommap=st.booleans(),
    blockalign=st.sampled_from([None, 16 * K]),
    distribution=st.sampled_from(["random", "random", "zipf", "pareto", "normal", "zoned"]),
    loops=st.integers(1, 3),
    io_size=st.sampled_from([0, 0, 300 * K]),
    number_ios=st.sampled_from([0, 0, 7]),
    offset_percent=st.sampled_from([0, 0, 30]),
    subjob=st.integers(0, 2),
    offset_increment=st.sampled_from([0, 64 * K]),
    rwmixread=st.integers(0, 100),
)


def build(p: dict) -> dict:
    lo, hi = p["bs"]
    kw = {
        "rw": p["rw"],
        "size": p["size"],
        "bs_min": (lo, lo),
        "bs_max": (hi, hi),
        "rw_postfix": p["rw_postfix"],
        "rw_sequencer": p["rw_sequencer"],
        "percentage_random": (p["percentage_random"],) * 2,
        "norandommap": p["norandommap"],
        "random_distribution": p["distribution"],
        "loops": p["loops"],
        "io_size": p["io_size"],
        "number_ios": p["number_ios"],
        "offset_percent": p["offset_percent"],
        "subjob": p["subjob"],
        "offset_increment": p["offset_increment"],
        "rwmixread": p["rwmixread"],
    }
    if p["bssplit"] and lo != hi:
        split = (BsSplitEntry(lo, 30), BsSplitEntry(hi, 70))
        kw["bssplit"] = (split, split)
    if p["blockalign"]:
        kw["blockalign"] = (p["blockalign"],) * 2
    if p["distribution"] == "zoned":
        kw["zones"] = (((60.0, 10), (40.0, 90)), ((60.0, 10), (40.0, 90)))
    return kw


@settings(max_examples=30, deadline=None)
@given(jobs)
def test_every_io_stays_in_its_region(p: dict) -> None:
    job = make_job(**build(p))
    start, end = region_bounds(job)
    pattern = AccessPattern(job)
    for _ in range(2):
        for off, length, d in loop_ios(pattern, limit=1000):
            assert start <= off and off + length <= end and length > 0 and d in (0, 1)
        pattern.start_loop()


@settings(max_examples=25, deadline=None)
@given(jobs)
def test_every_job_ends_within_its_amount(p: dict) -> None:
    kw = build(p)
    job = make_job(**kw)
    res = run_job(job)
    assert sum(1 for r in res.reports if r.final) == 1
    total = sum(res.bytes)
    loops = max(job.loops, 1)
    assert total <= job.bytes_per_pass * loops + max(job.bs_max)
    if job.number_ios:
        assert sum(res.ios) <= job.number_ios * loops
