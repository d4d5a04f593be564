"""Interleaved comparison of the loadgen engine with fio's page_fault engine (and the C floor).

For each repetition: fio, then the engine in a fresh interpreter, then (for the fault case)
pflimit.  Prints medians of ops/s (from each tool's measured runtime) and of CPU ns per
I/O (usr+sys), and their ratios.  Needs an upstream fio build with the page_fault engine.

    python scripts/engine_vs_fio.py CASE [REPS] [--fio PATH] [--pflimit PATH]

CASE: fault, fault-gtod, hot, hot-gtod, hot100, hot10k, randw, randrw.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
G = 1 << 30
PAGE = 4096

# name: (fio arguments, engine Job fields, pflimit arguments or None)
CASES: dict[str, tuple[list[str], dict[str, Any], list[str] | None]] = {
    "fault": (["--size=1g", "--bs=4k", "--rw=write"], dict(rw="write", size=G, thp="never"), ["1024", "4096", "1"]),
    "fault-gtod": (
        ["--size=1g", "--bs=4k", "--rw=write", "--gtod_reduce=1"],
        dict(rw="write", size=G, thp="never", gtod_reduce=True),
        ["1024", "4096", "1"],
    ),
    "hot": (["--size=256k", "--bs=4k", "--rw=randrw", "--loops=5000"], dict(rw="randrw", size=64 * PAGE, loops=5000), None),
    "hot-gtod": (
        ["--size=256k", "--bs=4k", "--rw=randrw", "--loops=5000", "--gtod_reduce=1"],
        dict(rw="randrw", size=64 * PAGE, loops=5000, gtod_reduce=True),
        None,
    ),
    "hot10k": (["--size=256k", "--bs=4k", "--rw=randrw", "--loops=10000"], dict(rw="randrw", size=64 * PAGE, loops=10000), None),
    "hot100": (["--size=256k", "--bs=4k", "--rw=randrw", "--loops=100"], dict(rw="randrw", size=64 * PAGE, loops=100), None),
    "randw": (["--size=256m", "--bs=4k", "--rw=randwrite"], dict(rw="randwrite", size=256 << 20, thp="never"), None),
    "randrw": (["--size=256m", "--bs=4k", "--rw=randrw"], dict(rw="randrw", size=256 << 20, thp="never"), None),
}

ENGINE = """
from loadgen.engine.runner import JobRunner
from loadgen.plan import Job
from loadgen.stats.jobstats import IntervalStats
job = Job(name="x", thread_number=1, subjob=0, numjobs=1, group_id=0, **{fields!r})
runner = JobRunner(job)
runner.setup()
total = IntervalStats()
runner.run(total.merge, 10**12, lambda: False)
runner.close()
ios = total.dirs[0].ios + total.dirs[1].ios
print(ios, total.runtime_ns, total.minf, total.usr_ns + total.sys_ns)
"""


def run_fio(fio: str, args: list[str]) -> tuple[int, float, int, float]:
    out = subprocess.run(
        [fio, "--name=x", "--ioengine=page_fault", "--output-format=json", *args], capture_output=True, text=True, check=True
    ).stdout
    job = json.loads(out)["jobs"][0]
    ios = job["read"]["total_ios"] + job["write"]["total_ios"]
    runtime_ns = max(job["read"]["runtime"], job["write"]["runtime"], job["job_runtime"]) * 1e6
    cpu_ns = (job["usr_cpu"] + job["sys_cpu"]) / 100 * job["job_runtime"] * 1e6
    return ios, runtime_ns, job["minf"], cpu_ns


def run_engine(fields: dict[str, Any]) -> tuple[int, float, int, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", ENGINE.format(fields=fields)], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]), float(out[3])


def run_pflimit(pflimit: str, args: list[str]) -> float:
    out = subprocess.run([pflimit, *args], capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["blocks_per_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("reps", nargs="?", type=int, default=5)
    fio = os.environ.get("LOADGEN_FIO")
    ap.add_argument("--fio", default=fio, required=fio is None,
                    help="fio binary with the page_fault engine (default: $LOADGEN_FIO)")
    ap.add_argument("--pflimit", default="", help="compiled pflimit (the C floor); optional")
    a = ap.parse_args()
    fio_args, fields, pfl_args = CASES[a.case]
    fio_rate, eng_rate, fio_cpu, eng_cpu, floor = [], [], [], [], []
    for _ in range(a.reps):
        n, ns, fio_minf, cpu = run_fio(a.fio, fio_args)
        fio_rate.append(n / ns * 1e9)
        fio_cpu.append(cpu / n)
        n, ns, eng_minf, cpu = run_engine(fields)
        eng_rate.append(n / ns * 1e9)
        eng_cpu.append(cpu / n)
        if pfl_args and a.pflimit and Path(a.pflimit).exists():
            floor.append(run_pflimit(a.pflimit, pfl_args))
    fr, er = statistics.median(fio_rate), statistics.median(eng_rate)
    fc, ec = statistics.median(fio_cpu), statistics.median(eng_cpu)
    print(
        f"{a.case}: fio {fr:,.0f} ops/s ({1e9 / fr:.0f} ns/op, minf {fio_minf}); "
        f"loadgen {er:,.0f} ops/s ({1e9 / er:.0f} ns/op, minf {eng_minf}); ops/s ratio loadgen/fio {er / fr:.3f}"
    )
    print(f"  cpu ns/op: fio {fc:.0f}, loadgen {ec:.0f}, ratio loadgen/fio {ec / max(fc, 1e-9):.3f}")
    pair_cpu = statistics.median(e / max(f, 1e-9) for e, f in zip(eng_cpu, fio_cpu))
    pair_rate = statistics.median(e / f for e, f in zip(eng_rate, fio_rate))
    print(f"  median of per-pair ratios loadgen/fio: cpu ns/op {pair_cpu:.3f}, ops/s {pair_rate:.3f}  (load {os.getloadavg()[0]:.1f})")
    if floor:
        print(f"  pflimit (C floor) {statistics.median(floor):,.0f} blocks/s")
    print("  fio ops/s:", [round(x) for x in fio_rate])
    print("  loadgen ops/s:", [round(x) for x in eng_rate])


if __name__ == "__main__":
    main()
