"""The fork helper: a clean process that compiles the kernel once and forks every worker.

The controller starts it (``python -m loadgen.engine.helper``) and talks to it over two
sockets with the messages of ``loadgen.protocol`` (first message: ``Hello`` with the
protocol version).  Before serving, it loads (or compiles and caches) the numba kernel,
calibrates the clock and the kernel's per-I/O overhead (``Calibration``) and freezes its
heap for the garbage collector; before its first Python worker it also runs tiny jobs of
each pattern path (``warm_up``), which lean workers never need.  So every forked worker
inherits machine code and warm state copy-on-write and spends its own CPU on its job
alone.

Each worker gets its own stats pipe (a shared pipe would serialise thousands of writers
on one lock); the read ends go back to the controller in fork order.  Children wait
until the whole group is forked, so that hundreds of runnable children doing their setup
do not starve this single forking process.  A large group of lean workers is forked by
two processes at once, this one and a fork of it (``Helper._co_fork``).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    import gc

    # Until the heap is frozen below: numba's imports make hundreds of thousands of
    # objects, and the collections they would trigger each walk all of them (~0.05 s).
    gc.disable()
    # numba imports SciPy only to check its version, and the kernel uses none of it; kept
    # out, the helper (and so every fork of it) maps less anonymous memory and fewer
    # regions, whose page tables each fork copies (docs/performance.md)
    sys.modules.setdefault("scipy", None)  # type: ignore[arg-type]  # None: "not importable"
    # numba's config imports PyYAML, where installed, only to read a .numba_config.yaml;
    # the helper is configured by its environment alone, and the import costs ~0.02 s
    sys.modules.setdefault("yaml", None)  # type: ignore[arg-type]

import contextlib
import errno
import functools
import gc
import os
import resource
import select
import signal
import socket
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

from loadgen import protocol
from loadgen.engine import flow, forkmem, jit, kernel, leanspawn, verify
from loadgen.engine import lean as lean_layout
from loadgen.engine.clock import TscCalibration
from loadgen.engine.faults import huge_pages_possible, usage_of
from loadgen.engine.hygiene import (
    bare_fork,
    die_with_parent,
    enlarge_pipe,
    keep_heap,
    set_process_name,
)
from loadgen.engine.runner import Calibration, EngineError, JobRunner
from loadgen.engine.stops import StopFlags
from loadgen.engine.worker import worker_process
from loadgen.kernel.sysinfo import meminfo
from loadgen.plan import BsSplitEntry, Job, RwMode
from loadgen.status import ExitStatus

HELPER_NAME = "loadgen-helper"
LEAN_FD_RESERVE = 8  # this group's pipes being made, and a margin
PUMP_MAX_S = 0.25  # the longest a lean worker's published interval waits for its relay
CO_FORK_MIN = 64  # lean workers in a group from which a co-forker forks half of them


def warm_up() -> None:
    """Run tiny jobs of each pattern path once (numba functions load, numpy dispatch
    caches fill) so every worker inherits them instead of repeating them per fork."""
    split = (BsSplitEntry(4096, 50), BsSplitEntry(8192, 50))
    for kw in (
        {"rw": RwMode.RANDRW},
        {"rw": RwMode.RW},
        {"rw": RwMode.RANDRW, "bs_min": (4096, 8192), "bs_max": (4096, 8192)},
        {"rw": RwMode.RANDWRITE, "bssplit": (split, split), "bs_max": (8192, 8192)},
        {"rw": RwMode.RANDREAD, "random_generator": "lfsr"},
        {"rw": RwMode.RANDRW, "rw_postfix": 4, "percentage_random": (50, 50)},
        {"rw": RwMode.READ, "rw_postfix": -8192},
        {"rw": RwMode.RW, "rw_postfix": -8192, "bs_min": (4096, 4096), "bs_max": (8192, 8192)},
        {"rw": RwMode.RANDRW, "zone_size": 65536, "zone_range": 65536, "zone_skip": 65536},
        {"rw": RwMode.READ, "zone_size": 65536, "zone_range": 65536, "zone_skip": 65536},
    ):
        job = Job(
            name="warm-up", thread_number=0, subjob=0, numjobs=1, group_id=0, size=256 * 1024, **kw
        )
        runner = JobRunner(job, overhead_ns=0.0, tsc_ns_per_tick=0.0)
        try:
            runner.setup()
            runner.run(
                lambda d: None if protocol.decode_interval(protocol.encode_interval(d)) else None,
                10**9,
                lambda: False,
            )
        except EngineError:
            pass
        finally:
            runner.close()


class CoForker:
    """A co-forker (``Helper._co_fork``): its pid and the group's first unit it forks."""

    def __init__(self, pid: int, first: int) -> None:
        self.pid = pid
        self.first = first
        self.count = 0  # the workers it forked, as taken over

    def forked(self, index: int, slab: leanspawn.Slab) -> int:
        """Unit ``index``'s outcome there, once the co-forker has ended (waited for here
        the first time): its child's pid, -errno, or 0 (not forked there)."""
        self.end()
        return int(slab.block(index)[lean_layout.S_FORKED])

    def end(self) -> None:
        """Wait for the co-forker, once (when it is done, nothing of it is left)."""
        if self.pid > 0:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


