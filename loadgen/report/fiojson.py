"""fio's ``--output-format=json`` and ``json+``, key for key and byte for byte in layout.

fio's json.c prints ``"key" : value`` with two-space indentation, integers with
``%lld`` and floats with ``%f``; scripts written against fio's output (and plain
``diff``) see the same text from loadgen.  Types matter too: a consumer that reads
``iops`` as a float or ``bw`` as an int must get exactly that.  Entries, merging and
rates come from ``entries``; this module only lays them out.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import orjson

from loadgen import __version__
from loadgen.plan import READ, WRITE, SsMetric, SteadyState
from loadgen.report import saved
from loadgen.report.entries import (
    DirEntry,
    Entry,
    GroupRunStats,
    build_entries,
    bw_agg_percent,
    group_run_stats,
)
from loadgen.results import RunResult, SteadyStateResult
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import LatencyStat

ETA_UNKNOWN = 2147483647  # what fio prints as "eta" once the run is over
DEPTH_KEYS = ("1", "2", "4", "8", "16", "32", ">=64")
SUBMIT_KEYS = ("0", "4", "8", "16", "32", "64", ">=64")


class Pairs(list[tuple[str, Any]]):
    """A JSON object that keeps order and duplicate keys (fio's option maps can repeat a key)."""


def version_string() -> str:
    return f"loadgen-{__version__}"


_PLAIN = re.compile(r'[^\\"\x00-\x1f]*')
_CONTROL = re.compile(r"[\x00-\x1f]")
_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"'} | {c: f"\\u{c:04x}" for c in range(0x20)}


@functools.lru_cache(maxsize=1 << 16)
def _quote(text: str) -> str:
    """fio escapes backslash and quote; control characters are escaped too, to stay valid JSON."""
    if _PLAIN.fullmatch(text):
        return '"' + text + '"'
    if not _CONTROL.search(text):  # then orjson escapes exactly these two, and fast (the
        with contextlib.suppress(orjson.JSONEncodeError):  # saved run: megabytes of JSON)
            return orjson.dumps(text).decode()
    return '"' + text.translate(_ESCAPES) + '"'  # (and a lone surrogate, which orjson refuses)


def dumps(value: Any, level: int = 0, memo: dict[tuple[int, int], str] | None = None) -> str:
    """Serialise like fio's json.c: ``level`` is the nesting level of ``value`` itself.

    ``memo`` renders an object that the document holds many times (a group's kernel
    counters in each of its jobs) once per level; it is keyed by ``id``, so it must not
    outlive the document being rendered."""
    out: list[str] = []
    _emit(value, level, out, {} if memo is None else memo)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _newline(level: int) -> str:
    """A line break and the indentation of ``level``."""
    return "\n" + "  " * level


@functools.lru_cache(maxsize=1 << 12)
def _member(key: str) -> str:
    """A key as its member starts, ``"key" : ``."""
    return _quote(key) + " : "


def _emit(value: Any, level: int, out: list[str], memo: dict[tuple[int, int], str]) -> None:
    """``value`` appended to ``out``: the exact types first, they are nearly all of a report."""
    kind = type(value)
    if kind is int:
        out.append(str(value))
    elif kind is float:
        out.append(f"{value:f}")
    elif kind is str:
        out.append(_quote(value))
    elif kind is dict or kind is Pairs or kind is MappingProxyType:
        out.append(_object(value, level, memo))
    elif kind is list or kind is tuple:
        out.append(_array(value, level, memo))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(f"{value:f}")
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, (dict, Pairs, MappingProxyType)):
        out.append(_object(value, level, memo))
    elif isinstance(value, (list, tuple)):
        out.append(_array(value, level, memo))
    elif isinstance(value, np.ndarray):
        _emit(value.tolist(), level, out, memo)
    elif isinstance(value, np.generic):
        _emit(value.item(), level, out, memo)
    else:
        raise TypeError(f"cannot serialise {type(value).__name__} in a fio JSON report")


