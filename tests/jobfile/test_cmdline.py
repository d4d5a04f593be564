"""Splitting loadgen's argument list: files, run options, fio-style job options."""

from __future__ import annotations

import pytest

from loadgen.errors import InputError
from loadgen.jobfile.cmdline import parse_command_line


def test_files_run_options_and_job_options_are_separated():
    line = parse_command_line(["a.fio", "--output-format=json,normal", "--size=1m", "-",
                               "--name=x", "--rw", "write", "--", "--weird.fio"])
    assert line.job_files == ("a.fio", "-", "--weird.fio")
    assert line.run_options.output_format == ("json", "normal")
    assert [
        (s.name, s.is_global, [(o.key, o.value) for o in s.options]) for s in line.sections
    ] == [("global", True, [("size", "1m")]), ("x", False, [("name", "x"), ("rw", "write")])]


def test_run_option_defaults():
    options = parse_command_line(["a.fio"]).run_options
    assert (
        options.output_format,
        options.output,
        options.jsonl,
        options.status_interval_ns,
        options.status_interval_given,
        options.eta,
    ) == (("normal",), "", "", 10**9, False, "auto")
    assert options.command_line == ("a.fio",)


def test_run_options_parse():
    options = parse_command_line(["--output=o.json", "--jsonl=-", "--status-interval=250ms",
                                  "--eta=never", "--output-format=terse",
                                  "--output-format=json+,terse"]).run_options
    assert (options.output, options.jsonl, options.status_interval_ns, options.eta) == (
        "o.json", "-", 250 * 10**6, "never")
    assert options.status_interval_given
    assert options.output_format == ("json+", "terse")  # the last --output-format wins, as in fio
    assert parse_command_line(["--status-interval=2"]).run_options.status_interval_ns == 2 * 10**9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--output-format=xml"], "'xml' is not one of"),
        (["--eta=sometimes"], "'sometimes' is not one of"),
        (["--status-interval=50ms"], "at least 100ms"),
        (["--status-interval=abc"], "unexpected 'abc'"),
        (["-x"], "unknown option '-x'"),
        (["--output"], "option --output needs a value"),
        (["--name"], "option --name needs a value"),
    ],
)
def test_run_option_errors(argv, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_command_line(argv)
    assert str(caught.value).startswith("command line: ")


def test_sections_and_cmdhelp():
    line = parse_command_line(["a.fio", "--section=x", "--section", "y", "--cmdhelp"])
    assert line.wanted == frozenset({"x", "y"})
    assert line.cmdhelp == ""
    assert parse_command_line(["--cmdhelp=bs"]).cmdhelp == "bs"
    assert parse_command_line(["-h"]).help


def test_flags_do_not_take_the_next_argument():
    line = parse_command_line(["--name=x", "--time_based", "job.fio"])
    assert line.job_files == ("job.fio",)
    assert [(o.key, o.value) for o in line.sections[1].options] == [
        ("name", "x"),
        ("time_based", None),
    ]
