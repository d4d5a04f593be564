"""Rate limiting: rate_iops, rate, poisson, rate_min (loadgen.engine.rate)."""

from __future__ import annotations

import dataclasses
import errno
import time
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine.rate import Pacer
from loadgen.engine.runner import EngineError
from loadgen.plan import RateControls, RateProcess
from tests.engine.conftest import make_job, run_job

M = 1024 * 1024


def test_rate_iops_2000_of_4m_takes_about_half_a_second_and_logs_the_rate(in_tmp: Path) -> None:
    job = make_job(rw="write", size=4 * M, rate=RateControls(rate_iops=(0, 2000)),
                   write_iops_log="r", log_avg_msec=100)
    t0 = time.monotonic()
    res = run_job(job)
    took = time.monotonic() - t0
    assert res.ios == (0, 1024)
    assert took >= 1023 / 2000  # the last I/O is not due before then, however fast the machine
    lines = (in_tmp / "r_iops.1.log").read_text().splitlines()
    values = [int(line.split(",")[1]) for line in lines]
    assert len(values) >= 3
    # a cap, not a speed: the full 100 ms windows together never run ahead of 2000 IOPS
    full = values[:-1]
    assert sum(full) / len(full) <= 2000 * 1.1, values


def test_rate_in_bytes_caps_bandwidth() -> None:
    job = make_job(rw="read", size=2 * M, rate=RateControls(rate=(8 * M, 0)))
    t0 = time.monotonic()
    res = run_job(job)
    assert res.bytes == (2 * M, 0)
    assert time.monotonic() - t0 > 0.15  # 2 MiB at 8 MiB/s: 0.25 s


def test_unrated_direction_is_not_paced() -> None:
    job = make_job(rw="read", size=4 * M, rate=RateControls(rate_iops=(0, 10)))
    pacer = Pacer(job, 7)
    pacer.reset(0)
    lengths = np.full(1024, 4096, dtype=np.int64)
    # every read may go at once (a write rate of 10/s would hold the second for 100 ms)
    assert pacer.allowed(lengths, np.zeros(1024, dtype=np.int8), 0) == (1024, 0)
    assert pacer.allowed(lengths, np.ones(1024, dtype=np.int8), 0) == (1, 100_000_000)
    assert run_job(job).ios == (1024, 0)


def test_poisson_gaps_are_exponential_with_the_rate_mean() -> None:
    job = make_job(rw="write", size=4 * M,
                   rate=RateControls(rate_iops=(0, 1000), process=RateProcess.POISSON))
    pacer = Pacer(job, 7)
    lens = np.full(20000, 4096, dtype=np.int64)
    dirs = np.ones(20000, dtype=np.int8)
    due = pacer._due(lens, dirs)
    gaps = np.diff(due) / 1e6  # ms
    assert abs(gaps.mean() - 1.0) < 0.05
    assert abs(gaps.std() - 1.0) < 0.1  # an exponential's std equals its mean
    linear = Pacer(dataclasses.replace(job, rate=RateControls(rate_iops=(0, 1000))), 7)
    assert np.all(np.diff(linear._due(lens, dirs)) == 1_000_000)


def test_pacer_allows_only_what_is_due() -> None:
    job = make_job(rw="write", size=4 * M, rate=RateControls(rate_iops=(0, 1000)))
    pacer = Pacer(job, 1)
    pacer.reset(0)
    lens = np.full(100, 4096, dtype=np.int64)
    dirs = np.ones(100, dtype=np.int8)
    n, wait = pacer.allowed(lens, dirs, 10_500_000)  # 10.5 ms in: I/Os 0..10 are due
    assert n == 11 and wait == 500_000
    pacer.issued(lens[:n], dirs[:n])
    assert pacer.allowed(lens, dirs, 10_600_000) == (0, 400_000)


def test_ignore_thinktime_keeps_the_rate_instead_of_catching_up() -> None:
    job = make_job(rw="write", size=4 * M, rate=RateControls(rate_iops=(0, 1000),
                                                            ignore_thinktime=True))
    pacer = Pacer(job, 1)
    pacer.reset(0)
    pacer.after_think(100_000_000)  # 100 ms of think: 100 I/Os' worth, less one
    assert pacer.issued_bytes[1] == 99 * 4096
    plain = Pacer(dataclasses.replace(job, rate=RateControls(rate_iops=(0, 1000))), 1)
    plain.after_think(100_000_000)
    assert plain.issued_bytes[1] == 0


def test_rate_iops_min_not_met_fails_the_job() -> None:
    job = make_job(rw="write", size=64 * M, time_based=True, runtime_ns=4_000_000_000,
                   rate=RateControls(rate_iops=(0, 100), rate_iops_min=(0, 500), cycle_ms=500))
    with pytest.raises(EngineError) as exc:
        run_job(job)
    assert exc.value.errno == errno.EIO
    assert "rate_iops_min=500 not met" in str(exc.value)
