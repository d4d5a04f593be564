"""The ``loadgen`` command line: ``loadgen plan`` prints the resolved plan, ``loadgen run`` runs it.

Every user mistake ends here as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from loadgen.blas import pin_blas_threads
from loadgen.errors import InputError
from loadgen.fleet.options import split_fleet_options
from loadgen.jobfile import build_plan, parse_command_line, print_note, profiles
from loadgen.jobfile.help import option_help, options_overview
from loadgen.plan import WRITE, Plan
from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus

USAGE = """\
usage: loadgen plan JOBFILE... [--section=NAME] [--name=JOB --OPTION=VALUE ...]
       loadgen run  JOBFILE... [--output-format=normal|json|json+|terse[,...]] [--output=FILE]
                    [--jsonl=PATH|-] [--status-interval=TIME] [--eta=auto|always|never]
                    [--section=NAME] [--name=JOB --OPTION=VALUE ...]
                    [--start-at=EPOCH | --release-fd=FD]
                    [--cluster=tcp://HOST:PORT [--hosts=N|all|NAME,...] [--barrier-timeout=TIME]]
       loadgen run|plan --cmdhelp[=OPTION]
       loadgen profiles
       loadgen compare BASE NEW [NEW2 ...] [--output-format=normal|json] [--alpha=A]
                       [--fail-on-regression=PCT]
       loadgen report  RUN.json|RUN.jsonl [--output-format=...] [--output=FILE]
       loadgen plot    RUN.jsonl [RUN2.jsonl ...] -o FILE.png|svg|html
       loadgen schema

Job files use fio's syntax ('-' reads standard input); a JOBFILE that is not a file
names a bundled profile ('loadgen profiles' lists them). Job options given on the
command line before the first --name apply to all jobs; --name=JOB starts a job.
"""


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as one JSON document: groups of jobs, every resolved Job field.

    A job section with ``numjobs=N`` is one entry (as in ``fio --showcmd``), with its N
    workers listed under ``workers`` in fio's thread order (subjob 0, N-1, ..., 1).
    ``bs`` is a convenience: the write-direction block size when it is fixed (equal to the
    read one unless ``bs=r,w`` differs), ``null`` when block sizes vary (bsrange/bssplit).
    """
    groups = []
    for group in plan.groups:
        jobs: list[dict[str, Any]] = []
        for job in group.jobs:
            worker = {"subjob": job.subjob, "thread_number": job.thread_number}
            if job.subjob != 0 and jobs:
                jobs[-1]["workers"].append(worker)
                continue
            fields = job.to_dict()
            fixed = job.bs_min[WRITE] == job.bs_max[WRITE] and not job.bssplit[WRITE]
            fields["bs"] = job.bs_min[WRITE] if fixed else None
            fields["job_options"] = dict(job.job_options)
            fields["workers"] = [worker]
            jobs.append(fields)
        groups.append({"id": group.id, "jobs": jobs})
    return {
        "files": list(plan.files),
        "global_options": dict(plan.global_options),
        "groups": groups,
    }


def _plan(args: list[str]) -> ExitStatus:
    command_line = parse_command_line(args)
    if command_line.help:
        print(USAGE, end="")
        return ExitStatus.OK
    if command_line.cmdhelp is not None:
        print(
            option_help(command_line.cmdhelp) if command_line.cmdhelp else options_overview(),
            end="",
        )
        return ExitStatus.OK
    plan = build_plan(command_line)
    print(json.dumps(plan_document(plan), indent=2))
    return ExitStatus.OK


def _run(args: list[str]) -> ExitStatus:
    fleet, args = split_fleet_options(args)
    command_line = parse_command_line(args)
    if command_line.help or command_line.cmdhelp is not None:
        return _plan(args)
    startup_signals = StartupSignals()  # no traceback or lost report on an early ^C
    startup_signals.install()
    try:
        if fleet is not None:  # the profile runs on Dask workers (docs/fleet.md)
            from loadgen.fleet.command import run_command

            return ExitStatus(run_command(fleet, args, startup_signals))
        plan = build_plan(command_line)
        # One BLAS thread per process: effective only before numpy's first import, which
        # the controller's modules make; the job-file side above imports no numpy.
        pin_blas_threads()
        from loadgen.controller import run

        return run(plan, command_line.run_options, startup_signals=startup_signals)
    finally:
        startup_signals.restore()


def _compare(args: list[str]) -> int:
    from loadgen.analysis.compare import command

    return command(args)


def _report(args: list[str]) -> int:
    from loadgen.report.command import report_command

    return report_command(args)


def _plot(args: list[str]) -> int:
    from loadgen.report.plot import command

    return command(args)


def _schema(args: list[str]) -> int:
    from loadgen.report.command import schema_command

    return schema_command(args)


# results people use (compare, plot, report) and the stream's schema; imported when used
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "compare": _compare, "report": _report, "plot": _plot, "schema": _schema,
}


def main(argv: list[str] | None = None) -> ExitStatus:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return ExitStatus.OK if args else ExitStatus.BAD_INPUT
    command, rest = args[0], args[1:]
    try:
        if command == "plan":
            return _plan(rest)
        if command == "run":
            return _run(rest)
        if command == "profiles" and not rest:
            print(profiles.listing(), end="")
            return ExitStatus.OK
        if command == "profiles":
            raise InputError(f"profiles: takes no arguments (got {rest[0]!r})")
        if command in SUBCOMMANDS:
            return ExitStatus(SUBCOMMANDS[command](rest))
        commands = ", ".join(["plan", "run", "profiles", *SUBCOMMANDS])
        raise InputError(f"unknown command {command!r} (use {commands})")
    except InputError as exc:
        print_note(f"loadgen: {exc}" if not exc.location else str(exc))
        return ExitStatus.BAD_INPUT
    except BrokenPipeError:
        # The reader of our stdout went away (`loadgen plan ... | head`): not an error of
        # ours or theirs.  Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
