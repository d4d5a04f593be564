"""``loadgen report``: a saved run (JSON report or JSON lines) renders byte for byte again."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.controller import execute
from loadgen.plan import RunOptions
from loadgen.report.writer import render_formats

from ..controller.plans import make_plan

FORMATS = ("normal", "json", "json+", "terse")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("report")
    stream = out / "run.jsonl"
    plan = make_plan(
        [
            {"numjobs": 2, "group_reporting": True, "percentile_list": (50.0, 99.5)},
            {"numjobs": 2, "rw": "randrw", "lat_percentiles": True, "description": "mixed"},
        ]
    )
    result = execute(
        plan, RunOptions(eta="never", jsonl=str(stream), status_interval_ns=100_000_000)
    )
    texts = {
        f: render_formats(result, RunOptions(output_format=(f,)), with_header=True) for f in FORMATS
    }
    report = out / "run.json"
    report.write_text(texts["json"])
    return report, stream, texts


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("source", ["json", "jsonl"])
def test_report_renders_the_saved_run_byte_for_byte(
    saved_run, source: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, stream, texts = saved_run
    path = report if source == "json" else stream
    assert (
        main(["report", str(path), f"--output-format={fmt}", f"--output={tmp_path / 'out'}"]) == 0
    )
    assert (tmp_path / "out").read_text() == texts[fmt]


def test_report_to_stdout_and_bad_input(
    saved_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, _, texts = saved_run
    assert main(["report", str(report)]) == 0
    assert capsys.readouterr().out == texts["normal"]
    (tmp_path / "x.json").write_text("not a run\n")
    assert main(["report", str(tmp_path / "x.json")]) == 2
    assert main(["report", str(report), "--output-format=xml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "xml" in err[1]


def test_schema_command_prints_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    import orjson

    from loadgen.report import jsonl

    assert main(["schema"]) == 0
    assert orjson.loads(capsys.readouterr().out) == jsonl.schema()
