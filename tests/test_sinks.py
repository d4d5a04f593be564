"""Output sinks against real files, a real tmpfs that fills up and real closed pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from loadgen.errors import InputError
from loadgen.sinks import Sink, SinkClosed, SinkFull
from loadgen.status import ExitStatus
from tests.reliability.faults import read_jsonl, start_loadgen, wait_gone
from tests.reliability.test_e2e import finish, job, outputs

REPO = Path(__file__).resolve().parents[1]


def test_lines_are_appended_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"old":1}\n')
    first, second = (Sink(str(target), "--jsonl").open() for _ in range(2))
    for n in range(50):
        (first if n % 2 else second).write(b'{"n":%d}\n' % n)
    first.close()
    second.close()
    lines = target.read_text().splitlines()
    assert lines[0] == '{"old":1}'
    assert sorted(lines[1:], key=lambda s: int(s[5:-1])) == [f'{{"n":{n}}}' for n in range(50)]
    assert first.lines_written == second.lines_written == 25


def test_report_sink_truncates_only_at_first_open(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("stale\n")
    sink = Sink(str(target), "--output", truncate=True).open()
    sink.write_text("fresh\n")
    assert sink.reopen() == ""
    sink.write_text("more\n")
    sink.close()
    assert target.read_text() == "fresh\nmore\n"


def test_reopen_follows_the_path_after_rotation(tmp_path: Path) -> None:
    target, rotated = tmp_path / "out.jsonl", tmp_path / "out.jsonl.1"
    sink = Sink(str(target), "--jsonl").open()
    sink.write(b"before\n")
    target.rename(rotated)
    sink.write(b"still-old\n")  # until SIGHUP the old file keeps the lines
    assert sink.reopen() == ""
    sink.write(b"after\n")
    sink.close()
    assert rotated.read_text() == "before\nstill-old\n"
    assert target.read_text() == "after\n"


def test_failed_reopen_keeps_writing_the_old_file(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    sink = Sink(str(directory / "out.jsonl"), "--jsonl logs/out.jsonl").open()
    (directory / "out.jsonl").rename(tmp_path / "kept.jsonl")
    directory.rmdir()
    message = sink.reopen()
    assert "cannot reopen" in message and "--jsonl logs/out.jsonl" in message
    sink.write(b"kept\n")
    sink.close()
    assert (tmp_path / "kept.jsonl").read_text() == "kept\n"


@pytest.mark.parametrize("where", ["missing-dir/out.jsonl", "."])
def test_unwritable_path_is_bad_input(tmp_path: Path, where: str) -> None:
    with pytest.raises(InputError, match="--jsonl .*: cannot write: "):
        Sink(str(tmp_path / where), f"--jsonl {where}").open()


def test_read_only_filesystem_is_bad_input(tiny_tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    with pytest.raises(InputError, match="Read-only file system"):
        Sink(str(tiny_tmpfs / "out.jsonl"), "--jsonl").open()


def test_full_disk_stops_with_whole_lines_and_a_count(tiny_tmpfs: Path) -> None:
    target = tiny_tmpfs / "out.jsonl"
    sink = Sink(str(target), "--jsonl out.jsonl").open()
    line = b'{"pad":"' + b"x" * 1000 + b'"}'
    with pytest.raises(SinkFull) as caught:
        for _ in range(1000):
            sink.write(line + b"\n")
    sink.close()
    content = target.read_bytes()
    assert content == (line + b"\n") * sink.lines_written
    assert sink.lines_written > 0
    message = str(caught.value)
    assert message.startswith("--jsonl out.jsonl: No space left on device")
    assert f"{sink.lines_written} lines ({len(content)} bytes) were written" in message


def test_closed_fifo_reader_is_sink_closed(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sink = Sink(str(fifo), "--jsonl fifo").open()
    sink.write(b"first\n")
    assert os.read(reader, 100) == b"first\n"
    os.close(reader)
    with pytest.raises(SinkClosed, match="reader closed the pipe; 1 lines"):
        sink.write(b"second\n")
    with pytest.raises(SinkClosed):  # stays closed: no write reaches a new reader
        sink.write(b"third\n")
    sink.close()


STDOUT_WRITER = r"""
import sys
from loadgen.sinks import Sink, SinkClosed
sink = Sink("-", "--jsonl -").open()
try:
    for n in range(1_000_000):
        sink.write(b'{"n":%d}\n' % n)
