"""fio's ``steadystate`` option family: parsing the criterion and turning the options into
the job's ``SteadyState`` (fio's ``str_steadystate_cb`` and ``td_steadystate_init``)."""

from __future__ import annotations

from typing import Any

from loadgen.errors import InputError
from loadgen.jobfile.values import BadValue, Kind, ParseContext, parse_size, parse_time
from loadgen.plan import Plan, SsMetric, SteadyState

NS_PER_US = 1000
NS_PER_S = 1_000_000_000
CRITERIA = ("iops", "iops_slope", "bw", "bw_slope", "lat", "lat_slope")

# (criterion, limit, limit in percent)
SsValue = tuple[str, float, bool]


class SteadyStateKind(Kind):
    """``CRITERION:LIMIT``: LIMIT is N% of the mean, or IOPS, bytes/s (size suffixes) or a
    latency (us without a suffix)."""

    label = "criterion:limit"

    def parse(self, text: str, ctx: ParseContext) -> SsValue:
        criterion, colon, limit = text.strip().partition(":")
        if criterion not in CRITERIA:
            raise BadValue(f"{criterion!r} is not one of: {', '.join(CRITERIA)}")
        limit = limit.strip()
        if not colon or not limit:
            raise BadValue("steadystate threshold must be specified in addition to criterion")
        if "%" in limit:
            return criterion, _float(limit.partition("%")[0].strip(), "percentage"), True
        if criterion.startswith("iops"):
            return criterion, _float(limit, "IOPS threshold"), False
        if criterion.startswith("lat"):
            return criterion, float(parse_time(limit, NS_PER_US)), False
        return criterion, float(parse_size(limit, ctx)), False

    def describe(self) -> list[str]:
        return [f"criterion: {', '.join(CRITERIA)}",
                "limit: N% of the mean, or IOPS, bytes/s or a latency (us)"]

    def show(self, value: Any) -> str:
        criterion, limit, pct = value
        return f"{criterion}:{limit:g}{'%' if pct else ''}"


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadValue(f"could not parse steadystate {what} {text!r}") from None


def steady_state(value: SsValue, dur_ns: int, ramp_ns: int, interval_ns: int, name: str,
                 where: str) -> SteadyState:
    """The job's SteadyState; fio keeps whole seconds of duration and interval."""
    criterion, limit, pct = value
    metric, _, slope = criterion.partition("_")
    dur_s = dur_ns // NS_PER_S
    if dur_s and interval_ns < NS_PER_S:
        raise InputError(f"job {name!r}: steadystate_check_interval must be at least 1s "
                         "(fio counts it in whole seconds)", where)
    if dur_s and dur_s < interval_ns // NS_PER_S:
        raise InputError(f"job {name!r}: steadystate_duration is shorter than "
                         "steadystate_check_interval", where)
    return SteadyState(metric=SsMetric(metric), slope=bool(slope), pct=pct, limit=limit,
                       dur_s=dur_s, ramp_ns=ramp_ns, interval_ms=interval_ns // 1_000_000)


def check_groups(plan: Plan) -> None:
    """fio's td_steadystate_init: the jobs of one group must agree on every steady-state
    option (a job without it included)."""
    for group in plan.groups:
        first = group.jobs[0]
        for job in group.jobs[1:]:
            if job.steadystate != first.steadystate and (job.steadystate.on
                                                         or first.steadystate.on):
                raise InputError(f"job {job.name!r}: job rejected: steadystate options must be "
                                 "consistent within reporting groups", job.source)
