"""The fleet report: fio's client/server JSON shape plus loadgen's fleet summary.

fio's client (``client.c``) prints one document for all its servers: ``global
options`` as an array of per-server objects, ``client_stats`` with every server's job
objects (each with ``hostname`` and ``port``) and, with more than one server, a last
entry named "All clients" summed by ``sum_thread_stats``: counts add up, each
direction's runtime is the largest, latency moments and histograms merge, bw/iops
window stats are summed field by field.  The hosts report json+, so the histograms
(and so the aggregate's percentiles) are exact.

The fleet summary adds what fio has not: per-host totals and their sums, the spread
across hosts, outlier hosts, and the cross-host start skew.  Outliers use the modified
z-score of Iglewicz and Hoaglin, ``0.6745 * |x - median| / MAD > 3.5``: the median
and the median absolute deviation are not dragged by the outlier itself, as a mean
and a standard deviation are.  A host must also be at least 5% off the median: hosts
that agree to a fraction of a percent have a tiny MAD, and a z-score alone would flag
noise.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.fleet.clock import ClockOffset
from loadgen.report.fiojson import ETA_UNKNOWN, amount_fields, dumps, lat_object, version_string
from loadgen.stats import histogram
from loadgen.stats.jobstats import LatencyStat
from loadgen.stats.moments import Moments
from loadgen.status import HostOutcomeKind

DIRS = ("read", "write")
OUTLIER_Z = 3.5
OUTLIER_MIN_REL = 0.05  # and at least this far from the median, relatively
MAD_SCALE = 0.6745
# per-host figures the summary sums, spreads and checks for outliers
HOST_METRICS = (
    "read.io_bytes",
    "write.io_bytes",
    "read.total_ios",
    "write.total_ios",
    "read.bw_bytes",
    "write.bw_bytes",
    "read.iops",
    "write.iops",
    "minf",
    "majf",
)
RATE_METRICS = ("bw_bytes", "iops", "minf_per_s")  # what outliers are judged on
CLOCK_ASSUMPTION = (
    "start skew is the spread of the hosts' release instants, each read on "
    "its own host's wall clock: it is only as good as the hosts' clock sync "
    "(NTP: about a millisecond, PTP: microseconds); start_skew_corrected_ns "
    "subtracts each host's estimated offset, which is uncertain by up to "
    "clock_offset_uncertainty_ns (half a round trip through Dask)"
)


@dataclass
class HostRecord:
    """One host of the fleet as the client saw it."""

    name: str
    address: str
    clock: ClockOffset | None = None
    outcome: HostOutcomeKind = HostOutcomeKind.PENDING
    exit_status: int | None = None
    document: dict[str, Any] | None = None  # its fio json+ report
    release_epoch_ns: dict[int, int] = field(default_factory=dict)  # group -> host clock
    go_epoch_ns: dict[int, int] = field(default_factory=dict)  # group -> its agent passed go on
    lines: int = 0
    message: str = ""

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self.document.get("jobs", [])) if self.document else []


# ---- "All clients" ------------------------------------------------------------------------------
def _latency(obj: dict[str, Any]) -> LatencyStat:
    """A json+ latency object back into moments and fio's histogram."""
    stat = LatencyStat()
    n = int(obj.get("N", 0))
    if n:
        stddev = float(obj.get("stddev", 0.0))
        stat.moments = Moments(
            n, float(obj["mean"]), stddev * stddev * (n - 1), int(obj["min"]), int(obj["max"])
        )
    bins = obj.get("bins") or {}
    if bins:
        values = np.array([int(v) for v in bins], dtype=np.uint64)
        counts = np.array([int(c) for c in bins.values()], dtype=np.uint64)
        np.add.at(stat.hist, histogram.value_to_index(values), counts)
    return stat


def _percentile_list(objs: Iterable[dict[str, Any]]) -> tuple[float, ...]:
    for obj in objs:
        if "percentile" in obj:
            return tuple(float(p) for p in obj["percentile"])
    return ()


