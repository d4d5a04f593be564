"""What loadgen needs of the machine it runs on, checked at start, before anything heavy.

loadgen measures the Linux kernel's page-fault path, and its controller and workers use
Linux interfaces throughout: ``/proc`` (worker CPU and faults, ``oom_score_adj``, memory
cgroups), ``prctl(PR_SET_PDEATHSIG)`` (no worker outlives the run), ``pipe2``,
``fcntl`` (pipe sizes) and ``fork``.  Elsewhere it would fail deep inside a worker; here
it says so in one line instead (exit status 2, nothing started).
"""

from __future__ import annotations

import importlib.util
import os
import sys

NEEDS = "Linux with /proc, prctl(PR_SET_PDEATHSIG), pipe2, fcntl and fork"


def not_linux() -> str:
    """Why this is no platform for loadgen (``""`` on Linux); costs nothing, so it runs
    before even the signal handlers are installed (Windows has no SIGUSR1)."""
    if sys.platform.startswith("linux"):
        return ""
    return f"loadgen needs {NEEDS}; this is {sys.platform}"


def missing_features() -> str:
    """The Linux interfaces loadgen uses that this system lacks, in one line (``""``: none)."""
    checks = (
        ("/proc (procfs mounted)", os.path.exists("/proc/self/stat")),
        ("/proc/self/oom_score_adj", os.path.exists("/proc/self/oom_score_adj")),
        ("os.pipe2", hasattr(os, "pipe2")),
        ("os.fork", hasattr(os, "fork")),
        ("the fcntl module", importlib.util.find_spec("fcntl") is not None),
    )
    missing = [what for what, present in checks if not present]
    if not missing:
        return ""
    return f"loadgen needs {NEEDS}; this system lacks {', '.join(missing)}"
