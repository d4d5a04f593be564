"""The controller's end of the fork helper (``loadgen.engine.worker``).

The helper is started from the main thread before the event loop runs: its
PR_SET_PDEATHSIG fires when the *thread* that created it exits, and a clean exec'd
process inherits no loop, no wakeup fd and no threads.  Workers are the helper's
children, so they die with it, and it dies with the controller.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from loadgen.controller.blas import SINGLE_THREAD_ENV
from loadgen.engine.worker import FDS_PER_MESSAGE, send_msg
from loadgen.plan import Job

_LEN_SIZE = 8


class HelperDied(Exception):
    """The fork helper exited: no worker can be created or watched any more."""


class Spawner:
    """Starts worker processes through the helper and reports their exits."""

    def __init__(self, worker_nice: int) -> None:
        self.worker_nice = worker_nice  # the user's priority, for what runs beside the workers
        commands, their_commands = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        replies, their_replies = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs = (their_commands.fileno(), their_replies.fileno())
        env = dict(os.environ, **SINGLE_THREAD_ENV)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loadgen.engine.worker", *map(str, theirs), str(os.getpid()), str(worker_nice)],
            pass_fds=theirs,
            env=env,
        )
        their_commands.close()
        their_replies.close()
        self.sock = commands  # blocking; written by the loop thread or one helper thread
        self.replies = replies  # read by the loop (which makes it non-blocking)
        self._buf = b""
        self._pipes: list[int] = []  # stats-pipe read ends received, not yet handed out
        self._spawned: asyncio.Future[dict[str, Any]] | None = None
        self.on_exit: Callable[[int, int], None] = lambda pid, status: None
        self.on_helper_death: Callable[[], None] = lambda: None
        self.crash_traceback = ""  # what the helper reported before it exited on a bug

    def attach(self) -> None:
        """Start reading helper messages on the running loop (no thread, no task)."""
        asyncio.get_running_loop().add_reader(self.replies.fileno(), self._readable)

    def detach(self) -> None:
        asyncio.get_running_loop().remove_reader(self.replies.fileno())

    def _readable(self) -> None:
        try:
            data, fds, flags, _addr = socket.recv_fds(self.replies, 1 << 16, FDS_PER_MESSAGE + 3)
        except BlockingIOError:
            return
        if flags & socket.MSG_CTRUNC:
            raise HelperDied("stats pipes lost in transit (MSG_CTRUNC)")
        self._pipes.extend(fds)  # in fork order; each "spawned" reply takes its share
        if not data:
            self.detach()
            if self._spawned is not None and not self._spawned.done():
                self._spawned.set_exception(HelperDied("the fork helper exited"))
            self.on_helper_death()
            return
        self._buf += data
        while len(self._buf) >= _LEN_SIZE:
            length = int.from_bytes(self._buf[:_LEN_SIZE], "little")
            if len(self._buf) < _LEN_SIZE + length:
                break
            msg = pickle.loads(self._buf[_LEN_SIZE : _LEN_SIZE + length])
            self._buf = self._buf[_LEN_SIZE + length :]
            if msg["op"] == "spawned" and self._spawned is not None:
                forked = sum(1 for pid in msg["pids"] if pid)
                msg["pipes"], self._pipes = self._pipes[:forked], self._pipes[forked:]
                self._spawned.set_result(msg)
            elif msg["op"] == "exit":
                self.on_exit(msg["pid"], msg["status"])
            elif msg["op"] == "crash":
                self.crash_traceback = msg["traceback"]

    async def spawn(self, group: int, units: list[list[Job]], interval_ns: int, gate_r: int) -> dict[str, Any]:
        """Fork one worker per unit; returns the helper's reply: ``pids`` (0 = fork failed),
        ``pipes`` (the stats-pipe read end of each forked worker, in order), fork times.

        The request (pickled jobs; megabytes for a big storm) is sent from a thread so
        the loop keeps reading exit notices meanwhile.
        """
        self._spawned = asyncio.get_running_loop().create_future()
        request = {"op": "spawn", "group": group, "units": units, "interval_ns": interval_ns}
        await anyio.to_thread.run_sync(send_msg, self.sock, request, (gate_r,))
        try:
            return await self._spawned
        finally:
            self._spawned = None

    def signal_workers(self, signum: int) -> None:
        """Send ``signum`` to every live worker (the helper knows exactly which: no pid reuse)."""
        try:
            send_msg(self.sock, {"op": "signal", "signum": signum})
        except OSError:
            pass

    def kill_now(self) -> None:
        """The emergency exit: SIGKILL the helper; its workers follow via PDEATHSIG."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        """Ask the helper to kill and reap every worker and exit; never leave it behind."""
        try:
            send_msg(self.sock, {"op": "exit"})
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill_now()
        self.sock.close()
        self.replies.close()
