"""The release gate: --start-at holds the ready workers until an instant, --release-fd until
an orchestrator says go, and the orchestrator's end stops the run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from loadgen.controller import execute
from loadgen.errors import InputError
from loadgen.jobfile.cmdline import parse_command_line
from loadgen.plan import RunOptions
from loadgen.results import GroupResult

from .plans import MIB, make_plan

ROOT = Path(__file__).resolve().parents[2]


def _first_op_epoch_ns(group: GroupResult, first_op_mono_ns: int) -> int:
    """A worker's first operation on the wall clock, from the group's release instant."""
    return group.release_epoch_ns + (first_op_mono_ns - group.release_ns)


def test_start_at_holds_every_worker_until_the_instant() -> None:
    start_at = time.time_ns() + 1_500_000_000  # well after the workers are ready
    plan = make_plan([{"numjobs": 2, "size": 2 * MIB, "rw": "write"}])
    result = execute(plan, RunOptions(eta="never", start_at_ns=start_at))
    (group,) = result.groups
    assert group.release_epoch_ns >= start_at
    for job in result.jobs:
        assert job.error == 0
        assert _first_op_epoch_ns(group, job.totals.first_op_ns) >= start_at


def test_start_at_in_the_past_starts_at_once_and_later_groups_are_not_held() -> None:
    plan = make_plan([{"size": 2 * MIB, "rw": "write"}, {"size": 2 * MIB, "rw": "read"}])
    result = execute(plan, RunOptions(eta="never", start_at_ns=time.time_ns() - 10**9))
    assert [j.error for j in result.jobs] == [0, 0]
    assert result.jobs[1].totals.dirs[0].bytes == 2 * MIB


def _orchestrate(sock: socket.socket, go_after_s: float, log: list[tuple[str, int]]) -> None:
    """Answer every ``ready`` with ``go`` after a pause; note what was said and when."""
    reader = sock.makefile("rb")
    for line in reader:
        word, group, epoch = line.split()
        log.append((word.decode(), int(epoch)))
        if word == b"ready":
            time.sleep(go_after_s)
            log.append(("go", time.time_ns()))
            sock.sendall(b"go " + group + b"\n")


def test_release_fd_holds_each_group_until_go_and_reports_the_release() -> None:
    ours, theirs = socket.socketpair()
    log: list[tuple[str, int]] = []
    helper = threading.Thread(target=_orchestrate, args=(ours, 0.3, log), daemon=True)
    helper.start()
    plan = make_plan(
        [{"numjobs": 2, "size": 2 * MIB, "rw": "write"}, {"size": 2 * MIB, "rw": "read"}]
    )
    result = execute(plan, RunOptions(eta="never", release_fd=theirs.detach()))
    ours.close()
    helper.join(10)
    assert [w for w, _ in log] == ["ready", "go", "start"] * 2
    for g, group in enumerate(result.groups):
        go_ns, start_ns = log[3 * g + 1][1], log[3 * g + 2][1]
        assert group.release_epoch_ns == start_ns >= go_ns
        for job in group.jobs:
            assert _first_op_epoch_ns(group, job.totals.first_op_ns) >= go_ns
    assert all(j.error == 0 for j in result.jobs)


def test_go_with_an_instant_releases_at_that_instant() -> None:
    ours, theirs = socket.socketpair()
    said: list[int] = []

    def orchestrate() -> None:
        reader = ours.makefile("rb")
        reader.readline()  # ready 0 ...
        said.append(time.time_ns() + 300_000_000)
        ours.sendall(b"go 0 %d\n" % said[0])
        reader.readline()  # start 0 ...

    helper = threading.Thread(target=orchestrate, daemon=True)
    helper.start()
    result = execute(
        make_plan([{"size": 2 * MIB, "rw": "write"}]),
        RunOptions(eta="never", release_fd=theirs.detach()),
    )
    ours.close()
    helper.join(10)
    (group,) = result.groups
    assert group.release_epoch_ns >= said[0]


def test_the_orchestrator_going_away_stops_a_held_run(tmp_path: Path) -> None:
    (tmp_path / "t.fio").write_text("[t]\nsize=2m\nrw=write\ntime_based\nruntime=60s\n")
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadgen",
            "run",
            "t.fio",
            "--eta=never",
            "--jsonl=run.jsonl",
            "--output-format=json",
            f"--release-fd={theirs.fileno()}",
        ],
        pass_fds=[theirs.fileno()],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    theirs.close()
    assert ours.makefile("rb").readline().startswith(b"ready 0 ")  # held at the barrier
    ours.close()
    stdout, _ = proc.communicate(timeout=60)  # a 60 s job, stopped long before
    report = orjson.loads(stdout)
    assert report["jobs"][0]["write"]["io_bytes"] < 60 * 2 * MIB
    events = [
        r
        for r in map(orjson.loads, (tmp_path / "run.jsonl").read_bytes().splitlines())
        if r["event.dataset"] == "loadgen.event"
    ]
    assert any("went away" in e["message"] for e in events)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--start-at=soon"], "not a time in seconds"),
        (["--start-at=nan"], "not a time in seconds"),
        (["--release-fd=x"], "not a file descriptor"),
        (["--start-at=1", "--release-fd=5"], "cannot be used together"),
    ],
)
def test_bad_release_options_are_input_errors(args: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_command_line(["t.fio", *args])


def test_start_at_accepts_fractional_epoch_seconds() -> None:
    opts = parse_command_line(["t.fio", "--start-at=1767225600.25"]).run_options
    assert opts.start_at_ns == 1_767_225_600_250_000_000
