"""loadgen on a system it cannot run on: one line naming what it needs, status 2.

The other systems are made for real in a child interpreter (a ``sitecustomize`` on its
PYTHONPATH changes ``sys.platform`` and takes away what that system lacks, before
loadgen's first line runs), so the whole entry path is what is tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen import hostcheck
from loadgen.status import ExitStatus

REPO = Path(__file__).resolve().parents[1]
JOB = "[a]\nioengine=page_fault\nsize=1m\nrw=write\n"

SYSTEMS = {
    # macOS: no pipe2, no /proc; loadgen's worker would fail importing or calling them
    "darwin": "import os, sys\nsys.platform = 'darwin'\ndel os.pipe2\n",
    # Windows: no fcntl, no fork, no SIGUSR1 (StartupSignals would fail first)
    "win32": ("import os, signal, sys\nsys.platform = 'win32'\nsys.modules['fcntl'] = None\n"
              "del os.fork, signal.SIGUSR1\n"),
}
# Linux without what loadgen uses
LACKING = ("import os, sys\nsys.modules['fcntl'] = None\ndel os.pipe2\n"
           "import importlib.util\n_find = importlib.util.find_spec\n"
           "importlib.util.find_spec = (\n"
           "    lambda name, *a: None if name == 'fcntl' else _find(name, *a))\n")


def _loadgen(tmp_path: Path, site: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(site)
    jobfile = tmp_path / "job.fio"
    jobfile.write_text(JOB)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tmp_path), str(REPO)))}
    return subprocess.run([sys.executable, "-m", "loadgen", *args, str(jobfile)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("system", sorted(SYSTEMS))
@pytest.mark.parametrize("command", ["run", "plan"])
def test_not_linux_is_one_line_and_status_2(tmp_path: Path, system: str, command: str) -> None:
    done = _loadgen(tmp_path, SYSTEMS[system], command)
    assert done.returncode == ExitStatus.BAD_INPUT
    needs = f"loadgen: loadgen needs {hostcheck.NEEDS}"
    assert done.stderr.splitlines() == [f"{needs}; this is {system}"]
    assert done.stdout == ""


def test_linux_without_the_interfaces_says_which_are_missing(tmp_path: Path) -> None:
    done = _loadgen(tmp_path, LACKING, "run")
    assert done.returncode == ExitStatus.BAD_INPUT
    assert done.stderr.splitlines() == [
        f"loadgen: loadgen needs {hostcheck.NEEDS}; this system lacks os.pipe2, the fcntl module"]


def test_this_linux_has_everything() -> None:
    assert hostcheck.not_linux() == "" and hostcheck.missing_features() == ""
