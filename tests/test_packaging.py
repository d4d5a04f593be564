"""What the installed package carries (pyproject.toml): the console script and the profiles.

The README installs loadgen into a virtual environment, so the ``loadgen`` script sits
beside the interpreter; run from an empty directory it can only find the profiles the
installation carries (in CI that is a wheel; in a development install, the checkout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "loadgen"


def _installed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"{SCRIPT}: install loadgen as the README says"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_installed_loadgen_lists_and_plans_the_bundled_profile(tmp_path: Path) -> None:
    listed = _installed("profiles", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (line,) = [x for x in listed.stdout.splitlines() if x.split()[0] == "page_fault"]
    path = Path(line.split()[-1])
    assert path.name == "page_fault.fio" and path.parent.name == "profiles"
    planned = _installed("plan", "page_fault", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    document = json.loads(planned.stdout)
    assert document["files"] == [str(path)] and len(document["groups"]) == 13
