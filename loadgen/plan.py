"""The resolved plan: what will run, as frozen plain data.

The job-file language (``loadgen.jobfile``) resolves job files into a ``Plan``;
the controller runs it group by group and hands each worker one ``Job``.  Every
size is in bytes, every time in nanoseconds, every per-direction value is a
``(read, write)`` pair (trim is rejected for anonymous memory).  These objects
cross the process boundary, so they hold only plain values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

READ = 0
WRITE = 1
SYNC = 2  # a replayed log's sync/datasync line (read_iolog): no data, the engine's sync

Pair = tuple[int, int]
# numa_mem_policy: (mode, nodes), mode one of default|prefer|bind|interleave|local
NumaPolicy = tuple[str, tuple[int, ...]]
MAX_FLOWS = 256  # distinct flow_id values of one run (slots of loadgen.engine.flow's table)


class RwMode(StrEnum):
    """fio's ``rw`` modes that have a meaning for anonymous memory (trim has none).

    The one place that knows which modes are random, mixed, reading or writing; the
    option table lists the accepted spellings (``readwrite`` is fio's alias of ``rw``).
    """

    READ = "read"
    WRITE = "write"
    RANDREAD = "randread"
    RANDWRITE = "randwrite"
    RW = "rw"
    RANDRW = "randrw"

    @classmethod
    def _missing_(cls, value: object) -> RwMode | None:
        return RW_ALIASES.get(value) if isinstance(value, str) else None

    @property
    def random(self) -> bool:
        return self in (RwMode.RANDREAD, RwMode.RANDWRITE, RwMode.RANDRW)

    @property
    def mixed(self) -> bool:
        return self in (RwMode.RW, RwMode.RANDRW)

    @property
    def reads(self) -> bool:
        return self in (RwMode.READ, RwMode.RANDREAD, RwMode.RW, RwMode.RANDRW)

    @property
    def writes(self) -> bool:
        return self in (RwMode.WRITE, RwMode.RANDWRITE, RwMode.RW, RwMode.RANDRW)


# fio's other spellings of a mode (``RwMode("readwrite")`` is ``RwMode.RW``)
RW_ALIASES: dict[str, RwMode] = {"readwrite": RwMode.RW}
# fio's modes that trim: refused (anonymous memory cannot be trimmed)
TRIM_MODES = ("trim", "randtrim", "trimwrite", "randtrimwrite")


class Backing(StrEnum):
    """What the job's region maps (``backing=``); ANON is fio's page_fault engine."""

    ANON = "anon"  # MAP_PRIVATE|MAP_ANONYMOUS
    SHARED = "shared"  # MAP_SHARED|MAP_ANONYMOUS: shmem faults
    MEMFD = "memfd"  # memfd_create + MAP_SHARED
    FILE = "file"  # filename=, MAP_SHARED: page-cache faults
    HUGETLB = "hugetlb"  # MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB, hugepage_size pages


class Refault(StrEnum):
    """What happens to the region between passes (``refault=``); NONE is fio."""

    NONE = "none"
    DONTNEED = "dontneed"  # madvise(MADV_DONTNEED): the next touch faults again
    REMAP = "remap"  # a fresh mapping at the same address: the next touch faults again
    PAGEOUT = "pageout"  # madvise(MADV_PAGEOUT): the next touch swaps in where swap exists


class Mlock(StrEnum):
    """``mlock=``: lock the region (and fault it all in at setup), or lock pages as they fault."""

    OFF = "0"
    ON = "1"
    ONFAULT = "onfault"


@dataclass(frozen=True)
class MemoryControls:
    """loadgen's memory-management options of one job; the defaults are fio's engine exactly."""

    backing: Backing = Backing.ANON
    filename: str = ""  # backing=file: the file (created and removed by loadgen unless it existed)
    hugepage_size: int = 0  # backing=hugetlb: page size in bytes; 0 = the system's default size
    refault: Refault = Refault.NONE
    populate: bool = False  # MAP_POPULATE at setup
    mlock: Mlock = Mlock.OFF
    ksm: bool = False  # MADV_MERGEABLE
    cold: bool = False  # MADV_COLD after every pass
    collapse: bool = False  # MADV_COLLAPSE after the first pass
    thp_delay_ns: int = 0  # thp=madvise: MADV_NOHUGEPAGE first, MADV_HUGEPAGE after this long
    thp_delay_passes: int = 0  # ... or after this many passes
    mthp: tuple[tuple[int, str], ...] = ()  # (folio size in bytes, policy) set in sysfs for the job
    memory_limit: int = 0  # bytes; >0 = the job's workers run in a memory cgroup of their own
    memory_high: int = 0  # bytes; memory.high of that cgroup (cgroup v2)
    fault_kinds: bool = False  # count first-touch reads/writes and COW faults (engine.faultkinds)

    @property
    def per_pass(self) -> bool:
        """Whether the region has work to do at the end of a pass (see Region.end_pass)."""
        return (self.refault is not Refault.NONE or self.cold or self.collapse
                or bool(self.thp_delay_ns or self.thp_delay_passes))

    @property
    def cgroup(self) -> bool:
        return bool(self.memory_limit or self.memory_high)


class MemKind(StrEnum):
    """fio's ``mem``/``iomem`` types: what backs a job's I/O buffers (loadgen.engine.iomem)."""

    MALLOC = "malloc"
    SHM = "shm"
    SHMHUGE = "shmhuge"
    MMAP = "mmap"
    MMAPHUGE = "mmaphuge"
    MMAPSHARED = "mmapshared"

    @property
    def takes_file(self) -> bool:
        return self in (MemKind.MMAP, MemKind.MMAPHUGE, MemKind.MMAPSHARED)

    @property
    def huge(self) -> bool:
        return self in (MemKind.SHMHUGE, MemKind.MMAPHUGE)


class RateProcess(StrEnum):
    """``rate_process``: how the I/Os of a rated job are spaced (fio)."""

    LINEAR = "linear"  # evenly: an I/O may start once the bytes before it are due
    POISSON = "poisson"  # exponential gaps: a Poisson arrival process of the rate's IOPS


@dataclass(frozen=True)
class RateControls:
    """Pacing of one job's I/Os: rates, think-time extras, latency limits (fio's options).

    Per-direction values are (read, write) pairs; 0 = no limit.  Rates are per second.
    """

    rate: Pair = (0, 0)  # bytes/s
    rate_min: Pair = (0, 0)  # bytes/s, checked every rate_cycle_ms after 2 s (fio)
    rate_iops: Pair = (0, 0)
    rate_iops_min: Pair = (0, 0)
    process: RateProcess = RateProcess.LINEAR
    cycle_ms: int = 1000
    ignore_thinktime: bool = False
    thinktime_iotime_ns: int = 0  # think once this long has passed since the last think
    thinktime_blocks_set: bool = False  # thinktime_blocks other than 1: counts with iotime
    thinkcycles: int = 0  # busy-loop iterations after each I/O
    thinktime_blocks_type: str = "complete"  # complete|issue: the same for a sync engine
    max_latency_ns: tuple[int, int] = (0, 0)  # a completion latency above this fails the job
    latency_target_ns: int = 0
    latency_window_ns: int = 0
    latency_percentile: float = 100.0
    latency_run: bool = False

    @property
    def paced(self) -> bool:
        return any(self.rate) or any(self.rate_iops)

    @property
    def checks_min(self) -> bool:
        return any(self.rate_min) or any(self.rate_iops_min)


class VerifyKind(StrEnum):
    """``verify``: what a written block carries for the verify phase to check (fio)."""

    NONE = "0"
    MD5 = "md5"
    CRC64 = "crc64"
    CRC32C = "crc32c"
    CRC32C_INTEL = "crc32c-intel"
    CRC32 = "crc32"
    CRC16 = "crc16"
    CRC7 = "crc7"
    XXHASH = "xxhash"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"
    SHA3_224 = "sha3-224"
    SHA3_256 = "sha3-256"
    SHA3_384 = "sha3-384"
    SHA3_512 = "sha3-512"
    META = "meta"
    PATTERN = "pattern"
    PATTERN_HDR = "pattern_hdr"
    NULL = "null"

    @property
    def digest_bytes(self) -> int:
        """Bytes of the checksum stored after the header (0: none)."""
        return _DIGEST_BYTES.get(self.value, 0)

    @property
    def has_header(self) -> bool:
        return self not in (VerifyKind.NONE, VerifyKind.PATTERN, VerifyKind.NULL)


_DIGEST_BYTES = {"md5": 16, "crc64": 8, "crc32c": 4, "crc32c-intel": 4, "crc32": 4, "crc16": 2,
                 "crc7": 1, "xxhash": 4, "sha1": 20, "sha256": 32, "sha512": 64,
                 "sha3-224": 28, "sha3-256": 32, "sha3-384": 48, "sha3-512": 64}


@dataclass(frozen=True)
class VerifyControls:
    """fio's verify options of one job; ``kind`` NONE = no verification."""

    kind: VerifyKind = VerifyKind.NONE
    pattern: str = ""  # verify_pattern in hex; ``pattern_offset_at``: where %o goes (8 bytes)
    pattern_offset_at: tuple[int, ...] = ()
    interval: int = 0  # bytes per header; 0 = the block size
    offset: int = 0  # the header is swapped to this offset in the block
    do_verify: bool = True
    fatal: bool = False
    backlog: int = 0  # verify after this many written blocks (0 = after the write phase)
    backlog_batch: int = 0  # ... this many of them (0 = backlog)
    dump: bool = False
    only: bool = False
    # fio's verify state file (local-NAME-INDEX-verify.state): written at the end of a
    # write job, read by a verify_only job to check only the writes it records
    state_save: bool = True
    state_load: bool = False
    # fio's verify_write_sequence: a header's write number must be the block's latest
    # write's (off for verify_only unless given)
    write_sequence: bool = True

    @property
    def on(self) -> bool:
        return self.kind is not VerifyKind.NONE


