"""Worker processes: the fork helper that creates them, and what each one runs.

Why a fork helper: creating a storm of workers must be fast and must not copy the
controller (event loop, signal wakeup fd, threads, a big heap).  The controller starts
this module once as a small single-threaded process (``python -m
loadgen.engine.worker FD``) that imports numpy and the engine, freezes its heap
(``gc.freeze``) and then forks every worker on request.  Measured on the 2-core
box: 256 workers to the barrier in 0.30 s by fork against 2.0 s through
multiprocessing's forkserver (a socket round trip per process).

Helper <-> controller: two SOCK_STREAM unix sockets (commands in, replies out; the
controller's event loop makes its reading end non-blocking, its writes stay blocking)
carrying length-prefixed pickles.
Requests: ``{"op": "spawn", "group", "units", "interval_ns"}`` with the group's gate
read end attached (SCM_RIGHTS); ``{"op": "signal", "signum"}``; ``{"op": "exit"}``.
Replies: ``{"op": "pipes", "count"}`` with that many stats-pipe read ends attached,
one per forked worker in fork order; ``{"op": "spawned", "group", "pids",
"t_first_fork_ns", "t_last_fork_ns", "fork_errno"}`` (pid 0: fork failed); and
``{"op": "exit", "pid", "status"}`` for every reaped worker.

One stats pipe per worker process, not one per group: with many CPU-bound writers
sharing a pipe, a writer preempted while holding the pipe's mutex stalls all the
others behind it (measured, 256 workers on 2 CPUs writing 10 times a second: 2.6 s
per worker blocked in write with one shared pipe, 0.46 s with 8 writers per pipe,
0.4 ms with one).

A *unit* is the list of jobs one worker process runs: one job for process mode,
every ``thread=1`` job of the group for thread mode (threads sharing one mm, as fio).
Each worker: dies with its parent (PR_SET_PDEATHSIG), volunteers for the OOM killer,
ignores SIGINT (the controller decides), stops cleanly on SIGTERM, sets up every job
(mmap; outside the measured window), says READY, blocks on the gate until the
controller closes it (EOF wakes all at once), then runs.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import gc
import os
import pickle
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import replace
from typing import Any, NoReturn

from loadgen import protocol
from loadgen.engine.runner import EngineError, JobRunner
from loadgen.plan import Job
from loadgen.stats.jobstats import IntervalStats

PR_SET_PDEATHSIG = 1
_LEN = struct.Struct("<Q")
MAX_FDS = 4
FDS_PER_MESSAGE = 250  # the kernel's SCM_MAX_FD is 253
PIPE_SIZE = 256 * 1024  # pages are allocated only when used


def _enlarge_pipe(fd: int) -> None:
    """Room for seconds of deltas, so a busy controller never makes a worker wait in write."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # over pipe-max-size or the user's pipe quota: the default 64 KiB still works


