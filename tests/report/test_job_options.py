"""Report-side job options: stats=0, significant_figures, continue_on_error, terse versions."""

from __future__ import annotations

import json
from dataclasses import replace

from loadgen.plan import RunOptions
from loadgen.report import render_json, render_normal, render_terse
from loadgen.report.writer import render_formats
from loadgen.results import RunResult

from .fio_sample import load, result_from_fio


def _with(result: RunResult, **fields) -> RunResult:
    for group in result.groups:
        for member in group.jobs:
            member.job = replace(member.job, **fields)
    return result


def _pf(**fields) -> RunResult:
    return _with(result_from_fio(load("pf.json")), **fields)


def test_stats_0_leaves_the_job_out_of_every_report():
    result = _pf(stats=False)
    assert json.loads(render_json(result))["jobs"] == []
    assert render_terse(result) == ""
    assert "(groupid=0" not in render_normal(result)


def test_significant_figures_change_the_normal_report():
    four, six = render_normal(_pf()), render_normal(_pf(significant_figures=6))
    line4 = next(line for line in four.splitlines() if line.startswith("  read: IOPS="))
    line6 = next(line for line in six.splitlines() if line.startswith("  read: IOPS="))
    assert line4 != line6
    digits = [sum(c.isdigit() for c in part.split("=")[1].split("(")[0])
              for part in (line4.split(",")[1], line6.split(",")[1])]  # the BW= figure
    assert digits[1] > digits[0]


def test_continue_on_error_adds_fios_error_fields():
    plain, keeping = _pf(), _pf(continue_on_error="all")
    job = json.loads(render_json(keeping))["jobs"][0]
    assert (job["total_err"], job["first_error"]) == (0, 0)
    keys = list(job)
    assert keys.index("latency_ms") + 1 == keys.index("total_err")  # fio's place
    assert "total_err" not in json.loads(render_json(plain))["jobs"][0]
    assert "     errors    : total=0, first_error=0/<Success>\n" in render_normal(keeping)
    assert render_terse(keeping).rstrip("\n").split(";")[-2:] == ["0", "0"]
    assert len(render_terse(keeping).split(";")) == len(render_terse(plain).split(";")) + 2


def test_terse_versions_have_fios_field_counts():
    result = _pf()
    counts = {v: len(render_terse(result, v).rstrip("\n").split(";")) for v in (2, 3, 4, 5)}
    # the counts fio-3.42 printed for a page_fault job without description
    assert counts == {2: 161, 3: 121, 4: 162, 5: 180}
    assert render_terse(result, 2).startswith("2;pf;0;0;")
    assert render_terse(result, 5).startswith("5;")


def test_terse_version_flows_from_the_run_options():
    text = render_formats(_pf(), RunOptions(output_format=("terse",), terse_version=4), False)
    assert text.startswith("4;") and len(text.split(";")) == 162


def test_unified_rw_reporting_mixed_reports_one_summed_direction():
    plain, mixed = _pf(), _pf(unified_rw_reporting="mixed")
    doc = json.loads(render_json(plain))["jobs"][0]
    job = json.loads(render_json(mixed))["jobs"][0]
    assert "read" not in job and "write" not in job and "sync" not in job
    assert job["mixed"]["total_ios"] == doc["read"]["total_ios"] + doc["write"]["total_ios"]
    assert job["mixed"]["io_bytes"] == doc["read"]["io_bytes"] + doc["write"]["io_bytes"]
    clat = [part["clat_ns"]["N"] for part in (job["mixed"], doc["read"], doc["write"])]
    assert clat[0] == clat[1] + clat[2]
    assert job["mixed"]["runtime"] == max(doc["read"]["runtime"], doc["write"]["runtime"])
    text = render_normal(mixed)
    assert "\n  mixed: IOPS=" in text and "\n  MIXED: bw=" in text and "  read: " not in text
    total = doc["read"]["total_ios"] + doc["write"]["total_ios"]
    assert f"issued rwts: total={total},0,0,0" in text
    assert len(render_terse(mixed).split(";")) == 80  # fio-3.42's count: one direction


def test_unified_rw_reporting_both_adds_the_sum_after_the_directions():
    both = _pf(unified_rw_reporting="both")
    job = json.loads(render_json(both))["jobs"][0]
    assert [k for k in job if k in ("read", "write", "trim", "sync", "mixed")] == [
        "read", "write", "trim", "sync", "mixed"]
    assert job["mixed"]["total_ios"] == job["read"]["total_ios"] + job["write"]["total_ios"]
    text = render_normal(both)
    assert text.index("  read: ") < text.index("  write: ") < text.index("  mixed: ")
    assert text.index("   READ: ") < text.index("  WRITE: ") < text.index("  MIXED: ")
    assert len(render_terse(both).split(";")) == 162  # fio-3.42's count
