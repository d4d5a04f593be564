"""THE option table: every job option loadgen accepts, and the fio options it refuses.

One declarative entry per option drives parsing (kind, aliases, prio), the job state it
writes (target, or an ``apply`` for options that touch several fields), ``--cmdhelp`` and
docs/options.md.  fio options that make no sense for anonymous memory are listed in
``UNSUPPORTED`` with the reason, so they fail loudly instead of being silently ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from loadgen.jobfile.access import Distribution, DistributionValue, Rw, RwValue, Zones
from loadgen.jobfile.engineopts import IntList, Pattern, PatternKind, PercentFloat
from loadgen.jobfile.memory import MthpKind, ThpDelayKind
from loadgen.jobfile.steadystate import SteadyStateKind
from loadgen.jobfile.values import (
    BadValue,
    Bool,
    BsSplit,
    CpuList,
    CpuMask,
    Enum,
    ErrorList,
    Flag,
    FloatList,
    Int,
    Kind,
    LogPrefix,
    MemPolicy,
    NodeList,
    ParseContext,
    Percent,
    PercentList,
    RangeList,
    SignedInt,
    Size,
    SizeList,
    Str,
    Time,
)
from loadgen.plan import BsSplitEntry, MemKind, RwMode

MaybeInts = tuple[int | None, ...]  # per direction (read, write, trim): None = not given


@dataclass(slots=True)
class State:
    """One job's options as parsed, before ``Resolver`` checks them and makes the ``Job``.

    The fields are the options' state keys (``Option.key``) plus what apply functions
    derive; every default comes from the option table (``initial_state``), none is here.
    """

    # description
    name: str
    description: str
    # run control, placement and reporting (fio's framework options; the controller and the
    # reports carry them out)
    bs_is_seq_rand: bool
    exitall: bool
    exitall_on_error: bool
    exit_what: str
    stats: bool
    wait_for: str
    exec_prerun: str
    exec_postrun: str
    lockmem: int
    continue_on_error: str
    ignore_error: tuple[tuple[int, ...], ...]
    nice: int
    ioprio: int
    ioprio_class: int
    cgroup: str
    cgroup_weight: int
    cgroup_nodelete: bool
    numa_cpu_nodes: tuple[int, ...] | None
    numa_mem_policy: tuple[str, tuple[int, ...]] | None
    unified_rw_reporting: str
    significant_figures: int
    # memory-management controls (loadgen.jobfile.memory turns them into MemoryControls)
    filename: str
    backing: str
    hugepage_size: int
    refault: str
    populate: bool
    mlock: str
    ksm: bool
    cold: bool
    collapse: bool
    thp_delay: tuple[str, int]
    mthp: tuple[tuple[int, str], ...]
    memory_limit: int
    memory_high: int
    fault_kinds: bool
    # engine
    ioengine: str
    thp: str
    oom_policy: str
    # access pattern
    rw: RwMode
    rw_postfix: int  # rw=<mode>:N
    rw_sequencer: str
    rwmixread: int
    percentage_random: tuple[int, int, int]
    norandommap: bool
    random_generator: str
    random_distribution: str
    distribution_params: tuple[float, ...]
    random_sequence: tuple[int, ...]
    random_sequence_stride: bool
    zones: tuple[Zones, Zones]
    randrepeat: bool
    randseed: int
    randseed_set: bool  # randseed was given: fixed seeds, but no re-seeding per loop (fio)
    # zones (fio's zonemode=strided)
    zonemode: str
    zonesize: int
    zonerange: int
    zoneskip: int
    # sizes
    size: int
    io_size: int | Percent
    number_ios: int
    offset: int | Percent
    offset_increment: int | Percent
    bs: tuple[int, int, int]
    bsrange: tuple[tuple[int, int] | None, ...]
    bssplit: tuple[tuple[BsSplitEntry, ...] | None, ...]
    ba: MaybeInts
    bs_unaligned: bool
    # time
    loops: int
    runtime_ns: int
    time_based: bool
    ramp_time_ns: int
    ramp_size: int
    startdelay_ns: int | tuple[int, int]
    thinktime_ns: int
    thinktime_spin_ns: int
    thinktime_blocks: int
    # processes and groups
    numjobs: int
    thread: bool
    stonewall: bool
    new_group: bool
    group_reporting: bool
    cpus_allowed: tuple[int, ...]
    cpus_allowed_policy: str
    # measurement
    gtod_reduce: bool
    clocksource: str
    job_start_clock_id: int
    disable_lat: bool
    disable_clat: bool
    disable_slat: bool
    disable_bw: bool
    clat_percentiles: bool
    lat_percentiles: bool
    slat_percentiles: bool
    percentile_list: tuple[float, ...]
    bwavgtime_ms: int
    iopsavgtime_ms: int
    # logs: None = off, "" = on with the job name as prefix
    write_bw_log: str | None
    write_lat_log: str | None
    write_iops_log: str | None
    write_hist_log: str | None
    log_avg_msec: int
    log_hist_msec: int
    log_hist_coarseness: int
    log_offset: bool
    per_job_logs: bool
    log_store_compressed: bool
    log_compression: int
    # units
    kb_base: int
    unit_base: int
    # per-I/O engine: pacing, verification, buffer contents (loadgen.jobfile.engineopts)
    rate: MaybeInts
    rate_min: MaybeInts
    rate_iops: MaybeInts
    rate_iops_min: MaybeInts
    rate_process: str
    rate_cycle: int
    rate_ignore_thinktime: bool
    thinktime_iotime_ns: int
    thinkcycles: int
    thinktime_blocks_type: str
    max_latency_ns: MaybeInts
    latency_target_ns: int
    latency_window_ns: int
    latency_percentile: float
    latency_run: bool
    verify: str
    verify_pattern: Pattern
    verify_interval: int
    verify_offset: int
    do_verify: bool
    verify_fatal: bool
    verify_backlog: int
    verify_backlog_batch: int
    verify_dump: bool
    verify_only: bool
    verify_state_save: bool
    verify_state_load: bool
    verify_write_sequence: bool
    verify_write_sequence_set: bool  # given: verify_only keeps it (fio's fio_option_is_set)
    buffer_pattern: Pattern
    zero_buffers: bool
    refill_buffers: bool | None  # None = not given (fio's fio_option_is_set)
    scramble_buffers: bool
    buffer_compress_percentage: int
    buffer_compress_chunk: int
    dedupe_percentage: int
    dedupe_mode: str
    dedupe_working_set_percentage: int
    dedupe_global: bool
    write_iolog: str
    # steady state (loadgen.jobfile.steadystate; the controller watches it)
    ss: tuple[str, float, bool]
    ss_dur_ns: int
    ss_ramp_ns: int
    ss_interval_ns: int
    # syncs every N writes (counted and timed; the page_fault engine completes them at once)
    fsync_blocks: int
    fdatasync_blocks: int
    sync_file_range_nr: int
    # flow control (loadgen.engine.flow)
    flow: int
    flow_id: int
    flow_sleep_us: int
    # the I/O buffer area (loadgen.engine.iomem)
    mem: MemKind
    mem_file: str
    mem_align: int
    # log file columns (loadgen.engine.iolog)
    log_unix_epoch: bool
    log_epoch_clock: int
    log_window_value: str
    log_prio: bool
    log_issue_time: bool
    # replay (loadgen.replaylog)
    read_iolog: str
    read_iolog_chunked: bool
    replay_no_stall: bool
    replay_time_scale: int
    replay_scale: int
    replay_align: int
    replay_skip: tuple[str, ...]
    replay_redirect: str
    merge_blktrace_file: str
    merge_blktrace_scalars: tuple[int, ...]
    merge_blktrace_iters: tuple[int, ...]

    def copy(self) -> State:
        return replace(self)


# An apply function stores a parsed value into the job state; it may return a note for the
# user (a documented no-op) or raise BadValue.
Apply = Callable[[State, Any], str | None]

MAX_JOBS = 4096  # fio's REAL_MAX_JOBS: a cap on workers per run


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    default: Any
    help: str
    category: str
    aliases: tuple[str, ...] = ()
    target: str = ""  # state key; "" = the option name
    apply: Apply | None = None
    prio: int = 0  # higher is applied first within a section (fio's sort_options)

    @property
    def key(self) -> str:
        return self.target or self.name

    def store(self, state: State, value: Any) -> str | None:
        """Write a parsed value into the job state; per-direction values merge (None = keep)."""
        if self.apply is not None:
            return self.apply(state, value)
        if self.kind.per_direction:
            merged = zip(getattr(state, self.key), value, strict=True)
            setattr(state, self.key, tuple(old if new is None else new for old, new in merged))
        else:
            setattr(state, self.key, value)
        return None


def _apply_ioengine(state: State, value: str) -> None:
    if value != "page_fault":
        raise BadValue(
            "not supported: loadgen implements only ioengine=page_fault (anonymous memory)"
        )
    state.ioengine = value


def _apply_rw(state: State, value: RwValue) -> None:
    state.rw, state.rw_postfix = value.mode, value.postfix


def _apply_rwmixwrite(state: State, value: int) -> None:
    state.rwmixread = 100 - value


def _apply_loops(state: State, value: int) -> None:
    state.loops = max(1, value)  # fio runs loops=0 once


def _apply_thinktime_blocks(state: State, value: int) -> None:
    state.thinktime_blocks = max(1, value)  # fio accepts 0 and thinks after every I/O


def _apply_offset(state: State, value: int | Percent) -> None:
    if isinstance(value, int) and value != 0:
        raise BadValue(
            "not supported: the page_fault engine rejects a non-zero start offset; "
            "use offset=N% to start N% into the region"
        )
    state.offset = value


def _apply_nrfiles(state: State, value: int) -> None:
    if value > 1:
        raise BadValue("the page_fault engine does not support multiple files")


def _apply_iodepth(state: State, value: int) -> str | None:
    if value > 1:
        return f"iodepth={value} capped to 1: page_fault is a synchronous engine (as fio)"
    return None


def _apply_direct(state: State, value: bool) -> str | None:
    return "direct=1 has no effect: anonymous memory has no page cache to bypass" if value else None


def _apply_filename(state: State, value: str) -> str | None:
    state.filename = value  # applied after backing= (prio -1)
    if state.backing == "file":
        return None
    return (f"filename={value} has no effect: the page_fault engine maps anonymous memory "
            "(see backing=file)")


def _apply_distribution(state: State, value: DistributionValue) -> None:
    state.random_distribution = value.name
    state.distribution_params = value.params
    state.zones = value.zones
    state.random_sequence = value.sequence


def _apply_zonemode(state: State, value: str) -> None:
    state.zonemode = value  # zbd too: the refusal below is the one error it gives
    if value == "zbd":
        raise BadValue("zoned block devices are not supported: anonymous memory has no "
                       "write pointers or zone resets (zonemode=strided is)")


def _apply_replay_align(state: State, value: int) -> None:
    if value & (value - 1):
        raise BadValue(f"{value} is not a power of two (fio: must be a power-of-2)")
    state.replay_align = value


def _apply_replay_redirect(state: State, value: str) -> str | None:
    state.replay_redirect = value
    return (f"replay_redirect={value} has no effect: every file of the log replays into the "
            "job's one region") if value else None


class MergeList(Kind):
    """fio's merge_blktrace_scalars/iters: a ':' list of numbers, one per merged trace;
    fio keeps each as an int and takes a 0 for the end of the list."""

    label = "list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int, ...]:
        words = text.split(":")
        if len(words) > 20:
            raise BadValue("at most 20 values (fio's FIO_IO_U_LIST_MAX_LEN)")
        values = []
        for word in words:
            try:
                value = float(word)
            except ValueError:
                raise BadValue(f"{word.strip()!r} is not a number") from None
            if not 0 <= value < 2**31:
                raise BadValue(f"{word.strip()!r} is out of range (0..{2**31 - 1})")
            values.append(int(value))
        return tuple(values[:values.index(0)] if 0 in values else values)

    def describe(self) -> list[str]:
        return ["':'-separated numbers, one per trace of read_iolog (whole numbers: fio "
                "truncates; a 0 ends the list)"]

    def show(self, value: Any) -> str:
        return ":".join(map(str, value)) if value else "(every trace: the default)"


class ReplaySkip(Kind):
    """fio's replay_skip: a comma list of read, write, trim, sync."""

    label = "list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[str, ...]:
        words = tuple(word for word in text.strip().split(","))
        for word in words:
            if word not in ("read", "write", "trim", "sync"):
                raise BadValue(f"unknown skip type {word!r} (read, write, trim, sync)")
        return words

    def describe(self) -> list[str]:
        return ["comma list of read, write, trim, sync"]

    def show(self, value: Any) -> str:
        return ",".join(value) if value else "(none)"


