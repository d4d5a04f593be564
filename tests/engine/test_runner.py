"""JobRunner end to end: amounts, loops, limits, ramp, stop, interval deltas, faults, THP."""

from __future__ import annotations

import dataclasses
import errno
import mmap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loadgen.engine import flow
from loadgen.engine.faults import read_usage
from loadgen.engine.pattern import Batch
from loadgen.engine.region import Region
from loadgen.engine.runner import EngineError, JobRunner
from loadgen.kernel.mmfacts import swap_active
from loadgen.plan import MemoryControls, Refault, SsMetric, SteadyState
from loadgen.stats.jobstats import IntervalStats, SsSample
from tests.engine.conftest import RunResult, make_job, run_job

K = 1024
M = 1024 * 1024
MS = 1_000_000
PAGE = mmap.PAGESIZE
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_available() -> bool:
    return THP.exists() and "[never]" not in THP.read_text()


def test_sequential_write_counts_every_block_once() -> None:
    res = run_job(make_job(rw="write", size=4 * M))
    assert res.ios == (0, 1024) and res.bytes == (0, 4 * M)
    assert (
        res.total.dirs[1].clat.moments.n == 1024 and int(res.total.dirs[1].clat.hist.sum()) == 1024
    )
    assert int(res.total.latency_buckets.sum()) == 1024


def test_randrw_loop_is_size_and_loops_multiply_exactly() -> None:
    one = run_job(make_job(rw="randrw", size=2 * M))
    three = run_job(make_job(rw="randrw", size=2 * M, loops=3))
    assert sum(one.bytes) == 2 * M
    assert three.ios == (3 * one.ios[0], 3 * one.ios[1])


def test_many_loops_of_a_small_region_replay_exactly() -> None:
    one = run_job(make_job(rw="randrw", size=64 * PAGE))
    many = run_job(make_job(rw="randrw", size=64 * PAGE, loops=300))
    assert many.ios == (300 * one.ios[0], 300 * one.ios[1])


def test_rw_stops_when_read_plus_write_reach_size() -> None:
    res = run_job(make_job(rw="rw", size=16 * 4 * K))
    assert sum(res.ios) == 16 and sum(res.bytes) == 64 * K


def test_io_size_reruns_random_passes() -> None:
    res = run_job(make_job(rw="randread", size=1 * M, io_size=4 * M))
    assert res.ios == (1024, 0)


def test_io_size_wraps_sequential_writes() -> None:
    res = run_job(make_job(rw="write", size=1 * M, io_size=3 * M))
    assert res.bytes == (0, 3 * M)


def test_number_ios_ends_early() -> None:
    assert run_job(make_job(rw="randwrite", size=4 * M, number_ios=100)).ios == (0, 100)
    assert run_job(make_job(rw="write", size=4 * M, number_ios=100, loops=2)).ios == (0, 200)
    assert run_job(make_job(rw="write", size=64 * K, number_ios=100)).ios == (0, 16)


def test_norandommap_still_does_size_per_loop() -> None:
    res = run_job(make_job(rw="randrw", size=1 * M, norandommap=True, loops=2))
    assert sum(res.bytes) == 2 * M


def test_offset_increment_at_or_beyond_size_does_no_io() -> None:
    res = run_job(make_job(rw="write", size=1 * M, subjob=2, offset_increment=1 * M))
    assert res.ios == (0, 0) and res.reports[-1].final


def test_runtime_caps_a_big_job() -> None:
    res = run_job(make_job(rw="write", size=1024 * M, runtime_ns=50 * MS))
    assert 0 < res.ios[1] < 256 * K
    assert res.total.runtime_ns >= 50 * MS


def test_time_based_keeps_looping_until_runtime() -> None:
    res = run_job(make_job(rw="randrw", size=256 * K, runtime_ns=100 * MS, time_based=True))
    assert sum(res.bytes) > 4 * 256 * K  # wrapped many times
    assert res.total.runtime_ns >= 100 * MS


