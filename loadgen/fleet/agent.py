"""The host side of a fleet run: a Dask task that runs loadgen's normal controller.

``run_host`` runs in one Dask worker per host.  The controller is a subprocess (``python
-m loadgen run ... --jsonl=- --release-fd=FD``), not code in the worker: a storm forks
freely (Dask's worker processes are daemonic and may not have multiprocessing
children), the Dask worker's memory limit never sees the storm, and a controller that
crashes cannot take the Dask worker with it.  Three threads tie it to the fleet:

* the stream: the controller's JSON lines, ``host.name`` set to the fleet's name for the
  host, sent to the client in small batches as they come (``Worker.log_event``);
* the gate: at each barrier the controller says ``ready``; the agent tells the client
  and, once the cluster-wide ``distributed.Event`` of that group is set, says ``go``
  with the release instant the client set beside it (a ``distributed.Variable``), so
  every host releases at one instant rather than whenever the Event reached it;
* the stop: the host's stop ``Event`` (Ctrl-C on the client, a missed barrier) or the
  task's cancellation sends the controller SIGINT, so it stops and writes its report.

If this Dask worker dies, the gate socket closes and the controller stops itself.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import orjson
from distributed import Client, get_client, get_worker

from loadgen.fleet.daskapi import Waiter, current_task_key, get_variable
from loadgen.fleet.options import JobFile

FLUSH_S = 0.1  # the most a line waits on the host before it is sent on
BATCH_LINES = 1000
POLL_S = 0.5  # how often a waiting thread looks at the process and the task
STOP_GRACE_S = 60.0  # after SIGINT, how long the controller may take to write its report
STDERR_TAIL = 4000
GO_AT_TIMEOUT_S = 30.0


class FleetMessage(TypedDict, total=False):
    """What a host tells the coordinator over the run's Dask topic (a plain dict there)."""

    kind: str  # "lines"; a --release-fd word ("ready", "go", "start"); "done" (coordinator's own)
    host: str
    lines: list[str]  # JSON lines of the host's stream
    group: int
    epoch_ns: int


Send = Callable[[FleetMessage], None]


@dataclass(frozen=True)
class HostSpec:
    """What one host runs; the same for every host but ``name``."""

    run_id: str
    name: str  # the host's name in the fleet (the Dask worker's name)
    files: tuple[JobFile, ...]
    args: tuple[str, ...]  # ``loadgen run`` arguments less the controller's outputs


@dataclass(frozen=True)
class HostOutcome:
    """How a host's controller ended, and its report."""

    name: str
    exit_status: int  # the controller's; negative: killed by that signal
    report: str  # its fio json+ report ("" if it wrote none)
    stderr: str  # the end of its stderr
    lines: int  # JSON lines sent on
    stopped: bool  # told to stop (Ctrl-C, a missed barrier, the task cancelled)


def topic(run_id: str) -> str:
    return f"loadgen-fleet-{run_id}"


def go_event(run_id: str, group: int) -> str:
    return f"loadgen-fleet-{run_id}-go-{group}"


def go_at(run_id: str, group: int) -> str:
    """The ``distributed.Variable`` with the instant the group's hosts release at."""
    return f"loadgen-fleet-{run_id}-go-at-{group}"


def stop_event(run_id: str, name: str) -> str:
    return f"loadgen-fleet-{run_id}-stop-{name}"


