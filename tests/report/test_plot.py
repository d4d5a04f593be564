"""``loadgen plot``: PNG, SVG and HTML for a storm run and a two-run overlay."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.cli import main
from tests.report.timed_run import timed_run

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(path: Path, bs: str, numjobs: int) -> Path:
    timed_run(numjobs, "500ms", f"--jsonl={path}", "--output-format=terse", bs=bs, quiet=True)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("plot")
    return _run(out / "storm.jsonl", "4k", 8), _run(out / "big.jsonl", "64k", 2)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_plot_writes_each_format_for_a_storm_and_an_overlay(
    runs, tmp_path: Path, suffix: str
) -> None:
    storm, big = runs
    for name, inputs in (("storm", [storm]), ("overlay", [storm, big])):
        out = tmp_path / f"{name}{suffix}"
        assert main(["plot", *map(str, inputs), "-o", str(out)]) == 0
        data = out.read_bytes()
        if suffix == ".png":
            assert data.startswith(PNG_MAGIC) and len(data) > 20_000
        else:
            text = data.decode()
            assert "<svg" in text and "throughput" in text and "latency histogram" in text
            if name == "overlay":
                assert "storm" in text and "big" in text  # both runs in the legend
            if suffix == ".html":
                assert text.startswith("<!DOCTYPE html>")


def test_plot_bad_input(runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storm, _ = runs
    assert main(["plot", str(storm), "-o", str(tmp_path / "x.gif")]) == 2
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["plot", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "x.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
