"""Rebuild a loadgen ``RunResult`` from a fio JSON report, so both can be compared field by field.

Exact moments come straight from fio's min/max/mean/stddev/N; histograms from json+
``bins`` (each bin value falls in its own bucket); latency buckets from the
latency_ns/us/ms percentages.  Nothing here is fio code: it only reads fio's output.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from loadgen.plan import Group, Job, Plan, RwMode, SsMetric, SteadyState
from loadgen.results import GroupResult, JobResult, RunResult, SteadyStateResult
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import DirStats, IntervalStats, LatencyStat
from loadgen.stats.moments import Moments

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def moments(obj: dict[str, Any]) -> Moments:
    n = obj["N"]
    return Moments(n=n, mean=obj["mean"], m2=obj["stddev"] ** 2 * (n - 1) if n > 1 else 0.0,
                   min=obj["min"], max=obj["max"])


def hist_from_bins(bins: dict[str, int]) -> np.ndarray:
    hist = histogram.empty()
    for value, count in bins.items():
        hist[int(histogram.value_to_index(np.array([int(value)]))[0])] += count
    return hist


def latency_stat(
    obj: dict[str, Any], fallback_percentiles: dict[str, int] | None = None
) -> LatencyStat:
    """Moments, plus the histogram from ``bins`` (json+) or one standing in for plain
    percentiles."""
    stat = LatencyStat(moments=moments(obj))
    if "bins" in obj:
        stat.hist = hist_from_bins(obj["bins"])
    elif "percentile" in obj:
        stat.hist = hist_for_percentiles(
            {float(k): v for k, v in obj["percentile"].items()}, obj["N"]
        )
    return stat


def hist_for_percentiles(values: dict[float, int], n: int) -> np.ndarray:
    """A histogram of ``n`` samples whose percentile walk gives exactly ``values``.

    Each percentile's bucket holds what brings the running count to ceil(p% of n).
    """
    hist = histogram.empty()
    filled = 0
    for p in sorted(values):
        need = -(-int(round(p * n * 1000)) // 100000)  # ceil(p/100*n), exact for 3-decimal p
        idx = int(histogram.value_to_index(np.array([values[p]]))[0])
        if need > filled:
            hist[idx] += need - filled
            filled = need
    hist[int(histogram.value_to_index(np.array([max(values.values())]))[0])] += max(0, n - filled)
    return hist


def latency_buckets(job: dict[str, Any], total: int) -> np.ndarray:
    """Counts that give fio's latency_ns/us/ms percentages (0.01 stands for any count < 0.01%)."""
    pcts = (
        list(job["latency_ns"].values())
        + list(job["latency_us"].values())
        + list(job["latency_ms"].values())
    )
    counts = []
    for pct in pcts:
        count = round(pct * total / 100)
        if pct == 0.01 and count * 100 / total > 0.01:
            count = 1
        counts.append(max(count, 1) if pct > 0 else 0)
    arr = np.array(counts, dtype=np.uint64)
    assert len(arr) == latbuckets.NBUCKETS
    return arr


def dir_stats(d: dict[str, Any]) -> DirStats:
    ds = DirStats(ios=d["total_ios"], bytes=d["io_bytes"], clat=latency_stat(d["clat_ns"]),
                  lat=latency_stat(d["lat_ns"]))
    if d["bw_samples"]:
        n = d["bw_samples"]
        ds.bw_samples = Moments(
            n, d["bw_mean"], d["bw_dev"] ** 2 * (n - 1), d["bw_min"], d["bw_max"]
        )
    if d["iops_samples"]:
        n = d["iops_samples"]
        ds.iops_samples = Moments(
            n, d["iops_mean"], d["iops_stddev"] ** 2 * (n - 1), d["iops_min"], d["iops_max"]
        )
    return ds


def job_result(fj: dict[str, Any], job: Job, pid: int = 0) -> JobResult:
    """One worker carrying the numbers of fio's job object ``fj``."""
    runtime_ms = max(fj["read"]["runtime"], fj["write"]["runtime"])
    total = fj["read"]["total_ios"] + fj["write"]["total_ios"]
    # runtime_ns that rounds up to fio's runtime and down to its job_runtime
    runtime_ns = (
        fj["job_runtime"] * 1_000_000 + 500_000
        if runtime_ms > fj["job_runtime"]
        else runtime_ms * 1_000_000
    )
    totals = IntervalStats(
        thread_number=job.thread_number, runtime_ns=runtime_ns,
        dirs=(dir_stats(fj["read"]), dir_stats(fj["write"])),
        latency_buckets=latency_buckets(fj, total),
        minf=fj["minf"], majf=fj["majf"], ctx=fj["ctx"],
        usr_ns=round(fj["usr_cpu"] * fj["job_runtime"] / 100) * 1_000_000,
        sys_ns=round(fj["sys_cpu"] * fj["job_runtime"] / 100) * 1_000_000,
        final=True,
    )
    if "sync" in fj:
        totals.syncs = fj["sync"]["total_ios"]
        totals.sync = latency_stat(fj["sync"]["lat_ns"])
    return JobResult(job=job, totals=totals, pid=pid, start_epoch_ms=fj["job_start"],
                     steadystate=steadystate_result(fj["steadystate"]) if "steadystate" in fj
                     else None)


