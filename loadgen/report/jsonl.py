"""The live JSON-lines stream (``--jsonl=PATH``): one flat JSON object per line.

Why this shape (docs/jsonl.md has the full field list and the schema's changelog): log
shippers (Logstash, Fluent Bit, Vector, Loki, OpenTelemetry) and Elasticsearch want one
object per line, the same keys and types on every line of a type, flat dotted keys,
Elastic Common Schema names where ECS has one (``@timestamp``, ``event.kind``,
``event.dataset``, ``host.name``, ``process.pid``, ...) and everything else under one
custom namespace, ``loadgen.*``, so no field clashes with ECS or with Logstash's
``type``.  Numbers keep fio's JSON names (``loadgen.write.io_bytes``); percentile keys
are ``p99``, ``p99_9`` (never ``99.000000``, which Elasticsearch would split into
nested objects).  ``interval`` records carry per-interval *deltas* on the run-wide
interval grid; ``end`` records carry a job's totals.

The code builds records with short keys (``group``, ``write.io_bytes``); ``stream_key``
maps them to their stream names in one place.  ``schema.json`` in this package is the
JSON Schema of every record (``loadgen schema`` prints it); ``validate`` checks one
record against it without a dependency.

The single writer (the controller's aggregator) writes every line with one
``os.write`` (never buffered, so each line is out as soon as it is made, and lines
are never torn or interleaved).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Any

import orjson

from loadgen.kernel import counters
from loadgen.sinks import Sink, SinkError
from loadgen.stats import histogram
from loadgen.stats.jobstats import DirStats, IntervalStats
from loadgen.stats.moments import Moments

# Changes whenever a field is added, removed, renamed or retyped (docs/jsonl.md changelog).
SCHEMA_VERSION = 2
ECS_VERSION = "8.11.0"
DIRS = ("read", "write")


class EventAction(StrEnum):
    """Every ``event.action`` of an ``event`` record (docs/jsonl.md lists each)."""

    JOB_ERROR = "job_error"  # a job's setup or run failed
    WORKER_DIED = "worker_died"  # a worker process ended before finishing its job
    WORKER_EXCEPTION = "worker_exception"  # a Python exception in a worker
    WORKER_RESPAWNED = "worker_respawned"  # oom_policy=respawn replaced an OOM-killed worker
    WORKER_STOPPED = "worker_stopped"  # SIGKILLed after the stop grace period
    SPAWN_FAILED = "spawn_failed"  # the fork was refused
    HELPER_DIED = "helper_died"  # the fork helper exited
    # the run is being stopped, and why (Supervisor.stop_reason)
    SIGNAL = "signal"  # SIGINT/SIGTERM
    ABORT = "abort"  # oom_policy=abort
    OUTPUT = "output"  # an output failed (or a SIGUSR1 report could not be written)
    HELPER = "helper"  # the fork helper exited (after helper_died)
    REOPEN = "reopen"  # SIGHUP: the output files were reopened (or one could not be)
    SETUP_FAILED = "setup_failed"  # the group's memory controls could not be set up (memctl)
    EXITALL = "exitall"  # exitall: a job ended and the jobs exit_what names are stopped
    PLACEMENT = "placement"  # nice/prio/cgroup/CPU nodes could not be set on a worker
    STEADYSTATE = "steadystate"  # steadystate= was attained: the job (or its group) stops
    VERIFY_FAILED = "verify_failed"  # verify found bad data (the job fails, EILSEQ)
    # fleet runs (loadgen.fleet): a host's controller, seen from the client
    HOST_DIED = "host_died"  # its Dask worker died mid-run
    HOST_FAILED = "host_failed"  # its controller ended with a failure
    MISSED_BARRIER = "missed_barrier"  # it never reached the barrier in time


# ECS event.kind of each record type (event.dataset is "loadgen.<type>")
KINDS = {"run_start": "event", "start": "event", "interval": "metric", "kernel": "metric",
         "end": "metric", "group_end": "metric", "event": "event", "run_end": "event"}
# the ECS fields loadgen fills; every other key is loadgen's own and goes under loadgen.*
ECS_KEYS = frozenset({
    "@timestamp", "ecs.version", "event.kind", "event.dataset", "event.action", "event.sequence",
    "event.start", "event.end", "event.duration", "host.name", "process.pid", "log.level",
    "message", "error.message",
})
# short keys whose meaning is an ECS field: fio's error_text, a measured duration in ns
_RENAMES = {"error_text": "error.message", "interval_ns": "event.duration"}


@functools.lru_cache(maxsize=4096)
def stream_key(key: str) -> str:
    """The stream's name of a record key: an ECS name, or the key under ``loadgen.``."""
    key = _RENAMES.get(key, key)
    return key if key in ECS_KEYS or key.startswith("loadgen.") else "loadgen." + key


