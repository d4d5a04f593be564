"""Per-interval deltas and the per-job totals they add up to.

A worker measures ``IntervalStats`` deltas (never cumulative values) and sends one
per status interval; the controller adds them up (``merge``) per job, per group and
for the run.  Everything here merges by addition, so memory per job is constant
however long it runs, and the deltas of a job always sum to its final totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loadgen.stats import histogram, latbuckets
from loadgen.stats.mmstats import MmStats
from loadgen.stats.moments import Moments


@dataclass
class LatencyStat:
    """One latency kind (clat or lat) of one direction: exact moments plus fio's histogram."""

    moments: Moments = field(default_factory=Moments)
    hist: np.ndarray = field(default_factory=histogram.empty)

    def add_batch(self, samples_ns: np.ndarray) -> None:
        self.moments.add_batch(samples_ns)
        histogram.add_samples(self.hist, samples_ns)

    def merge(self, other: LatencyStat) -> None:
        self.moments.merge(other.moments)
        self.hist += other.hist


@dataclass
class DirStats:
    """One direction (read or write)."""

    ios: int = 0
    bytes: int = 0
    clat: LatencyStat = field(default_factory=LatencyStat)
    lat: LatencyStat = field(default_factory=LatencyStat)
    # fio's bw/iops window samples (bwavgtime/iopsavgtime windows, default 500 ms):
    # bw in KiB/s, iops in ops/s; only full windows count, as in fio.
    bw_samples: Moments = field(default_factory=Moments)
    iops_samples: Moments = field(default_factory=Moments)

    def merge(self, other: DirStats) -> None:
        self.ios += other.ios
        self.bytes += other.bytes
        self.clat.merge(other.clat)
        self.lat.merge(other.lat)
        self.bw_samples.merge(other.bw_samples)
        self.iops_samples.merge(other.iops_samples)


@dataclass(frozen=True)
class SsSample:
    """One job's counts over one steady-state check interval (fio's steadystate_check
    reads them every ``ss_interval`` ms): the ``index``-th interval point from the job's
    steady-state origin, ``span_ns`` since the last point (or the measured start),
    ``elapsed_ns`` of the measured window at the point; I/Os and bytes of both directions
    and the sum and count of their completion latencies (ns)."""

    index: int
    span_ns: int
    elapsed_ns: int
    ios: int
    bytes: int
    lat_sum: int
    lat_n: int


@dataclass
class IntervalStats:
    """What one worker did in one interval (or, after merging, in a whole job)."""

    thread_number: int = 0
    t_start_ns: int = 0  # CLOCK_MONOTONIC, worker side
    t_end_ns: int = 0
    runtime_ns: int = 0  # measured-window time (ramp excluded) in this interval
    dirs: tuple[DirStats, DirStats] = field(default_factory=lambda: (DirStats(), DirStats()))
    latency_buckets: np.ndarray = field(default_factory=latbuckets.empty)
    minf: int = 0
    majf: int = 0
    ctx: int = 0
    usr_ns: int = 0
    sys_ns: int = 0
    final: bool = False  # the worker's last interval of the job
    # The run-wide status-interval grid: every worker of a run reports on the same grid,
    # origin = the run's first release (CLOCK_MONOTONIC), one point every status interval.
    # A delta with interval_index k covers [origin + (k-1)*I, origin + k*I) clipped to the
    # job's own measured window, so records of one k can be grouped across jobs.
    interval_index: int = 0
    # set once per job (in the interval they happen):
    first_op_ns: int = 0  # CLOCK_MONOTONIC of the first measured operation
    # fio's job_start: clock_gettime(job_start_clock_id) in ms at the measured window's
    # start (fio's epoch), sent with first_op_ns
    job_start_ms: int = 0
    overhead_ns: float = 0.0  # the loop's own per-op cost on non-faulting memory
    anon_huge_bytes: int = 0  # AnonHugePages of the job's region at job end (smaps)
    uss_bytes: int = 0  # the worker process's USS at job end, region still mapped (smaps)
    error: int = 0  # errno-style; 0 = ok
    error_text: str = ""
    # ns the worker spent blocked writing stats to the controller's pipe (sent with the
    # final interval, so a slow aggregator that perturbed the loop is visible)
    report_block_ns: int = 0
    # the region's own calls and fault kinds, once per job with its final interval
    mm: MmStats | None = None
    # fsync/fdatasync/sync_file_range: issued, and their latency (fio's "sync" block; the
    # page_fault engine completes them at once)
    syncs: int = 0
    sync: LatencyStat = field(default_factory=LatencyStat)

    def merge(self, other: IntervalStats) -> None:
        """Add ``other`` (a later delta, or another worker) into this total."""
        if not self.t_start_ns or (other.t_start_ns and other.t_start_ns < self.t_start_ns):
            self.t_start_ns = other.t_start_ns
        self.t_end_ns = max(self.t_end_ns, other.t_end_ns)
        self.runtime_ns += other.runtime_ns
        for mine, theirs in zip(self.dirs, other.dirs, strict=True):
            mine.merge(theirs)
        self.latency_buckets += other.latency_buckets
        self.syncs += other.syncs
        self.sync.merge(other.sync)
        self.minf += other.minf
        self.majf += other.majf
        self.ctx += other.ctx
        self.usr_ns += other.usr_ns
        self.sys_ns += other.sys_ns
        self.final = self.final or other.final
        self.interval_index = max(self.interval_index, other.interval_index)
        if other.first_op_ns and (not self.first_op_ns or other.first_op_ns < self.first_op_ns):
            self.first_op_ns = other.first_op_ns
        self.job_start_ms = self.job_start_ms or other.job_start_ms
        self.overhead_ns = self.overhead_ns or other.overhead_ns
        self.anon_huge_bytes += other.anon_huge_bytes
        self.uss_bytes += other.uss_bytes  # summed: a total over processes (threads share one)
        self.report_block_ns += other.report_block_ns
        self.mm = other.mm or self.mm  # a job's, not a sum: the reports read it per job
        if other.error and not self.error:
            self.error, self.error_text = other.error, other.error_text
