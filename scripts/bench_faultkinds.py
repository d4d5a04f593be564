#!/usr/bin/env python3
"""What ``fault_kinds=1`` costs a job (the figures in docs/performance.md).

Runs each case with the accounting off and on, interleaved, ``--rounds`` times, in this
process (one JobRunner at a time, no controller), and prints one JSON line per case: the
median measured-window time of each side and their ratio (on / off).

    python scripts/bench_faultkinds.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen.engine.runner import JobRunner
from loadgen.plan import Job, MemoryControls, Refault, RwMode
from loadgen.stats.jobstats import IntervalStats

M = 1024 * 1024


def job(rw: RwMode, size: int, loops: int, refault: Refault) -> Job:
    return Job(name="b", thread_number=1, subjob=0, numjobs=1, group_id=0, rw=rw, size=size,
               loops=loops, thp="never", mm=MemoryControls(refault=refault))


CASES = {
    # every pass faults again: the accounting works on every chunk
    "randrw_refault": job(RwMode.RANDRW, 16 * M, 8, Refault.DONTNEED),
    # the mapping persists: later passes are memcpy (the accounting stops once every
    # page is written)
    "randrw_kept": job(RwMode.RANDRW, 16 * M, 8, Refault.NONE),
    "write_kept": job(RwMode.WRITE, 16 * M, 8, Refault.NONE),
    # reads only: every page stays on the zero page; later passes skip the accounting
    "read_kept": job(RwMode.READ, 16 * M, 8, Refault.NONE),
}


def window_ns(j: Job) -> int:
    total = IntervalStats()
    runner = JobRunner(j)
    runner.setup()
    try:
        runner.run(total.merge, 10**12, lambda: False)
    finally:
        runner.close()
    return total.runtime_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for name, base in CASES.items():
        on = replace(base, mm=replace(base.mm, fault_kinds=True))
        window_ns(base)  # compile and warm up
        offs, ons = [], []
        for _ in range(args.rounds):
            offs.append(window_ns(base))
            ons.append(window_ns(on))
        off_ms, on_ms = statistics.median(offs) / 1e6, statistics.median(ons) / 1e6
        ratios = [b / a for a, b in zip(offs, ons, strict=True)]
        print(json.dumps({"case": name, "off_ms": round(off_ms, 2), "on_ms": round(on_ms, 2),
                          "ratio_median": round(statistics.median(ratios), 3)}))


if __name__ == "__main__":
    main()
