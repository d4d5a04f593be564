"""From sections of option lines to the frozen ``Plan`` (fio's ``get_new_job``/``add_job``).

Globals are a template: each job starts as a copy of the template as it stands at its
section.  Options are applied in fio's prio order, checked the way fio checks them, and each
job is expanded into numjobs workers with fio's clone numbering and group ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from loadgen import blktrace
from loadgen.errors import InputError, raise_collected
from loadgen.jobfile import steadystate
from loadgen.jobfile.engineopts import engine_controls
from loadgen.jobfile.expr import bc_integer
from loadgen.jobfile.memory import check_groups, memory_controls
from loadgen.jobfile.options import MAX_JOBS, State, initial_state, lookup
from loadgen.jobfile.reader import OptionLine, Section
from loadgen.jobfile.steadystate import steady_state
from loadgen.jobfile.substitute import SystemFacts
from loadgen.jobfile.values import BadValue, ParseContext, Percent
from loadgen.plan import MAX_FLOWS, READ, WRITE, BsSplitEntry, Group, Job, Pair, Plan, RwMode
from loadgen.replaylog import LogError, ReplayLog, ReplayOptions, load

Note = Callable[[str], None]
COMMAND_LINE = "command line"

# Job fields computed in Resolver._job from the state (or set when the job is numbered);
# every other Job field is the state field of the same name and type, copied as it is
# (tests/jobfile/test_resolve.py checks both halves).
COMPUTED = frozenset({
    "name", "thread_number", "subjob", "group_id", "size", "io_size", "offset",
    "offset_percent", "offset_increment", "bs_min", "bs_max", "bssplit", "blockalign",
    "percentage_random", "randrepeat", "time_based", "startdelay_ns", "write_bw_log",
    "write_lat_log", "write_iops_log", "write_hist_log", "mm", "cpus_allowed",
    "numa_cpu_nodes", "numa_mem_policy", "rate", "verify", "buffers", "job_options", "source",
    "steadystate", "flow_slot",
    "zone_size", "zone_range", "zone_skip", "read_iolog", "write_iolog",
})
COPIED = tuple(f.name for f in fields(Job) if f.name not in COMPUTED)


@dataclass(frozen=True)
class SourceFile:
    """One job file's sections (or the command line's, with ``on_command_line``)."""

    name: str
    sections: tuple[Section, ...]
    on_command_line: bool = False


class Resolver:
    """Resolves sources into a Plan, collecting every mistake before it raises.

    ``warnings_fatal`` (fio's --warnings-fatal) turns each note into an error.  After
    ``resolve``, ``command_lines`` holds each job file as fio's ``--showcmd`` prints it.
    """

    def __init__(self, facts: SystemFacts, note: Note, warnings_fatal: bool = False,
                 errors: list[InputError] | None = None) -> None:
        self.facts = facts
        self._note = note
        self.warnings_fatal = warnings_fatal
        self.errors: list[InputError] = [] if errors is None else errors
        self.command_lines: list[str] = []
        self.flow_slots: dict[int, int] = {}  # flow_id -> slot in the shared flow table
        self.section_failed = False  # the last section applied had a bad line

    def note(self, location: str, message: str) -> None:
        if self.warnings_fatal:
            self.errors.append(InputError(f"{message} (--warnings-fatal)", location))
        else:
            self._note(f"{location}: note: {message}")


    def resolve(self, sources: list[SourceFile]) -> Plan:
        """Sources in fio's order: command-line jobs first, then the job files."""
        template = initial_state()
        global_options: list[tuple[str, str]] = []
        jobs: list[Job] = []
        file_index = 0
        template_shown: list[tuple[str, str]] = []  # fio's global opt_list, for --showcmd
        for source in sources:
            if not source.on_command_line:
                if file_index > 0:
                    template = initial_state()  # later job files start from fresh globals
                    template_shown = []
                implicit_stonewall = file_index > 0
                file_index += 1
            else:
                implicit_stonewall = False
            words: list[str] = []
            for section in source.sections:
                if section.is_global:
                    shown = self._apply(template, section, source.on_command_line)
                    template_shown += shown
                    words += map(_showcmd_word, template_shown)
                    if not source.on_command_line:  # fio lists only job-file globals
                        global_options += shown
                    continue
                state = template.copy()
                if implicit_stonewall:
                    state.stonewall = True  # fio: each later file's first job waits
                    implicit_stonewall = False
                job_options = self._apply(state, section, source.on_command_line)
                words += [f"--name={section.name}", *map(_showcmd_word, job_options)]
                if not self.section_failed:  # no checks on a job whose lines failed
                    try:
                        job = self._job(state, section, job_options)
                        _check_wait_for(job, jobs)
                        jobs.append(job)
                    except InputError as exc:
                        self.errors.append(exc)
            if not source.on_command_line:
                shown_words = "".join(f"{word} " for word in words)
                self.command_lines.append(f"fio {shown_words}" if source.sections else "")
        raise_collected(self.errors)
        if not jobs:
            raise InputError("no jobs defined")
        groups = _number_and_group(jobs)
        _check_ramp_sizes(groups)
        _check_shared_processes(groups)
        plan = Plan(groups=groups, global_options=tuple(global_options),
                    files=tuple(s.name for s in sources if not s.on_command_line))
        check_groups(plan)
        steadystate.check_groups(plan)
        return plan

    def _apply(
        self, state: State, section: Section, on_command_line: bool
    ) -> list[tuple[str, str]]:
        """Apply a section's lines to ``state``; returns the options as fio lists them.

        A bad line is added to ``errors`` and the others are still applied, so one pass
        finds every mistake of the section."""
        looked_up = []
        failed: list[tuple[int, InputError]] = []  # (line index, error): shown in file order
        for index, line in enumerate(section.options):
            try:
                looked_up.append((lookup(line.key), index, line))
            except BadValue as exc:
                failed.append((index, InputError(str(exc), line.location)))
        looked_up.sort(key=lambda entry: -entry[0].prio)  # stable: equal prio keeps file order
        shown: list[tuple[str, str]] = []
        for option, index, line in looked_up:
            text = line.value
            if text is None:
                text = (
                    option.kind.bare_on_command_line
                    if on_command_line
                    else option.kind.bare_in_file
                )
                if text is None:
                    message = f"option {line.key!r} needs a value ({line.key}=...)"
                    failed.append((index, InputError(message, line.location)))
                    continue
            context = ParseContext(state.kb_base, self.facts.ncpus, on_command_line)
            try:
                note = option.store(state, option.kind.parse(text, context))
            except BadValue as exc:
                failed.append((index, InputError(f"{line.key}={text}: {exc}", line.location)))
                continue
            if note:
                self.note(line.location, note)
            shown.append((option.name, _as_fio_shows(option.kind.scalar_number, line, text)))
        self.errors += [error for _, error in sorted(failed, key=lambda pair: pair[0])]
        self.section_failed = bool(failed)
        return shown

    def _job(self, state: State, section: Section, job_options: list[tuple[str, str]]) -> Job:
        """Check and turn one job's final state into a Job (fio's fixup_options)."""
        where = section.location
        name = state.name or section.name
        size = state.size
        replay = self._replay(state, name, where)
        if replay is not None:
            size = max(size, replay.extent)  # the region holds every I/O of the log
        if size == 0:
            raise InputError(f"job {name!r}: you need to specify size= (the region to map)", where)
        bs_min, bs_max, bssplit = _block_sizes(state)
        if state.bs_is_seq_rand:
            bs_min, bs_max, bssplit = _seq_rand_block_sizes(state, bs_min, bs_max, bssplit)
        smallest = min(bs_min)
        if size < smallest:
            raise InputError(
                f"job {name!r}: size={size} is smaller than the minimum block size {smallest}",
                where,
            )
        ba = [(state.ba[d] or bs_min[d]) if state.rw.random else bs_min[d] for d in (READ, WRITE)]
        if state.ramp_time_ns and state.ramp_size:
            raise InputError(
                f"job {name!r}: job rejected: cannot specify both ramp_time and ramp_size (as fio)",
                where,
            )
        if state.log_store_compressed and state.write_hist_log is not None:
            self.note(where, f"job {name!r}: log_store_compressed: the histogram log is written "
                             "as text (fio's compressed one holds memory addresses, not buckets)")
        time_based = state.time_based
        if time_based and state.runtime_ns == 0:
            self.note(where, f"job {name!r}: time_based needs runtime=; time_based disabled")
            time_based = False
        startdelay = state.startdelay_ns
        offset = state.offset
        cpus_allowed = state.cpus_allowed
        numa_cpu_nodes, numa_mem_policy = self._numa(state, name, where)
        if numa_cpu_nodes is not None and cpus_allowed:
            self.note(where, f"job {name!r}: numa_cpu_nodes replaces cpus_allowed, as in fio")
            cpus_allowed = ()
        rate, verify, buffers = engine_controls(state, name, where, size, bs_min[WRITE])
        flow_slot = 0
        if state.flow:
            flow_slot = self.flow_slots.setdefault(state.flow_id, len(self.flow_slots))
            if flow_slot >= MAX_FLOWS:
                raise InputError(f"job {name!r}: more than {MAX_FLOWS} flow_id values in one run",
                                 where)
        zone_size, zone_range, zone_skip = _zones(state, name, where)
        job = Job(
            **{field: getattr(state, field) for field in COPIED},
            name=name,
            thread_number=0,
            subjob=0,
            group_id=0,
            size=size,
            io_size=_of_size(state.io_size, size) if replay is None else replay.total_bytes,
            offset=0,
            offset_percent=offset.value if isinstance(offset, Percent) else 0,
            offset_increment=_of_size(state.offset_increment, size),
            bs_min=bs_min,
            bs_max=bs_max,
            bssplit=bssplit,
            blockalign=(ba[READ], ba[WRITE]),
            percentage_random=(state.percentage_random[READ], state.percentage_random[WRITE]),
            # fio (init.c): a given randseed turns randrepeat off, so its seeds are fixed
            # but the loops are not re-seeded
            randrepeat=state.randrepeat and not state.randseed_set,
            time_based=time_based,
            startdelay_ns=startdelay if isinstance(startdelay, tuple) else (startdelay, startdelay),
            write_bw_log=_log_prefix(state.write_bw_log, name),
            write_lat_log=_log_prefix(state.write_lat_log, name),
            write_iops_log=_log_prefix(state.write_iops_log, name),
            write_hist_log=_log_prefix(state.write_hist_log, name),
            mm=memory_controls(state, name, where),
            rate=rate,
            verify=verify,
            buffers=buffers,
            steadystate=steady_state(state.ss, state.ss_dur_ns, state.ss_ramp_ns,
                                     state.ss_interval_ns, name, where),
            cpus_allowed=cpus_allowed,
            numa_cpu_nodes=numa_cpu_nodes,
            numa_mem_policy=numa_mem_policy,
            job_options=tuple(job_options),
            source=where,
            flow_slot=flow_slot,
            read_iolog=os.path.abspath(state.read_iolog) if state.read_iolog else "",
            write_iolog=state.write_iolog if replay is None else "",
            zone_size=zone_size,
            zone_range=zone_range,
            zone_skip=zone_skip,
        )
        if replay is None:
            return job
        writes, reads = bool((replay.dirs == WRITE).any()), bool((replay.dirs == READ).any())
        mode = RwMode.RW if writes and reads else RwMode.WRITE if writes else RwMode.READ
        return replace(job, rw=mode, rw_postfix=0)  # the log's directions, not rw=

    def _replay(self, state: State, name: str, where: str) -> ReplayLog | None:
        """read_iolog: the log checked line by line now, so that a bad log stops the run
        before anything starts (fio skips bad lines with a message)."""
        if not state.read_iolog:
            if state.merge_blktrace_file:
                raise InputError(f"job {name!r}: merge_blktrace_file merges the traces of "
                                 "read_iolog=A:B:..., and there is none", where)
            return None
        if state.write_iolog:
            self.note(where, f"job {name!r}: read_iolog overrides write_iolog (as fio)")
        options = ReplayOptions(state.replay_no_stall, state.replay_time_scale,
                                state.replay_scale, state.replay_align, state.replay_skip)
        if state.merge_blktrace_file:  # fio's merge_blktrace_iologs, when the job is read
            try:
                blktrace.merge(state.read_iolog.split(":"), state.merge_blktrace_scalars,
                               state.merge_blktrace_iters, state.merge_blktrace_file)
            except OSError as exc:
                raise InputError(f"job {name!r}: merge_blktrace_file: {exc.filename}: "
                                 f"{exc.strerror or exc}", where) from None
            except blktrace.MergeError as exc:
                raise InputError(f"job {name!r}: merge_blktrace_file: {exc}", where) from None
            state.read_iolog = state.merge_blktrace_file  # the job replays the merged trace
        try:
            replay = load(state.read_iolog, options)
        except OSError as exc:
            raise InputError(f"job {name!r}: read_iolog={state.read_iolog}: "
                             f"{exc.strerror or exc}", where) from None
        except LogError as exc:
            raise InputError(str(exc), f"{state.read_iolog}:{exc.line}") from None
        if not replay.ios:
            raise InputError(f"job {name!r}: read_iolog={state.read_iolog} has no I/O to "
                             "replay", where)
        return replay

    def _numa(
        self, state: State, name: str, where: str
    ) -> tuple[tuple[int, ...] | None, tuple[str, tuple[int, ...]] | None]:
        """numa_cpu_nodes/numa_mem_policy checked against the machine's nodes.

        On a one-node machine either changes nothing (every CPU and every page is on node
        0), so both are skipped with a note; on more nodes the worker binds the region
        to the memory policy and the controller pins the worker to the nodes' CPUs."""
        online = self.facts.numa_nodes
        cpu_nodes: tuple[int, ...] | None = state.numa_cpu_nodes
        policy: tuple[str, tuple[int, ...]] | None = state.numa_mem_policy
        policy_nodes = policy[1] if policy else None
        for option, nodes in (("numa_cpu_nodes", cpu_nodes), ("numa_mem_policy", policy_nodes)):
            missing = sorted(set(nodes or ()) - set(online))
            if missing:
                raise InputError(
                    f"job {name!r}: {option}: node {missing[0]} does not exist "
                    f"(online nodes: {','.join(map(str, online))})",
                    where,
                )
        if policy is not None and len(online) == 1:
            if policy[0] != "default":
                self.note(
                    where,
                    f"job {name!r}: numa_mem_policy skipped: this machine has one NUMA "
                    "node, so every policy places the memory on node 0",
                )
            policy = None
        if cpu_nodes is not None and len(online) == 1:
            self.note(
                where,
                f"job {name!r}: numa_cpu_nodes skipped: this machine has one NUMA "
                "node, which holds every CPU",
            )
            cpu_nodes = None
        return (None if cpu_nodes is None else cpu_nodes or online), policy


def _seq_rand_block_sizes(
    state: State, bs_min: Pair, bs_max: Pair, bssplit: tuple[Splits, Splits]
) -> tuple[Pair, Pair, tuple[Splits, Splits]]:
    """bs_is_seq_rand: fio picks the block size by sequential (read slot) or random (write
    slot) instead of by direction.  A sequential job gets the read slot for both directions,
    as in fio.  A random job keeps both slots: fio still draws its offsets by the direction's
    own block size while the lengths follow the I/O's slot (checked: randread bs=64k,4k
    does 34 I/Os of 4k on 4 MiB), which the engine's walk does I/O by I/O."""
    mode = state.rw
    used = [d for d, does in ((READ, mode.reads), (WRITE, mode.writes)) if does]
    if mode.random and any(state.percentage_random[d] for d in used):
        return bs_min, bs_max, bssplit
    return (
        (bs_min[READ], bs_min[READ]),
        (bs_max[READ], bs_max[READ]),
        (bssplit[READ], bssplit[READ]),
    )


def _zones(state: State, name: str, where: str) -> tuple[int, int, int]:
    """fio's fixup_options for zonemode=strided: zonesize is required (and refused without
    the mode), zonerange defaults to zonesize; (0, 0, 0) = no zones."""
    if state.zonemode == "zbd":
        return 0, 0, 0  # refused on its own line
    if state.zonemode == "none":
        if state.zonesize:
            raise InputError(f"job {name!r}: zonemode=none and zonesize are not compatible "
                             "(set zonemode=strided)", where)
        return 0, 0, 0
    if not state.zonesize:
        raise InputError(f"job {name!r}: zonesize must be specified when using "
                         "zonemode=strided", where)
    return state.zonesize, state.zonerange or state.zonesize, state.zoneskip


def _check_wait_for(job: Job, earlier: list[Job]) -> None:
    """fio's ``wait_for_ok``: not itself, and exactly one earlier job of that name."""
    if not job.wait_for:
        return
    if job.wait_for == job.name:
        raise InputError(
            f"job {job.name!r}: a job cannot wait for itself (wait_for={job.wait_for})", job.source
        )
    found = sum(1 for other in earlier if other.name == job.wait_for)
    if not found:
        raise InputError(
            f"job {job.name!r}: waitee job {job.wait_for!r} unknown (it must be defined before)",
            job.source,
        )
    if found > 1:
        raise InputError(
            f"job {job.name!r}: multiple waitees {job.wait_for!r} found; avoid "
            "duplicate names when using wait_for",
            job.source,
        )


def _check_shared_processes(groups: tuple[Group, ...]) -> None:
    """thread=1 jobs of a group share one worker process, and nice, I/O priority, cgroup and
    CPU nodes are set on that process: they must agree."""
    for group in groups:
        threads = [job for job in group.jobs if job.thread]
        settings = {
            (j.nice, j.ioprio, j.ioprio_class, j.cgroup, j.cgroup_weight, j.numa_cpu_nodes)
            for j in threads
        }
        if len(settings) > 1:
            raise InputError(
                f"job {threads[-1].name!r}: thread=1 jobs of one group share a "
                "process, so their nice, prio, prioclass, cgroup and numa_cpu_nodes "
                "must be the same",
                threads[-1].source,
            )


def _showcmd_word(option: tuple[str, str]) -> str:
    """One option as fio's dump_print_option writes it (a description is quoted)."""
    name, value = option
    if not value:
        return f"--{name}"
    return f'--{name}="{value}"' if name == "description" else f"--{name}={value}"


def _as_fio_shows(scalar_number: bool, line: OptionLine, text: str) -> str:
    """A keyword line's arithmetic is shown computed, as bc's output is in fio."""
    if line.value is None:
        return ""
    if line.keyword_substituted and scalar_number:
        computed = bc_integer(text)
        if computed is not None:
            return str(computed)
    return text


def _of_size(value: int | Percent, size: int) -> int:
    return size * value.value // 100 if isinstance(value, Percent) else value


def _log_prefix(value: str | None, name: str) -> str:
    """None: no log; "": bare option, the prefix is the job name (fio)."""
    if value is None:
        return ""
    return value or name


Splits = tuple[BsSplitEntry, ...]


def _block_sizes(state: State) -> tuple[Pair, Pair, tuple[Splits, Splits]]:
    """Per direction: bssplit if given, else bsrange, else bs (fio fills min/max from bs)."""
    minimum: list[int] = []
    maximum: list[int] = []
    splits: list[Splits] = []
    for direction in (READ, WRITE):
        split = state.bssplit[direction]
        span = state.bsrange[direction]
        if split:
            sizes = [entry.bs for entry in split]
            minimum.append(min(sizes))
            maximum.append(max(sizes))
        elif span:
            minimum.append(span[0])
            maximum.append(span[1])
        else:
            minimum.append(state.bs[direction])
            maximum.append(state.bs[direction])
        splits.append(split or ())
    return (minimum[0], minimum[1]), (maximum[0], maximum[1]), (splits[0], splits[1])


def _check_ramp_sizes(groups: tuple[Group, ...]) -> None:
    """fio's td_ramp_period_init: a job with a ramp (time or size) is rejected when an
    earlier job of its group, or itself, has another ramp_size (the group's jobs count
    the ramp's bytes together)."""
    for group in groups:
        for index, job in enumerate(group.jobs):
            if not (job.ramp_time_ns or job.ramp_size):
                continue
            for earlier in group.jobs[:index]:
                if earlier.ramp_size != job.ramp_size:
                    raise InputError(
                        f"job {job.name!r}: job rejected: inconsistent ramp_size within "
                        f"reporting group ({earlier.name!r} has {earlier.ramp_size}, this job "
                        f"{job.ramp_size})",
                        job.source,
                    )


def _number_and_group(jobs: list[Job]) -> tuple[Group, ...]:
    """numjobs clones and group ids exactly as fio's add_job.

    Clones follow their parent with subjob N-1..1 and consecutive thread numbers; they have
    stonewall/new_group cleared.  A job with stonewall/new_group opens a new group only if
    the current group already has jobs.
    """
    total = sum(job.numjobs for job in jobs)
    if total > MAX_JOBS:
        raise InputError(f"{total} jobs in all: at most {MAX_JOBS} are allowed (fio's limit)")
    groups: dict[int, list[Job]] = {}
    group_id = 0
    jobs_in_group = 0
    thread_number = 0
    for job in jobs:
        if (job.stonewall or job.new_group) and jobs_in_group:
            group_id += 1
            jobs_in_group = 0
        for subjob in (0, *range(job.numjobs - 1, 0, -1)):
            thread_number += 1
            # one replace per clone (each runs Job's whole __init__); clones never open groups
            worker = replace(job, thread_number=thread_number, subjob=subjob, group_id=group_id,
                             stonewall=job.stonewall and not subjob,
                             new_group=job.new_group and not subjob)
            groups.setdefault(group_id, []).append(worker)
            jobs_in_group += 1
    workers = [worker for members in groups.values() for worker in members]
    seeds = _randseed_runs(workers)
    return tuple(
        Group(id=gid, jobs=tuple(_spread_dedupe(w, len(workers), seeds) for w in members))
        for gid, members in groups.items()
    )


def _randseed_runs(workers: list[Job]) -> tuple[tuple[int, int], ...]:
    """(first thread number, randseed) of each run of workers with one randseed."""
    runs: list[tuple[int, int]] = []
    for worker in sorted(workers, key=lambda w: w.thread_number):
        if not runs or runs[-1][1] != worker.randseed:
            runs.append((worker.thread_number, worker.randseed))
    return tuple(runs)


def _spread_dedupe(worker: Job, total: int, seeds: tuple[tuple[int, int], ...]) -> Job:
    """dedupe_global: the working set rotates over every worker of the run, as fio's
    init_global_dedupe_working_set_seeds, so the worker needs their number and seeds."""
    buffers = worker.buffers
    if not (buffers.dedupe_global and buffers.dedupe_working_set_pages):
        return worker
    return replace(worker, buffers=replace(buffers, dedupe_workers=total, dedupe_randseeds=seeds))
