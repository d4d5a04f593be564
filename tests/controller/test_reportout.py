"""Where the reports go: --output (emptied once, then appended), stdout, or stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.controller.reportout import report_sink
from loadgen.errors import InputError
from loadgen.plan import RunOptions


def test_output_file_is_emptied_when_opened(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old contents that must go\n" * 100)
    sink = report_sink(RunOptions(output_format=("json",), output=str(target))).open()
    sink.write_text("{}\n")
    sink.close()
    assert target.read_text() == "{}\n"


def test_report_sink_follows_the_stdout_rule(tmp_path: Path) -> None:
    assert report_sink(RunOptions(jsonl="-")).open().fd == 2
    assert report_sink(RunOptions(jsonl="run.jsonl")).open().fd == 1
    assert report_sink(RunOptions(jsonl="-", output=str(tmp_path / "r.txt"))).target == str(
        tmp_path / "r.txt"
    )
    with pytest.raises(InputError, match="cannot write"):
        report_sink(RunOptions(output=str(tmp_path / "missing" / "report.txt"))).open()
    with pytest.raises(InputError, match="unknown output format"):
        report_sink(RunOptions(output_format=("xml",)))
