"""Choosing and writing the report formats, in fio's order (terse, json, normal).

fio concatenates the selected formats into one stream; a SIGUSR1 dump prints the
same report of the run so far, without the start-of-run header.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from loadgen.errors import InputError
from loadgen.plan import RunOptions
from loadgen.report.fiojson import render_json
from loadgen.report.normal import render_header, render_report
from loadgen.report.terse import render_terse
from loadgen.results import RunResult

FORMATS = ("normal", "json", "json+", "terse")


def selected_formats(opts: RunOptions) -> set[str]:
    """The formats named in ``--output-format`` (each item may itself be a comma list)."""
    names = {
        name.strip() for item in opts.output_format for name in item.split(",") if name.strip()
    }
    unknown = sorted(names - set(FORMATS))
    if unknown:
        raise InputError(f"unknown output format {unknown[0]!r} (valid: {', '.join(FORMATS)})")
    return names or {"normal"}


def render_formats(result: RunResult, opts: RunOptions, with_header: bool) -> str:
    """Every selected format, concatenated the way fio prints them.

    fio prints the normal header (job lines, version, "Starting ...") when the run
    starts, so it comes before the terse and json parts; the normal report comes last.
    """
    names = selected_formats(opts)
    parts = []
    with _collector_paused():
        if "normal" in names and with_header:
            parts.append(render_header(result))
        if "terse" in names:
            parts.append(render_terse(result, opts.terse_version))
        if "json" in names or "json+" in names:
            parts.append(render_json(result, plus="json+" in names))
        if "normal" in names:
            parts.append(render_report(result))
    return "".join(parts)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic collector off while a report renders.  The report makes tens of
    thousands of containers that live until it is done, and no cycles: collections then
    free nothing, and they promote those containers until a full collection walks the
    controller's whole heap (after a 256-job storm, one in each json report)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def render_snapshot(result: RunResult, opts: RunOptions) -> str:
    """A cumulative report of a run in progress (SIGUSR1, status interval), as fio dumps it."""
    return render_formats(result, opts, with_header=False)
