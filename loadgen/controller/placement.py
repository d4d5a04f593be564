"""A job's nice, I/O priority, NUMA CPU nodes and cgroup, set on its worker as fio sets them.

fio sets these in the job's own thread before its I/O starts.  Here the controller sets them
on the worker process (every one of its threads) between fork and release, while the worker
waits at the gate, so the I/O loop runs with them from its first operation; threads created
later inherit them.  A failure is the job's error, as ``td_verror`` makes it in fio.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.plan import Job

IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_SHIFT = 13
IOPRIO_CLASS_BE = 2
_NR_IOPRIO_SET = {"x86_64": 251, "aarch64": 30}
MOUNTS = Path("/proc/mounts")
NODES = Path("/sys/devices/system/node")


class PlacementError(Exception):
    def __init__(self, err: int, text: str) -> None:
        super().__init__(text)
        self.errno = err


def wanted(job: Job) -> bool:
    """Whether the job asks for anything this module sets."""
    return bool(job.nice or job.ioprio >= 0 or job.ioprio_class >= 0 or job.cgroup
                or job.numa_cpu_nodes is not None)


def ioprio_value(ioprio_class: int, ioprio: int) -> int:
    """fio's ``ioprio_value``: no class given (or 0) means best effort."""
    klass = ioprio_class if ioprio_class > 0 else IOPRIO_CLASS_BE
    return (klass << IOPRIO_CLASS_SHIFT) | max(ioprio, 0)


def _tasks(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


def _ioprio_set(tid: int, value: int) -> None:
    number = _NR_IOPRIO_SET.get(os.uname().machine)
    if number is None:
        raise PlacementError(errno.ENOSYS, "ioprio_set: not known on this architecture")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, IOPRIO_WHO_PROCESS, tid, value) != 0:
        err = ctypes.get_errno()
        raise PlacementError(err, f"ioprio_set: {os.strerror(err)}")


def node_cpus(nodes: tuple[int, ...], root: Path = NODES) -> set[int]:
    """The CPUs of these NUMA nodes (``nodeN/cpulist``)."""
    cpus: set[int] = set()
    for node in nodes:
        try:
            text = (root / f"node{node}" / "cpulist").read_text().strip()
        except OSError as exc:
            raise PlacementError(exc.errno or errno.ENOENT, f"numa_cpu_nodes: node {node}: "
                                 f"{exc.strerror}") from None
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


@dataclass(frozen=True)
class CgroupMount:
    path: Path
    version: int  # 1 = blkio hierarchy, 2 = unified


def find_cgroup_mount(mounts: Path = MOUNTS) -> CgroupMount | None:
    """fio's ``find_cgroup_mnt``: the first blkio v1 mount or cgroup2 mount in /proc/mounts."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "blkio" in fields[3].split(","):
            return CgroupMount(Path(fields[1]), 1)
        if fields[2] == "cgroup2":
            return CgroupMount(Path(fields[1]), 2)
    return None


@dataclass
class Placement:
    """What this run set up: the cgroups it made, removed when their jobs are done."""

    made: list[Path] = field(default_factory=list)
    mount: CgroupMount | None = None

    def apply(self, job: Job, pid: int) -> None:
        """Set ``job``'s placement on worker ``pid``; PlacementError says what failed."""
        tasks = _tasks(pid)
        if job.numa_cpu_nodes is not None:
            cpus = node_cpus(job.numa_cpu_nodes)
            for tid in tasks:
                _os_call(os.sched_setaffinity, "sched_setaffinity", tid, cpus)
        if job.ioprio >= 0 or job.ioprio_class >= 0:
            value = ioprio_value(job.ioprio_class, job.ioprio)
            for tid in tasks:
                _ioprio_set(tid, value)
        if job.cgroup:
            self._join_cgroup(job, pid)
        if job.nice:
            for tid in tasks:
                # fio calls nice(N): relative to the worker's priority
                now = os.getpriority(os.PRIO_PROCESS, tid)
                niceness = max(-20, min(19, now + job.nice))
                _os_call(os.setpriority, "nice", os.PRIO_PROCESS, tid, niceness)

    def _join_cgroup(self, job: Job, pid: int) -> None:
        if self.mount is None:
            self.mount = find_cgroup_mount()
            if self.mount is None:
                raise PlacementError(errno.ENOENT, "cgroup: blkio does not appear to be mounted")
        root = self.mount.path / job.cgroup
        try:
            root.mkdir(mode=0o755)
            if not job.cgroup_nodelete:
                self.made.append(root)
        except FileExistsError:
            pass
        except OSError as exc:
            raise PlacementError(exc.errno or errno.EIO,
                                 f"cgroup mkdir {root}: {exc.strerror}") from None
        if job.cgroup_weight:
            if self.mount.version == 2:
                raise PlacementError(errno.EINVAL,
                                     "cgroup_weight does not work with cgroup2 (as in fio)")
            _write(root / "blkio.weight", str(job.cgroup_weight), "cgroup open weight")
        if self.mount.version == 2:
            _write(root / "cgroup.procs", str(pid), "cgroup write pid")
        else:  # v1 "tasks" takes one thread at a time
            for tid in _tasks(pid):
                _write(root / "tasks", str(tid), "cgroup write pid")

    def cleanup(self) -> None:
        """Remove the cgroups this run made (their workers are gone: they are empty)."""
        for path in reversed(self.made):
            with contextlib.suppress(OSError):
                path.rmdir()
        self.made.clear()


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise PlacementError(exc.errno or errno.EIO, f"{what}: {path}: {exc.strerror}") from None


def _os_call(function: Callable[..., object], what: str, *args: Any) -> None:
    try:
        function(*args)
    except OSError as exc:
        raise PlacementError(exc.errno or errno.EPERM, f"{what}: {exc.strerror}") from None
