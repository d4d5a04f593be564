"""A real 4-job run's JSON lines, read the way pipelines read them: DuckDB, pandas, jsonschema."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from loadgen.report import jsonl, saved
from tests.report.timed_run import timed_run

duckdb = pytest.importorskip("duckdb")
pd = pytest.importorskip("pandas")
jsonschema = pytest.importorskip("jsonschema")

NUMJOBS = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pipeline")
    stream, report = out / "run.jsonl", out / "report.json"
    timed_run(NUMJOBS, "700ms", f"--jsonl={stream}", "--output-format=json", f"--output={report}")
    return stream, saved.final_report(report.read_text())


def test_every_line_validates_against_the_shipped_schema(run: tuple[Path, dict]) -> None:
    stream, _ = run
    validator = jsonschema.Draft202012Validator(jsonl.schema())
    lines = stream.read_bytes().splitlines()
    assert len(lines) > NUMJOBS * 3
    for line in lines:
        record = orjson.loads(line)
        errors = [e.message for e in validator.iter_errors(record)]
        assert errors == [], (record["event.dataset"], errors)
        assert jsonl.validate(record) == []


def test_duckdb_interval_sums_equal_the_final_report(run: tuple[Path, dict]) -> None:
    stream, report = run
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT "loadgen.thread_number" AS tn, sum("loadgen.write.total_ios") AS ios,
               sum("loadgen.write.io_bytes") AS bytes, sum("loadgen.minf") AS minf,
               sum("loadgen.write.clat_ns.N") AS n
        FROM read_json_auto('{stream}', format='newline_delimited', union_by_name=true)
        WHERE "event.dataset" = 'loadgen.interval' GROUP BY 1 ORDER BY 1""").fetchall()
    jobs = report["jobs"]  # one entry per worker, in thread order
    assert [r[0] for r in rows] == list(range(1, NUMJOBS + 1))
    for (_, ios, nbytes, minf, n), job in zip(rows, jobs, strict=True):
        assert ios == job["write"]["total_ios"] > 0
        assert nbytes == job["write"]["io_bytes"]
        assert n == job["write"]["clat_ns"]["N"]
        assert minf == job["minf"]


def test_pandas_groups_one_record_per_job_per_interval_without_gaps(run: tuple[Path, dict]) -> None:
    stream, report = run
    frame = pd.read_json(stream, lines=True)
    intervals = frame[frame["event.dataset"] == "loadgen.interval"].astype(
        {
            "loadgen.thread_number": int,
            "loadgen.interval.index": int,
            "loadgen.interval.start_ns": "int64",
            "loadgen.interval.end_ns": "int64",
            "event.sequence": int,
            "loadgen.write.io_bytes": "int64",
        }
    )
    per_job = intervals.groupby("loadgen.thread_number")["loadgen.interval.index"]
    for _, index in per_job:
        ks = sorted(int(k) for k in index)
        assert ks == list(range(ks[0], ks[-1] + 1))  # one record per interval, none missing
    # every job's record k covers the same window: the run-wide grid
    windows = intervals.groupby("loadgen.interval.index")[
        ["loadgen.interval.start_ns", "loadgen.interval.end_ns"]
    ]
    assert (windows.nunique() == 1).all().all()
    step = intervals["loadgen.interval.end_ns"] - intervals["loadgen.interval.start_ns"]
    assert (step == 100_000_000).all()
    # per-job sequence numbers: 1..n over the job's interval records, then its end record
    ends = frame[frame["event.dataset"] == "loadgen.end"].set_index("loadgen.thread_number")
    for tn, group in intervals.groupby("loadgen.thread_number"):
        assert list(group["event.sequence"]) == list(range(1, len(group) + 1))
        assert ends.loc[tn, "event.sequence"] == len(group) + 1
    # the per-interval sum over all jobs equals the report's total
    total = intervals.groupby("loadgen.interval.index")["loadgen.write.io_bytes"].sum().sum()
    assert total == sum(j["write"]["io_bytes"] for j in report["jobs"])
