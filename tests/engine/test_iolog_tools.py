"""The engine's logs have the line shape that fio's own log tools were seen to read.

tests/report/data/tools/ holds logs in fio's formats that were fed, once and outside the
repository, to fio's tools/fiologparser.py and tools/hist/fiologparser_hist.py; what the
tools printed is checked in beside them (``*.out``, see docs/reports.md).  Those tools
split each line on ", " and read integer fields by position, so a log the engine writes
must have exactly the golden lines' field count and integer fields.
"""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import make_job, run_job

TOOLS = Path(__file__).parents[1] / "report" / "data" / "tools"
K = 1024


def shape(line: str) -> tuple[int, bool]:
    fields = line.rstrip("\n").split(", ")
    return len(fields), all(f.lstrip("-").isdigit() for f in fields)


def golden_shape(name: str) -> tuple[int, bool]:
    shapes = {shape(line) for line in (TOOLS / name).read_text().splitlines()}
    assert len(shapes) == 1, name
    return shapes.pop()


def test_engine_logs_match_the_shape_fios_tools_read(in_tmp: Path) -> None:
    job = make_job(
        rw="randrw",
        size=256 * K,
        write_bw_log="lg",
        write_lat_log="lg",
        write_hist_log="lg",
        log_hist_msec=1000,
    )
    res = run_job(job)
    for kind in ("bw", "clat"):
        lines = (in_tmp / f"lg_{kind}.1.log").read_text().splitlines()
        assert len(lines) == sum(res.ios)
        assert {shape(line) for line in lines} == {golden_shape(f"lg_{kind}.1.log")}, kind
    hist = (in_tmp / "lg_clat_hist.1.log").read_text().splitlines()
    assert {shape(line) for line in hist} == {golden_shape("lg_clat_hist.1.log")}
    assert sum(sum(int(f) for f in line.split(", ")[3:]) for line in hist) == sum(res.ios)