def _apply_randseed(state: State, value: int) -> None:
    state.randseed = value
    state.randseed_set = True  # an explicit seed fixes the seeds and turns randrepeat off (fio)


def _apply_gtod_reduce(state: State, value: bool) -> None:
    """gtod_reduce=1 switches off every clock read but the completion's, as fio's callback."""
    state.gtod_reduce = value
    if value:
        state.disable_lat = state.disable_clat = state.disable_slat = state.disable_bw = True
        state.clat_percentiles = state.lat_percentiles = state.slat_percentiles = False


def _apply_exitall(state: State, value: bool) -> str | None:
    state.exitall = True  # fio's callback sets its global flag whatever the value
    return None if value else "exitall=0 still turns exitall on, as in fio"


def _apply_exitall_on_error(state: State, value: bool) -> None:
    state.exitall_on_error = True  # fio's FIO_OPT_STR_SET: any value sets it


def _apply_sync(state: State, value: Any) -> None:
    """fsync and friends: the page_fault engine completes every sync at once (a no-op)."""


def _apply_sync_file_range(state: State, value: str) -> None:
    """fio's str_sfr_cb: the flags are the syscall's (nothing to sync here), N the period."""
    if not value:
        state.sync_file_range_nr = 0
        return
    flags, colon, nr = value.partition(":")
    for flag in flags.split(","):
        if flag.strip() not in ("wait_before", "write", "wait_after"):
            raise BadValue(f"{flag.strip()!r} is not one of: wait_before, write, wait_after")
    try:
        state.sync_file_range_nr = int(nr) if colon else 1
    except ValueError:
        raise BadValue(f"{nr!r} is not a number of writes") from None