# ---- messages on the helper socket (used by both sides) ------------------------------------
def send_msg(sock: socket.socket, obj: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """One length-prefixed pickle; ``fds`` ride on the length prefix."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if fds:
        socket.send_fds(sock, [_LEN.pack(len(data))], list(fds))
    else:
        sock.sendall(_LEN.pack(len(data)))
    sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int, head: bytes = b"") -> bytes:
    buf = bytearray(head)
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def recv_msg(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Blocking receive of one message and the fds attached to it."""
    head, fds, _flags, _addr = socket.recv_fds(sock, _LEN.size, MAX_FDS)
    if not head:
        raise EOFError
    (length,) = _LEN.unpack(_recv_exact(sock, _LEN.size, head))
    return pickle.loads(_recv_exact(sock, length)), list(fds)


# ---- process hygiene -------------------------------------------------------------------------
def die_with_parent(expected_parent: int) -> None:
    """SIGKILL us when our parent dies; if it already died, go now (the race prctl leaves)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


def _volunteer_for_oom_killer() -> None:
    """A storm that exhausts memory should lose workers, not the controller or the host."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def cpus_for(job: Job) -> set[int] | None:
    """fio's cpus_allowed/cpus_allowed_policy: the CPU set this job may run on (None = any)."""
    if not job.cpus_allowed:
        return None
    if job.cpus_allowed_policy == "split":
        cpus = sorted(set(job.cpus_allowed))
        return {cpus[(job.thread_number - 1) % len(cpus)]}
    return set(job.cpus_allowed)


# ---- one worker process ----------------------------------------------------------------------
class _Worker:
    """The jobs of one unit inside a freshly forked worker process."""

    def __init__(self, jobs: list[Job], data_w: int, gate_r: int, interval_ns: int) -> None:
        self.jobs = jobs
        self.data_w = data_w
        self.gate_r = gate_r
        self.interval_ns = interval_ns
        self.stopping = False
        self.write_lock = threading.Lock()  # threads of one process share the pipe

    def _send(self, thread_number: int, kind: int, payload: bytes) -> int:
        """Send a message; return the ns spent blocked in write."""
        t0 = time.monotonic_ns()
        with self.write_lock:
            protocol.send(self.data_w, thread_number, kind, payload)
        return time.monotonic_ns() - t0

    def _error(self, job: Job, err: int, text: str, trace: str = "") -> None:
        payload = {"pid": os.getpid(), "error": err, "error_text": text}
        if trace:
            payload["traceback"] = trace
        self._send(job.thread_number, protocol.ERROR, protocol.encode_json(payload))

    def stop(self) -> bool:
        return self.stopping

    def main(self) -> int:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        runners: list[JobRunner] = []
        for job in self.jobs:
            runner = JobRunner(job)
            try:
                runner.setup()
            except EngineError as exc:
                runner.close()
                self._error(job, exc.errno, str(exc))
                continue
            runners.append(runner)
            ready = {"pid": os.getpid(), "t_ready_ns": time.monotonic_ns()}
            self._send(job.thread_number, protocol.READY, protocol.encode_json(ready))
        if not runners:
            return 1
        os.read(self.gate_r, 1)  # blocks until the controller closes the gate: EOF for all
        os.close(self.gate_r)
        if len(runners) == 1 and not runners[0].job.thread:
            self._run(runners[0])
        else:
            threads = [threading.Thread(target=self._run, args=(r,)) for r in runners]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return 0

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
            blocked_ns += self._send(job.thread_number, protocol.INTERVAL, protocol.encode_interval(delta))

        try:
            cpus = cpus_for(job)
            if cpus is not None:
                os.sched_setaffinity(0, cpus)  # 0 = this thread: per-job even in thread mode
            runner.run(report, self.interval_ns, self.stop)
        except EngineError as exc:
            self._error(job, exc.errno, str(exc))
            return
        except OSError as exc:
            self._error(job, exc.errno or 0, f"{job.name}: {exc.strerror or exc}")
            return
        except Exception as exc:  # a bug: its traceback goes to the event record, not the terminal
            self._error(job, errno.EIO, f"{job.name}: {type(exc).__name__}: {exc}", traceback.format_exc())
            return
        finally:
            runner.close()
        done = {"pid": os.getpid(), "report_block_ns": blocked_ns}
        self._send(job.thread_number, protocol.DONE, protocol.encode_json(done))


def _worker_process(jobs: list[Job], data_w: int, gate_r: int, interval_ns: int, helper_pid: int,
                    nice: int) -> NoReturn:
    """Body of a forked worker; never returns into the helper's loop."""
    code = 1
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # the user's priority, not the controller's boost
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(helper_pid)
        _volunteer_for_oom_killer()
        code = _Worker(jobs, data_w, gate_r, interval_ns).main()
    except BaseException as exc:  # noqa: BLE001 -- a worker must end in os._exit, never in the helper loop
        _report_crash(jobs, data_w, exc)
    finally:
        os._exit(code)


def _report_crash(jobs: list[Job], data_w: int, exc: BaseException) -> None:
    """An exception outside a job's run: its traceback goes to the controller (the event
    record), never to the user's terminal."""
    trace = "".join(traceback.format_exception(exc))
    payload = {"pid": os.getpid(), "error": errno.EIO, "error_text": f"{type(exc).__name__}: {exc}",
               "traceback": trace}
    for job in jobs:
        try:
            protocol.send(data_w, job.thread_number, protocol.ERROR, protocol.encode_json(payload))
        except OSError:
            return


# ---- the fork helper ---------------------------------------------------------------------------
class _Helper:
    def __init__(self, commands: socket.socket, replies: socket.socket, worker_nice: int) -> None:
        self.worker_nice = worker_nice
        self.sock = commands
        self.replies = replies
        self.children: set[int] = set()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_w)
        try:
            while True:
                readable, _, _ = select.select([self.sock, self.wake_r], [], [])
                if self.wake_r in readable:
                    while os.read(self.wake_r, 4096) == 4096:
                        pass
                    self._reap()
                if self.sock in readable and not self._command():
                    return
        finally:
            self._kill_all()

    def _command(self) -> bool:
        try:
            msg, fds = recv_msg(self.sock)
        except (EOFError, ConnectionError):
            return False
        op = msg["op"]
        if op == "spawn":
            self._spawn(msg, fds)
        elif op == "signal":
            for pid in self.children:
                try:
                    os.kill(pid, msg["signum"])
                except ProcessLookupError:
                    pass
        elif op == "exit":
            return False
        return True

    @staticmethod
    def _prepare(units: list[list[Job]]) -> None:
        """Set up (and drop) one job of each distinct kind in the group before forking.

        Lazy paths of that job's pattern (distributions, block-size tables) then run
        once here, shared by every clone, instead of once per worker; any per-kind
        cache the engine keeps (its loop calibration is ~5 ms of a worker's ~13 ms
        start-up CPU) is inherited too.
        """
        kinds = {replace(job, name="", thread_number=0, subjob=0) for unit in units for job in unit}
        for job in kinds:
            runner = JobRunner(job)
            try:
                runner.setup()
            except Exception:  # noqa: BLE001 -- each worker meets and reports it; the helper must live on
                pass
            finally:
                runner.close()

    def _spawn(self, msg: dict[str, Any], fds: list[int]) -> None:
        """Fork one worker per unit, each with its own stats pipe; hand the read ends back."""
        (gate_r,) = fds
        self._prepare(msg["units"])
        # Children wait until every one is forked: otherwise hundreds of runnable children
        # doing their setup starve this single forking process (measured: 1024 workers
        # took 14 s to be ready instead of a few).
        forked_r, forked_w = os.pipe2(os.O_CLOEXEC)
        pids: list[int] = []
        batch: list[int] = []  # read ends not yet sent to the controller
        t_first = time.monotonic_ns()
        me = os.getpid()
        fork_errno = 0
        for unit in msg["units"]:
            if fork_errno:
                pids.append(0)
                continue
            data_r, data_w = os.pipe2(os.O_CLOEXEC)
            _enlarge_pipe(data_w)
            try:
                pid = os.fork()
            except OSError as exc:  # EAGAIN at a process limit: the rest of the group fails
                fork_errno = exc.errno or 0
                pids.append(0)
                os.close(data_r)
                os.close(data_w)
                continue
            if pid == 0:
                for fd in (self.sock, self.replies):
                    fd.close()
                for fd_number in (self.wake_r, self.wake_w, forked_w, data_r, *batch):
                    os.close(fd_number)
                os.read(forked_r, 1)
                os.close(forked_r)
                _worker_process(unit, data_w, gate_r, msg["interval_ns"], me, self.worker_nice)
            os.close(data_w)
            self.children.add(pid)
            pids.append(pid)
            batch.append(data_r)
            if len(batch) == FDS_PER_MESSAGE:
                self._send_pipes(batch)
        t_last = time.monotonic_ns()
        os.close(forked_w)
        os.close(forked_r)
        os.close(gate_r)
        self._send_pipes(batch)
        send_msg(self.replies, {"op": "spawned", "group": msg["group"], "pids": pids, "t_first_fork_ns": t_first,
                                "t_last_fork_ns": t_last, "fork_errno": fork_errno})

    def _send_pipes(self, batch: list[int]) -> None:
        """Stats-pipe read ends to the controller, in fork order (SCM_RIGHTS caps a message's fds)."""
        if batch:
            send_msg(self.replies, {"op": "pipes", "count": len(batch)}, tuple(batch))
            for fd in batch:
                os.close(fd)
            batch.clear()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            send_msg(self.replies, {"op": "exit", "pid": pid, "status": status})

    def _kill_all(self) -> None:
        """Leave nothing behind: SIGKILL and reap every worker still alive."""
        for pid in self.children:
            os.kill(pid, signal.SIGKILL)
        for pid in list(self.children):
            os.waitpid(pid, 0)
        self.children.clear()


