"""JobRunner end to end: amounts, loops, limits, ramp, stop, interval deltas, faults, THP."""

from __future__ import annotations

import dataclasses
import errno
import mmap
import resource
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine.copyloops import Copier
from loadgen.engine.region import Region
from loadgen.engine.runner import EngineError, JobRunner
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
    assert res.total.dirs[1].clat.moments.n == 1024 and int(res.total.dirs[1].clat.hist.sum()) == 1024
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
    job = make_job(rw="write", size=256 * 1024, thp="never", ramp_time_ns=200 * MS, runtime_ns=50 * MS, time_based=True)
    res = run_job(job)
    assert res.total.minf < 16
    assert res.total.runtime_ns < 100 * MS  # only the measured window is reported
    assert all(r.t_start_ns >= res.reports[0].t_start_ns for r in res.reports)


def test_ramp_then_full_amount_counts_from_zero() -> None:
    res = run_job(make_job(rw="write", size=1 * M, ramp_time_ns=20 * MS))
    assert res.bytes == (0, 1 * M)


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
    res = run_job(make_job(rw="write", size=1 * M, startdelay_ns=(10**10, 10**10)), stop=lambda: True)
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
    res = run_job(make_job(rw="randrw", size=256 * K, runtime_ns=120 * MS, time_based=True, bwavgtime_ms=20, iopsavgtime_ms=20))
    for d in res.total.dirs:
        assert d.bw_samples.n >= 1 and d.iops_samples.n >= 1
        assert d.bw_samples.min > 0 and d.iops_samples.min > 0
    off = run_job(make_job(rw="randrw", size=256 * K, runtime_ns=60 * MS, time_based=True, bwavgtime_ms=10, disable_bw=True))
    assert off.total.dirs[0].bw_samples.n == 0


def test_rusage_reports_cpu_time_and_overhead() -> None:
    res = run_job(make_job(rw="write", size=8 * M))
    assert res.total.usr_ns + res.total.sys_ns > 0
    assert res.reports[-1].overhead_ns > 0


# ---- faults --------------------------------------------------------------------------
@pytest.mark.parametrize("rw", ["write", "randwrite"])
def test_fresh_4k_writes_fault_once_per_page(rw: str) -> None:
    n = 4096
    res = run_job(make_job(rw=rw, size=n * PAGE, bs_min=(PAGE, PAGE), bs_max=(PAGE, PAGE), thp="never"))
    assert n <= res.total.minf <= n * 1.01 + 32


def test_randrw_faults_once_per_page() -> None:
    n = 4096
    res = run_job(make_job(rw="randrw", size=n * PAGE, bs_min=(PAGE, PAGE), bs_max=(PAGE, PAGE), thp="never"))
    assert n <= res.total.minf <= n * 1.01 + 32


def test_read_maps_zero_page_then_write_faults_again() -> None:
    """Read pass then write pass over fresh memory: about 2N faults (zero page, then COW)."""
    n = 2048
    region = Region(n * PAGE, "never")
    copier = Copier(region.mm, PAGE)
    try:
        offs = list(range(0, n * PAGE, PAGE))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        copier.timed(offs, PAGE, 0)
        mid = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        copier.timed(offs, PAGE, 1)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    finally:
        copier.close()
        region.close()
    assert n <= mid - before <= n * 1.01 + 32
    assert n <= after - mid <= n * 1.01 + 32


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
    runner = JobRunner(make_job(rw="write", size=1 * M))
    runner.setup()
    runner.close()
    assert runner.region is None
    assert np.isfinite(runner.overhead_ns)


def test_time_based_without_runtime_runs_once() -> None:
    assert run_job(make_job(rw="randwrite", size=256 * K, time_based=True)).bytes == (0, 256 * K)


def test_blocks_bigger_than_the_region_do_nothing() -> None:
    res = run_job(make_job(rw="randwrite", size=64 * K, bs_min=(128 * K, 128 * K), bs_max=(128 * K, 128 * K)))
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
    from loadgen.engine.copyloops import clock

    t0 = clock()
    res = run_job(make_job(rw="write", size=64 * K, startdelay_ns=(20 * MS, 30 * MS)))
    first = next(r.first_op_ns for r in res.reports if r.first_op_ns)
    assert first - t0 >= 20 * MS


def test_folded_latency_stats_equal_direct_computation() -> None:
    """The recorder's distinct-value folding gives the same histogram, buckets and
    moments as computing them sample by sample."""
    from loadgen.engine.recorder import Recorder
    from loadgen.stats import histogram, latbuckets
    from loadgen.stats.moments import Moments

    rng = np.random.default_rng(9)
    clat = np.concatenate([rng.integers(50, 5000, 30_000), rng.integers(60_000, 10**9, 300)])
    rng.shuffle(clat)
    dirs = rng.integers(0, 2, len(clat)).astype(np.int8)
    rec = Recorder(make_job(rw="randrw", lat_percentiles=True), True, True)
    rec.start(0)
    for a in range(0, len(clat), 1000):
        sl = slice(a, a + 1000)
        rec.add(dirs[sl], np.full(len(clat[sl]), 4096), clat[sl], 7)
    got = rec.take()
    want_lb = latbuckets.empty()
    latbuckets.add_samples(want_lb, clat)
    assert np.array_equal(got.latency_buckets, want_lb)
    for d in (0, 1):
        c = clat[dirs == d]
        h = histogram.empty()
        histogram.add_samples(h, c)
        assert np.array_equal(got.dirs[d].clat.hist, h)
        m = Moments()
        m.add_batch(c)
        gm = got.dirs[d].clat.moments
        assert (gm.n, gm.min, gm.max) == (m.n, m.min, m.max)
        assert abs(gm.mean - m.mean) <= 1e-9 * m.mean and abs(gm.m2 - m.m2) <= 1e-9 * m.m2
        hl = histogram.empty()
        histogram.add_samples(hl, c + 7)
        assert np.array_equal(got.dirs[d].lat.hist, hl)
        assert got.dirs[d].lat.moments.min == m.min + 7


