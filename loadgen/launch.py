"""The controller process's own set-up, and the launch of the fork helper.

The helper's import of numba and load of the kernel take longer than the controller's
own imports (docs/performance.md); so the command line launches the helper as soon as
the plan is known, before those imports, and the two overlap.  This module
imports nothing heavy for that reason.

The helper is started from the main thread before any event loop runs: its
PR_SET_PDEATHSIG fires when the *thread* that created it exits, and a clean exec'd
process inherits no loop, no wakeup fd and no threads.  Workers are the helper's
children, so they die with it, and it dies with the controller.

What the helper inherits is set before it starts: the raised RLIMIT_NOFILE, the lowered
OOM score and the raised priority (the helper forks workers promptly; each worker goes
back to the user's nice itself).
"""

from __future__ import annotations

import contextlib
import os
import resource
import site
import socket
import subprocess
import sys
from pathlib import Path

from loadgen.blas import SINGLE_THREAD_ENV

CONTROLLER_NICE_BOOST = 20
# the controller's own oom_score_adj where it may lower it (root, CAP_SYS_RESOURCE): far
# below the workers' 1000 so the kernel takes workers first and the run can still report,
# but not -1000 (stress-ng's choice), which would make a runaway controller unkillable
# and send the OOM killer to system services instead
CONTROLLER_OOM_SCORE_ADJ = -500


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit: a storm needs a few fds per worker."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def boost_priority() -> int:
    """Raise the controller (and the fork helper) above the workers; returns the workers' nice.

    The controller needs ~2% of a core but needs it *promptly*: on a box with hundreds
    of CPU-bound workers at equal priority, it waited for CPU long enough to fill the
    stats pipe and block workers in write.  Workers go back to the original nice.
    """
    original = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):  # not privileged: run at equal priority
        os.setpriority(os.PRIO_PROCESS, 0, max(original - CONTROLLER_NICE_BOOST, -20))
    return original


def protect_controller(path: str = "/proc/self/oom_score_adj") -> int:
    """Lower the controller's OOM score (see ``CONTROLLER_OOM_SCORE_ADJ``); returns the value
    in effect.  Without CAP_SYS_RESOURCE (even root may lack it, in sandboxes) the kernel
    refuses, and the workers' 1000 still makes them the first victims."""
    with contextlib.suppress(OSError), open(path, "w") as adj:
        adj.write(str(CONTROLLER_OOM_SCORE_ADJ))
    try:
        with open(path) as adj:
            return int(adj.read())
    except (OSError, ValueError):
        return 0


class HelperProcess:
    """A started fork helper: its process and the controller's ends of its two sockets."""

    def __init__(self) -> None:
        self.nofile = raise_fd_limit()
        self.oom_score_adj = protect_controller()
        self.worker_nice = boost_priority()  # the user's priority, for the workers
        commands, their_commands = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        replies, their_replies = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs = (their_commands.fileno(), their_replies.fileno())
        env = dict(os.environ, **SINGLE_THREAD_ENV)
        # the directory that holds this loadgen, so the helper imports the same code (not
        # a site directory, which every interpreter has, after the standard library)
        package_root = str(Path(__file__).resolve().parents[1])
        if package_root in (*site.getsitepackages(), site.getusersitepackages()):
            package_root = ""
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "loadgen.engine.helper",
                    *map(str, theirs),
                    str(os.getpid()),
                    str(self.worker_nice),
                ],
                pass_fds=theirs,
                env=env,
            )
        except BaseException:
            for s in (commands, replies):
                s.close()
            raise
        finally:
            their_commands.close()
            their_replies.close()
        self.commands = commands  # blocking; written by the loop thread or one helper thread
        self.replies = replies  # the spawner reads it, non-blocking, in the run's loop

    def kill(self) -> None:
        """SIGKILL the helper and reap it; its workers follow via PDEATHSIG."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()

    def discard(self) -> None:
        """A helper no run took over (the run was refused before it started): gone, with
        its sockets, and the controller's priority back.  Idempotent."""
        if self.commands.fileno() < 0:
            return
        self.kill()
        self.commands.close()
        self.replies.close()
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, self.worker_nice)
