"""``loadgen report RUN.json|RUN.jsonl``: a saved run in any output format; ``loadgen schema``.

A JSON report carries its run exactly (``loadgen.saved``), and so does a JSON-lines
stream (``loadgen.state`` on its records): rendering it again goes through the same
code as the run itself, so the text is the same, byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from loadgen.argparsing import ArgParser
from loadgen.errors import InputError
from loadgen.jobfile.cmdline import OUTPUT_FORMATS
from loadgen.plan import RunOptions
from loadgen.report import jsonl, saved
from loadgen.report.writer import render_formats
from loadgen.results import RunResult
from loadgen.status import ExitStatus


def load(path: Path) -> RunResult:
    """The run a JSON report or a JSON-lines file saved."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from exc
    doc = saved.final_report(data.decode("utf-8", errors="replace"))
    if doc is not None:
        text = doc.get("loadgen", {}).get("saved")
        if not isinstance(text, str):
            raise InputError(f"{path}: this JSON report has no loadgen.saved run (not written by "
                             "this loadgen version?)")
        return saved.run_from(orjson.loads(text))
    try:
        records = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        # a stream cut mid-line (the controller killed): every whole line still counts
        records = []
        for line in data.splitlines():
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    if not records:
        raise InputError(f"{path}: neither a JSON report nor JSON lines")
    try:
        return saved.run_from_records(records)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def report_command(argv: list[str]) -> int:
    parser = ArgParser(prog="loadgen report", description="Render a saved run again.")
    parser.add_argument("run", metavar="RUN.json|RUN.jsonl")
    parser.add_argument("--output-format", action="append", default=[],
                        help=f"{'|'.join(OUTPUT_FORMATS)}[,...] (default normal)")
    parser.add_argument("--output", default="", metavar="FILE")
    args = parser.parse_args(argv)
    formats: list[str] = []
    for word in (w.strip() for item in args.output_format for w in item.split(",")):
        if word not in OUTPUT_FORMATS:
            raise InputError(f"--output-format: {word!r} is not one of: "
                             f"{', '.join(OUTPUT_FORMATS)}")
        formats.append(word)
    result = load(Path(args.run))
    text = render_formats(result, RunOptions(output_format=tuple(formats) or ("normal",)),
                          with_header=True)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--output {args.output}: {exc.strerror}") from exc
    else:
        sys.stdout.write(text)
    return ExitStatus.OK


def schema_command(argv: list[str]) -> int:
    parser = ArgParser(prog="loadgen schema",
                       description="Print the JSON Schema of the --jsonl records.")
    parser.parse_args(argv)
    sys.stdout.write(jsonl.schema_text())
    return ExitStatus.OK
