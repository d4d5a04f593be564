"""fio's and loadgen's log files of the same job file: same names, same columns, same
priority and zero columns (values are timings, so only their layout is compared)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from loadgen.engine.iolog import IoLogs
from tests.engine.conftest import make_job
from tests.engine.test_fzlog import feed_chunks

from .harness import FIO, GLOBAL, fio_skip_reason, run_fio, run_loadgen

pytestmark = [pytest.mark.skipif(fio_skip_reason() is not None, reason=str(fio_skip_reason())),
              pytest.mark.slow]

JOBS = """\
[a]
rw=randrw
size=256k
bs=8k
write_lat_log=a
write_bw_log=a
write_iops_log=a
log_offset=1
log_issue_time=1
log_prio=1
prio=3
[b]
rw=randwrite
size=64m
write_lat_log=b
log_avg_msec=20
log_window_value=both
log_unix_epoch=1
write_hist_log=b
log_hist_msec=20
prioclass=1
"""


def test_log_files_have_fios_names_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "logs.fio"
    path.write_text(GLOBAL + JOBS)
    dirs = {tool: tmp_path / tool for tool in ("fio", "loadgen")}
    for d in dirs.values():
        d.mkdir()
    assert run_fio(path, (), dirs["fio"]).status == 0
    assert run_loadgen(path, (), dirs["loadgen"]).status == 0
    names = {tool: sorted(p.name for p in d.iterdir()) for tool, d in dirs.items()}
    assert names["fio"] == names["loadgen"]
    for name in names["fio"]:
        theirs = (dirs["fio"] / name).read_text().splitlines()
        ours = (dirs["loadgen"] / name).read_text().splitlines()
        if not theirs or not ours:
            continue  # an empty slat log, or a window fio did not close in a short job
        f_cells, l_cells = theirs[0].split(", "), ours[0].split(", ")
        assert len(f_cells) == len(l_cells), name
        if name.startswith("a_"):  # per-I/O: ddir, bs, offset, prio, issue time
            assert len(theirs) == len(ours) == 32, name
            assert l_cells[3] == f_cells[3] == "8192" and l_cells[5] == f_cells[5] == "0x4003"
            assert (l_cells[6] == "0") == (f_cells[6] == "0"), name  # issue time: clat only
        elif name == "b_clat_hist.2.log":
            assert l_cells[1:3] == f_cells[1:3] == ["1", "4096"]
        else:  # windows: avg, max, ddir, bs 0, prio 0 (a window has none, even for RT)
            assert l_cells[3:] == f_cells[3:] == ["1", "0", "0"], name
        # log_unix_epoch: both on the wall clock, within the minute the test ran
        if name.startswith("b_"):
            assert abs(int(l_cells[0]) - int(f_cells[0])) < 60_000, name


@pytest.mark.parametrize("coarseness", [0, 3, 6])
def test_hist_log_coarseness_gives_fios_buckets_per_line(tmp_path: Path, coarseness: int) -> None:
    """log_hist_coarseness=N: every line of both tools' histogram log has 1856 >> N bucket
    cells after time, direction and block size (fio's help text still says 1216 >> N)."""
    path = tmp_path / "hist.fio"
    # 128 MiB: some 60 ms of faults, so fio writes lines too (it writes none for a job
    # shorter than log_hist_msec)
    path.write_text(GLOBAL + f"[h]\nrw=randwrite\nsize=128m\nwrite_hist_log=h\nlog_hist_msec=20\n"
                             f"log_hist_coarseness={coarseness}\n")
    widths = {}
    for tool, run in (("fio", run_fio), ("loadgen", run_loadgen)):
        (tmp_path / tool).mkdir()
        assert run(path, (), tmp_path / tool).status == 0
        lines = (tmp_path / tool / "h_clat_hist.1.log").read_text().splitlines()
        assert lines, tool
        cells = [line.split(", ") for line in lines]
        assert all(c[1:3] == ["1", "4096"] for c in cells), tool
        widths[tool] = {len(c) for c in cells}
    assert widths["fio"] == widths["loadgen"] == {3 + (1856 >> coarseness)}


def _inflate(path: Path) -> list[str]:
    done = subprocess.run([FIO, f"--inflate-log={path}"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("extra", [
    {},
    {"log_offset": True, "log_issue_time": True, "log_prio": True, "ioprio": 3,
     "ioprio_class": 1},
    {"log_avg_msec": 1, "log_window_value": "both", "log_compression": 4096},
])
def test_fio_inflates_loadgens_compressed_log_to_the_text_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, object]
) -> None:
    """The same I/Os logged as text and as .fz: ``fio --inflate-log`` of the .fz prints
    the text log's lines."""
    monkeypatch.chdir(tmp_path)
    text_job = make_job(rw="randrw", write_lat_log="t", write_bw_log="t", **extra)
    fz_job = dataclasses.replace(text_job, write_lat_log="z", write_bw_log="z",
                                 log_store_compressed=True)
    feed_chunks(IoLogs(text_job))
    feed_chunks(IoLogs(fz_job))
    for kind in ("lat", "clat", "bw"):
        text = (tmp_path / f"t_{kind}.1.log").read_text().splitlines()
        assert text and _inflate(tmp_path / f"z_{kind}.1.log.fz") == text, kind


def test_compressed_logs_have_fios_names_and_inflate_to_fios_columns(tmp_path: Path) -> None:
    """One job file with log_store_compressed=1 run by both: the same .fz names (the hist
    log aside: fio's holds addresses, loadgen's is text), and per-I/O lines that inflate
    to the same columns."""
    path = tmp_path / "fz.fio"
    path.write_text(GLOBAL + JOBS.replace("prio=3\n", "prio=3\nlog_store_compressed=1\n")
                    .replace("prioclass=1\n", "prioclass=1\nlog_store_compressed=1\n"))
    dirs = {tool: tmp_path / tool for tool in ("fio", "loadgen")}
    for tool, run in (("fio", run_fio), ("loadgen", run_loadgen)):
        dirs[tool].mkdir()
        assert run(path, (), dirs[tool]).status == 0
    names = {tool: sorted(p.name for p in d.iterdir()) for tool, d in dirs.items()}
    assert [n for n in names["fio"] if "hist" not in n] == [
        n for n in names["loadgen"] if "hist" not in n]
    assert "b_clat_hist.2.log.fz" in names["fio"] and "b_clat_hist.2.log" in names["loadgen"]
    for name in ("a_clat.1.log.fz", "a_bw.1.log.fz", "b_lat.2.log.fz"):
        theirs, ours = _inflate(dirs["fio"] / name), _inflate(dirs["loadgen"] / name)
        assert theirs and ours, name
        assert {len(line.split(", ")) for line in theirs} == {
            len(line.split(", ")) for line in ours}, name
        if name.startswith("a_"):
            assert len(theirs) == len(ours) == 32
            assert {line.split(", ")[5] for line in ours} == {"0x4003"}