def test_replayed_small_loops_fault_only_the_first_time() -> None:
    """Replayed tiles (writes then reads per tile) touch nothing new: about one fault
    per page, all in the first loop."""
    res = run_job(make_job(rw="randrw", size=64 * PAGE, loops=2000, thp="never"))
    assert sum(res.ios) == 2000 * 64
    assert 64 <= res.total.minf < 64 + 200


@pytest.mark.parametrize("rw", ["write", "randrw", "rw"])
def test_thread_mode_copies_release_the_gil(rw: str) -> None:
    """thread=1 copies with numpy (GIL released); counts and faults stay the same."""
    n = 1024
    res = run_job(make_job(rw=rw, size=n * PAGE, thp="never", thread=True, loops=2))
    assert sum(res.bytes) == 2 * n * PAGE
    pages_faulted_twice = 1 if rw == "rw" else 0  # rw=rw reads (zero page), then writes the same blocks
    assert res.total.minf <= (1 + pages_faulted_twice) * n * 1.01 + 32
    gil = run_job(make_job(rw=rw, size=n * PAGE, thread=True, gtod_reduce=True))
    assert sum(gil.bytes) == n * PAGE


def test_gil_free_copier_lets_other_threads_run() -> None:
    import threading

    region = Region(64 * M, "never")
    copier = Copier(region.mm, 16 * M, gil_free=True)
    spins = 0
    try:
        t = threading.Thread(target=copier.copy_range, args=(0, 64 * M, 1))
        t.start()
        while t.is_alive():
            spins += 1
        t.join()
    finally:
        copier.close()
        region.close()
    assert spins > 100


# ---- calibration: once per kind of loop, inherited by forked clones ---------------------------
@pytest.fixture
def counted_calibrations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """A fresh calibration cache; records (rw, bs) of every job actually measured."""
    from loadgen.engine import runner as runner_mod

    measured: list[tuple[str, int]] = []
    real = runner_mod._measure_loop

    def counting(job, pattern, timed):  # type: ignore[no-untyped-def]
        measured.append((job.rw, pattern.min_bs))
        return real(job, pattern, timed)

    monkeypatch.setattr(runner_mod, "_CALIBRATIONS", {})
    monkeypatch.setattr(runner_mod, "_measure_loop", counting)
    return measured


def _setup_overhead(job) -> float:  # type: ignore[no-untyped-def]
    runner = JobRunner(job)
    runner.setup()
    runner.close()
    return runner.overhead_ns


def test_clones_of_one_kind_calibrate_once(counted_calibrations: list[tuple[str, int]]) -> None:
    first = _setup_overhead(make_job(rw="randwrite", size=64 * K, thread_number=1, name="a"))
    again = [_setup_overhead(make_job(rw="randwrite", size=s, thread_number=n, name="b")) for n, s in ((2, 64 * K), (3, M))]
    assert counted_calibrations == [("randwrite", 4 * K)]
    assert first > 0 and again == [first, first]


def test_different_kinds_calibrate_separately(counted_calibrations: list[tuple[str, int]]) -> None:
    kinds = [
        make_job(rw="randwrite", size=64 * K),
        make_job(rw="randread", size=64 * K),
        make_job(rw="randrw", size=64 * K),
        make_job(rw="randrw", size=64 * K, rwmixread=90),
        make_job(rw="randwrite", size=64 * K, bs_min=(16 * K, 16 * K), bs_max=(16 * K, 16 * K)),
        make_job(rw="randwrite", size=64 * K, gtod_reduce=True),
        make_job(rw="randwrite", size=64 * K, thread=True),
    ]
    for job in kinds:
        _setup_overhead(job)
    assert len(counted_calibrations) == len(kinds)


def test_forked_clone_reports_the_inherited_overhead(counted_calibrations: list[tuple[str, int]]) -> None:
    import os

    from loadgen.engine import runner as runner_mod

    parent = _setup_overhead(make_job(rw="randwrite", size=64 * K, thread_number=1))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the clone: measuring again would be a failure
        code = 1
        try:
            os.close(r)
            runner_mod._measure_loop = lambda *args: -1.0
            res = run_job(make_job(rw="randwrite", size=64 * K, thread_number=2))
            os.write(w, repr(res.reports[-1].overhead_ns).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    reported = os.read(r, 100)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert float(reported) == parent > 0


def test_small_regions_get_small_buffers_and_a_shared_write_source() -> None:
    a, b = Region(64 * K), Region(64 * K)
    try:
        ca, cb = Copier(a.mm, 4 * K), Copier(b.mm, 4 * K)
        assert len(ca.rbuf) == 64 * K and ca.wsrc is cb.wsrc
        assert 0 not in ca.wsrc
        ca.close()
        cb.close()
    finally:
        a.close()
        b.close()
