"""Kernel counters in a run: per group/job window, per status interval in the stream, the header."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from loadgen.controller import execute, exit_status
from loadgen.kernel import thp
from loadgen.plan import RunOptions
from loadgen.report import render_json, render_normal
from loadgen.report.jsonl import header_fields, validate
from loadgen.status import ExitStatus

from .plans import MIB, make_plan

FAST = 100_000_000  # 100 ms status interval
REGION = 64 * MIB
HUGE = 2 * MIB


def _opts(tmp_path: Path, **kw) -> RunOptions:
    return RunOptions(jsonl=str(tmp_path / "run.jsonl"), eta="never", **kw)


def _lines(tmp_path: Path) -> list[dict]:
    return [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]


def test_madvise_job_shows_thp_faults_and_never_job_does_not(tmp_path: Path) -> None:
    settings = thp.settings()
    if settings["enabled"] not in ("madvise", "always") or settings["pmd_size_bytes"] != HUGE:
        enabled, pmd = settings["enabled"] or "unavailable", settings["pmd_size_bytes"]
        pytest.skip(f"THP is {enabled} system-wide (pmd {pmd})")
    plan = make_plan(
        [
            dict(rw="write", size=REGION, bs_min=(HUGE, HUGE), bs_max=(HUGE, HUGE), thp="madvise"),
            dict(rw="write", size=REGION, bs_min=(HUGE, HUGE), bs_max=(HUGE, HUGE), thp="never"),
        ]
    )
    result = execute(plan, _opts(tmp_path))
    assert exit_status(result) == ExitStatus.OK
    huge, small = result.jobs
    expected = REGION // HUGE  # one PMD fault per 2 MiB block
    for job in (huge, small):
        kernel = job.kernel
        assert kernel["scope"] == "system"
        assert kernel is result.groups[job.job.group_id].kernel
    assert huge.totals.anon_huge_bytes > 0
    assert huge.kernel["vmstat"]["thp_fault_alloc"] >= huge.totals.anon_huge_bytes // HUGE
    # system-wide: other processes may fault huge pages meanwhile, but not this job's worth
    assert small.totals.anon_huge_bytes == 0
    assert small.kernel["vmstat"]["thp_fault_alloc"] < expected
    assert small.kernel["vmstat"]["pgfault"] >= small.totals.minf  # 4 KiB faults instead
    document = orjson.loads(render_json(result))
    for job_obj, job in zip(document["jobs"], result.jobs, strict=True):
        assert job_obj["loadgen"]["kernel"] == job.kernel
    assert [g["kernel"] for g in document["loadgen"]["groups"]] == [
        g.kernel for g in result.groups
    ]


def test_stream_has_one_kernel_line_per_interval_covering_the_run(tmp_path: Path) -> None:
    plan = make_plan([dict(numjobs=2, time_based=True, runtime_ns=350_000_000, size=8 * MIB)])
    result = execute(plan, _opts(tmp_path, status_interval_ns=FAST))
    lines = _lines(tmp_path)
    assert all(validate(r) == [] for r in lines)
    kernel = [r for r in lines if r["event.dataset"] == "loadgen.kernel"]
    assert len(kernel) >= 3  # 100 ms lines over a 350 ms run, and the final one
    assert kernel[-1]["loadgen.final"] and not any(r["loadgen.final"] for r in kernel[:-1])
    assert all(r["loadgen.scope"] == "system" and r["event.duration"] > 0 for r in kernel)
    assert len({frozenset(r) for r in kernel}) == 1  # the same keys on every line
    assert lines[-2] is kernel[-1] and lines[-1]["event.dataset"] == "loadgen.run_end"
    # the lines tile the run, so they hold every fault the workers took (and others')
    assert sum(r["loadgen.vmstat.pgfault"] for r in kernel) >= sum(
        j.totals.minf for j in result.jobs
    )
    assert any(k.startswith("loadgen.mthp.") for k in kernel[0]) == bool(thp.mthp_snapshot())


def test_run_header_is_in_result_first_line_and_text_header(tmp_path: Path) -> None:
    result = execute(
        make_plan([dict(size=MIB)]), _opts(tmp_path, command_line=("loadgen", "run", "x.fio"))
    )
    header = result.header
    assert header["command_line"] == ["loadgen", "run", "x.fio"]
    assert header["kernel_release"] and header["thp"]["enabled"] == thp.settings()["enabled"]
    first = _lines(tmp_path)[0]
    assert first["event.dataset"] == "loadgen.run_start"
    assert {k: v for k, v in first.items() if k.startswith("loadgen.header.")} == {
        "loadgen." + k: v for k, v in header_fields(header).items()
    }
    assert first["loadgen.header.kernel_release"] == header["kernel_release"]
    assert f"kernel={header['kernel_release']}" in render_normal(result)
    assert orjson.loads(render_json(result))["loadgen"]["header"] == header