def test_ramp_is_excluded_from_counts_and_faults() -> None:
    """The ramp faults every page in; the measured window then sees no new faults."""
    # A 64-page region: the 200 ms ramp covers it many times over even on a loaded machine.
    job = make_job(
        rw="write",
        size=256 * 1024,
        thp="never",
        ramp_time_ns=200 * MS,
        runtime_ns=50 * MS,
        time_based=True,
    )
    t0 = time.monotonic_ns()
    res = run_job(job)
    wall_ns = time.monotonic_ns() - t0
    assert res.total.minf < 16
    # only the measured window is reported: the ramp's 200 ms are not in the runtime
    assert 50 * MS <= res.total.runtime_ns <= wall_ns - 200 * MS
    assert all(r.t_start_ns >= res.reports[0].t_start_ns for r in res.reports)


def test_ramp_then_full_amount_counts_from_zero() -> None:
    res = run_job(make_job(rw="write", size=1 * M, ramp_time_ns=20 * MS))
    assert res.bytes == (0, 1 * M)


def test_ramp_size_ends_the_ramp_at_that_many_bytes() -> None:
    """The ramp writes the first 256 KiB of the region; the measured pass (the whole
    workload again, as after ramp_time) faults only the 192 pages the ramp left."""
    job = make_job(rw="write", size=1 * M, thp="never", ramp_size=256 * K)
    res = run_job(job)
    assert res.bytes == (0, 1 * M)
    assert 192 <= res.total.minf < 192 + 16
    whole = run_job(dataclasses.replace(job, ramp_size=1 * M))
    assert whole.bytes == (0, 1 * M) and whole.total.minf < 16


def test_ramp_size_is_counted_in_replayed_bytes(in_tmp: Path) -> None:
    """A replay goes on after the ramp: the ramp takes the log's first 12 KiB."""
    ios = "".join(f"{10 * i + 1} f read {4096 * i} 4096\n" for i in range(10))
    (in_tmp / "ten.log").write_text("fio version 3 iolog\n1 f add\n" + ios)
    job = make_job(size=1 * M, read_iolog=str(in_tmp / "ten.log"), io_size=10 * 4096,
                   replay_no_stall=True, ramp_size=12 * K, write_iolog="played.log")
    res = run_job(job)
    assert res.ios == (7, 0)
    played = [line.split()[3] for line in (in_tmp / "played.log").read_text().splitlines()
              if len(line.split()) == 5]
    assert played == [str(4096 * i) for i in range(3, 10)]


def test_ramp_size_with_group_reporting_counts_the_groups_bytes() -> None:
    """The group's jobs ramp together: once one job has done ramp_size bytes, a later job
    of its group starts measured (its first touches are faults in the report), while a job
    of another group ramps on its own."""
    table = flow.FlowTable()
    job = make_job(rw="write", size=1 * M, thp="never", ramp_size=1 * M, group_reporting=True)
    first = run_job(job, flow_table=table)
    assert first.total.minf < 16  # its own ramp covered its region
    second = run_job(dataclasses.replace(job, thread_number=2), flow_table=table)
    assert second.bytes == (0, 1 * M) and second.total.minf >= 256
    other = run_job(dataclasses.replace(job, thread_number=3, group_id=1), flow_table=table)
    assert other.total.minf < 16


def test_interval_deltas_sum_to_totals_and_one_final() -> None:
    res = run_job(make_job(rw="randrw", size=8 * M), interval_ns=1 * MS)
    finals = [r for r in res.reports if r.final]
    assert len(finals) == 1 and res.reports[-1].final
    assert len(res.reports) > 1
    assert sum(res.bytes) == 8 * M
    assert sum(r.dirs[0].ios + r.dirs[1].ios for r in res.reports) == 2048
    assert res.total.dirs[0].clat.moments.n + res.total.dirs[1].clat.moments.n == 2048
    assert sum(int(r.dirs[1].clat.hist.sum()) for r in res.reports) == res.ios[1]
    assert sum(1 for r in res.reports if r.first_op_ns) == 1


def test_stop_is_honoured_within_one_chunk() -> None:
    polls = iter(range(1_000_000))

    def stop() -> bool:
        return next(polls) >= 5

    res = run_job(make_job(rw="write", size=1024 * M, thp="never"), stop=stop)
    assert res.reports[-1].final and sum(1 for r in res.reports if r.final) == 1
    assert 0 < res.ios[1] <= 5 * 4096


def test_stop_during_startdelay_still_reports_final() -> None:
    res = run_job(
        make_job(rw="write", size=1 * M, startdelay_ns=(10**10, 10**10)), stop=lambda: True
    )
    assert res.ios == (0, 0) and len(res.reports) == 1 and res.reports[0].final


