"""The short real run the report tests read back: time_based random writes of 8 MiB jobs
with an interval every 100 ms, through ``python -m loadgen`` as a user runs it."""

from __future__ import annotations

import subprocess
import sys


def timed_run(numjobs: int, runtime: str, *outputs: str, bs: str | None = None,
              quiet: bool = False) -> None:
    """Run it with ``outputs`` (--jsonl=..., --output-format=..., ...); fails on a non-zero
    exit.  ``quiet``: the report on stdout is not wanted."""
    subprocess.run(
        [
            sys.executable, "-m", "loadgen", "run",
            "--name=pf", "--rw=randwrite", "--size=8m",
            *([f"--bs={bs}"] if bs else []),
            f"--numjobs={numjobs}", "--time_based", f"--runtime={runtime}",
            "--status-interval=100ms", "--eta=never",
            *outputs,
        ],
        check=True,
        timeout=60,
        stdout=subprocess.DEVNULL if quiet else None,
    )
