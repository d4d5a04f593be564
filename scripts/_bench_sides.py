"""The three things bench.py times -- loadgen, fio, pflimit -- and how their reports are read.

Every runner returns a Sample: the metrics one run produced, with None wherever the report
lacked a key, so that a half-built loadgen (or an fio without some field) shows up as "n/a"
in the table instead of stopping the benchmark.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench_watch import Watch, run_watched

# Keys loadgen's report has under jobs[].loadgen or the top-level loadgen section (groups
# included), and the metric each becomes. The controller CPU keys are renamed: bench.py
# measures the controller itself (_bench_watch) and keeps both figures apart.
REPORT_KEYS = {
    "overhead_ns": "overhead_ns",
    "spawn_s": "spawn_s",
    "fork_s": "fork_s",
    "start_skew_ns": "start_skew_ns",
    "release_epoch_ns": "release_epoch_ns",
    "uss_bytes": "uss_bytes",
    "controller_cpu_s": "report_controller_cpu_s",
    "controller_cpu_pct": "report_controller_cpu_pct",
}
# Metrics only loadgen has (left out of fio's side in the table).
LOADGEN_EXTRAS = (
    *REPORT_KEYS.values(),
    "release_s",
    "uss_bytes_median",
    "uss_sampled",
    "controller_cpu_s",
    "controller_cpu_share",
    "controller_cpu_share_whole",
)
DDIRS = ("read", "write", "trim")


@dataclass
class Sample:
    """What one run of one side measured."""

    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    command: list[str] = field(default_factory=list)

    def get(self, name: str) -> float | None:
        return None if self.error else self.metrics.get(name)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def decode_report(text: str) -> dict[str, Any]:
    """First JSON object in TEXT; fio may put warnings before it and several objects after it."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the report")
    document, _ = json.JSONDecoder().raw_decode(text[start:])
    if not isinstance(document, dict):
        raise ValueError("report is not a JSON object")
    return document


def _job_ops_and_runtime(job: dict[str, Any]) -> tuple[float | None, float | None]:
    """Operations over all directions and the job's runtime in ms (None when absent).

    The runtime is the longest direction that did I/O (fio's per-direction runtime), falling
    back to job_runtime, so a write-only job is timed exactly like fio's own write.iops.
    """
    ops: float | None = None
    runtime: float | None = None
    for ddir in DDIRS:
        stats = job.get(ddir)
        if not isinstance(stats, dict):
            continue
        total = _number(stats.get("total_ios"))
        if total is None:
            continue
        ops = (ops or 0.0) + total
        ddir_runtime = _number(stats.get("runtime"))
        if total > 0 and ddir_runtime:
            runtime = max(runtime or 0.0, ddir_runtime)
    if runtime is None:
        runtime = _number(job.get("job_runtime")) or None
    return ops, runtime


def _clat_mean_ns(job: dict[str, Any]) -> tuple[float, float] | None:
    """(sum of clat over ops, ops) for this job; None when no direction recorded latency."""
    weighted = 0.0
    count = 0.0
    for ddir in DDIRS:
        stats = job.get(ddir)
        if not isinstance(stats, dict):
            continue
        clat = stats.get("clat_ns")
        total = _number(stats.get("total_ios"))
        mean = _number(clat.get("mean")) if isinstance(clat, dict) else None
        if mean and total:
            weighted += mean * total
            count += total
    return (weighted, count) if count else None


def _extras(document: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, float | None]:
    """loadgen's own keys: max over the jobs (and the top-level section), USS also as median.

    Group-level values such as spawn_s may be repeated in every job; the max then is that
    value, for per-worker values (uss_bytes) the max is the worst worker, and for
    release_epoch_ns the last group's release.
    """
    found: dict[str, list[float]] = {key: [] for key in REPORT_KEYS}
    sections = [job.get("loadgen") for job in jobs] + [document.get("loadgen")]
    for section in sections:
        for key, value in _walk_numbers(section):
            if key in found:
                found[key].append(value)
    metrics: dict[str, float | None] = {REPORT_KEYS[key]: max(values) if values else None for key, values in found.items()}
    per_job_uss = [_number(job.get("loadgen", {}).get("uss_bytes")) for job in jobs if isinstance(job.get("loadgen"), dict)]
    present_uss = [v for v in per_job_uss if v is not None]
    metrics["uss_bytes_median"] = statistics.median(present_uss) if present_uss else None
    return metrics


def _walk_numbers(section: Any) -> list[tuple[str, float]]:
    """(key, number) pairs anywhere inside a loadgen section (it may nest per group)."""
    pairs: list[tuple[str, float]] = []
    if isinstance(section, dict):
        for key, value in section.items():
            number = _number(value)
            if number is not None:
                pairs.append((key, number))
            else:
                pairs.extend(_walk_numbers(value))
    elif isinstance(section, list):
        for item in section:
            pairs.extend(_walk_numbers(item))
    return pairs