def steadystate_result(ss: dict[str, Any]) -> SteadyStateResult:
    """fio's ring as its JSON shows it: in order from head (attained, or not yet full)."""
    data = ss["data"]
    return SteadyStateResult(attained=bool(ss["attained"]), bw=list(data["bw"]),
                             iops=list(data["iops"]), lat=list(data.get("lat_ns", [])),
                             slope=ss["slope"], deviation=ss["max_deviation"],
                             criterion=float(ss["criterion"].rstrip("%")))


def result_from_jobs(doc: dict[str, Any], workers: list[JobResult]) -> RunResult:
    """A ``RunResult`` of ``workers`` (in thread order), timed like fio's document ``doc``."""
    ids = sorted({w.job.group_id for w in workers})
    groups = [GroupResult(gid, [w for w in workers if w.job.group_id == gid]) for gid in ids]
    plan = Plan(groups=tuple(Group(g.id, tuple(w.job for w in g.jobs)) for g in groups),
                global_options=tuple(doc.get("global options", {}).items()))
    end_ns = doc["timestamp_ms"] * 1_000_000
    elapsed_s = doc["jobs"][0].get("elapsed", 1)  # fio's whole seconds, rounded up
    return RunResult(
        plan=plan,
        groups=groups,
        start_epoch_ns=end_ns - (elapsed_s * 1000 - 500) * 1_000_000,
        end_epoch_ns=end_ns,
    )


def result_from_fio(doc: dict[str, Any], rw: str = "randrw", pid: int = 0) -> RunResult:
    """A one-job ``RunResult`` carrying the numbers of ``doc['jobs'][0]``."""
    fj = doc["jobs"][0]
    job = Job(
        name=fj["jobname"],
        thread_number=1,
        subjob=0,
        numjobs=1,
        group_id=fj["groupid"],
        rw=RwMode(rw),
        size=64 << 20,
        job_options=tuple(fj.get("job options", {}).items()),
    )
    return result_from_jobs(doc, [job_result(fj, job, pid)])


def rebuild(json_name: str, text_name: str, jobs: list[Job]) -> tuple[RunResult, list[str]]:
    """A fio run (its json+ and its normal text, printed together) as a loadgen ``RunResult``.

    ``jobs`` describe the workers in thread order; numbers, options and pids come from fio.
    """
    doc = load(json_name)
    text = (DATA / text_name).read_text()
    pids = [int(p) for p in re.findall(r": pid=(\d+): ", text)]
    workers = [
        job_result(fj, replace(job, job_options=tuple(fj.get("job options", {}).items())), pid)
        for job, fj, pid in zip(jobs, doc["jobs"], pids, strict=True)
    ]
    return result_from_jobs(doc, workers), text.splitlines()


def multi_result() -> tuple[RunResult, list[str]]:
    """data/multi.fio: 3 sections, numjobs=2 with a description, a stonewall group, bw samples."""
    bs4k, bs64k = ((4096, 4096), (4096, 4096)), ((65536, 65536), (65536, 65536))
    return rebuild("multi_plus.json", "multi.txt", [
        Job("a", 1, 0, 1, 0, rw=RwMode.RANDWRITE, bs_min=bs4k[0], bs_max=bs4k[1]),
        Job("b", 2, 0, 2, 0, rw=RwMode.READ, description="reads twice"),
        Job("b", 3, 1, 2, 0, rw=RwMode.READ, description="reads twice"),
        Job("c", 4, 0, 1, 1, rw=RwMode.RANDRW, bs_min=bs64k[0], bs_max=bs64k[1]),
    ])


def big_result() -> tuple[RunResult, list[str]]:
    """data/big.fio: 2 MiB writes (usec units, lat percentiles, a custom list) and kb_base=1000."""
    bs2m = (2 << 20, 2 << 20)
    return rebuild("big_plus.json", "big.txt", [
        Job("big", 1, 0, 1, 0, rw=RwMode.WRITE, bs_min=bs2m, bs_max=bs2m, lat_percentiles=True,
            percentile_list=(50.0, 99.0, 99.9, 100.0)),
        Job("kb", 2, 0, 1, 0, rw=RwMode.RANDREAD, bs_min=(4000, 4000), bs_max=(4000, 4000),
            kb_base=1000),
    ])


def sync_ss_result() -> tuple[RunResult, list[str]]:
    """data/sync_ss.fio: fsync=4 (the sync block, depth counts) and ss=iops:80% ss_dur=2."""
    return rebuild("sync_ss_plus.json", "sync_ss.txt", [
        Job("s", 1, 0, 1, 0, rw=RwMode.RANDWRITE, size=32 << 20, fsync_blocks=4,
            time_based=True, runtime_ns=20 * 10**9,
            steadystate=SteadyState(SsMetric.IOPS, slope=False, pct=True, limit=80.0, dur_s=2)),
    ])
