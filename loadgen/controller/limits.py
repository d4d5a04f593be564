"""The file descriptors a run needs, checked against RLIMIT_NOFILE before anything starts.

The controller holds one stats pipe per worker process of the group that runs (see
``loadgen.engine.worker``) on top of a fixed set of its own: the interpreter's standard
streams, the event loop (epoll, its self-pipe, the signal wakeup), the fork helper's two
sockets, ``/dev/kmsg``, the group's gate pipe, a respawn's gate, and the outputs.  Short
of that, a run failed halfway: a socketpair traceback from the event loop, or stats
pipes lost in transit and a run that never ended.  So it is refused at the start, with
the number, like any limit of the machine the user has to raise (``ulimit -n``).
"""

from __future__ import annotations

from loadgen.controller.supervisor import worker_units
from loadgen.errors import InputError
from loadgen.plan import Plan, RunOptions
from loadgen.sinks import STDOUT_TARGETS

# measured: the smallest `ulimit -n` that ran N=1/8/64 workers with --output was 20/27/83,
# i.e. 19 + N; a few more for a respawn's gate pipe and the --jsonl/--output files
FDS_OF_LOADGEN = 24
FDS_PER_WORKER = 1  # the stats pipe's read end


def fds_needed(plan: Plan, opts: RunOptions) -> tuple[int, int]:
    """(file descriptors the run needs, worker processes in its largest group)."""
    workers = max((len(worker_units(group.jobs)) for group in plan.groups), default=0)
    outputs = sum(1 for target in (opts.jsonl, opts.output) if target not in STDOUT_TARGETS)
    return FDS_OF_LOADGEN + outputs + FDS_PER_WORKER * workers, workers


def check_fd_budget(plan: Plan, opts: RunOptions, nofile: int) -> None:
    """Bad input (status 2, nothing started) when ``nofile`` open files are too few."""
    needed, workers = fds_needed(plan, opts)
    if nofile < needed:
        raise InputError(
            f"this run needs {needed} open files ({workers} worker processes in its largest "
            f"group, one stats pipe each, and {needed - workers} for loadgen itself), but "
            f"RLIMIT_NOFILE allows {nofile}: raise it (ulimit -n {needed})")
