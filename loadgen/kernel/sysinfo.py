"""The run header: what a reader needs to reproduce or compare a run.

Page-fault costs depend on the kernel, the CPU, memory size, page size and every
THP/mTHP policy, so each report records them next to loadgen's version, the
command line and checksums of the job files that were run.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from typing import TypedDict, cast

from loadgen import __version__
from loadgen.kernel import thp
from loadgen.kernel.thp import ThpSettings
from loadgen.plan import Plan


def cpu_model(cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """The CPU's name as /proc/cpuinfo gives it (x86 "model name", else the first name-like key)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    for key in ("model name", "Model", "Processor", "cpu model", "cpu"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine()


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """/proc/meminfo values in bytes (kB lines converted)."""
    out: dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return out


def file_sha256(path: str) -> str:
    """sha256 of a job file's bytes ("" if it cannot be read, e.g. stdin)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


class CpuHeader(TypedDict):
    model: str
    count: int
    usable: int  # the CPUs this process may run on


class MemoryHeader(TypedDict):
    total_bytes: int
    swap_total_bytes: int


class JobFileHeader(TypedDict):
    path: str
    sha256: str  # "" where the file could not be read again (stdin)


class RunHeader(TypedDict, total=False):
    """The reproducibility header of a run (the reports' ``header``); every key optional,
    as a saved document read back may come from a run that wrote fewer."""

    loadgen_version: str
    hostname: str
    kernel_release: str
    kernel_version: str
    machine: str
    cpu: CpuHeader
    memory: MemoryHeader
    page_size: int
    thp: ThpSettings
    python: str
    command_line: list[str]
    job_files: list[JobFileHeader]
    # how the controller runs (loadgen.controller)
    worker_start: str
    rlimit_nofile: int
    controller_nice: int
    controller_oom_score_adj: int


def header_from(doc: Mapping[str, object]) -> RunHeader:
    """A header read back from a saved report or stream (loadgen wrote it: not checked)."""
    return cast(RunHeader, dict(doc))


def run_header(
    plan: Plan | None = None, command_line: Sequence[str] | None = None
) -> RunHeader:
    """Kernel, CPU, memory, page size, THP policy, loadgen version, command line, job file
    checksums."""
    uname = os.uname()
    mem = meminfo()
    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable_cpus = os.cpu_count() or 0
    return {
        "loadgen_version": __version__,
        "hostname": uname.nodename,
        "kernel_release": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "cpu": {"model": cpu_model(), "count": os.cpu_count() or 0, "usable": usable_cpus},
        "memory": {
            "total_bytes": mem.get("MemTotal", 0),
            "swap_total_bytes": mem.get("SwapTotal", 0),
        },
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "thp": thp.settings(),
        "python": platform.python_version(),
        "command_line": list(command_line if command_line is not None else sys.argv),
        "job_files": [{"path": p, "sha256": file_sha256(p)} for p in (plan.files if plan else ())],
    }
