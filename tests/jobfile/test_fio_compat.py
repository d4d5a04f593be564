"""Side by side with a real fio: ``fio --showcmd`` vs loadgen's plan.

``--showcmd`` prints a job file as fio parsed it (after comments, [global] handling,
keyword substitution and bc arithmetic), which is what ``Plan.global_options`` and
``Job.job_options`` hold.  ``LOADGEN_FIO=/path/to/fio`` names the binary; without it
these tests skip and say so.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from loadgen.plan import Plan

from .plans import load

FIO = os.environ.get("LOADGEN_FIO", "")
PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "page_fault.fio"

pytestmark = pytest.mark.skipif(
    not FIO or not os.access(FIO, os.X_OK),
    reason=f"LOADGEN_FIO={FIO} is not an executable fio" if FIO else
    "needs fio: set LOADGEN_FIO=/path/to/fio (fio-3.42 or later)",
)


def _as_showcmd(plan: Plan) -> list[str]:
    def flag(key: str, value: str) -> str:
        return f"--{key}" if value == "" else f"--{key}={value}"

    words = [flag(k, v) for k, v in plan.global_options]
    for job in plan.jobs:
        if job.subjob == 0:
            words += [f"--name={job.name}", *(flag(k, v) for k, v in job.job_options)]
    return words


def _fio_showcmd(path: Path) -> list[str]:
    out = subprocess.run([FIO, "--showcmd", str(path)], capture_output=True, text=True, timeout=30,
                         check=True).stdout.split()
    assert out[0] == "fio"
    return out[1:]


def test_page_fault_profile_reads_as_fio_reads_it():
    plan, _ = load([str(PROFILE)], environ={}, note=lambda message: None)
    assert _as_showcmd(plan) == _fio_showcmd(PROFILE)


def test_tricky_file_reads_as_fio_reads_it(tmp_path: Path):
    path = tmp_path / "tricky.fio"
    path.write_text(
        "; leading comment\n"
        "[global2] ; a global too\n"
        "ioengine=page_fault\n"
        "size=5*1024*$pagesize # bc arithmetic\n"
        "bs=4k;8k\n"
        "[first]\n"
        "readwrite=randrw\n"
        "numjobs=$ncpus\n"
        "blockalign=8k\n"
        "   # indented comment\n"
        "[second]\n"
        "rw=randread:4\n"
        "write_bw_log\n"
    )
    plan, _ = load([str(path)], environ={}, note=lambda message: None)
    assert _as_showcmd(plan) == _fio_showcmd(path)
    # (a second [global] is left out: fio's --showcmd repeats the whole template there)


def _fio_knows(name: str) -> bool:
    out = subprocess.run([FIO, f"--cmdhelp={name}"], capture_output=True, text=True, timeout=30)
    return "No such command" not in out.stdout + out.stderr


def test_every_option_and_refused_name_is_a_real_fio_option():
    from loadgen.jobfile.options import OPTIONS, UNSUPPORTED

    # loadgen's own engine and memory-management options (docs/memory.md)
    loadgen_only = {"thp", "oom_policy"} | {o.name for o in OPTIONS if o.category == "Memory"}
    rfc_only = {"hugepage_delay", "madvise_hint", "khugepaged_delay"}  # never merged into fio
    rfc_only |= {"threads"}  # fio's tiobench profile option: accepted in jobs, not in --cmdhelp
    spellings = {s for o in OPTIONS for s in (o.name, *o.aliases)} | set(UNSUPPORTED)
    unknown = sorted(n for n in spellings - loadgen_only - rfc_only if not _fio_knows(n))
    assert unknown == []


def test_every_fio_option_is_accepted_or_refused_with_a_reason():
    from loadgen.jobfile.options import BY_NAME, UNSUPPORTED

    listing = subprocess.run([FIO, "--cmdhelp=all"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    names = {line.split(":", 1)[0].strip() for line in listing.splitlines() if ":" in line}
    assert sorted(n for n in names if n and n not in BY_NAME and n not in UNSUPPORTED) == []


SHOWCMD_FILES = {
    "globals": "[global]\nioengine=page_fault\nsize=4m\n[a]\nrw=write\nnorandommap\n"
               "size=$pagesize*4\n[global]\nbs=8k\n[b]\nnumjobs=2\n",
    "options": "[x]\nioengine=page_fault\nsize=1m\ndescription=two words\nexitall\n"
               "exit_what=all\nnice=-2\nfsync=4\nwait_for_previous\nbs=4k,8k\n",
}


@pytest.mark.parametrize("name", sorted(SHOWCMD_FILES))
@pytest.mark.parametrize("argv", [(), ("--size=2m",)])
def test_showcmd_prints_what_fio_prints(tmp_path: Path, name: str, argv: tuple[str, ...]):
    import sys

    path = tmp_path / f"{name}.fio"
    path.write_text(SHOWCMD_FILES[name])
    theirs = subprocess.run([FIO, "--showcmd", *argv, str(path)], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    env = {**os.environ, "PYTHONPATH": str(PROFILE.parents[1])}
    ours = subprocess.run([sys.executable, "-m", "loadgen", "--showcmd", *argv, str(path)],
                          capture_output=True, text=True, timeout=30, check=True, env=env).stdout
    assert ours == theirs


def test_parse_only_and_version_behave_as_fio(tmp_path: Path):
    import sys

    env = {**os.environ, "PYTHONPATH": str(PROFILE.parents[1])}
    for argv in (["--parse-only", str(PROFILE)], ["--version"]):
        theirs = subprocess.run([FIO, *argv], capture_output=True, text=True, timeout=30)
        ours = subprocess.run([sys.executable, "-m", "loadgen", *argv], capture_output=True,
                              text=True, timeout=30, env=env)
        assert ours.returncode == theirs.returncode == 0
        assert (ours.stdout == "") == (theirs.stdout == "")
