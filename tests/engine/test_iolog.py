"""Per-I/O logs: fio's file names and line formats, per-I/O and averaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loadgen.engine.iolog import IoLogs
from tests.engine.conftest import make_job, run_job

K = 1024
MS = 1_000_000


def rows(path: Path) -> list[list[int]]:
    return [[int(x) for x in line.split(", ")] for line in path.read_text().splitlines()]


def test_per_io_logs_have_one_line_per_io(in_tmp: Path) -> None:
    job = make_job(
        rw="randrw",
        size=256 * K,
        thread_number=3,
        write_lat_log="lg",
        write_bw_log="lg",
        write_iops_log="lg",
    )
    res = run_job(job)
    names = sorted(p.name for p in in_tmp.iterdir())
    assert names == [
        "lg_bw.3.log",
        "lg_clat.3.log",
        "lg_iops.3.log",
        "lg_lat.3.log",
        "lg_slat.3.log",
    ]
    assert (in_tmp / "lg_slat.3.log").read_text() == ""
    total = sum(res.ios)
    for kind in ("bw", "clat", "iops", "lat"):
        lines = rows(in_tmp / f"lg_{kind}.3.log")
        assert len(lines) == total == 64
        assert all(len(r) == 5 and r[2] in (0, 1) and r[3] == 4096 and r[4] == 0 for r in lines)
    assert all(r[1] == 1 for r in rows(in_tmp / "lg_iops.3.log"))
    clat = rows(in_tmp / "lg_clat.3.log")
    lat = rows(in_tmp / "lg_lat.3.log")
    assert all(lt[1] >= c[1] > 0 for lt, c in zip(lat, clat, strict=False))
    times = [r[0] for r in clat]
    assert times == sorted(times)
    assert sum(1 for r in clat if r[2] == 0) == res.ios[0]


def test_log_offset_shows_rw_cursor_pattern(in_tmp: Path) -> None:
    """rw=rw over 16 blocks: reads and writes each walk 0, 4k, 8k ... (fio's R0 R1 R2 W0 ...)."""
    run_job(make_job(rw="rw", size=64 * K, write_iops_log="p", log_offset=True))
    lines = rows(in_tmp / "p_iops.1.log")
    assert len(lines) == 16 and all(len(r) == 6 for r in lines)
    for d in (0, 1):
        offs = [r[4] for r in lines if r[2] == d]
        assert offs == [4 * K * i for i in range(len(offs))]


def test_per_job_logs_off_appends_without_suffix(in_tmp: Path) -> None:
    for tn in (1, 2):
        run_job(
            make_job(
                rw="write", size=64 * K, thread_number=tn, write_iops_log="s", per_job_logs=False
            )
        )
    assert [p.name for p in in_tmp.iterdir()] == ["s_iops.log"]
    assert len(rows(in_tmp / "s_iops.log")) == 32


def test_averaged_logs_one_line_per_direction_per_window(in_tmp: Path) -> None:
    job = make_job(
        rw="randrw",
        size=256 * K,
        runtime_ns=60 * MS,
        time_based=True,
        log_avg_msec=20,
        write_bw_log="a",
        write_lat_log="a",
        write_iops_log="a",
    )
    run_job(job)
    for kind in ("bw", "iops", "lat", "clat"):
        lines = rows(in_tmp / f"a_{kind}.1.log")
        assert lines, kind
        assert all(r[3] == 0 and r[4] == 0 and r[1] > 0 for r in lines)
        for d in (0, 1):
            t = [r[0] for r in lines if r[2] == d]
            assert t == sorted(t) and len(set(t)) == len(t)


def test_hist_log_counts_every_io(in_tmp: Path) -> None:
    res = run_job(make_job(rw="write", size=256 * K, write_hist_log="h", log_hist_msec=1000))
    lines = rows(in_tmp / "h_clat_hist.1.log")
    assert len(lines) == 1 and len(lines[0]) == 3 + 1856
    assert sum(lines[0][3:]) == res.ios[1]


def test_hist_log_coarseness_sums_adjacent_buckets(in_tmp: Path) -> None:
    """fio's flush_hist_samples: coarseness N writes 1856 >> N cells, each the sum of 2**N
    neighbouring buckets of the full histogram."""
    clat = np.array([100, 1_000, 1_001, 50_000, 2_000_000, 7_000_000_000] * 5, dtype=np.int64)
    n = len(clat)
    lines = {}
    for coarseness in (0, 3, 6):
        job = make_job(rw="write", write_hist_log=f"h{coarseness}", log_hist_msec=1000,
                       log_hist_coarseness=coarseness)
        logs = IoLogs(job)
        logs.add(0, 10 * MS, np.zeros(n, dtype=np.int64), np.full(n, 4096, dtype=np.int64),
                 np.ones(n, dtype=np.int8), np.zeros(n, dtype=np.int64), clat, clat)
        logs.close(20 * MS)
        (line,) = rows(in_tmp / f"h{coarseness}_clat_hist.1.log")
        assert line[:3] == [20, 1, 4096]
        lines[coarseness] = np.array(line[3:])
    full = lines[0]
    assert len(full) == 1856 and full.sum() == n
    for coarseness in (3, 6):
        stride = 1 << coarseness
        assert len(lines[coarseness]) == 1856 // stride
        assert (lines[coarseness] == full.reshape(-1, stride).sum(axis=1)).all()


def test_hist_log_coarseness_of_a_run(in_tmp: Path) -> None:
    res = run_job(make_job(rw="write", size=256 * K, write_hist_log="h", log_hist_msec=1000,
                           log_hist_coarseness=4))
    (line,) = rows(in_tmp / "h_clat_hist.1.log")
    assert len(line) == 3 + 116 and sum(line[3:]) == res.ios[1]


def _cells(path: Path) -> list[list[str]]:
    return [line.split(", ") for line in path.read_text().splitlines()]


def test_log_prio_writes_fios_ioprio_value_and_plain_logs_the_rt_flag(in_tmp: Path) -> None:
    run_job(make_job(rw="write", size=16 * K, write_lat_log="p", log_prio=True, ioprio=3))
    assert {r[4] for r in _cells(in_tmp / "p_clat.1.log")} == {"0x4003"}  # prio alone: BE
    run_job(make_job(rw="write", size=16 * K, write_lat_log="q", log_prio=True,
                     ioprio_class=3))
    assert {r[4] for r in _cells(in_tmp / "q_clat.1.log")} == {"0x6000"}
    run_job(make_job(rw="write", size=16 * K, write_lat_log="r", ioprio_class=1))
    assert {r[4] for r in _cells(in_tmp / "r_clat.1.log")} == {"1"}
    run_job(make_job(rw="write", size=16 * K, write_lat_log="s", log_prio=True))
    assert {r[4] for r in _cells(in_tmp / "s_clat.1.log")} == {"0x0000"}


def test_log_issue_time_is_the_last_column_of_the_clat_log_only(in_tmp: Path) -> None:
    run_job(make_job(rw="randwrite", size=256 * K, write_lat_log="i", write_bw_log="i",
                     log_offset=True, log_issue_time=True))
    clat = rows(in_tmp / "i_clat.1.log")
    assert len(clat) == 64 and all(len(r) == 7 for r in clat)
    issued = [r[6] for r in clat]
    assert issued == sorted(issued) and issued[-1] > issued[0] >= 0
    # an I/O completes after it was issued: its ms stamp is at or after the issue time
    assert all(r[0] * MS <= r[6] + r[1] < (r[0] + 1) * MS for r in clat)
    for kind in ("lat", "bw"):
        assert {r[6] for r in rows(in_tmp / f"i_{kind}.1.log")} == {0}


def test_log_unix_epoch_stamps_wall_clock_milliseconds(in_tmp: Path) -> None:
    import time

    before = time.time_ns() // MS
    run_job(make_job(rw="write", size=64 * K, write_iops_log="u", log_unix_epoch=True,
                     write_hist_log="u", log_hist_msec=1))
    after = time.time_ns() // MS
    for name in ("u_iops.1.log", "u_clat_hist.1.log"):
        times = [r[0] for r in rows(in_tmp / name)]
        assert times and all(before <= t <= after for t in times)


def test_log_window_value_max_and_both(in_tmp: Path) -> None:
    base = dict(rw="randwrite", size=4 * 1024 * K, write_lat_log="w", log_avg_msec=1)
    res = run_job(make_job(**base, log_window_value="both"))
    both = rows(in_tmp / "w_clat.1.log")
    assert both and all(len(r) == 6 and r[2] >= r[1] > 0 for r in both)  # avg, then max
    # every I/O is in one window: the largest window maximum is the job's slowest I/O
    assert max(r[2] for r in both) == res.total.dirs[1].clat.moments.max
    res = run_job(make_job(**{**base, "write_lat_log": "m"}, log_window_value="max"))
    top = rows(in_tmp / "m_clat.1.log")
    assert top and all(len(r) == 5 for r in top)
    assert max(r[1] for r in top) == res.total.dirs[1].clat.moments.max


def test_hist_log_carries_the_block_size(in_tmp: Path) -> None:
    run_job(make_job(rw="write", size=256 * K, bs_min=(8 * K, 8 * K), bs_max=(8 * K, 8 * K),
                     blockalign=(8 * K, 8 * K), write_hist_log="h", log_hist_msec=1))
    lines = rows(in_tmp / "h_clat_hist.1.log")
    assert lines and all(r[1] == 1 and r[2] == 8 * K for r in lines)
    assert sum(sum(r[3:]) for r in lines) == 32


def test_log_epoch_clock_picks_the_clock_of_the_times(in_tmp: Path) -> None:
    import time

    before = time.monotonic_ns() // MS
    run_job(make_job(rw="write", size=64 * K, write_iops_log="c", log_unix_epoch=True,
                     log_epoch_clock=time.CLOCK_MONOTONIC))
    after = time.monotonic_ns() // MS
    times = [r[0] for r in rows(in_tmp / "c_iops.1.log")]
    assert times and all(before <= t <= after for t in times)
