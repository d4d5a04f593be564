"""``loadgen compare BASE NEW [NEW2 ...]``: did the change make things faster or slower?

Per job and metric: the central value of each set (harmonic mean for rates, as mmtests;
arithmetic mean otherwise), the %change, a bootstrap confidence interval of the %change,
and a verdict from the exact two-sided Mann-Whitney U test (scipy), which assumes nothing
about the distribution: run-to-run THP throughput on VMs is bimodal, far from normal.
Every metric of one comparison (BASE against one NEW) is one family; the Holm step-down
adjustment holds the chance of any false "significant" in it at ``alpha``.  A metric is
significant when its adjusted p is below ``alpha`` and its confidence interval excludes 0.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.analysis.runs import METRICS, Metric, Run, header_facts
from loadgen.errors import InputError
from loadgen.status import ExitStatus

TEST_NAME = "exact two-sided Mann-Whitney U"
CORRECTION = "Holm-Bonferroni"
BOOTSTRAP_RESAMPLES = 2000
MIN_RUNS = 3


def _stats() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise InputError("compare needs scipy: pip install 'loadgen[compare]'") from None
    return stats


def central(values: Sequence[float] | np.ndarray, metric: Metric) -> float:
    """Harmonic mean for rates (a set of runs' mean throughput), arithmetic mean otherwise."""
    data = np.asarray(values, dtype=np.float64)
    if metric.rate and len(data) and np.all(data > 0):
        return float(_stats().hmean(data))
    return float(data.mean()) if len(data) else math.nan


@dataclass
class Row:
    """One job's metric in one comparison."""

    job: str
    metric: Metric
    base: list[float]
    new: list[float]
    base_central: float = math.nan
    new_central: float = math.nan
    change_pct: float = math.nan
    ci_pct: tuple[float, float] = (math.nan, math.nan)
    p: float = 1.0
    p_adjusted: float = 1.0
    significant: bool = False
    testable: bool = False  # the values vary, so the test means something; in the family

    @property
    def regression_pct(self) -> float:
        """How much worse NEW is, in % (0 when better, unchanged or neither way is better)."""
        if not self.significant or not self.metric.better or math.isnan(self.change_pct):
            return 0.0
        worse = -self.change_pct if self.metric.better == "higher" else self.change_pct
        return max(worse, 0.0)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "job": self.job, "metric": self.metric.name, "unit": self.metric.unit,
            "better": self.metric.better or None,
            "central": "harmonic mean" if self.metric.rate else "mean",
            "base": {"n": len(self.base), "central": num(self.base_central), "values": self.base},
            "new": {"n": len(self.new), "central": num(self.new_central), "values": self.new},
            "change_pct": num(self.change_pct),
            "ci_pct": [num(self.ci_pct[0]), num(self.ci_pct[1])],
            "p": self.p, "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "regression": self.regression_pct > 0,
        }


@dataclass
class Comparison:
    base: str
    new: str
    rows: list[Row] = field(default_factory=list)