def _sum_rates(dirs: Sequence[dict[str, Any]], prefix: str, samples_key: str) -> dict[str, Any]:
    """fio's ``sum_stat(pure_sum)`` on the bw or iops window stats, from their JSON fields."""
    names = {
        "bw": ("bw_min", "bw_max", "bw_mean", "bw_dev"),
        "iops": ("iops_min", "iops_max", "iops_mean", "iops_stddev"),
    }[prefix]
    used = [d for d in dirs if int(d.get(samples_key, 0))]
    n = sum(int(d[samples_key]) for d in used)
    s = sum(float(d[names[3]]) ** 2 * (int(d[samples_key]) - 1) for d in used)
    out: dict[str, Any] = {
        names[0]: sum(int(d[names[0]]) for d in used),
        names[1]: sum(int(d[names[1]]) for d in used),
    }
    if prefix == "bw":
        out["bw_agg"] = 100.0 if used else 0.0  # the aggregate is the whole
    out[names[2]] = sum(float(d[names[2]]) for d in used)
    out[names[3]] = math.sqrt(s / (n - 1)) if n > 1 else 0.0
    out[samples_key] = n
    return out


def _sum_direction(dirs: Sequence[dict[str, Any]], plus: bool) -> dict[str, Any]:
    io_bytes = sum(int(d["io_bytes"]) for d in dirs)
    total_ios = sum(int(d["total_ios"]) for d in dirs)
    runtime = max((int(d["runtime"]) for d in dirs), default=0)
    obj = amount_fields(io_bytes, total_ios, runtime)
    for kind in ("slat_ns", "clat_ns", "lat_ns"):
        objs = [d[kind] for d in dirs if kind in d]
        merged = LatencyStat()
        for one in objs:
            merged.merge(_latency(one))
        plist = _percentile_list(objs)
        obj[kind] = lat_object(merged, bool(plist), plist, plus and any("bins" in o for o in objs))
    obj.update(_sum_rates(dirs, "bw", "bw_samples"))
    obj.update(_sum_rates(dirs, "iops", "iops_samples"))
    return obj


def _weighted(
    jobs: Sequence[dict[str, Any]], key: str, weights: Sequence[float]
) -> dict[str, float]:
    """Distribution percentages (latency buckets, io depths) of the sum: weighted by I/Os."""
    total = sum(weights)
    keys = list(jobs[0][key]) if jobs else []
    return {
        k: (
            sum(float(j[key][k]) * w for j, w in zip(jobs, weights, strict=True)) / total
            if total
            else 0.0
        )
        for k in keys
    }


def all_clients(jobs: Sequence[dict[str, Any]], plus: bool) -> dict[str, Any]:
    """fio's "All clients" entry: every host's every job summed (``sum_thread_stats``)."""
    ios = [float(j["read"]["total_ios"] + j["write"]["total_ios"]) for j in jobs]
    runtimes = [float(j["job_runtime"]) for j in jobs]
    run_total = sum(runtimes)
    obj: dict[str, Any] = {
        "jobname": "All clients",
        "groupid": int(jobs[-1]["groupid"]) if jobs else 0,
        "job_start": min((int(j["job_start"]) for j in jobs if j["job_start"]), default=0),
        "error": next((int(j["error"]) for j in jobs if j["error"]), 0),
        "eta": ETA_UNKNOWN,
        "elapsed": max((int(j["elapsed"]) for j in jobs), default=0),
    }
    for ddir in ("read", "write", "trim"):
        obj[ddir] = _sum_direction([j[ddir] for j in jobs], plus)
    sync_lat = LatencyStat()
    obj["sync"] = {
        "total_ios": sum(int(j["sync"]["total_ios"]) for j in jobs),
        "lat_ns": lat_object(sync_lat, False, (), False),
    }
    obj["job_runtime"] = int(run_total)
    for cpu in ("usr_cpu", "sys_cpu"):  # fio: summed CPU time over summed run time
        obj[cpu] = (
            sum(float(j[cpu]) * r for j, r in zip(jobs, runtimes, strict=True)) / run_total
            if run_total
            else 0.0
        )
    for count in ("ctx", "majf", "minf"):
        obj[count] = sum(int(j[count]) for j in jobs)
    for dist in (
        "iodepth_level",
        "iodepth_submit",
        "iodepth_complete",
        "latency_ns",
        "latency_us",
        "latency_ms",
    ):
        obj[dist] = _weighted(jobs, dist, ios)
    obj.update(
        latency_depth=1,
        latency_target=0,
        latency_target_ns=0,
        latency_percentile=100.0,
        latency_window=0,
        latency_window_us=0,
    )
    return obj


def _strip_bins(value: Any) -> Any:
    """json (not json+): the histograms' ``bins`` left out, as fio leaves them out."""
    if isinstance(value, dict):
        return {k: _strip_bins(v) for k, v in value.items() if k != "bins"}
    if isinstance(value, list):
        return [_strip_bins(v) for v in value]
    return value


