"""The kernel's clock: CLOCK_MONOTONIC, or the CPU's time-stamp counter scaled onto it.

fio's default ``clocksource=cpu`` reads the TSC where it is reliable; a vDSO
``clock_gettime`` costs about twice a ``rdtsc``, and a timed I/O reads the clock twice, a
large share of a cache-hot 4 KiB I/O (docs/performance.md).  So the kernel stamps I/Os
with the TSC where it can be trusted, and every stamp stays a CLOCK_MONOTONIC value: each
kernel call anchors the TSC to one real clock read and scales the ticks since (ns per
tick, calibrated once against CLOCK_MONOTONIC).  Trusted means: x86-64, an invariant TSC
(``constant_tsc`` and ``nonstop_tsc``: same rate in every P- and C-state) and the
kernel's own clocksource being ``tsc`` (it checked that the CPUs' TSCs agree); anything
else reads CLOCK_MONOTONIC per stamp.
"""

from __future__ import annotations

import functools
import platform
import time
from pathlib import Path

import numpy as np

from loadgen.engine import kernel

CALIBRATION_S = 0.02  # error ~ read jitter (~50 ns) / this: ~2.5e-6 of each latency
PAIR_TRIES = 32  # the tightest of these bracketing reads anchors each end


def tsc_reliable(
    cpuinfo: Path = Path("/proc/cpuinfo"),
    clocksource: Path = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
) -> bool:
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        flags = next(
            (line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines()
             if line.startswith("flags")),
            [],
        )
        source = clocksource.read_text().strip()
    except OSError:
        return False
    return "constant_tsc" in flags and "nonstop_tsc" in flags and source == "tsc"


def _tight_pair(ts: np.ndarray) -> tuple[int, float]:
    """(tsc, the CLOCK_MONOTONIC ns it was read at) from the narrowest bracket."""
    best = min((kernel.tsc_pair(ts) for _ in range(PAIR_TRIES)), key=lambda p: p[2] - p[1])
    tsc, before, after = best
    return int(tsc), (before + after) / 2


class TscCalibration:
    """A calibration in two halves, so that a caller can do other work in between
    (``finish`` waits out what is left of ``CALIBRATION_S``)."""

    def __init__(self) -> None:
        self.ts = np.full(2, 0, dtype=np.int64)
        self.reliable = tsc_reliable()
        self.tsc0, self.ns0 = _tight_pair(self.ts) if self.reliable else (0, 0.0)
        self.began = time.monotonic()

    def rough(self) -> float:
        """A scale from the first half alone: too coarse to stamp I/Os with, but nonzero
        where ``finish``'s is, so code run meanwhile takes the TSC's path."""
        return self._scale() if self.reliable else 0.0

    def finish(self) -> float:
        """ns per TSC tick, or 0.0 (read CLOCK_MONOTONIC instead) where the TSC is not
        trusted or does not advance."""
        if not self.reliable:
            return 0.0
        time.sleep(max(0.0, self.began + CALIBRATION_S - time.monotonic()))
        return self._scale()

    def _scale(self) -> float:
        tsc1, ns1 = _tight_pair(self.ts)
        return (ns1 - self.ns0) / (tsc1 - self.tsc0) if tsc1 > self.tsc0 else 0.0


@functools.cache
def tsc_ns_per_tick() -> float:
    """``TscCalibration``'s result, measured once per process: a fork helper passes its
    value to its workers."""
    return TscCalibration().finish()
