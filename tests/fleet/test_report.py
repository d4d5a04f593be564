"""The fleet report: fio's "All clients" sums, the spread and the outlier rule, the skew."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadgen.fleet.clock import ClockOffset
from loadgen.fleet.report import HostRecord, all_clients, fleet_document, outliers, start_skew
from loadgen.report.fiojson import lat_object
from loadgen.stats import histogram
from loadgen.stats.jobstats import LatencyStat


def _lat(samples: list[int]) -> dict[str, Any]:
    stat = LatencyStat()
    stat.add_batch(np.array(samples, dtype=np.uint64))
    return lat_object(stat, True, histogram.DEFAULT_PERCENTILES, True)


def _dir(io_bytes: int, ios: int, runtime: int, samples: list[int]) -> dict[str, Any]:
    return {
        "io_bytes": io_bytes,
        "total_ios": ios,
        "runtime": runtime,
        "slat_ns": _lat([]),
        "clat_ns": _lat(samples),
        "lat_ns": _lat([]),
        "bw_min": 10,
        "bw_max": 20,
        "bw_mean": 15.0,
        "bw_dev": 1.0,
        "bw_samples": 4,
        "iops_min": 1,
        "iops_max": 2,
        "iops_mean": 1.5,
        "iops_stddev": 0.5,
        "iops_samples": 4,
        "bw_bytes": io_bytes * 1000 // runtime,
        "iops": ios * 1000.0 / runtime,
    }


def _job(io_bytes: int, ios: int, runtime: int, samples: list[int], minf: int) -> dict[str, Any]:
    empty = _dir(0, 0, 1, [])
    return {
        "jobname": "w",
        "groupid": 0,
        "job_start": 5,
        "error": 0,
        "elapsed": 1,
        "read": empty,
        "write": _dir(io_bytes, ios, runtime, samples),
        "trim": empty,
        "sync": {"total_ios": 0, "lat_ns": _lat([])},
        "job_runtime": runtime,
        "usr_cpu": 50.0,
        "sys_cpu": 10.0,
        "ctx": 3,
        "majf": 0,
        "minf": minf,
        "iodepth_level": {"1": 100.0},
        "iodepth_submit": {"4": 100.0},
        "iodepth_complete": {"4": 100.0},
        "latency_ns": {"500": 100.0},
        "latency_us": {"2": 0.0},
        "latency_ms": {"2": 0.0},
    }


def test_all_clients_sums_counts_takes_the_longest_runtime_and_merges_histograms() -> None:
    a = _job(4096 * 3, 3, 1000, [100, 200, 300], 7)
    b = _job(4096 * 2, 2, 2000, [1000, 5000], 5)
    total = all_clients([a, b], plus=True)
    assert total["jobname"] == "All clients"
    w = total["write"]
    assert (w["io_bytes"], w["total_ios"], w["runtime"]) == (4096 * 5, 5, 2000)
    assert w["bw_bytes"] == 4096 * 5 * 1000 // 2000
    assert w["clat_ns"]["N"] == 5 and w["clat_ns"]["min"] == 100 and w["clat_ns"]["max"] == 5000
    assert w["clat_ns"]["mean"] == np.mean([100, 200, 300, 1000, 5000])
    # exact percentiles from the merged bins: the same as one histogram of all samples
    assert w["clat_ns"]["percentile"] == _lat([100, 200, 300, 1000, 5000])["percentile"]
    assert (w["bw_min"], w["bw_max"], w["bw_samples"]) == (20, 40, 8)  # fio's pure sum
    assert (total["minf"], total["ctx"], total["job_runtime"]) == (12, 6, 3000)


def test_outliers_are_hosts_far_from_the_median_by_mad_and_by_at_least_five_percent() -> None:
    rates = {"a": 100.0, "b": 102.0, "c": 98.0, "d": 101.0, "e": 60.0}
    (low,) = outliers(rates)
    assert low["host"] == "e" and low["direction"] == "low" and low["median"] == 100.0
    assert outliers({"a": 100.0, "b": 100.2, "c": 99.9, "d": 101.0}) == []  # tiny MAD, tiny spread
    assert outliers({"a": 100.0, "b": 100.0, "c": 100.0, "d": 50.0})[0]["host"] == "d"  # MAD 0
    assert outliers({"a": 1.0, "b": 100.0}) == []  # two hosts: no median to stand out from


def test_start_skew_is_the_spread_of_release_instants_raw_and_offset_corrected() -> None:
    hosts = [
        HostRecord("a", "tcp://a:1", ClockOffset(0, 10, 20), release_epoch_ns={0: 1_000}),
        HostRecord("b", "tcp://b:1", ClockOffset(500, 10, 20), release_epoch_ns={0: 1_600}),
        HostRecord("c", "tcp://c:1", None),
    ]
    (group,) = start_skew(hosts)
    assert (
        group["hosts"] == 2
        and group["start_skew_ns"] == 600
        and group["start_skew_corrected_ns"] == 100
    )


def test_the_document_has_fio_client_shape_and_a_host_without_a_report() -> None:
    report = {
        "global options": {"size": "4m"},
        "jobs": [_job(4096, 1, 1000, [100], 1)],
        "loadgen": {},
    }
    hosts = [
        HostRecord("a", "tcp://a:1", outcome="completed", document=report),
        HostRecord("b", "tcp://b:1", outcome="completed", document=report),
        HostRecord("c", "tcp://c:1", outcome="died"),
    ]
    doc = fleet_document(hosts, 60.0, False, {})
    assert [s["hostname"] for s in doc["client_stats"]] == ["a", "b", "b"]
    assert doc["client_stats"][-1]["jobname"] == "All clients"
    assert "bins" not in doc["client_stats"][0]["write"]["clat_ns"]  # json, not json+
    assert doc["global options"] == [
        {"hostname": "a", "port": 0, "size": "4m"},
        {"hostname": "b", "port": 0, "size": "4m"},
    ]
    fleet = doc["loadgen"]["fleet"]
    assert fleet["reported"] == 2 and fleet["outcomes"]["c"] == "died"
    assert fleet["totals"]["write.io_bytes"] == 2 * 4096
