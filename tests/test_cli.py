"""The ``loadgen`` command line: plan JSON, exit statuses, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadgen.blas import SINGLE_THREAD_ENV
from loadgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "page_fault.fio"


def _loadgen(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "loadgen", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_plan_of_the_profile_through_python_dash_m():
    result = _loadgen("plan", str(PROFILE))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["groups"]) == 13
    assert [len(group["jobs"]) for group in document["groups"]] == [1] * 13
    (storm,) = document["groups"][2]["jobs"]
    assert storm["name"] == "page_fault_process_storm"
    ncpus = max(1, os.sysconf("SC_NPROCESSORS_CONF"))
    assert storm["numjobs"] == ncpus
    assert [w["subjob"] for w in storm["workers"]] == [0, *range(ncpus - 1, 0, -1)]
    storm = [storm]
    pagesize = os.sysconf("SC_PAGESIZE")
    assert storm[0]["bs"] == pagesize and storm[0]["size"] == 8 * 1024 * pagesize
    assert document["groups"][3]["jobs"][0]["bs"] is None  # bsrange 16k-1M: no single bs
    assert document["groups"][0]["jobs"][0]["job_options"] == {"rw": "write"}


def test_plan_json_lists_every_job_field(capsys):
    assert main(["plan", "--name=x", "--size=1m", "--bs=8k,16k"]) == 0
    document = json.loads(capsys.readouterr().out)
    (job,) = document["groups"][0]["jobs"]
    from loadgen.plan import Job

    assert set(Job.__dataclass_fields__) <= set(job)
    assert (job["bs"], job["bs_min"], job["numjobs"], job["rwmixread"], job["loops"]) == (
        16384, [8192, 16384], 1, 50, 1)


def test_job_file_error_is_one_line_with_file_and_line_and_exit_2(tmp_path):
    path = tmp_path / "bad.fio"
    path.write_text("[job]\nsize=1m\nrw=trim\n")
    result = _loadgen("plan", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{path}:3: rw=trim: trim is not supported")
    assert "Traceback" not in result.stderr


def test_missing_file_and_stdin_job(tmp_path):
    missing = _loadgen("run", str(tmp_path / "none.fio"))
    assert (missing.returncode, missing.stderr) == (
        2,
        f"{tmp_path / 'none.fio'}: No such file or directory\n",
    )
    piped = _loadgen("plan", "-", stdin="[s]\nsize=1m\nrw = randread\n")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["groups"][0]["jobs"][0]["rw"] == "randread"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan"], "loadgen: no jobs defined\n"),
        (["frobnicate"], "frobnicate: No such file or directory\n"),  # loadgen FILE = run FILE
        (
            ["plan", "--name=x"],
            "command line: job 'x': you need to specify size= (the region to map)\n",
        ),
        (
            ["run", "--name=x", "--size=1m", "--output-format=xml"],
            "command line: --output-format: 'xml' is not one of: normal, json, json+, terse\n",
        ),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_notes_go_to_stderr_and_do_not_fail(capsys):
    assert main(["plan", "--name=x", "--size=1m", "--iodepth=8"]) == 0
    assert capsys.readouterr().err == (
        "command line: note: iodepth=8 capped to 1: page_fault is a synchronous engine (as fio)\n"
    )


def test_cmdhelp(capsys):
    assert main(["run", "--cmdhelp"]) == 0
    assert "rwmixread" in capsys.readouterr().out
    assert main(["plan", "--cmdhelp=readwrite"]) == 0
    assert capsys.readouterr().out.startswith("name        : rw\n")
    assert main(["run", "--cmdhelp=nosuch"]) == 2


def test_help_and_usage(capsys):
    assert main(["--help"]) == 0
    assert "loadgen plan  JOBFILE" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["run", "-h"]) == 0


def test_run_pins_one_blas_thread_before_the_controller_loads_numpy(monkeypatch):
    import types

    for name in SINGLE_THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    seen = {}

    def fake_run(plan, options, startup_signals=None, helper=None):
        seen.update({name: os.environ.get(name) for name in SINGLE_THREAD_ENV})
        return 0

    fake = types.ModuleType("loadgen.controller")
    fake.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loadgen.controller", fake)
    assert main(["run", "--name=x", "--size=1m"]) == 0
    assert seen == SINGLE_THREAD_ENV


def test_run_passes_plan_and_run_options_to_the_controller(monkeypatch):
    import types

    seen = {}
    fake = types.ModuleType("loadgen.controller")

    def fake_run(plan, options, startup_signals=None, helper=None):
        seen.update(plan=plan, options=options)
        return 0

    fake.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loadgen.controller", fake)
    assert main(["run", "--name=x", "--size=1m", "--output-format=json", "--jsonl=-"]) == 0
    assert seen["plan"].jobs[0].name == "x"
    assert (seen["options"].output_format, seen["options"].jsonl) == (("json",), "-")


def test_run_does_not_start_anything_on_bad_input(monkeypatch, capsys):
    import types

    fake = types.ModuleType("loadgen.controller")
    fake.run = lambda plan, options, **kw: pytest.fail("controller started")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loadgen.controller", fake)
    assert main(["run", "--name=x", "--size=1m", "--bogus=1"]) == 2


def test_plan_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`loadgen plan FILE | head -1`: the reader leaves early; no traceback, status 0."""
    many = tmp_path / "many.fio"  # a plan far larger than a pipe's buffer, so the write must fail
    many.write_text("".join(f"[job{i}]\nsize=1m\n" for i in range(300)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "plan", str(many)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert err == b""


def test_a_job_file_as_first_argument_runs_it_as_fio_does(tmp_path):
    path = tmp_path / "j.fio"
    path.write_text("[j]\nsize=1m\nrw=write\n")
    result = _loadgen(str(path), "--output-format=json", "--eta=never")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["jobs"][0]["write"]["total_ios"] == 256


def test_version_parse_only_and_help(capsys, tmp_path):
    from loadgen.jobfile.cmdline import RUN_FLAGS

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "loadgen-0.1.0\n"
    path = tmp_path / "j.fio"
    path.write_text("[j]\nsize=1m\n")
    assert main(["--parse-only", str(path)]) == 0
    assert capsys.readouterr().out == ""
    path.write_text("[j]\nsize=1m\nrw=bogus\nbs=q\n")
    assert main(["--parse-only", str(path)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 2  # both mistakes, one line each
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for flag in RUN_FLAGS:
        assert f"--{flag.name}" in text
        if flag.default:
            assert f"(default: {flag.default})" in " ".join(text.split())


def test_status_interval_prints_the_cumulative_report_each_interval(tmp_path):
    path = tmp_path / "j.fio"
    path.write_text("[j]\nsize=8m\nrw=randread\ntime_based\nruntime=1500ms\n")
    result = _loadgen("run", str(path), "--status-interval=400ms", "--output-format=terse",
                      "--eta=never")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 3  # periodic reports, then the final one
    reads = [int(line.split(";")[5]) for line in lines]  # read KiB, cumulative
    assert reads == sorted(reads) and reads[-1] > 0


def test_a_bad_replay_log_stops_the_run_before_anything_starts(tmp_path):
    log = tmp_path / "trace.log"
    log.write_text("fio version 3 iolog\n0 f add\n0 f open\n5 f read 0 4096\n9 f read 4096\n")
    path = tmp_path / "job.fio"
    path.write_text(f"[first]\nsize=1m\nexec_prerun=touch {tmp_path / 'started'}\n"
                    f"[replay]\nread_iolog={log}\n")
    result = _loadgen("run", "--eta=never", str(path))
    assert result.returncode == 2
    assert result.stderr == (f"{log}:5: bad iolog3 line: expected 'TIME FILE ACTION [OFFSET "
                             "LENGTH]', got '9 f read 4096'\n")
    assert not (tmp_path / "started").exists()  # the first job never ran


@pytest.mark.parametrize("clock", [0, 1, 7])
def test_job_start_is_read_on_job_start_clock_id(tmp_path, clock):
    """fio's job_start: clock_gettime(job_start_clock_id) in ms as the job starts."""
    path = tmp_path / "j.fio"
    path.write_text(f"[a]\nsize=1m\nrw=write\njob_start_clock_id={clock}\n[b]\nsize=1m\n")
    before = time.clock_gettime_ns(clock) // 1_000_000
    result = _loadgen("run", "--eta=never", "--output-format=json", str(path))
    after = time.clock_gettime_ns(clock) // 1_000_000
    assert result.returncode == 0, result.stderr
    a, b = json.loads(result.stdout)["jobs"]
    assert before <= a["job_start"] <= after
    assert b["job_start"] > 10**12  # the default: the wall clock's ms since 1970


def test_a_clock_that_cannot_be_read_is_refused(tmp_path):
    path = tmp_path / "j.fio"
    path.write_text("[a]\nsize=1m\njob_start_clock_id=10\n")
    result = _loadgen("run", "--eta=never", str(path))
    assert result.returncode == 2
    assert result.stderr == (f"{path}:3: job_start_clock_id=10: clock 10 cannot be read "
                             "here: Invalid argument\n")


def _console(*argv: str) -> subprocess.CompletedProcess[str]:
    """``cli.console`` in a child, with an atexit function of its own registered first."""
    code = ("import atexit, sys\n"
            "from loadgen import cli\n"
            "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
            f"sys.argv = ['loadgen', *{list(argv)!r}]\n"
            "cli.console()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_the_command_ends_at_once_but_flushes_and_runs_atexit_first(tmp_path):
    """console() skips the interpreter's teardown, not what it owes: main's exit status,
    every byte written to stdout (a report larger than a pipe holds), atexit functions."""
    done = _console("run", "--name=c", "--rw=write", "--bs=4k", "--size=64k", "--numjobs=40",
                    "--output-format=json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout[done.stdout.index("{"):])["jobs"]) == 40
    assert len(done.stdout) > 1 << 16 and "atexit ran" in done.stderr
    bad = _console("run", "--name=c", "--rw=sideways")
    assert bad.returncode == 2 and "atexit ran" in bad.stderr
