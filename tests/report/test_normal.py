"""The normal text report against fio's own text (samples pf.txt and gr.txt)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from loadgen.report import render_normal
from loadgen.report.normal import percentile_block
from loadgen.report.units import N2S_BYTE, N2S_BYTEPERSEC, N2S_NONE, num2str
from loadgen.results import RunResult
from loadgen.stats import histogram
from loadgen.stats.jobstats import LatencyStat

from .fio_sample import (
    DATA,
    big_result,
    hist_for_percentiles,
    load,
    multi_result,
    result_from_fio,
    sync_ss_result,
)

PCTS = ("1.000000", "5.000000", "10.000000", "20.000000", "30.000000", "40.000000", "50.000000",
        "60.000000", "70.000000", "80.000000", "90.000000", "95.000000", "99.000000", "99.500000",
        "99.900000", "99.950000", "99.990000")


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """fio's samples were printed in UTC; ctime() follows TZ."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def _lat(
    mn: int, mx: int, mean: float, dev: float, n: int, pct: list[int] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {"min": mn, "max": mx, "mean": mean, "stddev": dev, "N": n}
    if pct:
        obj["percentile"] = dict(zip(PCTS, pct, strict=True))
    return obj


def _dir(ios: int, runtime: int, clat: dict[str, Any], lat: dict[str, Any]) -> dict[str, Any]:
    return {
        "total_ios": ios,
        "io_bytes": ios * 4096,
        "runtime": runtime,
        "clat_ns": clat,
        "lat_ns": lat,
        "bw_samples": 0,
        "iops_samples": 0,
    }


def pf_txt_doc() -> dict[str, Any]:
    """The numbers printed in samples/pf.txt, in fio's JSON shape."""
    zeros = dict.fromkeys(("2", "4", "10", "20", "50", "100", "250", "500", "750", "1000"), 0.0)
    return {
        "timestamp_ms": 1795671705000,
        "global options": {"ioengine": "page_fault", "size": "64m", "bs": "4k"},
        "jobs": [{
            "jobname": "pf", "groupid": 0, "job_start": 1795671704900, "job_options": {},
            "read": _dir(8160, 36, _lat(881, 64546, 1111.74, 1210.59, 8160,
                                        [892, 908, 924, 932, 964, 988, 1012, 1048, 1096, 1176,
                                         1384, 1512, 1752, 1944, 3792, 9536, 64768]),
                         _lat(891, 64566, 1131.44, 1212.55, 8160)),
            "write": _dir(8224, 36, _lat(1923, 125887, 2734.73, 2812.59, 8224,
                                         [1976, 2008, 2040, 2064, 2128, 2160, 2192, 2224, 2320,
                                          2800, 3280, 4960, 10304, 11712, 39168, 52992, 125440]),
                          _lat(1953, 125917, 2768.14, 2813.87, 8224)),
            "job_runtime": 35, "usr_cpu": 11 * 100 / 35, "sys_cpu": 23 * 100 / 35,
            "ctx": 2, "majf": 0, "minf": 16392,
            "latency_ns": {**zeros, "1000": 20.94},
            "latency_us": {**zeros, "2": 30.0, "4": 45.45, "10": 3.07, "20": 0.43, "50": 0.07,
                           "100": 0.04, "250": 0.01},
            "latency_ms": {**zeros, "2000": 0.0, ">=2000": 0.0},
        }],
    }


def test_pf_txt_reproduced_line_by_line() -> None:
    expected = (DATA / "pf.txt").read_text().splitlines()
    got = render_normal(result_from_fio(pf_txt_doc(), pid=14040)).splitlines()
    assert got[1] == "loadgen-0.1.0" and expected[1] == "fio-3.42"
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if i != 1:
            assert g == e, f"line {i + 1}"


