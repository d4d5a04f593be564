"""Where the fio-format reports go: the end-of-run report and every SIGUSR1 snapshot.

``--output=FILE``: the file, emptied before the run starts (an unwritable path is bad
input, exit 2, nothing started), then appended to, so SIGUSR1 snapshots come before
the final report as in fio.  Otherwise stdout -- except when ``--jsonl=-`` already
writes JSON lines there: stdout then carries only JSON lines (a consumer parses every
line) and the reports go to stderr.
"""

from __future__ import annotations

import sys
from typing import TextIO

from loadgen.errors import InputError
from loadgen.plan import RunOptions
from loadgen.report.writer import selected_formats


def stdout_is_jsonl(opts: RunOptions) -> bool:
    return opts.jsonl == "-"


class ReportOutput:
    """The destination of the text reports of one run."""

    def __init__(self, opts: RunOptions) -> None:
        self.opts = opts
        self.path = opts.output
        self.stream: TextIO = sys.stderr if stdout_is_jsonl(opts) and not self.path else sys.stdout

    def open(self) -> ReportOutput:
        """Check the formats and empty the file before anything starts."""
        selected_formats(self.opts)
        if self.path:
            try:
                open(self.path, "w", encoding="utf-8").close()
            except OSError as exc:
                raise InputError(f"cannot write report: {exc.strerror}", self.path) from exc
        return self

    def write(self, text: str) -> None:
        if self.path:
            try:
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(text)
            except OSError as exc:
                raise InputError(f"cannot write report: {exc.strerror}", self.path) from exc
        else:
            self.stream.write(text)
            self.stream.flush()
