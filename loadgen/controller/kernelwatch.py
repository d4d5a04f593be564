"""System-wide kernel counters (vmstat, mTHP) over each group and each status interval.

A snapshot reads /proc/vmstat and every mTHP stats file (~1 ms, see
docs/reports.md), and the counters are system-wide, so the controller takes them
a fixed number of times whatever the number of workers: at each group's release
and end (the delta goes into every job's and the group's ``kernel``) and
once per status interval for the whole run (a ``kernel`` JSON line).
"""

from __future__ import annotations

import time

from loadgen.kernel import counters
from loadgen.report.jsonl import JsonlWriter, kernel_fields


class KernelWatch:
    """Keeps the last interval snapshot; writes one ``kernel`` line per interval."""

    def __init__(self, writer: JsonlWriter | None) -> None:
        self.writer = writer
        self._last: counters.Snapshot = (counters.snapshot() if writer is not None else
                                         {"vmstat": {}, "mthp": {}})
        self._last_ns = time.monotonic_ns()

    def interval(self, group_id: int | None, final: bool = False) -> None:
        """The counters' change since the previous line, as one ``kernel`` line.

        The lines tile the run: summed, they give the run's system-wide deltas.
        """
        if self.writer is None:
            return
        now_snapshot, now_ns = counters.snapshot(), time.monotonic_ns()
        fields = {
            "group": group_id,
            "interval_ns": now_ns - self._last_ns,
            "final": final,
            **kernel_fields(counters.delta(self._last, now_snapshot)),
        }
        self._last, self._last_ns = now_snapshot, now_ns
        self.writer.write("kernel", fields)
