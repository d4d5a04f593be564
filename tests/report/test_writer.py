"""Format selection, fio's print order, output file, and the SIGUSR1 snapshot."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from loadgen.errors import InputError
from loadgen.kernel.sysinfo import run_header
from loadgen.plan import RunOptions
from loadgen.report import render_normal, render_snapshot
from loadgen.report.writer import render_formats
from loadgen.results import JobResult

from .fio_sample import load, result_from_fio


def test_formats_print_in_fio_order() -> None:
    """As fio writes them: the start-of-run header, then terse, json, and the normal report."""
    out = render_formats(result_from_fio(load("pf.json")),
                         RunOptions(output_format=("normal,json", "terse")), with_header=True)
    header_at, terse_at = out.index("Starting 1 process"), out.index("3;loadgen-")
    json_at, report_at = out.index('{\n  "fio version"'), out.index("pf: (groupid=0")
    assert out.startswith("pf: (g=0): rw=randrw")
    assert header_at < terse_at < json_at < report_at
    doc, _ = json.JSONDecoder().raw_decode(out[json_at:])
    assert "bins" not in doc["jobs"][0]["read"]["clat_ns"]


def test_json_plus_adds_the_histogram_bins() -> None:
    text = render_formats(result_from_fio(load("pfplus.json")),
                          RunOptions(output_format=("json+",)), with_header=True)
    assert "bins" in json.loads(text)["jobs"][0]["read"]["clat_ns"]


def test_unknown_format_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown output format 'xml'"):
        render_formats(result_from_fio(load("pf.json")), RunOptions(output_format=("json,xml",)),
                       with_header=True)


def test_snapshot_is_the_report_without_the_start_header() -> None:
    result = result_from_fio(load("pf.json"))
    text = render_snapshot(result, RunOptions(output_format=("normal",)))
    assert text.startswith("\npf: (groupid=0, jobs=1)") and "Starting" not in text
    both = render_snapshot(result, RunOptions(output_format=("json", "normal")))
    doc, end = json.JSONDecoder().raw_decode(both)
    assert doc["jobs"][0]["jobname"] == "pf" and both[end:].startswith("\n\npf: (groupid=0")


def test_normal_header_carries_the_run_header() -> None:
    result = result_from_fio(load("pf.json"))
    result.header = run_header(result.plan, ["loadgen", "run", "pf.fio"])
    text = render_normal(result)
    lines = text.splitlines()
    assert lines[1] == "loadgen-0.1.0"
    assert lines[2].startswith("host: ") and f"kernel={result.header['kernel_release']}" in lines[2]
    assert lines[3].startswith(f"thp: enabled={result.header['thp']['enabled']}")
    assert lines[4] == "Starting 1 process"



def test_snapshot_of_a_run_in_progress() -> None:
    """Mid-run: no end time, one worker without any I/O yet.  The idle worker gets a JSON entry
    (as in fio) but no text block; successive JSON dumps split like fio's status stream
    (si.json)."""
    result = result_from_fio(load("pf.json"))
    result.end_epoch_ns = 0
    idle_job = replace(result.groups[0].jobs[0].job, thread_number=2, name="idle")
    result.groups[0].jobs.append(JobResult(job=idle_job))
    opts = RunOptions(output_format=("json", "normal"))
    stream = render_snapshot(result, opts) + render_snapshot(result, opts)
    starts = [m.start() for m in re.finditer(r'^\{\n  "fio version"', stream, flags=re.M)]
    docs = [json.JSONDecoder().raw_decode(stream, at)[0] for at in starts]
    assert len(docs) == 2
    assert [j["jobname"] for j in docs[0]["jobs"]] == ["pf", "idle"]
    assert docs[0]["jobs"][1]["read"]["runtime"] == 0 and docs[0]["jobs"][1]["job_runtime"] == 0
    assert "\nidle: (groupid" not in stream
