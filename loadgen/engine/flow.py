"""fio's flow control (flow.c) between worker processes: jobs of one ``flow_id`` keep
their I/O counts in the ratio of their ``flow`` weights.

One shared anonymous mapping (``MAP_SHARED``) holds the table; the fork helper creates it
before its first fork, so every worker maps the same pages.  Per flow slot: the flow's
counter (fio starts it at 1) and its total weight; per job (by thread number): the weight
it joined with and its own count.  Before each I/O the kernel compares the job's share
of the flow's count with its share of the weight and holds the I/O back (spinning, or
sleeping ``flow_sleep`` us) while it is ahead (fio's flow_threshold_exceeded); a job that
ends takes its count and weight out again (fio's flow_put), and so does the helper for a
worker that died before it could.  The same mapping holds one more counter per group:
the bytes its jobs did in a ``ramp_size`` ramp together (fio's group_reporting ramp).
"""

from __future__ import annotations

import ctypes
import mmap

import numpy as np

from loadgen.engine import kernel
from loadgen.plan import MAX_FLOWS, Job

FLOWS = MAX_FLOWS  # flow slots (loadgen.jobfile numbers the flow ids into them)
JOBS = 4097  # thread numbers 1..4096 (fio's job limit)
JOB_STRIDE = 8  # int64s per job: one cache line, so jobs do not share one
_JOB_BASE = 2 * FLOWS
_GROUP_BASE = _JOB_BASE + JOBS * JOB_STRIDE
GROUPS = JOBS  # group ids 0..4096: at most one group per job
_SIZE = (_GROUP_BASE + GROUPS) * 8


class FlowTable:
    """The run's shared flow counters."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, _SIZE, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self.words = np.frombuffer(self._map, dtype=np.int64)
        self.words[0:_JOB_BASE:2] = 1  # fio's new flow: counter 1, no weight
        self.address = ctypes.addressof(ctypes.c_char.from_buffer(self._map))

    def flow_address(self, slot: int) -> int:
        return self.address + 16 * slot

    def job_address(self, thread_number: int) -> int:
        return self.address + 8 * (_JOB_BASE + thread_number * JOB_STRIDE)

    def ramp_address(self, group_id: int) -> int:
        """The group's ramp_size counter: bytes its jobs did in the ramp so far."""
        return self.address + 8 * (_GROUP_BASE + group_id)

    def join(self, job: Job) -> None:
        """fio's flow_init_job: add the job's weight to its flow."""
        at = _JOB_BASE + job.thread_number * JOB_STRIDE
        self.words[at:at + 3] = (job.flow, 0, job.flow_slot)
        kernel.shared_add(self.flow_address(job.flow_slot) + 8, job.flow)

    def leave(self, thread_number: int) -> None:
        """fio's flow_put: take the job's count and weight out of its flow (once)."""
        at = _JOB_BASE + thread_number * JOB_STRIDE
        weight, count, slot = (int(v) for v in self.words[at:at + 3])
        if not weight:
            return
        self.words[at] = 0
        flow = self.flow_address(slot)
        kernel.shared_add(flow, -count)
        kernel.shared_add(flow + 8, -weight)

    def counts(self, slot: int) -> tuple[int, int]:
        """(counter, total weight) of a flow slot."""
        return int(self.words[2 * slot]), int(self.words[2 * slot + 1])
