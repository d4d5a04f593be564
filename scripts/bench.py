#!/usr/bin/env python3
"""Benchmark loadgen against fio's page_fault engine and the pflimit C floor.

Sides run interleaved (loadgen, fio, pflimit, loadgen, fio, pflimit, ...) so that drift of a
shared machine hits every side alike, and each case is summarised by per-round ratios rather
than by a ratio of medians. Writes a JSON result file and a Markdown table.

    python scripts/bench.py --fio /path/to/fio --json-out bench.json --md-out bench.md
    python scripts/bench.py --smoke          # tiny sizes: proves the plumbing, judges nothing
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import mmap
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

from _bench_cases import Case, build_cases, scale_for
from _bench_markdown import render
from _bench_sides import LOADGEN_EXTRAS, Sample, run_pflimit, run_report_tool
from _bench_stats import median, pair_ratios, ratio_summary

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PFLIMIT_SOURCE = REPO_ROOT.parent / "shared" / "ref" / "pflimit.c"
DAMON_ADMIN = Path("/sys/kernel/mm/damon/admin")
SIDES = ("loadgen", "fio", "pflimit")
RATIOS = (("loadgen", "fio"), ("loadgen", "pflimit"), ("fio", "pflimit"))
SCHEMA = "loadgen-bench/1"
SideT = TypeVar("SideT")  # a side, or a side with its command


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=None, help="interleaved rounds per case (default 5, smoke 1)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the plumbing, not speed")
    parser.add_argument("--cases", default="*", help="comma-separated case names or globs (default: all)")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    parser.add_argument("--loadgen-cmd", default=f"{shlex.quote(sys.executable)} -m loadgen", help="command that runs loadgen")
    parser.add_argument("--no-loadgen", action="store_true", help="leave loadgen out (baseline fio vs pflimit)")
    parser.add_argument("--fio", type=Path, help="fio binary with the page_fault engine")
    parser.add_argument("--fio-storm-1024", action="store_true", help="also run fio in storm-1024 (takes minutes)")
    parser.add_argument("--pflimit", type=Path, default=DEFAULT_PFLIMIT_SOURCE, help="pflimit.c to compile at run time")
    parser.add_argument("--pflimit-bin", type=Path, help="a ready pflimit binary (skips compiling)")
    parser.add_argument("--no-pflimit", action="store_true", help="leave pflimit out")
    parser.add_argument("--cache-hot-loops", type=int, default=10000, help="loops for the cache-hot cases")
    parser.add_argument("--controller-runtime", type=int, default=10, help="seconds of the controller cases")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to idle before each run (lets the VM hand freed memory back to the host first)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one run may take")
    parser.add_argument("--json-out", type=Path, help="write the JSON result here")
    parser.add_argument("--md-out", type=Path, help="write the Markdown table here (it also goes to stdout)")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = 1 if args.smoke else 5
    if args.settle < 0:
        raise UsageError("--settle must not be negative")
    if args.pairs < 1:
        raise UsageError("--pairs must be at least 1")
    if args.fio is not None and not os.access(args.fio, os.X_OK):
        raise UsageError(f"--fio {args.fio}: not an executable file")
    if args.pflimit_bin is not None and not os.access(args.pflimit_bin, os.X_OK):
        raise UsageError(f"--pflimit-bin {args.pflimit_bin}: not an executable file")
    return args


def select_cases(cases: list[Case], patterns: str) -> list[Case]:
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    for pattern in wanted:
        if not any(fnmatch.fnmatchcase(case.name, pattern) for case in cases):
            raise UsageError(f"--cases: no case matches {pattern!r} (see --list)")
    return [case for case in cases if any(fnmatch.fnmatchcase(case.name, p) for p in wanted)]


def compile_pflimit(source: Path, workdir: Path) -> tuple[Path | None, str]:
    """Build pflimit into WORKDIR (a temp dir: the binary is never kept); (None, why) if not."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None, "no C compiler"
    if not source.is_file():
        return None, f"{source} not found"
    binary = workdir / "pflimit"
    built = subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        return None, f"compile failed: {built.stderr.strip()[:200]}"
    return binary, f"compiled from {source} with {compiler} -O2"


