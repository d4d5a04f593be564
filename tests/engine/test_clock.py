from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from loadgen.engine import clock, kernel

FLAGS = "flags\t\t: fpu tsc constant_tsc nonstop_tsc sse2\n"


def _files(tmp_path: Path, flags: str, source: str) -> tuple[Path, Path]:
    cpuinfo, cs = tmp_path / "cpuinfo", tmp_path / "current_clocksource"
    cpuinfo.write_text("processor\t: 0\n" + flags)
    cs.write_text(source + "\n")
    return cpuinfo, cs


@pytest.mark.parametrize(
    ("flags", "source", "trusted"),
    [
        (FLAGS, "tsc", True),
        (FLAGS, "kvm-clock", False),  # the kernel itself does not trust it
        ("flags\t\t: fpu tsc constant_tsc sse2\n", "tsc", False),  # stops in deep C-states
        ("flags\t\t: fpu tsc nonstop_tsc\n", "tsc", False),  # rate follows the frequency
    ],
)
def test_the_tsc_is_trusted_only_when_invariant_and_the_kernels_clocksource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str, source: str, trusted: bool
) -> None:
    monkeypatch.setattr(clock.platform, "machine", lambda: "x86_64")
    assert clock.tsc_reliable(*_files(tmp_path, flags, source)) is trusted


def test_no_tsc_off_x86(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.platform, "machine", lambda: "aarch64")
    assert not clock.tsc_reliable(*_files(tmp_path, FLAGS, "tsc"))


def test_tsc_stamps_are_clock_monotonic_values() -> None:
    """A 20 ms chunk stamped with the calibrated TSC ends at a CLOCK_MONOTONIC instant
    between the two real reads around it: the anchor and the scale are right."""
    scale = clock.tsc_ns_per_tick()
    if not scale:
        pytest.skip("no trusted TSC on this machine: the kernel reads CLOCK_MONOTONIC")
    state = kernel.State(1, scale)
    page = np.full(4096, 1, dtype=np.uint8)
    ctl = state.ctl
    ctl[kernel.C_BASE] = ctl[kernel.C_SRC] = ctl[kernel.C_RBUF] = page.ctypes.data
    ctl[kernel.C_FLAGS] = kernel.F_TIMED | kernel.F_RECORD | kernel.F_CLAT
    ctl[kernel.C_BYTES_LEFT] = ctl[kernel.C_IOS_LEFT] = 1 << 62
    n = 1 << 16
    offs, lens = np.zeros(n, dtype=np.int64), np.full(n, 64, dtype=np.int64)
    dirs = np.zeros(n, dtype=np.int8)
    before = time.monotonic_ns()
    ctl[kernel.C_DEADLINE] = before + 20_000_000
    state.run(offs, lens, dirs, 0, 1 << 40)
    after = time.monotonic_ns()
    assert before + 20_000_000 <= ctl[kernel.C_NOW] <= after
    assert after - before < 1_000_000_000  # the deadline, read on the TSC, did stop it


def test_the_calibration_agrees_with_an_independent_one() -> None:
    scale = clock.tsc_ns_per_tick()
    if not scale:
        pytest.skip("no trusted TSC on this machine: the kernel reads CLOCK_MONOTONIC")
    ts = np.full(2, 0, dtype=np.int64)
    tsc0, lo0, hi0 = kernel.tsc_pair(ts)
    time.sleep(0.05)
    tsc1, lo1, hi1 = kernel.tsc_pair(ts)
    # the ns that passed lie between the inner and outer brackets of the two reads
    assert (lo1 - hi0) / 1.001 <= (tsc1 - tsc0) * scale <= (hi1 - lo0) * 1.001


def test_a_calibration_in_halves_waits_out_its_interval_and_agrees_with_the_whole() -> None:
    halves = clock.TscCalibration()
    if not halves.reliable:
        assert halves.rough() == halves.finish() == 0.0
        return
    began = time.monotonic()
    rough = halves.rough()
    time.sleep(clock.CALIBRATION_S / 2)  # the caller's work in between
    scale = halves.finish()
    assert time.monotonic() - halves.began >= clock.CALIBRATION_S
    assert time.monotonic() - began < 2 * clock.CALIBRATION_S  # the work counted as waiting
    assert rough > 0
    assert abs(scale - clock.tsc_ns_per_tick()) <= 1e-3 * scale
