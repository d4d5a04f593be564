"""Summary arithmetic for bench.py: medians, per-pair ratios and their spread.

Kept apart from the runners so the numbers in the report can be checked against known
inputs without running anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that exist; None when there are none (a side that never ran)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 by linear interpolation (numpy's default), so 1-2 samples still give a spread."""
    ordered = sorted(values)
    return _interpolate(ordered, 0.25), _interpolate(ordered, 0.75)


def _interpolate(ordered: Sequence[float], fraction: float) -> float:
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pair_ratios(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> list[float]:
    """Ratio within each pair (same round), skipping rounds where either side has no value.

    Ratios of runs taken side by side cancel slow drift of the machine (page cache, other
    load, frequency), which a ratio of two medians would not.
    """
    return [
        num / den
        for num, den in zip(numerators, denominators, strict=True)
        if num is not None and den is not None and den != 0
    ]


def ratio_summary(ratios: Sequence[float]) -> dict[str, Any]:
    """Median, min/max and IQR of per-pair ratios; every field None when no pair completed."""
    if not ratios:
        return {"n": 0, "per_pair": [], "median": None, "min": None, "max": None, "q1": None, "q3": None}
    q1, q3 = quartiles(ratios)
    return {
        "n": len(ratios),
        "per_pair": list(ratios),
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "q1": q1,
        "q3": q3,
    }
