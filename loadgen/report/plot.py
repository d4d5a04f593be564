"""``loadgen plot RUN.jsonl [RUN2.jsonl ...] -o FILE.png|svg|html``: a run over time, at a glance.

Panels: throughput, faults/s and completion-latency percentiles per interval (per job
for a few jobs, summed or medianed over jobs for a storm), group starts marked; the
run's latency histogram (fio's json+ bins, from the saved state); the kernel's THP and
mTHP fault counters per second.  Several runs are overlaid, one colour each.
matplotlib is the ``plot`` extra; HTML is the SVG inside a page.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from loadgen.argparsing import ArgParser
from loadgen.errors import InputError
from loadgen.stats import histogram
from loadgen.status import ExitStatus

MAX_JOB_LINES = 6  # more jobs than this: one line per run (sum or median over jobs)
PERCENTILES = (("p50", "p50", "-"), ("p99", "p99", "--"), ("p99_9", "p99.9", ":"))
FORMATS = (".png", ".svg", ".html")


@dataclass
class RunSeries:
    """What one JSON-lines file shows over time."""

    label: str
    interval_s: float = 1.0
    origin_s: float = 0.0  # the grid origin, seconds since the run started
    # per job (thread number): interval index -> record
    jobs: dict[int, dict[int, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    names: dict[int, str] = field(default_factory=dict)
    group_starts: list[tuple[float, int]] = field(default_factory=list)
    kernel: list[dict[str, Any]] = field(default_factory=list)
    clat_hist: np.ndarray = field(default_factory=histogram.empty)


def load(path: Path) -> RunSeries:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from exc
    series = RunSeries(path.stem)
    start_ns = 0
    for line in lines:
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a cut last line
        kind = r.get("event.dataset") if isinstance(r, dict) else None
        if kind == "loadgen.run_start":
            start_ns = int(r["loadgen.ts_ns"])
            series.interval_s = r["loadgen.config.status_interval_ns"] / 1e9
        elif kind == "loadgen.interval":
            tn = int(r["loadgen.thread_number"])
            series.jobs[tn][int(r["loadgen.interval.index"])] = r
            series.names[tn] = str(r["loadgen.job"])
            k = int(r["loadgen.interval.index"])
            window_start_s = (r["loadgen.interval.start_ns"] - start_ns) / 1e9
            series.origin_s = window_start_s - (k - 1) * series.interval_s
        elif kind == "loadgen.start":
            series.group_starts.append((float(r["loadgen.elapsed_s"]), int(r["loadgen.group"])))
        elif kind == "loadgen.kernel":
            series.kernel.append(r)
        elif kind == "loadgen.end" and "loadgen.state" in r:
            state = orjson.loads(r["loadgen.state"])
            for d in state["totals"]["dirs"]:
                for i, c in d["clat"]["h"]:
                    series.clat_hist[i] += c
    if not series.jobs:
        raise InputError(f"{path}: no interval records (is it a loadgen --jsonl file?)")
    return series


def _value(r: dict[str, Any], metric: str) -> float:
    if metric == "iops":
        return float(r["loadgen.read.iops"] + r["loadgen.write.iops"])
    if metric == "faults":
        duration = r["event.duration"] / 1e9
        return r["loadgen.minf"] / duration if duration > 0 else float("nan")
    main = "write" if r["loadgen.write.total_ios"] >= r["loadgen.read.total_ios"] else "read"
    return float(r.get(f"loadgen.{main}.clat_ns.percentile.{metric}", float("nan")))


def _lines(series: RunSeries, metric: str, combine: str,
           per_job: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, x, y) per job, or one line combining the jobs; x: seconds since the first release."""
    def xs(ks: list[int]) -> np.ndarray:
        return np.asarray(ks, dtype=np.float64) * series.interval_s

    if per_job and len(series.jobs) <= MAX_JOB_LINES:
        out = []
        for tn, by_k in sorted(series.jobs.items()):
            ks = sorted(by_k)
            ys = np.array([_value(by_k[k], metric) for k in ks])
            out.append((f"{series.names[tn]} #{tn}", xs(ks), ys))
        return out
    per_k: dict[int, list[float]] = defaultdict(list)
    for by_k in series.jobs.values():
        for k, r in by_k.items():
            per_k[k].append(_value(r, metric))
    ks = sorted(per_k)
    reduce = np.nansum if combine == "sum" else np.nanmedian
    with warnings.catch_warnings():  # an interval where no job had a percentile: NaN, no line
        warnings.simplefilter("ignore", RuntimeWarning)
        ys = np.array([reduce(per_k[k]) for k in ks])
    many = "s" if len(series.jobs) > 1 else ""
    return [(f"{combine} of {len(series.jobs)} job{many}", xs(ks), ys)]


