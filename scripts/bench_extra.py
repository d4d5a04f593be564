"""Cases of the compiled-engine targets that scripts/bench.py does not run: seed-shape
storms beside fio, thread-mode scaling, and a tiny job's command wall time.

Interleaved rounds (loadgen fio, fio loadgen, ...: bench.py's ``round_order``), medians
with [min-max]; every figure comes from the run's JSON report and the command's wall
clock and CPU (the children's rusage, so the whole tree: controller, helper and workers).

    python scripts/bench_extra.py --fio PATH [--rounds 3] [--cases storm-256,threads,...]
        [--base DIR]   # also run the loadgen of another source tree, interleaved
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import round_order

LOADGEN = [sys.executable, "-m", "loadgen"]


def run(cmd: list[str]) -> dict[str, float]:
    """Run one command; wall s, tree CPU s, and the JSON report's totals."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    doc = json.loads(out[out.index("{") :])
    jobs = doc["jobs"]
    ios = sum(j["read"]["total_ios"] + j["write"]["total_ios"] for j in jobs)
    runtime_ms = max(max(j["read"]["runtime"], j["write"]["runtime"]) for j in jobs)
    minf = sum(j["minf"] for j in jobs)
    uss = [j.get("loadgen", {}).get("uss_bytes", 0) for j in jobs]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "controller_cpu_s": doc.get("loadgen", {}).get("controller_cpu_s", 0.0),
        "ios": ios,
        "ops_per_s": ios / max(runtime_ms, 1) * 1000,
        "minf": minf,
        "jobs": len(jobs),
        "uss_max_mib": max(uss) / 2**20 if uss else 0.0,
    }


# the storm cases: workers, region size
STORMS = {"storm-64": (64, "4m"), "storm-256": (256, "8m"), "storm-256-4m": (256, "4m"),
          "storm-1024": (1024, "4m")}
SCALING = ("storm-64", "storm-1024")  # equal regions, few and many workers


def storm(n: int, size: str) -> tuple[list[str], list[str]]:
    opts = [
        "--name=storm",
        "--rw=randrw",
        "--rwmixread=50",
        "--bs=4k",
        f"--size={size}",
        f"--numjobs={n}",
        "--output-format=json",
    ]
    return LOADGEN + ["run", *opts, "--eta=never"], ["--ioengine=page_fault", *opts]


SCALED = re.compile(r"^size=\d+\*1024\*1024\*\$mb_memory/8.*$", re.M)