def warm_up(nbytes: int) -> None:
    """Touch NBYTES of fresh anonymous memory once, so the first measured run does not pay
    for the kernel refilling its free lists (the same for every side)."""
    if nbytes <= 0:
        return
    region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        for offset in range(0, nbytes, mmap.PAGESIZE):
            region[offset] = 1
    finally:
        region.close()


def _read_settings(directory: Path) -> dict[str, str] | None:
    """Every readable file of a sysfs parameter directory, or None when it does not exist."""
    if not directory.is_dir():
        return None
    settings = {}
    for entry in sorted(directory.iterdir()):
        try:
            settings[entry.name] = entry.read_text().strip()
        except OSError:
            continue
    return settings


def damon_schemes(admin: Path = DAMON_ADMIN) -> list[dict[str, str]]:
    """Each DAMON scheme of a running kdamond: an action such as ``pageout`` evicts page
    cache older than its minimum age, so a command run after idling reads its libraries
    from disk again (docs/performance.md)."""
    def read(path: Path) -> str:
        return path.read_text().strip()

    schemes: list[dict[str, str]] = []
    for kdamond in sorted((admin / "kdamonds").glob("[0-9]*")):
        try:
            if read(kdamond / "state") != "on":
                continue
            for context in sorted((kdamond / "contexts").glob("[0-9]*")):
                shared = {"operations": read(context / "operations"),
                          "aggr_us": read(context / "monitoring_attrs/intervals/aggr_us")}
                schemes.extend(
                    {**shared, "action": read(scheme / "action"),
                     "min_age_aggr_intervals": read(scheme / "access_pattern/age/min")}
                    for scheme in sorted((context / "schemes").glob("[0-9]*"))
                )
        except OSError:
            continue
    return schemes


def machine_info(fio: Path | None, pflimit_note: str | None) -> dict[str, Any]:
    """What decides first-touch cost here. page_reporting matters on VMs: free pages handed
    back to the host fault again on the host side when the guest touches them next; a DAMON
    pageout scheme makes start-up after idling read from disk."""
    thp_path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    fio_version = None
    if fio is not None:
        probe = subprocess.run([str(fio), "--version"], capture_output=True, text=True, check=False)
        fio_version = probe.stdout.strip() or None
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "thp": thp_path.read_text().strip() if thp_path.exists() else None,
        "pagesize": mmap.PAGESIZE,
        "loadavg_at_start": os.getloadavg(),
        "page_reporting": _read_settings(Path("/sys/module/page_reporting/parameters")),
        "damon_schemes": damon_schemes(),
        "python": platform.python_version(),
        "fio": str(fio) if fio else None,
        "fio_version": fio_version,
        "pflimit": pflimit_note,
    }


class Runner:
    """Runs one side of one case once, in a scratch directory."""

    def __init__(self, args: argparse.Namespace, scratch: Path, pflimit: Path | None) -> None:
        self.loadgen_cmd = None if args.no_loadgen else shlex.split(args.loadgen_cmd)
        self.fio = args.fio
        self.pflimit = pflimit
        self.timeout = args.timeout
        self.scratch = scratch

    def sides_for(self, case: Case) -> list[str]:
        available = {
            "loadgen": self.loadgen_cmd is not None,
            "fio": self.fio is not None and case.fio,
            "pflimit": self.pflimit is not None and case.pflimit_args is not None,
        }
        return [side for side in SIDES if available[side]]

    def run(self, case: Case, side: str) -> Sample:
        if side == "pflimit":
            assert self.pflimit is not None and case.pflimit_args is not None
            return run_pflimit(self.pflimit, list(case.pflimit_args), self.timeout)
        job_file = self.scratch / f"{case.name}.{side}.fio"
        job_file.write_text(case.job_file(for_loadgen=side == "loadgen"))
        report = self.scratch / f"{case.name}.{side}.json"
        tail = [str(job_file), "--output-format=json", f"--output={report}"]
        if side == "loadgen":
            assert self.loadgen_cmd is not None
            command = [*self.loadgen_cmd, "run", *tail, *case.loadgen_args]
        else:
            command = [str(self.fio), *tail]
        return run_report_tool(command, report, self.timeout, cwd=REPO_ROOT, sample_uss=case.sample_uss and side == "loadgen")


