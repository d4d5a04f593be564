"""When the workers of a group, all ready at the barrier, are let go.

By default at once.  Two options hold them for something outside this controller, so
that runs on many hosts start together:

* ``--start-at=EPOCH``: the first group is released at that wall-clock instant (later
  groups follow their predecessors as usual).  No coordinator is needed: a Kubernetes
  Indexed Job or an SSH fan-out passes every host the same instant, and the skew is
  what the hosts' clocks disagree by.
* ``--release-fd=FD``: a connected stream socket to an orchestrator (loadgen's fleet
  agent is one).  At each group's barrier the controller writes ``ready GROUP EPOCH_NS``
  and holds the workers until it reads ``go GROUP`` (released at once) or ``go GROUP
  EPOCH_NS`` (released at that wall-clock instant, or at once if it has passed); after
  the release it writes ``start GROUP EPOCH_NS``.  The socket is also a lifeline: end of file (the
  orchestrator went away) stops the run, as SIGTERM would.

``wait`` may be cancelled (the run was stopped while holding): the supervisor races it
against its own stop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import Protocol

import anyio

from loadgen.errors import InputError

Lost = Callable[[str], None]


class ReleaseGate(Protocol):
    holds: bool  # False: the supervisor releases at once, without a wait

    async def wait(self, group_id: int) -> int:
        """Return when group ``group_id``, whose workers are all ready, may start: with 0
        (at once) or the wall-clock instant to release at, at most ``PREPARE_S`` ahead (the
        supervisor's last steps before a release take that long at most)."""

    def released(self, group_id: int, epoch_ns: int) -> None:
        """The group was released at ``epoch_ns`` (wall clock)."""

    async def watch(self, lost: Lost) -> None:
        """For the whole run: call ``lost(reason)`` if the gate's other side goes away."""

    def close(self) -> None: ...


class Immediate:
    """No hold: each group starts as soon as its workers are ready."""

    holds = False

    async def wait(self, group_id: int) -> int:
        return 0

    def released(self, group_id: int, epoch_ns: int) -> None:
        return

    async def watch(self, lost: Lost) -> None:
        return

    def close(self) -> None:
        return


SHORT_S = 0.002
PREPARE_S = 0.05


async def until_epoch(epoch_ns: int) -> None:
    """Return at wall-clock ``epoch_ns`` (at once if it has passed)."""
    delay_ns = epoch_ns - time.time_ns()
    if delay_ns <= 0:
        return
    # the loop's timers are ms-grained: sleep to just short of the instant on the loop, then
    # the rest in a precise blocking sleep (not a spin: with more controllers than cores,
    # as on a loopback test fleet, spinning ones keep each other from the CPU)
    await anyio.sleep(max(delay_ns / 1e9 - SHORT_S, 0.0))
    remaining_ns = epoch_ns - time.time_ns()
    if remaining_ns > 0:
        time.sleep(remaining_ns / 1e9)


class StartAt(Immediate):
    """Release the first group at ``epoch_ns`` (at once if the workers were ready only after it)."""

    holds = True

    def __init__(self, epoch_ns: int) -> None:
        self.epoch_ns = epoch_ns
        self._first: int | None = None

    async def wait(self, group_id: int) -> int:
        if self._first is not None and self._first != group_id:
            return 0
        self._first = group_id
        await until_epoch(self.epoch_ns - int(PREPARE_S * 1e9))
        return self.epoch_ns


class FdGate:
    """The ``--release-fd`` protocol (module docstring) on one socket."""

    holds = True

    def __init__(self, fd: int) -> None:
        try:
            self.sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise InputError(f"--release-fd={fd}: not an open socket ({exc.strerror})") from None
        if self.sock.type != socket.SOCK_STREAM:
            self.sock.detach()
            raise InputError(f"--release-fd={fd}: not a stream socket")
        self.sock.setblocking(False)
        self._go: dict[int, anyio.Event] = {}
        self._at: dict[int, int] = {}  # group -> the release instant "go" named
        self._buffer = b""
        self.gone = False

    def _event(self, group_id: int) -> anyio.Event:
        return self._go.setdefault(group_id, anyio.Event())

    def _send(self, line: str) -> None:
        if self.gone:
            return
        try:
            self.sock.setblocking(True)  # a few bytes: never blocks for long
            self.sock.sendall(line.encode() + b"\n")
        except OSError:
            self.gone = True
        finally:
            with contextlib.suppress(OSError):
                self.sock.setblocking(False)

    async def wait(self, group_id: int) -> int:
        event = self._event(group_id)
        self._send(f"ready {group_id} {time.time_ns()}")
        if self.gone:
            return 0
        await event.wait()
        at = self._at.get(group_id, 0)
        if at:
            await until_epoch(at - int(PREPARE_S * 1e9))
        return 0 if self.gone else at

    def released(self, group_id: int, epoch_ns: int) -> None:
        self._send(f"start {group_id} {epoch_ns}")

    async def watch(self, lost: Lost) -> None:
        while True:
            await anyio.wait_readable(self.sock)
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.gone = True
                for event in self._go.values():
                    event.set()  # nobody will say go: let the holders through to the stop
                lost("the orchestrator on --release-fd went away; stopping the run")
                return
            self._buffer += data
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                words = line.split()
                if (
                    2 <= len(words) <= 3
                    and words[0] == b"go"
                    and all(w.isdigit() for w in words[1:])
                ):
                    if len(words) == 3:
                        self._at[int(words[1])] = int(words[2])
                    self._event(int(words[1])).set()

    def close(self) -> None:
        self.sock.close()


def gate_for(start_at_ns: int, release_fd: int) -> ReleaseGate:
    """The gate the run options ask for (the command line allows at most one of the two)."""
    if release_fd >= 0:
        os.set_inheritable(release_fd, False)  # the fork helper and workers must not hold it
        return FdGate(release_fd)
    if start_at_ns:
        return StartAt(start_at_ns)
    return Immediate()
