"""Per-I/O logs: fio's file names and line formats, per-I/O and averaged."""

from __future__ import annotations

from pathlib import Path

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