def _apply_job_start_clock_id(state: State, value: int) -> None:
    """A clock this machine cannot read is refused now (fio reports garbage for it)."""
    try:
        time.clock_gettime_ns(value)
    except OSError as exc:
        raise BadValue(f"clock {value} cannot be read here: {exc.strerror}") from None
    state.job_start_clock_id = value


def _apply_log_compression(state: State, value: int) -> None:
    if value > 512 << 20:
        raise BadValue(f"{value} is out of range (1024..{512 << 20}, as fio)")
    state.log_compression = value


def _apply_log_window_value(state: State, value: str) -> None:
    state.log_window_value = {"0": "avg", "1": "max"}.get(value, value)


def _apply_mem(state: State, value: str) -> None:
    """fio's str_mem_cb: TYPE, or mmap/mmaphuge/mmapshared:FILE."""
    name, colon, path = value.partition(":")
    try:
        kind = MemKind(name)
    except ValueError:
        raise BadValue(f"{name!r} is not one of: {', '.join(MemKind)} (loadgen has no GPU "
                       "or other memory types)") from None
    if colon and not kind.takes_file:
        raise BadValue(f"mem={kind} takes no file")
    if colon and not path:
        raise BadValue("mem=TYPE:FILE needs a file name")
    state.mem, state.mem_file = kind, path


def _apply_verify_write_sequence(state: State, value: bool) -> None:
    state.verify_write_sequence = value
    state.verify_write_sequence_set = True  # verify_only turns it off only when not given


def _apply_no_effect(state: State, value: Any) -> None:
    """An option fio accepts and ignores outside the context that gives it a meaning."""


def _apply_softrandommap(state: State, value: bool) -> None:
    """fio falls back to norandommap when its shared smalloc pool cannot hold the map;
    loadgen's map lives in the worker's own memory, so that failure does not arise."""


def _apply_continue_on_error(state: State, value: str) -> None:
    state.continue_on_error = {"0": "none", "1": "all"}.get(value, value)


def _apply_unified(state: State, value: str) -> None:
    state.unified_rw_reporting = {"0": "none", "1": "mixed", "2": "both"}.get(value, value)


def _apply_max_latency(state: State, value: tuple[int | None, ...]) -> None:
    merged = zip(state.max_latency_ns, value, strict=True)
    state.max_latency_ns = tuple(old if new is None else new * 1000 for old, new in merged)


def _apply_unit_base(state: State, value: str) -> None:
    state.unit_base = 8 if value == "0" else int(value)  # 0 = auto, which means bytes


def _apply_kb_base(state: State, value: str) -> None:
    state.kb_base = int(value)


