"""A run saved exactly, so ``loadgen report`` renders it later in any format, byte for byte.

The fio-format reports round what they print (``%f`` floats, percentiles instead of
histograms, per-entry merges of numjobs clones), so they cannot be read back into the
``RunResult`` they came from.  This module writes the exact state beside them: the plan
(each job as its differences from the job before it, so numjobs clones cost a few bytes),
every job's totals (moments with their exact floats, sparse histograms) and the run's
facts.  It travels as one compact JSON string: under ``loadgen.saved`` in the JSON
report, and split over the JSON-lines records (``loadgen.state`` of ``run_start``,
``end``, ``group_end`` and ``run_end``), each record carrying its own part.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from enum import Enum
from itertools import compress
from typing import Any

import numpy as np
import orjson

from loadgen.errors import InputError
from loadgen.kernel.counters import Delta
from loadgen.kernel.sysinfo import RunHeader, header_from
from loadgen.plan import BsSplitEntry, Group, Job, Plan
from loadgen.results import GroupResult, JobResult, RunResult, SteadyStateResult
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import DirStats, IntervalStats, LatencyStat
from loadgen.stats.moments import Moments
from loadgen.status import Outcome, OutcomeKind

SAVED_VERSION = 1
_DUMPS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_JOB_FIELDS = dataclasses.fields(Job)
_JOB_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in _JOB_FIELDS if f.default is not dataclasses.MISSING
}
_JOB_NAMES = tuple(f.name for f in _JOB_FIELDS)
_job_values = operator.attrgetter(*_JOB_NAMES)
_NO_DEFAULT = object()


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=_DUMPS).decode()


# ---- jobs and the plan -----------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A job field as JSON data (tuples become lists, enums their value)."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _field_value(name: str, value: Any) -> Any:
    """A job field back from JSON data: the type its default has."""
    if name == "bssplit":
        return tuple(tuple(BsSplitEntry(**e) for e in side) for side in value)
    default = _JOB_DEFAULTS.get(name)
    if isinstance(default, Enum):
        return type(default)(value)
    if dataclasses.is_dataclass(default) and not isinstance(default, type) and isinstance(
            value, dict):  # a group of controls (rate, verify, buffers, mm)
        return dataclasses.replace(default, **{
            k: type(getattr(default, k))(v) if isinstance(getattr(default, k), Enum)
            else _tupled(v) for k, v in value.items() if hasattr(default, k)})
    return _tupled(value)


def jobs_doc(jobs: tuple[Job, ...] | list[Job]) -> list[dict[str, Any]]:
    """Each job as the fields that differ from the previous job (the first: from the defaults)."""
    out = []
    # a field without a default is always written for the first job (it never equals this)
    previous: tuple[Any, ...] = tuple(_JOB_DEFAULTS.get(n, _NO_DEFAULT) for n in _JOB_NAMES)
    for job in jobs:
        # compared as they are (frozen values) in one pass, made plain only where they
        # differ: a storm's jobs differ in a few fields of a hundred and fifty
        now: tuple[Any, ...] = _job_values(job)
        changed = compress(zip(_JOB_NAMES, now, strict=True), map(operator.ne, now, previous))
        out.append({k: _plain(v) for k, v in changed})
        previous = now
    return out


def jobs_from(doc: list[dict[str, Any]]) -> list[Job]:
    """The jobs of ``jobs_doc``; fields this version does not know are left out."""
    jobs: list[Job] = []
    names = {f.name for f in _JOB_FIELDS}
    for diff in doc:
        given = {k: _field_value(k, v) for k, v in diff.items() if k in names}
        jobs.append(dataclasses.replace(jobs[-1], **given) if jobs else Job(**given))
    return jobs


def plan_doc(plan: Plan) -> dict[str, Any]:
    return {
        "version": SAVED_VERSION,
        "files": list(plan.files),
        "global_options": [list(kv) for kv in plan.global_options],
        "jobs": jobs_doc(plan.jobs),
    }


def plan_from(doc: dict[str, Any]) -> Plan:
    jobs = jobs_from(doc["jobs"])
    groups: dict[int, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group_id, []).append(job)
    return Plan(groups=tuple(Group(gid, tuple(js)) for gid, js in sorted(groups.items())),
                global_options=tuple((str(k), str(v)) for k, v in doc["global_options"]),
                files=tuple(doc["files"]))


# ---- statistics ------------------------------------------------------------------------------
def _moments(m: Moments) -> list[Any]:
    return [m.n, m.mean, m.m2, m.min, m.max]


def _moments_from(v: list[Any]) -> Moments:
    return Moments(int(v[0]), float(v[1]), float(v[2]), int(v[3]), int(v[4]))


def _sparse(counts: np.ndarray) -> np.ndarray:
    """The non-zero (index, count) pairs of a 1-d count array, as rows that ``dumps``
    writes as ``[[i, c], ...]``: no Python object per pair (a storm saves thousands)."""
    (nz,) = counts.astype(bool).nonzero()  # numpy's nonzero is fastest on booleans
    pairs = np.empty((len(nz), 2), dtype=counts.dtype)
    pairs[:, 0] = nz
    pairs[:, 1] = counts.take(nz)
    return pairs


def _dense(pairs: list[list[int]], empty: np.ndarray) -> np.ndarray:
    for i, c in pairs:
        empty[i] = c
    return empty


def _latency(stat: LatencyStat) -> dict[str, Any]:
    return {"m": _moments(stat.moments), "h": _sparse(stat.hist)}


def _latency_from(doc: dict[str, Any]) -> LatencyStat:
    return LatencyStat(_moments_from(doc["m"]), _dense(doc["h"], histogram.empty()))


def _dir(d: DirStats) -> dict[str, Any]:
    return {"ios": d.ios, "bytes": d.bytes, "clat": _latency(d.clat), "lat": _latency(d.lat),
            "bw": _moments(d.bw_samples), "iops": _moments(d.iops_samples)}


def _dir_from(doc: dict[str, Any]) -> DirStats:
    return DirStats(int(doc["ios"]), int(doc["bytes"]), _latency_from(doc["clat"]),
                    _latency_from(doc["lat"]), _moments_from(doc["bw"]), _moments_from(doc["iops"]))


_SCALARS = ("thread_number", "t_start_ns", "t_end_ns", "runtime_ns", "minf", "majf", "ctx",
            "usr_ns", "sys_ns", "final", "interval_index", "first_op_ns", "overhead_ns",
            "anon_huge_bytes", "uss_bytes", "error", "error_text", "report_block_ns", "syncs")


def totals_doc(t: IntervalStats) -> dict[str, Any]:
    doc: dict[str, Any] = {k: getattr(t, k) for k in _SCALARS if hasattr(t, k)}
    doc["dirs"] = [_dir(d) for d in t.dirs]
    doc["latency_buckets"] = _sparse(t.latency_buckets)
    doc["sync"] = _latency(t.sync)
    return doc


def totals_from(doc: dict[str, Any]) -> IntervalStats:
    known = {f.name for f in dataclasses.fields(IntervalStats)}
    t = IntervalStats(**{k: v for k, v in doc.items() if k in _SCALARS and k in known})
    t.dirs = (_dir_from(doc["dirs"][0]), _dir_from(doc["dirs"][1]))
    t.latency_buckets = _dense(doc["latency_buckets"], latbuckets.empty())
    if "sync" in doc:
        t.sync = _latency_from(doc["sync"])
    return t


# ---- results ---------------------------------------------------------------------------------
def _outcome_doc(o: Outcome | None) -> dict[str, Any] | None:
    return None if o is None else {**dataclasses.asdict(o), "kind": o.kind.value}


def _outcome_from(doc: dict[str, Any] | None) -> Outcome | None:
    return None if doc is None else Outcome(**{**doc, "kind": OutcomeKind(doc["kind"])})


def job_result_doc(j: JobResult) -> dict[str, Any]:
    """Every reported fact of one worker (the controller-only ``ready_ns`` is not one)."""
    return {"thread_number": j.job.thread_number, "totals": totals_doc(j.totals), "pid": j.pid,
            "start_epoch_ms": j.start_epoch_ms, "end_epoch_ms": j.end_epoch_ms,
            "error": j.error, "error_text": j.error_text,
            "outcome": None if j.outcome is None else j.outcome.value,
            "last_end": _outcome_doc(j.last_end), "restarts": j.restarts, "kernel": j.kernel,
            "mm": j.mm,
            "steadystate": None if j.steadystate is None else dataclasses.asdict(j.steadystate)}


def job_result_from(
    doc: dict[str, Any], job: Job, group_kernel: Delta | None = None
) -> JobResult:
    """A saved job; one without a ``kernel`` key has its group's (``run_doc`` leaves out
    what every job of a group shares)."""
    outcome = doc.get("outcome")
    return JobResult(job=job, totals=totals_from(doc["totals"]), pid=int(doc["pid"]),
                     start_epoch_ms=int(doc["start_epoch_ms"]),
                     end_epoch_ms=int(doc["end_epoch_ms"]),
                     error=int(doc["error"]), error_text=str(doc["error_text"]),
                     outcome=None if outcome is None else OutcomeKind(outcome),
                     last_end=_outcome_from(doc.get("last_end")),
                     restarts=int(doc.get("restarts", 0)),
                     kernel=doc.get("kernel", group_kernel),
                     mm=doc.get("mm"),
                     steadystate=_steady_from(doc.get("steadystate")))


def _steady_from(doc: dict[str, Any] | None) -> SteadyStateResult | None:
    return None if doc is None else SteadyStateResult(**doc)


def group_doc(g: GroupResult) -> dict[str, Any]:
    """A group's own reported facts (its jobs are saved one by one)."""
    return {"id": g.id, "spawn_s": g.spawn_s, "start_skew_ns": g.start_skew_ns,
            "workers": g.workers, "fork_s": g.fork_s, "ready_epoch_ns": g.ready_epoch_ns,
            "release_epoch_ns": g.release_epoch_ns,
            "kernel": g.kernel}


