"""The live status line: its format, and that it appears only on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import orjson

from loadgen.controller.progress import Snapshot, format_line, job_char, wanted
from loadgen.plan import RwMode

ROOT = Path(__file__).resolve().parents[2]


def _snap(**kw) -> Snapshot:
    base = dict(states="WWWW", percent=45.0, read_bps=0.0, write_bps=2.1 * 2**30, read_iops=0.0,
                write_iops=540_000.0, faults_per_s=540_000.0, eta_s=11.0)
    return Snapshot(**{**base, **kw})


def test_fio_like_line() -> None:
    assert (
        format_line(_snap())
        == "Jobs: 4 (f=4): [W(4)][45.0%][w=2.10GiB/s][w=540k IOPS][minf=540k/s][eta 00m:11s]"
    )


def test_mixed_states_and_both_directions() -> None:
    line = format_line(_snap(states="mmP_X", read_bps=1000.0, read_iops=10.0, eta_s=3725.0))
    assert line.startswith("Jobs: 2 (f=2): [m(2),P(1),_(1),X(1)]")
    assert "[r=1000B/s,w=2.10GiB/s][r=10,w=540k IOPS]" in line
    assert line.endswith("[eta 1h:02m:05s]")


def test_unknown_eta() -> None:
    assert format_line(_snap(eta_s=None)).endswith("[eta --m:--s]")


def test_state_letters_follow_fio() -> None:
    modes = ("read", "randread", "write", "randwrite", "rw", "readwrite", "randrw")
    assert "".join(job_char(RwMode(rw)) for rw in modes) == "RrWwMMm"


def test_eta_option() -> None:
    r, w = os.pipe()
    try:
        assert not wanted("auto", w)
        assert wanted("always", w)
    finally:
        os.close(r)
        os.close(w)
    master, slave = pty.openpty()
    try:
        assert wanted("auto", slave) and not wanted("never", slave)
    finally:
        os.close(master)
        os.close(slave)


SPEC = orjson.dumps({"groups": [{"numjobs": 2, "time_based": True, "runtime_ns": 1_600_000_000}],
                    "opts": {"eta": "auto"}}).decode()


def _command() -> list[str]:
    return [sys.executable, str(ROOT / "tests/controller/plans.py"), SPEC]


def test_line_appears_on_a_terminal_only() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    master, slave = pty.openpty()
    proc = subprocess.Popen(_command(), env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer of the pty is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=30) == 0
    assert b"\rJobs: 2 (f=2): [w(2)]" in seen

    piped = subprocess.run(_command(), env=env, capture_output=True, timeout=30)
    assert piped.returncode == 0
    assert b"Jobs:" not in piped.stderr