def test_thinktime_blocks_pause_between_blocks() -> None:
    res = run_job(make_job(rw="write", size=64 * K, thinktime_ns=2 * MS, thinktime_blocks=4))
    assert res.ios == (0, 16)
    assert res.total.runtime_ns >= 4 * 2 * MS


def test_gtod_reduce_counts_without_latencies() -> None:
    res = run_job(make_job(rw="randrw", size=4 * M, gtod_reduce=True))
    assert sum(res.bytes) == 4 * M
    assert res.total.dirs[0].clat.moments.n == 0 and int(res.total.latency_buckets.sum()) == 0
    assert res.total.overhead_ns > 0


def test_gtod_reduce_sequential_faults_every_page() -> None:
    res = run_job(make_job(rw="write", size=8 * M, gtod_reduce=True, thp="never"))
    n = 8 * M // PAGE
    assert res.bytes == (0, 8 * M) and n <= res.total.minf <= n * 1.01 + 32


def test_lat_is_clat_plus_loop_time() -> None:
    res = run_job(make_job(rw="write", size=1 * M, lat_percentiles=True))
    d = res.total.dirs[1]
    assert d.lat.moments.n == d.clat.moments.n == 256
    assert d.lat.moments.mean >= d.clat.moments.mean and d.lat.moments.min >= d.clat.moments.min
    assert int(d.lat.hist.sum()) == 256


def test_disable_clat_keeps_lat_only() -> None:
    d = run_job(make_job(rw="write", size=1 * M, disable_clat=True)).total.dirs[1]
    assert d.clat.moments.n == 0 and d.lat.moments.n == 256


def test_bw_and_iops_samples_need_full_windows() -> None:
    short = run_job(make_job(rw="write", size=1 * M))
    assert short.total.dirs[1].bw_samples.n == 0
    res = run_job(
        make_job(
            rw="randrw",
            size=256 * K,
            runtime_ns=120 * MS,
            time_based=True,
            bwavgtime_ms=20,
            iopsavgtime_ms=20,
        )
    )
    for d in res.total.dirs:
        assert d.bw_samples.n >= 1 and d.iops_samples.n >= 1
        assert d.bw_samples.min > 0 and d.iops_samples.min > 0
    off = run_job(
        make_job(
            rw="randrw",
            size=256 * K,
            runtime_ns=60 * MS,
            time_based=True,
            bwavgtime_ms=10,
            disable_bw=True,
        )
    )
    assert off.total.dirs[0].bw_samples.n == 0


def test_rusage_reports_cpu_time_and_overhead() -> None:
    res = run_job(make_job(rw="write", size=8 * M))
    assert res.total.usr_ns + res.total.sys_ns > 0
    assert res.reports[-1].overhead_ns > 0


# ---- faults --------------------------------------------------------------------------
@pytest.mark.parametrize("rw", ["write", "randwrite", "randrw"])
@pytest.mark.parametrize("thread", [False, True])
def test_fresh_4k_writes_fault_once_per_page(rw: str, thread: bool) -> None:
    """A job's minor faults are its region's pages: nothing else faults in the window."""
    n = 4096
    res = run_job(
        make_job(
            rw=rw,
            size=n * PAGE,
            bs_min=(PAGE, PAGE),
            bs_max=(PAGE, PAGE),
            thp="never",
            thread=thread,
        )
    )
    assert n <= res.total.minf <= n + 16


def test_cache_hot_job_faults_only_its_pages() -> None:
    """page_fault_cache_hot's shape: 64 pages, randrw, many loops, per-I/O latency."""
    res = run_job(make_job(rw="randrw", size=64 * PAGE, loops=5000, thp="never"))
    assert sum(res.ios) == 5000 * 64
    assert 64 <= res.total.minf <= 64 + 16


def test_read_maps_zero_page_then_write_faults_again() -> None:
    """Read pass then write pass over fresh memory: N faults each (zero page, then COW)."""
    from loadgen.engine import kernel

    n = 2048
    region = Region(n * PAGE, "never")
    state = kernel.State(1)
    buf = np.full(PAGE, 1, dtype=np.uint8)
    state.ctl[kernel.C_BASE] = region.address
    state.ctl[kernel.C_SRC] = state.ctl[kernel.C_RBUF] = buf.ctypes.data
    state.ctl[kernel.C_BYTES_LEFT] = state.ctl[kernel.C_IOS_LEFT] = 1 << 62
    offs = np.arange(n, dtype=np.int64) * PAGE
    lens = np.full(n, PAGE, dtype=np.int64)
    try:
        before = read_usage(False)
        state.run(offs, lens, np.zeros(n, dtype=np.int8), 0, n)
        mid = read_usage(False)
        state.run(offs, lens, np.ones(n, dtype=np.int8), 0, n)
        after = read_usage(False)
    finally:
        region.close()
    assert n <= (mid - before).minf <= n + 16
    assert n <= (after - mid).minf <= n + 16