def start_doc(plan: Plan, header: RunHeader) -> dict[str, Any]:
    """What is known when the run starts: the plan and the run header."""
    return {"version": SAVED_VERSION, "plan": plan_doc(plan), "header": header}


def run_facts(r: RunResult) -> dict[str, Any]:
    """The run's facts known at its end (the header and plan are known at its start)."""
    return {"run_id": r.run_id, "start_epoch_ns": r.start_epoch_ns, "end_epoch_ns": r.end_epoch_ns,
            "interrupted": r.interrupted, "output_failure": r.output_failure,
            "controller_cpu_s": r.controller_cpu_s, "controller_cpu_pct": r.controller_cpu_pct}


def run_doc(r: RunResult) -> dict[str, Any]:
    """The whole run in one document (what the JSON report carries as ``loadgen.saved``)."""
    return {"version": SAVED_VERSION, "plan": plan_doc(r.plan), "header": r.header, **run_facts(r),
            "groups": [{**group_doc(g), "jobs": [_in_group(job_result_doc(j), g) for j in g.jobs]}
                       for g in r.groups]}


def _in_group(doc: dict[str, Any], g: GroupResult) -> dict[str, Any]:
    """A job's document without the kernel counters it shares with its group (system-wide
    counters: the same for every job), which would repeat them once per job."""
    if g.kernel is not None and doc["kernel"] == g.kernel:
        del doc["kernel"]
    return doc


