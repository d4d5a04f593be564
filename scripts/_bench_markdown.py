"""Markdown rendering of a bench.py result document (the JSON it writes), nothing else."""

from __future__ import annotations

from typing import Any

UNIT_SCALE: dict[str, tuple[float, str]] = {
    "ops_per_s": (1e-3, "k ops/s"),
    "ops_per_s_sum": (1e-3, "k ops/s"),
    "ns_per_op": (1.0, "ns"),
    "clat_ns_mean": (1.0, "ns"),
    "overhead_ns": (1.0, "ns"),
    "spawn_s": (1.0, "s"),
    "wall_s": (1.0, "s"),
    "controller_cpu_s": (1.0, "s"),
    "controller_cpu_share": (100.0, "% core"),
    "start_skew_ns": (1e-6, "ms"),
    "uss_bytes": (1.0 / (1 << 20), "MiB"),
    "uss_bytes_median": (1.0 / (1 << 20), "MiB"),
    "minf": (1.0, ""),
}


def fmt(value: float | None, metric: str) -> str:
    """A metric in its display unit, or n/a."""
    if value is None:
        return "n/a"
    scale, unit = UNIT_SCALE.get(metric, (1.0, ""))
    scaled = value * scale
    text = f"{scaled:.0f}" if abs(scaled) >= 100 else f"{scaled:#.3g}".rstrip(".")
    return f"{text} {unit}".rstrip()


def _ratio_cell(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("median") is None:
        return "n/a"
    return f"{summary['median']:.3f} [{summary['min']:.3f}-{summary['max']:.3f}]"


def _target_cell(targets: list[dict[str, Any]]) -> str:
    cells = []
    for target in targets:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[target["met"]]
        cells.append(f"{target['label']}: {verdict}")
    return "; ".join(cells) or "-"


def _side_cell(case: dict[str, Any], side: str) -> str:
    entry = case["sides"].get(side)
    if entry is None:
        return "-"
    if entry["median"] is None:
        errors = [run["error"] for run in entry["runs"] if run.get("error")]
        return f"n/a ({errors[0]})" if errors else "n/a"
    return fmt(entry["median"], case["metric"])


def _extras_cell(case: dict[str, Any]) -> str:
    entry = case["sides"].get("loadgen")
    if entry is None:
        return "-"
    parts = [f"{name}={fmt(value, name)}" for name, value in entry.get("extras", {}).items() if value is not None]
    return ", ".join(parts) or "-"


def render(document: dict[str, Any]) -> str:
    """The result table: one row per case, medians per side, per-pair ratio median [min-max]."""
    machine = document["machine"]
    lines = [
        f"# loadgen bench{' (smoke: sizes too small to judge speed)' if document['options']['smoke'] else ''}",
        "",
        f"Machine: {machine.get('cpus')} CPUs, {machine.get('kernel')}, THP {machine.get('thp')}; "
        f"fio: {machine.get('fio_version') or 'not run'}; pflimit: {machine.get('pflimit') or 'not run'}; "
        f"{document['options']['pairs']} interleaved rounds per case.",
        "",
        "| case | metric | loadgen | fio | pflimit | loadgen/fio | loadgen/pflimit | fio/pflimit | targets | loadgen extras |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in document["cases"]:
        lines.append(
            "| "
            + " | ".join(
                [
                    case["name"],
                    f"{case['metric']} ({case['better']} is better)",
                    _side_cell(case, "loadgen"),
                    _side_cell(case, "fio"),
                    _side_cell(case, "pflimit"),
                    _ratio_cell(case["ratios"].get("loadgen/fio")),
                    _ratio_cell(case["ratios"].get("loadgen/pflimit")),
                    _ratio_cell(case["ratios"].get("fio/pflimit")),
                    _target_cell(case["targets"]),
                    _extras_cell(case),
                ]
            ).replace("\n", " ")
            + " |"
        )
    lines += ["", "Ratios are the median of per-round ratios [min-max]; n/a = that side did not run or lacked the key.", ""]
    for case in document["cases"]:
        lines.append(f"- **{case['name']}**: {case['title']}." + "".join(f" {note}." for note in case["notes"]))
    return "\n".join(lines) + "\n"
