"""The controller's memory-management duties: check the machine, apply, place, report, undo.

Before anything starts, ``preflight`` checks that the plan's memory controls can work on
this machine (root for sysfs policies, a hugetlb pool big enough, a memory cgroup
controller) and fails with one line otherwise.  Per group, ``MemoryRun.begin_group``
sets the system-wide settings the group's jobs ask for (per-size mTHP ``enabled``, KSM's
``run``), makes each job's memory cgroup and notes which backing files the run creates;
``place`` moves each worker into its job's cgroup before the group is released;
``end_group`` reports the cgroup's memory.events/memory.stat deltas, KSM's counters and
the huge pages the region ended with, then undoes everything.  Every change is first
written to the restorer (``restorer.py``), a process that outlives the controller and
undoes whatever is still open if the controller dies, SIGKILL included.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from loadgen.controller.cgroup import MemoryCgroup, MemoryHierarchy, cgroup_of, find_hierarchy
from loadgen.errors import InputError
from loadgen.kernel import thp
from loadgen.kernel.mmfacts import KSM_ROOT, hugetlb_pool, ksm_delta, ksm_snapshot, swap_active
from loadgen.plan import Backing, Group, Job, MemoryControls, Plan, Refault
from loadgen.results import CgroupReport, JobResult, MmReport

RESTORER = Path(__file__).with_name("restorer.py")
KSM_RUN = os.path.join(KSM_ROOT, "run")
FIO_ENGINE = MemoryControls()


def mthp_enabled_file(size: int, root: str = thp.THP_ROOT) -> str:
    return os.path.join(root, f"hugepages-{size // 1024}kB", "enabled")


def _is_root() -> bool:
    return os.geteuid() == 0


def uses_controls(job: Job) -> bool:
    return job.mm != FIO_ENGINE or job.thp != "inherit"


# ---- before the run ---------------------------------------------------------------------------
def preflight(plan: Plan) -> list[str]:
    """Fail (InputError) where the plan's memory controls cannot work here; notes otherwise."""
    notes: list[str] = []
    hierarchy: MemoryHierarchy | None = None
    for group in plan.groups:
        hugetlb_pages: dict[int, int] = {}
        for job in group.jobs:
            mm, where = job.mm, job.source
            for size, _policy in mm.mthp:
                if not _is_root():
                    raise InputError(f"mthp= writes {mthp_enabled_file(size)}: needs root",
                                     where)
                if not os.path.exists(mthp_enabled_file(size)):
                    sizes = ", ".join(s for s, _ in thp.size_dirs()) or "none"
                    raise InputError(f"mthp={size // 1024}k: this kernel has no such mTHP size "
                                     f"(it has: {sizes})", where)
            if mm.ksm:
                run = ksm_snapshot().get("run")
                if run is None:
                    raise InputError(f"ksm=1: this kernel has no KSM ({KSM_ROOT})", where)
                if run != 1 and not _is_root():
                    raise InputError(f"ksm=1: ksmd is not running ({KSM_RUN} is {run}) and only "
                                     "root may start it", where)
            if mm.backing is Backing.HUGETLB:
                pool = hugetlb_pool(mm.hugepage_size)
                if not pool.exists:
                    raise InputError(f"hugepage_size={mm.hugepage_size}: this kernel has no "
                                     "hugetlb pool of that size", where)
                need = hugetlb_pages[pool.page_size] = (hugetlb_pages.get(pool.page_size, 0)
                                                        + job.size // pool.page_size)
                if pool.free < need:
                    raise InputError(f"backing=hugetlb: {pool.hint(need)}", where)
            if mm.backing is Backing.FILE and not Path(mm.filename).resolve().parent.is_dir():
                raise InputError(f"filename={mm.filename}: its directory does not exist", where)
            pageout = mm.refault is Refault.PAGEOUT and mm.backing is not Backing.FILE
            if pageout and not swap_active():
                notes.append(f"{where}: note: job {job.name!r}: refault=pageout: no swap or zram "
                             "is on (/proc/swaps), so its pages stay resident and later passes "
                             "take no faults")
            if mm.cgroup:
                hierarchy = hierarchy or find_hierarchy()
                if hierarchy is None:
                    raise InputError("memory_limit=/memory_high= need a memory cgroup "
                                     "controller, and none is mounted", where)
                if mm.memory_high and hierarchy.version == 1:
                    raise InputError("memory_high= needs cgroup v2 (memory.high); this machine's "
                                     f"memory controller is cgroup v1 at {hierarchy.mount}", where)
                parent = cgroup_of("self", hierarchy) or hierarchy.mount
                if not os.access(parent, os.W_OK):
                    raise InputError(f"memory_limit=: cannot make a cgroup under {parent} (root "
                                     "or a delegated cgroup is needed)", where)
    return notes


# ---- the restorer -----------------------------------------------------------------------------
class UndoLog:
    """The controller's end of the restorer: every change is logged before it is made."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None
        self._next = 0

    def _send(self, *fields: str) -> None:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(RESTORER)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            self._pipe = self._process.stdin
        assert self._pipe is not None
        self._pipe.write(("\t".join(fields) + "\n").encode())
        self._pipe.flush()

    def record(self, kind: str, path: str, value: str = "") -> str:
        """Log one undo (``W`` write back, ``D`` rmdir, ``U`` unlink); returns its id."""
        self._next += 1
        entry = str(self._next)
        self._send(kind, entry, path, value)
        return entry

    def done(self, entry: str) -> None:
        self._send("X", entry)

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    def close(self) -> None:
        """Everything is undone: let the restorer go."""
        if self._process is None:
            return
        with contextlib.suppress(OSError):
            self._send("Q")
        with contextlib.suppress(OSError):
            assert self._pipe is not None
            self._pipe.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


# ---- per group --------------------------------------------------------------------------------
@dataclass
class _Setting:
    path: str
    original: str
    entry: str


@dataclass
class _JobGroup:
    """One job's memory cgroup and its counters when it was made."""

    cgroup: MemoryCgroup
    entry: str
    events: dict[str, int]
    stat: dict[str, int]
    pids: list[int] = field(default_factory=list)


@dataclass
class _File:
    path: str
    created: bool
    entry: str


def _read_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                counts[name] = int(value)
    return counts


def _cgroup_events(group: MemoryCgroup) -> dict[str, int]:
    if group.version == 2:
        return _read_counts(group.path / "memory.events")
    events = _read_counts(group.path / "memory.oom_control")
    with contextlib.suppress(OSError, ValueError):
        events["failcnt"] = int((group.path / "memory.failcnt").read_text())
    return events


def _cgroup_peak(group: MemoryCgroup) -> int:
    name = "memory.peak" if group.version == 2 else "memory.max_usage_in_bytes"
    try:
        return int((group.path / name).read_text())
    except (OSError, ValueError):
        return 0


def _pmd_size() -> int:
    try:
        return int(Path(thp.THP_ROOT, "hpage_pmd_size").read_text())
    except (OSError, ValueError):
        return 0


def _job_key(job: Job) -> tuple[str, str]:
    """The numjobs clones of one job section share a key (and so one cgroup)."""
    return job.source, job.name


class MemoryRun:
    """Memory controls of one run: what each group changed, and how to undo it."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.undo = UndoLog()
        self._settings: list[_Setting] = []
        self._cgroups: dict[tuple[str, str], _JobGroup] = {}
        self._files: list[_File] = []
        self._ksm_before: dict[str, int] = {}
        self._mthp_applied: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return any(uses_controls(j) for j in self.plan.jobs)

    # -- begin
    def begin_group(self, group: Group) -> str:
        """Apply the group's settings and make its cgroups; an error line ("" = ok), after
        which nothing of the group is left changed."""
        try:
            self._begin(group)
        except OSError as exc:
            self.end_group(group, [])
            return f"memory controls of group {group.id}: {exc.strerror or exc}"
        return ""

    def _begin(self, group: Group) -> None:
        jobs = [j for j in group.jobs if uses_controls(j)]
        policies = {size: policy for j in jobs for size, policy in j.mm.mthp}
        for size, policy in sorted(policies.items()):
            self._set(mthp_enabled_file(size), policy)
            self._mthp_applied[f"{size // 1024}kB"] = policy
        if any(j.mm.ksm for j in jobs):
            self._set(KSM_RUN, "1")
            self._ksm_before = ksm_snapshot()
        hierarchy = find_hierarchy() if any(j.mm.cgroup for j in jobs) else None
        for job in jobs:
            if job.mm.cgroup and hierarchy is not None and _job_key(job) not in self._cgroups:
                self._cgroups[_job_key(job)] = self._make_cgroup(job, group, hierarchy)
            path = str(Path(job.mm.filename).resolve())
            if job.mm.backing is Backing.FILE and not any(f.path == path for f in self._files):
                created = not os.path.exists(path)
                entry = self.undo.record("U", path) if created else ""
                self._files.append(_File(path, created, entry))

    def _set(self, path: str, value: str) -> None:
        """Write a sysfs choice or number, logging the original to the restorer first."""
        with open(path, encoding="ascii") as f:
            original = thp.selected(f.read().strip())
        if original == value:
            return
        entry = self.undo.record("W", path, original)
        self._settings.append(_Setting(path, original, entry))
        with open(path, "w", encoding="ascii") as f:
            f.write(value)

    def _make_cgroup(self, job: Job, group: Group, hierarchy: MemoryHierarchy) -> _JobGroup:
        parent = cgroup_of("self", hierarchy) or hierarchy.mount
        index = len(self._cgroups)
        path = parent / f"loadgen-{os.getpid()}-g{group.id}-j{index}"
        if hierarchy.version == 2:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+memory")
        entry = self.undo.record("D", str(path))
        path.mkdir()
        cg = MemoryCgroup(path, hierarchy.version)
        try:
            if hierarchy.version == 1:
                (path / "memory.limit_in_bytes").write_text(str(job.mm.memory_limit or -1))
                with contextlib.suppress(OSError):  # setup-time charges follow the worker in
                    (path / "memory.move_charge_at_immigrate").write_text("3")
            else:
                (path / "memory.max").write_text(str(job.mm.memory_limit or "max"))
                (path / "memory.high").write_text(str(job.mm.memory_high or "max"))
        except OSError:
            cg.remove()
            self.undo.done(entry)
            raise
        return _JobGroup(cg, entry, _cgroup_events(cg), _read_counts(path / "memory.stat"))

    def place(self, job: Job, pid: int) -> None:
        """Move a worker into its job's cgroup (before release: its I/O is charged there)."""
        jg = self._cgroups.get(_job_key(job))
        if jg is None:
            return
        try:
            jg.cgroup.add(pid)
            jg.pids.append(pid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:  # a worker that died already has nothing to charge
                raise

    # -- end
    def end_group(self, group: Group, results: list[JobResult]) -> None:
        """Report into each job's ``mm``, then undo the group's changes."""
        ksm = ksm_delta(self._ksm_before, ksm_snapshot()) if self._ksm_before else {}
        reports: dict[tuple[str, str], CgroupReport] = {
            key: self._cgroup_report(jg) for key, jg in self._cgroups.items()}
        for result in results:
            if uses_controls(result.job):
                result.mm = self._job_report(result, reports, ksm)
        self._undo_group()

    def _cgroup_report(self, jg: _JobGroup) -> CgroupReport:
        events, stat = _cgroup_events(jg.cgroup), _read_counts(jg.cgroup.path / "memory.stat")
        return {
            "path": str(jg.cgroup.path), "version": jg.cgroup.version,
            "events": {k: v - jg.events.get(k, 0) for k, v in events.items()},
            "stat": {k: v - jg.stat.get(k, 0) for k, v in stat.items()
                     if not k.startswith("hierarchical_")},  # v1 limits, not counts
            "peak_bytes": _cgroup_peak(jg.cgroup),
        }

    def _job_report(self, result: JobResult, cgroups: dict[tuple[str, str], CgroupReport],
                    ksm: dict[str, int]) -> MmReport:
        job, mm = result.job, result.job.mm
        out: MmReport = {"backing": str(mm.backing), "refault": str(mm.refault)}
        if mm.cgroup:
            out["cgroup"] = {"memory_limit": mm.memory_limit, "memory_high": mm.memory_high,
                             **cgroups.get(_job_key(job), {})}
        if mm.ksm:
            out["ksm_system_wide"] = ksm
        if mm.mthp:
            out["mthp_policy"] = {f"{s // 1024}kB": p for s, p in mm.mthp}
        if job.thp == "madvise":
            pmd = _pmd_size()
            huge = result.totals.anon_huge_bytes
            # PMD-size THPs in the region at job end: one huge-page fault (or collapse) each
            out["huge_page_faults"] = huge // pmd if pmd else 0
        for made in self._files:
            if mm.backing is Backing.FILE and made.path == str(Path(mm.filename).resolve()):
                out["file"] = {"path": made.path, "created": made.created}
        measured = result.totals.mm  # the worker's, with its final interval
        if measured is not None:
            # the region's own calls, timed apart from the I/O latencies
            out["region"] = {k: v for k, v in measured.region.to_dict().items() if k != "backing"}
            if measured.fault_kinds is not None:
                out["fault_kinds"] = measured.fault_kinds.to_dict()
        return out

    def _undo_group(self) -> None:
        for setting in reversed(self._settings):
            with contextlib.suppress(OSError), open(setting.path, "w", encoding="ascii") as f:
                f.write(setting.original)
            self.undo.done(setting.entry)
        self._settings.clear()
        self._ksm_before = {}
        self._mthp_applied.clear()
        for jg in self._cgroups.values():
            with contextlib.suppress(OSError):
                jg.cgroup.remove()
            self.undo.done(jg.entry)
        self._cgroups.clear()
        for made in self._files:
            if made.created:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(made.path)
                self.undo.done(made.entry)
        self._files.clear()

    def close(self) -> None:
        """At run end, however it ends: undo what a group left, and dismiss the restorer."""
        self._undo_group()
        self.undo.close()