def metrics_from_fio_json(document: dict[str, Any]) -> dict[str, float | None]:
    """Metrics from an fio-shaped JSON report (fio's own, or loadgen's fio-compatible one).

    ops_per_s is the aggregate: all operations over the longest job runtime (the group's
    span, as fio's group statistics use). ops_per_s_sum is the sum of the per-job rates.
    """
    jobs = [job for job in document.get("jobs", []) if isinstance(job, dict)]
    total_ops = 0.0
    longest_ms = 0.0
    rate_sum = 0.0
    complete = bool(jobs)
    clat_sum = 0.0
    clat_ops = 0.0
    minf = 0.0
    minf_known = bool(jobs)
    for job in jobs:
        ops, runtime = _job_ops_and_runtime(job)
        if ops is None or not runtime:
            complete = False
        else:
            total_ops += ops
            longest_ms = max(longest_ms, runtime)
            rate_sum += ops * 1000.0 / runtime
        clat = _clat_mean_ns(job)
        if clat:
            clat_sum += clat[0]
            clat_ops += clat[1]
        job_minf = _number(job.get("minf"))
        if job_minf is None:
            minf_known = False
        else:
            minf += job_minf
    ops_per_s = total_ops * 1000.0 / longest_ms if complete and longest_ms else None
    metrics: dict[str, float | None] = {
        "jobs": float(len(jobs)),
        "ops": total_ops if complete else None,
        "runtime_ms": longest_ms if complete else None,
        "ops_per_s": ops_per_s,
        "ops_per_s_sum": rate_sum if complete else None,
        "ns_per_op": 1e9 / ops_per_s if ops_per_s else None,
        "clat_ns_mean": clat_sum / clat_ops if clat_ops else None,
        "minf": minf if minf_known else None,
    }
    metrics.update(_extras(document, jobs))
    return metrics


def metrics_from_pflimit(line: str) -> dict[str, float | None]:
    """pflimit prints one JSON line: blocks/s over the slowest worker's copy time."""
    document = decode_report(line)
    blocks_per_s = _number(document.get("blocks_per_s"))
    return {
        "jobs": _number(document.get("nproc")),
        "ops_per_s": blocks_per_s,
        "ns_per_op": 1e9 / blocks_per_s if blocks_per_s else None,
        "minf": _number(document.get("minor_faults")),
        "runtime_ms": (_number(document.get("seconds")) or 0.0) * 1000.0 or None,
    }


def _run(command: list[str], timeout_s: float, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str] | None, float, str | None]:
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - started, f"timed out after {timeout_s:.0f} s"
    except OSError as exc:
        return None, time.perf_counter() - started, f"cannot start: {exc}"
    wall_s = time.perf_counter() - started
    if completed.returncode != 0:
        tail = (completed.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return completed, wall_s, f"exit {completed.returncode}: {tail[:200]}"
    return completed, wall_s, None


def run_report_tool(command: list[str], report: Path, timeout_s: float, cwd: Path | None = None, sample_uss: bool = False) -> Sample:
    """Run loadgen or fio with --output=REPORT, watched from outside, and read the
    fio-shaped JSON it wrote."""
    report.unlink(missing_ok=True)
    try:
        watch, stderr = run_watched(command, timeout_s, cwd, uss=sample_uss)
    except OSError as exc:
        return Sample(error=f"cannot start: {exc}", command=command)
    if watch.timed_out:
        return Sample(error=f"timed out after {timeout_s:.0f} s", command=command)
    if watch.returncode != 0:
        tail = (stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return Sample(error=f"exit {watch.returncode}: {tail[:200]}", command=command)
    try:
        metrics = metrics_from_fio_json(decode_report(report.read_text()))
    except (OSError, ValueError) as exc:
        return Sample(error=f"unreadable report: {exc}", command=command)
    release_epoch_ns = metrics.get("release_epoch_ns")
    # the report's release is wall-clock time; the watch runs on CLOCK_MONOTONIC
    release_ns = (release_epoch_ns - (time.time_ns() - time.monotonic_ns())
                  if release_epoch_ns is not None else None)
    metrics.update(watched_metrics(watch, release_ns))
    if metrics.get("uss_bytes") is None:
        metrics["uss_bytes"], metrics["uss_bytes_median"] = watch.uss_summary()
        metrics["uss_sampled"] = 1.0 if metrics["uss_bytes"] is not None else None
    else:
        metrics["uss_sampled"] = 0.0
    return Sample(metrics=metrics, command=command)


def watched_metrics(watch: Watch, release_ns: float | None) -> dict[str, float | None]:
    """Wall time, command start -> release, and the controller's CPU (whole life and steady).

    release_ns is the report's release on CLOCK_MONOTONIC; watch.start_ns was taken on that
    clock right before the command started, so their difference includes interpreter start,
    imports, parsing and forking: what a user waits for.
    """
    wall_s = (watch.cpu_samples[-1][0] - watch.start_ns) / 1e9 if watch.cpu_samples else None
    cpu_s = watch.controller_cpu_s()
    release = int(release_ns) if release_ns is not None else None
    return {
        "wall_s": wall_s,
        "release_s": (release - watch.start_ns) / 1e9 if release is not None else None,
        "controller_cpu_s": cpu_s,
        "controller_cpu_share_whole": cpu_s / wall_s if cpu_s is not None and wall_s else None,
        "controller_cpu_share": watch.steady_share(release if release is not None else watch.start_ns),
    }


def run_pflimit(binary: Path, args: list[str], timeout_s: float) -> Sample:
    command = [str(binary), *args]
    completed, wall_s, error = _run(command, timeout_s)
    if error or completed is None:
        return Sample(error=error, command=command)
    try:
        metrics = metrics_from_pflimit(completed.stdout)
    except ValueError as exc:
        return Sample(error=f"unreadable output: {exc}", command=command)
    metrics["wall_s"] = wall_s
    return Sample(metrics=metrics, command=command)