def assemble(plan: Plan, header: RunHeader, facts: dict[str, Any],
             groups: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> RunResult:
    """A ``RunResult`` from its saved parts: plan, header, run facts, (group, jobs) pairs."""
    by_thread = {j.thread_number: j for j in plan.jobs}
    result = RunResult(plan=plan, header=header, run_id=str(facts.get("run_id", "")),
                       start_epoch_ns=int(facts.get("start_epoch_ns", 0)),
                       end_epoch_ns=int(facts.get("end_epoch_ns", 0)),
                       interrupted=bool(facts.get("interrupted", False)),
                       output_failure=str(facts.get("output_failure", "")),
                       controller_cpu_s=float(facts.get("controller_cpu_s", 0.0)),
                       controller_cpu_pct=float(facts.get("controller_cpu_pct", 0.0)))
    for gdoc, jdocs in groups:
        group = GroupResult(id=int(gdoc["id"]), spawn_s=float(gdoc.get("spawn_s", 0.0)),
                            start_skew_ns=int(gdoc.get("start_skew_ns", 0)),
                            workers=int(gdoc.get("workers", 0)),
                            fork_s=float(gdoc.get("fork_s", 0.0)),
                            ready_epoch_ns=int(gdoc.get("ready_epoch_ns", 0)),
                            release_epoch_ns=int(gdoc.get("release_epoch_ns", 0)),
                            kernel=gdoc.get("kernel"))
        for jdoc in sorted(jdocs, key=lambda d: int(d["thread_number"])):
            job = by_thread.get(int(jdoc["thread_number"]))
            if job is None:
                raise InputError(f"saved job {jdoc['thread_number']} is not in the saved plan")
            group.jobs.append(job_result_from(jdoc, job, group.kernel))
        result.groups.append(group)
    return result


def final_report(text: str) -> dict[str, Any] | None:
    """The last fio JSON report in ``text``: with --status-interval the output holds one
    report per interval, then the final one (as fio's); None when there is none."""
    decoder = json.JSONDecoder()
    last: dict[str, Any] | None = None
    at = 0
    while (at := text.find("{", at)) >= 0:
        try:
            doc, end = decoder.raw_decode(text, at)
        except ValueError:
            return last  # not JSON from here on (a JSON-lines file, text)
        if isinstance(doc, dict) and "jobs" in doc:
            last = doc
        at = end
    return last


def run_from(doc: dict[str, Any]) -> RunResult:
    if doc.get("version") != SAVED_VERSION:
        raise InputError(f"saved run version {doc.get('version')!r} is not {SAVED_VERSION}")
    return assemble(plan_from(doc["plan"]), header_from(doc["header"]), doc,
                    [(g, g["jobs"]) for g in doc["groups"]])


def run_from_records(records: list[dict[str, Any]]) -> RunResult:
    """A run from its JSON-lines records (their ``loadgen.state`` parts).

    A stream cut short (no ``run_end``: the controller itself was killed) still gives
    the jobs that ended; a job without an ``end`` record is left out."""
    start = next((r for r in records if r.get("event.dataset") == "loadgen.run_start"), None)
    if start is None or "loadgen.state" not in start:
        raise InputError("no run_start record with loadgen.state (not a loadgen stream?)")
    first = orjson.loads(start["loadgen.state"])
    if first.get("version") != SAVED_VERSION:
        raise InputError(f"saved run version {first.get('version')!r} is not {SAVED_VERSION}")
    plan = plan_from(first["plan"])
    facts: dict[str, Any] = {"run_id": start.get("loadgen.run_id", ""),
                             "start_epoch_ns": start.get("loadgen.ts_ns", 0)}
    jobs: dict[int, list[dict[str, Any]]] = {}
    groups: dict[int, dict[str, Any]] = {}
    for record in records:
        dataset = record.get("event.dataset")
        if dataset == "loadgen.end":
            state = orjson.loads(record["loadgen.state"])
            jobs.setdefault(int(record["loadgen.group"]), []).append(state)
        elif dataset == "loadgen.group_end":
            groups[int(record["loadgen.group"])] = orjson.loads(record["loadgen.state"])
        elif dataset == "loadgen.run_end":
            facts = orjson.loads(record["loadgen.state"])
    ids = sorted(set(jobs) | set(groups))
    return assemble(plan, header_from(first["header"]), facts,
                    [(groups.get(gid, {"id": gid}), jobs.get(gid, [])) for gid in ids])
