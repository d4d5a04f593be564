"""fio's report entries: one per worker, or one per ``group_reporting`` run of workers.

Every output format (json, json+, normal, terse) prints the same entries, so the
merging rules of fio's ``__show_run_stats``/``sum_thread_stats`` live here once:
consecutive workers of one group that all have ``group_reporting`` become one entry
named after the first; counts and histograms add up, per-direction runtime is the
max, latency moments merge exactly, and bw/iops window stats are *summed* field by
field (min+min, mean+mean), because fio reports the group's aggregate rate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from loadgen.plan import READ, WRITE, Job
from loadgen.results import GroupResult, JobResult, RunResult, SteadyStateResult
from loadgen.stats import histogram, latbuckets
from loadgen.stats.jobstats import LatencyStat
from loadgen.stats.moments import Moments

DIRECTIONS = (READ, WRITE)


def runtime_ms(runtime_ns: int) -> int:
    """fio's per-direction runtime: microseconds rounded up to whole milliseconds."""
    return (runtime_ns // 1000 + 999) // 1000


def does_direction(job: Job, ddir: int) -> bool:
    """fio's td_read/td_write: whether the job's rw mode includes this direction."""
    return job.rw.reads if ddir == READ else job.rw.writes


def sum_rate_moments(dst: Moments, src: Moments) -> None:
    """fio's ``sum_stat(pure_sum=true)`` for bw/iops samples: add every field."""
    if src.n == 0:
        return
    if dst.n == 0:
        dst.n, dst.mean, dst.m2, dst.min, dst.max = src.n, src.mean, src.m2, src.min, src.max
        return
    dst.n += src.n
    dst.mean += src.mean
    dst.m2 += src.m2
    dst.min += src.min
    dst.max += src.max


@functools.lru_cache(maxsize=64)
def _sorted_percentiles(plist: tuple[float, ...]) -> tuple[float, ...]:
    """Cached: each entry asks for its job's list several times per report."""
    return tuple(sorted(plist))


@functools.lru_cache(maxsize=64)
def _percentile_precision(plist: tuple[float, ...]) -> int:
    """Cached with the list: a repr() of every percentile, per entry and block otherwise."""
    return max(len(repr(float(p)).partition(".")[2].rstrip("0")) for p in plist)


# The histogram of an entry's stat before its first member: read-only and shared, so a
# storm's entries allocate (and fault in) no histograms of their own; see ``add_latency``.
_NO_SAMPLES = histogram.empty()
_NO_SAMPLES.flags.writeable = False
_NO_LATENCIES = latbuckets.empty()  # the same for the latency buckets
_NO_LATENCIES.flags.writeable = False


def unsampled() -> LatencyStat:
    """A stat with no samples yet, for ``add_latency`` to fold members into."""
    return LatencyStat(Moments(), _NO_SAMPLES)


def add_latency(mine: LatencyStat, theirs: LatencyStat) -> None:
    """``LatencyStat.merge`` that never writes a histogram in place: the first one added
    is shared, later ones make a new sum.  An entry only reads its histograms, so a
    one-worker entry (every entry of a storm without group_reporting) costs no copy."""
    mine.moments.merge(theirs.moments)
    mine.hist = theirs.hist if mine.hist is _NO_SAMPLES else mine.hist + theirs.hist


@dataclass
class DirEntry:
    """One direction of one entry (fio's per-ddir fields of ``thread_stat``)."""

    runtime_ms: int = 0
    io_bytes: int = 0
    total_ios: int = 0
    clat: LatencyStat = field(default_factory=unsampled)
    lat: LatencyStat = field(default_factory=unsampled)
    bw: Moments = field(default_factory=Moments)
    iops: Moments = field(default_factory=Moments)


@dataclass
class Entry:
    """One report entry: fio's ``thread_stat`` after group_reporting."""

    job: Job  # the first member: name, options, percentile settings
    members: list[JobResult] = field(default_factory=list)
    group: GroupResult | None = None
    dirs: tuple[DirEntry, DirEntry] = field(default_factory=lambda: (DirEntry(), DirEntry()))
    usr_ms: int = 0
    sys_ms: int = 0
    ctx: int = 0
    majf: int = 0
    minf: int = 0
    total_run_time_ms: int = 0
    latency_buckets: np.ndarray = field(default_factory=lambda: _NO_LATENCIES)  # add() replaces it
    error: int = 0
    error_text: str = ""
    # unified_rw_reporting=both: reads and writes summed, reported after them ("mixed")
    mixed: DirEntry | None = None
    syncs: int = 0  # fsync/fdatasync/sync_file_range issued (fio's total_io_u[DDIR_SYNC])
    sync: LatencyStat = field(default_factory=unsampled)

    @property
    def unified(self) -> str:
        """The job's unified_rw_reporting: none, mixed (dirs[0] holds both) or both."""
        return self.job.unified_rw_reporting

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def groupid(self) -> int:
        return self.job.group_id

    @property
    def pid(self) -> int:
        return self.members[0].pid if self.members else 0

    @property
    def job_start_ms(self) -> int:
        return self.members[0].start_epoch_ms if self.members else 0

    @property
    def steadystate(self) -> SteadyStateResult | None:
        """The steady-state ring (one for the whole group with group_reporting)."""
        return next((m.steadystate for m in self.members if m.steadystate is not None), None)

    @property
    def total_ios(self) -> int:
        return sum(d.total_ios for d in self.dirs)

    @property
    def percentile_list(self) -> tuple[float, ...]:
        return _sorted_percentiles(self.job.percentile_list or histogram.DEFAULT_PERCENTILES)

    @property
    def percentile_precision(self) -> int:
        """Decimals on text percentile labels: fio counts the most digits after '.' in the list."""
        return _percentile_precision(self.percentile_list)

    def add(self, member: JobResult) -> None:
        """Fold one worker in, with fio's ``sum_thread_stats`` rules."""
        totals = member.totals
        for ddir in DIRECTIONS:
            mine, theirs = self.dirs[ddir], totals.dirs[ddir]
            add_latency(mine.clat, theirs.clat)
            add_latency(mine.lat, theirs.lat)
            sum_rate_moments(mine.bw, theirs.bw_samples)
            sum_rate_moments(mine.iops, theirs.iops_samples)
            mine.io_bytes += theirs.bytes
            mine.total_ios += theirs.ios
            if does_direction(member.job, ddir):
                mine.runtime_ms = max(mine.runtime_ms, runtime_ms(totals.runtime_ns))
        self.usr_ms += totals.usr_ns // 1_000_000
        self.sys_ms += totals.sys_ns // 1_000_000
        self.ctx += totals.ctx
        self.majf += totals.majf
        self.minf += totals.minf
        self.total_run_time_ms += totals.runtime_ns // 1_000_000
        self.latency_buckets = totals.latency_buckets if self.latency_buckets is _NO_LATENCIES \
            else self.latency_buckets + totals.latency_buckets
        self.syncs += totals.syncs
        add_latency(self.sync, totals.sync)
        error = member.error or totals.error
        if error and not self.error:
            self.error = error
            self.error_text = member.error_text or totals.error_text
        self.members.append(member)

    @property
    def usr_cpu(self) -> float:
        return self.usr_ms * 100 / self.total_run_time_ms if self.total_run_time_ms else 0.0

    @property
    def sys_cpu(self) -> float:
        return self.sys_ms * 100 / self.total_run_time_ms if self.total_run_time_ms else 0.0

    def latency_percent(self) -> list[float]:
        """fio's ``stat_calc_lat``: % of all I/Os per bucket, non-zero values at least 0.01."""
        total = self.total_ios
        out = []
        for count in self.latency_buckets.tolist():
            if not total:
                out.append(0.0)
                continue
            pct = count / total * 100.0
            out.append(0.01 if count and pct < 0.01 else pct)
        return out

    def depth_percent(self) -> list[float]:
        """IO depth distribution: every I/O is depth 1 (a sync engine); fio counts the
        syncs issued in it but not in the reads and writes it divides by."""
        depth1 = 100.0 * (self.total_ios + self.syncs) / self.total_ios if self.total_ios else 0.0
        return [depth1] + [0.0] * 6

    def submit_percent(self) -> list[float]:
        """Submit/complete distribution: fio puts one-at-a-time submits in the "4" bucket."""
        return [0.0, 100.0 if self.total_ios else 0.0] + [0.0] * 5


@dataclass
class GroupRunStats:
    """fio's ``group_run_stats``: the "Run status group" line and bw_agg's denominator."""

    groupid: int
    kb_base: int = 1024
    unit_base: int = 8
    sig_figs: int = 4  # fio's rs->sig_figs: the last entry's significant_figures
    unified: str = "none"  # fio's rs->unified_rw_rep: the last entry's
    min_run: list[int] = field(default_factory=lambda: [0, 0])
    max_run: list[int] = field(default_factory=lambda: [0, 0])
    min_bw: list[int] = field(default_factory=lambda: [0, 0])
    max_bw: list[int] = field(default_factory=lambda: [0, 0])
    io_bytes: list[int] = field(default_factory=lambda: [0, 0])

    def agg(self, ddir: int) -> int:
        """Aggregate bytes/s: the group's bytes over its longest runtime."""
        return self.io_bytes[ddir] * 1000 // self.max_run[ddir] if self.max_run[ddir] else 0

    def add(self, entry: Entry) -> None:
        self.kb_base, self.unit_base = entry.job.kb_base, entry.job.unit_base
        self.sig_figs = entry.job.significant_figures
        self.unified = entry.unified
        for ddir in DIRECTIONS:
            d = entry.dirs[ddir]
            if not d.runtime_ms:
                continue
            bw = d.io_bytes * 1000 // d.runtime_ms
            first = self.max_run[ddir] == 0
            self.min_run[ddir] = d.runtime_ms if first else min(self.min_run[ddir], d.runtime_ms)
            self.max_run[ddir] = max(self.max_run[ddir], d.runtime_ms)
            self.min_bw[ddir] = bw if first else min(self.min_bw[ddir], bw)
            self.max_bw[ddir] = max(self.max_bw[ddir], bw)
            self.io_bytes[ddir] += d.io_bytes


def build_entries(result: RunResult) -> list[Entry]:
    """The report entries in fio's order: workers in thread order, group_reporting runs merged."""
    entries: list[Entry] = []
    for group in result.groups:
        for member in group.jobs:
            if not member.job.stats:  # stats=0: left out of every report, as in fio
                continue
            last = entries[-1] if entries else None
            # fio's __show_run_stats: a group_reporting job joins the entry before it when
            # that entry is of its group, whether or not the entry's first job had the option
            merge = (
                last is not None
                and member.job.group_reporting
                and last.groupid == member.job.group_id
            )
            if not merge:
                last = Entry(job=member.job, group=group)
                entries.append(last)
            assert last is not None
            last.add(member)
    for entry in entries:
        if entry.unified == "mixed":
            entry.dirs = (mixed_of(entry.dirs), DirEntry())
        elif entry.unified == "both":
            entry.mixed = mixed_of(entry.dirs)
    return entries


def mixed_of(dirs: tuple[DirEntry, ...]) -> DirEntry:
    """fio's ``sum_thread_stats`` with unified_rw_reporting=mixed: every direction summed into
    one (latencies merged, bw/iops samples added as fio's pure sums, the longest runtime)."""
    out = DirEntry()
    for d in dirs:
        add_latency(out.clat, d.clat)
        add_latency(out.lat, d.lat)
        sum_rate_moments(out.bw, d.bw)
        sum_rate_moments(out.iops, d.iops)
        out.io_bytes += d.io_bytes
        out.total_ios += d.total_ios
        out.runtime_ms = max(out.runtime_ms, d.runtime_ms)
    return out


def group_run_stats(entries: list[Entry], result: RunResult) -> dict[int, GroupRunStats]:
    """One ``GroupRunStats`` per group id 0..max (fio prints every id, even empty ones)."""
    ids = [g.id for g in result.groups] + [e.groupid for e in entries]
    stats = {gid: GroupRunStats(gid) for gid in range(max(ids) + 1)} if ids else {}
    for entry in entries:
        stats[entry.groupid].add(entry)
    return stats


def bw_agg_percent(mean_kib: float, rs: GroupRunStats, ddir: int) -> float:
    """fio's ``convert_agg_kbytes_percent`` (json and normal): the mean's share of the group's
    rate."""
    agg = rs.agg(ddir)
    if agg <= 1024:
        return 100.0
    return min(100.0, int(mean_kib) * 100.0 / (agg / 1024.0))
