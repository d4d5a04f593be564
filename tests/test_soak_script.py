"""The soak script's own parts: durations, line counting over a growing file, the summary."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "soak.py"


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800),
                                               ("1.5h", 5400)])
def test_durations(soak: ModuleType, text: str, seconds: float) -> None:
    assert soak.parse_duration(text) == seconds


def test_bad_duration_is_refused(soak: ModuleType) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        soak.parse_duration("ten minutes")


def test_line_counter_reads_a_growing_file_once(soak: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    counter = soak.LineCounter(path)
    assert counter.poll() == 0  # not there yet
    path.write_bytes(b'{"event.dataset":"loadgen.run_start"}\n{"event.dataset":"loadgen.interval","n"')
    assert counter.poll() == 1
    with path.open("ab") as stream:
        stream.write(
            b':1}\nnot json\n{"event.dataset":"loadgen.interval"}\n{"event.dataset":"loadgen.end"'
        )
    assert counter.poll() == 4
    counter.finish()  # the unterminated last record counts as a broken line
    assert (counter.lines, counter.invalid) == (5, 2)
    assert counter.types == {"loadgen.run_start": 1, "loadgen.interval": 2}


def test_summary_and_markdown(soak: ModuleType) -> None:
    summary = soak.Summary(command=["loadgen", "run"], duration_s=120, numjobs=2, interval_s=1)
    summary.samples = [
        soak.Sample(60, 50 << 20, 3.0, 2, 100 << 20, 120, 2.0),
        soak.Sample(120, 52 << 20, 5.0, 2, 100 << 20, 240, 2.0),
    ]
    soak.summarise(summary)
    assert (summary.rss_first_bytes, summary.rss_max_bytes) == (50 << 20, 52 << 20)
    assert summary.cpu_mean_pct == 4.0
    assert summary.line_rate_mean_per_s == 2.0
    text = soak.markdown(summary)
    assert "| controller RSS first / last / max | 50.0 / 52.0 / 52.0 MiB |" in text
    assert text.count("\n| 60 |") == 1
