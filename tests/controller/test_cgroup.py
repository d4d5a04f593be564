"""Memory cgroup helpers against the real cgroupfs (v1 or v2) and synthetic mountinfo."""

from __future__ import annotations

import signal
from pathlib import Path

from loadgen.controller import cgroup
from tests.reliability.faults import CGROUP_LIMIT_BYTES, run_hog


def _mountinfo(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_finds_v1_memory_mount(tmp_path: Path) -> None:
    info = _mountinfo(tmp_path, [
        "30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:5 - cgroup cgroup rw,cpu",
        "31 25 0:27 / /sys/fs/cgroup/memory rw,relatime shared:6 - cgroup cgroup rw,memory",
    ])
    assert cgroup.find_hierarchy(info) == cgroup.MemoryHierarchy(1, Path("/sys/fs/cgroup/memory"))


def test_finds_v2_mount_only_when_it_offers_memory(tmp_path: Path) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("cpu io\n")
    info = _mountinfo(tmp_path, [f"40 25 0:30 / {unified} rw - cgroup2 cgroup2 rw"])
    assert cgroup.find_hierarchy(info) is None
    (unified / "cgroup.controllers").write_text("cpu io memory pids\n")
    assert cgroup.find_hierarchy(info) == cgroup.MemoryHierarchy(2, unified)


def test_no_mountinfo_means_no_hierarchy(tmp_path: Path) -> None:
    assert cgroup.find_hierarchy(tmp_path / "absent") is None


def test_created_group_has_the_limit_and_is_removed(memory_group: cgroup.MemoryCgroup) -> None:
    limit_file = "memory.limit_in_bytes" if memory_group.version == 1 else "memory.max"
    assert int((memory_group.path / limit_file).read_text()) == CGROUP_LIMIT_BYTES
    assert memory_group.oom_kills() == 0
    assert memory_group.pids() == []


def test_oom_kill_inside_the_group_is_counted(memory_group: cgroup.MemoryCgroup) -> None:
    hog = run_hog(memory_group)
    assert hog.wait(timeout=60) == -signal.SIGKILL
    assert memory_group.oom_kills() == 1
    assert memory_group.events()["oom_kill"] == 1


def test_group_of_a_member_is_the_group(memory_group: cgroup.MemoryCgroup) -> None:
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        memory_group.add(sleeper.pid)
        assert cgroup.group_of(sleeper.pid) == memory_group
        assert memory_group.pids() == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_remove_moves_live_members_out(tmp_path: Path) -> None:
    import subprocess
    import sys

    import pytest

    try:
        group = cgroup.create(f"loadgen-test-rm-{tmp_path.name[-8:]}", CGROUP_LIMIT_BYTES)
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup here: {exc}")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        group.add(sleeper.pid)
        group.remove()
        assert not group.path.exists()
        assert cgroup.group_of(sleeper.pid) != group
    finally:
        sleeper.kill()
        sleeper.wait()
        if group.path.exists():
            group.remove()


def test_v2_files_are_the_v2_names(tmp_path: Path) -> None:
    """cgroup v2 is not mounted with memory here: its file names are checked on a plain
    directory shaped like a v2 group."""
    (tmp_path / "memory.swap.max").write_text("max\n")
    (tmp_path / "memory.events").write_text(
        "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n"
    )
    group = cgroup.MemoryCgroup(tmp_path, 2)
    group.set_limit(CGROUP_LIMIT_BYTES)
    assert (tmp_path / "memory.max").read_text() == str(CGROUP_LIMIT_BYTES)
    assert (tmp_path / "memory.swap.max").read_text() == "0"
    assert group.oom_kills() == 2 and group.events()["max"] == 7


def test_v1_without_swap_accounting_still_sets_the_limit(tmp_path: Path) -> None:
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")
    group = cgroup.MemoryCgroup(tmp_path, 1)
    group.set_limit(CGROUP_LIMIT_BYTES)  # no memory.memsw.limit_in_bytes: nothing to cap
    assert (tmp_path / "memory.limit_in_bytes").read_text() == str(CGROUP_LIMIT_BYTES)
    assert not (tmp_path / "memory.memsw.limit_in_bytes").exists()
    assert group.oom_kills() == 0  # kernels before 4.13 have no oom_kill field
