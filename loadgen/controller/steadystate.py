"""fio's steady-state check (steadystate.c), fed by the workers' steady-state samples.

One ``Tracker`` per job, or per group with ``group_reporting`` (fio keeps the group's ring
in its last job).  Each worker sends its job's counts at every ``ss_interval`` point of the
job's steady-state clock (``SsSample``); fio's helper thread reads the same counts on a
timer of that period.  A member's sample turns into fio's rates (``rate_time * delta /
(interval * interval / 1000)``, rate_time the ms since the member's previous point), the
running members' rates are summed, and the sum is judged once every running member has
reported the point.  Each judged sample goes into fio's ring of ``dur / interval`` entries
and, once the ring is full, the criterion (slope or maximum deviation, absolute or in
percent of the mean) is computed exactly as fio does; when it is below the limit the
members are stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from loadgen.plan import Group, SsMetric, SteadyState
from loadgen.results import SteadyStateResult
from loadgen.stats.jobstats import SsSample

NS_PER_MS = 1_000_000


@dataclass
class _Sample:
    """One point's sums over the members past their ``ss_ramp`` (fio's group_*)."""

    iops: int = 0
    bw: int = 0
    lat_sum: int = 0
    lat_n: int = 0
    counted: int = 0  # members whose sample counted (fio's group_ramp_time_over)


@dataclass
class Tracker:
    """One ring; ``members`` are thread numbers."""

    ss: SteadyState
    members: tuple[int, ...]
    result: SteadyStateResult = field(default_factory=SteadyStateResult)
    live: set[int] = field(default_factory=set)
    reached: dict[int, int] = field(default_factory=dict)  # member -> last point seen
    samples: dict[int, _Sample] = field(default_factory=dict)  # point -> sums
    next_sample: int = -1  # the next point to judge (-1: none seen yet)
    sum_x: int = 0
    sum_x_sq: int = 0
    sum_y: int = 0
    sum_xy: int = 0
    oldest_y: int = 0

    def __post_init__(self) -> None:
        n = self.ss.intervals
        self.result = SteadyStateResult(bw=[0] * n, iops=[0] * n, lat=[0] * n)
        self.sum_x = n * (n - 1) // 2
        self.sum_x_sq = (n - 1) * n * (2 * n - 1) // 6
        self.live = set(self.members)

    def add(self, thread_number: int, sample: SsSample) -> bool:
        """Take one member's sample; True when steady state was attained by it."""
        if self.result.attained or thread_number not in self.live:
            return False
        if self.next_sample < 0:
            self.next_sample = sample.index
        interval_ms = self.ss.interval_ms
        sums = self.samples.setdefault(sample.index, _Sample())
        # fio starts recording one check interval after ss_ramp, per job
        if sample.elapsed_ns >= self.ss.ramp_ns + interval_ms * NS_PER_MS or not self.ss.ramp_ns:
            rate_ms = sample.span_ns // NS_PER_MS
            per = max(interval_ms * interval_ms // 1000, 1)
            sums.iops += rate_ms * sample.ios // per
            sums.bw += rate_ms * sample.bytes // per
            sums.lat_sum += sample.lat_sum
            sums.lat_n += sample.lat_n
            sums.counted += 1
        self.reached[thread_number] = max(self.reached.get(thread_number, -1), sample.index)
        return self._judge()

    def end(self, thread_number: int) -> bool:
        """A member ended: fio checks running jobs only (True: the rest attained)."""
        if self.result.attained or thread_number not in self.live:
            return False
        self.live.discard(thread_number)
        return self._judge()

    def _judge(self) -> bool:
        while (
            self.next_sample >= 0
            and self.live
            and all(self.reached.get(m, -1) >= self.next_sample for m in self.live)
        ):
            sums = self.samples.pop(self.next_sample, _Sample())
            self.next_sample += 1
            if not sums.counted:
                continue
            lat = sums.lat_sum / sums.lat_n if sums.lat_n else 0.0
            if self._check(sums.iops, sums.bw, lat):
                self.result.attained = True
                return True
        return False

    def _y(self, i: int) -> int:
        r = self.result
        metric = self.ss.metric
        return r.iops[i] if metric is SsMetric.IOPS else r.bw[i] if metric is SsMetric.BW \
            else r.lat[i]

    def _check(self, iops: int, bw: int, lat: float) -> bool:
        """fio's steadystate_slope / steadystate_deviation, step by step."""
        r = self.result
        n = self.ss.intervals
        r.bw[r.tail], r.iops[r.tail], r.lat[r.tail] = bw, iops, int(lat)
        new_val = self._y(r.tail)
        if r.buffer_full or r.tail - r.head == n - 1:
            if not r.buffer_full:
                self.sum_y = sum(self._y(i) for i in range(n))
                if self.ss.slope:
                    self.sum_xy += sum(i * self._y((r.head + i) % n) for i in range(n))
                r.buffer_full = True
            else:
                self.sum_y += new_val - self.oldest_y
                if self.ss.slope:
                    self.sum_xy = self.sum_xy - self.sum_y + n * new_val
            self.oldest_y = self._y(r.head)
            if self.ss.slope:
                denominator = self.sum_x_sq - self.sum_x * self.sum_x / n
                # fio divides by zero here (one sample, no I/O): never steady
                r.slope = _ratio(self.sum_xy - self.sum_x * self.sum_y / n, denominator)
                r.criterion = 100.0 * _ratio(r.slope, self.sum_y / n) if self.ss.pct else r.slope
                if abs(r.criterion) < self.ss.limit:
                    return True
            else:
                mean = self.sum_y / n
                r.deviation = max(abs(self._y(i) - mean) for i in range(n))
                r.criterion = 100.0 * _ratio(r.deviation, mean) if self.ss.pct else r.deviation
                if r.criterion < self.ss.limit:
                    return True
        r.tail = (r.tail + 1) % n
        if (r.tail <= r.head) if self.ss.slope else (r.tail == r.head):
            r.head = (r.head + 1) % n
        return False


def _ratio(a: float, b: float) -> float:
    """a / b, with C's answer where b is 0 (inf, or nan for 0/0: never below a limit)."""
    if b:
        return a / b
    return math.nan if a == 0 else math.copysign(math.inf, a)


def trackers(group: Group) -> dict[int, Tracker]:
    """The group's trackers by member thread number (one shared by a reporting group)."""
    out: dict[int, Tracker] = {}
    jobs = [job for job in group.jobs if job.steadystate.on]
    if not jobs:
        return out
    units = ([tuple(jobs)] if jobs[0].group_reporting else [(job,) for job in jobs])
    for unit in units:
        tracker = Tracker(unit[0].steadystate, tuple(j.thread_number for j in unit))
        for job in unit:
            out[job.thread_number] = tracker
    return out