except SinkClosed as exc:
    sys.stderr.write(f"stopped: {exc}\n")
    print("text for the interpreter to flush at exit", end="")
    sys.exit(0)
sys.exit(5)
"""


def test_closed_stdout_ends_quietly_with_status_zero() -> None:
    writer = subprocess.Popen([sys.executable, "-c", STDOUT_WRITER], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert writer.stdout is not None and writer.stderr is not None
    first = writer.stdout.readline()
    writer.stdout.close()  # like `| head -1`
    stderr = writer.stderr.read().decode()
    assert writer.wait(timeout=30) == 0
    assert first == b'{"n":0}\n'
    assert stderr.startswith("stopped: --jsonl -: the reader closed the pipe;")
    assert "Exception ignored" not in stderr and "Traceback" not in stderr


def test_closed_stdout_through_a_real_shell_pipeline(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(STDOUT_WRITER)
    done = subprocess.run(
        f"{sys.executable} {script} | head -1; echo status=${{PIPESTATUS[0]}} >&2",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout == '{"n":0}\n'
    assert done.stderr.splitlines()[-1] == "status=0"
    assert "Exception ignored" not in done.stderr


def test_full_disk_behind_stdout_counts_what_stays_there(tiny_tmpfs: Path) -> None:
    code = ("import sys\nfrom loadgen.sinks import Sink, SinkFull\n"
            "try:\n    Sink('-', 'the report on stdout').open().write_text('x' * 100_000)\n"
            "except SinkFull as exc:\n    sys.stderr.write(str(exc))\n")
    target = tiny_tmpfs / "stdout.txt"
    with target.open("wb") as stdout:
        done = subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=30)
    size = target.stat().st_size
    assert 0 < size < 100_000
    assert done.stderr == (f"the report on stdout: No space left on device; "
                           f"0 lines ({size} bytes) were written to stdout")


# ---- loadgen started with a closed stdout or stderr (the shell's `>&-`, `2>&-`) ----------
SHORT_JOB = "[global]\nioengine=page_fault\nbs=4k\nsize=1m\nrw=randwrite\n[a]\nnumjobs=2\n"


def test_closed_stdout_still_writes_the_runs_own_outputs(tmp_path: Path) -> None:
    """`loadgen run job.fio --output=r.out >&-`: nothing needs stdout, so the run is whole."""
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, SHORT_JOB)), *args], stdout=None, closed=(1,))
    status, stderr = finish(run)
    assert (status, stderr) == (ExitStatus.OK, "")
    records = read_jsonl(jsonl)
    assert records[-1]["event.dataset"] == "loadgen.run_end"
    assert records[-1]["loadgen.exit_status"] == 0
    jobs = orjson.loads(report.read_bytes())["jobs"]
    assert [j["write"]["total_ios"] for j in jobs] == [256, 256]


def test_closed_stderr_still_writes_the_runs_own_outputs(tmp_path: Path) -> None:
    jsonl, report, args = outputs(tmp_path)
    run = start_loadgen([str(job(tmp_path, SHORT_JOB)), "--eta=always", *args], closed=(2,))
    assert run.proc.wait(timeout=60) == ExitStatus.OK
    assert wait_gone(run) == []
    assert read_jsonl(jsonl)[-1]["event.dataset"] == "loadgen.run_end"
    assert len(orjson.loads(report.read_bytes())["jobs"]) == 2


@pytest.mark.parametrize(
    ("command", "extra", "label"),
    [
        ("run", ["--jsonl=-"], "--jsonl -"),
        ("run", [], "the report on stdout"),
        ("plan", [], "plan"),
    ],
)
def test_a_closed_stdout_loadgen_must_write_to_is_one_line_and_nothing_starts(
    tmp_path: Path, command: str, extra: list[str], label: str
) -> None:
    run = start_loadgen(
        [str(job(tmp_path, SHORT_JOB)), *extra], stdout=None, closed=(1,), command=command
    )
    status, stderr = finish(run)
    assert status == ExitStatus.BAD_INPUT
    assert stderr.splitlines() == [f"loadgen: {label}: cannot write: standard output is closed"]
    assert run.seen == {}