OPTIONS: tuple[Option, ...] = (
    # --- job description
    Option("name", Str(allow_empty=False), "", "Job name (defaults to the section name)",
           "Description"),
    Option("description", Str(), "", "Free text shown in the report", "Description"),
    # --- engine
    Option(
        "ioengine", Str(), "page_fault",
        "I/O engine; only page_fault (anonymous memory, first touch faults) exists in loadgen",
        "Engine", apply=_apply_ioengine,
    ),
    Option(
        "thp", Enum({
            "inherit": "leave the system's THP policy alone",
            "madvise": "madvise(MADV_HUGEPAGE) on the region",
            "never": "madvise(MADV_NOHUGEPAGE) on the region",
        }), "inherit", "Transparent huge pages for the region (loadgen engine option)", "Engine",
    ),
    # acted on by loadgen.controller.outcome.next_action
    Option(
        "oom_policy", Enum({
            "report": "record the OOM kill; the other workers and later groups go on",
            "respawn": "start a fresh worker (fresh region) in its place, counted in restarts",
            "abort": "stop the whole run, as after SIGTERM",
        }), "report", "What to do when the OOM killer kills this job's worker (loadgen option)",
        "Engine",
    ),
    Option(
        "iodepth", Int(1, 65536, "values above 1 are capped to 1 with a note"), 1,
        "Queue depth; page_fault is synchronous, so the depth is always 1", "Engine",
        apply=_apply_iodepth,
    ),
    Option("direct", Bool(), False, "O_DIRECT; accepted, no effect on anonymous memory (note)",
           "Engine", apply=_apply_direct),
    Option("nrfiles", Int(1), 1, "Number of files; the page_fault engine supports only 1", "Engine",
           aliases=("nr_files",), apply=_apply_nrfiles),
    Option("filename", Str(), "", "File name: the file backing=file maps; else no effect (note)",
           "Engine", apply=_apply_filename, prio=-1),
    # --- memory-management controls (loadgen options; loadgen.jobfile.memory checks them)
    Option("backing", Enum({
        "anon": "private anonymous memory (fio's page_fault engine)",
        "shared": "shared anonymous memory (shmem faults)",
        "memfd": "a memfd, MAP_SHARED (shmem faults)",
        "file": "filename=, MAP_SHARED (page-cache faults); created and removed unless it existed",
        "hugetlb": "MAP_HUGETLB pages of hugepage_size from the hugetlb pool "
                   "(/proc/sys/vm/nr_hugepages)",
    }), "anon", "What the region maps (loadgen option)", "Memory"),
    Option("hugepage_size", Size(), 0,
           "backing=hugetlb page size, e.g. 2M or 1G (0 = the system default)", "Memory"),
    Option("refault", Enum({
        "none": "the mapping persists: only the first pass faults (fio)",
        "dontneed": "madvise(MADV_DONTNEED) between passes: every pass faults again",
        "remap": "a fresh mapping at the same address between passes: every pass faults again",
        "pageout": "madvise(MADV_PAGEOUT) between passes: the next touch swaps in (needs swap)",
    }), "none", "What happens to the region between passes; its cost is reported apart from I/O",
        "Memory"),
    Option("populate", Bool(), False, "MAP_POPULATE: fault the region in at setup (timed apart)",
           "Memory"),
    Option("mlock", Enum({
        "0": "no locking",
        "1": "mlock(2) at setup: every page is faulted in and locked (timed apart)",
        "onfault": "mlock2(MLOCK_ONFAULT): pages are locked as they fault",
    }), "0", "Lock the region in memory", "Memory"),
    Option("ksm", Bool(), False,
           "madvise(MADV_MERGEABLE); ksmd is started for the run if it is off (root)", "Memory"),
    Option("cold", Bool(), False,
           "madvise(MADV_COLD) after every pass: reclaim takes the region first", "Memory"),
    Option("collapse", Bool(), False,
           "madvise(MADV_COLLAPSE) after the first pass (result and time reported)", "Memory"),
    Option("thp_delay", ThpDelayKind(), ("ns", 0),
           "thp=madvise: MADV_NOHUGEPAGE at setup, MADV_HUGEPAGE at the first pass end after this",
           "Memory"),
    Option("mthp", MthpKind(), (), "Per-size mTHP policies for the job's group (root; restored)",
           "Memory"),
    Option("memory_limit", Size(), 0,
           "Run the job's workers in a memory cgroup of their own with this limit (0 = no group)",
           "Memory"),
    Option("memory_high", Size(), 0, "memory.high of the job's cgroup (cgroup v2; 0 = none)",
           "Memory"),
    Option("fault_kinds", Bool(), False,
           "Count first-touch reads (zero page), first-touch writes and COW writes per job",
           "Memory"),
    # --- access pattern
    Option("rw", Rw(), RwValue(RwMode.READ, 0), "Access pattern", "Access pattern",
           aliases=("readwrite",), apply=_apply_rw),
    Option("rw_sequencer", Enum({
        "sequential": "continue sequentially between random offsets",
        "identical": "repeat the same offset",
    }), "sequential", "What rw=<random mode>:N does between new random offsets", "Access pattern"),
    Option("rwmixread", Int(0, 100), 50, "Percentage of mixed I/O that reads", "Access pattern"),
    Option("rwmixwrite", Int(0, 100), 50,
           "Percentage of mixed I/O that writes (sets rwmixread=100-N)",
           "Access pattern", apply=_apply_rwmixwrite),
    Option("percentage_random", PercentList(), (100, 100, 100),
           "Percentage of random I/O in a random job, the rest sequential", "Access pattern"),
    Option("norandommap", Flag(), False, "Random offsets with replacement (no random map)",
           "Access pattern"),
    Option("softrandommap", Bool(), False,
           "Accepted, no effect: fio's fallback for a random map its shared pool cannot hold; "
           "loadgen's map is the worker's own memory", "Access pattern",
           apply=_apply_softrandommap),
    Option("random_generator", Enum({
        "tausworthe": "fio's 32-bit taus88 (default)",
        "lfsr": "linear feedback shift register, no repeats without a map",
        "tausworthe64": "64-bit tausworthe",
    }), "tausworthe", "Random number generator for offsets", "Access pattern"),
    Option("random_distribution", Distribution(), DistributionValue("random", (), ((), ())),
           "Distribution of random offsets", "Access pattern", apply=_apply_distribution),
    Option("random_sequence_stride", Bool(), False,
           "random_distribution=sequence: each cycle of the sequence moves on by its length "
           "(a strided walk) instead of repeating the same blocks", "Access pattern"),
    Option("randrepeat", Bool(), True, "Same random sequence every run and every loop",
           "Access pattern", aliases=("allrandrepeat",)),
    Option("randseed", Int(), 0x89,
           "Seed of the random streams (setting it fixes the seeds and turns randrepeat off)",
           "Access pattern", apply=_apply_randseed),
    # --- zones (fio's strided zone mode; the pattern runs zone by zone)
    Option("zonemode", Enum({
        "none": "no zones",
        "strided": "zonesize bytes of I/O in each zone of zonerange bytes, then the next zone "
                   "zonerange+zoneskip on (wrapping to the start)",
        "zbd": "refused: zoned block devices do not apply to anonymous memory",
    }), "none", "Zone mode", "Zones",
        apply=_apply_zonemode),
    Option("zonesize", Size(), 0, "Bytes of I/O per zone visit (zonemode=strided)", "Zones"),
    Option("zonerange", Size(), 0, "Size of a zone (0 = zonesize)", "Zones"),
    Option("zoneskip", Size(), 0, "Bytes skipped between zones", "Zones"),
    # --- sizes
    Option("size", Size(1), 0, "Region size: the mmap length and the I/O per loop (required)",
           "Sizes"),
    Option("io_size", Size(percent=True), 0,
           "Bytes of I/O per loop if not size (N% of size allowed)",
           "Sizes", aliases=("io_limit",)),
    Option("number_ios", Int(), 0, "Stop after this many I/Os (0 = no limit)", "Sizes"),
    Option("offset", Size(percent=True), 0,
           "Start offset: only 0 or N% (the page_fault engine rejects other offsets)", "Sizes",
           aliases=("fileoffset",), apply=_apply_offset),
    Option("offset_increment", Size(percent=True), 0, "Added to offset for each numjobs clone",
           "Sizes"),
    Option("bs", SizeList(1), (4096, 4096, 4096), "Block size (bytes per memcpy)", "Block sizes",
           aliases=("blocksize",)),
    Option("bsrange", RangeList(1), (None, None, None), "Block size range lo-hi", "Block sizes",
           aliases=("blocksize_range",)),
    Option("bssplit", BsSplit(), (None, None, None), "Weighted block sizes bs/pct:bs/pct...",
           "Block sizes"),
    Option("ba", SizeList(1), (None, None, None),
           "Random offset alignment (default: minimum bs; reset to it for sequential I/O)",
           "Block sizes", aliases=("blockalign",)),
    Option("bs_unaligned", Flag(), False,
           "Variable block sizes need not be multiples of the minimum",
           "Block sizes", aliases=("blocksize_unaligned",)),
    Option("bs_is_seq_rand", Bool(), False,
           "bs=A,B means A for sequential and B for random I/O (not read,write); random I/O "
           "with A != B is refused (needs the per-I/O engine)", "Block sizes"),
    # --- time
    Option("loops", Int(), 1,
           "Run the workload this many times (the mapping persists; 0 = 1, as fio)",
           "Time", apply=_apply_loops),
    Option("runtime", Time("s"), 0, "Cap on run time after ramp_time (0 = none)", "Time",
           aliases=("timeout",), target="runtime_ns"),
    Option("time_based", Flag(), False, "Repeat the workload until runtime passes", "Time"),
    Option("ramp_time", Time("s"), 0, "Run this long before stats are reset", "Time",
           target="ramp_time_ns"),
    Option("ramp_size", Size(1), 0,
           "Do this many bytes of I/O before stats are reset (with group_reporting, the "
           "group's jobs together); not with ramp_time", "Time"),
    Option("startdelay", Time("s", allow_range=True), 0,
           "Delay before the job starts (or a random one in lo-hi)",
           "Time", target="startdelay_ns"),
    Option("thinktime", Time("us"), 0, "Pause after each block of I/Os", "Time",
           target="thinktime_ns"),
    Option("thinktime_spin", Time("us"), 0, "Part of thinktime spent spinning", "Time",
           target="thinktime_spin_ns"),
    Option("thinktime_blocks", Int(), 1, "I/Os between thinktime pauses (0 = 1, as fio)", "Time",
           apply=_apply_thinktime_blocks),
    # --- processes and groups
    Option("numjobs", Int(1, MAX_JOBS), 1, "Number of clones of this job (processes or threads)",
           "Processes"),
    Option("thread", Flag(), False,
           "Run jobs as threads of one process (one mm) instead of processes",
           "Processes"),
    Option("stonewall", Flag(), False, "Wait for all earlier jobs and start a new group",
           "Processes", aliases=("wait_for_previous",)),
    Option("threads", Int(), 0, "Accepted, no effect: an option of fio's tiobench profile, which "
           "fio accepts in every job and ignores there too (use thread)", "Processes",
           apply=_apply_no_effect),
    Option("new_group", Flag(), False, "Start a new reporting group without waiting", "Processes"),
    Option("group_reporting", Flag(), False, "Report a group's jobs as one", "Processes"),
    Option("cpus_allowed", CpuList(), (), "CPUs the job may run on", "Processes"),
    Option("cpumask", CpuMask(), (), "CPUs the job may run on, as a bit mask", "Processes",
           target="cpus_allowed"),
    Option("cpus_allowed_policy", Enum({
        "shared": "every job may use every allowed CPU",
        "split": "each job gets one CPU of the set",
    }), "shared", "How jobs share cpus_allowed", "Processes", prio=1),
    Option("exitall", Flag(), False,
           "When any job ends, stop the others (exit_what says which); set on any job, it "
           "holds for every job of the run, as in fio", "Run control", apply=_apply_exitall),
    Option("exitall_on_error", Flag(), False, "When this job ends in error, stop the others",
           "Run control", apply=_apply_exitall_on_error),
    Option("exit_what", Enum({
        "group": "the jobs of the ending job's group",
        "stonewall": "every running job",
        "all": "every job, later groups included (they run no I/O)",
    }), "group", "Which jobs an exitall stops", "Run control"),
    Option("stats", Bool(), True, "0 = leave this job out of the reports", "Run control"),
    Option("wait_for", Str(), "", "Start when every worker of the named earlier job has ended "
           "(same reporting group, no stonewall)", "Run control"),
    Option("exec_prerun", Str(), "",
           "Shell command run before the job (each clone); output in NAME.prerun.txt; "
           "if it fails the job does no I/O, as in fio", "Run control"),
    Option("exec_postrun", Str(), "",
           "Shell command run after the job (each clone); output in NAME.postrun.txt",
           "Run control"),
    Option("lockmem", Size(), 0, "Memory mapped and mlocked per worker while the job runs "
           "(held by the controller; at most physical memory - 128 MiB)", "Run control"),
    Option("continue_on_error", Enum({
        "none": "stop at the first error", "read": "go on after read errors",
        "write": "go on after write errors", "io": "go on after read or write errors",
        "verify": "go on after verify errors", "all": "go on after any error",
        "0": "same as none", "1": "same as all",
    }), "none", "Errors to go on after; adds fio's total_err/first_error report fields "
       "(memcpy into anonymous memory has no I/O errors)", "Run control",
           apply=_apply_continue_on_error),
    Option("ignore_error", ErrorList(), ((), (), ()),
           "Errors that do not count, per read,write,verify (memcpy has none to ignore)",
           "Run control"),
    Option("error_dump", Bool(), False,
           "Accepted, no effect: fio prints each ignored I/O error with it (default 0 in fio's "
           "code); the page_fault engine has no I/O errors (its trim error is refused at "
           "parse), and verify failures are printed either way, as in fio", "Run control",
           apply=_apply_no_effect),
    # --- placement and priority
    Option("nice", SignedInt(-20, 19), 0, "CPU nice value of the job's worker",
           "Priority and placement"),
    Option("prio", Int(0, 7), -1,
           "I/O priority level (ioprio_set; class best effort unless prioclass)",
           "Priority and placement", target="ioprio"),
    Option("prioclass", Int(0, 3), -1, "I/O priority class: 1 realtime, 2 best effort, 3 idle "
           "(0 = best effort, as fio)", "Priority and placement", target="ioprio_class"),
    Option("cgroup", Str(), "", "Put the worker in this cgroup (blkio v1, else cgroup2), made if "
           "missing and removed after the job", "Priority and placement"),
    Option("cgroup_weight", Int(100, 1000), 0, "blkio.weight of the job's cgroup (cgroup v1 only)",
           "Priority and placement"),
    Option("cgroup_nodelete", Bool(), False, "Keep the cgroup the job made",
           "Priority and placement"),
    Option("numa_cpu_nodes", NodeList(), None, "Run the worker on the CPUs of these NUMA nodes "
           "(wins over cpus_allowed, as in fio)", "Priority and placement"),
    Option("numa_mem_policy", MemPolicy(), None,
           "NUMA memory policy of the region (mbind before its first fault); on a one-node "
           "machine it is skipped with a note (every policy places memory on node 0)",
           "Priority and placement"),
    # --- measurement
    Option("gtod_reduce", Bool(), False, "Measure only what needs no extra clock reads",
           "Measurement", apply=_apply_gtod_reduce),
    Option("clocksource", Enum({
        "cpu": "the CPU's time-stamp counter where it is invariant and the kernel's "
               "clocksource, scaled onto CLOCK_MONOTONIC; else CLOCK_MONOTONIC",
        "clock_gettime": "clock_gettime(CLOCK_MONOTONIC) for every stamp",
        "gettimeofday": "as clock_gettime: loadgen's stamps are always CLOCK_MONOTONIC ns",
    }), "cpu", "The clock that stamps each I/O", "Measurement"),
    Option("job_start_clock_id", Int(0, 11), 0,
           "The clock of the JSON job_start, in ms, read when the measured window starts "
           "(clock_gettime id; 0 = CLOCK_REALTIME, 1 = CLOCK_MONOTONIC, 7 = CLOCK_BOOTTIME)",
           "Measurement", apply=_apply_job_start_clock_id),
    Option("disable_lat", Bool(), False, "Do not measure total latency", "Measurement"),
    Option("disable_clat", Bool(), False, "Do not measure completion latency", "Measurement"),
    Option("disable_slat", Bool(), False, "Do not measure submission latency", "Measurement"),
    Option("disable_bw_measurement", Bool(), False, "Do not measure bandwidth", "Measurement",
           aliases=("disable_bw",), target="disable_bw"),
    Option("clat_percentiles", Bool(), True, "Report completion latency percentiles",
           "Measurement"),
    Option("lat_percentiles", Bool(), False, "Report total latency percentiles", "Measurement"),
    Option("slat_percentiles", Bool(), False, "Report submission latency percentiles",
           "Measurement"),
    Option("percentile_list", FloatList(), (), "Percentiles to report", "Measurement"),
    Option("bwavgtime", Int(1), 500, "Bandwidth sample window in ms", "Measurement",
           target="bwavgtime_ms"),
    Option("iopsavgtime", Int(1), 500, "IOPS sample window in ms", "Measurement",
           target="iopsavgtime_ms"),
    # --- syncs: fio sends them to the engine, whose page_fault queue completes them at once
    Option("fsync", Int(), 0, "fsync every N writes: counted and timed in the report's sync "
           "block; the page_fault engine completes it at once (as fio)", "Syncs",
           target="fsync_blocks"),
    Option("fdatasync", Int(), 0, "fdatasync every N writes: counted like fsync", "Syncs",
           target="fdatasync_blocks"),
    Option("sync_file_range", Str(), "",
           "FLAGS[:N]: sync_file_range every N writes (default 1), counted like fsync; FLAGS: "
           "wait_before, write, wait_after joined by ','", "Syncs",
           apply=_apply_sync_file_range),
    Option("end_fsync", Bool(), False,
           "Accepted, a no-op in the page_fault engine: fsync at the end", "Syncs",
           apply=_apply_sync),
    Option("fsync_on_close", Bool(), False, "Accepted, a no-op: the region is no file to close",
           "Syncs", apply=_apply_sync),
    # --- logs
    Option("write_bw_log", LogPrefix(), None, "Write PREFIX_bw.N.log", "Logs"),
    Option("write_lat_log", LogPrefix(), None, "Write PREFIX_lat/clat/slat.N.log", "Logs"),
    Option("write_iops_log", LogPrefix(), None, "Write PREFIX_iops.N.log", "Logs"),
    Option("write_hist_log", LogPrefix(), None, "Write PREFIX_clat_hist.N.log", "Logs"),
    Option("log_avg_msec", Int(), 0, "Average log samples over this many ms (0 = one line per I/O)",
           "Logs"),
    Option("log_hist_msec", Int(), 0, "Histogram log interval in ms", "Logs"),
    Option("log_hist_coarseness", Int(0, 6), 0,
           "Histogram log lines sum each 2^N adjacent buckets (1856 buckets at 0, 29 at 6)",
           "Logs"),
    Option("log_offset", Bool(), False, "Add each I/O's offset to bw/lat/iops log lines", "Logs"),
    Option("log_unix_epoch", Bool(), False,
           "Log times in ms since the Unix epoch instead of since the job's start", "Logs",
           aliases=("log_alternate_epoch",)),
    Option("log_alternate_epoch_clock_id", Int(0, 11), 0,
           "The clock of log_unix_epoch's times (clock_gettime id; 0 = CLOCK_REALTIME)",
           "Logs", target="log_epoch_clock"),
    Option("log_entries", Int(1024, 1 << 20), 1024,
           "Accepted, no effect: fio's initial log allocation (loadgen writes logs per chunk)",
           "Logs", apply=_apply_no_effect),
    Option("log_window_value", Enum({
        "avg": "the window's average (default)", "max": "the window's maximum",
        "both": "the average, then the maximum", "0": "same as avg", "1": "same as max",
    }), "avg", "What a log_avg_msec window line logs (latency logs; bw/iops have one value)",
           "Logs", aliases=("log_max_value",), apply=_apply_log_window_value),
    Option("log_prio", Bool(), False,
           "The prio column is the I/O priority value in hex (class << 13 | prio), not 0/1",
           "Logs"),
    Option("log_issue_time", Bool(), False,
           "A last column with each I/O's issue time in ns since the job's start (clat logs)",
           "Logs"),
    Option("per_job_logs", Bool(), True, "One log file per job (.N suffix); 0 = shared files",
           "Logs"),
    Option("log_store_compressed", Bool(), False,
           "Write bw/lat/iops logs as fio's zlib-compressed NAME.log.fz, which "
           "fio --inflate-log prints as the text log (the hist log stays text)", "Logs"),
    Option("log_compression", Size(1024), 0,
           "With log_store_compressed: bytes of log records per zlib stream (default 1 MiB); "
           "else no effect (loadgen writes logs as it goes, not held in memory)", "Logs",
           apply=_apply_log_compression),
    Option("log_compression_cpus", CpuList(), (),
           "Accepted, no effect: loadgen compresses logs in the job's worker between its "
           "kernel calls, not in a thread of its own", "Logs", apply=_apply_no_effect),
    # --- pacing (loadgen.engine.rate; checks in loadgen.jobfile.engineopts)
    Option("rate", SizeList(0), (0, 0, 0),
           "Cap bandwidth per direction in bytes/s (read,write; 0 = none)", "Rate"),
    Option("rate_min", SizeList(0), (0, 0, 0),
           "Fail the job when bandwidth drops below this over rate_cycle (bytes/s)", "Rate",
           aliases=("ratemin",)),
    Option("rate_iops", IntList(0), (0, 0, 0), "Cap IOPS per direction (rate wins if both)",
           "Rate"),
    Option("rate_iops_min", IntList(0), (0, 0, 0),
           "Fail the job when IOPS drop below this over rate_cycle", "Rate"),
    Option("rate_process", Enum({
        "linear": "evenly spaced I/Os",
        "poisson": "exponentially distributed gaps (Poisson arrivals) at the rate's IOPS",
    }), "linear", "How rated I/Os are spaced", "Rate"),
    Option("rate_cycle", Int(1), 1000, "Window of rate_min/rate_iops_min checks in ms", "Rate",
           aliases=("ratecycle",)),
    Option("rate_ignore_thinktime", Bool(), False,
           "Keep the rate after a thinktime instead of catching up", "Rate"),
    Option("thinktime_iotime", Time("us"), 0,
           "Think also once this long has passed since the last think (needs thinktime)",
           "Rate", target="thinktime_iotime_ns"),
    Option("thinkcycles", Int(), 0, "Busy-loop this many cycles after each I/O", "Rate"),
    Option("thinktime_blocks_type", Enum({
        "complete": "count completed I/Os",
        "issue": "count issued I/Os (the same for a synchronous engine)",
    }), "complete", "What thinktime_blocks counts", "Rate"),
    Option("max_latency", IntList(0), (0, 0, 0),
           "Fail the job (ETIMEDOUT) when an I/O's completion latency exceeds this (us)",
           "Rate", target="max_latency_ns", apply=_apply_max_latency),
    Option("latency_target", Time("us"), 0,
           "Latency target: report the depth meeting it (a sync engine: always 1)", "Rate",
           target="latency_target_ns"),
    Option("latency_window", Time("us"), 0, "Window over which latency_target is checked",
           "Rate", target="latency_window_ns"),
    Option("latency_percentile", PercentFloat(), 100.0,
           "Percentile of I/Os that must meet latency_target", "Rate"),
    Option("latency_run", Bool(), False, "Keep checking latency_target for the whole run",
           "Rate"),
    # --- verification (loadgen.engine.verify)
    Option("verify", Enum({
        "0": "no verification", "md5": "MD5 per block", "crc64": "CRC-64 (ECMA-182)",
        "crc32c": "CRC-32C (Castagnoli)", "crc32c-intel": "the same as crc32c",
        "crc32": "CRC-32 (zlib)", "crc16": "CRC-16", "crc7": "CRC-7",
        "xxhash": "xxHash32", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512",
        "sha3-224": "SHA3-224", "sha3-256": "SHA3-256", "sha3-384": "SHA3-384",
        "sha3-512": "SHA3-512", "meta": "the header only (offset, number, thread)",
        "pattern": "verify_pattern in the whole block, no header",
        "pattern_hdr": "verify_pattern plus the header",
        "null": "write and read, check nothing",
    }), "0", "Check written data when it is read back (verify phase or verify_backlog)",
        "Verify"),
    Option("verify_pattern", PatternKind(formats=True), (b"", ()),
           "Pattern written and checked (implies verify=pattern)", "Verify"),
    Option("verify_interval", Int(0), 0, "Bytes per verify header (0 = the block size)",
           "Verify"),
    Option("verify_offset", Int(0), 0, "Put the verify header this far into each interval",
           "Verify"),
    Option("do_verify", Bool(), True, "Run the verify phase after the writes", "Verify"),
    Option("verify_fatal", Bool(), False, "Stop at the first bad block", "Verify"),
    Option("verify_backlog", Int(0), 0,
           "Verify after every N written blocks instead of after the write phase", "Verify"),
    Option("verify_backlog_batch", Int(0), 0, "Blocks verified at each backlog point",
           "Verify"),
    Option("verify_dump", Bool(), False,
           "Write the received and expected data of a bad block to files", "Verify"),
    Option("verify_only", Bool(), False,
           "Do not write: only verify what an earlier run left (backing=file)", "Verify"),
    Option("verify_state_save", Bool(), True,
           "At the end of a write job, save fio's verify state file "
           "(local-NAME-INDEX-verify.state: how many writes it did)", "Verify"),
    Option("verify_state_load", Bool(), False,
           "verify_only: verify only the writes the saved verify state file records", "Verify"),
    Option("verify_write_sequence", Bool(), True,
           "Check each header's write number against the block's latest write (off by "
           "default with verify_only; checked only for writing jobs of one block size that "
           "are not time_based, as fio)", "Verify", apply=_apply_verify_write_sequence),
    Option("verify_async", Int(0), 0,
           "Accepted, no effect: verification runs in the job's own loop (no async threads in "
           "the page_fault engine's process)", "Verify", apply=_apply_no_effect),
    Option("verify_async_cpus", CpuList(), (),
           "Accepted, no effect: there are no async verify threads to pin (verification runs "
           "in the job's own loop)", "Verify", apply=_apply_no_effect),
    # --- buffer contents (loadgen.engine.buffers)
    Option("buffer_pattern", PatternKind(formats=False), (b"", ()),
           "Fill write buffers with this pattern", "Buffers"),
    Option("zero_buffers", Flag(), False, "Write zeroes", "Buffers"),
    Option("refill_buffers", Flag(), None,
           "Fresh buffer contents for every write (default: on with compression)", "Buffers"),
    Option("scramble_buffers", Bool(), True,
           "Stamp each write's offset and time into every 512-byte sector", "Buffers"),
    Option("buffer_compress_percentage", Int(0, 100), 0,
           "How compressible written data is, in percent", "Buffers"),
    Option("buffer_compress_chunk", Int(0), 512, "Granularity of the compressible parts",
           "Buffers"),
    Option("dedupe_percentage", Int(0, 100), 0, "Percentage of writes that repeat an earlier "
           "block's contents", "Buffers"),
    Option("dedupe_mode", Enum({
        "repeat": "a duplicate repeats the last unique write's contents",
        "working_set": "a duplicate takes the contents of a random block of the working set "
                       "(the first unique writes; dedupe_working_set_percentage)",
    }), "repeat", "Where dedupe_percentage's duplicates come from", "Buffers"),
    Option("dedupe_working_set_percentage", Int(0, 100), 5,
           "dedupe_mode=working_set: the working set, in percent of size (in blocks of the "
           "minimum write size); at most 100 - dedupe_percentage", "Buffers"),
    Option("dedupe_global", Bool(), False,
           "dedupe_mode=working_set: the working set is spread over every job of the run, so "
           "jobs duplicate each other's blocks (fio's rotation over the thread numbers)",
           "Buffers"),
    # --- iolog
    Option("write_iolog", Str(allow_empty=False), "",
           "Write every I/O issued to this file in fio's iolog v3 format", "Logs"),
    # --- flow control (loadgen.engine.flow)
    Option("flow", Int(0, 1000), 0,
           "Weight in the flow: jobs of one flow_id keep their I/O counts in the ratio of "
           "their weights (0 = not in a flow)", "Rate"),
    Option("flow_id", Int(0, 2**31 - 1), 0, "The flow this job's weight is counted in",
           "Rate"),
    Option("flow_sleep", Int(0), 0,
           "us to sleep when the flow holds an I/O back (0: spin, as fio)", "Rate",
           target="flow_sleep_us"),
    # --- the I/O buffer area (loadgen.engine.iomem)
    Option("mem", Str(allow_empty=False), "malloc",
           "What backs the write source and read buffer: malloc, shm, shmhuge, mmap, "
           "mmaphuge, mmapshared; mmap* take :FILE", "Buffers", aliases=("iomem",),
           apply=_apply_mem),
    Option("iomem_align", Int(0), 0,
           "Start the buffer area this many bytes past page alignment", "Buffers",
           aliases=("mem_align",), target="mem_align"),
    # --- steady state (loadgen.controller.steadystate)
    Option("steadystate", SteadyStateKind(), ("iops_slope", 0.01, True),
           "Stop the job once its IOPS, bandwidth or latency is steady by this criterion",
           "Steady state", aliases=("ss",), target="ss"),
    Option("steadystate_duration", Time("s"), 0,
           "Window of samples the criterion is judged over (whole seconds; 0 = off)",
           "Steady state", aliases=("ss_dur",), target="ss_dur_ns"),
    Option("steadystate_ramp_time", Time("s"), 0,
           "Collect steady-state samples only after this much of the job", "Steady state",
           aliases=("ss_ramp",), target="ss_ramp_ns"),
    Option("steadystate_check_interval", Time("s"), 1_000_000_000,
           "Sample interval of the steady-state check (at least 1s; the window holds "
           "ss_dur divided by its whole seconds samples, as fio)", "Steady state",
           aliases=("ss_interval",), target="ss_interval_ns"),
    # --- replay (loadgen.replaylog; the log is checked before anything starts)
    Option("read_iolog", Str(allow_empty=False), "",
           "Replay this fio iolog (version 2 or 3) or blktrace binary trace into the region "
           "instead of rw=; the region is at least as large as the log needs", "Replay"),
    Option("read_iolog_chunked", Bool(), False,
           "Accepted: loadgen reads and checks the whole log before the start (24 bytes an I/O)",
           "Replay"),
    Option("replay_no_stall", Bool(), False,
           "Replay as fast as possible, without the log's timing", "Replay"),
    Option("replay_time_scale", Int(1), 100,
           "Replay timing in percent of real time (200 = twice as fast)", "Replay"),
    Option("replay_scale", Int(), 1, "Divide the log's offsets by this", "Replay"),
    Option("replay_align", Size(), 0,
           "Align the log's offsets down to this power of two (0 = as they are)", "Replay",
           apply=_apply_replay_align),
    Option("replay_skip", ReplaySkip(), (),
           "Leave these I/O kinds out of the replay: read,write,trim,sync", "Replay"),
    Option("replay_redirect", Str(), "",
           "Accepted, no effect: every file of the log already replays into the one region",
           "Replay", apply=_apply_replay_redirect),
    Option("merge_blktrace_file", Str(), "",
           "Merge the blktrace traces of read_iolog=A:B:... into this file by time, then "
           "replay it", "Replay"),
    Option("merge_blktrace_scalars", MergeList(), (),
           "merge_blktrace_file: per trace, its times in percent (50 = twice as fast)",
           "Replay"),
    Option("merge_blktrace_iters", MergeList(), (),
           "merge_blktrace_file: per trace, how many times it runs, one pass after the other",
           "Replay"),
    # --- units
    Option("kb_base", Enum({"1024": "k = 1024 (default)", "1000": "k = 1000"}), 1024,
           "Base of size suffixes and reported units", "Units", apply=_apply_kb_base, prio=1),
    Option("unit_base", Enum({"0": "auto (bytes)", "8": "bytes", "1": "bits"}), 8,
           "Report bandwidth in bytes or bits", "Units",
           apply=_apply_unit_base, prio=1),
    Option("unified_rw_reporting", Enum({
        "none": "per direction", "mixed": "reads and writes summed, reported as one (mixed)",
        "both": "per direction, then the sum", "0": "same as none", "1": "same as mixed",
        "2": "same as both",
    }), "none", "Report reads and writes together", "Units", apply=_apply_unified),
    Option("significant_figures", Int(1, 10), 4,
           "Significant figures of bandwidth and IOPS in the normal report", "Units"),
)

