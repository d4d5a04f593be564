"""Watching a running loadgen from outside: the controller's own CPU time and workers' USS.

Measured here rather than read from the report so the figures do not depend on what the
report carries, and so they hold the controller to the same clock as everything else:

* CPU: user+system of the controller process alone (psutil's ``cpu_times`` keeps its
  children apart), sampled while it runs and read once more from the zombie after it exits
  (``waitid(WNOWAIT)``), so the teardown and report writing are counted too;
* USS: ``memory_full_info().uss`` of a spread of workers (the grandchildren: loadgen forks
  its workers from a helper child), sampled at every poll while alive, the largest sample
  of each worker kept: a worker is small while it waits for the release and grows once
  it runs (its region, buffers, statistics).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

POLL_S = 0.25
USS_EVERY = 16  # sample one worker in this many: reading smaps of 1024 workers on 2 CPUs would perturb the storm
USS_MAX_SAMPLES = 64


@dataclass
class Watch:
    """What one watched run produced. cpu_samples: (CLOCK_MONOTONIC ns, controller CPU s)."""

    start_ns: int  # CLOCK_MONOTONIC right before the process was started
    cpu_samples: list[tuple[int, float]] = field(default_factory=list)
    uss_by_pid: dict[int, int] = field(default_factory=dict)  # largest USS seen per sampled worker
    returncode: int | None = None
    timed_out: bool = False

    def controller_cpu_s(self) -> float | None:
        return self.cpu_samples[-1][1] if self.cpu_samples else None

    def steady_share(self, from_ns: int) -> float | None:
        """Controller CPU per wall second in the middle of FROM_NS .. exit (a quarter of the
        span, at most 1 s, cut at each end): the monitoring cost while workers run, without
        start-up imports, the release and the report."""
        if not self.cpu_samples:
            return None
        exit_ns = self.cpu_samples[-1][0]
        margin_ns = min(1_000_000_000, (exit_ns - from_ns) // 4)
        window = [s for s in self.cpu_samples if from_ns + margin_ns <= s[0] <= exit_ns - margin_ns]
        if len(window) < 2 or window[-1][0] == window[0][0]:
            return None
        return (window[-1][1] - window[0][1]) / ((window[-1][0] - window[0][0]) / 1e9)

    def uss_summary(self) -> tuple[float | None, float | None]:
        """(max, median) over the sampled workers of each one's largest USS."""
        values = [uss for uss in self.uss_by_pid.values() if uss > 0]  # 0: gone before its first sample
        if not values:
            return None, None
        return float(max(values)), float(statistics.median(values))


def _cpu_s(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def _grandchildren(pid: int) -> list[int]:
    """Children of PID's children, from /proc/<pid>/task/<pid>/children: one read per
    process, where a psutil scan of all of /proc takes seconds in the middle of a storm."""
    found: list[int] = []
    for child in _children(pid):
        found.extend(_children(child))
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _sample_uss(pid: int, by_pid: dict[int, int], seen: dict[int, int]) -> None:
    """Adopt every USS_EVERY-th worker in the order they were first seen (up to
    USS_MAX_SAMPLES), then sample all adopted ones that are still alive.  The rank is kept
    across samples (``seen``): the list of live workers grows while the storm forks and
    shrinks as it ends, so a worker's index in one list is not its rank."""
    for worker in _grandchildren(pid):
        if worker in seen:
            continue
        seen[worker] = rank = len(seen)
        if rank % USS_EVERY == 0 and len(by_pid) < USS_MAX_SAMPLES:
            by_pid[worker] = 0
    for worker in by_pid:
        try:
            by_pid[worker] = max(by_pid[worker], psutil.Process(worker).memory_full_info().uss)
        except psutil.Error:
            continue


def run_watched(command: list[str], timeout_s: float, cwd: Path | None, uss: bool) -> tuple[Watch, str]:
    """Run COMMAND to its end while sampling it; (watch, stderr). stdout is discarded."""
    start_ns = time.monotonic_ns()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watch = Watch(start_ns=start_ns)
    stderr_parts: list[str] = []
    reader = threading.Thread(target=lambda: stderr_parts.append(process.stderr.read() if process.stderr else ""))
    reader.start()
    handle = psutil.Process(process.pid)
    deadline = start_ns + int(timeout_s * 1e9)
    seen: dict[int, int] = {}  # every worker seen so far -> its rank (first seen)
    while True:
        if _exited(process.pid, POLL_S):
            break
        now = time.monotonic_ns()
        if now > deadline:
            watch.timed_out = True
            process.kill()
            break
        cpu = _cpu_s(handle)
        if cpu is not None:
            watch.cpu_samples.append((now, cpu))
        if uss:
            _sample_uss(process.pid, watch.uss_by_pid, seen)
    if not watch.timed_out:
        final = _cpu_s(handle)  # the zombie still holds its own times, children kept apart
        if final is not None:
            watch.cpu_samples.append((time.monotonic_ns(), final))
    watch.returncode = process.wait()
    reader.join()
    return watch, "".join(stderr_parts)


def _exited(pid: int, wait_s: float) -> bool:
    """True once PID has exited, without reaping it; waits up to WAIT_S."""
    deadline = time.monotonic() + wait_s
    while True:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
