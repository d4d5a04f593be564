"""steadystate= and its duration, ramp and interval options as fio parses them."""

from __future__ import annotations

import pytest

from loadgen.plan import SsMetric, SteadyState


def test_default_is_off_and_fio_default_criterion(one_job) -> None:  # type: ignore[no-untyped-def]
    job = one_job("")
    assert job.steadystate == SteadyState() and not job.steadystate.on
    ss = one_job("ss_dur=30").steadystate  # fio's default criterion iops_slope:0.01%
    assert (ss.metric, ss.slope, ss.pct, ss.limit, ss.dur_s) == (SsMetric.IOPS, True, True, 0.01,
                                                                 30)


@pytest.mark.parametrize(("text", "expected"), [
    ("ss=iops:50%\nss_dur=3", (SsMetric.IOPS, False, True, 50.0)),
    ("steadystate=bw_slope:10M\nsteadystate_duration=5", (SsMetric.BW, True, False,
                                                          10.0 * 1024 * 1024)),
    ("ss=iops_slope:200\nss_dur=2", (SsMetric.IOPS, True, False, 200.0)),
    ("ss=lat:20\nss_dur=2", (SsMetric.LAT, False, False, 20_000.0)),  # us without a suffix
    ("ss=bw:1.5%\nss_dur=2", (SsMetric.BW, False, True, 1.5)),
])
def test_criteria(one_job, text, expected) -> None:  # type: ignore[no-untyped-def]
    ss = one_job(text).steadystate
    assert (ss.metric, ss.slope, ss.pct, ss.limit) == expected


def test_duration_ramp_and_interval_in_seconds(one_job) -> None:  # type: ignore[no-untyped-def]
    ss = one_job("ss=bw:5%\nss_dur=1m\nss_ramp=10\nss_interval=2").steadystate
    assert (ss.dur_s, ss.ramp_ns, ss.interval_ms, ss.intervals) == (60, 10 * 10**9, 2000, 30)


@pytest.mark.parametrize(("text", "message"), [
    ("ss=iops", "threshold must be specified"),
    ("ss=speed:5%", "is not one of"),
    ("ss=iops:abc", "could not parse"),
    ("ss=iops:5%\nss_dur=5\nss_interval=500ms", "at least 1s"),
    ("ss=iops:5%\nss_dur=2\nss_interval=3", "shorter than"),
])
def test_bad_values_are_one_line(error_of, text, message) -> None:  # type: ignore[no-untyped-def]
    assert message in error_of(f"[j]\nsize=1m\n{text}\n")


def test_a_group_must_agree_on_steady_state(error_of, load_text) -> None:  # type: ignore[no-untyped-def]
    assert "consistent within reporting groups" in error_of(
        "[a]\nsize=1m\nss=iops:5%\nss_dur=3\n[b]\nsize=1m\n")
    plan = load_text("[a]\nsize=1m\nss=iops:5%\nss_dur=3\n[b]\nstonewall\nsize=1m\n")
    assert [j.steadystate.on for j in plan.jobs] == [True, False]
