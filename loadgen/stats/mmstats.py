"""What a job's region did apart from its I/O: the region's own calls and the fault kinds.

Measured in the worker (``loadgen.engine.region``, ``loadgen.engine.faultkinds``), sent
once per job with its final interval (``IntervalStats.mm``, ``loadgen.protocol``) and
reported by the controller under the job's ``loadgen.mm`` (docs/memory.md).  Plain frozen
data, so both sides can import it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RegionStats:
    """What the region's own calls did and cost, apart from the I/O (all times in ns)."""

    backing: str
    populate_ns: int  # the mmap call with MAP_POPULATE (0 without populate=1)
    mlock_ns: int  # mlock/mlock2 at setup
    passes: int  # end_pass calls
    refaults: int  # re-faults done between passes
    refault_ns: int  # their total time
    refault_max_ns: int
    cold_ns: int  # MADV_COLD calls, in total
    collapse: str  # "" not tried, "ok", or the errno name MADV_COLLAPSE failed with
    collapse_ns: int
    thp_advised_pass: int  # thp_delay: the pass after which MADV_HUGEPAGE was given (0 = not yet)
    thp_advised_ns: int  # ... and how long after setup
    ksm_merging_pages: int  # ksm=1: /proc/self/ksm_stat at the time of reading

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaultKindCounts:
    """First touches of base pages by kind, in the measured window (faultkinds' rule)."""

    first_read: int  # zero-page mappings (or allocations without a zero page)
    first_write: int
    cow_after_zero: int

    @property
    def total(self) -> int:
        return self.first_read + self.first_write + self.cow_after_zero

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class MmStats:
    """One job's region report; ``fault_kinds`` only where the job asked (fault_kinds=1)."""

    region: RegionStats
    fault_kinds: FaultKindCounts | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region.to_dict(),
                "fault_kinds": None if self.fault_kinds is None else self.fault_kinds.to_dict()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> MmStats:
        kinds = doc.get("fault_kinds")
        return cls(RegionStats(**doc["region"]),
                   None if kinds is None else FaultKindCounts(**kinds))
