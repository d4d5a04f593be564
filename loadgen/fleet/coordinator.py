"""The client of a fleet run: hosts, the cluster-wide barrier, the merged stream, faults.

One thread does everything here; Dask calls ``_inbox.put`` from its own thread for each
message a host sends and each task that ends, so messages are handled in the order they
arrived.  The barrier, per group: once every host still running is ready at it (its
workers forked and waiting), the client names a release instant a little ahead
(``GO_LEAD_NS``), sets the group's ``distributed.Event``, and every host's agent has its
controller release the workers at that instant on the host's clock.  A host not ready
``--barrier-timeout`` after the first host was (after its own previous group ended, for
later groups) is reported, told to stop, and the rest start without it.  A host whose
Dask worker leaves the cluster is reported as dead; the others go on.  The first Ctrl-C
(or SIGTERM) stops every host, which then writes what it measured; a second one stops
waiting for them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import signal
import socket
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import orjson
from distributed import Client, Future

from loadgen.errors import InputError
from loadgen.fleet import clock, daskapi
from loadgen.fleet.agent import (
    FleetMessage,
    HostOutcome,
    HostSpec,
    go_at,
    go_event,
    run_host,
    stop_event,
    topic,
)
from loadgen.fleet.options import FleetOptions, HostChoice, JobFile
from loadgen.fleet.report import HostRecord, fleet_document, render_json, render_text
from loadgen.plan import RunOptions
from loadgen.report import saved
from loadgen.report.jsonl import EventAction, stream_base, stream_record
from loadgen.sinks import Sink, SinkError
from loadgen.startup_signals import Handler
from loadgen.status import ExitStatus, HostOutcomeKind

TICK_S = 0.2
WORKER_CHECK_S = 0.5
CONNECT_TIMEOUT_S = 10
DRAIN_S = 10.0  # after the last host ended: how long its last lines may take to arrive
# the release instant is this far after the Event is set: time for the Event to reach
# every host (tens of ms under load), so that all release at the instant, not on arrival
GO_LEAD_NS = 100_000_000
GROUP_END = b'{"event.dataset":"loadgen.group_end"'
OUTCOME_OF_STATUS = {
    ExitStatus.OK: HostOutcomeKind.COMPLETED,
    ExitStatus.FAILED: HostOutcomeKind.FAILED,
    ExitStatus.BAD_INPUT: HostOutcomeKind.FAILED,
    ExitStatus.SIGNALLED: HostOutcomeKind.STOPPED,
    ExitStatus.OOM: HostOutcomeKind.OOM_KILLED,
}


def connect(address: str) -> Client:
    """The Dask client; an unreachable scheduler is one line, nothing started."""
    try:
        return daskapi.connect(address, CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--cluster={address}: cannot reach the Dask scheduler ({exc})") from None


def select_hosts(workers: dict[str, dict[str, Any]], choice: HostChoice) -> list[HostRecord]:
    """The Dask workers to run on, by name (``dask worker --name``, by default its address)."""
    by_name = sorted(
        ((str(info.get("name", address)), address) for address, info in workers.items())
    )
    if not by_name:
        raise InputError("the Dask cluster has no workers")
    if choice.count:
        if choice.count > len(by_name):
            raise InputError(f"--hosts={choice.count}: the cluster has {len(by_name)} workers")
        by_name = by_name[: choice.count]
    elif choice.names:
        known = dict(by_name)
        hosts = {str(info.get("host", "")): address for address, info in workers.items()}
        picked: list[tuple[str, str]] = []
        for wanted in choice.names:
            if wanted in known:
                picked.append((wanted, known[wanted]))
            elif wanted in hosts:
                picked.append((wanted, hosts[wanted]))
            else:
                raise InputError(
                    f"--hosts: no Dask worker named {wanted!r} "
                    f"(workers: {', '.join(n for n, _ in by_name)})"
                )
        by_name = picked
    return [HostRecord(name=name, address=address) for name, address in by_name]


@dataclass
class _Host:
    """The client's running view of one host (its record is what the report reads)."""

    record: HostRecord
    future: Future[HostOutcome] | None = None
    active: bool = True  # its task has not ended and it was not given up
    ready_group: int = -1
    ended_at: dict[int, float] = field(default_factory=dict)  # group -> client monotonic
    lines_expected: int | None = None


