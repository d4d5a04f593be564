"""Helpers for kernel-counter tests: run a probe in a fresh process that imports loadgen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import loadgen

REPO_ROOT = str(Path(loadgen.__file__).resolve().parent.parent)


def run_probe(code: str) -> dict[str, Any]:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
