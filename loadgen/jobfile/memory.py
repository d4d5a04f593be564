"""The memory-management options' value kinds, and their checks into ``MemoryControls``.

The options themselves are rows of the one option table (``loadgen.jobfile.options``);
this module holds what is particular to them: the ``thp_delay`` and ``mthp`` syntaxes,
the combinations that cannot work (each refused with one line at the section), and the
per-group check that jobs started together agree on the system-wide mTHP policy.
Facts of the machine (is there a hugetlb pool, a cgroup v2, root) are checked when the
run starts (``loadgen.controller.memctl.preflight``), not here: ``loadgen plan`` works
anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadgen.errors import InputError
from loadgen.jobfile.values import (
    TIME_UNITS_NS,
    BadValue,
    Kind,
    ParseContext,
    parse_int,
    parse_size,
    parse_time,
)
from loadgen.plan import Backing, MemoryControls, Mlock, Plan, Refault

if TYPE_CHECKING:  # options imports this module's value kinds
    from loadgen.jobfile.options import State

MTHP_POLICIES = ("always", "inherit", "madvise", "never")
PASS_SUFFIXES = ("passes", "pass", "p")
MIN_MTHP = 8 * 1024  # order-1 folios are the smallest mTHP size the kernel offers

ThpDelay = tuple[str, int]  # ("ns", N) or ("passes", N)


class ThpDelayKind(Kind):
    """``thp_delay=TIME|Npasses``: a time (default unit ms, as the page_fault RFC's
    hugepage_delay) or a pass count with a ``passes``/``pass``/``p`` suffix."""

    label = "time or passes"

    def parse(self, text: str, ctx: ParseContext) -> ThpDelay:
        stripped = text.strip().lower()
        for suffix in PASS_SUFFIXES:
            if stripped.endswith(suffix) and stripped[: -len(suffix)].strip().isdigit():
                return ("passes", parse_int(stripped[: -len(suffix)]))
        return ("ns", parse_time(text, TIME_UNITS_NS["ms"]))

    def describe(self) -> list[str]:
        return ["a time (unit without suffix: ms; us ms s m h) or N passes (3passes, 3p)"]

    def show(self, value: Any) -> str:
        return "0"


class MthpKind(Kind):
    """``mthp=16k:always,64k:inherit``: per-size mTHP policies (sysfs ``enabled``)."""

    label = "mthp list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[tuple[int, str], ...]:
        entries: dict[int, str] = {}
        for item in text.split(","):
            size_text, colon, policy = item.partition(":")
            if not colon:
                raise BadValue(f"{item.strip()!r} is not SIZE:POLICY")
            size = parse_size(size_text, ctx, 1)
            policy = policy.strip()
            if size < MIN_MTHP or size & (size - 1):
                raise BadValue(f"{size_text.strip()!r}: an mTHP size is a power of two >= 8k")
            if policy not in MTHP_POLICIES:
                raise BadValue(f"{policy!r} is not one of: {', '.join(MTHP_POLICIES)}")
            if size in entries:
                raise BadValue(f"{size_text.strip()!r} is given twice")
            entries[size] = policy
        return tuple(sorted(entries.items()))

    def describe(self) -> list[str]:
        return ["SIZE:POLICY,... with POLICY always|inherit|madvise|never; set through",
                "/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled for the job's",
                "group (root only) and restored however the run ends"]

    def show(self, value: Any) -> str:
        return "(leave alone)"


def _fail(message: str, where: str) -> InputError:
    return InputError(message, where)


def memory_controls(state: State, name: str, where: str) -> MemoryControls:
    """The job's ``MemoryControls`` from its option state; impossible combinations fail here."""
    backing = Backing(state.backing)
    refault = Refault(state.refault)
    mlock = Mlock(state.mlock)
    delay_kind, delay = state.thp_delay
    size: int = state.size
    thp: str = state.thp
    job = f"job {name!r}"
    if backing is Backing.FILE and not state.filename:
        raise _fail(f"{job}: backing=file needs filename= (the file to map)", where)
    hugepage_size: int = state.hugepage_size
    if hugepage_size and backing is not Backing.HUGETLB:
        raise _fail(f"{job}: hugepage_size= applies only to backing=hugetlb", where)
    if backing is Backing.HUGETLB:
        if thp != "inherit" or state.collapse or delay:
            raise _fail(f"{job}: thp=, thp_delay= and collapse= do not apply to backing=hugetlb "
                        "(its pages are huge already)", where)
        page = hugepage_size or 2 * 1024 * 1024
        if size % page:
            raise _fail(f"{job}: backing=hugetlb needs size= to be a multiple of the huge page "
                        f"size ({page} bytes)", where)
    if state.ksm and backing is not Backing.ANON:
        raise _fail(f"{job}: ksm=1 merges only private anonymous memory (backing=anon)", where)
    if mlock is not Mlock.OFF and refault in (Refault.DONTNEED, Refault.PAGEOUT):
        raise _fail(f"{job}: refault={refault} cannot drop mlock'ed pages; use refault=remap",
                    where)
    if delay and thp != "madvise":
        raise _fail(f"{job}: thp_delay= delays MADV_HUGEPAGE, so it needs thp=madvise", where)
    return MemoryControls(
        backing=backing, filename=state.filename if backing is Backing.FILE else "",
        hugepage_size=hugepage_size, refault=refault, populate=state.populate, mlock=mlock,
        ksm=state.ksm, cold=state.cold, collapse=state.collapse,
        thp_delay_ns=delay if delay_kind == "ns" else 0,
        thp_delay_passes=delay if delay_kind == "passes" else 0,
        mthp=state.mthp, memory_limit=state.memory_limit, memory_high=state.memory_high,
        fault_kinds=state.fault_kinds,
    )


def check_groups(plan: Plan) -> None:
    """Jobs of one group run at once: they must agree on each mTHP size's system-wide
    policy, and thread jobs (one process, so one cgroup) on their memory limits."""
    for group in plan.groups:
        policies: dict[int, tuple[str, str]] = {}
        for job in group.jobs:
            for size, policy in job.mm.mthp:
                other = policies.setdefault(size, (policy, job.name))
                if other[0] != policy:
                    raise InputError(
                        f"jobs {other[1]!r} and {job.name!r} run together but ask for mthp "
                        f"{size // 1024}k:{other[0]} and {size // 1024}k:{policy}", job.source)
        threads = {(j.mm.memory_limit, j.mm.memory_high) for j in group.jobs if j.thread}
        if len(threads) > 1:
            raise InputError(f"group {group.id}: thread jobs share one process and so one memory "
                             "cgroup; give them the same memory_limit= and memory_high=")