def test_loops_refault_nothing_the_mapping_persists() -> None:
    n = 1024
    one = run_job(make_job(rw="write", size=n * PAGE, thp="never"))
    three = run_job(make_job(rw="write", size=n * PAGE, thp="never", loops=3))
    assert three.total.minf < one.total.minf + 64


# ---- THP -----------------------------------------------------------------------------
@pytest.mark.skipif(not thp_available(), reason="transparent huge pages unavailable")
def test_thp_madvise_gets_huge_pages_and_never_does_not() -> None:
    job = make_job(rw="write", size=16 * M, bs_min=(2 * M, 2 * M), bs_max=(2 * M, 2 * M))
    huge = run_job(dataclasses.replace(job, thp="madvise")).reports[-1]
    never = run_job(dataclasses.replace(job, thp="never")).reports[-1]
    assert huge.anon_huge_bytes > 0
    assert never.anon_huge_bytes == 0
    assert huge.minf < never.minf


# ---- errors --------------------------------------------------------------------------
def test_refused_mapping_is_an_engine_error() -> None:
    runner = JobRunner(make_job(rw="write", size=1 << 62))
    with pytest.raises(EngineError) as info:
        runner.setup()
    assert info.value.errno == errno.ENOMEM
    assert "mmap" in str(info.value)


def test_trim_is_rejected() -> None:
    with pytest.raises(EngineError):
        JobRunner(make_job(rw="randtrim", size=1 * M)).setup()


def test_bad_thp_mode_is_an_engine_error() -> None:
    with pytest.raises(EngineError):
        JobRunner(make_job(rw="write", size=1 * M, thp="always")).setup()


def test_close_unmaps() -> None:
    runner = JobRunner(make_job(rw="write", size=3 * M + 4 * K))
    runner.setup()
    assert runner.region is not None
    start = f"{runner.region.address:x}-"
    maps = Path("/proc/self/maps")
    assert any(line.startswith(start) for line in maps.read_text().splitlines())
    runner.close()
    assert not any(line.startswith(start) for line in maps.read_text().splitlines())


def test_time_based_without_runtime_runs_once() -> None:
    assert run_job(make_job(rw="randwrite", size=256 * K, time_based=True)).bytes == (0, 256 * K)


def test_blocks_bigger_than_the_region_do_nothing() -> None:
    res = run_job(
        make_job(rw="randwrite", size=64 * K, bs_min=(128 * K, 128 * K), bs_max=(128 * K, 128 * K))
    )
    assert res.ios == (0, 0) and res.reports[-1].final


def test_thread_mode_counts_only_its_own_thread() -> None:
    """thread=1: RUSAGE_THREAD, so faults of other threads are not the job's."""
    import threading

    n = 2048
    out: dict[str, RunResult] = {}

    def work() -> None:
        out["res"] = run_job(make_job(rw="write", size=n * PAGE, thp="never", thread=True))

    noise = Region(8 * n * PAGE, "never")  # faulted by the main thread meanwhile
    t = threading.Thread(target=work)
    t.start()
    noise.mm[:] = b"\x01" * len(noise.mm)
    t.join()
    noise.close()
    res = out["res"]
    assert n <= res.total.minf <= n * 1.01 + 32


def test_startdelay_range_delays_the_first_io() -> None:
    t0 = time.monotonic_ns()
    res = run_job(make_job(rw="write", size=64 * K, startdelay_ns=(20 * MS, 30 * MS)))
    first = next(r.first_op_ns for r in res.reports if r.first_op_ns)
    assert first - t0 >= 20 * MS


def test_replayed_small_loops_fault_only_the_first_time() -> None:
    """Replayed loops touch nothing new: one fault per page, all in the first loop."""
    res = run_job(make_job(rw="randrw", size=64 * PAGE, loops=2000, thp="never"))
    assert sum(res.ios) == 2000 * 64
    assert 64 <= res.total.minf <= 64 + 16


