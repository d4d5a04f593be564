#!/usr/bin/env python3
"""Soak test: run a time-based storm for a long time and watch the controller.

What a soak must show is that nothing grows: the controller's RSS and CPU stay flat
however long the run, the JSON line rate stays at numjobs per interval, and every
line is valid.  This runs ``python -m loadgen run`` on a generated time-based job
(or ``--job FILE``), samples the controller with psutil every ``--period`` seconds
and writes ``soak-summary.json`` and ``soak-summary.md`` into ``--out``.

    python scripts/soak.py --duration 30m --numjobs 4 --interval 1 --out /tmp/soak
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import psutil

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h`` -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Sample:
    """One look at the run, ``period`` seconds after the previous one."""

    t_s: float
    controller_rss_bytes: int
    controller_cpu_pct: float  # user+sys over the period, percent of one CPU
    workers: int
    workers_rss_bytes: int
    jsonl_lines: int
    jsonl_lines_per_s: float


@dataclass
class Summary:
    command: list[str]
    duration_s: float
    numjobs: int
    interval_s: float
    exit_status: int | None = None
    elapsed_s: float = 0.0
    jsonl_lines: int = 0
    jsonl_invalid_lines: int = 0
    jsonl_record_types: dict[str, int] = field(default_factory=dict)
    rss_first_bytes: int = 0
    rss_last_bytes: int = 0
    rss_max_bytes: int = 0
    cpu_mean_pct: float = 0.0
    line_rate_mean_per_s: float = 0.0
    line_rate_min_per_s: float = 0.0
    line_rate_max_per_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)


def job_text(args: argparse.Namespace) -> str:
    runtime = int(args.duration)
    return (
        "[global]\n"
        "ioengine=page_fault\n"
        f"size={args.size}\n"
        "bs=4k\n"
        "rw=randwrite\n"
        "time_based=1\n"
        f"runtime={runtime}\n"
        + (f"thinktime={args.thinktime}\nthinktime_blocks={args.thinktime_blocks}\n"
           if args.thinktime else "")
        + "\n[soak]\n"
        f"numjobs={args.numjobs}\n"
    )


class LineCounter:
    """Counts and checks the lines of a growing JSON lines file, reading each byte once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.lines = 0
        self.invalid = 0
        self.types: dict[str, int] = {}

    def poll(self) -> int:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return self.lines
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        for line in complete:
            self.lines += 1
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.invalid += 1
                continue
            kind = str(record.get("event.dataset", "?")) if isinstance(record, dict) else "?"
            self.types[kind] = self.types.get(kind, 0) + 1
        return self.lines

    def finish(self) -> None:
        self.poll()
        if self.partial:  # a last line without its newline is incomplete
            self.lines += 1
            self.invalid += 1
            self.partial = b""


def sample(controller: psutil.Process, previous_cpu: float, period: float, t0: float,
           lines: LineCounter, previous_lines: int) -> tuple[Sample, float]:
    with controller.oneshot():
        rss = controller.memory_info().rss
        times = controller.cpu_times()
        children = controller.children(recursive=True)
    cpu = times.user + times.system
    workers_rss = 0
    for child in children:
        try:
            workers_rss += child.memory_info().rss
        except psutil.Error:
            pass
    count = lines.poll()
    return Sample(
        t_s=round(time.monotonic() - t0, 3),
        controller_rss_bytes=rss,
        controller_cpu_pct=round(100.0 * (cpu - previous_cpu) / period, 2),
        workers=len(children),
        workers_rss_bytes=workers_rss,
        jsonl_lines=count,
        jsonl_lines_per_s=round((count - previous_lines) / period, 3),
    ), cpu


def summarise(summary: Summary) -> None:
    samples = summary.samples
    if not samples:
        return
    summary.rss_first_bytes = samples[0].controller_rss_bytes
    summary.rss_last_bytes = samples[-1].controller_rss_bytes
    summary.rss_max_bytes = max(s.controller_rss_bytes for s in samples)
    summary.cpu_mean_pct = round(sum(s.controller_cpu_pct for s in samples) / len(samples), 2)
    rates = [s.jsonl_lines_per_s for s in samples[1:]] or [samples[0].jsonl_lines_per_s]
    summary.line_rate_mean_per_s = round(sum(rates) / len(rates), 3)
    summary.line_rate_min_per_s = min(rates)
    summary.line_rate_max_per_s = max(rates)