class Helper:
    def __init__(
        self,
        commands: socket.socket,
        replies: socket.socket,
        worker_nice: int,
        calibration: Calibration,
        flow_table: flow.FlowTable,
        stops: StopFlags,
        lean_mode: str = leanspawn.OFF,
    ) -> None:
        self.worker_nice = worker_nice
        self.lean_mode = lean_mode  # how workers that need no Python are forked
        self.lean: dict[int, leanspawn.LeanWorker] = {}  # pid -> its relay
        self.backlog: set[leanspawn.LeanWorker] = set()  # frames queued for a full pipe
        # lean workers publish at their grid points; their relay looks that often, and no
        # more: a storm's thousand exits must not each cost a look at every worker
        self.pump_s = PUMP_MAX_S
        self.next_pump = 0.0
        # ends of lean workers held back while others run (SpawnRequest.defer_exits_s):
        # (worker, pid, status, rusage, reaped_ns), in reap order, sent by ``flush_at``
        self.deferred: list[tuple[leanspawn.LeanWorker, int, int, resource.struct_rusage,
                                  int]] = []
        self.flush_at = 0.0
        # a lean worker's stats pipe stays open here too: lean only while the limit allows
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        try:
            self.fds_before = len(os.listdir("/proc/self/fd"))
        except OSError:  # out of descriptors already
            self.fds_before = self.nofile
        self.calibration = calibration
        self.flow_table = flow_table  # mapped shared: every worker forked counts in it
        self.stops = stops  # mapped shared: every worker forked reads its jobs' flags
        self.warmed: set[Callable[[], None]] = set()  # warm-ups done (``_warm``)
        self.sock = commands
        self.replies = replies
        self.children: set[int] = set()
        self.jobs_of: dict[int, tuple[int, ...]] = {}  # pid -> its jobs' thread numbers
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_w)
        try:
            while True:
                due = ([self.next_pump] if self.lean else []) + (
                    [self.flush_at] if self.deferred else [])
                readable, _, _ = select.select(
                    [self.sock.fileno(), self.wake_r], [w.data_w for w in self.backlog], [],
                    max(min(due) - time.monotonic(), 0.0) if due else None,
                )
                if self.lean and time.monotonic() >= self.next_pump:
                    self.backlog.update(w for w in self.lean.values() if not w.pump())
                    self.next_pump = time.monotonic() + self.pump_s
                self.backlog = {w for w in self.backlog if not w.drain()}
                if self.wake_r in readable:
                    while len(os.read(self.wake_r, 4096)) == 4096:
                        pass
                    self._reap()
                if self.deferred and (not self.lean or time.monotonic() >= self.flush_at):
                    self._flush()
                if self.sock.fileno() in readable and not self._command():
                    return
        finally:
            self._kill_all()

    def _command(self) -> bool:
        try:
            request, fds = protocol.recv_request(self.sock)
        except (EOFError, ConnectionError):
            return False
        if isinstance(request, protocol.SpawnRequest):
            self._spawn(request, fds)
        elif isinstance(request, protocol.SignalRequest):
            for pid in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, request.signum)
            for slab in {id(w.slab): w.slab for w in self.lean.values()}.values():
                slab.release()  # lean workers that wait for their peers go now
        elif isinstance(request, protocol.StopJobsRequest):
            self.stops.request(request.thread_numbers)
        else:
            return False
        return True

    def _warm(self, warm_up: Callable[[], None]) -> None:
        """Run a warm-up once, before the first worker that needs it forks, and freeze
        what it made: every worker forked after inherits it, and gc never walks it."""
        if warm_up not in self.warmed:
            warm_up()
            gc.freeze()
            self.warmed.add(warm_up)

    def _spawn(self, request: protocol.SpawnRequest, fds: list[int]) -> None:
        """Fork one worker per unit, each with its own stats pipe; hand the read ends back."""
        (gate_r,) = fds
        if any(job.verify.on for unit in request.units for job in unit):
            # only a run that verifies pays for the checksums' machine code, loaded
            # before its first verifying group is forked so its workers inherit it
            self._warm(verify.warm_up)
        forked_r, forked_w = os.pipe2(os.O_CLOEXEC)
        pids: list[int] = []
        batch: list[int] = []  # read ends not yet sent to the controller
        t_first = time.monotonic_ns()
        me = os.getpid()
        fork_errno = 0
        shed: list[tuple[int, int]] = []  # the helper's heap, left out of lean workers
        shed_tried = False
        huge_possible = functools.cache(huge_pages_possible)  # THP's mode, once per group
        # which units may be lean, decided once (the co-forker inherits the answers)
        fit = [bool(self.lean_mode) and not leanspawn.unfit(unit, huge_possible)
               for unit in request.units]
        slab: list[leanspawn.Slab] = []  # the group's lean workers' shared blocks, made once
        hold = request.defer_exits_s > 0 and leanspawn.roomy(
            request.units, meminfo().get("MemAvailable", 0))
        co = self._co_fork(request, gate_r, fit, slab, hold)
        unpiped: list[leanspawn.LeanWorker] = []  # forked lean workers, in fork order
        try:
            for index, unit in enumerate(request.units):
                self.stops.clear(job.thread_number for job in unit)
                if co is not None and index >= co.first:
                    forked = co.forked(index, slab[0])
                    if forked > 0:  # forked there: only its relay is made here
                        co.count += 1
                        self._adopted(leanspawn.LeanWorker.adopt(
                            unit[0], self.calibration, request.interval_ns, slab[0],
                            index, forked, request.defer_exits_s), request, pids, unpiped)
                        continue
                    fork_errno = fork_errno or -forked
                if fork_errno:
                    pids.append(0)
                    continue
                # a lean worker's pipe is made after the group's forks (``_pipe``); a
                # Python worker writes its own, so it gets it now, after those before it
                lean = self._lean_worker(unit, index, request, gate_r, fit[index], slab, hold)
                data_r = data_w = -1
                if lean is None:
                    self._pipe(unpiped, batch)
                    data_r, data_w = os.pipe2(os.O_CLOEXEC)
                    enlarge_pipe(data_w)
                try:
                    if lean is not None:
                        if not shed and not shed_tried:
                            shed = leanspawn.shed_checked(self.calibration, self.lean_mode,
                                                          lean.spans())
                            shed_tried = True
                        pid = lean.fork()
                    else:
                        if shed:  # a Python worker needs all of it
                            forkmem.restore(shed)
                            shed, shed_tried = [], False
                        self._warm(warm_up)  # lean workers never run these paths
                        pid = bare_fork()  # single-threaded here; the child ends in os._exit
                except OSError as exc:  # EAGAIN at a process limit: the rest of the group fails
                    fork_errno = exc.errno or 0
                    pids.append(0)
                    if lean is not None:
                        lean.close()
                    else:
                        os.close(data_r)
                        os.close(data_w)
                    continue
                if lean is not None:
                    self._adopted(lean, request, pids, unpiped)
                    continue
                if pid == 0:
                    for s in (self.sock, self.replies):
                        s.close()
                    leans = (w.data_w for w in (*self.lean.values(), *self.backlog)
                             if w.data_w >= 0)
                    for fd in (self.wake_r, self.wake_w, forked_w, data_r, *batch, *leans):
                        os.close(fd)
                    os.read(forked_r, 1)
                    os.close(forked_r)
                    worker_process(
                        unit,
                        data_w,
                        gate_r,
                        request.interval_ns,
                        request.origin_ns,
                        self.calibration,
                        self.flow_table,
                        self.stops,
                        me,
                        self.worker_nice,
                    )
                os.close(data_w)
                self.children.add(pid)
                self.jobs_of[pid] = tuple(job.thread_number for job in unit if job.flow)
                pids.append(pid)
                batch.append(data_r)
                if len(batch) == protocol.FDS_PER_MESSAGE:
                    self._send_pipes(batch)
            self._pipe(unpiped, batch)
        finally:
            if co is not None:
                co.end()
            for lean in unpiped:  # left only by an exception: it ends the helper
                lean.close()
        forkmem.restore(shed)
        t_last = time.monotonic_ns()
        os.close(forked_w)
        os.close(forked_r)
        os.close(gate_r)
        self._send_pipes(batch)
        protocol.send_msg(
            self.replies, protocol.Spawned(request.group, tuple(pids), t_first, t_last, fork_errno,
                                           co.count if co is not None else 0))

    def _adopted(self, lean: leanspawn.LeanWorker, request: protocol.SpawnRequest,
                 pids: list[int], unpiped: list[leanspawn.LeanWorker]) -> None:
        """A forked lean worker joins the relay, its stats pipe to come (``_pipe``)."""
        if not self.lean:
            self.pump_s = PUMP_MAX_S
        self.pump_s = min(self.pump_s, request.interval_ns / 4e9)
        self.next_pump = min(self.next_pump, time.monotonic() + self.pump_s)
        self.lean[lean.pid] = lean
        self.children.add(lean.pid)
        pids.append(lean.pid)
        unpiped.append(lean)

    def _pipe(self, unpiped: list[leanspawn.LeanWorker], batch: list[int]) -> None:
        """The stats pipes of the lean workers forked so far, in fork order: the write
        ends to their relays, the read ends to the batch for the controller."""
        for done, lean in enumerate(unpiped):
            try:
                data_r, data_w = os.pipe2(os.O_CLOEXEC)
            except OSError:
                del unpiped[:done]  # the rest are closed by the caller
                raise
            enlarge_pipe(data_w)
            lean.attach(data_w)
            batch.append(data_r)
            if len(batch) == protocol.FDS_PER_MESSAGE:
                self._send_pipes(batch)
        unpiped.clear()

    def _co_fork(self, request: protocol.SpawnRequest, gate_r: int,
                 fit: list[bool], slab: list[leanspawn.Slab], hold: bool
                 ) -> CoForker | None:
        """A co-forker for the second half of a large group of lean workers, or None.

        Preparing and forking a lean worker is serial work on one core (docs/
        performance.md), so with a second CPU the group is split: this process forks
        the first half while a fork of it prepares and forks the second, as siblings
        (``lean.CLONE_PARENT``): every worker is still this process's child.  Each
        block's ``lean.S_FORKED`` says what became of its unit; the helper makes every
        lean worker's stats pipe once the group is forked (none inherits one)."""
        units = request.units
        n = len(units)
        if n < CO_FORK_MIN or len(os.sched_getaffinity(0)) < 2 or not all(fit):
            return None
        first = n // 2
        # every lean worker's write end stays here
        held = (self.fds_before + len(self.lean) + n + protocol.FDS_PER_MESSAGE
                + LEAN_FD_RESERVE)
        if self.nofile != resource.RLIM_INFINITY and held >= self.nofile:
            return None
        slab.append(leanspawn.Slab(n))
        co = CoForker(0, first)
        try:
            co.pid = bare_fork()  # single-threaded here; the child ends in os._exit
        except OSError:
            return None
        if co.pid == 0:
            self._co_forker(request, gate_r, fit, slab[0], hold, co)
        return co

    def _co_forker(self, request: protocol.SpawnRequest, gate_r: int,
                   fit: list[bool], slab: leanspawn.Slab, hold: bool,
                   co: CoForker) -> NoReturn:
        """The co-forker's whole life: the second half of the group prepared and forked
        as lean workers, each outcome (and its time) in its block."""
        status = ExitStatus.FAILED
        try:
            parent = os.getppid()
            die_with_parent(parent)
            signal.set_wakeup_fd(-1)  # its own probe's exit is no news to the helper
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            shed_tried = False
            for index in range(co.first, len(request.units)):
                lean = self._lean_worker(request.units[index], index, request, gate_r,
                                         fit[index], [slab], hold, parent)
                if lean is None:  # the helper runs it as a Python worker
                    continue
                if not shed_tried:  # (its own mappings: the helper's are not marked)
                    leanspawn.shed_checked(self.calibration, self.lean_mode, lean.spans())
                    shed_tried = True
                try:
                    pid = lean.fork()
                except OSError as exc:
                    lean.close()  # (which zeroes its block: the outcome goes in after)
                    slab.block(index)[lean_layout.S_FORKED] = -(exc.errno or errno.EAGAIN)
                    break
                block = slab.block(index)
                block[lean_layout.S_FORKED_NS] = lean.ready_ns
                block[lean_layout.S_FORKED] = pid
            status = ExitStatus.OK
        finally:
            os._exit(status)

    def _lean_worker(self, unit: tuple[Job, ...], index: int, request: protocol.SpawnRequest,
                     gate_r: int, fit: bool, slab: list[leanspawn.Slab],
                     hold: bool, parent: int = 0) -> leanspawn.LeanWorker | None:
        """Unit ``index`` prepared as a lean worker (its stats pipe to come: ``_pipe``), or
        None: a Python worker runs it.
        ``fit``: whether the unit may be lean at all (lean mode on, ``leanspawn.unfit``
        empty); ``slab``: the group's, made for all its units at its first lean worker;
        ``hold``: the group's workers wait for each other before they exit
        (``leanspawn.roomy``); ``parent``: the helper's pid, in a co-forker."""
        if not fit:
            return None
        # room for a full batch of read ends on top, as a Python worker's needs
        held = self.fds_before + len(self.lean) + protocol.FDS_PER_MESSAGE + LEAN_FD_RESERVE
        if self.nofile != resource.RLIM_INFINITY and held >= self.nofile:
            return None
        try:
            if not slab:
                slab.append(leanspawn.Slab(len(request.units)))
            return leanspawn.LeanWorker(unit[0], self.calibration, request.interval_ns,
                                        request.origin_ns, gate_r, -1, self.worker_nice,
                                        slab[0], request.defer_exits_s, hold, index, parent)
        except (leanspawn.Unfit, OSError, ValueError):  # the Python worker reports what it is
            return None

    def _send_pipes(self, batch: list[int]) -> None:
        """Stats-pipe read ends to the controller, in fork order (SCM_RIGHTS caps the fds
        of one message)."""
        if batch:
            protocol.send_msg(self.replies, protocol.Pipes(len(batch)), tuple(batch))
            for fd in batch:
                os.close(fd)
            batch.clear()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            lean = self.lean.pop(pid, None)
            if lean is not None and lean.defer_exits_s and self.lean and lean.slab.running():
                # its peers still fault (once none does, the ends go out as they come)
                if not self.deferred:
                    self.flush_at = time.monotonic() + lean.defer_exits_s
                self.deferred.append((lean, pid, status, usage, time.monotonic_ns()))
                continue
            if lean is not None and self.deferred:
                self._flush()  # the ends held back go first, in their order
            self._ended(lean, pid, status, usage, time.monotonic_ns())

    def _flush(self) -> None:
        """Send the ends held back, in the order their workers were reaped."""
        deferred, self.deferred = self.deferred, []
        for lean, pid, status, usage, reaped_ns in deferred:
            self._ended(lean, pid, status, usage, reaped_ns)

    def _ended(self, lean: leanspawn.LeanWorker | None, pid: int, status: int,
               usage: resource.struct_rusage, reaped_ns: int) -> None:
        """A reaped worker's end: a lean one's counts on its pipe, then the exit notice."""
        if lean is not None and not lean.finish(status, usage_of(usage), reaped_ns):
            self.backlog.add(lean)
        for thread_number in self.jobs_of.pop(pid, ()):  # a worker that died in a flow
            self.flow_table.leave(thread_number)
        protocol.send_msg(
            self.replies,
            protocol.ChildExit(
                pid, status, round(usage.ru_utime * 1e9), round(usage.ru_stime * 1e9)
            ),
        )

    def _kill_all(self) -> None:
        """Leave nothing behind: SIGKILL and reap every worker still alive."""
        for pid in self.children:
            os.kill(pid, signal.SIGKILL)
        for pid in list(self.children):
            os.waitpid(pid, 0)
        self.children.clear()
        for lean in (*self.lean.values(), *self.backlog, *(d[0] for d in self.deferred)):
            lean.close()
        self.lean.clear()
        self.backlog.clear()
        self.deferred.clear()


