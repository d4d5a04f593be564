"""Jobs the controller asked to end (steadystate= attained), one flag per thread number.

A signal reaches a whole worker process, and a ``thread=1`` worker runs several jobs, of
which fio ends only the one that attained steady state (or its reporting group).  So the
request is a byte in one shared anonymous mapping (``MAP_SHARED``) that the fork helper
creates before its first fork: the helper sets it when the controller asks, and each job
of every worker reads its own between kernel calls, as it reads its SIGTERM flag.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable

from loadgen.engine.flow import JOBS


class StopFlags:
    """The run's per-job stop requests, indexed by thread number."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, JOBS, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)

    def request(self, thread_numbers: Iterable[int]) -> None:
        for n in thread_numbers:
            if 0 < n < JOBS:
                self._map[n] = 1

    def clear(self, thread_numbers: Iterable[int]) -> None:
        """A job forked again (a respawn, or a later run in this helper) starts unasked."""
        for n in thread_numbers:
            if 0 < n < JOBS:
                self._map[n] = 0

    def requested(self, thread_number: int) -> bool:
        return 0 < thread_number < JOBS and self._map[thread_number] != 0
