"""The fio job-file language: job files and command-line jobs -> ``Plan`` + ``RunOptions``.

Entry points:

* ``parse_command_line(argv)`` -- the argument list after ``loadgen plan|run``: job files,
  run options, command-line jobs, ``--cmdhelp``/``--help``;
* ``build_plan(command_line)`` -- the job files and command-line jobs to a checked ``Plan``;
* ``loadgen.jobfile.help`` -- ``--cmdhelp`` text and docs/options.md.

Every user mistake raises ``loadgen.errors.InputError`` (``FILE:LINE: message``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from loadgen.errors import InputError
from loadgen.jobfile import profiles
from loadgen.jobfile.cmdline import CommandLine, parse_command_line
from loadgen.jobfile.reader import JobFileReader
from loadgen.jobfile.resolve import COMMAND_LINE, Resolver, SourceFile
from loadgen.jobfile.substitute import SystemFacts
from loadgen.plan import Plan

Note = Callable[[str], None]


def print_note(message: str) -> None:
    """Notes and errors go to stderr, one line each: control characters (a newline in a file
    name) and undecodable bytes are escaped, never fatal."""
    one_line = "".join(repr(c)[1:-1] if ord(c) < 32 and c != "\t" else c for c in message)
    print(one_line.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr)


def build_plan(command_line: CommandLine, *, facts: SystemFacts | None = None,
               environ: Mapping[str, str] | None = None, note: Note = print_note) -> Plan:
    """Read the job files and command-line jobs into a resolved, checked Plan.

    Every mistake found is reported together (``MultiInputError``), each with its place."""
    return _resolve(command_line, facts, environ, note)[0]


def show_command(command_line: CommandLine, *, facts: SystemFacts | None = None,
                 environ: Mapping[str, str] | None = None, note: Note = print_note) -> str:
    """fio's ``--showcmd``: each job file as one ``fio --name=... --opt=value`` line."""
    lines = _resolve(command_line, facts, environ, note)[1].command_lines
    return "".join(f"{line}\n" for line in lines)  # command-line jobs are not shown (fio)


def _resolve(command_line: CommandLine, facts: SystemFacts | None,
             environ: Mapping[str, str] | None, note: Note) -> tuple[Plan, Resolver]:
    facts = facts or SystemFacts.of_this_machine()
    reader = JobFileReader(facts, os.environ if environ is None else environ, command_line.wanted)
    sources = [SourceFile(COMMAND_LINE, command_line.sections, on_command_line=True)]
    paths = [profiles.locate(argument) for argument in command_line.job_files]
    sources += [SourceFile(path, tuple(reader.read(path))) for path in paths]
    if command_line.wanted is not None:
        known = reader.sections_seen | {s.name for s in command_line.sections}
        reader.errors += [InputError(f"--section={name}: no such section", COMMAND_LINE)
                          for name in sorted(command_line.wanted - known)]
    resolver = Resolver(facts, note, command_line.warnings_fatal, reader.errors)
    return resolver.resolve(sources), resolver


__all__ = ["CommandLine", "SystemFacts", "build_plan", "parse_command_line", "print_note",
           "show_command"]