# ---- the fleet summary ---------------------------------------------------------------------------
def host_totals(host: HostRecord) -> dict[str, float]:
    """One host's sums over its jobs, in fio's names, plus the rates outliers are judged on."""
    jobs = host.jobs
    out: dict[str, float] = {}
    for metric in HOST_METRICS:
        ddir, _, key = metric.rpartition(".")
        out[metric] = sum(float(j[ddir][key] if ddir else j[key]) for j in jobs)
    out["bw_bytes"] = out["read.bw_bytes"] + out["write.bw_bytes"]
    out["iops"] = out["read.iops"] + out["write.iops"]
    out["minf_per_s"] = sum(
        int(j["minf"]) * 1000.0 / int(j["job_runtime"]) for j in jobs if j["job_runtime"]
    )
    return out


def spread(values: dict[str, float]) -> dict[str, Any]:
    """Min, median, max, the relative range and the MAD of one figure across hosts."""
    xs = sorted(values.values())
    median = statistics.median(xs)
    mad = statistics.median(abs(x - median) for x in xs)
    return {
        "min": xs[0],
        "median": median,
        "max": xs[-1],
        "mad": mad,
        "range_pct": 100.0 * (xs[-1] - xs[0]) / median if median else 0.0,
    }


def outliers(values: dict[str, float]) -> list[dict[str, Any]]:
    """Hosts whose modified z-score is over ``OUTLIER_Z`` (module docstring)."""
    if len(values) < 3:
        return []  # a median of two is their mean: nothing to stand out from
    median = statistics.median(values.values())
    mad = statistics.median(abs(x - median) for x in values.values())
    out = []
    for name, x in sorted(values.items()):
        score = MAD_SCALE * abs(x - median) / mad if mad else (math.inf if x != median else 0.0)
        if score > OUTLIER_Z and abs(x - median) > OUTLIER_MIN_REL * abs(median):
            out.append(
                {
                    "host": name,
                    "value": x,
                    "median": median,
                    "score": score if math.isfinite(score) else None,
                    "direction": "low" if x < median else "high",
                }
            )
    return out


def start_skew(hosts: Sequence[HostRecord]) -> list[dict[str, Any]]:
    """Per group: when each host released its workers, and the spread (module docstring)."""
    groups = sorted({g for h in hosts for g in h.release_epoch_ns})
    out = []
    for group in groups:
        raw = {h.name: h.release_epoch_ns[group] for h in hosts if group in h.release_epoch_ns}
        corrected = {
            h.name: raw[h.name] - (h.clock.offset_ns if h.clock else 0)
            for h in hosts
            if h.name in raw
        }
        out.append(
            {
                "group": group,
                "hosts": len(raw),
                "start_skew_ns": max(raw.values()) - min(raw.values()),
                "start_skew_corrected_ns": max(corrected.values()) - min(corrected.values()),
                "first_host": min(corrected, key=lambda n: corrected[n]),
                "last_host": max(corrected, key=lambda n: corrected[n]),
                "release_epoch_ns": raw,
                "go_passed_epoch_ns": {
                    h.name: h.go_epoch_ns[group] for h in hosts if group in h.go_epoch_ns
                },
            }
        )
    return out


def fleet_summary(hosts: Sequence[HostRecord], barrier_timeout_s: float) -> dict[str, Any]:
    measured = [h for h in hosts if h.document is not None]
    per_host = {h.name: host_totals(h) for h in measured}
    names = list(HOST_METRICS) + list(RATE_METRICS)
    summary: dict[str, Any] = {
        "hosts": len(hosts),
        "reported": len(measured),
        "outcomes": {h.name: h.outcome for h in hosts},
        "totals": {m: sum(t[m] for t in per_host.values()) for m in names},
        "per_host": per_host,
        "spread": {m: spread({n: t[m] for n, t in per_host.items()}) for m in RATE_METRICS}
        if per_host
        else {},
        "outliers": [
            dict(o, metric=m)
            for m in RATE_METRICS
            for o in outliers({n: t[m] for n, t in per_host.items()})
        ],
        "outlier_rule": (
            f"modified z-score {MAD_SCALE} * |x - median| / MAD > {OUTLIER_Z} "
            f"and |x - median| > {OUTLIER_MIN_REL:.0%} of the median"
        ),
        "start": start_skew(hosts),
        "barrier_timeout_s": barrier_timeout_s,
        "clock": {
            h.name: {
                "clock_offset_ns": h.clock.offset_ns,
                "clock_offset_uncertainty_ns": h.clock.uncertainty_ns,
            }
            for h in hosts
            if h.clock is not None
        },
        "clock_assumption": CLOCK_ASSUMPTION,
    }
    return summary


