"""``--prometheus=FILE``: each job's counters in the OpenMetrics text format, for dashboards.

Rewritten at every status interval and once at the end, atomically (a temporary file in
the same directory, then ``rename``), so node_exporter's textfile collector or any
scraper never reads half a file.  Names follow Prometheus conventions: counters end in
``_total``, units are base units (bytes, seconds), latency is a histogram whose buckets
come from fio's latency histogram.  The text is made by the official client library.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from loadgen.errors import InputError
from loadgen.results import JobResult
from loadgen.stats import histogram

DIRECTIONS = ("read", "write")
# histogram bucket bounds: 250 ns, 500 ns, 1 us, 2.5 us ... 1 s (1-2.5-5 steps per decade)
BOUNDS_NS = tuple(m * 10**e for e in range(2, 9) for m in (2.5, 5, 10) if m * 10**e >= 250)
_BOUNDS = np.array(BOUNDS_NS, dtype=np.int64)


def _buckets(hist: np.ndarray) -> list[tuple[str, float]]:
    """Cumulative counts at each bound (a bucket's representative value within the bound)."""
    values = histogram.BUCKET_VALUES.astype(np.int64)
    counts = [float(hist[values <= bound].sum()) for bound in _BOUNDS]
    return [*((f"{b / 1e9:g}", c) for b, c in zip(BOUNDS_NS, counts, strict=True)),
            ("+Inf", float(hist.sum()))]


class _Jobs(Collector):
    def __init__(self, jobs: Iterable[JobResult]) -> None:
        self.jobs = list(jobs)

    def collect(self) -> Iterator[Metric]:
        labels = ["job", "thread_number", "group"]
        ops = CounterMetricFamily("loadgen_io_ops", "I/Os (memcpy blocks) done",
                                  labels=[*labels, "direction"])
        nbytes = CounterMetricFamily("loadgen_io_bytes", "bytes copied",
                                     labels=[*labels, "direction"])
        faults = CounterMetricFamily("loadgen_faults", "page faults of the worker (getrusage)",
                                     labels=[*labels, "kind"])
        cpu = CounterMetricFamily("loadgen_cpu_seconds", "CPU time of the worker",
                                  labels=[*labels, "mode"])
        clat = HistogramMetricFamily("loadgen_clat_seconds", "completion latency of one I/O",
                                     labels=[*labels, "direction"])
        for result in self.jobs:
            t, job = result.totals, result.job
            ident = [job.name, str(job.thread_number), str(job.group_id)]
            for name, d in zip(DIRECTIONS, t.dirs, strict=True):
                ops.add_metric([*ident, name], float(d.ios))
                nbytes.add_metric([*ident, name], float(d.bytes))
                m = d.clat.moments
                clat.add_metric([*ident, name], _buckets(d.clat.hist), m.mean * m.n / 1e9)
            faults.add_metric([*ident, "minor"], float(t.minf))
            faults.add_metric([*ident, "major"], float(t.majf))
            cpu.add_metric([*ident, "user"], t.usr_ns / 1e9)
            cpu.add_metric([*ident, "system"], t.sys_ns / 1e9)
        yield from (ops, nbytes, faults, cpu, clat)


def render(jobs: Iterable[JobResult]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Jobs(jobs))
    text = generate_latest(registry)  # type: ignore[no-untyped-call]  # the client ships no hints here
    return bytes(text)


class PrometheusFile:
    """The ``--prometheus`` file; a path whose directory is missing is bad input."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir() or not os.access(self.path.parent, os.W_OK):
            raise InputError(f"--prometheus: cannot write in {self.path.parent}")
        self.failure = ""

    def write(self, jobs: Iterable[JobResult]) -> None:
        """Replace the file with the counters now; a failure is kept, never raised mid-run."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(render(jobs))
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            self.failure = f"--prometheus {self.path}: {exc.strerror}"
