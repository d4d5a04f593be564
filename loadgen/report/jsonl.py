"""The live JSON-lines stream (``--jsonl=PATH``): one flat JSON object per line.

Why this shape (docs/jsonl.md has the full field list): log shippers (Logstash,
Fluent Bit, Vector, Loki, OpenTelemetry) want one object per line, the same keys
and types on every line of a type, flat dotted keys, an RFC 3339 UTC ``@timestamp``
*and* an integer epoch; Vector fingerprints files by their first line, so line 1
(``run_start``) carries the run id and start time.  Numbers use fio's JSON names
(``write.io_bytes``, ``read.clat_ns.percentile.99.000000``) so fio users read them
without a glossary.  ``interval`` records carry per-interval *deltas*; ``end``
records carry a job's totals.

The single writer (the controller's aggregator) writes every line with one
``os.write`` (never buffered, so each line is out as soon as it is made, and lines
are never torn or interleaved).  ``SCHEMA`` is a JSON Schema (draft 2020-12 subset)
of every record type; ``validate`` checks a record against it without a dependency.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

import orjson

from loadgen.sinks import Sink, SinkError
from loadgen.stats import histogram
from loadgen.stats.jobstats import DirStats, IntervalStats
from loadgen.stats.moments import Moments

SCHEMA_VERSION = 1
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

# ---- schema --------------------------------------------------------------------------------
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_OPT_STR = {"type": ["string", "null"]}
_OPT_INT = {"type": ["integer", "null"]}

_COMMON: dict[str, Any] = {
    "type": _STR,
    "@timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"},
    "ts_ns": _INT,
    "elapsed_s": _NUM,
    "host.name": _STR,
    "run_id": _STR,
    "process.pid": _INT,
    "schema_version": _INT,
}
_JOB_ID: dict[str, Any] = {"group": _INT, "job": _STR, "thread_number": _INT, "subjob": _INT}


def _dir_props(d: str) -> dict[str, Any]:
    props = {f"{d}.{k}": _INT for k in ("total_ios", "io_bytes", "io_kbytes", "bw_bytes", "bw", "runtime")}
    props[f"{d}.iops"] = _NUM
    for lat in ("clat_ns", "lat_ns"):
        props.update({f"{d}.{lat}.{k}": _INT for k in ("min", "max", "N")})
        props.update({f"{d}.{lat}.{k}": _NUM for k in ("mean", "stddev")})
    return props


_METRICS: dict[str, Any] = {
    **_dir_props("read"),
    **_dir_props("write"),
    "minf": _INT,
    "majf": _INT,
    "ctx": _INT,
    "usr_cpu": _NUM,
    "sys_cpu": _NUM,
    "job_runtime": _INT,
}
_SUMS = {k: v for k, v in _METRICS.items() if "_ns." not in k}  # aggregates: no latency keys
_PERCENTILE_KEYS = {r"^(read|write)\.(clat|lat)_ns\.percentile\.\d+\.\d{6}$": _INT}
# system-wide kernel counter deltas: the set is fixed by the running kernel, so these
# keys are stable within a run (and across runs on one kernel)
_KERNEL_KEYS = {r"^vmstat\.[a-z0-9_]+$": _INT, r"^mthp\.\d+kB\.[a-z0-9_]+$": _INT}
# the run header (loadgen.kernel.sysinfo.run_header) flattened: header.cpu.model, header.thp.enabled, ...
_HEADER_KEYS = {r"^header\.[A-Za-z0-9_.]+$": {"type": ["string", "integer", "number", "boolean", "array"]}}
_HEADER_REQUIRED = {k: _STR for k in ("header.hostname", "header.kernel_release", "header.machine",
                                      "header.loadgen_version")}


def _record(type_name: str, props: dict[str, Any], optional: dict[str, Any] | None = None,
            patterns: dict[str, Any] | None = None) -> dict[str, Any]:
    required = {**_COMMON, **props}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**required, **(optional or {}), "type": {"const": type_name}},
        "required": sorted(required),
        "additionalProperties": False,
    }
    if patterns:
        schema["patternProperties"] = patterns
    return schema


# a worker's end (worker_died, worker_respawned, worker_exception; docs/reliability.md)
_DEATH: dict[str, Any] = {
    "outcome.kind": _STR, "outcome.signal": _INT, "outcome.exit_code": _INT,
    "outcome.oom_evidence": _STR, "outcome.traceback": _STR, "outcome.restarts": _INT,
    "total_ios": _INT, "io_bytes": _INT,
    "last_interval.t_end_ns": _INT, "last_interval.interval_ns": _INT,
    "last_interval.total_ios": _INT, "last_interval.io_bytes": _INT, "last_interval.minf": _INT,
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "loadgen JSON-lines record",
    "discriminator": "type",
    "oneOf": [
        _record("run_start", {
            "loadgen.version": _STR, "config.command_line": _STR, "config.files": {"type": "array"},
            "config.groups": _INT, "config.jobs": _INT, "config.status_interval_ns": _INT,
            "config.global_options": {"type": "object"}, "config.sections": {"type": "array"},
            **_HEADER_REQUIRED,
        }, patterns=_HEADER_KEYS),
        _record("start", {"group": _INT, "jobs": _INT, "workers": _INT, "spawn_s": _NUM}),
        _record("interval", {
            **_JOB_ID, **_METRICS, "interval_ns": _INT, "final": _BOOL, "loadgen.lag_ns": _INT,
        }, optional={"first_op_ns": _INT, "loadgen.report_block_ns": _INT}, patterns=_PERCENTILE_KEYS),
        _record("end", {
            **_JOB_ID, **_METRICS, "error": _INT, "error_text": _STR, "job_start": _INT,
            "loadgen.report_block_ns": _INT,
        }, patterns=_PERCENTILE_KEYS),
        _record("group_end", {
            "group": _INT, "jobs": _INT, "errors": _INT, "spawn_s": _NUM, "start_skew_ns": _INT, **_SUMS,
        }),
        _record("kernel", {"group": _OPT_INT, "interval_ns": _INT, "final": _BOOL, "scope": _STR},
                patterns=_KERNEL_KEYS),
        _record("event", {
            "group": _OPT_INT, "job": _OPT_STR, "thread_number": _OPT_INT, "subjob": _OPT_INT,
            "event.action": {"type": "string", "enum": [a.value for a in EventAction]},
            "log.level": _STR, "message": _STR, "error": _INT,
        }, optional=_DEATH),
        _record("run_end", {"exit_status": _INT, "interrupted": _BOOL, "duration_s": _NUM, "jobs": _INT,
                            "errors": _INT, **_SUMS}),
    ],
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "object": (dict,), "array": (list,),
}


def _type_ok(value: Any, spec: dict[str, Any]) -> bool:
    if "const" in spec:
        return bool(value == spec["const"])
    if "enum" in spec:
        return value in spec["enum"]
    names = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    for name in names:
        # bool is an int in Python, never in JSON
        if isinstance(value, _JSON_TYPES[name]) and not (isinstance(value, bool) and name in ("integer", "number")):
            if "pattern" in spec and not re.search(spec["pattern"], value):
                return False
            return True
    return False


def validate(record: dict[str, Any]) -> list[str]:
    """Problems of one record against ``SCHEMA`` (empty = valid)."""
    by_type = {s["properties"]["type"]["const"]: s for s in SCHEMA["oneOf"]}
    schema = by_type.get(record.get("type"))  # type: ignore[arg-type]
    if schema is None:
        return [f"unknown type {record.get('type')!r}"]
    problems = [f"missing {k}" for k in schema["required"] if k not in record]
    patterns = [(re.compile(p), spec) for p, spec in schema.get("patternProperties", {}).items()]
    for key, value in record.items():
        spec = schema["properties"].get(key)
        if spec is None:
            spec = next((s for rx, s in patterns if rx.search(key)), None)
        if spec is None:
            problems.append(f"unexpected key {key}")
        elif not _type_ok(value, spec):
            problems.append(f"{key}={value!r} does not match {spec}")
    return problems


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
                out[f"{name}.{kind}.percentile.{p:f}"] = v
    return out


def metrics(stats: IntervalStats, duration_ns: int, plist: Sequence[float] | None = histogram.DEFAULT_PERCENTILES,
            lat_plist: Sequence[float] | None = None) -> dict[str, Any]:
    """fio's JSON numbers of one delta or total, as flat dotted keys.

    ``duration_ns`` is the wall time the CPU percentages refer to; percentiles are
    left out where the list is None (fio's clat_percentiles/lat_percentiles).
    """
    runtime = stats.runtime_ns
    out: dict[str, Any] = {}
    for name, d in zip(DIRS, stats.dirs):
        out.update(_dir_fields(name, d, runtime, plist, lat_plist))
    out.update({
        "minf": stats.minf, "majf": stats.majf, "ctx": stats.ctx,
        "usr_cpu": 100.0 * stats.usr_ns / duration_ns if duration_ns else 0.0,
        "sys_cpu": 100.0 * stats.sys_ns / duration_ns if duration_ns else 0.0,
        "job_runtime": -(-runtime // 1_000_000),
    })
    return out


def kernel_fields(delta: dict[str, Any]) -> dict[str, Any]:
    """A ``loadgen.kernel.counters.delta`` as flat keys: ``vmstat.pgfault``, ``mthp.64kB.anon_fault_alloc``."""
    out: dict[str, Any] = {"scope": delta.get("scope", "system")}
    out.update({f"vmstat.{name}": value for name, value in delta.get("vmstat", {}).items()})
    for size, values in delta.get("mthp", {}).items():
        out.update({f"mthp.{size}.{name}": value for name, value in values.items()})
    return out


def header_fields(header: dict[str, Any], prefix: str = "header") -> dict[str, Any]:
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
    dt = datetime.fromtimestamp(epoch_ns // 1000 / 1e6, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonlWriter:
    """Writes records as whole lines to a file (or stdout for ``-``).

    The file is a ``Sink`` (reopened on SIGHUP, only whole lines, EPIPE and ENOSPC told
    apart).  A write that fails never raises into the caller (the event loop's
    callbacks): the failure is kept in ``failure``, ``on_failure`` is told once, and
    later records are dropped."""

    def __init__(self, path: str, run_id: str, host: str, start_epoch_ns: int, start_mono_ns: int) -> None:
        self.sink = Sink(path, f"--jsonl {path}", truncate=True).open()
        self.failure: SinkError | None = None
        self.on_failure: Callable[[SinkError], None] = lambda failure: None
        self.base = {"host.name": host, "run_id": run_id, "schema_version": SCHEMA_VERSION}
        self._epoch0 = start_epoch_ns
        self._mono0 = start_mono_ns

    def write(self, type_name: str, fields: dict[str, Any], pid: int | None = None) -> None:
        """One record: the common fields, then ``fields``; one write per line."""
        if self.failure is not None:
            return
        now_mono = time.monotonic_ns()
        ts = self._epoch0 + (now_mono - self._mono0)  # one clock for ts_ns and elapsed_s
        record = {
            "type": type_name,
            "@timestamp": rfc3339(ts),
            "ts_ns": ts,
            "elapsed_s": (now_mono - self._mono0) / 1e9,
            **self.base,
            "process.pid": os.getpid() if pid is None else pid,
            **fields,
        }
        try:
            self.sink.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        except SinkError as failure:
            self.failure = failure
            self.on_failure(failure)

    def close(self) -> None:
        self.sink.close()
