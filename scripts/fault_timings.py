#!/usr/bin/env python3
"""How fast loadgen reacts to signals and a closed pipe (the figures in docs/reliability.md).

The tests prove *that* every fault is handled; this measures *how fast*: the time from
a SIGTERM, a second SIGINT, a SIGKILL of the controller or a closed stdout until every worker (and the fork helper)
is gone, until the controller has exited (after writing its report), and until no
process of the run is left.  Runs a time-based storm of
``--numjobs`` workers per case, ``--repeat`` times, and prints one JSON line per case.

    python scripts/fault_timings.py --numjobs 4 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
JOB = """\
[global]
ioengine=page_fault
bs=4k
size=8m
rw=randwrite
time_based=1
runtime=300

[storm]
numjobs={numjobs}
"""


def run_processes(controller: psutil.Process) -> list[psutil.Process]:
    try:
        return [controller, *controller.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_workers(controller: psutil.Process, numjobs: int, timeout_s: float = 60) -> list[psutil.Process]:
    """Wait until the storm runs (numjobs workers below the fork helper), then a bit more
    so that the workers are past their setup and in their loop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs = run_processes(controller)
        if len(procs) >= numjobs + 2:
            time.sleep(1.0)
            return run_processes(controller)
        time.sleep(0.02)
    raise RuntimeError("the storm did not start")


def gone_after(procs: list[psutil.Process], t0: float, timeout_s: float = 30) -> float:
    """Seconds from ``t0`` until every process in ``procs`` is gone (zombies count as there)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE or p.ppid() != 1:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return time.monotonic() - t0
        time.sleep(0.002)
    raise RuntimeError(f"processes left after {timeout_s} s: {[p.pid for p in alive]}")


def one_case(case: str, numjobs: int, workdir: Path) -> dict[str, float]:
    job = workdir / "storm.fio"
    job.write_text(JOB.format(numjobs=numjobs))
    jsonl = "-" if case == "closed_pipe" else str(workdir / "storm.jsonl")
    command = [sys.executable, "-m", "loadgen", "run", str(job), f"--jsonl={jsonl}",
               "--output-format=json", f"--output={workdir / 'report.json'}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    controller = psutil.Process(run.pid)
    procs = wait_workers(controller, numjobs)
    assert run.stdout is not None
    t0 = time.monotonic()
    if case == "sigterm":
        run.send_signal(signal.SIGTERM)
    elif case == "second_sigint":
        run.send_signal(signal.SIGINT)
        run.send_signal(signal.SIGINT)
    elif case == "controller_sigkill":
        run.kill()
    elif case == "closed_pipe":
        run.stdout.close()
    workers_gone = gone_after([p for p in procs if p.pid != run.pid], t0)
    run.wait(timeout=30)
    exited = time.monotonic() - t0
    all_gone = gone_after(procs, t0)
    return {"workers_gone_s": workers_gone, "controller_exit_s": exited, "all_gone_s": all_gone,
            "status": run.returncode}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numjobs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="sigterm,second_sigint,controller_sigkill,closed_pipe")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            samples = [one_case(case, args.numjobs, Path(tmp)) for _ in range(args.repeat)]
            workers = [s["workers_gone_s"] for s in samples]
            exits = [s["controller_exit_s"] for s in samples]
            gones = [s["all_gone_s"] for s in samples]
            print(json.dumps({
                "case": case, "numjobs": args.numjobs, "repeat": args.repeat,
                "status": sorted({int(s["status"]) for s in samples}),
                "workers_gone_s_median": round(statistics.median(workers), 3),
                "workers_gone_s_max": round(max(workers), 3),
                "controller_exit_s_median": round(statistics.median(exits), 3),
                "controller_exit_s_max": round(max(exits), 3),
                "all_processes_gone_s_median": round(statistics.median(gones), 3),
                "all_processes_gone_s_max": round(max(gones), 3),
            }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
