"""Storm measurements for the report (not a test: figures depend on the machine).

    LG_T0=$(date +%s%N) python tests/controller/measure.py storm 1024
    python tests/controller/measure.py uss 1024
    python tests/controller/measure.py steady 64 1000     # workers, status interval ms
    python tests/controller/measure.py steady 256 100
"""

from __future__ import annotations

import os
import sys
import threading
import time

import orjson
import psutil

from loadgen.controller import execute, exit_status
from loadgen.plan import RunOptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plans import make_plan  # noqa: E402

KIB = 1024


def storm(n: int) -> None:
    """numjobs=n of a 64 KiB randwrite job: command start -> release (LG_T0 = the shell's start)."""
    t0 = int(os.environ.get("LG_T0", time.time_ns()))
    result = execute(make_plan([dict(numjobs=n, size=64 * KIB)]), RunOptions(eta="never"))
    (g,) = result.groups
    release_epoch = g.extras["release_ns"] + time.time_ns() - time.monotonic_ns()
    print(f"workers={n} status={exit_status(result)} command_start_to_release_s={(release_epoch - t0) / 1e9:.2f} "
          f"fork_loop_s={g.extras['fork_s']:.2f} spawn_s={g.spawn_s:.2f} start_skew_ms={g.start_skew_ns / 1e6:.1f}")


def uss(n: int) -> None:
    """USS of every 16th worker of a running storm of 64 KiB time-based randwrite jobs."""
    found: list[int] = []

    def sample() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not found:
            time.sleep(0.5)
            helper = [c for c in psutil.Process().children() if c.pid != os.getpid()]
            if not helper:
                continue
            try:
                workers = helper[0].children()
            except psutil.NoSuchProcess:
                return
            if len(workers) < n:
                continue
            time.sleep(1.0)  # released and running
            for c in workers[::16]:
                try:
                    found.append(c.memory_full_info().uss)
                except psutil.NoSuchProcess:
                    pass

    sampler = threading.Thread(target=sample)
    sampler.start()
    plan = make_plan([dict(numjobs=n, size=64 * KIB, time_based=True, runtime_ns=5_000_000_000)])
    execute(plan, RunOptions(eta="never"))
    sampler.join()
    found.sort()
    print(f"workers={n} uss_per_worker_MiB median={found[len(found) // 2] / 2**20:.2f} max={found[-1] / 2**20:.2f} "
          f"(its region: 64 KiB) samples={len(found)}")


def steady(n: int, interval_ms: int) -> None:
    """n workers for 8 s at the given status interval: controller CPU share and stream lag."""
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
    plan = make_plan([dict(numjobs=n, size=4 << 20, time_based=True, runtime_ns=8_000_000_000, rw="randrw")])
    result = execute(plan, RunOptions(eta="never", jsonl=path, status_interval_ns=interval_ms * 1_000_000))
    stop.set()
    sampler.join()
    lines = [orjson.loads(x) for x in open(path, "rb")]
    intervals = [r for r in lines if r["type"] == "interval"]
    lags = sorted(r["loadgen.lag_ns"] for r in intervals)
    blocked = sum(j.totals.report_block_ns for j in result.jobs)
    # steady state: the middle of the run (spawn and teardown excluded)
    t_lo, t_hi = samples[0][0] + 3, samples[-1][0] - 2
    mid = [s for s in samples if t_lo <= s[0] <= t_hi]
    share = (mid[-1][1] - mid[0][1]) / (mid[-1][0] - mid[0][0]) if len(mid) > 1 else float("nan")
    print(f"workers={n} interval_ms={interval_ms} status={exit_status(result)} records={len(intervals)} "
          f"controller_cpu_share={100 * share:.2f}% lag_ms p50={lags[len(lags) // 2] / 1e6:.2f} "
          f"p99={lags[int(len(lags) * 0.99)] / 1e6:.2f} max={lags[-1] / 1e6:.2f} "
          f"workers_blocked_in_write_ms_total={blocked / 1e6:.2f}")


if __name__ == "__main__":
    {"storm": storm, "uss": uss, "steady": steady}[sys.argv[1]](*map(int, sys.argv[2:]))