def family_size(comparison: Comparison) -> int:
    return sum(1 for r in comparison.rows if r.testable)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (monotone, capped at 1)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _change_ci(base: np.ndarray, new: np.ndarray, metric: Metric, confidence: float,
               seed: int) -> tuple[float, float]:
    """Percentile-bootstrap interval of the %change of the central values."""
    stats = _stats()

    def change(b: np.ndarray, n: np.ndarray, axis: int = -1) -> np.ndarray:
        if metric.rate and np.all(b > 0) and np.all(n > 0):
            cb, cn = stats.hmean(b, axis=axis), stats.hmean(n, axis=axis)
        else:
            cb, cn = np.mean(b, axis=axis), np.mean(n, axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            out: np.ndarray = (cn - cb) / cb * 100.0
        return out

    result = stats.bootstrap((base, new), change, n_resamples=BOOTSTRAP_RESAMPLES, vectorized=True,
                             paired=False, confidence_level=confidence, method="percentile",
                             rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return float(low), float(high)


def compare_sets(base: list[Run], new: list[Run], alpha: float, base_label: str = "BASE",
                 new_label: str = "NEW", seed: int = 0) -> Comparison:
    """Every job and metric both sets have, tested as one family at ``alpha``."""
    stats = _stats()
    out = Comparison(base_label, new_label)
    jobs = [j for j in base[0].jobs if all(j in r.jobs for r in base + new)] if base else []
    for job in jobs:
        for metric in METRICS:
            b = [r.jobs[job][metric.name] for r in base if metric.name in r.jobs[job]]
            n = [r.jobs[job][metric.name] for r in new if metric.name in r.jobs[job]]
            if len(b) != len(base) or len(n) != len(new):
                continue  # not measured in every run (no percentiles, no kernel counters)
            out.rows.append(Row(job, metric, b, n))
    for row in out.rows:
        bv, nv = np.asarray(row.base), np.asarray(row.new)
        row.base_central, row.new_central = central(bv, row.metric), central(nv, row.metric)
        if row.base_central:
            row.change_pct = (row.new_central - row.base_central) / row.base_central * 100.0
        row.testable = len(set(row.base) | set(row.new)) > 1
        if row.testable:
            method = "exact" if len(bv) + len(nv) <= 16 and not _ties(bv, nv) else "auto"
            row.p = float(stats.mannwhitneyu(bv, nv, alternative="two-sided", method=method).pvalue)
        constant = bool(np.all(bv == bv[0]) and np.all(nv == nv[0]))
        if row.base_central and constant:
            row.ci_pct = (row.change_pct, row.change_pct)
        elif row.base_central and min(len(bv), len(nv)) >= 2:
            row.ci_pct = _change_ci(bv, nv, row.metric, 1 - alpha, seed)
    # the family: metrics that vary at all (identical values everywhere cannot be tested)
    family = [r for r in out.rows if r.testable]
    for row, adjusted in zip(family, holm([r.p for r in family]), strict=True):
        row.p_adjusted = adjusted
        low, high = row.ci_pct
        excludes_zero = not (math.isnan(low) or math.isnan(high)) and (low > 0 or high < 0)
        row.significant = adjusted < alpha and excludes_zero
    return out


def _ties(b: np.ndarray, n: np.ndarray) -> bool:
    values = np.concatenate([b, n])
    return len(np.unique(values)) < len(values)


def header_warnings(sets: list[tuple[str, list[Run]]]) -> list[str]:
    """Runs that differ in kernel, THP settings, CPU count or job-file checksum."""
    warnings: list[str] = []
    everything = [(label, run) for label, runs in sets for run in runs]
    if not everything:
        return warnings
    _, first = everything[0]
    reference = header_facts(first.header)
    for what in reference:
        seen: dict[str, list[str]] = {}
        for label, run in everything:
            value = header_facts(run.header)[what]
            seen.setdefault(_show(value), []).append(f"{label}:{run.path}")
        if len(seen) > 1:
            parts = "; ".join(f"{value} in {', '.join(where[:3])}{' ...' if len(where) > 3 else ''}"
                              for value, where in seen.items())
            warnings.append(f"runs differ in {what}: {parts}")
    return warnings


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "/".join(_show(v) for v in value) if value else "none"
    return str(value)


def few_runs_warnings(sets: list[tuple[str, list[Run]]], alpha: float, family: int) -> list[str]:
    """Sets too small for any verdict: the exact test's smallest p cannot pass the family's bar."""
    out = []
    sizes = [len(runs) for _, runs in sets]
    base = sizes[0]
    for (label, runs), size in zip(sets[1:], sizes[1:], strict=True):
        smallest = 2.0 / math.comb(base + size, base) if base and size else 1.0
        if size < MIN_RUNS or base < MIN_RUNS or smallest * max(family, 1) >= alpha:
            out.append(f"{label}: {base} vs {len(runs)} runs cannot show a significant change "
                       f"over {family} metrics (smallest possible p {smallest:.4f}); use more runs")
    return out


# ---- output ----------------------------------------------------------------------------------
def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit in ("ops/s", "B/s", "faults/s", "ns", "faults"):
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:.3g}"
    return f"{value:.2f}"


def render_text(comparisons: list[Comparison], alpha: float, warnings: list[str]) -> str:
    lines = [f"warning: {w}" for w in warnings]
    for comp in comparisons:
        family = family_size(comp)
        lines.append(f"\n{comp.base} -> {comp.new}: {TEST_NAME} test per metric, {CORRECTION} "
                     f"over the {family} metrics of this comparison: the chance of any false "
                     f"'significant' is at most {alpha:g}")
        header = (f"  {'job':<20} {'metric':<16} {'base':>9} {'new':>9} {'change':>8} "
                  f"{'CI (' + format(1 - alpha, '.0%') + ')':>19} {'p(adj)':>7}  verdict")
        lines.append(header)
        for r in comp.rows:
            low, high = r.ci_pct
            ci = f"[{low:+.1f}, {high:+.1f}]%" if not math.isnan(low) else "-"
            change = f"{r.change_pct:+.1f}%" if not math.isnan(r.change_pct) else "-"
            if r.significant:
                verdict = "SIGNIFICANT" + (" (regression)" if r.regression_pct else "")
            else:
                verdict = "no significant change"
            base, new = _fmt(r.base_central, r.metric.unit), _fmt(r.new_central, r.metric.unit)
            lines.append(f"  {r.job[:20]:<20} {r.metric.name:<16} {base:>9} {new:>9} "
                         f"{change:>8} "
                         f"{ci:>19} {r.p_adjusted:>7.3f}  {verdict}")
    lines.append("\ncentral values: harmonic mean of the runs for rates (iops, bw, faults/s), "
                 "mean otherwise")
    return "\n".join(lines).lstrip("\n") + "\n"


def render_json(comparisons: list[Comparison], alpha: float, warnings: list[str]) -> dict[str, Any]:
    return {
        "alpha": alpha,
        "test": TEST_NAME,
        "family_wise_error": {"method": CORRECTION, "level": alpha,
                              "family": "every metric of one comparison (BASE against one NEW)"},
        "confidence_interval": {"method": "percentile bootstrap of the %change",
                                "level": 1 - alpha, "resamples": BOOTSTRAP_RESAMPLES},
        "warnings": warnings,
        "comparisons": [{"base": c.base, "new": c.new, "family_size": family_size(c),
                         "metrics": [r.to_dict() for r in c.rows]} for c in comparisons],
    }


def worst_regression(comparisons: list[Comparison]) -> float:
    return max((r.regression_pct for c in comparisons for r in c.rows), default=0.0)


def warn(lines: list[str]) -> None:
    for line in lines:
        print(f"loadgen: compare: warning: {line}", file=sys.stderr)


# ---- the command -----------------------------------------------------------------------------
def command(argv: list[str]) -> int:
    """``loadgen compare``: OK, or FAILED with ``--fail-on-regression`` and a larger regression."""
    import orjson

    from loadgen.analysis.runs import load_set
    from loadgen.argparsing import ArgParser

    parser = ArgParser(prog="loadgen compare", description="Compare sets of repeated runs.")
    parser.add_argument("sets", nargs="+", metavar="SET",
                        help="BASE then NEW...: a report, JSON lines, a comma list or a directory")
    parser.add_argument("--output-format", default="normal", choices=("normal", "json"))
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise error level of each comparison (default 0.05)")
    parser.add_argument("--fail-on-regression", type=float, default=None, metavar="PCT",
                        help="exit 1 when a significant regression is worse than PCT%%")
    args = parser.parse_args(argv)
    if len(args.sets) < 2:
        raise InputError("compare: give a BASE set and at least one NEW set")
    if not 0 < args.alpha < 1:
        raise InputError(f"compare: --alpha={args.alpha} must be between 0 and 1")
    sets = [(label, load_set(arg)) for label, arg in
            zip(["BASE"] + [f"NEW{i if i > 1 else ''}" for i in range(1, len(args.sets))],
                args.sets, strict=True)]
    base = sets[0][1]
    comparisons = [compare_sets(base, runs, args.alpha, f"BASE ({args.sets[0]})",
                                f"{label} ({arg})")
                   for (label, runs), arg in zip(sets[1:], args.sets[1:], strict=True)]
    warnings = header_warnings(sets)
    family = max((family_size(c) for c in comparisons), default=0)
    warnings += few_runs_warnings(sets, args.alpha, family)
    if args.output_format == "json":
        sys.stdout.write(orjson.dumps(render_json(comparisons, args.alpha, warnings),
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        warn(warnings)
    else:
        sys.stdout.write(render_text(comparisons, args.alpha, warnings))
    worst = worst_regression(comparisons)
    if args.fail_on_regression is not None and worst > args.fail_on_regression:
        print(f"loadgen: compare: a significant regression of {worst:.1f}% "
              f"exceeds --fail-on-regression={args.fail_on_regression:g}", file=sys.stderr)
        return ExitStatus.FAILED
    return ExitStatus.OK
