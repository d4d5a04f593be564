"""fio-compatible reports (json, json+, normal, terse) of a ``RunResult``.

``writer.render_formats`` is the end-of-run report the controller writes (to the sink
``controller.reportout`` chooses); ``render_snapshot`` is the cumulative dump on
SIGUSR1; the ``render_*`` functions return one format as text.  Layouts and field
semantics: docs/reports.md.
"""

from loadgen.report.fiojson import render_json
from loadgen.report.normal import render_normal
from loadgen.report.terse import render_terse
from loadgen.report.writer import render_formats, render_snapshot

__all__ = ["render_formats", "render_json", "render_normal", "render_snapshot", "render_terse"]
