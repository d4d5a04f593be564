"""fio-compatible reports (json, json+, normal, terse) of a ``RunResult``.

``write_reports`` is what the controller calls at the end of a run;
``render_snapshot`` is the cumulative dump on SIGUSR1; the ``render_*`` functions
return one format as text.  Layouts and field semantics: docs/reports.md.
"""

from loadgen.report.fiojson import render_json
from loadgen.report.normal import render_normal
from loadgen.report.terse import render_terse
from loadgen.report.writer import render_snapshot, write_reports

__all__ = ["render_json", "render_normal", "render_terse", "render_snapshot", "write_reports"]