def _warm_up() -> None:
    """Run tiny jobs once so lazy imports, numpy dispatch caches and first-use allocations
    happen here, once, and are shared with every worker instead of repeated per fork."""
    for rw in ("randrw", "rw"):
        job = Job(name="warm-up", thread_number=0, subjob=0, numjobs=1, group_id=0, rw=rw, size=256 * 1024)
        runner = JobRunner(job)
        try:
            runner.setup()
            runner.run(lambda delta: protocol.decode_interval(protocol.encode_interval(delta)), 10**9, lambda: False)
        except EngineError:
            pass
        finally:
            runner.close()


def helper_main(commands_fd: int, replies_fd: int, parent: int, worker_nice: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides; it kills us on exit
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a report request (to a process group) is the controller's
    commands, replies = socket.socket(fileno=commands_fd), socket.socket(fileno=replies_fd)
    try:
        _warm_up()
        gc.collect()
        gc.freeze()  # everything so far is shared copy-on-write with every worker; gc never touches it
        _Helper(commands, replies, worker_nice).serve()
    except Exception:  # a bug: its traceback goes to the controller's event record, not the terminal
        try:
            send_msg(replies, {"op": "crash", "traceback": traceback.format_exc()})
        finally:
            os._exit(1)


if __name__ == "__main__":
    helper_main(*map(int, sys.argv[1:5]))
