"""The run header: every field a reader needs to reproduce a run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from loadgen import __version__
from loadgen.kernel import sysinfo
from loadgen.plan import Plan


def test_run_header_fields(tmp_path: Path) -> None:
    job = tmp_path / "a.fio"
    job.write_bytes(b"[a]\nsize=1m\n")
    header = sysinfo.run_header(Plan(groups=(), files=(str(job), str(tmp_path / "missing.fio"))),
                                ["loadgen", "run", str(job)])
    uname = os.uname()
    assert header["loadgen_version"] == __version__
    assert (header["hostname"], header["kernel_release"]) == (uname.nodename, uname.release)
    assert header["cpu"]["count"] == os.cpu_count() and header["cpu"]["model"]
    assert header["cpu"]["usable"] == len(os.sched_getaffinity(0))
    page_size = os.sysconf("SC_PAGE_SIZE")
    # MemTotal is the kernel's totalram_pages, which sysconf reports in pages
    assert header["memory"]["total_bytes"] == os.sysconf("SC_PHYS_PAGES") * page_size
    assert header["page_size"] == page_size
    assert {"enabled", "defrag", "mthp_enabled"} <= set(header["thp"])
    assert header["command_line"] == ["loadgen", "run", str(job)]
    assert header["job_files"] == [
        {"path": str(job), "sha256": hashlib.sha256(job.read_bytes()).hexdigest()},
        {"path": str(tmp_path / "missing.fio"), "sha256": ""},
    ]


def test_meminfo_and_cpuinfo_parsing(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       1000 kB\nHugePages_Total:       0\n")
    assert sysinfo.meminfo(str(meminfo)) == {"MemTotal": 1024000, "HugePages_Total": 0}
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Test CPU @ 1GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU\n"
    )
    assert sysinfo.cpu_model(str(cpuinfo)) == "Test CPU @ 1GHz"
