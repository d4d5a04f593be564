"""The ``loadgen`` command line: ``loadgen plan`` prints the resolved plan, ``loadgen run`` runs it.

Every user mistake ends here as one line on stderr and exit status 2, never a traceback.
``main`` installs loadgen's signal handling first: this module imports nothing heavy at
its top (the job-file language, numpy and the controller come after), so a SIGINT or
SIGTERM from loadgen's first line on is remembered, said in one line and ends with
status 3 (``loadgen.startup_signals``).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import os
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from loadgen import hostcheck
from loadgen.errors import InputError, MultiInputError
from loadgen.sinks import guard_standard_fds, std_fd_closed
from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus

if TYPE_CHECKING:
    from loadgen.jobfile import CommandLine
    from loadgen.plan import Plan

USAGE = """\
usage: loadgen [run] JOBFILE... [RUN FLAGS] [--section=NAME] [--name=JOB --OPTION=VALUE ...]
                     [--cluster=tcp://HOST:PORT [--hosts=N|all|NAME,...] [--barrier-timeout=TIME]]
       loadgen plan  JOBFILE... [--section=NAME] [--name=JOB --OPTION=VALUE ...]
       loadgen profiles
       loadgen compare BASE NEW [NEW2 ...] [--output-format=normal|json] [--alpha=A]
                       [--fail-on-regression=PCT]
       loadgen report  RUN.json|RUN.jsonl [--output-format=...] [--output=FILE]
       loadgen plot    RUN.jsonl [RUN2.jsonl ...] -o FILE.png|svg|html
       loadgen schema
       loadgen --version | --help | --cmdhelp[=OPTION]

'loadgen JOBFILE' runs it as 'fio JOBFILE' does; 'loadgen plan' prints the resolved plan
as JSON. Job files use fio's syntax ('-' reads standard input); a JOBFILE that is not a
file names a bundled profile ('loadgen profiles' lists them). Job options given on the
command line before the first --name apply to all jobs; --name=JOB starts a job
(--timeout=T is fio's alias of runtime=T, as a job option).
"""


def usage() -> str:
    """--help: the commands, then every run flag with its value and default."""
    from loadgen.jobfile.cmdline import RUN_FLAGS

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
    from loadgen.plan import WRITE

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
    return {"files": list(plan.files), "global_options": dict(plan.global_options),
            "groups": groups}


def _plan(args: list[str], signals: StartupSignals) -> int:
    import json

    from loadgen.jobfile import build_plan, parse_command_line

    command_line = parse_command_line(args)
    if closed := std_fd_closed(1):  # the plan, the help: all of it goes to stdout
        raise InputError(f"plan: cannot write: {closed}")
    if _answers_alone(command_line):
        return ExitStatus.OK
    plan = build_plan(command_line)
    if signals.received:  # stopped while reading: the plan is not printed
        return ExitStatus.SIGNALLED
    print(json.dumps(plan_document(plan), indent=2))
    return ExitStatus.OK


def _answers_alone(command_line: CommandLine) -> bool:
    """--help, --version, --cmdhelp, --showcmd and --parse-only end the command (fio's order)."""
    from loadgen import __version__
    from loadgen.jobfile import build_plan, show_command
    from loadgen.jobfile.help import option_help, options_overview

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


def _run(args: list[str], signals: StartupSignals) -> int:
    # One BLAS thread per process: effective only before numpy's first import, which
    # the controller's modules make; the job-file side imports no numpy.
    from loadgen.blas import pin_blas_threads
    from loadgen.launch import HelperProcess

    pin_blas_threads()
    # Off until the imports are done: they make a hundred thousand objects that live as
    # long as the process, and each collection they trigger would walk them all.
    gc.disable()
    # Started first, so that its numba import overlaps reading the job files and the
    # controller's imports; a command that turns out to need none (bad input, a fleet,
    # --parse-only) discards it before it did anything.
    helper = HelperProcess()
    try:
        from loadgen.fleet.options import split_fleet_options
        from loadgen.jobfile import build_plan, parse_command_line

        fleet, args = split_fleet_options(args)
        command_line = parse_command_line(args)
        if _answers_alone(command_line):
            return ExitStatus.OK
        if fleet is not None:  # the profile runs on Dask workers (docs/fleet.md)
            from loadgen.fleet.command import run_command

            helper.discard()
            return run_command(fleet, args, signals)
        plan = build_plan(command_line)
        from loadgen.controller import run

        gc.freeze()  # what the imports made: out of every later collection's walk
        gc.enable()
        return int(run(plan, command_line.run_options, startup_signals=signals, helper=helper))
    finally:
        gc.enable()
        helper.discard()  # a no-op once the run took it over


def _profiles(args: list[str]) -> int:
    from loadgen.jobfile import profiles

    if args:
        raise InputError(f"profiles: takes no arguments (got {args[0]!r})")
    print(profiles.listing(), end="")
    return ExitStatus.OK


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


# the bundled profiles, results people use (compare, plot, report) and the stream's
# schema; each imports what it needs when used
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "profiles": _profiles, "compare": _compare, "report": _report, "plot": _plot,
    "schema": _schema,
}


def _out_of_fds(exc: BaseException) -> OSError | None:
    """The EMFILE/ENFILE in ``exc`` (or in the exception group the event loop raised)."""
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return exc
    for inner in exc.exceptions if isinstance(exc, BaseExceptionGroup) else ():
        if (found := _out_of_fds(inner)) is not None:
            return found
    return None


def console() -> NoReturn:
    """The ``loadgen`` command: ``main``, then the process ends at once.

    The interpreter's own teardown frees every module and object one by one, some 60 ms
    after a storm's report (docs/performance.md).  Everything loadgen writes is closed
    by the time ``main`` returns, so what that teardown would still do is done here:
    the standard streams flushed, non-daemon threads joined, the atexit functions run."""
    status = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # (a reader that went away is not an error: see _main)
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    if problem := hostcheck.not_linux():
        print(f"loadgen: {problem}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    signals = StartupSignals()  # before anything heavy: see the module docstring
    signals.install()
    guard_standard_fds()  # before anything opens a file: a closed fd 1 is not reused
    try:
        if problem := hostcheck.missing_features():
            print(f"loadgen: {problem}", file=sys.stderr)
            return ExitStatus.BAD_INPUT
        return _main(list(sys.argv[1:] if argv is None else argv), signals)
    finally:
        signals.restore()


def _main(args: list[str], signals: StartupSignals) -> int:
    if not args:
        print(usage(), end="", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    if args[0] in ("help", "-h"):
        args[0] = "--help"
    command, rest = args[0], args[1:]
    try:
        if command == "plan":
            return _plan(rest, signals)
        if command in SUBCOMMANDS:
            return SUBCOMMANDS[command](rest)
        # 'loadgen JOBFILE' is 'loadgen run JOBFILE', as 'fio JOBFILE'
        return _run(rest if command == "run" else args, signals)
    except MultiInputError as errors:  # every mistake of the job files, in file order
        from loadgen.jobfile import print_note

        for error in errors.errors:
            print_note(str(error))
        return ExitStatus.BAD_INPUT
    except InputError as exc:
        from loadgen.jobfile import print_note

        print_note(f"loadgen: {exc}" if not exc.location else str(exc))
        return ExitStatus.BAD_INPUT
    except BrokenPipeError:
        # The reader of our stdout went away (`loadgen plan ... | head`): not an error of
        # ours or theirs.  Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as exc:  # only fd exhaustion is caught; anything else goes on up
        if (out_of_fds := _out_of_fds(exc)) is None:
            raise
        # the run checks its fd budget before it starts (controller.limits); this is
        # the backstop where something else took the descriptors meanwhile
        print(f"loadgen: out of file descriptors: {out_of_fds.strerror}"
              f"{f': {out_of_fds.filename}' if out_of_fds.filename else ''}"
              " (raise RLIMIT_NOFILE: ulimit -n)", file=sys.stderr)
        return ExitStatus.FAILED