def seed_jobs(fio: list[str], rounds: int, base: list[str] | None) -> None:
    """Every job of profiles/page_fault.fio with its memory-sized jobs at 1 GiB, the
    whole file per command (stonewall: one job at a time), loadgen and fio in turn;
    ops/s per job = its I/Os / its runtime."""
    text = SCALED.sub(
        "size=1g", (Path(__file__).parents[1] / "profiles/page_fault.fio").read_text()
    )
    with tempfile.TemporaryDirectory() as tmp:
        jobfile = Path(tmp) / "page_fault_1g.fio"
        jobfile.write_text(text)
        sides = [
            ("loadgen", [*LOADGEN, "run", str(jobfile), "--output-format=json", "--eta=never"])
        ]
        if base:
            sides.append(("base", [*base, *sides[0][1][len(LOADGEN) :]]))
        if fio:
            sides.append(("fio", [*fio, str(jobfile), "--output-format=json"]))
        got: dict[str, dict[str, list[float]]] = {}
        for round_no in range(rounds):
            for side, cmd in round_order(sides, round_no):
                out = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=900, check=True
                ).stdout
                ios: dict[str, int] = {}
                runtime: dict[str, int] = {}
                for j in json.loads(out[out.index("{") :])["jobs"]:
                    name = j["jobname"]
                    ios[name] = ios.get(name, 0) + j["read"]["total_ios"] + j["write"]["total_ios"]
                    rt = max(j["read"]["runtime"], j["write"]["runtime"])
                    runtime[name] = max(runtime.get(name, 0), rt)
                for name, n in ios.items():
                    got.setdefault(name, {}).setdefault(side, []).append(
                        n / max(runtime[name], 1) * 1000
                    )
    for name, per in got.items():
        line = f"seed-1g {name:26s}"
        for side, vals in per.items():
            line += f" {side} {statistics.median(vals) / 1e3:.0f}k ops/s"
        if "fio" in per:
            ratios = [a / b for a, b in zip(per["loadgen"], per["fio"], strict=True)]
            line += (
                f" loadgen/fio {statistics.median(ratios):.3f}"
                f" [{min(ratios):.3f}-{max(ratios):.3f}]"
            )
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fio", default=os.environ.get("LOADGEN_FIO", ""))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--cases", default="storm-256,storm-1024,threads,tiny",
        help="also: seed-1g, storm-64, storm-256-4m"
    )
    ap.add_argument("--json-out", default="", help="write every round's figures here")
    ap.add_argument(
        "--base",
        default="",
        help="another loadgen source tree (e.g. `git archive main | tar -x -C DIR`), run"
        " from it (PYTHONPATH) beside this one in every round",
    )
    args = ap.parse_args()
    fio = [args.fio] if args.fio else []
    cases: dict[str, list[tuple[str, list[str]]]] = {}
    for name, (n, size) in STORMS.items():
        lg, fo = storm(n, size)
        cases[name] = [("loadgen", lg)] + ([("fio", fio + fo)] if fio else [])
    one = [
        "--name=t",
        "--rw=randwrite",
        "--bs=4k",
        "--size=512m",
        "--thread",
        "--thp=never",
        "--output-format=json",
        "--eta=never",
    ]
    cases["threads"] = [
        ("loadgen-1", LOADGEN + ["run", *one, "--numjobs=1"]),
        ("loadgen-2", LOADGEN + ["run", *one, "--numjobs=2"]),
    ]
    cases["tiny"] = [
        (
            "loadgen",
            LOADGEN
            + ["run", "--name=t", "--rw=write", "--size=4k", "--output-format=json", "--eta=never"],
        )
    ]
    # PYTHONSAFEPATH: `python -m` would put the working directory (this checkout) first
    base = (
        ["env", "PYTHONSAFEPATH=1", f"PYTHONPATH={Path(args.base).resolve()}", *LOADGEN]
        if args.base
        else None
    )
    names = args.cases.split(",")
    if "seed-1g" in names:
        seed_jobs(fio, args.rounds, base)
        names.remove("seed-1g")
    if base is not None:
        for name, sides in cases.items():
            cases[name] = [
                entry
                for side, cmd in sides
                for entry in (
                    [(side, cmd), (side.replace("loadgen", "base"), base + cmd[len(LOADGEN) :])]
                    if side.startswith("loadgen")
                    else [(side, cmd)]
                )
            ]
    report: dict[str, dict[str, list[dict[str, float]]]] = {}
    for name in names:
        sides = cases[name]
        got: dict[str, list[dict[str, float]]] = {side: [] for side, _ in sides}
        for round_no in range(args.rounds):
            for side, cmd in round_order(sides, round_no):
                got[side].append(run(cmd))
        report[name] = got
        for side, rounds in got.items():
            med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            rng = {
                k: (min(r[k] for r in rounds), max(r[k] for r in rounds))
                for k in ("wall_s", "ops_per_s")
            }
            wall, ops = rng["wall_s"], rng["ops_per_s"]
            print(
                f"{name:10s} {side:10s} wall {med['wall_s']:.2f}s [{wall[0]:.2f}-{wall[1]:.2f}]"
                f" cpu {med['cpu_s']:.2f}s ({med['cpu_s'] / med['jobs'] * 1000:.1f} ms/job)"
                f" controller {med['controller_cpu_s']:.3f}s"
                f" ops/s {med['ops_per_s']:.0f} [{ops[0]:.0f}-{ops[1]:.0f}]"
                f" minf {med['minf']:.0f} uss {med['uss_max_mib']:.2f} MiB",
                flush=True,
            )
        summarise_ratios(name, got)
    summarise_scaling(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1))


def summarise_ratios(name: str, got: dict[str, list[dict[str, float]]]) -> None:
    """Each loadgen side against fio, round by round (the rounds are interleaved, so a
    round's ratio cancels what the machine was doing then): median [min-max]."""
    if "fio" not in got:
        return
    for side in (s for s in got if s != "fio"):
        line = f"{name:10s} {side}/fio"
        for key in ("wall_s", "cpu_s", "ops_per_s"):
            ratios = [a[key] / b[key] for a, b in zip(got[side], got["fio"], strict=True)
                      if b[key]]
            if ratios:
                line += (f" {key.removesuffix('_s')} {statistics.median(ratios):.3f}"
                         f" [{min(ratios):.3f}-{max(ratios):.3f}]")
        print(line, flush=True)


def summarise_scaling(report: dict[str, dict[str, list[dict[str, float]]]]) -> None:
    """CPU per worker split into a fixed cost and a cost per worker, from the ``SCALING``
    storms (equal regions), medians of the rounds."""
    if not all(case in report for case in SCALING):
        return
    (n_few, _), (n_many, _) = (STORMS[case] for case in SCALING)
    for side in report[SCALING[0]]:
        few, many = (statistics.median(r["cpu_s"] for r in report[case][side])
                     for case in SCALING)
        per_worker = (many - few) / (n_many - n_few)
        print(f"scaling    {side:10s} cpu per worker {per_worker * 1000:.2f} ms"
              f" + fixed {few - n_few * per_worker:.3f} s", flush=True)


if __name__ == "__main__":
    main()
