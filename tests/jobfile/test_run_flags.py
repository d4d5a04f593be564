"""fio's run flags on loadgen's command line, and reading every error of a file at once."""

from __future__ import annotations

import pytest

from loadgen.errors import InputError
from loadgen.jobfile import parse_command_line, show_command
from loadgen.jobfile.cmdline import RUN_FLAGS
from tests.jobfile.plans import load

from .conftest import FACTS


def test_output_format_spellings_and_order_of_effects():
    def formats(*argv: str) -> tuple[str, ...]:
        return parse_command_line(list(argv)).run_options.output_format

    assert formats("--output-format=minimal") == ("terse",)
    assert formats("--output-format=csv,json+") == ("terse", "json+")
    assert formats("--output-format=json", "--minimal") == ("terse",)
    assert formats("--minimal", "--output-format=json") == ("json",)
    assert formats("--append-terse") == ("normal", "terse")
    assert formats("--output-format=json", "--append-terse") == ("json", "terse")
    assert formats("--append-terse=1", "--output-format=normal") == ("normal",)


def test_switches():
    line = parse_command_line(["--parse-only", "--showcmd", "--warnings-fatal", "--version", "a"])
    assert (line.parse_only, line.showcmd, line.warnings_fatal, line.version) == (True,) * 4
    assert line.job_files == ("a",)
    with pytest.raises(InputError, match="option --showcmd takes no value"):
        parse_command_line(["--showcmd=1"])


def test_terse_version_eta_and_max_jobs():
    options = parse_command_line(["--terse-version=5", "--eta-interval=500ms",
                                  "--eta-newline=2", "--max-jobs", "12"]).run_options
    assert (options.terse_version, options.eta_interval_ns, options.eta_newline_ns) == (
        5, 500 * 10**6, 2 * 10**9)
    defaults = parse_command_line([]).run_options
    assert (defaults.terse_version, defaults.eta_interval_ns, defaults.eta_newline_ns) == (
        3, 10**9, 0)


@pytest.mark.parametrize(("argv", "message"), [
    (["--terse-version=6"], "bad terse version"),
    (["--terse-version=1"], "bad terse version"),
    (["--eta-interval=100ms"], "at least 250ms"),
    (["--eta-newline=0"], "at least 1ms"),
    (["--max-jobs=lots"], "not a number"),
    (["--output-format=normal,xml"], "'xml' is not one of"),
])
def test_flag_errors(argv, message):
    with pytest.raises(InputError, match=message):
        parse_command_line(argv)


def test_timeout_is_fios_runtime_alias_on_the_command_line():
    plan, _ = load(["--timeout=3", "--name=x", "--size=1m"], facts=FACTS, environ={},
                   note=lambda m: None)
    assert plan.jobs[0].runtime_ns == 3 * 10**9


def test_every_flag_has_help_and_a_default_or_is_an_action():
    for flag in RUN_FLAGS:
        assert flag.help
        assert flag.default or flag.name in ("cmdhelp", "version", "help")


def _showcmd(tmp_path, text: str, *argv: str) -> str:
    path = tmp_path / "s.fio"
    path.write_text(text)
    return show_command(parse_command_line([*argv, str(path)]), facts=FACTS, environ={},
                        note=lambda m: None)


def test_showcmd_prints_each_file_as_fio_does(tmp_path):
    # the expected lines are what fio-3.42 --showcmd printed for these files
    text = ("[global]\nioengine=page_fault\nsize=4m\n[a]\nrw=write\nnorandommap\n"
            "size=$pagesize*4\n[global]\nbs=8k\n[b]\nnumjobs=2\n")
    assert _showcmd(tmp_path, text) == (
        "fio --ioengine=page_fault --size=4m --name=a --rw=write --norandommap --size=16384 "
        "--ioengine=page_fault --size=4m --bs=8k --name=b --numjobs=2 \n")
    assert _showcmd(tmp_path, text, "--size=2m").startswith(
        "fio --size=2m --ioengine=page_fault --size=4m --name=a ")
    assert _showcmd(tmp_path, "[x]\nsize=1m\ndescription=two words\n") == (
        'fio --name=x --size=1m --description="two words" \n')


def test_every_error_of_a_file_is_reported_in_file_order(errors_of):
    text = "[a]\nsize=1m\nrw=wrte\nblah=3\n[b]\nsize=1m\nbs=xyz\n[c]\n"
    assert [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in errors_of(text)] == ["3", "4", "7", "8"]
    lines = errors_of(text)
    assert "rw=wrte: 'wrte' is not one of" in lines[0]
    assert "bad option 'blah'" in lines[1]
    assert "bs=xyz" in lines[2]
    assert "job 'c': you need to specify size=" in lines[3]


def test_a_job_whose_lines_failed_gets_no_follow_on_errors(errors_of):
    assert len(errors_of("[a]\nsize=oops\n")) == 1  # not also "you need to specify size="


def test_reader_errors_come_with_the_option_errors(errors_of):
    lines = errors_of("size=1m\n[a\n[b]\nsize=1m\nbs=q\n")
    assert "outside of [] job section" in lines[0]
    assert "does not end with ']'" in lines[1]
    assert "bs=q" in lines[2]


def test_warnings_fatal_turns_notes_into_errors(tmp_path):
    path = tmp_path / "w.fio"
    path.write_text("[a]\nsize=1m\niodepth=4\ntime_based=1\n")
    notes: list[str] = []
    load([str(path)], facts=FACTS, environ={}, note=notes.append)
    assert len(notes) == 2
    with pytest.raises(InputError) as caught:
        load(["--warnings-fatal", str(path)], facts=FACTS, environ={}, note=notes.append)
    assert "iodepth=4 capped to 1" in str(caught.value)
    assert "time_based needs runtime" in str(caught.value)
    assert str(caught.value).count("(--warnings-fatal)") == 2