def run_host(spec: HostSpec) -> HostOutcome:
    """The Dask task: one host's whole run."""
    worker = get_worker()
    client = get_client()
    key = current_task_key()
    run_topic = topic(spec.run_id)

    def send(message: FleetMessage) -> None:
        worker.log_event(run_topic, {**message, "host": spec.name})

    def cancelled() -> bool:
        task = worker.state.tasks.get(key) if key is not None else None
        return task is None or task.state in ("cancelled", "released", "forgotten")

    workdir = Path(tempfile.mkdtemp(prefix="loadgen-fleet-"))
    try:
        return _run(spec, workdir, client, send, cancelled)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _controller_env() -> dict[str, str]:
    """The Dask worker's environment, with this loadgen importable by the subprocess."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run(
    spec: HostSpec, workdir: Path, client: Client, send: Send, cancelled: Callable[[], bool]
) -> HostOutcome:
    for job_file in spec.files:
        (workdir / job_file.name).write_bytes(job_file.text)
    report_path, stderr_path = workdir / "report.json", workdir / "stderr.txt"
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    command = [
        sys.executable,
        "-m",
        "loadgen",
        "run",
        *spec.args,
        "--jsonl=-",
        "--output-format=json+",
        f"--output={report_path}",
        "--eta=never",
        f"--release-fd={theirs.fileno()}",
    ]
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=_controller_env(),
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )  # a ^C at the Dask worker's terminal is not ours
    theirs.close()
    assert proc.stdout is not None
    stop = _Stopper(proc, Waiter(client, stop_event(spec.run_id, spec.name)), cancelled)
    stream = _Stream(proc.stdout.fileno(), spec.name, send)
    threads = [
        threading.Thread(target=stream.run, name="loadgen-fleet-stream", daemon=True),
        threading.Thread(
            target=_gate,
            args=(ours, spec.run_id, client, send, stop),
            name="loadgen-fleet-gate",
            daemon=True,
        ),
        threading.Thread(target=stop.run, name="loadgen-fleet-stop", daemon=True),
    ]
    for thread in threads:
        thread.start()
    status = proc.wait()
    for thread in threads:
        thread.join()
    ours.close()
    proc.stdout.close()
    report = report_path.read_text(errors="replace") if report_path.exists() else ""
    tail = stderr_path.read_bytes()[-STDERR_TAIL:].decode(errors="replace")
    return HostOutcome(spec.name, status, report, tail, stream.count, stop.stopped)


class _Stream:
    """Forwards the controller's JSON lines, in batches of at most ``FLUSH_S``."""

    def __init__(self, fd: int, name: str, send: Send) -> None:
        self.fd = fd
        self.name = name
        self.send = send
        self.count = 0

    def run(self) -> None:
        pending = b""
        batch: list[str] = []
        flushed = time.monotonic()
        while True:
            readable, _, _ = select.select([self.fd], [], [], FLUSH_S)
            data = os.read(self.fd, 1 << 16) if readable else None
            if data == b"":
                break
            if data:
                pending += data
                *lines, pending = pending.split(b"\n")
                batch += [self._renamed(line) for line in lines if line]
            if batch and (time.monotonic() - flushed >= FLUSH_S or len(batch) >= BATCH_LINES):
                self._flush(batch)
                batch, flushed = [], time.monotonic()
        if pending:
            batch.append(self._renamed(pending))
        if batch:
            self._flush(batch)

    def _renamed(self, line: bytes) -> str:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:  # not ours to drop: pass it on as it came
            return line.decode(errors="replace")
        record["host.name"] = self.name
        return orjson.dumps(record).decode()

    def _flush(self, batch: list[str]) -> None:
        self.count += len(batch)
        self.send({"kind": "lines", "lines": batch})


class _Stopper:
    """Sends the controller SIGINT when the host is told to stop; SIGKILL if it hangs."""

    def __init__(
        self, proc: subprocess.Popen[bytes], event: Waiter, cancelled: Callable[[], bool]
    ) -> None:
        self.proc = proc
        self.event = event
        self.cancelled = cancelled
        self.stopped = False

    def asked(self) -> bool:
        return self.stopped or self.event.wait(POLL_S) or self.cancelled()

    def run(self) -> None:
        while self.proc.poll() is None:
            if self.asked():
                self.stopped = True
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                return


def _gate(sock: socket.socket, run_id: str, client: Client, send: Send, stop: _Stopper) -> None:
    """The controller's ``--release-fd`` protocol, tied to the fleet's barrier."""
    for line in sock.makefile("rb"):
        words = line.split()
        if len(words) != 3 or not words[1].isdigit() or not words[2].isdigit():
            continue
        word, group, epoch_ns = words[0].decode(), int(words[1]), int(words[2])
        send({"kind": word, "group": group, "epoch_ns": epoch_ns})
        if word != "ready":
            continue
        go = Waiter(client, go_event(run_id, group))
        while stop.proc.poll() is None and not stop.stopped:
            if go.wait(POLL_S):
                at = get_variable(client, go_at(run_id, group), GO_AT_TIMEOUT_S)
                with contextlib.suppress(OSError):
                    sock.sendall(b"go %d %d\n" % (group, at))
                send({"kind": "go", "group": group, "epoch_ns": time.time_ns()})
                break