def _host_object(host: HostRecord) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "hostname": host.name,
        "address": host.address,
        "outcome": host.outcome,
        "exit_status": host.exit_status,
        "lines": host.lines,
    }
    if host.message:
        obj["message"] = host.message
    if host.document is not None:
        obj["loadgen"] = host.document.get("loadgen", {})
    return obj


def fleet_document(
    hosts: Sequence[HostRecord], barrier_timeout_s: float, plus: bool, extras: dict[str, Any]
) -> dict[str, Any]:
    """The whole report: fio's client/server JSON with the fleet under ``loadgen``."""
    now = time.time_ns()
    client_stats: list[dict[str, Any]] = []
    global_options: list[dict[str, Any]] = []
    every_job: list[dict[str, Any]] = []
    for host in hosts:
        if host.document is None:
            continue
        global_options.append(
            {"hostname": host.name, "port": 0, **dict(host.document.get("global options") or {})}
        )
        for job in host.jobs:
            every_job.append(job)
            client_stats.append(
                {**(job if plus else _strip_bins(job)), "hostname": host.name, "port": 0}
            )
    if len(global_options) > 1 and every_job:  # fio sums only with more than one server
        client_stats.append(
            {**all_clients(every_job, plus), "hostname": client_stats[-1]["hostname"], "port": 0}
        )
    return {
        "fio version": version_string(),
        "timestamp": now // 1_000_000_000,
        "timestamp_ms": now // 1_000_000,
        "time": time.ctime(now // 1_000_000_000),
        # fio: one server's options as an object, several servers' as an array
        "global options": global_options[0] if len(global_options) == 1 else global_options,
        "client_stats": client_stats,
        "disk_util": [],
        "loadgen": {
            "fleet": fleet_summary(hosts, barrier_timeout_s),
            "hosts": [_host_object(h) for h in hosts],
            **extras,
        },
    }


def render_json(document: dict[str, Any]) -> str:
    return dumps(document) + "\n"


def _human(value: float, unit: str) -> str:
    for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
        if abs(value) < 1024 or prefix == "Ti":
            return f"{value:.1f}{prefix}{unit}" if prefix else f"{value:.0f}{unit}"
        value /= 1024
    return f"{value}{unit}"


def render_text(document: dict[str, Any]) -> str:
    """The fleet summary for a person: a line per host, the sums, the skew, the outliers."""
    fleet = document["loadgen"]["fleet"]
    lines = [f"fleet: {fleet['hosts']} hosts, {fleet['reported']} reported"]
    for name, outcome in fleet["outcomes"].items():
        t = fleet["per_host"].get(name)
        figures = (
            (
                f"bw={_human(t['bw_bytes'], 'B/s')} iops={t['iops']:.0f} "
                f"faults/s={t['minf_per_s']:.0f} minf={t['minf']:.0f}"
            )
            if t
            else "no report"
        )
        lines.append(f"  <{name}> {outcome}: {figures}")
    totals = fleet["totals"]
    lines.append(
        f"  all: bw={_human(totals['bw_bytes'], 'B/s')} iops={totals['iops']:.0f} "
        f"faults/s={totals['minf_per_s']:.0f} minf={totals['minf']:.0f} "
        f"io={_human(totals['read.io_bytes'] + totals['write.io_bytes'], 'B')}"
    )
    for metric, s in fleet["spread"].items():
        lines.append(
            f"  spread {metric}: min={s['min']:.6g} median={s['median']:.6g} max={s['max']:.6g} "
            f"range={s['range_pct']:.1f}%"
        )
    lines += [
        f"  group {st['group']}: start skew {st['start_skew_ns'] / 1e6:.3f} ms across "
        f"{st['hosts']} hosts (offset-corrected {st['start_skew_corrected_ns'] / 1e6:.3f} ms)"
        for st in fleet["start"]
    ]
    lines += [
        f"  outlier: <{o['host']}> {o['metric']}={o['value']:.6g} ({o['direction']}; "
        f"median {o['median']:.6g})"
        for o in fleet["outliers"]
    ]
    return "\n".join(lines) + "\n"
