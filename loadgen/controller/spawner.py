"""The controller's end of the fork helper (``loadgen.engine.helper``), once started
(``loadgen.launch``)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable

import anyio

from loadgen import protocol
from loadgen.launch import HelperProcess
from loadgen.plan import Job


class HelperDied(Exception):
    """The fork helper exited: no worker can be created or watched any more."""


class _Reply:
    """The helper's answer to one spawn request; ``done`` with no result: it died first."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: tuple[protocol.Spawned, list[int]] | None = None


class Spawner:
    """Starts worker processes through the helper and reports their exits."""

    def __init__(self, helper: HelperProcess) -> None:
        self.helper = helper
        self.worker_nice = helper.worker_nice  # the user's priority, for what runs beside them
        self.process = helper.process
        self.sock = helper.commands
        self.replies = helper.replies  # read by read_replies when readable
        self.replies.setblocking(False)
        self._buf = b""
        self._pipes: list[int] = []  # stats-pipe read ends received, not yet handed out
        self._spawned: _Reply | None = None  # the spawn request waiting for its reply
        self._gone = False  # the helper's end of file was read: no reply can come
        self._greeted = False  # the helper's Hello (protocol version) has been checked
        self.compiling = False
        self.on_exit: Callable[[int, int], None] = lambda pid, status: None
        self.on_helper_death: Callable[[], None] = lambda: None
        self.crash_traceback = ""  # what the helper reported before it exited on a bug

    async def read_replies(self) -> None:
        """Read helper messages until its end of file; the run's task group runs this and
        cancels it when the run is over."""
        while not self._gone:
            await anyio.wait_readable(self.replies)
            self._readable()

    def _readable(self) -> None:
        try:
            data, fds, flags, _addr = socket.recv_fds(
                self.replies, 1 << 16, protocol.FDS_PER_MESSAGE + 3
            )
        except BlockingIOError:
            return
        if flags & socket.MSG_CTRUNC:  # out of fds here: those workers cannot be watched
            for fd in fds:
                os.close(fd)
            self.crash_traceback = ("OSError: stats pipes lost in transit (MSG_CTRUNC): "
                                    "too few file descriptors (RLIMIT_NOFILE)")
            self.process.kill()  # its workers die with it; its EOF ends the run as a helper death
            return
        self._pipes.extend(fds)  # in fork order; each "spawned" reply takes its share
        if not data:
            self._gone = True
            if self._spawned is not None:
                self._spawned.done.set()  # no result: spawn raises HelperDied
            self.on_helper_death()
            return
        messages, self._buf = protocol.split_replies(self._buf + data)
        for msg in messages:
            if not self._greeted:
                try:
                    protocol.check_hello(msg)
                except ValueError as exc:  # another version: it dies, and the run stops on EOF
                    self.crash_traceback = str(exc)
                    self.process.send_signal(signal.SIGKILL)
                    return
                self._greeted = True
            elif isinstance(msg, protocol.Compiling):
                self.compiling = True
            elif isinstance(msg, protocol.Spawned) and self._spawned is not None:
                self.compiling = False
                forked = sum(1 for pid in msg.pids if pid)
                pipes, self._pipes = self._pipes[:forked], self._pipes[forked:]
                self._spawned.result = (msg, pipes)
                self._spawned.done.set()
            elif isinstance(msg, protocol.ChildExit):
                self.on_exit(msg.pid, msg.status)
            elif isinstance(msg, protocol.Crash):
                self.crash_traceback = msg.traceback

    async def spawn(
        self,
        group: int,
        units: list[list[Job]],
        interval_ns: int,
        gate_r: int,
        origin_ns: int = 0,
        defer_exits_s: float = 0.0,
    ) -> tuple[protocol.Spawned, list[int]]:
        """Fork one worker per unit; returns the helper's reply (``pids``, 0 = fork failed;
        fork times) and the stats-pipe read end of each forked worker, in order
        (``defer_exits_s``: ``protocol.SpawnRequest``'s).

        The request (pickled jobs; megabytes for a big storm) is sent from a thread so
        the loop keeps reading exit notices meanwhile.
        """
        if self._gone:
            raise HelperDied("the fork helper exited")
        self._spawned = reply = _Reply()
        request = protocol.SpawnRequest(
            group, tuple(tuple(u) for u in units), interval_ns, origin_ns, defer_exits_s
        )
        try:
            await anyio.to_thread.run_sync(protocol.send_msg, self.sock, request, (gate_r,))
            await reply.done.wait()
        except OSError as exc:  # it died before reading the request (EPIPE, ECONNRESET)
            raise HelperDied("the fork helper exited") from exc
        finally:
            self._spawned = None
        if reply.result is None:
            raise HelperDied("the fork helper exited")
        return reply.result

    def signal_workers(self, signum: int) -> None:
        """Send ``signum`` to every live worker (the helper knows exactly which: no pid reuse)."""
        with contextlib.suppress(OSError):
            protocol.send_msg(self.sock, protocol.SignalRequest(signum))

    def stop_jobs(self, thread_numbers: tuple[int, ...]) -> None:
        """End these jobs only: each reads its flag between kernel calls and completes (a
        ``thread=1`` worker's other jobs go on)."""
        with contextlib.suppress(OSError):
            protocol.send_msg(self.sock, protocol.StopJobsRequest(thread_numbers))

    def kill_now(self) -> None:
        """The emergency exit: SIGKILL the helper; its workers follow via PDEATHSIG."""
        self.helper.kill()

    def close(self) -> None:
        """Ask the helper to kill and reap every worker and exit; never leave it behind."""
        with contextlib.suppress(OSError):
            protocol.send_msg(self.sock, protocol.ExitRequest())
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill_now()
        self.sock.close()
        self.replies.close()
