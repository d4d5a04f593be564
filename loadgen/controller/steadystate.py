"""fio's steady-state check (steadystate.c), fed by the workers' interval deltas.

One ``Tracker`` per job, or per group with ``group_reporting`` (fio keeps the group's ring
in its last job).  A sample is one check interval: the deltas of every member whose grid
index falls in it, summed; it is judged once every running member has reported past it.
Each sample goes into fio's ring of ``dur / interval`` entries and, once the ring is full,
the criterion (slope or maximum deviation, absolute or in percent of the mean) is computed
exactly as fio does; when it is below the limit the members are stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen.plan import Group, SsMetric, SteadyState
from loadgen.results import SteadyStateResult
from loadgen.stats.jobstats import IntervalStats

NS_PER_MS = 1_000_000


@dataclass
class _Sample:
    ios: int = 0
    bytes: int = 0
    lat_sum: float = 0.0
    lat_n: int = 0


@dataclass
class Tracker:
    """One ring; ``members`` are thread numbers, ``step`` grid intervals make one sample."""

    ss: SteadyState
    members: tuple[int, ...]
    step: int
    grid_ns: int
    result: SteadyStateResult = field(default_factory=SteadyStateResult)
    live: set[int] = field(default_factory=set)
    reached: dict[int, int] = field(default_factory=dict)  # member -> last grid index seen
    samples: dict[int, _Sample] = field(default_factory=dict)  # sample number -> sums
    next_sample: int = 1
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

    def add(self, thread_number: int, delta: IntervalStats, index: int,
            elapsed_at: Callable[[int], int]) -> bool:
        """Take one member's delta (grid ``index``); True when steady state was attained
        by it.  ``elapsed_at(k)``: ns of the job's run at the end of grid interval k."""
        if self.result.attained or thread_number not in self.live:
            return False
        if delta.final:  # the member ended: fio checks running jobs only
            self.live.discard(thread_number)
        else:
            sample = self.samples.setdefault(-(-index // self.step), _Sample())
            for d in delta.dirs:
                sample.ios += d.ios
                sample.bytes += d.bytes
                sample.lat_sum += d.clat.moments.mean * d.clat.moments.n
                sample.lat_n += d.clat.moments.n
            self.reached[thread_number] = max(self.reached.get(thread_number, 0), index)
        return self._judge(elapsed_at)

    def _judge(self, elapsed_at: Callable[[int], int]) -> bool:
        interval_ns = self.ss.interval_ms * NS_PER_MS
        while self.live and all(self.reached.get(m, 0) >= self.next_sample * self.step
                                for m in self.live):
            number = self.next_sample
            self.next_sample += 1
            sample = self.samples.pop(number, _Sample())
            # fio starts recording one check interval after ss_ramp
            if self.ss.ramp_ns and elapsed_at(number * self.step) < self.ss.ramp_ns + interval_ns:
                continue
            span_ms = self.step * self.grid_ns // NS_PER_MS
            iops = sample.ios * 1000 // max(span_ms, 1)
            bw = sample.bytes * 1000 // max(span_ms, 1)
            lat = sample.lat_sum / sample.lat_n if sample.lat_n else 0.0
            if self._check(iops, bw, lat):
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


def trackers(group: Group, grid_ns: int) -> dict[int, Tracker]:
    """The group's trackers by member thread number (one shared by a reporting group)."""
    out: dict[int, Tracker] = {}
    jobs = [job for job in group.jobs if job.steadystate.on]
    if not jobs:
        return out
    step = max(1, round(jobs[0].steadystate.interval_ms * NS_PER_MS / max(grid_ns, 1)))
    units = ([tuple(jobs)] if jobs[0].group_reporting else [(job,) for job in jobs])
    for unit in units:
        tracker = Tracker(unit[0].steadystate, tuple(j.thread_number for j in unit), step,
                          grid_ns)
        for job in unit:
            out[job.thread_number] = tracker
    return out

