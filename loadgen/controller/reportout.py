"""Where the fio-format reports go: the end-of-run report and every SIGUSR1 snapshot.

``--output=FILE``: the file, emptied before the run starts (an unwritable path is bad
input, exit 2, nothing started), then appended to, so SIGUSR1 snapshots come before
the final report as in fio.  Otherwise stdout -- except when ``--jsonl=-`` already
writes JSON lines there: stdout then carries only JSON lines (a consumer parses every
line) and the reports go to stderr.
"""

from __future__ import annotations

from loadgen.plan import RunOptions
from loadgen.report.writer import selected_formats
from loadgen.sinks import Sink


def report_sink(opts: RunOptions) -> Sink:
    """The report's sink, not yet opened; an unknown ``--output-format`` is bad input now."""
    selected_formats(opts)
    if opts.output:
        return Sink(opts.output, f"--output {opts.output}", truncate=True)
    if opts.jsonl == "-":
        return Sink("", "the report on stderr (stdout carries --jsonl=-)", std_fd=2)
    return Sink("", "the report on stdout")