def markdown(summary: Summary) -> str:
    mib = 1 << 20
    out = [
        "# loadgen soak",
        "",
        f"Command: `{' '.join(summary.command)}`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| duration asked / elapsed | {summary.duration_s:.0f} s / {summary.elapsed_s:.0f} s |",
        f"| numjobs, status interval | {summary.numjobs}, {summary.interval_s} s |",
        f"| exit status | {summary.exit_status} |",
        f"| controller RSS first / last / max | {summary.rss_first_bytes / mib:.1f} / "
        f"{summary.rss_last_bytes / mib:.1f} / {summary.rss_max_bytes / mib:.1f} MiB |",
        f"| controller CPU, mean over samples | {summary.cpu_mean_pct} % of one CPU |",
        f"| JSON lines total (invalid) | {summary.jsonl_lines} ({summary.jsonl_invalid_lines}) |",
        f"| JSON lines by type | {summary.jsonl_record_types} |",
        f"| JSON line rate mean / min / max | {summary.line_rate_mean_per_s} / "
        f"{summary.line_rate_min_per_s} / {summary.line_rate_max_per_s} per s |",
        "",
        "| t (s) | controller RSS (MiB) | controller CPU (%) | workers | workers RSS (MiB) "
        "| lines | lines/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary.samples:
        out.append(f"| {s.t_s:.0f} | {s.controller_rss_bytes / mib:.1f} | {s.controller_cpu_pct} "
                   f"| {s.workers} | {s.workers_rss_bytes / mib:.1f} | {s.jsonl_lines} "
                   f"| {s.jsonl_lines_per_s} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("30m"))
    parser.add_argument("--numjobs", type=int, default=4)
    parser.add_argument("--interval", type=float, default=1.0, help="status interval, seconds")
    parser.add_argument("--period", type=parse_duration, default=60.0,
                        help="seconds between samples of the controller (default 60)")
    parser.add_argument("--size", default="64m", help="region per worker (generated job)")
    parser.add_argument("--thinktime", default="",
                        help="fio thinktime for the generated job (e.g. 50ms): the soak watches the "
                             "controller, so workers may idle to leave a shared machine its CPUs")
    parser.add_argument("--thinktime-blocks", type=int, default=256)
    parser.add_argument("--job", type=Path, help="run this job file instead of the generated one")
    parser.add_argument("--out", type=Path, default=Path("soak-out"))
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    job = args.job or args.out / "soak.fio"
    if args.job is None:
        job.write_text(job_text(args))
    jsonl = args.out / "soak.jsonl"
    jsonl.unlink(missing_ok=True)
    command = [sys.executable, "-m", "loadgen", "run", str(job), f"--jsonl={jsonl}",
               f"--status-interval={args.interval:g}", "--output-format=json",
               f"--output={args.out / 'report.json'}"]
    summary = Summary(command=command, duration_s=args.duration, numjobs=args.numjobs,
                      interval_s=args.interval)
    lines = LineCounter(jsonl)
    t0 = time.monotonic()
    with (args.out / "stderr.txt").open("wb") as stderr:
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
        controller = psutil.Process(run.pid)
        previous_cpu, previous_lines = 0.0, 0
        while True:
            try:
                run.wait(timeout=args.period)
                break
            except subprocess.TimeoutExpired:
                pass
            try:
                point, previous_cpu = sample(controller, previous_cpu, args.period, t0, lines,
                                             previous_lines)
            except psutil.NoSuchProcess:
                continue
            previous_lines = point.jsonl_lines
            summary.samples.append(point)
            print(json.dumps(asdict(point)), flush=True)
    summary.exit_status = run.returncode
    summary.elapsed_s = round(time.monotonic() - t0, 1)
    lines.finish()
    summary.jsonl_lines, summary.jsonl_invalid_lines = lines.lines, lines.invalid
    summary.jsonl_record_types = lines.types
    summarise(summary)
    (args.out / "soak-summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    (args.out / "soak-summary.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0 if summary.exit_status == 0 and summary.jsonl_invalid_lines == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