def test_group_reporting_bw_iops_lines_like_gr_txt() -> None:
    """gr.txt's merged entry: 'jobs=2', MiB bw sample line, iops line, ms latency buckets."""
    doc = load("gr_plus.json")
    text = render_normal(result_from_fio(doc))
    fj = doc["jobs"][0]
    bw = fj["read"]
    assert (
        f"   bw (  MiB/s): min= {bw['bw_min'] // 1024}, max= {bw['bw_max'] // 1024}, per=100.00%, "
        in text
    )
    assert (
        f"   iops        : min={bw['iops_min']}, max={bw['iops_max']}, avg={bw['iops_mean']:.2f}, "
        in text
    )
    assert (
        "  lat (msec)   : 2=0.01%, 4=0.01%, 10=0.01%, 20=0.01%, 50=0.01%\n"
        "  lat (msec)   : 100=0.01%\n"
        in text
    )
    assert "    clat (nsec): min=60, max=55482k, avg=391.71, stdev=50633.28\n" in text


def test_sample_lines_match_gr_txt_format() -> None:
    """Every bw/iops/lat line shape of gr.txt is one loadgen produces (prefixes and separators)."""
    text = render_normal(result_from_fio(load("gr_plus.json")))
    for line in (DATA / "gr.txt").read_text().splitlines():
        for prefix in (
            "   bw (",
            "   iops        : min=",
            "    clat percentiles (nsec):",
            "     issued rwts:",
        ):
            if line.startswith(prefix):
                assert any(ln.startswith(prefix) for ln in text.splitlines())


@pytest.mark.parametrize("num,maxlen,base,pow2,units,expected", [
    (226666, 4, 1, False, N2S_NONE, "227k"),
    (928000000 // 1000 * 1000, 4, 1, False, N2S_BYTEPERSEC, "928MB/s"),
    (8160 * 4096, 4, 1, True, N2S_BYTE, "31.9MiB"),
    (1210600, 6, 1, False, N2S_NONE, "1210.6k"),
    (4096, 4, 1, True, N2S_BYTE, "4096B"),
    (999, 4, 1, False, N2S_NONE, "999"),
    (1_648_000, 4, 1, False, N2S_NONE, "1648k"),
    (13_500_000_000, 4, 1, False, N2S_BYTE, "13.5GB"),
])
def test_num2str_matches_fio(
    num: int, maxlen: int, base: int, pow2: bool, units: int, expected: str
) -> None:
    assert num2str(num, maxlen, base, pow2, units) == expected


def test_percentile_block_switches_to_usec_and_msec() -> None:
    plist = (50.0, 99.0)
    usec = LatencyStat()
    usec.hist = hist_for_percentiles({50.0: 3000, 99.0: 200704}, 100)
    assert percentile_block(usec, plist, "clat").startswith("    clat percentiles (usec):\n")
    rep = histogram.index_to_value(int(histogram.value_to_index(np.array([200704]))[0]))
    ceil_ms = -(-rep // 1000)
    assert f"99.00th=[{ceil_ms:5d}]" in percentile_block(usec, plist, "clat")
    msec = LatencyStat()
    msec.hist = hist_for_percentiles({50.0: 2_228_224, 99.0: 200_278_016}, 100)
    assert percentile_block(msec, plist, "clat").startswith("    clat percentiles (msec):\n")


@pytest.mark.parametrize("rebuilt", [multi_result, big_result, sync_ss_result])
def test_fio_runs_reproduced_line_by_line(
    rebuilt: Callable[[], tuple[RunResult, list[str]]],
) -> None:
    """multi: "..." header, descriptions, bw/iops sample lines, two groups.  big: usec units,
    lat percentiles with a custom list (precision 1), kb_base=1000 (MB before MiB)."""
    result, expected = rebuilt()
    got = render_normal(result).splitlines()
    assert len(got) == len(expected)
    differing = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    version = "fio-3.42" if rebuilt is sync_ss_result else "fio-3.42-135-gf5344384"
    assert differing == [expected.index(version)]
