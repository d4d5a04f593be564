"""The ``loadgen`` command line: ``loadgen plan`` prints the resolved plan, ``loadgen run`` (or
``loadgen JOBFILE``, as ``fio JOBFILE``) runs it.

Every user mistake ends here as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import Any

from loadgen import __version__
from loadgen.errors import InputError, MultiInputError
from loadgen.jobfile import CommandLine, build_plan, parse_command_line, print_note, show_command
from loadgen.jobfile.cmdline import RUN_FLAGS
from loadgen.jobfile.help import option_help, options_overview
from loadgen.plan import WRITE, Plan
from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus

USAGE = """\
usage: loadgen [run] JOBFILE... [RUN FLAGS] [--section=NAME] [--name=JOB --OPTION=VALUE ...]
       loadgen plan  JOBFILE... [--section=NAME] [--name=JOB --OPTION=VALUE ...]
       loadgen --version | --help | --cmdhelp[=OPTION]

'loadgen JOBFILE' runs it as 'fio JOBFILE' does; 'loadgen plan' prints the resolved plan
as JSON. Job files use fio's syntax ('-' reads standard input). Job options given on the
command line before the first --name apply to all jobs; --name=JOB starts a job
(--timeout=T is fio's alias of runtime=T, as a job option).
"""


def usage() -> str:
    """--help: the commands, then every run flag with its value and default."""
    lines = [USAGE, "run flags (fio's):"]
    for flag in RUN_FLAGS:
        spelled = f"--{flag.name}" + (f"[={flag.value}]" if flag.optional_value and flag.value
                                      else f"={flag.value}" if flag.value else "")
        default = f" (default: {flag.default})" if flag.default else ""
        text = textwrap.wrap(flag.help + default, 96 - 39)
        lines.append(f"  {spelled:<36} {text[0]}")
        lines += [" " * 39 + more for more in text[1:]]
    return "\n".join(lines) + "\n"


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
    return {"files": list(plan.files), "global_options": dict(plan.global_options), "groups": groups}


def _plan(args: list[str]) -> int:
    command_line = parse_command_line(args)
    if _answers_alone(command_line):
        return 0
    plan = build_plan(command_line)
    print(json.dumps(plan_document(plan), indent=2))
    return 0


def _answers_alone(command_line: CommandLine) -> bool:
    """--help, --version, --cmdhelp, --showcmd and --parse-only end the command (fio's order)."""
    if command_line.help:
        print(usage(), end="")
    elif command_line.version:
        print(f"loadgen-{__version__}")
    elif command_line.cmdhelp is not None:
        name = command_line.cmdhelp
        print(option_help(name) if name else options_overview(), end="")
    elif command_line.showcmd:
        print(show_command(command_line), end="")
    elif command_line.parse_only:
        build_plan(command_line)
    else:
        return False
    return True


def _run(args: list[str]) -> int:
    command_line = parse_command_line(args)
    if _answers_alone(command_line):
        return 0
    startup_signals = StartupSignals()  # reliability: no traceback or lost report on an early ^C
    startup_signals.install()
    try:
        plan = build_plan(command_line)
        try:
            from loadgen.controller import run
        except ImportError:
            print("loadgen: run: controller not available", file=sys.stderr)
            return 1
        return int(run(plan, command_line.run_options, startup_signals=startup_signals))
    finally:
        startup_signals.restore()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), end="", file=sys.stderr)
        return int(ExitStatus.BAD_INPUT)
    if args[0] == "help":
        args[0] = "--help"
    command, rest = (args[0], args[1:]) if args[0] in ("plan", "run") else ("run", args)
    try:
        if command == "plan":
            return _plan(rest)
        return _run(rest)  # 'loadgen JOBFILE' is 'loadgen run JOBFILE', as 'fio JOBFILE'
    except MultiInputError as errors:
        for error in errors.errors:
            print_note(str(error))
        return int(ExitStatus.BAD_INPUT)
    except InputError as exc:
        print_note(f"loadgen: {exc}" if not exc.location else str(exc))
        return int(ExitStatus.BAD_INPUT)
    except BrokenPipeError:
        # The reader of our stdout went away (`loadgen plan ... | head`): not an error of
        # ours or theirs.  Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitStatus.OK)