class Coordinator:
    def __init__(
        self,
        client: Client,
        hosts: Sequence[HostRecord],
        files: tuple[JobFile, ...],
        args: tuple[str, ...],
        fleet: FleetOptions,
        stream: Sink | None,
        signals: int = 0,
    ) -> None:
        self.client = client
        self.fleet = fleet
        self.stream = stream
        self.run_id = uuid.uuid4().hex
        self.files, self.args = files, args
        self.hosts = {h.name: _Host(h) for h in hosts}
        self._inbox: queue.Queue[FleetMessage] = queue.Queue()
        self.next_group = 0
        self.first_ready: dict[int, float] = {}
        self.go_epoch_ns: dict[int, int] = {}
        self.signals = signals  # SIGINT/SIGTERM received (before the run too)
        self.stopping = False
        self.start_epoch_ns, self.start_mono_ns = time.time_ns(), time.monotonic_ns()
        self.client_host = socket.gethostname()
        self.stream_failure = ""

    # ---- the merged stream -------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.stream is None or self.stream_failure:
            return
        try:
            self.stream.write(data)
        except SinkError as failure:  # the stream is lost; the hosts' reports are not
            self.stream_failure = str(failure)

    def event(
        self, host: str | None, action: EventAction, message: str, level: str = "error"
    ) -> None:
        """A fleet ``event`` record in the merged stream, and a line on stderr."""
        print(f"loadgen: fleet: {message}", file=sys.stderr, flush=True)
        now_mono = time.monotonic_ns()
        ts = self.start_epoch_ns + (now_mono - self.start_mono_ns)
        fields = {
            "group": None,
            "job": None,
            "thread_number": None,
            "subjob": None,
            "event.action": action,
            "log.level": level,
            "message": message,
            "error": 0,
        }
        record = stream_record(
            "event",
            fields,
            stream_base(host or self.client_host, self.run_id),
            ts,
            (now_mono - self.start_mono_ns) / 1e9,
            os.getpid(),
        )
        self._write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    # ---- running -------------------------------------------------------------------------------
    def run(self) -> list[HostRecord]:
        for host in self.hosts.values():
            host.record.clock = clock.estimate(self.client, host.record.address)
        daskapi.subscribe(self.client, topic(self.run_id), lambda event: self._inbox.put(event[1]))
        for name, host in self.hosts.items():
            spec = HostSpec(self.run_id, name, self.files, self.args)
            future = self.client.submit(
                run_host,
                spec,
                key=f"loadgen-fleet-{name}-{self.run_id}",
                workers=[host.record.address],
                allow_other_workers=False,
                pure=False,
            )
            daskapi.on_done(future, functools.partial(self._task_ended, name))
            host.future = future
        previous = self._install_signals()
        try:
            self._loop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            with contextlib.suppress(Exception):
                daskapi.unsubscribe(self.client, topic(self.run_id))
        return [h.record for h in self.hosts.values()]

    def _task_ended(self, name: str, future: Future[HostOutcome]) -> None:
        self._inbox.put({"kind": "done", "host": name})

    def _loop(self) -> None:
        checked = 0.0
        drain_until: float | None = None
        while True:
            active = [h for h in self.hosts.values() if h.active]
            if not active:
                if self._all_lines_in():
                    return
                drain_until = drain_until or time.monotonic() + DRAIN_S
                if time.monotonic() > drain_until:
                    return
            with contextlib.suppress(queue.Empty):
                self._handle(self._inbox.get(timeout=TICK_S))
            now = time.monotonic()
            if self.signals and not self.stopping:
                self._stop_all()
            if self.signals > 1:
                self._give_up()
            if now - checked > WORKER_CHECK_S:
                checked = now
                self._check_workers()
            self._check_barrier(now)

    def _all_lines_in(self) -> bool:
        return all(
            h.lines_expected is None or h.record.lines >= h.lines_expected
            for h in self.hosts.values()
        )

    def _handle(self, message: FleetMessage) -> None:
        host = self.hosts.get(str(message.get("host")))
        if host is None:
            return
        kind = message.get("kind")
        if kind == "lines":
            lines = [line.encode() for line in message["lines"]]
            host.record.lines += len(lines)
            self._write(b"\n".join(lines) + b"\n")
            for line in lines:
                if line.startswith(GROUP_END):
                    host.ended_at[int(orjson.loads(line)["loadgen.group"])] = time.monotonic()
        elif kind == "ready":
            host.ready_group = int(message["group"])
            self.first_ready.setdefault(host.ready_group, time.monotonic())
        elif kind == "go":
            host.record.go_epoch_ns[int(message["group"])] = int(message["epoch_ns"])
        elif kind == "start":
            host.record.release_epoch_ns[int(message["group"])] = int(message["epoch_ns"])
        elif kind == "done":
            self._done(host)

    def _done(self, host: _Host) -> None:
        if not host.active or host.future is None:
            return
        host.active = False
        record = host.record
        try:
            outcome: HostOutcome = host.future.result()
        except Exception as exc:  # the task itself failed (the agent, not the run)
            record.outcome, record.message = HostOutcomeKind.FAILED, f"{type(exc).__name__}: {exc}"
            self.event(
                record.name,
                EventAction.HOST_FAILED,
                f"{record.name}: the fleet agent failed: {record.message}",
            )
            return
        host.lines_expected = outcome.lines
        record.exit_status = outcome.exit_status
        if outcome.report:
            # the host's last report (with --status-interval one came every interval)
            record.document = saved.final_report(outcome.report)
            if record.document is None:
                record.message = "its report is not JSON"
        if record.outcome == HostOutcomeKind.PENDING:
            if outcome.exit_status < 0:
                record.outcome = HostOutcomeKind.KILLED
                record.message = f"controller killed by {signal.Signals(-outcome.exit_status).name}"
            else:
                record.outcome = (
                    OUTCOME_OF_STATUS.get(ExitStatus(outcome.exit_status), HostOutcomeKind.FAILED)
                    if outcome.exit_status in ExitStatus._value2member_map_
                    else HostOutcomeKind.FAILED
                )
        if record.outcome not in (HostOutcomeKind.COMPLETED, HostOutcomeKind.STOPPED):
            last = outcome.stderr.strip().splitlines()[-1:] if outcome.stderr.strip() else []
            record.message = record.message or (
                last[0] if last else f"exit status {outcome.exit_status}"
            )
            if record.outcome != HostOutcomeKind.MISSED_BARRIER:
                self.event(
                    record.name,
                    EventAction.HOST_FAILED,
                    f"{record.name}: {record.outcome}: {record.message}",
                )

    def _check_workers(self) -> None:
        """A host whose Dask worker left the cluster (died, or its nanny restarted it) is dead."""
        try:
            alive = set(daskapi.workers(self.client))
        except (OSError, TimeoutError):
            return
        for host in self.hosts.values():
            if host.active and host.record.address not in alive:
                host.active = False
                host.record.outcome = HostOutcomeKind.DIED
                host.record.message = f"its Dask worker {host.record.address} left the cluster"
                self.event(
                    host.record.name,
                    EventAction.HOST_DIED,
                    f"{host.record.name}: {host.record.message}; the other hosts go on",
                )
                if host.future is not None:
                    daskapi.cancel(host.future)

    # ---- the barrier ----------------------------------------------------------------------------
    def _check_barrier(self, now: float) -> None:
        group = self.next_group
        if group not in self.first_ready or self.stopping:
            return
        pending = HostOutcomeKind.PENDING
        candidates = [h for h in self.hosts.values() if h.active and h.record.outcome == pending]
        for host in candidates:
            if host.ready_group >= group:
                continue
            if group and group - 1 not in host.ended_at:
                continue  # still running the previous group: not late
            since = max(self.first_ready[group], host.ended_at.get(group - 1, 0.0))
            if now - since > self.fleet.barrier_timeout_s:
                self._missed(host, group)
        waiting = [h for h in candidates if h.active and h.record.outcome == pending]
        if waiting and all(h.ready_group >= group for h in waiting):
            at = time.time_ns() + GO_LEAD_NS
            daskapi.set_variable(self.client, go_at(self.run_id, group), at)
            daskapi.set_event(self.client, go_event(self.run_id, group))
            self.go_epoch_ns[group] = at
            self.next_group += 1

    def _missed(self, host: _Host, group: int) -> None:
        host.record.outcome = HostOutcomeKind.MISSED_BARRIER
        host.record.message = (
            f"not ready at group {group}'s barrier {self.fleet.barrier_timeout_s:g} s "
            "after the first host"
        )
        self.event(
            host.record.name,
            EventAction.MISSED_BARRIER,
            f"{host.record.name}: {host.record.message}; the other hosts start without it",
        )
        daskapi.set_event(self.client, stop_event(self.run_id, host.record.name))

    # ---- stopping ------------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Handler]:
        previous: dict[int, Handler] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            self.signals += 1

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, handler)
        return previous

    def _stop_all(self) -> None:
        """Ctrl-C: every host stops its workers and writes what it measured."""
        self.stopping = True
        self.event(
            None,
            EventAction.SIGNAL,
            "stopping every host (once more: stop waiting for them)",
            level="warning",
        )
        for name, host in self.hosts.items():
            if host.active:
                daskapi.set_event(self.client, stop_event(self.run_id, name))

    def _give_up(self) -> None:
        for host in self.hosts.values():
            if host.active:
                host.active = False
                host.record.outcome = HostOutcomeKind.STOPPED
                host.record.message = "not waited for (a second signal)"
                if host.future is not None:
                    daskapi.cancel(host.future)
        for host in self.hosts.values():
            host.lines_expected = None  # what has arrived is what is written