def percentile_key(p: float) -> str:
    """``p99``, ``p99_9``, ``p99_99``: no dot, so a search engine never splits it."""
    return "p" + f"{p:.6f}".rstrip("0").rstrip(".").replace(".", "_")


# ---- schema --------------------------------------------------------------------------------
@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of every record, as shipped in ``loadgen/report/schema.json``."""
    text = resources.files("loadgen.report").joinpath("schema.json").read_bytes()
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


def schema_text() -> str:
    return resources.files("loadgen.report").joinpath("schema.json").read_text(encoding="utf-8")


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "object": (dict,), "array": (list,),
}


def _type_ok(value: Any, spec: dict[str, Any]) -> bool:
    if "const" in spec:
        return bool(value == spec["const"]) and type(value) is type(spec["const"])
    if "enum" in spec:
        return value in spec["enum"]
    names = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    for name in names:
        # bool is an int in Python, never in JSON
        numeric = name in ("integer", "number")
        if isinstance(value, _JSON_TYPES[name]) and not (isinstance(value, bool) and numeric):
            return "pattern" not in spec or bool(re.search(spec["pattern"], str(value)))
    return False


def validate(record: dict[str, Any]) -> list[str]:
    """Problems of one record against the shipped schema (empty = valid), without a dependency."""
    by_dataset = {s["properties"]["event.dataset"]["const"]: s for s in schema()["oneOf"]}
    spec_of = by_dataset.get(str(record.get("event.dataset")))
    if spec_of is None:
        return [f"unknown event.dataset {record.get('event.dataset')!r}"]
    problems = [f"missing {k}" for k in spec_of["required"] if k not in record]
    patterns = [(re.compile(p), spec) for p, spec in spec_of.get("patternProperties", {}).items()]
    for key, value in record.items():
        spec = spec_of["properties"].get(key)
        if spec is None:
            spec = next((s for rx, s in patterns if rx.search(key)), None)
        if spec is None:
            problems.append(f"unexpected key {key}")
        elif not _type_ok(value, spec):
            problems.append(f"{key}={value!r} does not match {spec}")
    return problems


_DUMPS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


# ---- fio-named metrics -------------------------------------------------------------------------
def _lat_fields(prefix: str, m: Moments) -> dict[str, Any]:
    return {f"{prefix}.min": m.min, f"{prefix}.max": m.max, f"{prefix}.mean": m.mean,
            f"{prefix}.stddev": m.stddev, f"{prefix}.N": m.n}


def _dir_fields(name: str, d: DirStats, runtime_ns: int, plist: Sequence[float] | None,
                lat_plist: Sequence[float] | None) -> dict[str, Any]:
    """One direction in fio's names; bw and iops over ``runtime_ns`` (ns-exact, not ms-rounded)."""
    out: dict[str, Any] = {
        f"{name}.total_ios": d.ios,
        f"{name}.io_bytes": d.bytes,
        f"{name}.io_kbytes": d.bytes >> 10,
        f"{name}.bw_bytes": d.bytes * 1_000_000_000 // runtime_ns if runtime_ns else 0,
        f"{name}.bw": (d.bytes * 1_000_000_000 // runtime_ns >> 10) if runtime_ns else 0,
        f"{name}.iops": d.ios * 1e9 / runtime_ns if runtime_ns else 0.0,
        f"{name}.runtime": -(-runtime_ns // 1_000_000) if d.ios else 0,
    }
    out.update(_lat_fields(f"{name}.clat_ns", d.clat.moments))
    out.update(_lat_fields(f"{name}.lat_ns", d.lat.moments))
    for kind, lat, wanted in (("clat_ns", d.clat, plist), ("lat_ns", d.lat, lat_plist)):
        if wanted is not None and lat.moments.n:
            for p, v in histogram.percentiles(lat.hist, wanted).items():
                out[f"{name}.{kind}.percentile.{percentile_key(p)}"] = v
    return out


def metrics(stats: IntervalStats, duration_ns: int,
            plist: Sequence[float] | None = histogram.DEFAULT_PERCENTILES,
            lat_plist: Sequence[float] | None = None) -> dict[str, Any]:
    """fio's JSON numbers of one delta or total, as flat dotted keys.

    ``duration_ns`` is the wall time the CPU percentages refer to; percentiles are
    left out where the list is None (fio's clat_percentiles/lat_percentiles).
    """
    runtime = stats.runtime_ns
    out: dict[str, Any] = {}
    for name, d in zip(DIRS, stats.dirs, strict=True):
        out.update(_dir_fields(name, d, runtime, plist, lat_plist))
    out.update({
        "minf": stats.minf, "majf": stats.majf, "ctx": stats.ctx,
        "usr_cpu": 100.0 * stats.usr_ns / duration_ns if duration_ns else 0.0,
        "sys_cpu": 100.0 * stats.sys_ns / duration_ns if duration_ns else 0.0,
        "job_runtime": -(-runtime // 1_000_000),
    })
    return out


def kernel_fields(delta: counters.Delta) -> dict[str, Any]:
    """A ``loadgen.kernel.counters.delta`` as flat keys (``vmstat.pgfault``,
    ``mthp.64kB.anon_fault_alloc``)."""
    out: dict[str, Any] = {"scope": delta["scope"]}
    out.update({f"vmstat.{name}": value for name, value in delta["vmstat"].items()})
    for size, values in delta["mthp"].items():
        out.update({f"mthp.{size}.{name}": value for name, value in values.items()})
    return out


def header_fields(header: Mapping[str, object], prefix: str = "header") -> dict[str, Any]:
    """The run header as flat dotted keys (``header.thp.mthp_enabled.64kB``); lists stay arrays."""
    out: dict[str, Any] = {}
    for key, value in header.items():
        if isinstance(value, dict):
            out.update(header_fields(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = value
    return out


# ---- the writer -------------------------------------------------------------------------------
def rfc3339(epoch_ns: int) -> str:
    """UTC with microseconds and a Z (a zone-less time is read as local by some shippers)."""
    dt = datetime.fromtimestamp(epoch_ns // 1_000_000_000, tz=UTC)
    return dt.replace(microsecond=epoch_ns // 1000 % 1_000_000).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stream_base(host: str, run_id: str) -> dict[str, Any]:
    """The fields every record of one run's stream carries."""
    return {"ecs.version": ECS_VERSION, "host.name": host, "loadgen.run_id": run_id,
            "loadgen.schema_version": SCHEMA_VERSION}


def stream_record(type_name: str, fields: dict[str, Any], base: dict[str, Any], ts_ns: int,
                  elapsed_s: float, pid: int) -> dict[str, Any]:
    """One record as the stream writes it: ECS names first, then ``fields`` renamed by
    ``stream_key``; ``ts_ns`` is the wall clock, ``elapsed_s`` since the run started."""
    record: dict[str, Any] = {
        "event.dataset": f"loadgen.{type_name}",
        "event.kind": KINDS[type_name],
        "@timestamp": rfc3339(ts_ns),
        **base,
        "process.pid": pid,
        "loadgen.ts_ns": ts_ns,
        "loadgen.elapsed_s": elapsed_s,
    }
    for key, value in fields.items():
        record[stream_key(key)] = value
    return record


class JsonlWriter:
    """Writes records as whole lines to a file (or stdout for ``-``).

    The file is a ``Sink`` (reopened on SIGHUP, only whole lines, EPIPE and ENOSPC told
    apart).  A write that fails never raises into the caller (the event loop's
    callbacks): the failure is kept in ``failure``, ``on_failure`` is told once, and
    later records are dropped."""

    def __init__(self, path: str, run_id: str, host: str, start_epoch_ns: int,
                 start_mono_ns: int) -> None:
        self.sink = Sink(path, f"--jsonl {path}", truncate=True).open()
        self.failure: SinkError | None = None
        self.on_failure: Callable[[SinkError], None] = lambda failure: None
        self.base = stream_base(host, run_id)
        self._epoch0 = start_epoch_ns
        self._mono0 = start_mono_ns

    def write(self, type_name: str, fields: dict[str, Any], pid: int | None = None) -> None:
        """One record: the common fields, then ``fields`` under their stream names; one write."""
        if self.failure is not None:
            return
        now_mono = time.monotonic_ns()
        ts = self._epoch0 + (now_mono - self._mono0)  # one clock for @timestamp, ts_ns, elapsed_s
        record = stream_record(type_name, fields, self.base, ts, (now_mono - self._mono0) / 1e9,
                               os.getpid() if pid is None else pid)
        try:
            self.sink.write(orjson.dumps(record, option=_DUMPS))
        except SinkError as failure:
            self.failure = failure
            self.on_failure(failure)

    def close(self) -> None:
        self.sink.close()
