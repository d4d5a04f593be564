"""fio's steady-state ring, fed with interval deltas as the aggregator feeds it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from loadgen.controller.steadystate import Tracker, trackers
from loadgen.plan import Group, Job, SsMetric, SteadyState
from loadgen.report.fiojson import steadystate_object
from loadgen.report.jsonl import validate
from loadgen.stats.jobstats import SsSample

SECOND = 1_000_000_000
ROOT = Path(__file__).resolve().parents[2]


def _sample(
    k: int, ios: int, span_ns: int = SECOND, bs: int = 4096, clat_ns: int = 1000
) -> SsSample:
    """Point ``k`` of a job whose points are ``span_ns`` apart from its start."""
    return SsSample(k, span_ns, k * span_ns, ios, ios * bs, ios * clat_ns, ios)


def _feed(tracker: Tracker, values: list[int], member: int = 1, start: int = 1) -> int | None:
    """Feed one sample per point; the 1-based point that attained, or None."""
    for k, ios in enumerate(values, start):
        if tracker.add(member, _sample(k, ios)):
            return k
    return None


def test_mean_deviation_matches_fio_figures() -> None:
    # fio 3.42, page_fault randwrite, ss=iops:50% ss_dur=3: these samples gave
    # criterion 33.910713% and max_deviation 201020
    ss = SteadyState(metric=SsMetric.IOPS, slope=False, pct=True, limit=50.0, dur_s=3)
    tracker = Tracker(ss, (1,))
    assert _feed(tracker, [391772, 691546, 695058]) == 3
    r = tracker.result
    assert r.attained and r.deviation == 201020.0
    doc = steadystate_object(ss, r)  # fio prints it through a C float
    assert (doc["ss"], doc["criterion"], doc["attained"]) == ("iops:50.000000%", "33.910713%", 1)
    assert doc["data"]["iops_mean"] == 592792
    assert r.ordered(r.iops) == [391772, 691546, 695058]
    assert r.ordered(r.bw) == [v * 4096 for v in (391772, 691546, 695058)]


def test_slope_is_the_least_squares_slope_of_the_window() -> None:
    ss = SteadyState(metric=SsMetric.IOPS, slope=True, pct=False, limit=-1.0, dur_s=5)
    tracker = Tracker(ss, (1,))
    rng = np.random.default_rng(7)
    values = [int(v) for v in rng.integers(1000, 5000, size=20)]
    for k, ios in enumerate(values, 1):
        assert not tracker.add(1, _sample(k, ios))  # limit < 0: never
        if k >= 5:
            expected = np.polyfit(np.arange(5), values[k - 5:k], 1)[0]
            assert tracker.result.slope == pytest.approx(expected)
    r = tracker.result
    assert not r.attained and r.buffer_full
    assert r.ordered(r.iops) == values[-5:]  # fio's JSON order: oldest first


def test_slope_in_percent_attains_when_flat() -> None:
    ss = SteadyState(metric=SsMetric.BW, slope=True, pct=True, limit=1.0, dur_s=3)
    tracker = Tracker(ss, (1,))
    assert _feed(tracker, [100, 400, 800, 1000, 1004, 1008]) == 6
    assert tracker.result.criterion == pytest.approx(100 * 4 * 4096 / (1004 * 4096))


def test_ramp_skips_samples_until_one_interval_after_it() -> None:
    ss = SteadyState(metric=SsMetric.IOPS, slope=False, pct=True, limit=5.0, dur_s=2,
                     ramp_ns=2 * SECOND)
    tracker = Tracker(ss, (1,))
    # samples 1 and 2 fall in the ramp; 3 is the first one recorded (elapsed 3 s >= 2 + 1)
    assert _feed(tracker, [10, 10, 500, 500]) == 4
    assert tracker.result.iops == [500, 500]


@pytest.mark.parametrize(
    ("interval_ms", "span_ms", "ios", "iops"),
    [
        (2000, 2000, 400, 200),  # 400 I/Os in 2 s
        (1500, 1500, 300, 200),  # fio: 1500 * 300 // (1500 * 1500 // 1000)
        (1500, 1300, 300, 173),  # a first point 1.3 s after the start: fio's rate_time * delta
        (1001, 1001, 1000, 999),  # 1001 * 1000 // 1002: fio's integer arithmetic
    ],
)
def test_a_sample_is_fio_s_rate_over_its_check_interval(
    interval_ms: int, span_ms: int, ios: int, iops: int
) -> None:
    ss = SteadyState(
        metric=SsMetric.IOPS, slope=False, pct=True, limit=1.0, dur_s=4, interval_ms=interval_ms
    )
    tracker = Tracker(ss, (1,))
    span = span_ms * 1_000_000
    assert not tracker.add(1, SsSample(1, span, span, ios, ios * 4096, 0, 0))
    assert tracker.result.iops[0] == iops
    assert tracker.result.bw[0] == span_ms * ios * 4096 // (interval_ms * interval_ms // 1000)


def test_a_group_sample_waits_for_every_running_member() -> None:
    ss = SteadyState(metric=SsMetric.IOPS, slope=False, pct=True, limit=1.0, dur_s=2)
    job = Job(name="j", thread_number=1, subjob=0, numjobs=2, group_id=0, size=1 << 20,
              group_reporting=True, steadystate=ss)
    group = Group(0, (job, replace(job, thread_number=2)))
    by_member = trackers(group)
    tracker = by_member[1]
    assert by_member[2] is tracker
    assert not tracker.add(1, _sample(1, 100))
    assert not tracker.add(1, _sample(2, 100))
    assert tracker.result.iops == [0, 0]  # member 2 has not reported yet
    assert not tracker.add(2, _sample(1, 50))
    assert tracker.add(2, _sample(2, 50))
    assert tracker.result.iops == [150, 150]


def test_a_member_that_ends_is_no_longer_waited_for() -> None:
    ss = SteadyState(metric=SsMetric.IOPS, slope=False, pct=True, limit=1.0, dur_s=2)
    tracker = Tracker(ss, (1, 2))
    assert not tracker.add(1, _sample(1, 100))
    assert not tracker.end(2)
    assert tracker.result.iops == [100, 0]
    assert _feed(tracker, [100], start=2) == 2


def test_a_group_member_still_in_its_ss_ramp_is_left_out_of_the_sum() -> None:
    # fio sums the jobs past their ss_ramp (plus one interval) and judges once one is
    ss = SteadyState(
        metric=SsMetric.IOPS, slope=False, pct=True, limit=1.0, dur_s=2, ramp_ns=SECOND
    )
    tracker = Tracker(ss, (1, 2))
    for k in (1, 2, 3):
        tracker.add(1, _sample(k, 100))
        tracker.add(2, SsSample(k, SECOND, (k - 1) * SECOND, 50, 50 * 4096, 0, 0))
    assert tracker.result.iops == [100, 150]  # points 2 (member 1 only) and 3 (both)


def test_a_run_stops_at_steady_state_and_reports_it_as_fio(tmp_path: Path) -> None:
    # two samples never deviate from their mean by more than 100% of it: attained at the
    # second check, long before the runtime
    (tmp_path / "ss.fio").write_text("[ss]\nsize=8m\nrw=randwrite\ntime_based\nruntime=120\n"
                                     "ss=iops:100.5%\nss_dur=2\n")
    done = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", "--eta=never", "--output-format=json,normal",
         "--jsonl=run.jsonl", "ss.fio"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    text = done.stdout
    doc = orjson.loads(text[text.index("{"):text.rindex("}") + 1])
    job = doc["jobs"][0]
    steady = job["steadystate"]
    assert list(steady) == ["ss", "duration", "attained", "criterion", "max_deviation", "slope",
                            "data"]
    assert (steady["ss"], steady["duration"], steady["attained"]) == ("iops:100.500000%", 2, 1)
    assert list(steady["data"]) == ["bw_mean", "iops_mean", "iops", "bw"]
    assert len(steady["data"]["iops"]) == 2 and min(steady["data"]["iops"]) > 0
    assert steady["data"]["iops_mean"] == sum(steady["data"]["iops"]) // 2
    assert job["job_runtime"] < 120_000 and job["error"] == 0  # ended by the check
    assert "  steadystate  : attained=yes, bw=" in text and "iops mean dev=" in text
    records = [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    events = [r for r in records if r.get("event.action") == "steadystate"]
    assert len(events) == 1 and events[0]["loadgen.steadystate.members"] == [1]
    assert all(validate(r) == [] for r in records)
    # the saved run renders the same steadystate object again
    again = subprocess.run(
        [sys.executable, "-m", "loadgen", "report", "run.jsonl", "--output-format=json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0, again.stderr
    assert orjson.loads(again.stdout)["jobs"][0]["steadystate"] == steady


def test_steady_state_ends_only_its_job_in_a_shared_thread_worker(tmp_path: Path) -> None:
    # fio (checked): a attains steady state and ends; b, a thread of the same process still
    # in its startdelay, does its 64 writes afterwards
    (tmp_path / "ss.fio").write_text(
        "[global]\nthread=1\nss=iops:100.5%\nss_dur=2\n"
        "[a]\nsize=4m\nrw=randwrite\ntime_based\nruntime=60\n"
        "[b]\nstartdelay=3\nsize=256k\nrw=write\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", "--eta=never", "--output-format=json", "ss.fio"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    a, b = orjson.loads(done.stdout[done.stdout.index("{") :])["jobs"]
    assert a["steadystate"]["attained"] == 1 and a["job_runtime"] < 60_000
    assert (b["write"]["total_ios"], b["error"]) == (64, 0)