def fleet_exit_status(hosts: Sequence[HostRecord], interrupted: bool, output_failed: bool) -> int:
    if interrupted:
        return int(ExitStatus.SIGNALLED)
    ended_well = (HostOutcomeKind.COMPLETED, HostOutcomeKind.OOM_KILLED)
    if output_failed or any(h.outcome not in ended_well for h in hosts):
        return int(ExitStatus.FAILED)
    if any(h.outcome == HostOutcomeKind.OOM_KILLED for h in hosts):
        return int(ExitStatus.OOM)
    return int(ExitStatus.OK)


def run_fleet(
    fleet: FleetOptions,
    opts: RunOptions,
    files: tuple[JobFile, ...],
    args: tuple[str, ...],
    stream: Sink | None,
    report: Sink,
    signals: int = 0,
) -> int:
    """The whole fleet run; ``stream`` and ``report`` are open. Returns the exit status."""
    client = connect(fleet.cluster)
    try:
        hosts = select_hosts(daskapi.workers(client), fleet.hosts)
        _note_shared_machines(client, hosts)
        coordinator = Coordinator(client, hosts, files, args, fleet, stream, signals)
        records = coordinator.run()
    finally:
        daskapi.close(client)
    plus = "json+" in opts.output_format
    document = fleet_document(
        records,
        fleet.barrier_timeout_s,
        plus,
        {
            "run_id": coordinator.run_id,
            "start_epoch_ns": coordinator.start_epoch_ns,
            "end_epoch_ns": time.time_ns(),
            "interrupted": coordinator.signals > 0,
            "go_epoch_ns": coordinator.go_epoch_ns,
            "stream_failure": coordinator.stream_failure,
        },
    )
    parts = []
    if "json" in opts.output_format or plus:
        parts.append(render_json(document))
    if "normal" in opts.output_format:
        parts.append(render_text(document))
    output_failed = bool(coordinator.stream_failure)
    try:
        report.write_text("".join(parts))
    except SinkError as failure:
        print(f"loadgen: {failure}", file=sys.stderr)
        output_failed = True
    return fleet_exit_status(records, coordinator.signals > 0, output_failed)


def _note_shared_machines(client: Client, hosts: Sequence[HostRecord]) -> None:
    """Two selected workers on one machine run two storms there: say so, do not refuse
    (a loopback test cluster is exactly that)."""
    workers = daskapi.workers(client)
    machines: dict[str, list[str]] = {}
    for host in hosts:
        machines.setdefault(str(workers.get(host.address, {}).get("host", "")), []).append(
            host.name
        )
    for ip, names in machines.items():
        if len(names) > 1:
            print(
                f"loadgen: fleet: note: hosts {', '.join(names)} are Dask workers on one "
                f"machine ({ip})",
                file=sys.stderr,
            )
