"""Fixtures that make real faults safe: a memory cgroup with a small limit, a tiny tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.controller import cgroup
from tests.reliability.faults import CGROUP_LIMIT_BYTES


def limited_memory_group(name: str, limit_bytes: int) -> Iterator[cgroup.MemoryCgroup]:
    """A memory cgroup with a limit, removed afterwards (skips where none can be made)."""
    try:
        group = cgroup.create(f"{name}-{os.getpid()}", limit_bytes)
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup here: {exc}")
    try:
        yield group
    finally:
        group.remove()


@pytest.fixture
def memory_group() -> Iterator[cgroup.MemoryCgroup]:
    """A memory cgroup limited to 64 MiB."""
    yield from limited_memory_group("loadgen-test", CGROUP_LIMIT_BYTES)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a disk that fills after a few dozen lines."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
