"""Job-file arguments to a plan, as ``loadgen plan|run`` reads them (the CLI's two steps)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from loadgen.jobfile import build_plan, parse_command_line, print_note
from loadgen.jobfile.substitute import SystemFacts
from loadgen.plan import Plan, RunOptions


def load(argv: list[str], *, facts: SystemFacts | None = None,
         environ: Mapping[str, str] | None = None,
         note: Callable[[str], None] = print_note) -> tuple[Plan, RunOptions]:
    command_line = parse_command_line(argv)
    plan = build_plan(command_line, facts=facts, environ=environ, note=note)
    return plan, command_line.run_options
