"""``loadgen run ... --cluster=ADDRESS``: checks everything here, then hands over to the
coordinator.  Bad input (a job file, an option, an output path, no ``cluster`` extra, an
unreachable scheduler) is one line and exit 2, with nothing started on any host."""

from __future__ import annotations

from loadgen.errors import InputError
from loadgen.fleet.options import FleetOptions, check_client_options, host_arguments, read_job_files
from loadgen.jobfile import build_plan, parse_command_line
from loadgen.sinks import Sink
from loadgen.startup_signals import StartupSignals


def run_command(
    fleet: FleetOptions, argv: list[str], startup_signals: StartupSignals | None = None
) -> int:
    command_line = parse_command_line(argv)
    check_client_options(command_line)
    build_plan(
        command_line
    )  # resolves here as on the hosts: a mistake fails before any host starts
    files = read_job_files(command_line.job_files)
    args = host_arguments(command_line, files)
    try:
        from loadgen.fleet.coordinator import run_fleet
    except ImportError as exc:
        raise InputError(
            f"--cluster needs the cluster extra (pip install 'loadgen[cluster]'): {exc}"
        ) from None
    from loadgen.controller.reportout import report_sink

    opts = command_line.run_options
    report = report_sink(opts).open()
    stream = Sink(opts.jsonl, f"--jsonl {opts.jsonl}", truncate=True).open() if opts.jsonl else None
    try:
        signals = 1 if startup_signals is not None and startup_signals.received else 0
        return run_fleet(fleet, opts, files, args, stream, report, signals)
    finally:
        if stream is not None:
            stream.close()
        report.close()