def helper_main(commands_fd: int, replies_fd: int, parent: int, worker_nice: int) -> None:
    die_with_parent(parent)
    set_process_name(HELPER_NAME)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides; it kills us on exit
    signal.signal(
        signal.SIGUSR1, signal.SIG_IGN
    )  # a report request (to a process group) is the controller's
    commands, replies = socket.socket(fileno=commands_fd), socket.socket(fileno=replies_fd)
    try:
        protocol.send_msg(replies, protocol.Hello(protocol.PROTOCOL_VERSION, os.getpid()))
        if not jit.cache_is_warm():
            protocol.send_msg(replies, protocol.Compiling())
            gc.enable()  # compiling makes garbage by the hundred megabytes
        jit.load_quickly()
        kernel.compile_kernel()
        flow_table = flow.FlowTable()  # before the first fork: every worker maps it
        stops = StopFlags()  # likewise
        # the probe runs while the TSC calibration waits for its second reading (what
        # the probe finds out depends on the code its child runs, not on its clock's scale)
        tsc = TscCalibration()
        lean_mode = leanspawn.choose_mode(Calibration(tsc.rough(), 0.0, 0.0))
        calibration = Calibration.measure(tsc)
        keep_heap()  # process-wide; workers inherit it
        # All so far is shared copy-on-write with every worker and gc never walks it.  Not
        # collected first: the imports leave about a thousand cyclic objects, and finding
        # them walks the whole heap (some 0.06 s before the first fork).
        gc.freeze()
        gc.enable()
        Helper(commands, replies, worker_nice, calibration, flow_table, stops, lean_mode).serve()
    except (
        Exception
    ):  # a bug: its traceback goes to the controller's event record, not the terminal
        try:
            protocol.send_msg(replies, protocol.Crash(traceback.format_exc()))
        finally:
            os._exit(ExitStatus.FAILED)
    # Every worker is reaped and nothing is buffered: skip the interpreter's teardown of
    # numba and LLVM, which the controller would otherwise wait for at the end of each run.
    os._exit(ExitStatus.OK)


if __name__ == "__main__":
    helper_main(*map(int, sys.argv[1:5]))
