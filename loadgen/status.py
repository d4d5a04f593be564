"""loadgen's exit statuses: the one definition the CLI, the controller and the docs use."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a loadgen command's exit status means (README, "Exit status")."""

    OK = 0  # every job completed (also when the reader of stdout went away)
    FAILED = 1  # a job failed, a worker died, or an output could not be written mid-run
    BAD_INPUT = 2  # bad job file, option or output path: one line, nothing started
    SIGNALLED = 3  # stopped by SIGINT or SIGTERM; what was measured is written
    OOM = 4  # a worker was killed by the OOM killer and nothing else failed
