"""The fleet's options and the command line each host's controller gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.errors import InputError
from loadgen.fleet.options import (
    HostChoice,
    check_client_options,
    host_arguments,
    read_job_files,
    split_fleet_options,
)
from loadgen.jobfile import build_plan, parse_command_line


def test_fleet_options_come_out_and_the_rest_is_an_ordinary_run() -> None:
    fleet, rest = split_fleet_options(
        [
            "a.fio",
            "--cluster",
            "tcp://10.0.0.1:8786",
            "--hosts=n1,n2",
            "--barrier-timeout=5s",
            "--size=1m",
        ]
    )
    assert fleet is not None and fleet.cluster == "tcp://10.0.0.1:8786"
    assert fleet.hosts == HostChoice(names=("n1", "n2")) and fleet.barrier_timeout_s == 5.0
    assert rest == ["a.fio", "--size=1m"]
    assert split_fleet_options(["a.fio"]) == (None, ["a.fio"])
    assert split_fleet_options(["a.fio", "--cluster=h:1", "--hosts=2"])[0].hosts == HostChoice(
        count=2
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hosts=2"], "needs --cluster"),
        (["--cluster=nowhere"], "expected tcp://HOST:PORT"),
        (["--cluster=h:1", "--hosts=0"], "at least one host"),
        (["--cluster=h:1", "--barrier-timeout=x"], "barrier-timeout"),
    ],
)
def test_bad_fleet_options_are_input_errors(args: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        split_fleet_options(["a.fio", *args])


def test_hosts_get_the_job_files_and_command_line_jobs_as_resolved_here(tmp_path: Path) -> None:
    (tmp_path / "a.fio").write_text("[a]\nsize=1m\nrw=write\n")
    argv = [
        str(tmp_path / "a.fio"),
        "--thp=never",
        "--name=b",
        "--size=2m",
        "--rw=read",
        "--status-interval=500ms",
        "--jsonl=x.jsonl",
    ]
    command_line = parse_command_line(argv)
    files = read_job_files(command_line.job_files)
    args = host_arguments(command_line, files)
    assert args == (
        "a.fio",
        "--thp=never",
        "--name=b",
        "--size=2m",
        "--rw=read",
        "--status-interval=500ms",
    )
    # the host's command line resolves to the same plan (its own outputs aside)
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "a.fio").write_bytes(files[0].text)
    here = build_plan(command_line)
    there = build_plan(
        parse_command_line([str(tmp_path / "host" / a) if a == "a.fio" else a for a in args])
    )
    assert [j.to_dict() | {"source": ""} for j in here.jobs] == [
        j.to_dict() | {"source": ""} for j in there.jobs
    ]


def test_what_a_fleet_run_cannot_do_is_refused_before_anything_starts() -> None:
    for argv, message in (
        (["a.fio", "--start-at=5"], "runs without --cluster"),
        (["a.fio", "--output-format=terse"], "terse"),
        (["-"], "not '-'"),
    ):
        with pytest.raises(InputError, match=message):
            check_client_options(parse_command_line(argv))
