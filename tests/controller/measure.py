"""Storm measurements for the report (not a test: figures depend on the machine).

    LG_T0=$(date +%s%N) python tests/controller/measure.py storm 1024
    python tests/controller/measure.py uss 1024
    python tests/controller/measure.py steady 64 1000     # workers, status interval ms
    python tests/controller/measure.py steady 256 100
    python tests/controller/measure.py steady 256 100 5000   # light workers: 2560 records/s
    python tests/controller/measure.py pipes 256 256          # writers per shared pipe: 256, 8, 1
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import orjson
import psutil

from loadgen.controller import execute, exit_status
from loadgen.plan import RunOptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plans import make_plan

KIB = 1024


def storm(n: int) -> None:
    """numjobs=n of a 64 KiB randwrite job: command start -> release (LG_T0 = the shell's start)."""
    t0 = int(os.environ.get("LG_T0", time.time_ns()))
    result = execute(make_plan([dict(numjobs=n, size=64 * KIB)]), RunOptions(eta="never"))
    (g,) = result.groups
    release_epoch = g.release_epoch_ns
    print(
        f"workers={n} status={exit_status(result)} "
        f"command_start_to_release_s={(release_epoch - t0) / 1e9:.2f} "
        f"fork_loop_s={g.fork_s:.2f} spawn_s={g.spawn_s:.2f} "
        f"start_skew_ms={g.start_skew_ns / 1e6:.1f}"
    )


def uss(n: int) -> None:
    """USS of every 16th worker of a running storm of 64 KiB time-based randwrite jobs."""
    found: list[int] = []

    def sample() -> None:
        # /proc/<pid>/task/<pid>/children: one read, where psutil's /proc scan took seconds
        # mid-storm
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not found:
            time.sleep(0.5)
            helpers = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
            if not helpers:
                continue
            try:
                children = Path(f"/proc/{helpers[0]}/task/{helpers[0]}/children")
                workers = children.read_text().split()
            except FileNotFoundError:
                return
            if len(workers) < n:
                continue
            time.sleep(1.0)  # released and running
            for pid in workers[::16]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    found.append(psutil.Process(int(pid)).memory_full_info().uss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    plan = make_plan([dict(numjobs=n, size=64 * KIB, time_based=True, runtime_ns=5_000_000_000)])
    execute(plan, RunOptions(eta="never"))
    sampler.join()
    found.sort()
    if not found:
        print(f"workers={n}: no worker was sampled while running")
        return
    print(
        f"workers={n} uss_per_worker_MiB median={found[len(found) // 2] / 2**20:.2f} "
        f"max={found[-1] / 2**20:.2f} "
        f"(its region: 64 KiB) samples={len(found)}"
    )


def steady(n: int, interval_ms: int, thinktime_us: int = 0) -> None:
    """n workers for 8 s at the given status interval: controller CPU share and stream lag.

    ``thinktime_us`` > 0 makes the workers light (a sleep per I/O), so that they can
    report at the asked rate even when there are far more workers than CPUs.
    """
    me = psutil.Process()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            t = me.cpu_times()
            samples.append((time.monotonic(), t.user + t.system))

    sampler = threading.Thread(target=sample)
    sampler.start()
    path = "/tmp/loadgen-measure.jsonl"
    plan = make_plan([dict(numjobs=n, size=4 << 20, time_based=True, runtime_ns=8_000_000_000,
                           rw="randrw", thinktime_ns=thinktime_us * 1000)])
    result = execute(
        plan, RunOptions(eta="never", jsonl=path, status_interval_ns=interval_ms * 1_000_000)
    )
    stop.set()
    sampler.join()
    lines = [orjson.loads(x) for x in Path(path).read_bytes().splitlines()]
    intervals = [r for r in lines if r["event.dataset"] == "loadgen.interval"]
    lags = sorted(r["loadgen.lag_ns"] for r in intervals)
    blocked = sum(j.totals.report_block_ns for j in result.jobs)
    # steady state: the middle of the run (spawn and teardown excluded)
    t_lo, t_hi = samples[0][0] + 3, samples[-1][0] - 2
    mid = [s for s in samples if t_lo <= s[0] <= t_hi]
    share = (mid[-1][1] - mid[0][1]) / (mid[-1][0] - mid[0][0]) if len(mid) > 1 else float("nan")
    print(
        f"workers={n} interval_ms={interval_ms} thinktime_us={thinktime_us} "
        f"status={exit_status(result)} records={len(intervals)} "
        f"controller_cpu_share={100 * share:.2f}% lag_ms p50={lags[len(lags) // 2] / 1e6:.2f} "
        f"p99={lags[int(len(lags) * 0.99)] / 1e6:.2f} max={lags[-1] / 1e6:.2f} "
        f"workers_blocked_in_write_ms_total={blocked / 1e6:.2f}"
    )


def pipes(n: int, writers_per_pipe: int) -> None:
    """Why one stats pipe per worker: n CPU-bound writers, 10 messages/s each, sharing pipes.

    Prints the mean wall time per writer spent in write over 4 s (a writer preempted
    while it holds a pipe's mutex stalls every other writer of that pipe).
    """
    import fcntl

    count = -(-n // writers_per_pipe)
    ends = [os.pipe() for _ in range(count)]
    for r, w in ends:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(r, False)
    results_r, results_w = os.pipe()
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            w = ends[i // writers_per_pipe][1]
            end, due, blocked, spin = time.monotonic() + 4, time.monotonic() + 0.1, 0, 0
            while time.monotonic() < end:
                for _ in range(2000):
                    spin += 1
                if time.monotonic() >= due:
                    t0 = time.monotonic_ns()
                    os.write(w, b"x" * 4000)
                    os.write(w, b"x" * 1500)
                    blocked += time.monotonic_ns() - t0
                    due += 0.1
            os.write(results_w, b"%d\n" % blocked)
            os._exit(0)
        pids.append(pid)
    os.setpriority(os.PRIO_PROCESS, 0, -20)
    end = time.monotonic() + 4.5
    while time.monotonic() < end:
        for r, _ in ends:
            try:
                while os.read(r, 1 << 20):
                    pass
            except BlockingIOError:
                pass
        time.sleep(0.02)
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(results_w)
    with os.fdopen(results_r, "rb") as f:
        blocked = [int(x) for x in f.read().split()]
    print(f"writers={n} writers_per_pipe={writers_per_pipe} blocked_in_write_ms_per_writer="
          f"{sum(blocked) / len(blocked) / 1e6:.1f}")


if __name__ == "__main__":
    {"storm": storm, "uss": uss, "steady": steady, "pipes": pipes}[sys.argv[1]](
        *map(int, sys.argv[2:])
    )
