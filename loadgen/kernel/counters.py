"""One kernel snapshot (vmstat + mTHP) and the delta shape reports carry.

The controller takes a ``snapshot()`` at group start and end (and per interval)
and stores ``delta(before, after)`` as ``JobResult.kernel`` and ``GroupResult.kernel``:
``{"scope": "system", "vmstat": {...}, "mthp": {"64kB": {...}, ...}}``.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from loadgen.kernel import thp, vmstat


class Snapshot(TypedDict):
    vmstat: dict[str, int]
    mthp: dict[str, dict[str, int]]  # per page size ("64kB"): counter -> value


class Delta(TypedDict):
    scope: Literal["system"]  # the counters are system-wide, never per job
    vmstat: dict[str, int]
    mthp: dict[str, dict[str, int]]


def snapshot() -> Snapshot:
    """Both counter sets now."""
    return {"vmstat": vmstat.snapshot(), "mthp": thp.mthp_snapshot()}


def delta(before: Snapshot, after: Snapshot) -> Delta:
    """What happened between two ``snapshot()`` results, labelled system-wide."""
    return {
        "scope": "system",
        "vmstat": vmstat.delta(before["vmstat"], after["vmstat"]),
        "mthp": thp.mthp_delta(before["mthp"], after["mthp"]),
    }
