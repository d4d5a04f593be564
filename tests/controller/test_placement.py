"""nice, I/O priority and cgroup set on a waiting process, as the controller sets them."""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from loadgen.controller import placement
from loadgen.plan import Job

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(os.uname().machine)


def _job(**fields) -> Job:
    return Job(name="p", thread_number=1, subjob=0, numjobs=1, group_id=0, **fields)


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "30"])
    yield process.pid
    process.kill()
    process.wait()


def _ioprio_of(pid: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(IOPRIO_GET, placement.IOPRIO_WHO_PROCESS, pid)


def test_ioprio_value_defaults_to_best_effort_as_fio():
    assert placement.ioprio_value(-1, 3) == (2 << 13) | 3
    assert placement.ioprio_value(0, 5) == (2 << 13) | 5
    assert placement.ioprio_value(3, -1) == 3 << 13


def test_nice_is_relative_as_fios_nice_call(sleeper):
    before = os.getpriority(os.PRIO_PROCESS, sleeper)
    placement.Placement().apply(_job(nice=3), sleeper)
    assert os.getpriority(os.PRIO_PROCESS, sleeper) == min(before + 3, 19)


@pytest.mark.skipif(IOPRIO_GET is None, reason="ioprio syscall number unknown here")
def test_prio_and_prioclass_are_set(sleeper):
    placement.Placement().apply(_job(ioprio=4, ioprio_class=3), sleeper)
    assert _ioprio_of(sleeper) == (3 << 13) | 4
    placement.Placement().apply(_job(ioprio=2), sleeper)
    assert _ioprio_of(sleeper) == (2 << 13) | 2


def test_numa_cpu_nodes_bind_to_the_nodes_cpus(sleeper):
    cpus = placement.node_cpus((0,))
    if not cpus:
        pytest.skip("no NUMA node 0 in sysfs")
    placement.Placement().apply(_job(numa_cpu_nodes=(0,)), sleeper)
    assert os.sched_getaffinity(sleeper) <= cpus and os.sched_getaffinity(sleeper)


def test_cgroup_is_made_joined_and_removed(sleeper):
    mount = placement.find_cgroup_mount()
    if mount is None or os.geteuid() != 0:
        pytest.skip("needs root and a blkio or cgroup2 mount")
    name = f"loadgen-test-{os.getpid()}"
    where = placement.Placement()
    where.apply(_job(cgroup=name), sleeper)
    assert f"/{name}" in Path(f"/proc/{sleeper}/cgroup").read_text()
    os.kill(sleeper, 9)
    os.waitpid(sleeper, 0)
    where.cleanup()
    assert not (mount.path / name).exists()


def test_cgroup_nodelete_keeps_it(sleeper):
    mount = placement.find_cgroup_mount()
    if mount is None or os.geteuid() != 0:
        pytest.skip("needs root and a blkio or cgroup2 mount")
    name = f"loadgen-keep-{os.getpid()}"
    where = placement.Placement()
    where.apply(_job(cgroup=name, cgroup_nodelete=True), sleeper)
    os.kill(sleeper, 9)
    os.waitpid(sleeper, 0)
    where.cleanup()
    try:
        assert (mount.path / name).is_dir()
    finally:
        (mount.path / name).rmdir()


def test_a_cgroup_that_cannot_be_made_is_the_jobs_error(sleeper):
    if placement.find_cgroup_mount() is None:
        pytest.skip("no cgroup mount")
    with pytest.raises(placement.PlacementError, match="cgroup mkdir"):
        placement.Placement().apply(_job(cgroup="no/such/parent/x"), sleeper)


def test_find_cgroup_mount_takes_the_first_blkio_or_cgroup2(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
                      "cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0\n"
                      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")
    assert placement.find_cgroup_mount(mounts) == placement.CgroupMount(
        Path("/sys/fs/cgroup/blkio"), 1)
    mounts.write_text("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n")
    assert placement.find_cgroup_mount(mounts) == placement.CgroupMount(Path("/sys/fs/cgroup"), 2)