BY_NAME: dict[str, Option] = {}
for _option in OPTIONS:
    for _spelling in (_option.name, *_option.aliases):
        BY_NAME[_spelling] = _option

_FILES = "loadgen has no files or devices: the region is anonymous memory"
_VERIFY = "this verify option is not implemented by loadgen"
_TRIM = "trims have no meaning for anonymous memory (fio's page_fault engine fails every trim)"
_PRIO = "switching user or group is not implemented by loadgen"
_ZONES = "zoned block devices do not apply to anonymous memory"
_ASYNC = "page_fault is a synchronous engine: no batching or queue tuning"
_RFC = "an option of the unmerged page_fault RFC; use thp=madvise|never"
_NOT_IMPLEMENTED = "not implemented by loadgen"

UNSUPPORTED: dict[str, str] = {
    **dict.fromkeys((
        "directory", "filename_format", "unique_filename", "opendir", "lockfile",
        "file_service_type", "openfiles", "fallocate", "fadvise_hint", "create_serialize",
        "create_fsync", "create_on_open", "create_only", "allow_file_create",
        "allow_mounted_write", "pre_read", "invalidate", "sync",
        "write_barrier", "unlink",
        "unlink_each_loop", "buffered", "atomic", "overwrite", "file_append", "filesize",
        "fill_device", "fill_fs", "ioscheduler", "disk_util",
    ), _FILES),
    **dict.fromkeys(("experimental_verify", "verify_header_seed"), _VERIFY),
    **dict.fromkeys(("trim_percentage", "trim_verify_zero", "trim_backlog", "trim_backlog_batch",
                     "block_error_percentiles", "num_range"), _TRIM),
    **dict.fromkeys(("uid", "gid"), _PRIO),
    **dict.fromkeys((
        "hugepage-size",), "mem=shmhuge/mmaphuge round to the system's default huge page "
                           "size; loadgen has no other"),
    **dict.fromkeys(("gtod_cpu",), "not implemented by loadgen: each job reads the clock in "
                    "its own kernel loop (the TSC where it is reliable)"),
    **dict.fromkeys(("dataplacement",), _FILES),
    **dict.fromkeys(("zonecapacity", "max_open_zones", "job_max_open_zones", "ignore_zone_limits",
                     "zone_reset_threshold", "zone_reset_frequency"), _ZONES),
    **dict.fromkeys(("iodepth_batch", "iodepth_batch_submit", "iodepth_batch_complete",
                     "iodepth_batch_complete_min", "iodepth_batch_complete_max", "iodepth_low",
                     "io_submit_mode", "serialize_overlap"), _ASYNC),
    **dict.fromkeys(("hugepage_delay", "madvise_hint", "khugepaged_delay"), _RFC),
    **dict.fromkeys(("filetype", "offset_align", "read_beyond_wp", "end_syncfs", "write_hint",
                     "fdp", "plid_select", "plids", "dp_scheme",), _FILES),
    **dict.fromkeys(("verify_policy", "verify_pattern_interval",), _VERIFY),
    **dict.fromkeys(("recover_zbd_write_error", "write_zone_remainder",), _ZONES),
    **dict.fromkeys(("priohint",), "a priority hint for block devices (command duration "
                    "limits); anonymous memory has no device"),
    **dict.fromkeys(("data_placement", "fdp_pli", "fdp_pli_select"), _FILES),
    **dict.fromkeys(("spr_cs", "spr_num_regions", "spr_op"), _NOT_IMPLEMENTED),
    **dict.fromkeys(("sprandom", "comm", "profile"), _NOT_IMPLEMENTED),
}


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, for "did you mean" (as fio's show_closest_option)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def closest(name: str) -> str | None:
    """The supported option spelling nearest to ``name``, if it is near enough to suggest."""
    if not name or len(name) > 64:
        return None
    best = min(BY_NAME, key=lambda spelling: (_distance(name, spelling), spelling))
    return best if _distance(name, best) <= max(2, len(name) // 3) else None


def lookup(name: str) -> Option:
    """The option spelled ``name``; BadValue explains unknown and unsupported names."""
    option = BY_NAME.get(name)
    if option is not None:
        return option
    if name in UNSUPPORTED:
        raise BadValue(f"option {name!r} is not supported: {UNSUPPORTED[name]}")
    suggestion = closest(name)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    raise BadValue(f"bad option {name!r}{hint}")


# The state an option's apply function derives from its default (Option.default is in
# option syntax, e.g. RwValue, for --cmdhelp); tests/jobfile/test_options.py checks that
# applying each default gives exactly these.
@dataclass(frozen=True)
class _AppliedDefaults:
    ioengine: str = "page_fault"
    rw: RwMode = RwMode.READ
    rw_postfix: int = 0
    random_distribution: str = "random"
    distribution_params: tuple[float, ...] = ()
    random_sequence: tuple[int, ...] = ()
    zones: tuple[Zones, Zones] = ((), ())
    randseed: int = 0x89
    randseed_set: bool = False
    verify_write_sequence: bool = True
    verify_write_sequence_set: bool = False
    offset: int | Percent = 0
    loops: int = 1
    thinktime_blocks: int = 1
    gtod_reduce: bool = False
    kb_base: int = 1024
    unit_base: int = 8
    filename: str = ""
    exitall: bool = False
    exitall_on_error: bool = False
    continue_on_error: str = "none"
    unified_rw_reporting: str = "none"
    max_latency_ns: tuple[int, int, int] = (0, 0, 0)
    sync_file_range_nr: int = 0
    log_window_value: str = "avg"
    mem: MemKind = MemKind.MALLOC
    mem_file: str = ""
    zonemode: str = "none"
    replay_align: int = 0
    replay_redirect: str = ""
    job_start_clock_id: int = 0
    log_compression: int = 0


_APPLIED_DEFAULTS = _AppliedDefaults()


def initial_state() -> State:
    """The job state before any option: every option's default."""
    plain = {option.key: option.default for option in OPTIONS if option.apply is None}
    applied = {f.name: getattr(_APPLIED_DEFAULTS, f.name) for f in fields(_APPLIED_DEFAULTS)}
    return State(**plain, **applied)
