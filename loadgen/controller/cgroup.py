"""Memory cgroups: make one with a limit, move processes in, read its OOM-kill count.

The controller uses the count to *confirm* that a worker which died by SIGKILL was
the OOM killer's victim (the kernel raises the count before it sends the signal, so
it is visible once the worker is reaped); tests use the rest to provoke real OOM
kills inside a small group without touching the machine's memory.  Both cgroup v1
(``memory.oom_control`` "oom_kill N") and v2 (``memory.events`` "oom_kill N") work.
"""

from __future__ import annotations

import contextlib
import errno
import time
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class MemoryHierarchy:
    """Where the memory controller is mounted and in which cgroup version."""

    version: int  # 1 or 2
    mount: Path


def find_hierarchy(mountinfo: Path = MOUNTINFO) -> MemoryHierarchy | None:
    """The memory controller's mount: a v1 ``cgroup`` mount with ``memory``, else a v2 one
    that offers ``memory``; ``None`` where there is neither (containers, other OSes)."""
    v2: MemoryHierarchy | None = None
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount, fstype, super_options = Path(fields[4]), tail[0], tail[2].split(",")
        if fstype == "cgroup" and "memory" in super_options:
            return MemoryHierarchy(1, mount)
        if fstype == "cgroup2" and v2 is None:
            with contextlib.suppress(OSError):
                if "memory" in (mount / "cgroup.controllers").read_text().split():
                    v2 = MemoryHierarchy(2, mount)
    return v2


def cgroup_of(pid: int | str, hierarchy: MemoryHierarchy) -> Path | None:
    """The directory of the memory cgroup ``pid`` is in (``/proc/PID/cgroup``)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, relative = line.split(":", 2)
        if (hierarchy.version == 1 and "memory" in controllers.split(",")) or (
            hierarchy.version == 2 and controllers == ""
        ):
            return hierarchy.mount / relative.lstrip("/")
    return None


@dataclass(frozen=True)
class MemoryCgroup:
    """One memory cgroup directory and the file names of its version."""

    path: Path
    version: int

    @property
    def _limit_file(self) -> Path:
        return self.path / ("memory.limit_in_bytes" if self.version == 1 else "memory.max")

    @property
    def _events_file(self) -> Path:
        return self.path / ("memory.oom_control" if self.version == 1 else "memory.events")

    def set_limit(self, limit_bytes: int) -> None:
        """Cap memory at ``limit_bytes`` and, where the kernel offers it, swap at zero,
        so the group OOMs at the limit instead of swapping."""
        self._limit_file.write_text(str(limit_bytes))
        swap_file, swap_value = (
            (self.path / "memory.memsw.limit_in_bytes", str(limit_bytes))
            if self.version == 1
            else (self.path / "memory.swap.max", "0")
        )
        if swap_file.exists():  # absent without swap accounting: then there is nothing to cap
            with contextlib.suppress(OSError):
                swap_file.write_text(swap_value)

    def add(self, pid: int) -> None:
        """Move ``pid`` (and from then on its new children) into this group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def events(self) -> dict[str, int]:
        """``memory.events`` (v2) or ``memory.oom_control`` (v1) as name -> number."""
        counts: dict[str, int] = {}
        for line in self._events_file.read_text().splitlines():
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                counts[name] = int(value)
        return counts

    def oom_kills(self) -> int:
        """Processes the OOM killer has killed in this group (0 where the kernel predates
        the ``oom_kill`` field)."""
        return self.events().get("oom_kill", 0)

    def remove(self, timeout_s: float = 2.0) -> None:
        """Remove the group; processes still in it move to the parent group first.

        Dying processes leave ``cgroup.procs`` a moment after they are reaped, so
        ``EBUSY`` is retried until ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        parent = MemoryCgroup(self.path.parent, self.version)
        while True:
            for pid in self.pids():
                with contextlib.suppress(OSError):  # gone meanwhile
                    parent.add(pid)
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


def create(name: str, limit_bytes: int, parent: Path | None = None) -> MemoryCgroup:
    """Make memory cgroup ``name`` with ``limit_bytes``; by default under the caller's
    own memory cgroup, so it nests inside whatever limits the caller already has.

    Raises ``OSError`` where no memory controller is mounted or the caller may not make
    groups (not root, read-only cgroupfs).  On v2 the parent must delegate ``memory``
    in ``cgroup.subtree_control``; this enables it where it can."""
    hierarchy = find_hierarchy()
    if hierarchy is None:
        raise OSError(errno.ENOENT, "no memory cgroup controller is mounted")
    if parent is None:
        parent = cgroup_of("self", hierarchy) or hierarchy.mount
    if hierarchy.version == 2:
        with contextlib.suppress(OSError):  # already on, or the parent has processes
            (parent / "cgroup.subtree_control").write_text("+memory")
    group = MemoryCgroup(parent / name, hierarchy.version)
    group.path.mkdir()
    try:
        group.set_limit(limit_bytes)
    except OSError:
        group.path.rmdir()
        raise
    return group


def group_of(pid: int | str) -> MemoryCgroup | None:
    """The memory cgroup ``pid`` lives in, where one can be read."""
    hierarchy = find_hierarchy()
    if hierarchy is None:
        return None
    path = cgroup_of(pid, hierarchy)
    if path is None or not path.is_dir():
        return None
    group = MemoryCgroup(path, hierarchy.version)
    try:
        group.events()
    except OSError:  # the root group has no oom_control/memory.events
        return None
    return group