@pytest.mark.parametrize("rw", ["write", "randrw", "rw"])
def test_thread_mode_counts_and_faults(rw: str) -> None:
    """thread=1 runs the same kernel; counts and faults stay the same."""
    n = 1024
    res = run_job(make_job(rw=rw, size=n * PAGE, thp="never", thread=True, loops=2))
    assert sum(res.bytes) == 2 * n * PAGE
    pages_faulted_twice = (
        1 if rw == "rw" else 0
    )  # rw=rw reads (zero page), then writes the same blocks
    assert res.total.minf <= (1 + pages_faulted_twice) * n * 1.01 + 32
    gil = run_job(make_job(rw=rw, size=n * PAGE, thread=True, gtod_reduce=True))
    assert sum(gil.bytes) == n * PAGE


def test_given_overhead_is_reported_and_a_measured_one_is_finite() -> None:
    job = make_job(rw="randwrite", size=64 * K)
    runner = JobRunner(job, overhead_ns=12.5)
    runner.setup()
    reports: list[IntervalStats] = []
    try:
        runner.run(reports.append, 10**12, lambda: False)
    finally:
        runner.close()
    assert reports[-1].overhead_ns == 12.5
    measured = run_job(job).reports[-1].overhead_ns
    assert 0 < measured < 100_000


def test_interval_deltas_follow_the_run_grid() -> None:
    """Deltas end at origin + k*interval (index k), the final partial one has the next k."""
    origin = time.monotonic_ns() - 35 * MS  # as if the run had started 35 ms ago
    job = make_job(rw="randrw", size=256 * K, runtime_ns=60 * MS, time_based=True)
    runner = JobRunner(job)
    runner.setup()
    reports: list[IntervalStats] = []
    try:
        runner.run(reports.append, 20 * MS, lambda: False, origin_ns=origin)
    finally:
        runner.close()
    *periodic, final = reports
    assert final.final and not any(r.final for r in periodic)
    indexes = [r.interval_index for r in reports]
    assert indexes == sorted(set(indexes)) and indexes[0] >= 2
    for r in periodic:
        assert r.t_end_ns >= origin + r.interval_index * 20 * MS
        assert r.t_end_ns - origin < (r.interval_index + 1) * 20 * MS
    assert (
        origin + (final.interval_index - 1) * 20 * MS
        <= final.t_end_ns
        < origin + final.interval_index * 20 * MS
    )


@pytest.mark.parametrize("rw", ["write", "randwrite"])
def test_a_job_of_many_batches_faults_only_its_pages(rw: str) -> None:
    """32768 I/Os in 8 batches: the batches' numpy temporaries reuse the heap."""
    n = 32768
    res = run_job(make_job(rw=rw, size=n * PAGE, thp="never"))
    assert n <= res.total.minf <= n + 16


# ---- the region's report and the fault kinds (fault_kinds=1) ----------------------------------
def _pages(n: int, direction: int) -> Batch:
    return Batch(np.arange(n, dtype=np.int64) * PAGE, np.full(n, PAGE, dtype=np.int64),
                 np.full(n, direction, dtype=np.int8))


