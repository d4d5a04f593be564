"""Sets of saved runs, and the per-job numbers ``loadgen compare`` compares.

A set is one argument of ``loadgen compare``: a JSON report, a JSON-lines file, a
comma-separated list of them, or a directory of them (``*.json``, ``*.jsonl``).  Every
run becomes an fio JSON document (a JSON-lines file is re-rendered from its saved state),
so fio's own JSON reports can be compared too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import InputError
from loadgen.kernel.sysinfo import RunHeader, header_from
from loadgen.report import saved
from loadgen.report.fiojson import render_json


@dataclass(frozen=True)
class Metric:
    """One compared quantity: its unit, whether it is a rate, and which way is better."""

    name: str
    unit: str
    rate: bool  # summarised by the harmonic mean (mmtests' rule for throughputs)
    better: str  # "higher", "lower" or "" (neither: a change is reported, never a regression)


METRICS = (
    Metric("iops", "ops/s", True, "higher"),
    Metric("bw", "B/s", True, "higher"),
    Metric("faults_per_s", "faults/s", True, "higher"),
    Metric("clat_p50", "ns", False, "lower"),
    Metric("clat_p99", "ns", False, "lower"),
    Metric("clat_p99.9", "ns", False, "lower"),
    Metric("thp_fault_alloc", "faults", False, ""),
    Metric("sys_cpu", "%", False, "lower"),
)
_PERCENTILES = {"clat_p50": "50.000000", "clat_p99": "99.000000", "clat_p99.9": "99.900000"}


@dataclass
class Run:
    """One run: where it came from, its run header, and per job its metric values."""

    path: str
    header: RunHeader
    jobs: dict[str, dict[str, float]] = field(default_factory=dict)


def _read_document(path: Path) -> dict[str, Any]:
    """The fio JSON document of a saved run (a report, or a JSON-lines stream)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    doc = saved.final_report(text)
    if doc is not None:
        return doc
    try:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise InputError(f"{path}: neither a JSON report nor JSON lines") from None
    loaded: dict[str, Any] = json.loads(render_json(saved.run_from_records(records)))
    return loaded


def _job_values(job: dict[str, Any]) -> dict[str, float]:
    read, write = job.get("read", {}), job.get("write", {})
    main = write if write.get("total_ios", 0) >= read.get("total_ios", 0) else read
    values = {
        "iops": float(read.get("iops", 0.0)) + float(write.get("iops", 0.0)),
        "bw": float(read.get("bw_bytes", 0)) + float(write.get("bw_bytes", 0)),
        "sys_cpu": float(job.get("sys_cpu", 0.0)),
    }
    runtime_s = float(job.get("job_runtime", 0)) / 1000.0
    if runtime_s > 0:
        values["faults_per_s"] = float(job.get("minf", 0)) / runtime_s
    percentiles = main.get("clat_ns", {}).get("percentile", {})
    for name, key in _PERCENTILES.items():
        if key in percentiles:
            values[name] = float(percentiles[key])
    thp = job.get("loadgen", {}).get("kernel", {}).get("vmstat", {}).get("thp_fault_alloc")
    if thp is not None:
        values["thp_fault_alloc"] = float(thp)
    return values


def _merge(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Two report entries of one job (numjobs clones): rates add, the rest is averaged."""
    rates = {m.name for m in METRICS if m.rate}
    out = dict(a)
    for key, value in b.items():
        if key == "thp_fault_alloc":  # system-wide: the same for every entry
            out.setdefault(key, value)
        elif key in rates:
            out[key] = out.get(key, 0.0) + value
        else:
            out[key] = (out[key] + value) / 2 if key in out else value
    return out


def load_run(path: Path) -> Run:
    try:
        doc = _read_document(path)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from exc
    run = Run(str(path), header_from(doc.get("loadgen", {}).get("header", {})))
    for job in doc["jobs"]:
        key = f"{job.get('jobname', '?')} (g={job.get('groupid', 0)})"
        values = _job_values(job)
        run.jobs[key] = _merge(run.jobs[key], values) if key in run.jobs else values
    return run


def expand(argument: str) -> list[Path]:
    """The files one set argument names, in a stable order."""
    paths: list[Path] = []
    for part in (p for p in argument.split(",") if p):
        path = Path(part)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
            if not found:
                raise InputError(f"{path}: no *.json or *.jsonl runs in this directory")
            paths += found
        elif path.exists():
            paths.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    if not paths:
        raise InputError(f"{argument!r}: names no runs")
    return paths


def load_set(argument: str) -> list[Run]:
    return [load_run(p) for p in expand(argument)]


def header_facts(header: RunHeader) -> dict[str, Any]:
    """What must match between runs for a comparison to mean what it says."""
    thp = header.get("thp", {})
    cpu = header.get("cpu", {})
    files = header.get("job_files", [])
    return {
        "kernel": header.get("kernel_release"),
        "THP": (thp.get("enabled"), thp.get("defrag"),
                tuple(sorted(thp.get("mthp_enabled", {}).items()))),
        "CPU count": (cpu.get("count"), cpu.get("usable")),
        "job-file checksum": tuple(sorted(str(f.get("sha256")) for f in files)),
    }
