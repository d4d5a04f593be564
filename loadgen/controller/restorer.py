"""The restorer: a tiny process that puts system settings back if the controller cannot.

Before the controller changes a system setting (an mTHP policy, KSM's ``run``) or makes
something outside the run (a memory cgroup, a file), it writes one undo line to this
process's stdin; when it has undone the thing itself it writes ``X ID``, and ``Q`` once
everything is undone.  If stdin reaches EOF without ``Q`` (the controller was SIGKILLed,
or crashed), the restorer undoes every open entry (settings first, newest first) and
exits.  It runs in a session of its own and ignores SIGINT/SIGTERM/SIGHUP, so the Ctrl-C
or kill that ends the controller does not end it too.

It is run as a script (``python restorer.py``), never imported by the worker, and uses
the standard library only, so it starts in milliseconds and holds almost no memory.

Lines (tab-separated): ``W ID PATH VALUE`` write VALUE back to PATH; ``D ID PATH``
remove the directory (a cgroup: retried while its dying processes leave); ``U ID PATH``
unlink a file; ``X ID`` entry done; ``Q`` all done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

RMDIR_PATIENCE_S = 10.0


def undo(kind: str, path: str, value: str) -> None:
    if kind == "W":
        with contextlib.suppress(OSError), open(path, "w", encoding="ascii") as f:
            f.write(value)
    elif kind == "U":
        with contextlib.suppress(OSError):
            os.unlink(path)
    elif kind == "D":
        deadline = time.monotonic() + RMDIR_PATIENCE_S
        while True:
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    entries: dict[str, tuple[str, str, str]] = {}  # insertion order: oldest first
    for line in sys.stdin:
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "Q":
            return 0
        if parts[0] == "X" and len(parts) == 2:
            entries.pop(parts[1], None)
        elif parts[0] in ("W", "D", "U") and len(parts) >= 3:
            entries[parts[1]] = (parts[0], parts[2], parts[3] if len(parts) > 3 else "")
    pending = list(reversed(entries.values()))
    for first in ("W", "U", "D"):  # settings first: a cgroup may wait for dying processes
        for kind, path, value in pending:
            if kind == first:
                undo(kind, path, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