def test_a_read_then_write_job_is_one_zero_page_and_one_cow_fault_per_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every page read, then every page written, through the kernel and the runner's hooks:
    the counts are 1 and 1 per page, and the kernel took as many faults."""
    n = 1024
    job = make_job(rw="rw", size=n * PAGE, loops=2, thp="never",
                   mm=MemoryControls(fault_kinds=True))
    runner = JobRunner(job)
    runner.setup()
    runner.first = _pages(n, 0)
    later = iter([_pages(n, 1)])
    monkeypatch.setattr(runner.pattern, "next_batch", lambda count: next(later, Batch.empty()))
    out = RunResult()

    def report(delta: IntervalStats) -> None:
        out.reports.append(delta)
        out.total.merge(delta)

    try:
        runner.run(report, 10**12, lambda: False)
    finally:
        runner.close()
    assert out.ios == (n, n)
    assert out.total.mm is not None and out.total.mm.fault_kinds is not None
    kinds = out.total.mm.fault_kinds
    assert (kinds.first_read, kinds.cow_after_zero, kinds.first_write) == (n, n, 0)
    assert kinds.total <= out.total.minf <= kinds.total + 32


@pytest.mark.parametrize("refault", [Refault.DONTNEED, Refault.REMAP])
def test_fault_kinds_start_over_at_each_refault_and_match_the_kernels_count(
    refault: Refault,
) -> None:
    n = 1024
    res = run_job(make_job(rw="randrw", size=n * PAGE, loops=3, thp="never",
                           mm=MemoryControls(refault=refault, fault_kinds=True)))
    assert res.total.mm is not None and res.total.mm.fault_kinds is not None
    kinds = res.total.mm.fault_kinds
    assert kinds.first_read + kinds.first_write == 3 * n  # each page once per loop
    assert kinds.first_read and kinds.first_write
    assert kinds.total <= res.total.minf <= kinds.total + 32


def test_pageout_does_not_start_the_fault_kinds_over() -> None:
    if swap_active():
        pytest.skip("with swap the later passes take swap-in (major) faults")
    n = 512
    res = run_job(make_job(rw="write", size=n * PAGE, loops=3, thp="never",
                           mm=MemoryControls(refault=Refault.PAGEOUT, fault_kinds=True)))
    assert res.total.mm is not None and res.total.mm.fault_kinds is not None
    assert res.total.mm.fault_kinds.first_write == n
    assert n <= res.total.minf <= n + 32


def test_without_fault_kinds_nothing_is_counted_but_the_region_reports() -> None:
    runner = JobRunner(make_job(rw="write", size=64 * PAGE))
    runner.setup()
    assert runner.kinds is None
    runner.close()
    res = run_job(make_job(rw="write", size=64 * PAGE, loops=2))
    assert res.total.mm is not None and res.total.mm.fault_kinds is None
    assert res.total.mm.region.passes == 0 and res.total.mm.region.backing == "anon"
    assert [r.mm is not None for r in res.reports] == [False] * (len(res.reports) - 1) + [True]


def test_the_refault_cost_is_reported_and_outside_every_io_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel measures every I/O latency inside one call; the re-faults run between
    calls, so no latency can hold one.  Both kinds of window are taken on the kernel's
    clock (CLOCK_MONOTONIC) around the calls themselves."""
    n = 1024
    job = make_job(rw="write", size=n * PAGE, loops=3, thp="never",
                   mm=MemoryControls(refault=Refault.DONTNEED))
    runner = JobRunner(job)
    runner.setup()
    assert runner.state is not None and runner.region is not None
    calls: list[tuple[int, int]] = []
    refaults: list[tuple[int, int]] = []
    kernel_run, region_refault = runner.state.run, runner.region.refault

    def timed_run(*args: Any) -> int:
        t0 = time.monotonic_ns()
        ran = kernel_run(*args)
        calls.append((t0, time.monotonic_ns()))
        return ran

    def timed_refault() -> None:
        t0 = time.monotonic_ns()
        region_refault()
        refaults.append((t0, time.monotonic_ns()))

    monkeypatch.setattr(runner.state, "run", timed_run)
    monkeypatch.setattr(runner.region, "refault", timed_refault)
    out = RunResult()

    def report(delta: IntervalStats) -> None:
        out.total.merge(delta)

    try:
        runner.run(report, 10**12, lambda: False)
    finally:
        runner.close()
    assert out.total.mm is not None
    region = out.total.mm.region
    assert region.refaults == len(refaults) == 2 and region.passes == 3
    assert 0 < region.refault_max_ns <= region.refault_ns
    assert region.refault_ns <= sum(b - a for a, b in refaults)
    for a, b in refaults:
        assert all(end <= a or start >= b for start, end in calls)
    lat = out.total.dirs[1].lat.moments
    assert lat.n == 3 * n
    assert lat.mean * lat.n <= sum(end - start for start, end in calls)


def test_clocksource_cpu_stamps_with_the_given_tsc_scale_and_the_others_read_the_clock() -> None:
    cpu = JobRunner(make_job(rw="write", size=64 * PAGE), 1.0, tsc_ns_per_tick=0.25)
    gtod = JobRunner(
        make_job(rw="write", size=64 * PAGE, clocksource="clock_gettime"), 1.0, 0.25
    )
    for runner in (cpu, gtod):
        runner.setup()
    try:
        assert cpu.state is not None and gtod.state is not None
        assert (cpu.state.clock[0], cpu.overhead_ns) == (0.25, 1.0)
        # CLOCK_MONOTONIC per stamp; the helper's overhead (taken on the TSC) re-measured
        assert gtod.state.clock[0] == 0.0 and gtod.overhead_ns != 1.0
    finally:
        cpu.close()
        gtod.close()


