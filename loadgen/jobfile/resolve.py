"""From sections of option lines to the frozen ``Plan`` (fio's ``get_new_job``/``add_job``).

Globals are a template: each job starts as a copy of the template as it stands at its
section.  Options are applied in fio's prio order, checked the way fio checks them, and each
job is expanded into numjobs workers with fio's clone numbering and group ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from loadgen.errors import InputError
from loadgen.jobfile.engineopts import engine_controls
from loadgen.jobfile.expr import bc_integer
from loadgen.jobfile.memory import check_groups, memory_controls
from loadgen.jobfile.options import MAX_JOBS, State, initial_state, lookup
from loadgen.jobfile.reader import OptionLine, Section
from loadgen.jobfile.substitute import SystemFacts
from loadgen.jobfile.values import BadValue, ParseContext, Percent
from loadgen.plan import READ, WRITE, BsSplitEntry, Group, Job, Pair, Plan

Note = Callable[[str], None]
COMMAND_LINE = "command line"

# Job fields computed in Resolver._job from the state (or set when the job is numbered);
# every other Job field is the state field of the same name and type, copied as it is
# (tests/jobfile/test_resolve.py checks both halves).
COMPUTED = frozenset({
    "name", "thread_number", "subjob", "group_id", "size", "io_size", "offset",
    "offset_percent", "offset_increment", "bs_min", "bs_max", "bssplit", "blockalign",
    "percentage_random", "randrepeat", "time_based", "startdelay_ns", "write_bw_log",
    "write_lat_log", "write_iops_log", "write_hist_log", "mm", "job_options", "source",
    "rate", "verify", "buffers",
})
COPIED = tuple(f.name for f in fields(Job) if f.name not in COMPUTED)


@dataclass(frozen=True)
class SourceFile:
    """One job file's sections (or the command line's, with ``on_command_line``)."""

    name: str
    sections: tuple[Section, ...]
    on_command_line: bool = False


class Resolver:
    def __init__(self, facts: SystemFacts, note: Note) -> None:
        self.facts = facts
        self.note = note

    def resolve(self, sources: list[SourceFile]) -> Plan:
        """Sources in fio's order: command-line jobs first, then the job files."""
        template = initial_state()
        global_options: list[tuple[str, str]] = []
        jobs: list[Job] = []
        file_index = 0
        for source in sources:
            if not source.on_command_line:
                if file_index > 0:
                    template = initial_state()  # later job files start from fresh globals
                implicit_stonewall = file_index > 0
                file_index += 1
            else:
                implicit_stonewall = False
            for section in source.sections:
                if section.is_global:
                    shown = self._apply(template, section, source.on_command_line)
                    if not source.on_command_line:  # fio lists only job-file globals
                        global_options += shown
                    continue
                state = template.copy()
                if implicit_stonewall:
                    state.stonewall = True  # fio: each later file's first job waits
                    implicit_stonewall = False
                job_options = self._apply(state, section, source.on_command_line)
                jobs.append(self._job(state, section, job_options))
        if not jobs:
            raise InputError("no jobs defined")
        plan = Plan(groups=_number_and_group(jobs), global_options=tuple(global_options),
                    files=tuple(s.name for s in sources if not s.on_command_line))
        check_groups(plan)
        return plan

    def _apply(
        self, state: State, section: Section, on_command_line: bool
    ) -> list[tuple[str, str]]:
        """Apply a section's lines to ``state``; returns the options as fio lists them."""
        looked_up = []
        for line in section.options:
            try:
                looked_up.append((lookup(line.key), line))
            except BadValue as exc:
                raise InputError(str(exc), line.location) from None
        looked_up.sort(key=lambda pair: -pair[0].prio)  # stable: equal prio keeps file order
        shown: list[tuple[str, str]] = []
        for option, line in looked_up:
            text = line.value
            if text is None:
                text = (
                    option.kind.bare_on_command_line
                    if on_command_line
                    else option.kind.bare_in_file
                )
                if text is None:
                    raise InputError(
                        f"option {line.key!r} needs a value ({line.key}=...)", line.location
                    )
            context = ParseContext(state.kb_base, self.facts.ncpus, on_command_line)
            try:
                note = option.store(state, option.kind.parse(text, context))
            except BadValue as exc:
                raise InputError(f"{line.key}={text}: {exc}", line.location) from None
            if note:
                self.note(f"{line.location}: note: {note}")
            shown.append((option.name, _as_fio_shows(option.kind.scalar_number, line, text)))
        return shown

    def _job(self, state: State, section: Section, job_options: list[tuple[str, str]]) -> Job:
        """Check and turn one job's final state into a Job (fio's fixup_options)."""
        where = section.location
        name = state.name or section.name
        size = state.size
        if size == 0:
            raise InputError(f"job {name!r}: you need to specify size= (the region to map)", where)
        bs_min, bs_max, bssplit = _block_sizes(state)
        smallest = min(bs_min)
        if size < smallest:
            raise InputError(f"job {name!r}: size={size} is smaller than the minimum block size "
                             f"{smallest}", where)
        ba = [(state.ba[d] or bs_min[d]) if state.rw.random else bs_min[d] for d in (READ, WRITE)]
        time_based = state.time_based
        if time_based and state.runtime_ns == 0:
            self.note(
                f"{where}: note: job {name!r}: time_based needs runtime=; time_based disabled"
            )
            time_based = False
        startdelay = state.startdelay_ns
        offset = state.offset
        rate, verify, buffers = engine_controls(state, name, where)
        return Job(
            **{field: getattr(state, field) for field in COPIED},
            name=name, thread_number=0, subjob=0, group_id=0, size=size,
            io_size=_of_size(state.io_size, size),
            offset=0, offset_percent=offset.value if isinstance(offset, Percent) else 0,
            offset_increment=_of_size(state.offset_increment, size),
            bs_min=bs_min, bs_max=bs_max, bssplit=bssplit, blockalign=(ba[READ], ba[WRITE]),
            percentage_random=(state.percentage_random[READ], state.percentage_random[WRITE]),
            randrepeat=state.randrepeat or state.randseed_set,
            time_based=time_based,
            startdelay_ns=startdelay if isinstance(startdelay, tuple) else (startdelay, startdelay),
            write_bw_log=_log_prefix(state.write_bw_log, name),
            write_lat_log=_log_prefix(state.write_lat_log, name),
            write_iops_log=_log_prefix(state.write_iops_log, name),
            write_hist_log=_log_prefix(state.write_hist_log, name),
            mm=memory_controls(state, name, where), rate=rate, verify=verify, buffers=buffers,
            job_options=tuple(job_options), source=where,
        )


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
            worker = replace(job, thread_number=thread_number, subjob=subjob, group_id=group_id)
            if subjob:
                worker = replace(worker, stonewall=False, new_group=False)
            groups.setdefault(group_id, []).append(worker)
            jobs_in_group += 1
    return tuple(Group(id=gid, jobs=tuple(members)) for gid, members in groups.items())
