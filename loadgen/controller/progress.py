"""fio's one-line live status on a terminal, e.g.
``Jobs: 4 (f=4): [W(4)][45.0%][w=2.1GiB/s][w=540k IOPS][minf=540k/s][eta 00m:11s]``.

Only for a person watching: written to stderr with ``\\r`` when stderr is a terminal
(or ``--eta=always``), never otherwise, so logs and pipes stay clean.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.plan import RwMode


@dataclass(frozen=True)
class Snapshot:
    """What the line shows, computed by the controller once per tick."""

    # one char per job: fio's run-state letters (P setup, R/r/W/w/M/m running, _ done, X error)
    states: Sequence[str]
    percent: float
    read_bps: float
    write_bps: float
    read_iops: float
    write_iops: float
    faults_per_s: float
    eta_s: float | None
    note: str = ""  # what the run waits for, if anything (a first run compiles the kernel)


def job_char(rw: RwMode) -> str:
    """fio's run-state letter of a running job: M mixed, R read, W write; lower case random."""
    letter = "M" if rw.mixed else "R" if rw.reads else "W"
    return letter.lower() if rw.random else letter


def _compress(states: Sequence[str]) -> str:
    """fio's run-length form: ``WWWW_`` -> ``W(4),_(1)``."""
    runs: list[tuple[str, int]] = []
    for ch in states:
        if runs and runs[-1][0] == ch:
            runs[-1] = (ch, runs[-1][1] + 1)
        else:
            runs.append((ch, 1))
    return ",".join(f"{ch}({n})" for ch, n in runs)


def _units(value: float, steps: Sequence[str], base: int) -> str:
    """At most four digits and a unit prefix, as fio's num2str."""
    i = 0
    while value >= base and i < len(steps) - 1:
        value /= base
        i += 1
    if value >= 100 or i == 0:
        return f"{value:.0f}{steps[i]}"
    return f"{value:.{1 if value >= 10 else 2}f}{steps[i]}".replace(".00", "")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--m:--s"
    s = max(int(seconds + 0.5), 0)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h:{m:02d}m:{s:02d}s" if h else f"{m:02d}m:{s:02d}s"


def format_line(snap: Snapshot) -> str:
    running = sum(1 for ch in snap.states if ch not in "P_X")
    rate = []
    bw = []
    for key, bps, iops in (
        ("r", snap.read_bps, snap.read_iops),
        ("w", snap.write_bps, snap.write_iops),
    ):
        if bps or iops:
            bw.append(f"{key}={_units(bps, ('B', 'KiB', 'MiB', 'GiB', 'TiB'), 1024)}/s")
            rate.append(f"{key}={_units(iops, ('', 'k', 'M', 'G'), 1000)}")
    parts = [f"Jobs: {running} (f={running}): [{_compress(snap.states)}]", f"[{snap.percent:.1f}%]"]
    if bw:
        parts.append(f"[{','.join(bw)}]")
        parts.append(f"[{','.join(rate)} IOPS]")
    parts.append(f"[minf={_units(snap.faults_per_s, ('', 'k', 'M', 'G'), 1000)}/s]")
    parts.append(f"[eta {_eta(snap.eta_s)}]")
    if snap.note:
        parts.append(f" [{snap.note}]")
    return "".join(parts)


def wanted(eta: str, stream_fd: int = 2) -> bool:
    """``--eta``: always, never, or auto = only when the stream is a terminal; never
    without a stderr (closed when loadgen started: Python made ``sys.stderr`` None)."""
    if sys.stderr is None:
        return False
    if eta == "always":
        return True
    if eta == "never":
        return False
    return os.isatty(stream_fd)


class ProgressLine:
    """Rewrites one line in place; clears it before anything else is printed."""

    def __init__(self, newline_every_s: float = 0.0) -> None:
        self._width = 0
        self.newline_every_s = newline_every_s  # fio's --eta-newline: 0 = always the same line
        self._line_started = time.monotonic()

    def show(self, snap: Snapshot) -> None:
        line = format_line(snap)
        pad = max(self._width - len(line), 0)
        self._width = len(line)
        sys.stderr.write("\r" + line + " " * pad)
        now = time.monotonic()
        if self.newline_every_s and now - self._line_started >= self.newline_every_s:
            sys.stderr.write("\n")  # this line stays; the next one starts below it
            self._width = 0
            self._line_started = now
        sys.stderr.flush()

    def clear(self) -> None:
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0
