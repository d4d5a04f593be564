"""``--prometheus``: the OpenMetrics file, read back with the client library's own parsers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from loadgen.plan import Job
from loadgen.report import prometheus, saved
from loadgen.results import JobResult
from tests.report.timed_run import timed_run


def _job() -> JobResult:
    result = JobResult(job=Job(name="pf", thread_number=3, subjob=0, numjobs=1, group_id=1))
    t = result.totals
    t.dirs[1].ios, t.dirs[1].bytes, t.minf, t.majf, t.sys_ns = 4, 16384, 7, 1, 2_000_000_000
    t.dirs[1].clat.add_batch(np.array([200, 300, 2000, 3_000_000], dtype=np.uint64))
    return result


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_parse_with_prometheus_names_and_a_latency_histogram() -> None:
    text = prometheus.render([_job()]).decode()
    assert text.endswith("# EOF\n")
    samples = _samples(text)
    ident = {"job": "pf", "thread_number": "3", "group": "1"}
    assert (
        samples[("loadgen_io_ops_total", frozenset({**ident, "direction": "write"}.items()))] == 4
    )
    assert (
        samples[("loadgen_io_bytes_total", frozenset({**ident, "direction": "write"}.items()))]
        == 16384
    )
    assert samples[("loadgen_faults_total", frozenset({**ident, "kind": "minor"}.items()))] == 7
    assert (
        samples[("loadgen_cpu_seconds_total", frozenset({**ident, "mode": "system"}.items()))]
        == 2.0
    )
    lat = {
        dict(k)["le"]: v
        for (name, k), v in samples.items()
        if name == "loadgen_clat_seconds_bucket" and dict(k)["direction"] == "write"
    }
    assert lat["2.5e-07"] == 1 and lat["5e-07"] == 2 and lat["2.5e-06"] == 3 and lat["+Inf"] == 4
    assert lat["0.001"] == 3 and lat["0.005"] == 4  # 3 ms lands between 2.5 and 5 ms
    count = samples[
        ("loadgen_clat_seconds_count", frozenset({**ident, "direction": "write"}.items()))
    ]
    assert count == 4


def test_a_run_writes_the_file_atomically_and_it_matches_the_report(tmp_path: Path) -> None:
    metrics, report = tmp_path / "loadgen.prom", tmp_path / "r.json"
    timed_run(2, "400ms", f"--prometheus={metrics}", "--output-format=json", f"--output={report}")
    samples = _samples(metrics.read_text())
    for job in saved.final_report(report.read_text())["jobs"]:
        tn = str(job["loadgen"]["thread_numbers"][0])
        ident = frozenset(
            {"job": "pf", "thread_number": tn, "group": "0", "direction": "write"}.items()
        )
        assert samples[("loadgen_io_ops_total", ident)] == job["write"]["total_ios"] > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_an_unwritable_directory_is_bad_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadgen",
            "run",
            "--name=pf",
            "--size=1m",
            f"--prometheus={tmp_path}/missing/x.prom",
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1
