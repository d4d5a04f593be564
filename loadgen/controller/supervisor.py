"""Runs a plan group by group on one event loop: spawn, barrier, release, watch, stop.

Per group: one stats pipe per worker process (made by the fork helper, see
``loadgen.engine.helper``), all drained by one task every few tens of ms rather
than on readability (no wakeup per worker write, no task or thread per worker),
and one gate pipe whose write end only the controller holds.
Workers set up (mmap) and say READY; once every job is ready (or failed) the
controller closes the gate and every worker's blocked ``read`` returns EOF at
once.  The group ends when every worker process has been reaped *and* every stats
pipe reached EOF, so no message is lost and none is waited for in vain.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import psutil

from loadgen import protocol
from loadgen.controller import jobcontrol, outcome, placement
from loadgen.controller.aggregator import Aggregator, JobState
from loadgen.controller.kernelwatch import KernelWatch
from loadgen.controller.memctl import MemoryRun
from loadgen.controller.progress import ProgressLine, Snapshot, job_char
from loadgen.controller.release import gate_for, until_epoch
from loadgen.controller.spawner import HelperDied, Spawner
from loadgen.kernel import counters
from loadgen.plan import Group, Job, Plan, RunOptions
from loadgen.report import render_snapshot
from loadgen.report.jsonl import EventAction
from loadgen.results import GroupResult, RunResult
from loadgen.sinks import Sink, SinkError
from loadgen.status import ExitStatus, OutcomeKind, StopReason

if TYPE_CHECKING:
    from loadgen.report.prometheus import PrometheusFile

STOP_GRACE_S = 0.75  # SIGTERM first; SIGKILL whatever still runs after this
# Stats-pipe polling: fast until release (READY latency is spawn_s), then a tenth of the
# status interval within these bounds (each 256 KiB pipe holds seconds of deltas; 50
# polls/s would cost a 1 s-interval run of many workers CPU for nothing).
DRAIN_PERIOD_S = 0.02
DRAIN_PERIOD_MAX_S = 0.1
DRAIN_BUDGET_S = 0.02  # most loop time one drain may take before yielding
USS_SAMPLES = 16  # workers per group whose USS is read at the release


def worker_units(jobs: tuple[Job, ...]) -> list[list[Job]]:
    """One process per process-mode job; all thread-mode jobs of a group share one (one mm)."""
    ordered = sorted(jobs, key=lambda j: j.thread_number)
    units = [[j] for j in ordered if not j.thread]
    threads = [j for j in ordered if j.thread]
    return units + ([threads] if threads else [])


class _GroupRun:
    """One group's life: its pipes, its workers, and the loop callbacks that watch them."""

    def __init__(self, sup: Supervisor, group: Group) -> None:
        self.sup = sup
        self.group = group
        self.agg = sup.agg
        self.result = self.agg.begin_group(group)
        self.agg.on_steady = self._steady_stop
        self.changed = anyio.Event()  # set whenever a worker's state moved on
        self.pid_states: dict[int, list[JobState]] = {}
        self.early_exits: dict[int, int] = {}  # exits seen before the pid list arrived
        self.live: set[int] = set()
        self.pipe_of: dict[int, int] = {}  # worker pid -> its stats pipe (read end)
        self.reassemblers: dict[int, protocol.Reassembler] = {}  # open pipes
        self.mapped = False
        self._next_pipe = 0  # where a drain that ran out of time goes on
        self.gate_w = -1
        self.released = False
        self.t_first_fork_ns = 0
        # oom_policy=respawn: replacements being forked; the group ends only when none is
        self.respawning = 0
        self.spawn_lock = anyio.Lock()
        self.kernel_at_release: counters.Snapshot | None = None
        # run control (loadgen.controller.jobcontrol): jobs whose end was acted on, the
        # postruns started, whether an exitall already stops this group
        self.ended: set[int] = set()
        self.postruns: list[subprocess.Popen[bytes]] = []
        self.exiting = False
        self.exit_stopped: set[int] = set()  # the jobs an exitall stopped
        # wait_for: jobs of this group that start when every worker of their waitee is done
        self.waiting = {j.thread_number: j for j in group.jobs if jobcontrol.waits_in(j, group)}
        self.pinned: dict[int, jobcontrol.Pinned] = {}  # lockmem, held until the job ends

    # ---- loop callbacks ---------------------------------------------------------------------
    def _read_pipe(self, fd: int) -> None:
        """Read what one worker's pipe holds (non-blocking); close it at EOF."""
        reassembler = self.reassemblers.get(fd)
        while reassembler is not None:
            try:
                data = os.read(fd, 1 << 18)
            except BlockingIOError:
                return
            if not data:
                del self.reassemblers[fd]
                os.close(fd)
                return
            for thread_number, kind, payload in reassembler.feed(data):
                self.agg.on_message(thread_number, kind, payload)

    def _read_data(self, budget_s: float = float("inf")) -> bool:
        """Read the pipes round-robin; False when the time budget ran out before all were read.

        The budget keeps a backlog (more deltas than the controller's CPU share can
        handle) from holding the loop for seconds: signals and the progress line go on,
        and the pipes hold the rest.
        """
        fds = list(self.reassemblers)
        start = self._next_pipe % len(fds) if fds else 0
        deadline = time.monotonic() + budget_s
        complete = True
        for i, fd in enumerate(fds[start:] + fds[:start]):
            self._read_pipe(fd)
            if time.monotonic() > deadline:
                self._next_pipe = start + i + 1
                complete = False
                break
        self.changed.set()
        return complete

    @property
    def all_read(self) -> bool:
        """Every worker's pipe reached EOF: nothing more can arrive."""
        return self.mapped and not self.reassemblers

    def _on_exit(self, pid: int, status: int) -> None:
        if pid not in self.pid_states:
            self.early_exits[pid] = status
            return
        self._read_pipe(self.pipe_of[pid])  # its last messages are in the pipe: count them first
        states = self.pid_states[pid]
        self.live.discard(pid)
        # exitall stops the jobs that had not ended when it fired
        stopping = self.sup.stopping or any(st.job.thread_number in self.exit_stopped
                                            for st in states)
        for state, end in self.agg.classify_exit(states, status, stopping):
            self._after_end(state, end, len(states))
        self.changed.set()

    def _steady_stop(self, members: tuple[int, ...]) -> None:
        """steadystate= attained: the members end (fio's fio_mark_td_terminate of the job,
        or of its reporting group) and complete normally; the other jobs of a thread=1
        worker go on."""
        self.sup.spawner.stop_jobs(members)

    # ---- worker deaths ---------------------------------------------------------------------
    def _after_end(self, state: JobState, end: outcome.Outcome, unit_size: int) -> None:
        """``oom_policy``: report the end, respawn the worker, or abort the run."""
        action = "continue" if self.sup.stopping else outcome.next_action(
            end, state.job.oom_policy, state.restarts)
        job = self._respawn_job(state.job) if action == "respawn" and unit_size == 1 else None
        if job is not None:
            self.agg.record_respawn(state, end)
            self.sup.notice(f"{state.job.name} (pid {end.pid}): {end.text}; respawned")
            self.respawning += 1
            # exits are only seen while the supervisor's task group runs
            assert self.sup.task_group is not None
            self.sup.task_group.start_soon(self._respawn, job)
            return
        self.agg.record_end(state, end)
        if end.is_death:
            self.sup.notice(f"{state.job.name} (pid {end.pid}): {end.text}")
        if action == "abort":
            self.sup.abort(f"{state.job.name}: worker pid {end.pid} {end.text}; oom_policy=abort")

    def _respawn_job(self, job: Job) -> Job | None:
        """The replacement's job, timed from this group's release."""
        now = time.monotonic_ns()
        return outcome.replacement_job(job, now - (self.result.release_ns or now))

    async def _respawn(self, job: Job) -> None:
        """Fork one fresh worker (fresh region) for ``job``."""
        try:
            await self._fork_one(job)
        finally:
            self.respawning -= 1
            self.changed.set()

    async def _fork_one(self, job: Job) -> None:
        """Fork one worker for ``job`` with its gate open from the start (a respawn, or a
        job whose waitee ended), placed like its group's workers."""
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        os.close(gate_w)
        try:
            async with self.spawn_lock:
                reply, pipes = await self.sup.spawner.spawn(
                    self.group.id, [[job]], self.sup.opts.status_interval_ns, gate_r,
                    self.sup.origin_ns,
                )
            self._map_pids([[job]], list(reply.pids), pipes, reply.fork_errno)
            self._place(list(reply.pids))  # it runs with the job's nice, cgroup, ...
            if self.sup.stopping or self.exiting:  # the stop went out while it was forked
                self.sup.spawner.signal_workers(signal.SIGTERM)
        except HelperDied:
            self.sup.helper_died()
        finally:
            os.close(gate_r)

    def _on_helper_death(self) -> None:
        """The helper is gone, and with it (PR_SET_PDEATHSIG) every worker; their wait
        statuses went with it, so they are reported as lost, not as OOM kills."""
        for pid in list(self.live):
            self._read_pipe(self.pipe_of[pid])
            self.live.discard(pid)
            for state in self.pid_states[pid]:
                if not state.done:
                    self.agg.record_end(
                        state,
                        outcome.Outcome(
                            OutcomeKind.KILLED,
                            pid,
                            errno.ECHILD,
                            "lost: the worker fork helper exited",
                            signal=signal.SIGKILL,
                        ),
                    )
        self.sup.helper_died()
        self.changed.set()

    async def _until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()``; the group's own task is the only waiter, so a fresh event
        per wait (anyio's cannot be cleared) loses no wake-up: nothing runs between the
        check and the new event."""
        while not done():
            self.changed = anyio.Event()
            await self.changed.wait()
            self._job_endings()

    def _job_endings(self) -> None:
        """A job that just ended starts its exec_postrun and, with exitall, stops the others."""
        for state in self.agg.group_states():
            if not state.done or state.job.thread_number in self.ended:
                continue
            self.ended.add(state.job.thread_number)
            job = state.job
            pinned = self.pinned.pop(job.thread_number, None)
            if pinned is not None:
                pinned.release()
            if job.exec_postrun:
                self.postruns.append(jobcontrol.start_command(job, "postrun", self.sup.worker_nice))
            if not self.exiting and jobcontrol.stops_others(job, bool(state.result.error),
                                                            self.sup.exitall):
                self.exiting = True
                self.exit_stopped = {s.job.thread_number for s in self.agg.group_states()
                                     if not s.done}
                self.agg.event(EventAction.EXITALL, f"job {job.name!r} ended: stopping the jobs of "
                               f"exit_what={job.exit_what}", state=state)
                self.sup.exit_all_jobs = self.sup.exit_all_jobs or job.exit_what == "all"
                self.stop()
        if self.waiting:
            self._start_waiters()

    def _start_waiters(self) -> None:
        """wait_for: start each waiting job whose waitee's workers have all ended (fio's
        ``waitee_running``); a stopped group starts none (they end without I/O, as in fio)."""
        done = {s.job.thread_number for s in self.agg.group_states() if s.done}
        for thread_number, job in list(self.waiting.items()):
            if self.exiting or self.sup.stopping:
                del self.waiting[thread_number]
                self.agg.states[thread_number].done = True
                self.ended.add(thread_number)
            elif jobcontrol.waitee_done(job, self.group, done):
                del self.waiting[thread_number]
                self.respawning += 1  # the group lasts until this worker has run
                assert self.sup.task_group is not None
                self.sup.task_group.start_soon(self._start_late, job)

    async def _start_late(self, job: Job) -> None:
        """Fork the worker of a job whose waitee ended (after its lockmem and prerun)."""
        try:
            pinned, failed = await jobcontrol.pin_all((job,))
            self.pinned.update(pinned)
            if failed or (job.exec_prerun and
                          await jobcontrol.run_preruns((job,), self.sup.worker_nice)):
                self.agg.states[job.thread_number].done = True  # fio: no I/O, no postrun
                self.ended.add(job.thread_number)
                return
            await self._fork_one(job)
        finally:
            self.respawning -= 1
            self.changed.set()

    def _place(self, pids: list[int] | None = None) -> None:
        """nice, prio/prioclass, numa_cpu_nodes and cgroup on each worker, before release."""
        for pid, states in self.pid_states.items():
            if pids is not None and pid not in pids:
                continue
            for state in states[:1]:  # thread=1 jobs of a process agree (checked at parse time)
                if not placement.wanted(state.job):
                    continue
                try:
                    self.sup.placement.apply(state.job, pid)
                except placement.PlacementError as exc:
                    self.sup.notice(f"{state.job.name} (pid {pid}): err={exc.errno}: {exc}")
                    for failed in states:
                        self.agg.fail(failed, exc.errno, str(exc), EventAction.PLACEMENT)
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)  # waiting at the gate: no I/O done

    # ---- the group's phases ------------------------------------------------------------------
    async def run(self) -> GroupResult:
        memory = self.sup.memory  # mTHP/KSM settings and cgroups of the group (memctl)
        if memory is not None and (problem := memory.begin_group(self.group)):
            for state in self.agg.group_states():
                self.agg.fail(state, errno.EPERM, problem, EventAction.SETUP_FAILED)
            self._finish()
            return self.result
        spawner = self.sup.spawner
        gate_r, self.gate_w = os.pipe2(os.O_CLOEXEC)
        spawner.on_exit = self._on_exit
        spawner.on_helper_death = self._on_helper_death
        if self.sup.exit_all_jobs:  # an exit_what=all fired earlier: fio runs nothing more
            failed = {job.thread_number for job in self.group.jobs}
            self.waiting.clear()
        else:
            starting = tuple(j for j in self.group.jobs if j.thread_number not in self.waiting)
            self.pinned, failed = await jobcontrol.pin_all(starting)
            failed |= await jobcontrol.run_preruns(
                tuple(j for j in starting if j.thread_number not in failed), self.sup.worker_nice)
        for thread_number in failed:  # fio: no I/O, no error, no postrun
            self.agg.states[thread_number].done = True
            self.ended.add(thread_number)
        units = worker_units(tuple(j for j in self.group.jobs
                                   if j.thread_number not in failed | set(self.waiting)))
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._drain)
                if units:
                    await self._phases(units, gate_r)
                else:  # nothing starts now; a wait_for job may still start later
                    os.close(gate_r)
                    os.close(self.gate_w)
                    self.released = True
                    self._job_endings()
                    await self._until(lambda: (self.all_read or not self.mapped) and not self.live
                                      and not self.respawning and not self.waiting)
                tg.cancel_scope.cancel()
            self._job_endings()
            await jobcontrol.wait_all(self.postruns)
        finally:
            for fd in self.reassemblers:
                os.close(fd)
            self.reassemblers.clear()
            self.sup.placement.cleanup()
            for pinned in self.pinned.values():
                pinned.release()
        self._finish()
        return self.result

    async def _drain(self) -> None:
        running_period = min(
            max(self.sup.opts.status_interval_ns / 10e9, DRAIN_PERIOD_S), DRAIN_PERIOD_MAX_S
        )
        while True:
            if self._read_data(DRAIN_BUDGET_S):
                await anyio.sleep(running_period if self.released else DRAIN_PERIOD_S)
            else:
                await anyio.sleep(0)  # behind: go on after letting the loop breathe

    async def _phases(self, units: list[list[Job]], gate_r: int) -> None:
        spawner = self.sup.spawner
        try:
            try:
                # the grid origin travels through the gate at release (see _release)
                reply, pipes = await spawner.spawn(
                    self.group.id, units, self.sup.opts.status_interval_ns, gate_r,
                    defer_exits_s=jobcontrol.exit_deferral_s(self.sup.plan, self.group),
                )
            except HelperDied:  # every job of the group fails as "cannot create a worker"
                self.sup.helper_died()
                now = time.monotonic_ns()
                reply, pipes = (
                    protocol.Spawned(self.group.id, (0,) * len(units), now, now, errno.ECHILD),
                    [],
                )
            finally:
                os.close(gate_r)
            self.t_first_fork_ns = reply.t_first_fork_ns
            self.result.fork_s = (reply.t_last_fork_ns - reply.t_first_fork_ns) / 1e9
            self._map_pids(units, list(reply.pids), pipes, reply.fork_errno)
            self._place()
            # a lean worker's READY is in its pipe before the helper replies: read now, not
            # at the next drain, and the gate opens that much sooner
            self._read_data(DRAIN_BUDGET_S)
            if self.sup.stopping:
                self.stop()
            await self._until(lambda: all(s.settled or s.job.thread_number in self.waiting
                                          for s in self.agg.group_states()) or not self.live)
            if self.sup.gate.holds and self.live and not self.sup.stopping:
                at = await self._hold()
                if at and not self.sup.stopping:
                    self.kernel_at_release = counters.snapshot()  # before the instant, not after
                    await until_epoch(at)
            self._release()
            self._job_endings()  # jobs that ended before release (setup errors), waiters
            await self._until(lambda: self.all_read and not self.live and not self.respawning
                              and not self.waiting)
        finally:
            if not self.released:
                os.close(self.gate_w)

    async def _hold(self) -> int:
        """Keep the ready workers at the barrier until the release gate opens or the run
        stops; the instant the gate names for the release (0: at once)."""
        at = [0]
        async with anyio.create_task_group() as tg:

            async def opened() -> None:
                at[0] = await self.sup.gate.wait(self.group.id)
                tg.cancel_scope.cancel()

            tg.start_soon(opened)
            await self._until(lambda: self.sup.stopping or self.released)
            tg.cancel_scope.cancel()
        return at[0]

    def _map_pids(
        self, units: list[list[Job]], pids: list[int], pipes: list[int], fork_errno: int
    ) -> None:
        forked = iter(pipes)
        for unit, pid in zip(units, pids, strict=True):
            states = [self.agg.states[j.thread_number] for j in unit]
            if not pid:  # the helper could not fork (e.g. EAGAIN from a process limit)
                err = fork_errno or errno.EAGAIN
                # a dead helper was said once (helper_died), not once per job
                why = "the fork helper exited" if self.sup.helper_gone else os.strerror(err)
                for state in states:
                    self.agg.fail(state, err, f"cannot create a worker process: {why}",
                                  EventAction.SPAWN_FAILED, say=not self.sup.helper_gone)
                continue
            for state in states:
                state.result.pid = pid
            self.pid_states[pid] = states
            if self.sup.memory is not None:  # into the job's cgroup before the release
                self.sup.memory.place(states[0].job, pid)
            self.live.add(pid)
            fd = next(forked)
            os.set_blocking(fd, False)
            self.pipe_of[pid] = fd
            self.reassemblers[fd] = protocol.Reassembler()
        self.mapped = True
        for pid, status in self.early_exits.items():
            self._on_exit(pid, status)
        self.early_exits.clear()

    def _release(self) -> None:
        """Open the gate for every worker at one instant: each reads the run's interval-grid
        origin (the first release of the run) from it, then EOF."""
        if self.released:
            return
        if not self.kernel_at_release:  # ~1-10 ms while every worker still waits
            self.kernel_at_release = counters.snapshot()
        self._sample_uss()
        release_ns = time.monotonic_ns()  # before the write: workers may run at once
        if not self.sup.origin_ns:
            self.sup.origin_ns = release_ns
        self.agg.start_grid(self.sup.origin_ns)  # the stream's interval grid
        origins = struct.pack("<q", self.sup.origin_ns) * len(self.pid_states)
        try:
            if len(origins) > 65536:
                fcntl.fcntl(self.gate_w, fcntl.F_SETPIPE_SZ, len(origins))
            os.write(self.gate_w, origins)
        except OSError:
            pass  # workers then take the origin as their release (their grid is their own)
        os.close(self.gate_w)
        release_epoch_ns = time.time_ns()
        self.released = True
        self.sup.gate.released(self.group.id, release_epoch_ns)
        ready = [s.ready_ns for s in self.agg.group_states() if s.ready_ns]
        self.result.spawn_s = ((max(ready) - self.t_first_fork_ns) / 1e9) if ready else 0.0
        self.result.release_ns = release_ns
        self.result.release_epoch_ns = release_epoch_ns
        if ready:  # the monotonic instant on the wall clock, read across the release
            self.result.ready_epoch_ns = release_epoch_ns - (release_ns - max(ready))
        self.result.workers = len(self.pid_states)
        if self.agg.writer is not None:
            self.agg.writer.write(
                "start",
                {
                    "group": self.group.id,
                    "jobs": len(self.group.jobs),
                    "workers": len(self.pid_states),
                    "spawn_s": self.result.spawn_s,
                },
            )

    def _sample_uss(self) -> None:
        """The USS of waiting workers (psutil, smaps_rollup): their own memory, region mapped
        but not yet touched, read here so that no worker spends its time on /proc.  Each read
        walks the worker's page tables, the helper's inherited mappings included, so a storm
        samples ``USS_SAMPLES`` workers spread over its fork order, not all."""
        pids = [pid for pid in self.pid_states if pid in self.live]
        for pid in pids[:: max(1, -(-len(pids) // USS_SAMPLES))]:
            try:
                uss = psutil.Process(pid).memory_full_info().uss
            except (psutil.Error, OSError):
                continue
            for state in self.pid_states[pid]:
                state.result.totals.uss_bytes = uss

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
        if self.kernel_at_release is not None:
            # system-wide, so one delta for the group's window serves every job in it
            self.result.kernel = counters.delta(self.kernel_at_release, counters.snapshot())
        if self.sup.memory is not None:
            self.sup.memory.end_group(self.group, [s.result for s in states])
        for state in states:
            state.result.kernel = self.result.kernel
            state.result.ready_ns = state.ready_ns
            if not state.done and not state.result.error:
                # reaped and EOF, but no DONE: the worker ended its job without saying so
                self.agg.fail(state, errno.EIO, "worker ended without finishing its job",
                              EventAction.WORKER_DIED)
            self.agg.job_end(state)
        self.agg.group_end(self.result)


class Supervisor:
    """The whole run: groups in order, signals, the progress line."""

    def __init__(
        self,
        plan: Plan,
        opts: RunOptions,
        spawner: Spawner,
        agg: Aggregator,
        progress: ProgressLine | None,
        report: Sink,
    ) -> None:
        self.plan = plan
        self.opts = opts
        self.spawner = spawner
        self.agg = agg
        self.progress = progress
        self.report = report
        self.stopping = False
        self.stop_reason: StopReason | None = None  # set once: the first reason wins
        self.origin_ns = 0  # the run's first release: origin of every worker's interval grid
        self.sinks: list[Sink] = []  # reopened on SIGHUP
        self.helper_gone = False
        self.current: _GroupRun | None = None
        self.result = RunResult(plan=plan)
        self.task_group: anyio.abc.TaskGroup | None = None
        self.kernel = KernelWatch(agg.writer)
        self.prometheus: PrometheusFile | None = None
        if opts.prometheus:  # the client library is imported only by runs that use it
            from loadgen.report.prometheus import PrometheusFile

            self.prometheus = PrometheusFile(opts.prometheus)
        self.gate = gate_for(opts.start_at_ns, opts.release_fd)  # who says when a group starts
        self.memory: MemoryRun | None = None  # set by execute() when a job uses memory controls
        agg.notice = self.notice
        # called once the loop's signal receiver is gone (loadgen.startup_signals takes over)
        self.signals_released: Callable[[], None] = lambda: None
        self.exitall = jobcontrol.run_exitall(plan)
        self.exit_all_jobs = False  # an exit_what=all fired: every later group stops at once
        self.placement = placement.Placement()
        self.worker_nice = spawner.worker_nice

    async def run(self) -> RunResult:
        try:
            async with anyio.create_task_group() as tg:
                self.task_group = tg
                tg.start_soon(self.spawner.read_replies)
                tg.start_soon(self._watch_signals, tg)
                if self.progress is not None:
                    tg.start_soon(self._show_progress)
                if self.agg.writer is not None:
                    tg.start_soon(self._kernel_intervals)
                if self.prometheus is not None:
                    tg.start_soon(self._prometheus_intervals)
                tg.start_soon(self.gate.watch, self.abort)
                if self.opts.status_interval_given:
                    tg.start_soon(self._status_reports)
                for group in self.plan.groups:
                    if self.stopping:
                        break
                    self.current = _GroupRun(self, group)
                    self.result.groups.append(await self.current.run())
                    self.current = None
                tg.cancel_scope.cancel()
            self.kernel.interval(None, final=True)
            if self.prometheus is not None:
                self.prometheus.write(s.result for s in self.agg.states.values())
        finally:
            self.gate.close()
            if self.progress is not None:
                self.progress.clear()
        self.result.interrupted = self.stop_reason is StopReason.SIGNAL
        return self.result

    async def _watch_signals(self, tg: anyio.abc.TaskGroup) -> None:
        try:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                            signal.SIGUSR1) as signals:
                async for signum in signals:
                    self._on_signal(signum)
        finally:
            # the receiver put the defaults back (SIGTERM would kill us unreported): the
            # run's workers are done or stopping, the handlers outside the loop take over
            self.signals_released()

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            self._reopen_outputs()
            return
        if signum == signal.SIGUSR1:
            self._show_snapshot()
            return
        if self.stop_reason is StopReason.SIGNAL and signum == signal.SIGINT:
            self._exit_now()
        message = f"{signal.Signals(signum).name}: stopping all workers"
        if self.stop_reason is not StopReason.SIGNAL:
            self.notice(message)
        self.stop_reason = StopReason.SIGNAL
        self._stop_all(message, EventAction.SIGNAL, "warning")

    def _stop_all(self, message: str, action: EventAction, level: str) -> None:
        already = self.stopping
        self.stopping = True
        self.agg.event(action, message, level=level)
        if self.current is not None and not already:
            self.current.stop()
            if self.task_group is not None:
                self.task_group.start_soon(self._kill_after_grace, self.current)

    def abort(self, message: str, reason: StopReason = StopReason.ABORT) -> None:
        """Stop the run for a reason of its own (oom_policy=abort, an output that failed):
        like SIGTERM, but the run counts as ended, not interrupted."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop_all(message, EventAction(reason.value), "error")

    def helper_died(self) -> None:
        """The fork helper exited (a bug, or killed): no worker can start or be watched any
        more, so the run stops; the helper's traceback goes to the event record."""
        if self.helper_gone:
            return
        self.helper_gone = True
        trace = self.spawner.crash_traceback
        self.agg.event(EventAction.HELPER_DIED, "the worker fork helper exited", errno.ECHILD,
                       level="error",
                       details={"outcome.traceback": trace} if trace else None)
        last = f" ({trace.strip().splitlines()[-1]})" if trace else ""
        self.notice(f"the worker fork helper exited{last}; stopping the run")
        self.abort("the worker fork helper exited", StopReason.HELPER)

    def notice(self, line: str) -> None:
        """One line on stderr for a person (a worker's death: fio's "got signal=9"); the
        details are in the JSON lines and the report."""
        if self.progress is not None:
            self.progress.clear()
        print(f"loadgen: {line}", file=sys.stderr, flush=True)

    def _reopen_outputs(self) -> None:
        """SIGHUP (logrotate): open the output paths again; a failure keeps the old file."""
        problems = [(problem, sink.reopen_errno) for sink in self.sinks
                    if (problem := sink.reopen())]
        for problem, _ in problems:
            self.notice(problem)
        if problems:  # the event says what happened: it goes on in the old file
            self.agg.event(EventAction.REOPEN, "SIGHUP: " + "; ".join(p for p, _ in problems),
                           problems[0][1], level="warning")
        else:
            self.agg.event(EventAction.REOPEN, "SIGHUP: output files reopened")

    def _show_snapshot(self) -> None:
        """SIGUSR1: the cumulative report of the run so far (fio's show_running_run_stats).

        It reads the totals the aggregator keeps anyway; the workers are not asked anything.
        """
        groups = [*self.result.groups, *([self.current.result] if self.current is not None else [])]
        partial = replace(self.result, groups=groups, end_epoch_ns=0)
        if self.progress is not None:
            self.progress.clear()
        try:
            self.report.write_text(render_snapshot(partial, self.opts))
        except SinkError as exc:  # a full disk, a gone reader: the final report tries again
            self.agg.event(EventAction.OUTPUT, f"SIGUSR1 report not written: {exc}",
                           level="warning")

    async def _status_reports(self) -> None:
        """--status-interval: the cumulative report every interval, as fio's status dumps.

        The reports follow the workers' interval grid (its origin is the run's first release),
        a little after each point, so each one holds the deltas of the interval just ended."""
        interval_ns = self.opts.status_interval_ns
        slack_ns = min(interval_ns // 5, 250_000_000)
        while not self.origin_ns:  # the grid starts at the run's first release
            await anyio.sleep(DRAIN_PERIOD_S)
        point = self.origin_ns
        while True:
            now = time.monotonic_ns()
            late = max((now - slack_ns - point) // interval_ns, 0)  # points missed: skip them
            point += (late + 1) * interval_ns
            await anyio.sleep(max(point + slack_ns - now, 0) / 1e9)
            if self.current is not None:
                self._show_snapshot()

    async def _kill_after_grace(self, group_run: _GroupRun) -> None:
        await anyio.sleep(STOP_GRACE_S)
        if self.current is group_run:
            group_run.kill()

    async def _kernel_intervals(self) -> None:
        """One system-wide ``kernel`` line per status interval (never per worker: ~1 ms each)."""
        while True:
            await anyio.sleep(self.opts.status_interval_ns / 1e9)
            self.kernel.interval(self.current.group.id if self.current is not None else None)

    async def _prometheus_intervals(self) -> None:
        """The --prometheus file, rewritten every status interval with every job's totals so far."""
        assert self.prometheus is not None
        while True:
            await anyio.sleep(self.opts.status_interval_ns / 1e9)
            self.prometheus.write(s.result for s in self.agg.states.values())

    def _exit_now(self) -> None:
        """Second SIGINT: no report, no waiting; the helper's death takes every worker with it."""
        if self.progress is not None:
            self.progress.clear()
        self.spawner.kill_now()
        os._exit(ExitStatus.SIGNALLED)

    async def _show_progress(self) -> None:
        assert self.progress is not None
        last = time.monotonic()
        last_bytes, last_ios, last_minf = [0, 0], [0, 0], 0
        last_group: _GroupRun | None = None
        while True:
            await anyio.sleep(self.opts.eta_interval_ns / 1e9)
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
            release = group_run.result.release_ns
            percent, eta = _completion(states, (time.monotonic_ns() - release) if release else 0)
            self.progress.show(
                Snapshot(
                    states=[_state_char(s) for s in states],
                    percent=percent,
                    read_bps=(byts[0] - last_bytes[0]) / span,
                    write_bps=(byts[1] - last_bytes[1]) / span,
                    read_iops=(ios[0] - last_ios[0]) / span,
                    write_iops=(ios[1] - last_ios[1]) / span,
                    faults_per_s=(minf - last_minf) / span,
                    eta_s=eta,
                    note="compiling the kernel (first run)" if self.spawner.compiling else "",
                )
            )
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
