"""The asyncio controller: runs a ``Plan`` and hands the ``RunResult`` to the reports.

``run(plan, opts)`` is the whole run and returns its ``ExitStatus``; ``execute`` is the
same run returning the ``RunResult`` itself.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import replace

import anyio

from loadgen import __version__
from loadgen.controller import limits, memctl, outcome, reportout
from loadgen.controller.aggregator import Aggregator, aggregate_metrics
from loadgen.controller.progress import ProgressLine, wanted
from loadgen.controller.spawner import Spawner
from loadgen.controller.supervisor import Supervisor
from loadgen.errors import InputError
from loadgen.kernel.sysinfo import RunHeader, run_header
from loadgen.launch import HelperProcess, raise_fd_limit
from loadgen.plan import Plan, RunOptions
from loadgen.report import saved
from loadgen.report.jsonl import JsonlWriter, header_fields
from loadgen.report.writer import render_formats
from loadgen.results import RunResult
from loadgen.sinks import Sink, SinkError, SinkFull
from loadgen.startup_signals import StartupSignals
from loadgen.status import ExitStatus, StopReason

__all__ = ["execute", "exit_status", "run"]


def _header(
    plan: Plan, opts: RunOptions, nofile: int, controller_nice: int, oom_score_adj: int
) -> RunHeader:
    """The reproducibility header (kernel, CPU, THP, job files) plus how this controller runs."""
    header = run_header(plan, opts.command_line)
    header["worker_start"] = "fork from a preloaded helper process"
    header["rlimit_nofile"] = nofile
    header["controller_nice"] = controller_nice
    header["controller_oom_score_adj"] = oom_score_adj
    return header


def _run_start(writer: JsonlWriter, plan: Plan, opts: RunOptions, header: RunHeader) -> None:
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
        "state": saved.dumps(saved.start_doc(plan, header)),  # for `loadgen report`
    })


def _open_stream(
    opts: RunOptions, run_id: str, host: str, epoch_ns: int, mono_ns: int
) -> JsonlWriter | None:
    """The --jsonl writer, opened before anything starts: a bad path is the user's to fix."""
    if not opts.jsonl:
        return None
    try:
        return JsonlWriter(opts.jsonl, run_id, host, epoch_ns, mono_ns)
    except OSError as exc:
        raise InputError(f"--jsonl: cannot open {opts.jsonl}: {exc.strerror}") from exc


def _cpu_s() -> float:
    """This process's own CPU seconds so far, user + system, all its threads (not the workers;
    CLOCK_PROCESS_CPUTIME_ID is ns-exact where ``os.times`` counts 10 ms ticks)."""
    return time.process_time_ns() / 1e9


def _run_ended(startup_signals: StartupSignals) -> None:
    """The loop's signal receiver is gone (it put the defaults back): the handlers outside
    the loop again, and from now on a signal cuts nothing short (docs/reliability.md)."""
    startup_signals.install()
    startup_signals.end_run()


def exit_status(result: RunResult) -> ExitStatus:
    return outcome.run_exit_status(result, output_failed=bool(result.output_failure))