@dataclass(frozen=True)
class BufferControls:
    """What written blocks hold (fio's buffer options); the defaults are fio's."""

    pattern: str = ""  # buffer_pattern in hex
    zero: bool = False
    refill: bool = False
    scramble: bool = True
    compress_percentage: int = 0
    compress_chunk: int = 512
    dedupe_percentage: int = 0
    # dedupe_mode=working_set: a duplicate takes the contents of one of the first
    # ``dedupe_working_set_pages`` unique writes, drawn at random (fio's num_unique_pages:
    # dedupe_working_set_percentage of size in minimum writes); 0 = repeat mode
    dedupe_working_set_pages: int = 0
    # dedupe_global: the working set is spread over the run's ``dedupe_workers`` workers
    # in thread-number order (fio's rotation); ``dedupe_randseeds`` holds each run of
    # thread numbers with one randseed as (first thread number, randseed)
    dedupe_global: bool = False
    dedupe_workers: int = 0
    dedupe_randseeds: tuple[tuple[int, int], ...] = ()


class SsMetric(StrEnum):
    """What ``steadystate`` watches (fio's FIO_SS_IOPS, _BW, _LAT)."""

    IOPS = "iops"
    BW = "bw"
    LAT = "lat"


@dataclass(frozen=True)
class SteadyState:
    """fio's ``steadystate`` options: the job stops once the last ``dur_s`` seconds of
    per-interval samples meet the criterion; ``dur_s`` 0 = off."""

    metric: SsMetric = SsMetric.IOPS
    slope: bool = True  # False: the maximum deviation from the mean
    pct: bool = True  # the limit is a percentage of the mean
    limit: float = 0.01  # iops, bytes/s, or ns; or percent with ``pct``
    dur_s: int = 0
    ramp_ns: int = 0  # samples start one interval after this much of the job
    interval_ms: int = 1000  # whole seconds (fio divides by interval_ms // 1000)

    @property
    def on(self) -> bool:
        return self.dur_s > 0

    @property
    def intervals(self) -> int:
        """Samples in the window (fio: dur / (interval_ms / 1000), integer division)."""
        return self.dur_s // max(self.interval_ms // 1000, 1)


