"""Adds the workers' interval deltas up per job and per group, and feeds the live stream.

Every message of every worker passes through here exactly once, on the event loop
thread: deltas are merged into ``JobResult.totals`` (so the deltas of a job always
sum to its totals), and the progress line reads the running totals.

The stream gets one ``interval`` record per job per run-wide grid interval k (origin =
the run's first release, one point every status interval; ``IntervalStats.interval_index``),
numbered per job (``event.sequence``) and without gaps: a job's records run k = first..last,
an interval the job reported nothing for is a record of zeros.  Deltas a worker put on the
grid (``interval_index`` > 0) are written as they come.  Until every worker does that, a
delta with index 0 is put on the grid here, in the interval that holds its midpoint (the
window it overlaps most); deltas that land in the same interval are added up, so its
record is written when a later one arrives or the job ends (one interval late).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from loadgen import protocol
from loadgen.controller import outcome, steadystate
from loadgen.plan import Group, Job
from loadgen.report import saved
from loadgen.report.jsonl import EventAction, JsonlWriter, metrics, rfc3339
from loadgen.results import GroupResult, JobResult
from loadgen.stats import histogram
from loadgen.stats.jobstats import IntervalStats, SsSample
from loadgen.status import OutcomeKind


@dataclass(frozen=True)
class LastInterval:
    """A job's last interval delta in brief: what a death report says it was doing."""

    t_end_ns: int
    interval_ns: int
    total_ios: int
    io_bytes: int
    minf: int

    def fields(self) -> dict[str, int]:
        return {f"last_interval.{name}": value for name, value in asdict(self).items()}


@dataclass
class JobState:
    """What the controller knows about one job (one numjobs clone) while it runs."""

    result: JobResult
    ready_ns: int = 0  # CLOCK_MONOTONIC when the worker said READY
    done: bool = False  # DONE received, or the job ended in an error
    final_seen: bool = False
    bytes_done: list[int] = field(default_factory=lambda: [0, 0])
    # what a death report needs
    traceback: str = ""  # a Python exception the worker reported
    last_interval: LastInterval | None = None
    restarts: int = 0  # oom_policy=respawn
    # the stream's per-job numbering and grid position
    seq: int = 0  # event.sequence of the job's last record
    last_index: int = 0  # grid interval of the job's last interval record
    pending: IntervalStats | None = None  # a controller-aligned record still open
    pending_index: int = 0

    @property
    def job(self) -> Job:
        return self.result.job

    @property
    def settled(self) -> bool:
        """Ready to go, or never will be."""
        return bool(self.ready_ns) or self.done


def _percentile_lists(job: Job) -> tuple[list[float] | None, list[float] | None]:
    plist = list(job.percentile_list or histogram.DEFAULT_PERCENTILES)
    return (plist if job.clat_percentiles else None), (plist if job.lat_percentiles else None)


