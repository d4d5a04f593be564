"""The compiled kernel: its histograms, buckets and moments equal a numpy reference from
the same latencies; budgets, deadline and wrap-around; it runs without the GIL."""

from __future__ import annotations

import math
import mmap
import threading

import numpy as np

from loadgen.engine import kernel as k
from loadgen.engine.recorder import Recorder
from loadgen.engine.region import Region
from loadgen.stats import histogram, latbuckets
from loadgen.stats.moments import Moments
from tests.engine.conftest import make_job

PAGE = mmap.PAGESIZE
ALL = k.F_TIMED | k.F_RECORD | k.F_CLAT | k.F_LAT | k.F_LAT_HIST | k.F_SAMPLES | k.F_LOG


def _state(region: Region, capacity: int, flags: int) -> tuple[k.State, np.ndarray, np.ndarray]:
    state = k.State(capacity)
    src = np.full(PAGE, 7, dtype=np.uint8)
    rbuf = np.full(PAGE, 0, dtype=np.uint8)
    state.ctl[k.C_BASE] = region.address
    state.ctl[k.C_SRC] = src.ctypes.data
    state.ctl[k.C_RBUF] = rbuf.ctypes.data
    state.ctl[k.C_FLAGS] = flags
    state.ctl[k.C_BYTES_LEFT] = state.ctl[k.C_IOS_LEFT] = 1 << 62
    return state, src, rbuf


def _ios(n: int, pages: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    offs = rng.integers(0, pages, n).astype(np.int64) * PAGE
    return offs, np.full(n, PAGE, dtype=np.int64), rng.integers(0, 2, n).astype(np.int8)


def _fio_percentile(samples: np.ndarray, p: float) -> int:
    """fio's walk, from the samples: the bucket of the ceil(p% of N)-th smallest sample."""
    rank = max(math.ceil(p / 100.0 * len(samples)), 1)
    value = int(np.sort(samples)[rank - 1])
    return int(histogram.BUCKET_VALUES[int(histogram.value_to_index(np.array([value]))[0])])


def test_histogram_buckets_and_moments_equal_a_numpy_reference() -> None:
    n = 20_000
    region = Region(256 * PAGE, "never")
    try:
        state, _src, _rbuf = _state(region, n, ALL)
        offs, lens, dirs = _ios(n, 256)
        rec = Recorder(make_job(rw="randrw", lat_percentiles=True), state)
        rec.start(state.now())
        assert state.run(offs, lens, dirs, 0, n) == n
        got = rec.take(1)
        clat, lat = state.logs[1, :n].copy(), state.logs[2, :n].copy()
    finally:
        region.close()
    assert (clat > 0).all() and (lat >= clat).all()
    want_lb = latbuckets.empty()
    latbuckets.add_samples(want_lb, clat)
    assert np.array_equal(got.latency_buckets, want_lb)
    for d in (0, 1):
        ds = got.dirs[d]
        assert ds.ios == int((dirs == d).sum()) and ds.bytes == ds.ios * PAGE
        for stat, samples in ((ds.clat, clat[dirs == d]), (ds.lat, lat[dirs == d])):
            ref = np.bincount(histogram.value_to_index(samples), minlength=histogram.PLAT_NR)
            assert np.array_equal(stat.hist, ref.astype(np.uint64))
            m = Moments()
            m.add_batch(samples)
            gm = stat.moments
            assert (gm.n, gm.min, gm.max) == (m.n, m.min, m.max)
            assert math.isclose(gm.mean, m.mean, rel_tol=1e-12)
            assert math.isclose(gm.m2, m.m2, rel_tol=1e-9)
            walk = histogram.percentiles(stat.hist)
            assert walk == {p: _fio_percentile(samples, p) for p in histogram.DEFAULT_PERCENTILES}


def test_plat_index_is_fios_rule() -> None:
    values = np.concatenate(
        [
            np.arange(0, 5000),
            2 ** np.arange(7, 40),
            2 ** np.arange(7, 40) - 1,
            np.random.default_rng(3).integers(0, 10**12, 5000),
        ]
    ).astype(np.int64)
    compiled = np.array([k.plat_index(int(v)) for v in values])
    assert np.array_equal(compiled, histogram.value_to_index(values))


def test_budgets_stop_before_an_io_and_the_deadline_after_one() -> None:
    region = Region(64 * PAGE, "never")
    try:
        state, _src, _rbuf = _state(region, 1, k.F_TIMED | k.F_RECORD | k.F_CLAT)
        offs, lens, dirs = _ios(1000, 64)
        state.ctl[k.C_BYTES_LEFT] = 10 * PAGE + 1
        assert state.run(offs, lens, dirs, 0, 1000) == 11
        state.ctl[k.C_BYTES_LEFT] = 1 << 62
        state.ctl[k.C_IOS_LEFT] = 7
        assert state.run(offs, lens, dirs, 0, 1000) == 7
        state.ctl[k.C_IOS_LEFT] = 1 << 62
        state.ctl[k.C_DEADLINE] = state.now()  # already passed: exactly one I/O runs
        assert state.run(offs, lens, dirs, 0, 1000) == 1
        assert state.acc[k.A_CNT] + state.acc[k.A_CNT + 2] == 19
    finally:
        region.close()


def test_a_count_beyond_the_arrays_wraps_around() -> None:
    region = Region(8 * PAGE, "never")
    try:
        state, _src, _rbuf = _state(region, 1, k.F_RECORD)
        offs = np.arange(8, dtype=np.int64) * PAGE
        lens = np.full(8, PAGE, dtype=np.int64)
        dirs = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=np.int8)
        assert state.run(offs, lens, dirs, 6, 8 * 100) == 800
        assert state.ctl[k.C_PASS] == 800 * PAGE
        assert state.acc[k.A_CNT + 2] == 400 and state.acc[k.A_CNT] == 400  # writes, reads
        assert region.mm[:4] == b"\x07\x07\x07\x07" and region.mm[4 * PAGE] == 0
    finally:
        region.close()


def test_untimed_calls_count_but_record_no_latency() -> None:
    region = Region(64 * PAGE, "never")
    try:
        state, _src, _rbuf = _state(region, 1, k.F_RECORD | k.F_CLAT | k.F_LAT)
        offs, lens, dirs = _ios(500, 64)
        assert state.run(offs, lens, dirs, 0, 500) == 500
        assert state.acc[k.A_CNT] + state.acc[k.A_CNT + 2] == 500
        assert not state.acc[k.A_HIST :].any() and state.acc[k.A_MOM] == 0
    finally:
        region.close()


def test_the_kernel_runs_without_the_gil() -> None:
    """Another Python thread keeps running while one kernel call faults 64 MiB in."""
    pages = (64 << 20) // PAGE
    region = Region(pages * PAGE, "never")
    spins = 0
    try:
        state, _src, _rbuf = _state(region, 1, k.F_RECORD)
        offs = np.arange(pages, dtype=np.int64) * PAGE
        lens = np.full(pages, PAGE, dtype=np.int64)
        dirs = np.ones(pages, dtype=np.int8)
        t = threading.Thread(target=state.run, args=(offs, lens, dirs, 0, pages))
        t.start()
        while t.is_alive():
            spins += 1
        t.join()
        assert state.acc[k.A_CNT + 2] == pages
    finally:
        region.close()
    assert spins > 100