@dataclass(frozen=True)
class BsSplitEntry:
    """One ``bssplit`` entry: blocks of ``bs`` bytes for ``pct`` percent of I/Os."""

    bs: int
    pct: int


@dataclass(frozen=True)
class Job:
    """One worker's job: a job section after [global] inheritance, one numjobs clone."""

    name: str
    thread_number: int  # 1-based over the whole run, in fio's order (fio log file suffix)
    subjob: int  # 0 for the original, N-1..1 for clones (fio's numbering)
    numjobs: int
    group_id: int
    # access pattern
    rw: RwMode = RwMode.READ
    rw_postfix: int = 0  # rw=<mode>:N
    rw_sequencer: str = "sequential"  # sequential|identical
    rwmixread: int = 50
    size: int = 0  # region and mmap length
    io_size: int = 0  # bytes of I/O per loop pass set; 0 = size
    number_ios: int = 0  # 0 = unlimited
    offset: int = 0
    offset_percent: int = 0  # offset=N% (the page_fault engine accepts it)
    offset_increment: int = 0
    bs_min: Pair = (4096, 4096)
    bs_max: Pair = (4096, 4096)
    bssplit: tuple[tuple[BsSplitEntry, ...], tuple[BsSplitEntry, ...]] = ((), ())
    blockalign: Pair = (4096, 4096)
    bs_unaligned: bool = False
    # random I/O takes its length from the write slot, the rest from the read slot, while
    # offsets keep each direction's own grid (a sequential job's slots are merged instead)
    bs_is_seq_rand: bool = False
    norandommap: bool = False
    random_generator: str = "tausworthe"
    random_distribution: str = "random"  # random|zipf|pareto|normal|zoned|zoned_abs|sequence
    # (theta|h|dev, center) for zipf/pareto/normal, fio's defaults filled in for a missing
    # parameter; center is -1.0 when not given (fio then rotates by a random offset)
    distribution_params: tuple[float, ...] = ()
    # random_distribution=sequence: block indices in order, cycling (fio's io_issues count
    # per direction picks one); random_sequence_stride moves each cycle on by its length
    random_sequence: tuple[int, ...] = ()
    random_sequence_stride: bool = False
    # zoned: per direction tuple of (access pct, region pct or bytes for zoned_abs)
    zones: tuple[tuple[tuple[float, int], ...], tuple[tuple[float, int], ...]] = ((), ())
    percentage_random: Pair = (100, 100)
    # zonemode=strided: zone_size bytes of I/O go to each zone of zone_range bytes, zones
    # zone_range + zone_skip apart (fio's zonesize/zonerange/zoneskip); 0 = no zones
    zone_size: int = 0
    zone_range: int = 0
    zone_skip: int = 0
    randrepeat: bool = True  # every loop re-seeds the streams (fio's rand_repeatable)
    randseed: int = 0x89
    randseed_set: bool = False  # the seeds come from randseed even without randrepeat
    loops: int = 1
    # time
    runtime_ns: int = 0  # 0 = no cap
    time_based: bool = False
    ramp_time_ns: int = 0
    ramp_size: int = 0  # bytes of ramp instead of a time (the group's with group_reporting)
    startdelay_ns: Pair = (0, 0)  # (lo, hi): a range picks per job
    thinktime_ns: int = 0
    thinktime_spin_ns: int = 0
    thinktime_blocks: int = 1
    # processes, groups, placement
    thread: bool = False
    stonewall: bool = False
    new_group: bool = False
    group_reporting: bool = False
    cpus_allowed: tuple[int, ...] = ()  # () = no restriction
    cpus_allowed_policy: str = "shared"  # shared|split
    # measurement
    gtod_reduce: bool = False
    clocksource: str = "cpu"  # cpu|clock_gettime|gettimeofday (loadgen.engine.clock)
    job_start_clock_id: int = 0  # the clock of fio's JSON job_start (clock_gettime id)
    disable_lat: bool = False
    disable_clat: bool = False
    disable_slat: bool = False
    disable_bw: bool = False
    clat_percentiles: bool = True
    lat_percentiles: bool = False
    slat_percentiles: bool = False
    percentile_list: tuple[float, ...] = ()  # () = fio's default list
    bwavgtime_ms: int = 500
    iopsavgtime_ms: int = 500
    # logs (prefix "" = not logged)
    write_bw_log: str = ""
    write_lat_log: str = ""
    write_iops_log: str = ""
    write_hist_log: str = ""
    log_avg_msec: int = 0
    log_hist_msec: int = 0
    log_hist_coarseness: int = 0  # hist log lines sum 2**N adjacent buckets (fio's stride)
    per_job_logs: bool = True
    log_store_compressed: bool = False  # bw/lat/iops logs as fio's .log.fz (loadgen.engine.fzlog)
    log_compression: int = 0  # record bytes per zlib stream of a .fz log (0 = 1 MiB)
    log_offset: bool = False  # per-I/O log lines carry the offset before prio
    log_unix_epoch: bool = False  # log times in ms since the Unix epoch (fio's alternate epoch)
    log_epoch_clock: int = 0  # the alternate epoch's clock (fio's log_alternate_epoch_clock_id)
    log_window_value: str = "avg"  # avg|max|both: what a log_avg_msec window line carries
    log_prio: bool = False  # the prio column is fio's ioprio value in hex, not "is RT"
    log_issue_time: bool = False  # a last column: the issue time in ns (clat/slat logs)
    # run control (fio's framework options the controller carries out)
    exitall: bool = False  # any job with it: every job's end stops others (fio's global flag)
    exitall_on_error: bool = False
    exit_what: str = "group"  # group|stonewall|all: which jobs an exitall stops
    stats: bool = True  # False: left out of the reports (fio's stats=0)
    wait_for: str = ""  # start when every worker of this (earlier) job has ended
    exec_prerun: str = ""  # shell command before the job; its output in NAME.prerun.txt
    exec_postrun: str = ""
    lockmem: int = 0  # bytes mlocked per worker while the job runs (fio's lockmem)
    continue_on_error: str = "none"  # none|read|write|io|verify|all
    ignore_error: tuple[tuple[int, ...], ...] = ((), (), ())  # read, write, verify errnos
    # placement and priority, set on the worker by the controller before it starts
    nice: int = 0
    ioprio_class: int = -1  # -1 = not set (fio's prioclass); 0 = best effort, as fio
    ioprio: int = -1  # -1 = not set (fio's prio)
    cgroup: str = ""  # blkio cgroup (v1) or cgroup2 directory the worker joins
    cgroup_weight: int = 0
    cgroup_nodelete: bool = False
    numa_cpu_nodes: tuple[int, ...] | None = None  # None = not set, () = all nodes
    numa_mem_policy: NumaPolicy | None = None  # bound to the region by the worker
    # loadgen engine options
    thp: str = "inherit"  # inherit|madvise|never
    mm: MemoryControls = MemoryControls()  # backing, refault, THP/KSM/mlock, memcg limits
    # what the controller does when the OOM killer takes this job's worker:
    # report|respawn|abort (loadgen.controller.outcome.next_action)
    oom_policy: str = "report"
    # per-I/O engine options: pacing, verification, buffer contents, the iolog written
    rate: RateControls = RateControls()
    verify: VerifyControls = VerifyControls()
    buffers: BufferControls = BufferControls()
    write_iolog: str = ""  # "" = none; else fio's iolog v3 of every I/O issued
    steadystate: SteadyState = SteadyState()  # the controller watches it (controller.steadystate)
    # fio's flow control (loadgen.engine.flow): jobs of one flow_id keep their I/O counts
    # in the ratio of their weights; 0 = not in a flow
    flow: int = 0
    flow_id: int = 0
    flow_sleep_us: int = 0  # sleep this long when held back (0: spin, as fio)
    flow_slot: int = 0  # the flow_id's slot in the run's shared flow table
    # fio's mem=/iomem=: what backs the write ring and read buffer (loadgen.engine.iomem)
    mem: MemKind = MemKind.MALLOC
    mem_file: str = ""  # mem=mmap:FILE (mmap, mmaphuge, mmapshared)
    mem_align: int = 0  # bytes past page alignment (fio's iomem_align)
    # a sync (counted, timed, completed at once) after every N writes; 0 = none
    fsync_blocks: int = 0
    fdatasync_blocks: int = 0
    sync_file_range_nr: int = 0
    # read_iolog replay (loadgen.replaylog): the log (an absolute path; "" = none) and how
    # its offsets and times are changed; the log was checked when the plan was made
    read_iolog: str = ""
    read_iolog_chunked: bool = False
    replay_no_stall: bool = False
    replay_time_scale: int = 100
    replay_scale: int = 1
    replay_align: int = 0
    replay_skip: tuple[str, ...] = ()
    replay_redirect: str = ""
    # reporting context
    kb_base: int = 1024
    unit_base: int = 8  # 8 = bytes, 1 = bits
    unified_rw_reporting: str = "none"  # none|mixed|both
    significant_figures: int = 4  # of the normal report's bandwidth and IOPS
    description: str = ""
    # the section's own options as written (after substitution), for JSON "job options"
    job_options: tuple[tuple[str, str], ...] = ()
    source: str = ""  # "FILE:LINE" of the section header, for messages

    @property
    def bytes_per_pass(self) -> int:
        return self.io_size or self.size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Group:
    """Jobs that start together; a group starts when every earlier group has finished."""

    id: int
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    # the global template options of each job file, as written, for JSON "global options"
    global_options: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = field(default=())

    @property
    def jobs(self) -> tuple[Job, ...]:
        return tuple(j for g in self.groups for j in g.jobs)


@dataclass(frozen=True)
class RunOptions:
    """Run-level command-line options (fio's ``--output-format`` and friends, plus loadgen's)."""

    output_format: tuple[str, ...] = ("normal",)  # normal|json|json+|terse, comma-combinable
    output: str = ""  # "" = stdout
    jsonl: str = ""  # "" = off, "-" = stdout
    status_interval_ns: int = 1_000_000_000
    status_interval_given: bool = False  # fio prints periodic stats only when asked to
    eta: str = "auto"  # auto|always|never
    eta_interval_ns: int = 1_000_000_000  # progress line refresh (fio --eta-interval)
    eta_newline_ns: int = 0  # 0 = one line rewritten in place; else a new line each period
    terse_version: int = 3  # fio --terse-version: 2, 3, 4 or 5
    command_line: tuple[str, ...] = ()
    prometheus: str = ""  # "" = off; else an OpenMetrics file rewritten every status interval
    # when a group's ready workers are released (loadgen.controller.release): at the
    # wall-clock instant start_at_ns (first group), or when the orchestrator on the
    # socket release_fd says go; 0 and -1 = at once
    start_at_ns: int = 0
    release_fd: int = -1
