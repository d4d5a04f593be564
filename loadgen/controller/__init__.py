"""The asyncio controller: runs a ``Plan`` and hands the ``RunResult`` to the reports.

``run(plan, opts)`` is the whole run and returns the exit status (0 every job ok,
1 a job failed or a worker died, 3 stopped by a signal); ``execute`` is the same
run returning the ``RunResult`` itself.
"""

from __future__ import annotations

from loadgen.controller.blas import pin_blas_threads

pin_blas_threads()  # before anything below imports numpy

import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

import anyio  # noqa: E402

from loadgen import __version__  # noqa: E402
from loadgen.controller.aggregator import Aggregator, aggregate_metrics  # noqa: E402
from loadgen.controller.progress import ProgressLine, wanted  # noqa: E402
from loadgen.controller.reportout import ReportOutput  # noqa: E402
from loadgen.controller.spawner import Spawner  # noqa: E402
from loadgen.controller.supervisor import Supervisor  # noqa: E402
from loadgen.errors import InputError  # noqa: E402
from loadgen.kernel.sysinfo import run_header  # noqa: E402
from loadgen.plan import Plan, RunOptions  # noqa: E402
from loadgen.report.jsonl import JsonlWriter, header_fields  # noqa: E402
from loadgen.report.writer import render_formats  # noqa: E402
from loadgen.results import RunResult  # noqa: E402

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_SIGNALLED = 3

__all__ = ["run", "execute", "exit_status", "EXIT_OK", "EXIT_JOB_FAILED", "EXIT_SIGNALLED"]


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit: a storm needs a few fds per worker."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


CONTROLLER_NICE_BOOST = 20


def boost_priority() -> int:
    """Raise the controller (and the fork helper) above the workers; returns the workers' nice.

    The controller needs ~2% of a core but needs it *promptly*: on a box with hundreds
    of CPU-bound workers at equal priority, it waited for CPU long enough to fill the
    stats pipe and block workers in write.  Workers go back to the original nice.
    """
    original = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(original - CONTROLLER_NICE_BOOST, -20))
    except OSError:
        pass  # not privileged: run at equal priority
    return original


def _header(plan: Plan, opts: RunOptions, nofile: int, controller_nice: int) -> dict[str, Any]:
    """The reproducibility header (kernel, CPU, THP, job files) plus how this controller runs."""
    header = run_header(plan, opts.command_line)
    header["worker_start"] = "fork from a preloaded helper process"
    header["rlimit_nofile"] = nofile
    header["controller_nice"] = controller_nice
    return header


def _run_start(writer: JsonlWriter, plan: Plan, opts: RunOptions, header: dict[str, Any]) -> None:
    sections = [j.to_dict() for j in plan.jobs if j.subjob == 0]
    writer.write("run_start", {
        "loadgen.version": __version__,
        "config.command_line": " ".join(opts.command_line),
        "config.files": list(plan.files),
        "config.groups": len(plan.groups),
        "config.jobs": len(plan.jobs),
        "config.status_interval_ns": opts.status_interval_ns,
        "config.global_options": dict(plan.global_options),
        "config.sections": sections,
        **header_fields(header),
    })


def _open_stream(opts: RunOptions, run_id: str, host: str, epoch_ns: int, mono_ns: int) -> JsonlWriter | None:
    """The --jsonl writer, opened before anything starts: a bad path is the user's to fix."""
    if not opts.jsonl:
        return None
    try:
        return JsonlWriter(opts.jsonl, run_id, host, epoch_ns, mono_ns)
    except OSError as exc:
        raise InputError(f"--jsonl: cannot open {opts.jsonl}: {exc.strerror}") from exc


def _cpu_s() -> float:
    """This process's own CPU seconds so far (user + system; the workers are not ours)."""
    times = os.times()
    return times.user + times.system


def exit_status(result: RunResult) -> int:
    if result.interrupted:
        return EXIT_SIGNALLED
    if any(j.error for j in result.jobs):
        return EXIT_JOB_FAILED
    return EXIT_OK


def execute(plan: Plan, opts: RunOptions, report: ReportOutput | None = None) -> RunResult:
    """Run every group in order; the result holds every job that started, even when stopped.

    ``report`` receives the SIGUSR1 snapshots (default: where ``opts`` sends reports).
    """
    cpu_at_start = _cpu_s()
    nofile = raise_fd_limit()
    run_id = uuid.uuid4().hex
    start_epoch_ns, start_mono_ns = time.time_ns(), time.monotonic_ns()
    host = socket.gethostname()
    writer = _open_stream(opts, run_id, host, start_epoch_ns, start_mono_ns)
    progress = ProgressLine() if wanted(opts.eta) else None
    agg = Aggregator(writer, start_epoch_ns - start_mono_ns)
    worker_nice = boost_priority()
    controller_nice = os.getpriority(os.PRIO_PROCESS, 0)
    spawner = Spawner(worker_nice)  # from the main thread, before the loop: see spawner.py
    previous_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # never fatal, before and after the loop
    try:
        supervisor = Supervisor(plan, opts, spawner, agg, progress, report or ReportOutput(opts))
        supervisor.result.header = _header(plan, opts, nofile, controller_nice)
        supervisor.result.run_id, supervisor.result.start_epoch_ns = run_id, start_epoch_ns
        if writer is not None:
            _run_start(writer, plan, opts, supervisor.result.header)
        try:
            result = anyio.run(supervisor.run, backend="asyncio", backend_options={"use_uvloop": True})
        except KeyboardInterrupt:  # SIGINT before the signal receiver was listening
            result = supervisor.result
            result.interrupted = True
    finally:
        signal.signal(signal.SIGUSR1, previous_usr1)
        spawner.close()
        os.setpriority(os.PRIO_PROCESS, 0, worker_nice)  # a library caller gets its priority back
    result.end_epoch_ns = time.time_ns()
    cpu_s = _cpu_s() - cpu_at_start
    result.extras["controller_cpu_s"] = cpu_s
    result.extras["controller_cpu_pct"] = 100.0 * cpu_s * 1e9 / max(result.end_epoch_ns - start_epoch_ns, 1)
    if writer is not None:
        writer.write("run_end", {
            "exit_status": exit_status(result),
            "interrupted": result.interrupted,
            "duration_s": (result.end_epoch_ns - start_epoch_ns) / 1e9,
            "jobs": len(result.jobs),
            "errors": sum(1 for j in result.jobs if j.error),
            **aggregate_metrics(result.jobs),
        })
        writer.close()
    return result


def run(plan: Plan, opts: RunOptions) -> int:
    """The whole run, reports included; returns the process exit status."""
    report = ReportOutput(opts).open()
    previous_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # until the loop listens: never fatal
    try:
        result = execute(plan, opts, report)
        report.write(render_formats(result, opts, with_header=True))
    finally:
        signal.signal(signal.SIGUSR1, previous_usr1)
    sys.stdout.flush()
    return exit_status(result)
