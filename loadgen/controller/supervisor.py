"""Runs a plan group by group on one event loop: spawn, barrier, release, watch, stop.

Per group: one stats pipe shared by all its workers, drained by one task every
``DRAIN_PERIOD_S`` (not on readability: a reader blocked on the pipe is woken by
every write, and the boosted controller then preempts the writing worker inside its
``write``; measured with 256 workers on 2 cores: seconds per worker "blocked" in
write), and one gate pipe whose write end only the controller holds.
Workers set up (mmap) and say READY; once every job is ready (or failed) the
controller closes the gate and every worker's blocked ``read`` returns EOF at
once.  The group ends when every worker process has been reaped *and* the stats
pipe reached EOF (every writer gone), so no message is lost and none is waited for
in vain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import fcntl
import os
import signal
import sys
import time
from typing import Any

import anyio

from loadgen import protocol
from loadgen.controller import outcome
from loadgen.controller.aggregator import Aggregator, JobState
from loadgen.controller.progress import ProgressLine, Snapshot, job_char
from loadgen.controller.spawner import HelperDied, Spawner
from loadgen.plan import Group, Job, Plan, RunOptions
from loadgen.results import GroupResult, RunResult
from loadgen.sinks import Sink

STOP_GRACE_S = 0.75  # SIGTERM first; SIGKILL whatever still runs after this
PIPE_SIZE = 1 << 20  # room for ~250 KiB/s of deltas from every worker before anyone blocks
PROGRESS_TICK_S = 1.0
DRAIN_PERIOD_S = 0.02  # the 1 MiB pipe holds >50 ms of 256 workers at 100 ms intervals


def worker_units(jobs: tuple[Job, ...]) -> list[list[Job]]:
    """One process per process-mode job; all thread-mode jobs of a group share one (one mm)."""
    ordered = sorted(jobs, key=lambda j: j.thread_number)
    units = [[j] for j in ordered if not j.thread]
    threads = [j for j in ordered if j.thread]
    return units + ([threads] if threads else [])


def _enlarge_pipe(fd: int) -> None:
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            limit = int(f.read())
    except (OSError, ValueError):
        limit = PIPE_SIZE
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(PIPE_SIZE, limit))
    except OSError:
        pass  # the default 64 KiB still works; writers may block sooner (measured: report_block_ns)


class _GroupRun:
    """One group's life: its pipes, its workers, and the loop callbacks that watch them."""

    def __init__(self, sup: Supervisor, group: Group) -> None:
        self.sup = sup
        self.group = group
        self.agg = sup.agg
        self.result = self.agg.begin_group(group)
        self.reassembler = protocol.Reassembler()
        self.changed = asyncio.Event()
        self.pid_states: dict[int, list[JobState]] = {}
        self.early_exits: dict[int, int] = {}  # exits seen before the pid list arrived
        self.live: set[int] = set()
        self.eof = False
        self.gate_w = -1
        self.released = False
        self.data_r = -1
        self.t_first_fork_ns = 0
        # oom_policy=respawn (reliability, issue 7): a write end of the stats pipe kept for
        # replacement workers until no worker is left, and respawns under way
        self.keep_w = -1
        self.respawning = 0
        self.spawn_lock = asyncio.Lock()

    # ---- loop callbacks ---------------------------------------------------------------------
    def _read_data(self) -> None:
        """Read everything available on the stats pipe (non-blocking)."""
        while not self.eof:
            try:
                data = os.read(self.data_r, 1 << 20)
            except BlockingIOError:
                break
            if not data:
                self.eof = True
                break
            for thread_number, kind, payload in self.reassembler.feed(data):
                self.agg.on_message(thread_number, kind, payload)
        self.changed.set()

    def _on_exit(self, pid: int, status: int) -> None:
        if pid not in self.pid_states:
            self.early_exits[pid] = status
            return
        self._read_data()  # the worker's last messages are in the pipe already: count them first
        states = self.pid_states[pid]
        for state in states:
            self.reassembler.drop(state.job.thread_number)
        self.live.discard(pid)
        for state, end in self.agg.classify_exit(states, status, self.sup.stopping):
            self._after_end(state, end, len(states))
        self._release_keep_w()
        self.changed.set()

    # ---- worker deaths (reliability, issue 7) ------------------------------------------------
    def _after_end(self, state: JobState, end: outcome.Outcome, unit_size: int) -> None:
        """``oom_policy``: report the end, respawn the worker, or abort the run."""
        action = "continue" if self.sup.stopping else outcome.next_action(
            end, state.job.oom_policy, state.restarts)
        job = self._respawn_job(state.job) if action == "respawn" and unit_size == 1 else None
        if job is not None and self.keep_w >= 0:
            self.agg.record_respawn(state, end)
            self.sup.notice(f"{state.job.name} (pid {end.pid}): {end.text}; respawned")
            self.respawning += 1
            self.sup.task_group.start_soon(self._respawn, job)
            return
        self.agg.record_end(state, end)
        if end.is_death:
            self.sup.notice(f"{state.job.name} (pid {end.pid}): {end.text}")
        if action == "abort":
            self.sup.abort(f"{state.job.name}: worker pid {end.pid} {end.text}; oom_policy=abort")

    def _respawn_job(self, job: Job) -> Job | None:
        """The job a replacement worker runs: what is left of a runtime, no start delay."""
        if not job.runtime_ns:
            return dataclasses.replace(job, startdelay_ns=(0, 0))
        elapsed = time.monotonic_ns() - self.result.extras.get("release_ns", time.monotonic_ns())
        left = job.runtime_ns + job.ramp_time_ns - elapsed
        if left <= 0:
            return None
        return dataclasses.replace(job, runtime_ns=left, ramp_time_ns=0, startdelay_ns=(0, 0))

    async def _respawn(self, job: Job) -> None:
        """Fork one fresh worker (fresh region) for ``job``; its gate is open from the start."""
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        os.close(gate_w)
        data_w = os.dup(self.keep_w)
        try:
            async with self.spawn_lock:
                reply = await self.sup.spawner.spawn(self.group.id, [[job]],
                                                     self.sup.opts.status_interval_ns, data_w, gate_r)
            self._map_pids([[job]], reply["pids"], reply.get("fork_errno", 0))
            if self.sup.stopping:  # the stop went out while this worker was being forked
                self.sup.spawner.signal_workers(signal.SIGTERM)
        finally:
            os.close(data_w)
            os.close(gate_r)
            self.respawning -= 1
            self._release_keep_w()
            self.changed.set()

    def _release_keep_w(self) -> None:
        """No worker left and none coming: let the stats pipe reach EOF."""
        if self.keep_w >= 0 and not self.live and not self.respawning:
            os.close(self.keep_w)
            self.keep_w = -1

    def _on_helper_death(self) -> None:
        """The helper is gone, and with it (PR_SET_PDEATHSIG) every worker; their wait
        statuses went with it, so they are reported as lost, not as OOM kills."""
        self._read_data()
        for pid in list(self.live):
            self.live.discard(pid)
            for state in self.pid_states[pid]:
                self.reassembler.drop(state.job.thread_number)
                if not state.done:
                    self.agg.record_end(state, outcome.Outcome(
                        "killed", pid, errno.ECHILD, "lost: the worker fork helper exited",
                        signal=signal.SIGKILL))
        self.sup.helper_died()
        self._release_keep_w()
        self.changed.set()

    async def _until(self, done: Any) -> None:
        while not done():
            self.changed.clear()
            await self.changed.wait()

    # ---- the group's phases ------------------------------------------------------------------
    async def run(self) -> GroupResult:
        spawner = self.sup.spawner
        self.data_r, data_w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(self.data_r, False)
        _enlarge_pipe(data_w)
        gate_r, self.gate_w = os.pipe2(os.O_CLOEXEC)
        spawner.on_exit = self._on_exit
        spawner.on_helper_death = self._on_helper_death
        units = worker_units(self.group.jobs)
        if any(j.oom_policy == "respawn" for j in self.group.jobs):
            self.keep_w = os.dup(data_w)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._drain)
                await self._phases(units, data_w, gate_r)
                tg.cancel_scope.cancel()
        finally:
            os.close(self.data_r)
        self._finish()
        return self.result

    async def _drain(self) -> None:
        while not self.eof:
            self._read_data()
            await anyio.sleep(DRAIN_PERIOD_S)

    async def _phases(self, units: list[list[Job]], data_w: int, gate_r: int) -> None:
        spawner = self.sup.spawner
        try:
            try:
                reply = await spawner.spawn(self.group.id, units, self.sup.opts.status_interval_ns, data_w, gate_r)
            except HelperDied:  # every job of the group fails as "cannot create a worker"
                self.sup.helper_died()
                now = time.monotonic_ns()
                reply = {"t_first_fork_ns": now, "t_last_fork_ns": now, "pids": [0] * len(units),
                         "fork_errno": errno.ECHILD}
            finally:
                os.close(data_w)
                os.close(gate_r)
            self.t_first_fork_ns = reply["t_first_fork_ns"]
            self.result.extras["fork_s"] = (reply["t_last_fork_ns"] - reply["t_first_fork_ns"]) / 1e9
            self._map_pids(units, reply["pids"], reply.get("fork_errno", 0))
            self._release_keep_w()
            if self.sup.stopping:
                self.stop()
            await self._until(lambda: all(s.settled for s in self.agg.group_states()) or not self.live)
            self._release()
            await self._until(lambda: self.eof and not self.live)
        finally:
            if self.keep_w >= 0:
                os.close(self.keep_w)
            if not self.released:
                os.close(self.gate_w)

    def _map_pids(self, units: list[list[Job]], pids: list[int], fork_errno: int) -> None:
        for unit, pid in zip(units, pids):
            states = [self.agg.states[j.thread_number] for j in unit]
            if not pid:  # the helper could not fork (e.g. EAGAIN from a process limit)
                for state in states:
                    self.agg.fail(state, fork_errno or errno.EAGAIN,
                                  f"cannot create a worker process: {os.strerror(fork_errno or errno.EAGAIN)}",
                                  "spawn_failed")
                continue
            for state in states:
                state.result.pid = pid
            self.pid_states[pid] = states
            self.live.add(pid)
        for pid, status in self.early_exits.items():
            self._on_exit(pid, status)
        self.early_exits.clear()

    def _release(self) -> None:
        """Open the gate for every worker at one instant (EOF to all readers)."""
        if self.released:
            return
        release_ns = time.monotonic_ns()  # before the close: workers may run at once
        os.close(self.gate_w)
        self.released = True
        ready = [s.ready_ns for s in self.agg.group_states() if s.ready_ns]
        self.result.spawn_s = ((max(ready) - self.t_first_fork_ns) / 1e9) if ready else 0.0
        self.result.extras["release_ns"] = release_ns
        self.result.extras["workers"] = len(self.pid_states)
        if self.agg.writer is not None:
            self.agg.writer.write("start", {"group": self.group.id, "jobs": len(self.group.jobs),
                                            "workers": len(self.pid_states), "spawn_s": self.result.spawn_s})

    def stop(self) -> None:
        """Ask every worker to finish now (SIGTERM), and let the ones still in setup through."""
        self.sup.spawner.signal_workers(signal.SIGTERM)
        if self.pid_states:
            self._release()

    def kill(self) -> None:
        self.sup.spawner.signal_workers(signal.SIGKILL)

    def _finish(self) -> None:
        states = self.agg.group_states()
        firsts = [s.result.totals.first_op_ns for s in states if s.result.totals.first_op_ns]
        self.result.start_skew_ns = (max(firsts) - min(firsts)) if firsts else 0
        for state in states:
            state.result.extras["ready_ns"] = state.ready_ns
            state.result.extras["first_op_ns"] = state.result.totals.first_op_ns
            if not state.done and not state.result.error:
                # reaped and EOF, but no DONE: the worker ended its job without saying so
                self.agg.fail(state, errno.EIO, "worker ended without finishing its job", "worker_died")
            self.agg.job_end(state)
        self.agg.group_end(self.result)