def _expected_syncs(dirs: list[int], *periods: int) -> int:
    """fio's get_rw_ddir: a sync comes right after each write that makes the write count a
    multiple of a period, if any I/O follows it."""
    writes = 0
    syncs = 0
    for i, d in enumerate(dirs):
        if d:
            writes += 1
            if i + 1 < len(dirs) and any(p and writes % p == 0 for p in periods):
                syncs += 1
    return syncs


def test_syncs_are_counted_and_timed_after_every_nth_write() -> None:
    res = run_job(make_job(rw="write", size=4 * M, fsync_blocks=4))
    assert res.total.syncs == 1024 // 4 - 1  # none after the last write: nothing follows it
    assert res.total.sync.moments.n == res.total.syncs == int(res.total.sync.hist.sum())
    both = run_job(make_job(rw="write", size=1 * M, fsync_blocks=4, fdatasync_blocks=3,
                            sync_file_range_nr=5))
    assert both.total.syncs == _expected_syncs([1] * 256, 4, 3, 5)
    assert run_job(make_job(rw="write", size=1 * M)).total.syncs == 0


def test_syncs_follow_the_writes_of_a_mixed_job(tmp_path: Path) -> None:
    log = tmp_path / "io.log"
    job = make_job(rw="randrw", size=1 * M, fsync_blocks=3, write_iolog=str(log))
    res = run_job(job)
    actions = [line.split()[2] for line in log.read_text().splitlines()[1:]]
    dirs = [1 if action == "write" else 0 for action in actions if action in ("read", "write")]
    assert len(dirs) == sum(res.ios)
    assert res.total.syncs == _expected_syncs(dirs, 3) > 0


def test_gtod_reduce_counts_syncs_without_timing_them() -> None:
    res = run_job(make_job(rw="write", size=1 * M, fsync_blocks=2, gtod_reduce=True))
    assert res.total.syncs == 127 and res.total.sync.moments.n == 0


def _rows(path: Path) -> list[tuple[str, int, int]]:
    return [(w[2], int(w[3]), int(w[4])) for w in (line.split() for line in
            path.read_text().splitlines()) if len(w) == 5]


def test_a_recorded_trace_replays_with_the_same_offsets_directions_and_sizes(
        in_tmp: Path) -> None:
    run_job(make_job(rw="randrw", size=1 * M, bs_min=(4 * K, 4 * K), bs_max=(16 * K, 16 * K),
                     write_iolog="first.log"))
    recorded = _rows(in_tmp / "first.log")
    job = make_job(size=1 * M, read_iolog=str(in_tmp / "first.log"), replay_no_stall=True,
                   io_size=sum(n for _, _, n in recorded), write_iolog="again.log",
                   bs_min=(4 * K, 4 * K), bs_max=(4 * K, 4 * K))
    res = run_job(job)
    assert _rows(in_tmp / "again.log") == recorded
    reads = [n for d, _, n in recorded if d == "read"]
    writes = [n for d, _, n in recorded if d == "write"]
    assert res.ios == (len(reads), len(writes))
    assert res.bytes == (sum(reads), sum(writes))


def test_a_replayed_io_never_starts_before_it_is_due(in_tmp: Path) -> None:
    # v3 times in us: the I/Os are due 0, 20 ms and 40 ms after the first line
    (in_tmp / "timed.log").write_text(
        "fio version 3 iolog\n1 f add\n1 f read 0 4096\n20001 f read 4096 4096\n"
        "40001 f write 8192 4096\n")
    job = make_job(size=1 * M, read_iolog=str(in_tmp / "timed.log"), io_size=12288,
                   write_iolog="played.log")
    res = run_job(job)
    assert res.ios == (2, 1)
    stamps = [int(line.split()[0]) for line in (in_tmp / "played.log").read_text().splitlines()
              if len(line.split()) == 5]
    assert stamps[1] >= 20_000 and stamps[2] >= 40_000
    assert run_job(dataclasses.replace(job, replay_no_stall=True)).ios == (2, 1)