class Aggregator:
    """Per-run bookkeeping: job states by thread number, clocks, the JSON-lines writer."""

    def __init__(self, writer: JsonlWriter | None, epoch_offset_ns: int,
                 oom: outcome.OomWatch | None = None,
                 interval_ns: int = 1_000_000_000) -> None:
        self.writer = writer
        self.interval_ns = max(interval_ns, 1)  # the grid's step: the status interval
        self.origin_ns = 0  # the grid's origin (CLOCK_MONOTONIC): the run's first release
        self.oom = oom  # the kernel's OOM-kill records, to tell OOM kills from other SIGKILLs
        self.epoch_offset_ns = epoch_offset_ns  # epoch ns = CLOCK_MONOTONIC ns + this
        self.states: dict[int, JobState] = {}
        self.group: GroupResult | None = None
        self.steady: dict[int, steadystate.Tracker] = {}  # the group's steadystate= rings
        # called with the member thread numbers of a ring that attained steady state
        self.on_steady: Callable[[tuple[int, ...]], None] = lambda members: None
        # one line on stderr for a person (Supervisor.notice: the progress line is cleared)
        self.notice: Callable[[str], None] = lambda line: print(f"loadgen: {line}",
                                                                file=sys.stderr, flush=True)

    # ---- groups ---------------------------------------------------------------------------
    def begin_group(self, group: Group) -> GroupResult:
        result = GroupResult(id=group.id)
        for job in sorted(group.jobs, key=lambda j: j.thread_number):
            job_result = JobResult(job=job)
            result.jobs.append(job_result)
            self.states[job.thread_number] = JobState(job_result)
        self.steady = steadystate.trackers(group)
        for thread_number, tracker in self.steady.items():
            self.states[thread_number].result.steadystate = tracker.result
        self.group = result
        return result

    def group_states(self) -> list[JobState]:
        assert self.group is not None
        return [self.states[j.job.thread_number] for j in self.group.jobs]

    # ---- worker messages -------------------------------------------------------------------
    def on_message(self, thread_number: int, kind: int, payload: bytes) -> None:
        state = self.states.get(thread_number)
        if state is None:
            return
        if kind == protocol.INTERVAL:
            self._interval(state, protocol.decode_interval(payload))
            return
        if kind == protocol.SS_SAMPLE:
            self._ss_sample(state, protocol.decode_ss_sample(payload))
            return
        if kind == protocol.READY:
            ready = protocol.decode_ready(payload)
            state.result.pid, state.ready_ns = ready.pid, ready.t_ready_ns
        elif kind == protocol.ERROR:
            error = protocol.decode_error(payload)
            state.result.pid, state.traceback = error.pid, error.traceback
            if error.bad_offset >= 0:  # verify found bad data: where, as its own event
                self.fail(state, error.error, error.error_text, EventAction.VERIFY_FAILED,
                          {"verify.offset": error.bad_offset, "verify.length": error.bad_length})
                return
            # an exception is said once, when the worker is reaped (Supervisor._after_end)
            self.fail(state, error.error, error.error_text,
                      EventAction.WORKER_EXCEPTION if state.traceback else EventAction.JOB_ERROR,
                      {"outcome.traceback": state.traceback} if state.traceback else None,
                      say=not state.traceback)
        elif kind == protocol.DONE:
            state.result.pid = protocol.decode_done(payload).pid
            state.done = True
            self._end_epoch(state)

    def _interval(self, state: JobState, delta: IntervalStats) -> None:
        totals = state.result.totals
        totals.merge(delta)
        if delta.first_op_ns and not state.result.start_epoch_ms:
            state.result.start_epoch_ms = delta.job_start_ms
        for i, d in enumerate(delta.dirs):
            state.bytes_done[i] += d.bytes
        state.final_seen = state.final_seen or delta.final
        state.last_interval = LastInterval(
            t_end_ns=delta.t_end_ns,
            interval_ns=delta.t_end_ns - delta.t_start_ns,
            total_ios=delta.dirs[0].ios + delta.dirs[1].ios,
            io_bytes=delta.dirs[0].bytes + delta.dirs[1].bytes,
            minf=delta.minf,
        )
        tracker = self.steady.get(state.job.thread_number)
        if tracker is not None and delta.final and tracker.end(state.job.thread_number):
            self._attained(state, tracker)
        if self.writer is None:
            return
        if delta.interval_index > 0:  # on the grid already: one delta per job per interval
            self.flush(state)
            self._write_interval(state, delta.interval_index, delta)
            return
        # the window it overlaps most: the one that holds its midpoint
        index = self.grid_index((delta.t_start_ns + delta.t_end_ns) // 2)
        if state.pending is not None and state.pending_index == index:
            state.pending.merge(delta)
        else:
            self.flush(state)
            state.pending, state.pending_index = delta, index
        if delta.final:
            self.flush(state)

    def _ss_sample(self, state: JobState, sample: SsSample) -> None:
        tracker = self.steady.get(state.job.thread_number)
        if tracker is not None and tracker.add(state.job.thread_number, sample):
            self._attained(state, tracker)

    def _attained(self, state: JobState, tracker: steadystate.Tracker) -> None:
        r = tracker.result
        unit = "%" if tracker.ss.pct else ""
        self.event(
            EventAction.STEADYSTATE,
            f"steady state attained: criterion "
            f"{r.criterion:f}{unit} below {tracker.ss.limit:f}{unit}",
            state=state,
            details={
                "steadystate.criterion": r.criterion,
                "steadystate.members": list(tracker.members),
            },
        )
        self.on_steady(tracker.members)

    # ---- the run-wide interval grid ----------------------------------------------------------
    def start_grid(self, release_ns: int) -> None:
        """The grid's origin: the first release of the run (later groups keep it)."""
        if not self.origin_ns:
            self.origin_ns = release_ns

    def grid_index(self, t_ns: int) -> int:
        """The grid interval k that holds instant ``t_ns``: (origin + (k-1)*I, origin + k*I]."""
        if not self.origin_ns:
            self.origin_ns = t_ns - self.interval_ns
        return max(1, -(-(t_ns - self.origin_ns) // self.interval_ns))

    def flush(self, state: JobState) -> None:
        """Write the job's open controller-aligned record, if any."""
        if state.pending is not None:
            delta, state.pending = state.pending, None
            self._write_interval(state, state.pending_index, delta)

    def _write_interval(self, state: JobState, index: int, delta: IntervalStats) -> None:
        assert self.writer is not None
        while state.last_index and index > state.last_index + 1:  # no gaps: an empty interval
            self._interval_record(state, state.last_index + 1, IntervalStats(), lag=False)
        self._interval_record(state, index, delta, lag=True)

    def _interval_record(self, state: JobState, index: int, delta: IntervalStats,
                         lag: bool) -> None:
        assert self.writer is not None
        plist, lat_plist = _percentile_lists(state.job)
        start = self.origin_ns + (index - 1) * self.interval_ns + self.epoch_offset_ns
        end = start + self.interval_ns
        measured = delta.t_end_ns - delta.t_start_ns
        state.seq += 1
        state.last_index = max(state.last_index, index)
        fields = {
            **self._job_id(state),
            "event.sequence": state.seq,
            "interval.index": index,
            "interval.start_ns": start,
            "interval.end_ns": end,
            "event.start": rfc3339(start),
            "event.end": rfc3339(end),
            "interval_ns": measured,
            "final": delta.final,
            # how long after the delta's end the controller wrote it
            "lag_ns": time.monotonic_ns() - delta.t_end_ns if lag else 0,
            **metrics(delta, measured, plist, lat_plist),
        }
        if delta.first_op_ns:
            fields["first_op_ns"] = delta.first_op_ns
        if delta.final:
            fields["report_block_ns"] = delta.report_block_ns
        self.writer.write("interval", fields, pid=state.result.pid)

    def _end_epoch(self, state: JobState) -> None:
        end = state.result.totals.t_end_ns
        state.result.end_epoch_ms = (
            (end + self.epoch_offset_ns) if end else time.time_ns()
        ) // 1_000_000

    # ---- failures ---------------------------------------------------------------------------
    def fail(self, state: JobState, err: int, text: str, action: EventAction,
             details: dict[str, Any] | None = None, *, say: bool = True) -> None:
        """Mark a job failed (fio's ``error``), say so in the stream and, unless ``say`` is
        off (the caller says it), in one stderr line, as fio prints a job's error."""
        if not state.result.error:
            state.result.error, state.result.error_text = err, text
        state.done = True
        self._end_epoch(state)
        if self.writer is not None:
            self.flush(state)
        self.event(action, text, err, state, level="error", details=details)
        if say:
            pid = state.result.pid
            name = state.job.name
            text = text.removeprefix(f"{name}: ")  # the engine's texts start with the job's name
            self.notice(f"{name} (pid {pid}): {text}" if pid else f"{name}: {text}")

    # ---- worker ends (loadgen.controller.outcome) ---------------------------------------------
    def classify_exit(self, pids_jobs: list[JobState], status: int,
                      stopping: bool) -> list[tuple[JobState, outcome.Outcome]]:
        """How a reaped worker's jobs ended; nothing is recorded yet (see ``record_end``)."""
        ends = []
        for state in pids_jobs:
            pid = state.result.pid
            if state.done and not state.traceback:
                kind = (OutcomeKind.FAILED if state.result.error else
                        OutcomeKind.STOPPED if stopping else OutcomeKind.COMPLETED)
                ends.append(
                    (state, outcome.Outcome(kind, pid, state.result.error, state.result.error_text))
                )
                continue
            ends.append((state, outcome.classify(
                pid, os.waitstatus_to_exitcode(status), finished=state.final_seen,
                stop_requested=stopping, job_error=(state.result.error, state.result.error_text),
                traceback=state.traceback, oom=self.oom)))
        return ends

    def death_details(self, state: JobState, end: outcome.Outcome) -> dict[str, Any]:
        """The event fields of a worker's death: its outcome, what it did, its last interval."""
        totals = state.result.totals
        fields: dict[str, Any] = {f"outcome.{k}": v for k, v in end.to_dict().items()
                                  if k not in ("pid", "errno", "text")}
        fields["outcome.restarts"] = state.restarts
        fields["total_ios"] = totals.dirs[0].ios + totals.dirs[1].ios
        fields["io_bytes"] = totals.dirs[0].bytes + totals.dirs[1].bytes
        if state.last_interval is not None:
            fields.update(state.last_interval.fields())
        return fields

    def record_end(self, state: JobState, end: outcome.Outcome) -> None:
        """Put a job's end into its result (``error``, ``loadgen.outcome``) and the stream."""
        if end.kind is OutcomeKind.COMPLETED:
            return
        state.result.outcome = end.kind
        state.result.last_end = end
        if state.done:  # DONE came, or the job's own job_error/worker_exception event is out
            return
        stopped = end.kind is OutcomeKind.STOPPED
        action = EventAction.WORKER_STOPPED if stopped else EventAction.WORKER_DIED
        self.fail(state, end.errno, f"worker pid {end.pid} {end.text}", action,
                  self.death_details(state, end), say=False)  # the supervisor says deaths

    def record_respawn(self, state: JobState, end: outcome.Outcome) -> None:
        """An OOM-killed worker is replaced (oom_policy=respawn): report it, keep the job open."""
        state.restarts += 1
        state.result.restarts = state.restarts
        state.result.last_end = end
        self.event(EventAction.WORKER_RESPAWNED, f"worker pid {end.pid} {end.text}; respawning it "
                   f"(restart {state.restarts})", end.errno, state, level="warning",
                   details=self.death_details(state, end))

    # ---- stream records ---------------------------------------------------------------------
    @staticmethod
    def _job_id(state: JobState) -> dict[str, Any]:
        job = state.job
        return {
            "group": job.group_id,
            "job": job.name,
            "thread_number": job.thread_number,
            "subjob": job.subjob,
        }

    def event(self, action: EventAction, message: str, err: int = 0, state: JobState | None = None,
              level: str = "info", details: dict[str, Any] | None = None) -> None:
        if self.writer is None:
            return
        ident: dict[str, Any] = (
            self._job_id(state)
            if state is not None
            else {"group": None, "job": None, "thread_number": None, "subjob": None}
        )
        fields = {
            **ident,
            "event.action": action,
            "log.level": level,
            "message": message,
            "error": err,
            **(details or {}),
        }
        self.writer.write(
            "event",
            fields,
            pid=state.result.pid if state is not None and state.result.pid else None,
        )

    def job_end(self, state: JobState) -> None:
        if self.writer is None:
            return
        self.flush(state)
        totals = state.result.totals
        plist, lat_plist = _percentile_lists(state.job)
        duration = totals.t_end_ns - totals.t_start_ns
        state.seq += 1
        fields = {
            **self._job_id(state),
            "event.sequence": state.seq,
            **metrics(totals, duration, plist, lat_plist),
            "error": state.result.error,
            "error_text": state.result.error_text,
            "job_start": state.result.start_epoch_ms,
            "report_block_ns": totals.report_block_ns,
            "state": saved.dumps(saved.job_result_doc(state.result)),  # for `loadgen report`
        }
        self.writer.write("end", fields, pid=state.result.pid)

    def group_end(self, result: GroupResult) -> None:
        if self.writer is None:
            return
        fields = {
            "group": result.id,
            "jobs": len(result.jobs),
            "errors": sum(1 for j in result.jobs if j.error),
            "spawn_s": result.spawn_s,
            "start_skew_ns": result.start_skew_ns,
            **aggregate_metrics(result.jobs),
            "state": saved.dumps(saved.group_doc(result)),  # for `loadgen report`
        }
        self.writer.write("group_end", fields)


def aggregate_metrics(jobs: list[JobResult]) -> dict[str, Any]:
    """Summed counts of many jobs, with rates over the longest job's runtime (fio's group line).

    Latency keys are left out: per-job records carry them, and a sum over
    differently-behaving workers is rarely what anyone wants in a stream.
    """
    total = IntervalStats()
    for job in jobs:
        total.merge(job.totals)
    duration = total.t_end_ns - total.t_start_ns
    total.runtime_ns = max((j.totals.runtime_ns for j in jobs), default=0)
    return {k: v for k, v in metrics(total, duration, None, None).items() if "_ns." not in k}