def figure(runs: list[RunSeries]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    fig, axes = plt.subplots(5, 1, figsize=(11, 15), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    multi = len(runs) > 1
    panels = ((axes[0], "iops", "sum", "throughput (I/Os per s)"),
              (axes[1], "faults", "sum", "minor faults per s"))
    for ax, metric, combine, title in panels:
        for i, run in enumerate(runs):
            for j, (label, x, y) in enumerate(_lines(run, metric, combine, not multi)):
                colour = colours[i % len(colours)] if multi else colours[j % len(colours)]
                ax.plot(x, y, color=colour, marker=".",
                        label=f"{run.label}: {label}" if multi else label)
        ax.set_title(title)
        ax.yaxis.set_major_formatter(EngFormatter())
    ax = axes[2]
    for i, run in enumerate(runs):
        for key, name, style in PERCENTILES:
            for j, (label, x, y) in enumerate(_lines(run, key, "median", not multi)):
                colour = colours[i % len(colours)] if multi else colours[j % len(colours)]
                show = f"{run.label}: " if multi else ""
                ax.plot(x, y, color=colour, linestyle=style, label=f"{show}{label} {name}")
    ax.set_yscale("log")
    ax.set_title("completion latency percentiles per interval (ns; median over jobs for a storm)")
    for ax in axes[:3]:
        ax.set_xlabel("seconds since the first release (interval ends)")
        for n, run in enumerate(runs):
            for t0, gid in run.group_starts:
                t = t0 - run.origin_s
                ax.axvline(t, color="grey", linewidth=0.8, linestyle="--")
                if n == 0:  # one label per group, not one per overlaid run
                        ax.annotate(f"group {gid}", (t, 1), xycoords=("data", "axes fraction"),
                                fontsize=8, color="grey", va="top", ha="left")
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, ncol=3 if len(labels) > 6 else 1, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0))
    ax = axes[3]
    values = histogram.BUCKET_VALUES.astype(np.float64)
    for i, run in enumerate(runs):
        nz = run.clat_hist > 0
        if nz.any():
            ax.step(values[nz], run.clat_hist[nz], where="mid", color=colours[i % len(colours)],
                    label=run.label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(EngFormatter())
    ax.set_title("completion latency histogram, whole run (fio's json+ bins, ns)")
    ax.set_xlabel("latency (ns)")
    ax.set_ylabel("I/Os")
    ax.grid(True, alpha=0.3)
    if multi:
        ax.legend(fontsize=8)
    _kernel_panel(axes[4], runs, colours)
    fig.suptitle(" vs ".join(r.label for r in runs), fontsize=12)
    return fig


def _kernel_panel(ax: Any, runs: list[RunSeries], colours: list[str]) -> None:
    shown = False
    styles = ("-", "--", ":", "-.")
    for i, run in enumerate(runs):
        if not run.kernel:
            continue
        t = np.array([r["loadgen.elapsed_s"] - run.origin_s for r in run.kernel])
        dt = np.array([r["event.duration"] / 1e9 for r in run.kernel])
        keys = ["loadgen.vmstat.thp_fault_alloc"] + sorted(
            k for k in run.kernel[0]
            if k.startswith("loadgen.mthp.") and k.endswith(".anon_fault_alloc"))
        for j, key in enumerate(keys):
            y = np.array([r.get(key, 0) for r in run.kernel], dtype=np.float64)
            if not y.any():
                continue
            label = key.removeprefix("loadgen.")
            ax.plot(t, y / np.maximum(dt, 1e-9), color=colours[i % len(colours)],
                    linestyle=styles[j % len(styles)],
                    label=f"{run.label}: {label}" if len(runs) > 1 else label)
            shown = True
    ax.set_title("kernel THP / mTHP fault allocations per s (system-wide)")
    ax.set_xlabel("seconds since the first release")
    if shown:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no THP or mTHP fault allocations in these runs", ha="center",
                va="center", transform=ax.transAxes, color="grey")
    ax.grid(True, alpha=0.3)


def write(runs: list[RunSeries], out: Path) -> None:
    fig = figure(runs)
    try:
        if out.suffix == ".html":
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            title = " vs ".join(r.label for r in runs)
            out.write_text(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>loadgen: "
                           f"{title}</title></head><body>\n{buf.getvalue()}\n</body></html>\n",
                           encoding="utf-8")
        else:
            fig.savefig(out, dpi=80)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def command(argv: list[str]) -> int:
    parser = ArgParser(prog="loadgen plot", description="Plot JSON-lines runs over time.")
    parser.add_argument("runs", nargs="+", metavar="RUN.jsonl")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.png|svg|html")
    args = parser.parse_args(argv)
    out = Path(args.output)
    if out.suffix not in FORMATS:
        raise InputError(f"plot: -o {out}: the name must end in {', '.join(FORMATS)}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("plot needs matplotlib: pip install 'loadgen[plot]'") from None
    runs = [load(Path(p)) for p in args.runs]
    try:
        write(runs, out)
    except OSError as exc:
        raise InputError(f"plot: -o {out}: {exc.strerror}") from exc
    print(f"loadgen: plot: wrote {out}", file=sys.stderr)
    return ExitStatus.OK