def round_order(sides: list[SideT], round_no: int) -> list[SideT]:
    """Every other round runs the sides backwards (A B, B A, ...): a side never always runs
    right after the same one, so effects that alternate run by run (on this VM, memory
    freed by the previous run being handed back to the host) do not favour one side."""
    return sides if round_no % 2 == 0 else sides[::-1]


def run_case(case: Case, runner: Runner, pairs: int, settle_s: float) -> dict[str, Any]:
    """Warm up, then PAIRS rounds of every side in turn, then summarise."""
    sides = runner.sides_for(case)
    warm_up(case.memory_bytes)
    samples: dict[str, list[Sample]] = {side: [] for side in sides}
    for round_no in range(pairs):
        for side in round_order(sides, round_no):
            time.sleep(settle_s)
            sample = runner.run(case, side)
            samples[side].append(sample)
            shown = sample.error or f"{case.metric}={sample.get(case.metric)}"
            print(f"bench: {case.name} round {round_no + 1}/{pairs} {side}: {shown}", file=sys.stderr)
    return summarise(case, samples)


def summarise(case: Case, samples: dict[str, list[Sample]]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": case.name,
        "title": case.title,
        "metric": case.metric,
        "better": case.better,
        "job": dict(case.job),
        "loadgen_job": dict(case.loadgen_job),
        "loadgen_args": list(case.loadgen_args),
        "pflimit_args": list(case.pflimit_args) if case.pflimit_args is not None else None,
        "notes": list(case.notes),
        "sides": {},
        "ratios": {},
    }
    for side, runs in samples.items():
        extras = case.extras if side == "loadgen" else tuple(e for e in case.extras if e not in LOADGEN_EXTRAS)
        result["sides"][side] = {
            "command": runs[0].command if runs else [],
            "runs": [{"metrics": run.metrics, "error": run.error} for run in runs],
            "values": [run.get(case.metric) for run in runs],
            "median": median([run.get(case.metric) for run in runs]),
            "extras": {name: median([run.get(name) for run in runs]) for name in extras},
        }
    for numerator, denominator in RATIOS:
        if numerator in samples and denominator in samples:
            ratios = pair_ratios(
                result["sides"][numerator]["values"],
                result["sides"][denominator]["values"],
            )
            result["ratios"][f"{numerator}/{denominator}"] = ratio_summary(ratios)
    result["targets"] = [target.judge(result) for target in case.targets]
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        scale = scale_for(args.smoke, os.cpu_count() or 1, args.cache_hot_loops, args.controller_runtime)
        cases = build_cases(scale, mmap.PAGESIZE, args.fio_storm_1024)
        if args.list:
            print("\n".join(f"{case.name}: {case.title}" for case in cases))
            return 0
        cases = select_cases(cases, args.cases)
    except UsageError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="loadgen-bench-") as tmp:
        scratch = Path(tmp)
        pflimit, pflimit_note = None, "left out (--no-pflimit)"
        if not args.no_pflimit:
            if args.pflimit_bin is not None:
                pflimit, pflimit_note = args.pflimit_bin, f"binary {args.pflimit_bin}"
            else:
                pflimit, pflimit_note = compile_pflimit(args.pflimit, scratch)
        if pflimit is None:
            print(f"bench: pflimit not used: {pflimit_note}", file=sys.stderr)
        runner = Runner(args, scratch, pflimit)
        started = time.time()
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "machine": machine_info(args.fio, pflimit_note),
            "options": {
                "pairs": args.pairs,
                "settle_s": args.settle,
                "smoke": args.smoke,
                "loadgen_cmd": None if args.no_loadgen else args.loadgen_cmd,
                "command_line": [sys.argv[0], *(sys.argv[1:] if argv is None else argv)],
            },
            "started_epoch_s": started,
            "cases": [run_case(case, runner, args.pairs, args.settle) for case in cases],
        }
        document["elapsed_s"] = time.time() - started
        document["loadavg_at_end"] = os.getloadavg()
    markdown = render(document)
    if args.json_out:
        args.json_out.write_text(json.dumps(document, indent=1) + "\n")
    if args.md_out:
        args.md_out.write_text(markdown)
    sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
