"""Property tests: random and mutated job files give a plan or one InputError, never a crash.

Each example runs under a hypothesis deadline, so a hang or a runaway computation fails
the test instead of stalling it.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadgen.cli import main
from loadgen.errors import InputError, MultiInputError
from loadgen.jobfile.options import OPTIONS, UNSUPPORTED
from loadgen.plan import Plan

from .conftest import FACTS
from .plans import load

PROFILE = (Path(__file__).resolve().parents[2] / "profiles" / "page_fault.fio").read_text()
PROFILE_LINES = PROFILE.splitlines()
KEYS = [o.name for o in OPTIONS] + [a for o in OPTIONS for a in o.aliases] + list(UNSUPPORTED)[:10]
VALUES = ["1m", "4k", "$pagesize", "$ncpus", "$mb_memory", "5*1024*$pagesize", "randrw", "0", "1",
          "16k-1M", "8k,32k,", "4k/10:8k", "zipf:1.2", "zoned:50/50:50/50", "50%", "(1+2)*4k",
          "${HOME}", "0x10", "2^64", "-1", "1/0", "", "((", "1:2", "write:4k", "10s", "1-5"]
FRAGMENTS = ["[", "]", "=", ";", "#", "$", "{", "}", "(", ")", ",", ":", "/", "-", "%", "^", "*",
             "\n", " ", "\t", "include", "global", "k", "m", "0x", "9"]

SETTINGS = settings(
    max_examples=120,
    deadline=2000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _outcome(path: Path, text: str) -> Plan | None:
    """Load ``text``: a Plan or None for an InputError; anything else propagates (a bug)."""
    path.write_text(text)
    try:
        return load([str(path)], facts=FACTS, environ={"HOME": "/root"}, note=lambda m: None)[0]
    except MultiInputError as exc:
        assert exc.errors and all(str(e) and "\n" not in str(e) for e in exc.errors)
        return None
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


option_line = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.sampled_from(VALUES))
line = st.one_of(option_line, st.sampled_from(KEYS), st.sampled_from(PROFILE_LINES),
                 st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
                 st.text(max_size=20))


@SETTINGS
@given(st.lists(line, max_size=12))
def test_random_job_files_never_crash(tmp_path: Path, lines: list[str]):
    _outcome(tmp_path / "r.fio", "[job]\n" + "\n".join(lines) + "\n")


@SETTINGS
@given(st.data())
def test_mutated_profile_never_crashes(tmp_path: Path, data: st.DataObject):
    lines = list(PROFILE_LINES)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "char"]))
        if action == "replace":
            lines[index] = data.draw(line)
        elif action == "insert":
            lines.insert(index, data.draw(line))
        elif action == "delete" and len(lines) > 1:
            del lines[index]
        elif lines[index]:
            position = data.draw(st.integers(0, len(lines[index]) - 1))
            lines[index] = lines[index][:position] + data.draw(st.sampled_from(FRAGMENTS)) + \
                lines[index][position + 1:]
    plan = _outcome(tmp_path / "m.fio", "\n".join(lines) + "\n")
    if plan is not None:
        assert all(job.size >= min(job.bs_min) for job in plan.jobs)
        assert [g.id for g in plan.groups] == list(range(len(plan.groups)))


@settings(max_examples=60, deadline=2000, derandomize=True)
@given(st.lists(st.one_of(st.sampled_from(["--name=x", "--size=1m", "--rw=randrw", "--bs", "4k",
                                           "--output-format=json", "--section=x", "--numjobs=2",
                                           "--eta", "--", "--status-interval=1"]),
                          st.text(max_size=12).filter(lambda s: s != "-")), max_size=8))
def test_random_command_lines_exit_0_or_2(argv: list[str]):
    stderr = io.StringIO()
    with redirect_stderr(stderr), redirect_stdout(io.StringIO()):
        status = main(["plan", *argv])  # "-" (stdin) is left out: it would wait for input
    assert status in (0, 2)
    if status == 2:  # one line per mistake, each naming its place
        lines = stderr.getvalue().splitlines()
        assert lines and all(": " in line for line in lines)
