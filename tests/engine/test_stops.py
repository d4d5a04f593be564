"""Per-job stop requests: a flag set in one process is seen by a forked one."""

from __future__ import annotations

import os

from loadgen.engine.stops import StopFlags


def test_a_request_reaches_a_forked_worker_for_its_job_only() -> None:
    flags = StopFlags()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: wait for the request, then report what it sees
        os.close(w)
        os.read(r, 1)
        os._exit(10 * flags.requested(2) + flags.requested(3))
    os.close(r)
    flags.request((2,))
    os.write(w, b"x")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 10
    flags.clear((2,))
    assert not flags.requested(2)
