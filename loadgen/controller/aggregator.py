"""Adds the workers' interval deltas up per job and per group, and feeds the live stream.

Every message of every worker passes through here exactly once, on the event loop
thread: deltas are merged into ``JobResult.totals`` (so the deltas of a job always
sum to its totals), each becomes one ``interval`` line, and the progress line reads
the running totals.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from loadgen import protocol
from loadgen.plan import Group, Job
from loadgen.report.jsonl import JsonlWriter, metrics
from loadgen.results import GroupResult, JobResult
from loadgen.stats import histogram
from loadgen.stats.jobstats import IntervalStats


@dataclass
class JobState:
    """What the controller knows about one job (one numjobs clone) while it runs."""

    result: JobResult
    ready_ns: int = 0  # CLOCK_MONOTONIC when the worker said READY
    done: bool = False  # DONE received, or the job ended in an error
    final_seen: bool = False
    bytes_done: list[int] = field(default_factory=lambda: [0, 0])

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

    def __init__(self, writer: JsonlWriter | None, epoch_offset_ns: int) -> None:
        self.writer = writer
        self.epoch_offset_ns = epoch_offset_ns  # epoch ns = CLOCK_MONOTONIC ns + this
        self.states: dict[int, JobState] = {}
        self.group: GroupResult | None = None

    # ---- groups ---------------------------------------------------------------------------
    def begin_group(self, group: Group) -> GroupResult:
        result = GroupResult(id=group.id)
        for job in sorted(group.jobs, key=lambda j: j.thread_number):
            job_result = JobResult(job=job)
            result.jobs.append(job_result)
            self.states[job.thread_number] = JobState(job_result)
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
        info = protocol.decode_json(payload)
        state.result.pid = info.get("pid", state.result.pid)
        if kind == protocol.READY:
            state.ready_ns = info["t_ready_ns"]
        elif kind == protocol.ERROR:
            self.fail(state, info["error"], info["error_text"], "job_error")
        elif kind == protocol.DONE:
            state.done = True
            self._end_epoch(state)

    def _interval(self, state: JobState, delta: IntervalStats) -> None:
        totals = state.result.totals
        totals.merge(delta)
        if delta.first_op_ns and not state.result.start_epoch_ms:
            state.result.start_epoch_ms = (delta.first_op_ns + self.epoch_offset_ns) // 1_000_000
        for i, d in enumerate(delta.dirs):
            state.bytes_done[i] += d.bytes
        state.final_seen = state.final_seen or delta.final
        if self.writer is not None:
            plist, lat_plist = _percentile_lists(state.job)
            fields = {
                **self._job_id(state),
                "interval_ns": delta.t_end_ns - delta.t_start_ns,
                "final": delta.final,
                **metrics(delta, delta.t_end_ns - delta.t_start_ns, plist, lat_plist),
            }
            if delta.first_op_ns:
                fields["first_op_ns"] = delta.first_op_ns
            if delta.final:
                fields["loadgen.report_block_ns"] = delta.report_block_ns
            self.writer.write("interval", fields, pid=state.result.pid)

    def _end_epoch(self, state: JobState) -> None:
        end = state.result.totals.t_end_ns
        state.result.end_epoch_ms = ((end + self.epoch_offset_ns) if end else time.time_ns()) // 1_000_000

    # ---- failures ---------------------------------------------------------------------------
    def fail(self, state: JobState, err: int, text: str, action: str) -> None:
        """Mark a job failed (fio's ``error``) and say so in the stream."""
        if not state.result.error:
            state.result.error, state.result.error_text = err, text
        state.done = True
        self._end_epoch(state)
        self.event(action, text, err, state, level="error")

    def on_worker_exit(self, pids_jobs: list[JobState], status: int, stopping: bool) -> None:
        """A worker process ended: any of its jobs without DONE died with it."""
        for state in pids_jobs:
            if state.done:
                continue
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                why = "killed after the stop grace period" if stopping else "killed"
                self.fail(state, errno.EINTR, f"worker pid {state.result.pid} {why} by {sig}", "worker_died")
            else:
                code = os.WEXITSTATUS(status)
                self.fail(state, errno.EIO, f"worker pid {state.result.pid} exited with status {code}"
                          " before finishing its job", "worker_died")

    # ---- stream records ---------------------------------------------------------------------
    @staticmethod
    def _job_id(state: JobState) -> dict[str, Any]:
        job = state.job
        return {"group": job.group_id, "job": job.name, "thread_number": job.thread_number, "subjob": job.subjob}

    def event(self, action: str, message: str, err: int = 0, state: JobState | None = None,
              level: str = "info") -> None:
        if self.writer is None:
            return
        ident: dict[str, Any] = (self._job_id(state) if state is not None else
                                 {"group": None, "job": None, "thread_number": None, "subjob": None})
        fields = {**ident, "event.action": action, "log.level": level, "message": message, "error": err}
        self.writer.write("event", fields, pid=state.result.pid if state is not None and state.result.pid else None)

    def job_end(self, state: JobState) -> None:
        if self.writer is None:
            return
        totals = state.result.totals
        plist, lat_plist = _percentile_lists(state.job)
        duration = totals.t_end_ns - totals.t_start_ns
        fields = {
            **self._job_id(state),
            **metrics(totals, duration, plist, lat_plist),
            "error": state.result.error,
            "error_text": state.result.error_text,
            "job_start": state.result.start_epoch_ms,
            "loadgen.report_block_ns": totals.report_block_ns,
        }
        self.writer.write("end", fields, pid=state.result.pid)

    def group_end(self, result: GroupResult) -> None:
        if self.writer is None:
            return
        total = IntervalStats()
        for job in result.jobs:
            total.merge(job.totals)
        duration = total.t_end_ns - total.t_start_ns
        # Group runtime: wall time from first start to last end (fio's max runtime), not the sum.
        total.runtime_ns = max((j.totals.runtime_ns for j in result.jobs), default=0)
        fields = {
            "group": result.id,
            "jobs": len(result.jobs),
            "errors": sum(1 for j in result.jobs if j.error),
            "spawn_s": result.spawn_s,
            "start_skew_ns": result.start_skew_ns,
            **{k: v for k, v in metrics(total, duration, None, None).items() if "_ns." not in k},
        }
        self.writer.write("group_end", fields)
