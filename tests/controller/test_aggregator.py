"""The aggregator's interval records on the run-wide grid: one per job per interval, no gaps."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from loadgen import protocol
from loadgen.controller.aggregator import Aggregator
from loadgen.report.jsonl import JsonlWriter, validate
from loadgen.stats.jobstats import IntervalStats
from loadgen.status import Outcome, OutcomeKind

from .plans import make_plan

I = 100_000_000  # noqa: E741  the status interval
ORIGIN = 5_000_000_000


def _agg(tmp_path: Path) -> tuple[Aggregator, Path]:
    path = tmp_path / "a.jsonl"
    writer = JsonlWriter(str(path), "0" * 32, "h", time.time_ns(), time.monotonic_ns())
    agg = Aggregator(writer, 1_000, interval_ns=I)
    agg.begin_group(make_plan([{"numjobs": 2}]).groups[0])
    agg.start_grid(ORIGIN)
    return agg, path


def _delta(
    tn: int, start: int, end: int, ios: int, index: int = 0, final: bool = False
) -> IntervalStats:
    d = IntervalStats(
        thread_number=tn,
        t_start_ns=ORIGIN + start,
        t_end_ns=ORIGIN + end,
        runtime_ns=end - start,
        interval_index=index,
        final=final,
    )
    d.dirs[1].ios, d.dirs[1].bytes = ios, ios * 4096
    return d


def _records(agg: Aggregator, path: Path) -> list[dict]:
    assert agg.writer is not None
    agg.writer.close()
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_controller_side_alignment_merges_fills_gaps_and_numbers(tmp_path: Path) -> None:
    agg, path = _agg(tmp_path)
    # drifting worker intervals (index 0: the worker does not know the grid)
    for start, end, ios in ((0, 104, 10), (104, 209, 11), (209, 260, 1), (260, 420, 12)):
        delta = _delta(1, start * 10**6, end * 10**6, ios)
        agg.on_message(1, protocol.INTERVAL, protocol.encode_interval(delta))
    agg.on_message(
        1,
        protocol.INTERVAL,
        protocol.encode_interval(_delta(1, 420 * 10**6, 450 * 10**6, 5, final=True)),
    )
    agg.job_end(agg.states[1])
    records = _records(agg, path)
    intervals = [r for r in records if r["event.dataset"] == "loadgen.interval"]
    # midpoints 52, 156, 234(+ merged), 340, 435 ms -> k 1, 2, 3, 4, 5; the 209-260 delta joins k=3
    assert [r["loadgen.interval.index"] for r in intervals] == [1, 2, 3, 4, 5]
    assert [r["loadgen.write.total_ios"] for r in intervals] == [10, 11, 1, 12, 5]
    assert [r["event.sequence"] for r in intervals] == [1, 2, 3, 4, 5]
    assert intervals[-1]["loadgen.final"] and not any(r["loadgen.final"] for r in intervals[:-1])
    assert intervals[0]["loadgen.interval.start_ns"] == ORIGIN + 1_000
    assert all(
        r["loadgen.interval.end_ns"] - r["loadgen.interval.start_ns"] == I for r in intervals
    )
    (end,) = [r for r in records if r["event.dataset"] == "loadgen.end"]
    assert end["event.sequence"] == 6 and end["loadgen.write.total_ios"] == 39
    assert all(validate(r) == [] for r in records)


def test_two_deltas_in_one_window_are_one_record_and_a_skipped_window_is_zeros(
    tmp_path: Path,
) -> None:
    agg, path = _agg(tmp_path)
    for start, end, ios in ((0, 40, 1), (40, 90, 2), (250, 290, 3)):
        delta = _delta(2, start * 10**6, end * 10**6, ios)
        agg.on_message(2, protocol.INTERVAL, protocol.encode_interval(delta))
    agg.job_end(agg.states[2])
    intervals = [r for r in _records(agg, path) if r["event.dataset"] == "loadgen.interval"]
    assert [(r["loadgen.interval.index"], r["loadgen.write.total_ios"]) for r in intervals] == [
        (1, 3),
        (2, 0),
        (3, 3),
    ]


def test_deltas_on_the_grid_are_written_as_they_come(tmp_path: Path) -> None:
    agg, path = _agg(tmp_path)
    agg.on_message(1, protocol.INTERVAL, protocol.encode_interval(_delta(1, 10, I, 7, index=1)))
    assert agg.writer is not None
    assert b'"loadgen.interval.index":1' in path.read_bytes()  # not held back
    agg.on_message(
        1,
        protocol.INTERVAL,
        protocol.encode_interval(_delta(1, 2 * I, 2 * I + 5, 1, index=3, final=True)),
    )
    intervals = [r for r in _records(agg, path) if r["event.dataset"] == "loadgen.interval"]
    assert [r["loadgen.interval.index"] for r in intervals] == [1, 2, 3]


def test_a_death_report_carries_the_jobs_totals_and_its_last_interval(tmp_path: Path) -> None:
    agg, _ = _agg(tmp_path)
    state = agg.states[1]
    end = Outcome(OutcomeKind.KILLED, 4321, signal=9)
    assert "last_interval.t_end_ns" not in agg.death_details(state, end)  # none arrived yet
    for start, end_ms, ios in ((0, 100, 10), (100, 250, 7)):
        delta = _delta(1, start * 10**6, end_ms * 10**6, ios)
        delta.minf = ios * 2
        agg.on_message(1, protocol.INTERVAL, protocol.encode_interval(delta))
    details = agg.death_details(state, end)
    assert details["total_ios"] == 17 and details["io_bytes"] == 17 * 4096
    assert details["outcome.kind"] == "killed" and details["outcome.signal"] == 9
    assert {k: v for k, v in details.items() if k.startswith("last_interval.")} == {
        "last_interval.t_end_ns": ORIGIN + 250 * 10**6,
        "last_interval.interval_ns": 150 * 10**6,
        "last_interval.total_ios": 7,
        "last_interval.io_bytes": 7 * 4096,
        "last_interval.minf": 14,
    }
