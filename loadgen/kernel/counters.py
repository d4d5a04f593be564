"""One kernel snapshot (vmstat + mTHP) and the delta shape reports carry.

The controller takes a ``snapshot()`` at group start and end (and per interval)
and stores ``delta(before, after)`` as ``JobResult.extras["kernel"]``:
``{"scope": "system", "vmstat": {...}, "mthp": {"64kB": {...}, ...}}``.
"""

from __future__ import annotations

from typing import Any

from loadgen.kernel import thp, vmstat


def snapshot() -> dict[str, Any]:
    """Both counter sets now: {"vmstat": {...}, "mthp": {...}}."""
    return {"vmstat": vmstat.snapshot(), "mthp": thp.mthp_snapshot()}


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What happened between two ``snapshot()`` results, labelled system-wide."""
    return {
        "scope": "system",
        "vmstat": vmstat.delta(before.get("vmstat", {}), after.get("vmstat", {})),
        "mthp": thp.mthp_delta(before.get("mthp", {}), after.get("mthp", {})),
    }