def execute(plan: Plan, opts: RunOptions, report_sink: Sink | None = None,
            startup_signals: StartupSignals | None = None,
            helper: HelperProcess | None = None) -> RunResult:
    """Run every group in order; the result holds every job that started, even when stopped.

    ``report_sink`` (open) receives the SIGUSR1 snapshots; without one they go where
    ``opts`` sends reports, but never to a file (``run`` owns that).  ``helper``: a fork
    helper launched early (the command line's); the run takes it over, and discards it if
    the run is refused.
    """
    cpu_at_start = _cpu_s()
    try:
        for note in memctl.preflight(plan):  # InputError before anything starts
            print(note, file=sys.stderr)
        memory = memctl.MemoryRun(plan)
        nofile = raise_fd_limit()
        limits.check_fd_budget(plan, opts, nofile)  # before the loop or the helper needs them
        run_id = uuid.uuid4().hex
        start_epoch_ns, start_mono_ns = time.time_ns(), time.monotonic_ns()
        host = socket.gethostname()
        writer = _open_stream(opts, run_id, host, start_epoch_ns, start_mono_ns)
    except BaseException:
        if helper is not None:  # refused: the early helper goes, nothing else started
            helper.discard()
        raise
    progress = ProgressLine(opts.eta_newline_ns / 1e9) if wanted(opts.eta) else None
    oom = outcome.OomWatch.start()
    agg = Aggregator(writer, start_epoch_ns - start_mono_ns, oom, opts.status_interval_ns)
    if helper is None:
        helper = HelperProcess()  # from the main thread, before the loop: see launch.py
    worker_nice, oom_score_adj = helper.worker_nice, helper.oom_score_adj
    controller_nice = os.getpriority(os.PRIO_PROCESS, 0)
    spawner = Spawner(helper)
    # SIGUSR1 is never fatal, before and after the loop
    previous_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        supervisor = Supervisor(
            plan,
            opts,
            spawner,
            agg,
            progress,
            report_sink or reportout.report_sink(replace(opts, output="")).open(),
        )
        supervisor.memory = memory if memory.active else None
        supervisor.result.header = _header(plan, opts, nofile, controller_nice, oom_score_adj)
        supervisor.result.run_id, supervisor.result.start_epoch_ns = run_id, start_epoch_ns
        supervisor.sinks = [
            s for s in (writer.sink if writer else None, report_sink) if s is not None
        ]
        if startup_signals is not None:
            # a signal before the loop listens stops the run at once
            startup_signals.attach(supervisor)
            supervisor.signals_released = lambda: _run_ended(startup_signals)
        if writer is not None:
            writer.on_failure = lambda failure: supervisor.abort(str(failure), StopReason.OUTPUT)
            _run_start(writer, plan, opts, supervisor.result.header)
        try:
            result = anyio.run(
                supervisor.run, backend="asyncio", backend_options={"use_uvloop": True}
            )
        except KeyboardInterrupt:  # SIGINT before the signal receiver was listening
            result = supervisor.result
            result.interrupted = True
        if startup_signals is not None:
            _run_ended(startup_signals)
    finally:
        signal.signal(signal.SIGUSR1, previous_usr1)
        spawner.close()
        memory.close()  # after the workers are gone: their cgroups can go
        oom.close()
        os.setpriority(os.PRIO_PROCESS, 0, worker_nice)  # a library caller gets its priority back
    result.end_epoch_ns = time.time_ns()
    cpu_s = _cpu_s() - cpu_at_start
    result.controller_cpu_s = cpu_s
    result.controller_cpu_pct = 100.0 * cpu_s * 1e9 / max(result.end_epoch_ns - start_epoch_ns, 1)
    if writer is not None and isinstance(writer.failure, SinkFull):
        result.output_failure = f"{writer.failure}; the run was stopped"
    if writer is not None:
        writer.write("run_end", {
            "exit_status": exit_status(result),
            "interrupted": result.interrupted,
            "duration_s": (result.end_epoch_ns - start_epoch_ns) / 1e9,
            "jobs": len(result.jobs),
            "errors": sum(1 for j in result.jobs if j.error),
            **aggregate_metrics(result.jobs),
            "state": saved.dumps(saved.run_facts(result)),  # for `loadgen report`
        })
        writer.close()
    return result


def run(plan: Plan, opts: RunOptions, startup_signals: StartupSignals | None = None,
        helper: HelperProcess | None = None) -> ExitStatus:
    """The whole run, reports included; returns the process exit status.

    ``startup_signals``: already installed by the command line before its imports;
    ``helper``: the fork helper it launched before them (``execute``)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor reopens outputs; never die of it
    if startup_signals is None:  # a library caller: the handlers are ours for this run only
        own_signals = StartupSignals()
        own_signals.install()
        try:
            return run(plan, opts, own_signals, helper)
        finally:
            own_signals.restore()
    try:
        limits.check_fd_budget(plan, opts, raise_fd_limit())  # before --output is emptied
        # --output is checked before anything starts (InputError, exit 2); stdout is a sink
        # too, so a reader that went away ends the run quietly instead of with a
        # BrokenPipeError; with --jsonl=- the report goes to stderr (docs/jsonl.md)
        report = reportout.report_sink(opts).open()
    except BaseException:
        if helper is not None:
            helper.discard()
        raise
    result = execute(plan, opts, report, startup_signals, helper)
    _write_report(report, render_formats(result, opts, with_header=True), result)
    report.close()
    if result.output_failure:
        print(f"loadgen: {result.output_failure}", file=sys.stderr)
    return exit_status(result)


def _write_report(sink: Sink, text: str, result: RunResult) -> None:
    """The end-of-run report; a full disk is the run's failure, a gone reader is not."""
    try:
        if sys.stdout is not None:  # None: loadgen started with stdout closed
            sys.stdout.flush()
        sink.write_text(text)
    except SinkFull as failure:
        result.output_failure = result.output_failure or str(failure)
    except (SinkError, BrokenPipeError):
        pass
