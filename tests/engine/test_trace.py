"""write_iolog (fio's iolog v3), thinkcycles, thinktime_iotime, max_latency."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from loadgen.engine.runner import EngineError
from loadgen.plan import RateControls
from tests.engine.conftest import RunResult, make_job, run_job

M = 1024 * 1024


def test_write_iolog_records_every_io_in_fio_v3_format(in_tmp: Path) -> None:
    run_job(make_job(rw="randrw", size=1 * M, write_iolog="trace.log"))
    lines = (in_tmp / "trace.log").read_text().splitlines()
    assert lines[:3] == ["fio version 3 iolog", "0 t.0.0 add", "0 t.0.0 open"]  # fio's name
    assert lines[-1].split()[1:] == ["t.0.0", "close"]
    ios = [line.split() for line in lines[3:-1]]
    assert len(ios) == 256
    assert {io[2] for io in ios} == {"read", "write"}
    assert sorted(int(io[3]) for io in ios) == list(range(0, 1 * M, 4096))  # randommap
    stamps = [int(io[0]) for io in ios]
    assert stamps == sorted(stamps)


def test_the_iolog_names_the_file_as_fio_does() -> None:
    from loadgen.engine.trace import iolog_file_name
    from loadgen.plan import Backing, MemoryControls

    assert iolog_file_name(make_job(name="warm", subjob=2)) == "warm.2.0"
    backed = make_job(mm=MemoryControls(backing=Backing.FILE, filename="/tmp/x.dat"))
    assert iolog_file_name(backed) == "/tmp/x.dat"


def test_thinkcycles_spin_after_each_io() -> None:
    def run(cycles: int) -> RunResult:
        return run_job(make_job(rw="read", size=1 * M, rate=RateControls(thinkcycles=cycles)))

    plain, spun = run(0), run(2_000_000)
    assert plain.ios == spun.ios == (256, 0)
    # CPU time, not wall time: the spin is work this thread does, whatever else runs
    assert spun.total.usr_ns > 10 * plain.total.usr_ns  # 256 x 2M dependent multiplies


def test_thinktime_iotime_thinks_on_time_instead_of_blocks() -> None:
    job = make_job(rw="read", size=256 * M, time_based=True, runtime_ns=300_000_000,
                   thinktime_ns=100_000_000, thinktime_blocks=1,
                   rate=RateControls(thinktime_iotime_ns=50_000_000))
    res = run_job(job)
    assert res.ios[0] > 10  # with thinktime_blocks=1 alone: one I/O per 100 ms think (3 or 4)


def test_max_latency_exceeded_fails_with_etimedout() -> None:
    job = make_job(rw="write", size=4 * M, rate=RateControls(max_latency_ns=(0, 1)))
    with pytest.raises(EngineError) as exc:
        run_job(job)
    assert exc.value.errno == errno.ETIMEDOUT
    assert "exceeds specified max (0 usec)" in str(exc.value)
    assert run_job(make_job(rw="write", size=4 * M,
                            rate=RateControls(max_latency_ns=(0, 10**12)))).ios == (0, 1024)
