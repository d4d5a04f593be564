"""The fleet's command-line options, and the command line each host's controller gets.

``loadgen run PROFILE --cluster=tcp://HOST:PORT [--hosts=N|all|NAME,...]
[--barrier-timeout=TIME]``: the remaining arguments are an ordinary ``loadgen run``
(job files, job options, ``--section``, ``--status-interval``); ``--jsonl``,
``--output`` and ``--output-format`` say where the *merged* stream and the fleet report
go on the client.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from loadgen.errors import InputError
from loadgen.jobfile.cmdline import CommandLine
from loadgen.jobfile.resolve import COMMAND_LINE
from loadgen.jobfile.values import NS_PER_S, BadValue, parse_time

FLEET_OPTIONS = ("cluster", "hosts", "barrier-timeout")
DEFAULT_BARRIER_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class HostChoice:
    """``--hosts``: every worker, the first N by name, or these names."""

    count: int = 0  # 0 = not by count
    names: tuple[str, ...] = ()  # () with count 0 = all


@dataclass(frozen=True)
class FleetOptions:
    cluster: str  # the scheduler's address, tcp://HOST:PORT
    hosts: HostChoice = HostChoice()
    barrier_timeout_s: float = DEFAULT_BARRIER_TIMEOUT_S


@dataclass(frozen=True)
class JobFile:
    """A job file's text, shipped to every host (hosts need not share a file system)."""

    name: str  # the file name on the host (in the run's own directory)
    text: bytes


def split_fleet_options(argv: Sequence[str]) -> tuple[FleetOptions | None, list[str]]:
    """Take the fleet options out of a ``loadgen run`` argument list; None without --cluster."""
    found: dict[str, str] = {}
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            rest += argv[index - 1 :]
            break
        key, equals, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if key not in FLEET_OPTIONS:
            rest.append(arg)
            continue
        if not equals:
            if index >= len(argv):
                raise InputError(f"option --{key} needs a value", COMMAND_LINE)
            value = argv[index]
            index += 1
        found[key] = value
    if "cluster" not in found:
        for key in found:
            raise InputError(f"--{key} needs --cluster=tcp://HOST:PORT", COMMAND_LINE)
        return None, rest
    return FleetOptions(
        cluster=_address(found["cluster"]),
        hosts=_hosts(found.get("hosts", "all")),
        barrier_timeout_s=_timeout(found.get("barrier-timeout")),
    ), rest


def _address(text: str) -> str:
    scheme, sep, where = text.partition("://")
    if not sep:
        scheme, where = "tcp", text
    host, colon, port = where.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise InputError(f"--cluster={text}: expected tcp://HOST:PORT", COMMAND_LINE)
    return f"{scheme}://{where}"


def _hosts(text: str) -> HostChoice:
    text = text.strip()
    if text == "all":
        return HostChoice()
    if text.isdigit():
        if int(text) < 1:
            raise InputError(f"--hosts={text}: at least one host", COMMAND_LINE)
        return HostChoice(count=int(text))
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise InputError(f"--hosts={text}: expected N, all or NAME,...", COMMAND_LINE)
    return HostChoice(names=names)


def _timeout(text: str | None) -> float:
    if text is None:
        return DEFAULT_BARRIER_TIMEOUT_S
    try:
        ns = parse_time(text, NS_PER_S)
    except BadValue as exc:
        raise InputError(f"--barrier-timeout={text}: {exc}", COMMAND_LINE) from None
    if ns <= 0:
        raise InputError(f"--barrier-timeout={text}: must be more than 0", COMMAND_LINE)
    return ns / NS_PER_S


def check_client_options(command_line: CommandLine) -> None:
    """What a fleet run cannot do (one line, exit 2, nothing started)."""
    opts = command_line.run_options
    if opts.release_fd >= 0 or opts.start_at_ns:
        raise InputError(
            "--start-at and --release-fd are for runs without --cluster "
            "(the fleet's barrier starts the hosts)",
            COMMAND_LINE,
        )
    if "terse" in opts.output_format:
        raise InputError(
            "--output-format=terse is not available for fleet runs (json, json+ and normal are)",
            COMMAND_LINE,
        )
    if any(path == "-" for path in command_line.job_files):
        raise InputError(
            "a fleet run ships its job files to the hosts: give files, not '-'", COMMAND_LINE
        )


def read_job_files(paths: Sequence[str]) -> tuple[JobFile, ...]:
    """Each job file's bytes, under a name unique within the run (``2-name.fio`` on a clash)."""
    files: list[JobFile] = []
    used: set[str] = set()
    for index, path in enumerate(paths):
        name = os.path.basename(path) or "job.fio"
        if name in used:
            name = f"{index}-{name}"
        used.add(name)
        try:
            with open(path, "rb") as handle:
                files.append(JobFile(name, handle.read()))
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path) from None
    return tuple(files)


def host_arguments(command_line: CommandLine, files: Sequence[JobFile]) -> tuple[str, ...]:
    """The ``loadgen run`` arguments every host's controller gets, less its own outputs.

    Job options given on the command line are passed as the parser grouped them
    (global template first, then each ``--name`` section), so the host resolves the
    same jobs; ``$ncpus`` and ``$mb_memory`` are each host's own.
    """
    args: list[str] = [f.name for f in files]
    for number, section in enumerate(command_line.sections):
        if number and section.is_global:
            args.append(f"--name={section.name}")
        args += [
            f"--{o.key}" if o.value is None else f"--{o.key}={o.value}" for o in section.options
        ]
    args += [f"--section={name}" for name in sorted(command_line.wanted or ())]
    opts = command_line.run_options
    if opts.status_interval_given:
        args.append(f"--status-interval={opts.status_interval_ns // 1_000_000}ms")
    return tuple(args)
