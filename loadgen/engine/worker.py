"""The body of one forked worker process: set up its jobs, wait at the gate, run, report.

Everything a worker needs is passed to ``worker_process`` explicitly (jobs, pipes, the
interval grid, the helper's clock and overhead calibration, the shared flow table); the
compiled kernel itself
is machine code the fork helper loaded before forking.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import struct
import threading
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

from loadgen import protocol
from loadgen.engine.flow import FlowTable
from loadgen.engine.hygiene import (
    cpus_for,
    die_with_parent,
    set_process_name,
    volunteer_for_oom_killer,
)
from loadgen.engine.runner import Calibration, EngineError, JobRunner, is_timed
from loadgen.engine.stops import StopFlags
from loadgen.plan import Job
from loadgen.stats.jobstats import IntervalStats, SsSample
from loadgen.status import ExitStatus

WORKER_NAME = "loadgen-worker"
ORIGIN = struct.Struct("<q")  # the gate carries the run's interval-grid origin, one per worker


def read_gate(gate_r: int) -> int:
    """Block until the controller opens the gate; returns the origin it wrote (0 if none)."""
    data = b""
    while len(data) < ORIGIN.size:
        chunk = os.read(gate_r, ORIGIN.size - len(data))
        if not chunk:
            break  # closed without an origin: stopped before release, or a respawn
        data += chunk
    os.close(gate_r)
    return ORIGIN.unpack(data)[0] if len(data) == ORIGIN.size else 0


class Worker:
    """The jobs of one unit inside a freshly forked worker process."""

    def __init__(
        self,
        jobs: tuple[Job, ...],
        data_w: int,
        gate_r: int,
        interval_ns: int,
        origin_ns: int,
        calibration: Calibration,
        flow_table: FlowTable,
        stops: StopFlags,
    ) -> None:
        self.jobs = jobs
        self.data_w = data_w
        self.gate_r = gate_r
        self.interval_ns = interval_ns
        self.origin_ns = origin_ns
        self.calibration = calibration
        self.flow_table = flow_table
        self.stops = stops  # the controller's requests to end single jobs (steadystate=)
        self.stopping = False
        self.write_lock = threading.Lock()  # threads of one process share the pipe

    def _send(self, thread_number: int, kind: protocol.MessageKind, payload: bytes) -> int:
        """Send a message; return the ns spent blocked in write."""
        t0 = time.monotonic_ns()
        with self.write_lock:
            protocol.send(self.data_w, thread_number, kind, payload)
        return time.monotonic_ns() - t0

    def _error(self, job: Job, err: int, text: str, trace: str = "", bad: tuple[int, int] = (-1, 0)
               ) -> None:
        message = protocol.JobError(os.getpid(), err, text, trace, *bad)
        self._send(job.thread_number, protocol.ERROR, protocol.encode_message(message))

    def stopper(self, thread_number: int) -> Callable[[], bool]:
        """The job's stop check: SIGTERM (the whole worker) or a request for this job."""
        return lambda: self.stopping or self.stops.requested(thread_number)

    def main(self) -> ExitStatus:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        runners: list[JobRunner] = []
        for job in self.jobs:
            cal = self.calibration
            runner = JobRunner(
                job, cal.overhead_ns(is_timed(job)), cal.tsc_ns_per_tick, self.flow_table
            )
            try:
                runner.setup()
            except EngineError as exc:
                runner.close()
                self._error(job, exc.errno, str(exc))
                continue
            runners.append(runner)
            ready = protocol.Ready(os.getpid(), time.monotonic_ns())
            self._send(job.thread_number, protocol.READY, protocol.encode_message(ready))
        if not runners:
            return ExitStatus.FAILED
        origin = read_gate(self.gate_r)  # EOF (or the origin) for all at once
        self.origin_ns = self.origin_ns or origin
        # Every job runs in a thread of its own, a lone process-mode job too: glibc gives
        # a new thread a malloc arena of its own, so the job's allocations (its deltas,
        # the pattern's batches) come from memory this process touched itself.  From the
        # heap the helper left behind, each would copy-on-write-fault pages the measured
        # window counts, a few more at every report.
        lone = len(runners) == 1 and not runners[0].job.thread
        cpus = cpus_for(runners[0].job) if lone else None
        if cpus is not None:
            # the process is pinned as fio's is, as seen from outside (taskset -p); the
            # job's thread inherits it, and reports a failure itself
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, cpus)
        threads = [threading.Thread(target=self._run, args=(r,)) for r in runners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return ExitStatus.OK

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _run(self, runner: JobRunner) -> None:
        job = runner.job
        blocked_ns = 0

        def report(delta: IntervalStats) -> None:
            nonlocal blocked_ns
            delta.thread_number = job.thread_number
            if delta.final:
                delta.report_block_ns = blocked_ns
            blocked_ns += self._send(
                job.thread_number, protocol.INTERVAL, protocol.encode_interval(delta)
            )

        def sample(ss: SsSample) -> None:
            nonlocal blocked_ns
            blocked_ns += self._send(
                job.thread_number, protocol.SS_SAMPLE, protocol.encode_ss_sample(ss)
            )

        def rehearse(delta: IntervalStats) -> None:
            delta.thread_number = job.thread_number
            protocol.frames(job.thread_number, protocol.INTERVAL, protocol.encode_interval(delta))

        try:
            cpus = cpus_for(job)
            if cpus is not None:
                os.sched_setaffinity(0, cpus)  # 0 = this thread: per-job even in thread mode
            runner.run(
                report, self.interval_ns, self.stopper(job.thread_number), self.origin_ns, sample,
                rehearse,
            )
        except EngineError as exc:
            self._error(job, exc.errno, str(exc), bad=(exc.bad_offset, exc.bad_length))
            return
        except OSError as exc:
            self._error(job, exc.errno or 0, f"{job.name}: {exc.strerror or exc}")
            return
        except Exception as exc:  # a bug: its traceback goes to the event record, not the terminal
            self._error(
                job, errno.EIO, f"{job.name}: {type(exc).__name__}: {exc}", traceback.format_exc()
            )
            return
        finally:
            runner.close()
        done = protocol.Done(os.getpid(), blocked_ns)
        self._send(job.thread_number, protocol.DONE, protocol.encode_message(done))


def worker_process(
    jobs: tuple[Job, ...],
    data_w: int,
    gate_r: int,
    interval_ns: int,
    origin_ns: int,
    calibration: Calibration,
    flow_table: FlowTable,
    stops: StopFlags,
    helper_pid: int,
    nice: int,
) -> NoReturn:
    """Body of a forked worker; never returns into the helper's loop."""
    code = ExitStatus.FAILED
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # the user's priority, not the controller's boost
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(helper_pid)
        set_process_name(WORKER_NAME)
        volunteer_for_oom_killer()
        code = Worker(
            jobs, data_w, gate_r, interval_ns, origin_ns, calibration, flow_table, stops
        ).main()
    except BaseException as exc:  # a worker must end in os._exit, never in the helper loop
        report_crash(jobs, data_w, exc)
    finally:
        os._exit(code)


def report_crash(jobs: tuple[Job, ...], data_w: int, exc: BaseException) -> None:
    """An exception outside a job's run: its traceback goes to the controller (the event
    record), never to the user's terminal."""
    trace = "".join(traceback.format_exception(exc))
    message = protocol.JobError(os.getpid(), errno.EIO, f"{type(exc).__name__}: {exc}", trace)
    for job in jobs:
        try:
            protocol.send(
                data_w, job.thread_number, protocol.ERROR, protocol.encode_message(message)
            )
        except OSError:
            return
