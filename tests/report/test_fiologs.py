"""fio log lines as fio's log tools read them.

The golden logs in data/tools/ were written by ``write_logs`` below and then fed,
once, to fio's own tools outside the repository (tools/fiologparser.py and
tools/hist/fiologparser_hist.py; commands in docs/reports.md).  Their outputs are
checked in next to them (``*.out``), so CI needs neither fio nor network: a change
in loadgen's log text shows up as a difference from the golden logs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .fio_sample import DATA
from loadgen.report.fiologs import hist_line, log_path, sample_line
from loadgen.stats import histogram

TOOLS = DATA / "tools"


def write_logs(directory: Path) -> list[Path]:
    """Three deterministic logs: clat and bw samples every 100 ms, and a 1 s clat histogram log."""
    clat, bw, hist = (directory / log_path("lg", kind, 1) for kind in ("clat", "bw", "clat_hist"))
    with clat.open("w") as f:
        for t in range(0, 3000, 100):
            f.write(sample_line(t, 1000 + t, 0, 4096) + sample_line(t, 2000 + t, 1, 4096))
    with bw.open("w") as f:
        for t in range(0, 3000, 100):
            f.write(sample_line(t, 400_000 + 10 * t, 0, 4096))
    with hist.open("w") as f:
        for t in (1000, 2000, 3000):
            for ddir in (0, 1):
                counts = histogram.empty()
                histogram.add_samples(counts, np.arange(500 + 1000 * ddir + t, 5500 + 1000 * ddir + t, 5,
                                                        dtype=np.uint64))
                f.write(hist_line(t, ddir, 4096, counts))
    return [clat, bw, hist]


def test_logs_match_the_golden_files_fios_tools_parsed(tmp_path: Path) -> None:
    for path in write_logs(tmp_path):
        assert path.read_text() == (TOOLS / path.name).read_text(), path.name


def test_tool_outputs_recorded_for_every_golden_log() -> None:
    """What the tools printed for the golden logs: one row per interval, sample counts as written."""
    averages = (TOOLS / "lg_clat.1.log.fiologparser-a.out").read_text().splitlines()
    assert averages == ["1000, 1550.000", "2000, 2550.000", "2900, 3500.000"]
    rows = (TOOLS / "lg_clat_hist.1.log.fiologparser_hist.out").read_text().splitlines()
    assert rows[0].startswith("end-time, samples, min, avg, median")
    assert [int(r.split(", ")[1]) for r in rows[1:]] == [2000, 2000, 2000]  # 1000 per direction per line


def test_sample_line_fields() -> None:
    assert sample_line(149, 963382, 0, 0) == "149, 963382, 0, 0, 0\n"  # fio sample logs/a_bw.1.log
    for line in (DATA / "tools" / "lg_bw.1.log").read_text().splitlines():
        assert [int(x) for x in line.split(", ")] and len(line.split(", ")) == 5


def test_hist_line_columns_and_coarseness() -> None:
    counts = histogram.empty()
    counts[[0, 1, 1855]] = [3, 4, 5]
    fields = hist_line(10, 1, 4096, counts).rstrip("\n").split(", ")
    assert len(fields) == 3 + histogram.PLAT_NR and fields[:5] == ["10", "1", "4096", "3", "4"]
    assert fields[-1] == "5"
    coarse = hist_line(10, 1, 4096, counts, coarseness=1).rstrip("\n").split(", ")
    assert len(coarse) == 3 + histogram.PLAT_NR // 2 and coarse[3] == "7"
    with pytest.raises(ValueError):
        hist_line(0, 0, 0, np.zeros(10, dtype=np.uint64))


def test_log_paths_follow_fio_naming() -> None:
    assert log_path("a", "clat", 3) == "a_clat.3.log"
    assert log_path("a", "clat_hist", 1, per_job_logs=False) == "a_clat_hist.log"
    with pytest.raises(ValueError):
        log_path("a", "nope", 1)