def _text(value: Any, level: int, memo: dict[tuple[int, int], str]) -> str:
    """One value as text: ints, floats and strings inline, anything else through ``_emit``."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        return f"{value:f}"
    if kind is str:
        return _quote(value)
    if kind is dict or kind is Pairs or kind is MappingProxyType:
        return _object(value, level, memo)
    out: list[str] = []
    _emit(value, level, out, memo)
    return "".join(out)


_LAYOUT_MAX = 64  # members: a report's fixed shapes are smaller, its data-keyed maps larger


@functools.lru_cache(maxsize=1 << 10)
def _layout(keys: tuple[Any, ...], types: tuple[type, ...], level: int
            ) -> tuple[str, tuple[int, ...]] | None:
    """A ``%`` template of an object with these keys at ``level``, and the members that are
    not ints or floats (rendered first, then filled in as ``%s``).  ``types``: the keys'
    types, then the values'.

    A report holds a few shapes (a direction, a latency, a percentile list) hundreds of
    times, so filling a template replaces a format call per member with one per object.
    ``%d`` and ``%f`` give ``str`` and ``format(v, "f")`` exactly.  None where a key is not
    a plain string: its text is ``str(key)``, which need not be the text of the string it
    equals."""
    if any(t is not str for t in types[:len(keys)]):
        return None
    types = types[len(keys):]
    slots = ["%d" if t is int else "%f" if t is float else "%s" for t in types]
    inner = _newline(level + 1)
    text = ("{" + inner + ("," + inner).join(
        _member(k).replace("%", "%%") + slot for k, slot in zip(keys, slots, strict=True))
        + _newline(level) + "}")
    return text, tuple(i for i, t in enumerate(types) if t is not int and t is not float)


def _object(value: Mapping[Any, Any] | Pairs, level: int, memo: dict[tuple[int, int], str]
            ) -> str:
    """One object, rendered once per document and level (``dumps``'s memo)."""
    key = (id(value), level)
    done = memo.get(key)
    if done is not None:
        return done
    keys: tuple[Any, ...]
    values: tuple[Any, ...]
    if isinstance(value, Pairs):
        keys, values = tuple(zip(*value, strict=True)) if value else ((), ())
    else:
        keys, values = tuple(value), tuple(value.values())
    layout = _layout(keys, tuple(map(type, keys + values)), level) \
        if 0 < len(keys) <= _LAYOUT_MAX else None
    if layout is not None:
        text, nested = layout
        if nested:
            filled = list(values)
            for i in nested:
                filled[i] = _text(filled[i], level + 1, memo)
            values = tuple(filled)
        done = text % values
    elif keys:
        inner = _newline(level + 1)
        done = "{" + inner + ("," + inner).join([
            _member(k if type(k) is str else str(k)) + _text(v, level + 1, memo)
            for k, v in zip(keys, values, strict=True)]) + _newline(level) + "}"
    else:
        done = "{\n" + _newline(level) + "}"
    memo[key] = done
    return done


def _array(value: list[Any] | tuple[Any, ...], level: int, memo: dict[tuple[int, int], str]
           ) -> str:
    """One array, one string per item joined once."""
    if not value:
        return "[\n" + _newline(level) + "]"
    inner = _newline(level + 1)
    return ("[" + inner + ("," + inner).join([_text(v, level + 1, memo) for v in value])
            + _newline(level) + "]")


def lat_object(
    stat: LatencyStat, percentiles: bool, plist: tuple[float, ...], plus: bool
) -> dict[str, Any]:
    """fio's ``add_ddir_lat_json``: exact moments, then percentiles and json+ bins when enabled."""
    m = stat.moments
    if not m.n:
        return _empty_lat()
    obj: dict[str, Any] = {
        "min": int(m.min),
        "max": int(m.max),
        "mean": float(m.mean),
        "stddev": float(m.stddev),
        "N": int(m.n),
    }
    if percentiles:
        values = histogram.percentiles(stat.hist, plist)
        obj["percentile"] = dict(zip(_percentile_keys(plist), map(values.__getitem__, plist),
                                     strict=True))
        if plus:
            counts = histogram.bins(stat.hist)
            obj["bins"] = dict(zip(map(str, counts), counts.values(), strict=True))
    return obj


@functools.lru_cache(maxsize=64)
def _percentile_keys(plist: tuple[float, ...]) -> tuple[str, ...]:
    """The ``percentile`` object's keys ("99.900000"), once per list."""
    return tuple(f"{p:f}" for p in plist)


def _empty_lat() -> dict[str, Any]:
    """The latency object of a stat without samples."""
    return {"min": 0, "max": 0, "mean": 0.0, "stddev": 0.0, "N": 0}


def amount_fields(io_bytes: int, total_ios: int, runtime_ms: int) -> dict[str, Any]:
    """A direction's amounts and rates as fio's JSON gives them (bw in KiB/s, runtime ms)."""
    bw_bytes = io_bytes * 1000 // runtime_ms if runtime_ms else 0
    return {
        "io_bytes": io_bytes,
        "io_kbytes": io_bytes >> 10,
        "bw_bytes": bw_bytes,
        "bw": bw_bytes // 1024,
        "iops": total_ios * 1000.0 / runtime_ms if runtime_ms else 0.0,
        "runtime": runtime_ms,
        "total_ios": total_ios,
        "short_ios": 0,
        "drop_ios": 0,
    }


# Parts of a job object that many jobs hold unchanged (an empty latency, the trim
# direction, no syncs, the I/O depth shares), each one read-only object, so that
# ``dumps``'s memo renders it once per document, not once per job.
_EMPTY_LAT: Mapping[str, Any] = MappingProxyType(_empty_lat())
_NO_BW: dict[str, Any] = {"bw_min": 0, "bw_max": 0, "bw_agg": 0.0, "bw_mean": 0.0, "bw_dev": 0.0}
_NO_IOPS: dict[str, Any] = {"iops_min": 0, "iops_max": 0, "iops_mean": 0.0, "iops_stddev": 0.0}
_NO_DIRECTION: Mapping[str, Any] = MappingProxyType({
    **amount_fields(0, 0, 0), "slat_ns": _EMPTY_LAT, "clat_ns": _EMPTY_LAT, "lat_ns": _EMPTY_LAT,
    **_NO_BW, "bw_samples": 0, **_NO_IOPS, "iops_samples": 0})
_NO_SYNCS: Mapping[str, Any] = MappingProxyType({"total_ios": 0, "lat_ns": _EMPTY_LAT})


def _lat(stat: LatencyStat, percentiles: bool, plist: tuple[float, ...], plus: bool
         ) -> Mapping[str, Any]:
    """``lat_object``, the shared object for a stat without samples."""
    return lat_object(stat, percentiles, plist, plus) if stat.moments.n else _EMPTY_LAT


@functools.lru_cache(maxsize=64)
def _shares(keys: tuple[str, ...], values: tuple[float, ...]) -> Mapping[str, Any]:
    """A distribution object (``iodepth_level``...): a storm's jobs have the same few.
    Shares are never negative, so equal values (the cache key) mean equal text."""
    return MappingProxyType(dict(zip(keys, values, strict=True)))


def dir_object(entry: Entry, ddir: int | None, rs: GroupRunStats | None, plus: bool,
               mixed: DirEntry | None = None) -> Mapping[str, Any]:
    """fio's ``add_ddir_status_json`` for read, write or (``ddir`` None) the all-zero trim;
    ``mixed``: unified_rw_reporting=both's sum, reported as fio does with the read slot."""
    d = mixed if mixed is not None else entry.dirs[ddir] if ddir is not None else None
    if d is None:
        return _NO_DIRECTION
    job = entry.job
    plist = entry.percentile_list
    obj: dict[str, Any] = {
        **amount_fields(d.io_bytes, d.total_ios, d.runtime_ms),
        "slat_ns": _EMPTY_LAT,
        "clat_ns": _lat(d.clat, job.clat_percentiles, plist, plus),
        "lat_ns": _lat(d.lat, job.lat_percentiles, plist, plus),
    }
    bw = d.bw
    if bw.n and rs is not None and ddir is not None:
        obj.update(bw_min=int(bw.min), bw_max=int(bw.max), bw_agg=bw_agg_percent(bw.mean, rs, ddir),
                   bw_mean=float(bw.mean), bw_dev=float(bw.stddev))
    else:
        obj.update(_NO_BW)
    obj["bw_samples"] = int(bw.n)
    iops = d.iops
    if iops.n:
        obj.update(iops_min=int(iops.min), iops_max=int(iops.max), iops_mean=float(iops.mean),
                   iops_stddev=float(iops.stddev))
    else:
        obj.update(_NO_IOPS)
    obj["iops_samples"] = int(iops.n)
    return obj


def loadgen_job_object(entry: Entry) -> dict[str, Any]:
    """loadgen's own per-entry facts, under the job's ``loadgen`` key (see docs/reports.md)."""
    members = entry.members
    outcomes = [str(m.outcome or ("error" if m.error else "ok")) for m in members]
    overheads = [m.totals.overhead_ns for m in members if m.totals.overhead_ns]
    obj: dict[str, Any] = {
        "members": len(members),
        "thread_numbers": [m.job.thread_number for m in members],
        "pids": [m.pid for m in members],
        "outcome": next((o for o in outcomes if o != "ok"), "ok"),
        "overhead_ns": sum(overheads) / len(overheads) if overheads else 0.0,
        "anon_huge_bytes": sum(int(m.totals.anon_huge_bytes) for m in members),
        # per worker process (threads of one share it): the largest, and the sum over processes
        "uss_bytes": max((int(m.totals.uss_bytes) for m in members), default=0),
        "uss_bytes_total": sum({m.pid: int(m.totals.uss_bytes) for m in members}.values()),
        "spawn_s": float(entry.group.spawn_s) if entry.group else 0.0,
        "start_skew_ns": int(entry.group.start_skew_ns) if entry.group else 0,
    }
    if entry.error_text:
        obj["error_text"] = entry.error_text
    first = members[0]  # its outcome and kernel deltas (system-wide: the same for all)
    if first.last_end is not None:
        obj["outcome_detail"] = first.last_end.to_dict()
    if first.restarts:
        obj["restarts"] = first.restarts
    if first.kernel is not None:
        obj["kernel"] = first.kernel
    if first.mm is not None:
        obj["mm"] = first.mm
    if len(members) > 1 and len(set(outcomes)) > 1:
        obj["outcomes"] = outcomes
    return obj


def job_object(
    entry: Entry, rs: GroupRunStats | None, plus: bool, elapsed_s: int
) -> dict[str, Any]:
    """fio's ``show_thread_status_json`` for one entry, then loadgen's key."""
    job = entry.job
    obj: dict[str, Any] = {
        "jobname": entry.name,
        "groupid": entry.groupid,
        "job_start": entry.job_start_ms,
        "error": entry.error,
        "eta": ETA_UNKNOWN,
        "elapsed": elapsed_s,
    }
    if job.job_options:
        obj["job options"] = Pairs(job.job_options)
    if entry.unified == "mixed":  # reads and writes summed into the one direction
        obj["mixed"] = dir_object(entry, READ, rs, plus)
    else:
        obj["read"] = dir_object(entry, READ, rs, plus)
        obj["write"] = dir_object(entry, WRITE, rs, plus)
        obj["trim"] = dir_object(entry, None, rs, plus)
        obj["sync"] = {"total_ios": entry.syncs, "lat_ns": _lat(
            entry.sync, job.lat_percentiles or job.clat_percentiles, entry.percentile_list,
            plus)} if entry.syncs or entry.sync.moments.n else _NO_SYNCS
    if entry.mixed is not None:
        obj["mixed"] = dir_object(entry, READ, rs, plus, entry.mixed)
    obj.update(
        job_runtime=entry.total_run_time_ms,
        usr_cpu=float(entry.usr_cpu),
        sys_cpu=float(entry.sys_cpu),
        ctx=int(entry.ctx),
        majf=int(entry.majf),
        minf=int(entry.minf),
    )
    obj["iodepth_level"] = _shares(DEPTH_KEYS, tuple(entry.depth_percent()))
    obj["iodepth_submit"] = obj["iodepth_complete"] = _shares(SUBMIT_KEYS,
                                                              tuple(entry.submit_percent()))
    pct = entry.latency_percent()
    n_ns, n_us = len(latbuckets.NS_KEYS), len(latbuckets.US_KEYS)
    obj["latency_ns"] = dict(zip(latbuckets.NS_KEYS, pct[:n_ns], strict=True))
    obj["latency_us"] = dict(zip(latbuckets.US_KEYS, pct[n_ns:n_ns + n_us], strict=True))
    obj["latency_ms"] = dict(zip(latbuckets.MS_KEYS, pct[n_ns + n_us:], strict=True))
    if job.continue_on_error != "none":  # memcpy into anonymous memory has no I/O errors
        obj.update(total_err=0, first_error=0)
    obj.update(latency_depth=1, latency_target=0, latency_target_ns=0, latency_percentile=100.0,
               latency_window=0, latency_window_us=0)
    if job.description:
        obj["desc"] = job.description
    steady = entry.steadystate
    if steady is not None:
        obj["steadystate"] = steadystate_object(job.steadystate, steady)
    obj["loadgen"] = loadgen_job_object(entry)
    return obj


def _f32(value: float) -> str:
    """fio prints these through a C float cast."""
    return f"{float(np.float32(value)):f}"


def steadystate_object(ss: SteadyState, r: SteadyStateResult) -> dict[str, Any]:
    """fio's JSON ``steadystate`` object (stat.c), keys and formats as fio writes them."""
    pct = "%" if ss.pct else ""
    data: dict[str, Any] = {"bw_mean": r.mean(r.bw),
                            "iops_mean": r.mean(r.iops)}
    if ss.metric is SsMetric.LAT:
        data["lat_mean"] = r.mean(r.lat)
        data["lat_ns"] = r.ordered(r.lat)
    data["iops"] = r.ordered(r.iops)
    data["bw"] = r.ordered(r.bw)
    return {
        "ss": f"{ss.metric}{'_slope' if ss.slope else ''}:{_f32(ss.limit)}{pct}",
        "duration": ss.dur_s,
        "attained": int(r.attained),
        "criterion": f"{_f32(r.criterion)}{pct}",
        "max_deviation": float(r.deviation),
        "slope": float(r.slope),
        "data": data,
    }


def loadgen_run_object(result: RunResult) -> dict[str, Any]:
    """Run-level facts under the top-level ``loadgen`` key: the reproducibility header and
    groups."""
    obj: dict[str, Any] = {
        "header": dict(result.header),
        "run_id": result.run_id,
        "start_epoch_ns": result.start_epoch_ns,
        "end_epoch_ns": result.end_epoch_ns,
        "interrupted": result.interrupted,
        "controller_cpu_s": result.controller_cpu_s,
        "controller_cpu_pct": result.controller_cpu_pct,
    }
    obj["groups"] = [
        {
            "id": g.id,
            "workers": g.workers or len(g.jobs),
            "spawn_s": float(g.spawn_s),
            "start_skew_ns": int(g.start_skew_ns),
            "fork_s": float(g.fork_s),
            "ready_epoch_ns": int(g.ready_epoch_ns),
            "release_epoch_ns": int(g.release_epoch_ns),
            **({"kernel": g.kernel} if g.kernel is not None else {}),
        }
        for g in result.groups
    ]
    # the exact run, for `loadgen report` (loadgen.report.saved); one string, so fio readers skip it
    obj["saved"] = saved.dumps(saved.run_doc(result))
    return obj


def report_time_ns(result: RunResult) -> int:
    """When the report is "generated": the run's end, or now for a report of a run in progress."""
    return result.end_epoch_ns or time.time_ns()


def elapsed_seconds(result: RunResult) -> int:
    """fio's ``elapsed``: whole seconds since the run started, rounded up."""
    if not result.start_epoch_ns:
        return 0
    ms = max(0, report_time_ns(result) - result.start_epoch_ns) // 1_000_000
    return (ms + 999) // 1000


def render_json(result: RunResult, plus: bool = False) -> str:
    """The whole fio JSON (or json+) document for ``result``, newline-terminated."""
    now_ns = report_time_ns(result)
    entries = build_entries(result)
    rs = group_run_stats(entries, result)
    root: dict[str, Any] = {
        "fio version": version_string(),
        "timestamp": now_ns // 1_000_000_000,
        "timestamp_ms": now_ns // 1_000_000,
        "time": time.ctime(now_ns // 1_000_000_000),
    }
    if result.plan.global_options:
        root["global options"] = Pairs(result.plan.global_options)
    elapsed = elapsed_seconds(result)
    root["jobs"] = [job_object(e, rs.get(e.groupid), plus, elapsed) for e in entries]
    root["loadgen"] = loadgen_run_object(result)
    return dumps(root) + "\n"