def test_a_replay_goes_on_after_the_ramp_instead_of_starting_again(in_tmp: Path) -> None:
    # due at 0, 60 ms and 120 ms; a 30 ms ramp can hold only the first (fio's log is consumed
    # once: the ramp does not make the replay start over)
    (in_tmp / "timed.log").write_text(
        "fio version 3 iolog\n1 f add\n1 f read 0 4096\n60001 f read 4096 4096\n"
        "120001 f read 8192 4096\n")
    job = make_job(size=1 * M, read_iolog=str(in_tmp / "timed.log"), io_size=12288,
                   ramp_time_ns=30_000_000)
    assert run_job(job).ios[0] in (2, 3)  # 3 only if the first I/O started after the ramp


def test_steady_state_samples_follow_their_own_interval_and_add_up() -> None:
    # steadystate=: a sample at each ss_interval point (here 150 ms, off the 1 s status
    # grid); together with what came after the last point they are the job's counts
    ss = SteadyState(
        metric=SsMetric.IOPS, slope=False, pct=True, limit=-1.0, dur_s=2, interval_ms=150
    )
    job = make_job(
        rw="randwrite",
        size=1 * M,
        time_based=True,
        runtime_ns=500 * MS,
        steadystate=ss,
        thinktime_ns=MS,
    )
    runner = JobRunner(job)
    runner.setup()
    out = RunResult()
    samples: list[SsSample] = []
    try:
        runner.run(out.total.merge, 10**9, lambda: False, 0, samples.append)
    finally:
        runner.close()
    assert samples and [s.index for s in samples] == sorted({s.index for s in samples})
    assert all(s.elapsed_ns >= s.index * 150 * MS for s in samples)
    assert sum(s.span_ns for s in samples) == samples[-1].elapsed_ns
    total = out.total.dirs[1]
    assert sum(s.ios for s in samples) <= total.ios
    assert sum(s.bytes for s in samples) == 4 * K * sum(s.ios for s in samples)
    assert all(s.lat_n == s.ios and s.lat_sum > 0 for s in samples if s.ios)


@pytest.mark.parametrize("time_based", [True, False])
def test_a_sequence_starts_again_from_its_first_block_at_the_ramp_end(
    in_tmp: Path, time_based: bool
) -> None:
    # fio (checked, its iolog): reset_all_stats zeroes io_issues at the ramp end, so the
    # measured I/Os are blocks 2, 0, 1, 5, 3, 4, ... whatever the ramp did
    job = make_job(
        rw="randread",
        size=4 * M,
        random_distribution="sequence",
        random_sequence=(2, 0, 1),
        random_sequence_stride=True,
        ramp_time_ns=30 * MS,
        thinktime_ns=MS,
        write_iolog="seq.log",
        **({"time_based": True, "runtime_ns": 20 * MS} if time_based else {"io_size": 24 * K}),
    )
    run_job(job)
    blocks = [o // (4 * K) for _, o, _ in _rows(in_tmp / "seq.log")]
    assert blocks[:6] == [2, 0, 1, 5, 3, 4]


def test_a_replayed_log_s_sync_lines_are_the_engine_s_syncs(in_tmp: Path) -> None:
    # fio (checked, page_fault): every sync and datasync line is one sync, those after the
    # last I/O too, and fsync= adds none to a replay (its syncs are the log's)
    (in_tmp / "s.log").write_text(
        "fio version 2 iolog\nf add\nf write 0 4096\nf sync 0 0\nf write 4096 4096\n"
        "f read 0 4096\nf datasync 0 0\nf write 8192 4096\nf sync 0 0\nf datasync 0 0\n"
    )
    job = make_job(size=1 * M, read_iolog=str(in_tmp / "s.log"), io_size=16 * K, fsync_blocks=1)
    res = run_job(job)
    assert res.ios == (1, 3) and res.bytes == (4 * K, 12 * K)
    assert res.total.syncs == 4 and res.total.sync.moments.n == 4


def test_a_replay_cut_short_by_number_ios_still_ends(in_tmp: Path) -> None:
    (in_tmp / "s.log").write_text(
        "fio version 2 iolog\nf write 0 4096\nf sync 0 0\n"
        "f write 4096 4096\nf sync 0 0\nf write 8192 4096\n"
    )
    res = run_job(
        make_job(size=1 * M, read_iolog=str(in_tmp / "s.log"), io_size=12 * K, number_ios=2)
    )
    assert res.ios == (0, 2) and res.total.syncs == 2