class Supervisor:
    """The whole run: groups in order, signals, the progress line."""

    def __init__(self, plan: Plan, opts: RunOptions, spawner: Spawner, agg: Aggregator,
                 progress: ProgressLine | None) -> None:
        self.plan = plan
        self.opts = opts
        self.spawner = spawner
        self.agg = agg
        self.progress = progress
        self.stopping = False
        self.stop_reason = ""  # signal | abort | output (reliability, issue 7)
        self.sinks: list[Sink] = []  # reopened on SIGHUP
        self.helper_gone = False
        self.current: _GroupRun | None = None
        self.result = RunResult(plan=plan)
        self.task_group: anyio.abc.TaskGroup | None = None

    async def run(self) -> RunResult:
        self.spawner.attach()
        try:
            async with anyio.create_task_group() as tg:
                self.task_group = tg
                tg.start_soon(self._watch_signals, tg)
                if self.progress is not None:
                    tg.start_soon(self._show_progress)
                for group in self.plan.groups:
                    if self.stopping:
                        break
                    self.current = _GroupRun(self, group)
                    self.result.groups.append(await self.current.run())
                    self.current = None
                tg.cancel_scope.cancel()
        finally:
            self.spawner.detach()
            if self.progress is not None:
                self.progress.clear()
        self.result.interrupted = self.stop_reason == "signal"
        return self.result

    async def _watch_signals(self, tg: anyio.abc.TaskGroup) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self._reopen_outputs()
                    continue
                if self.stop_reason == "signal" and signum == signal.SIGINT:
                    self._exit_now()
                self.stop_reason = "signal"
                self._stop_all(f"{signal.Signals(signum).name}: stopping all workers", "signal", "warning")

    def _stop_all(self, message: str, action: str, level: str) -> None:
        already = self.stopping
        self.stopping = True
        self.agg.event(action, message, level=level)
        if self.current is not None and not already:
            self.current.stop()
            if self.task_group is not None:
                self.task_group.start_soon(self._kill_after_grace, self.current)

    def abort(self, message: str, reason: str = "abort") -> None:
        """Stop the run for a reason of its own (oom_policy=abort, an output that failed):
        like SIGTERM, but the run counts as ended, not interrupted."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop_all(message, reason, "error")

    def helper_died(self) -> None:
        """The fork helper exited (a bug, or killed): no worker can start or be watched any
        more, so the run stops; the helper's traceback goes to the event record."""
        if self.helper_gone:
            return
        self.helper_gone = True
        trace = self.spawner.crash_traceback
        self.agg.event("helper_died", "the worker fork helper exited", errno.ECHILD, level="error",
                       details={"outcome.traceback": trace} if trace else None)
        self.notice("the worker fork helper exited" + (f" ({trace.strip().splitlines()[-1]})" if trace else "")
                    + "; stopping the run")
        self.abort("the worker fork helper exited", "helper")

    def notice(self, line: str) -> None:
        """One line on stderr for a person (a worker's death: fio's "got signal=9"); the
        details are in the JSON lines and the report."""
        if self.progress is not None:
            self.progress.clear()
        print(f"loadgen: {line}", file=sys.stderr, flush=True)

    def _reopen_outputs(self) -> None:
        """SIGHUP (logrotate): open the output paths again; a failure keeps the old file."""
        for sink in self.sinks:
            problem = sink.reopen()
            if problem:
                self.notice(problem)
        self.agg.event("reopen", "SIGHUP: output files reopened")

    async def _kill_after_grace(self, group_run: _GroupRun) -> None:
        await anyio.sleep(STOP_GRACE_S)
        if self.current is group_run:
            group_run.kill()

    def _exit_now(self) -> None:
        """Second SIGINT: no report, no waiting; the helper's death takes every worker with it."""
        if self.progress is not None:
            self.progress.clear()
        self.spawner.kill_now()
        os._exit(3)

    async def _show_progress(self) -> None:
        assert self.progress is not None
        last = time.monotonic()
        last_bytes, last_ios, last_minf = [0, 0], [0, 0], 0
        last_group: _GroupRun | None = None
        while True:
            await anyio.sleep(PROGRESS_TICK_S)
            group_run = self.current
            if group_run is None:
                continue
            if group_run is not last_group:  # rates restart with each group
                last_bytes, last_ios, last_minf, last_group = [0, 0], [0, 0], 0, group_run
            now = time.monotonic()
            states = self.agg.group_states()
            totals = [s.result.totals for s in states]
            byts = [sum(t.dirs[i].bytes for t in totals) for i in (0, 1)]
            ios = [sum(t.dirs[i].ios for t in totals) for i in (0, 1)]
            minf = sum(t.minf for t in totals)
            span = max(now - last, 1e-9)
            release = group_run.result.extras.get("release_ns", 0)
            percent, eta = _completion(states, (time.monotonic_ns() - release) if release else 0)
            self.progress.show(Snapshot(
                states=[_state_char(s) for s in states],
                percent=percent,
                read_bps=(byts[0] - last_bytes[0]) / span, write_bps=(byts[1] - last_bytes[1]) / span,
                read_iops=(ios[0] - last_ios[0]) / span, write_iops=(ios[1] - last_ios[1]) / span,
                faults_per_s=(minf - last_minf) / span,
                eta_s=eta,
            ))
            last, last_bytes, last_ios, last_minf = now, byts, ios, minf


def _state_char(state: JobState) -> str:
    if state.result.error:
        return "X"
    if state.done:
        return "_"
    return job_char(state.job.rw) if state.ready_ns else "P"


def _completion(states: list[JobState], elapsed_ns: int) -> tuple[float, float | None]:
    """Percent done and seconds left of a group: by time for timed jobs, else by bytes."""
    fractions = []
    for state in states:
        job = state.job
        if state.done:
            fractions.append(1.0)
        elif job.runtime_ns and (job.time_based or not job.bytes_per_pass):
            fractions.append(min(elapsed_ns / job.runtime_ns, 1.0))
        else:
            planned = job.bytes_per_pass * max(job.loops, 1)
            by_bytes = sum(state.bytes_done) / planned if planned else 0.0
            by_time = elapsed_ns / job.runtime_ns if job.runtime_ns else 0.0
            fractions.append(min(max(by_bytes, by_time), 1.0))
    if not fractions:
        return 0.0, None
    done = sum(fractions) / len(fractions)
    if done <= 0 or not elapsed_ns:
        return 100.0 * done, None
    return 100.0 * done, elapsed_ns / 1e9 * (1 - done) / done
