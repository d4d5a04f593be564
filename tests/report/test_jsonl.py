"""JSON-lines records: fio's field names, the schema, whole lines."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from loadgen.report import jsonl
from loadgen.stats.jobstats import IntervalStats


def _delta() -> IntervalStats:
    d = IntervalStats(
        t_start_ns=0, t_end_ns=2_000_000_000, runtime_ns=2_000_000_000, minf=10, usr_ns=500_000_000
    )
    d.dirs[1].ios, d.dirs[1].bytes = 1000, 4096 * 1000
    d.dirs[1].clat.add_batch(np.arange(1000, 2000, dtype=np.uint64))
    return d


def test_metrics_use_fio_names_and_rates_over_runtime() -> None:
    m = jsonl.metrics(_delta(), 2_000_000_000)
    assert m["write.total_ios"] == 1000 and m["write.io_bytes"] == 4096000
    assert m["write.bw_bytes"] == 2048000 and m["write.bw"] == 2000 and m["write.iops"] == 500.0
    assert m["write.runtime"] == 2000 and m["job_runtime"] == 2000
    assert m["write.clat_ns.N"] == 1000 and m["write.clat_ns.min"] == 1000
    # the percentiles of 1000..1999 ns, to the histogram's bucket width (under 2 %)
    for name, exact in (("p1", 1010), ("p50", 1500), ("p99", 1990), ("p99_9", 1999)):
        assert abs(m[f"write.clat_ns.percentile.{name}"] - exact) <= 0.02 * exact, name
    assert not any(k.startswith("read.clat_ns.percentile") for k in m)  # no samples, no percentiles
    assert m["usr_cpu"] == 25.0 and m["minf"] == 10


def test_percentiles_only_when_asked() -> None:
    m = jsonl.metrics(_delta(), 1, plist=None, lat_plist=None)
    assert not any("percentile" in k for k in m)


def _record(type_name: str, fields: dict, tmp_path) -> dict:
    path = str(tmp_path / "x.jsonl")
    w = jsonl.JsonlWriter(
        path, "0123456789abcdef0123456789abcdef", "host1", time.time_ns(), time.monotonic_ns()
    )
    w.write(type_name, fields)
    w.close()
    (line,) = Path(path).read_bytes().splitlines()
    return orjson.loads(line)


def test_interval_record_validates(tmp_path) -> None:
    fields = {
        "group": 0,
        "job": "a",
        "thread_number": 1,
        "subjob": 0,
        "interval_ns": 5,
        "final": False,
        "lag_ns": 7,
        "event.sequence": 1,
        "interval.index": 3,
        "interval.start_ns": 2_000_000_000,
        "interval.end_ns": 3_000_000_000,
        "event.start": jsonl.rfc3339(2_000_000_000),
        "event.end": jsonl.rfc3339(3_000_000_000),
        **jsonl.metrics(_delta(), 2_000_000_000),
    }
    rec = _record("interval", fields, tmp_path)
    assert jsonl.validate(rec) == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rec["@timestamp"])
    assert rec["host.name"] == "host1" and rec["process.pid"] == os.getpid()
    assert rec["loadgen.run_id"] == "0123456789abcdef0123456789abcdef"
    # ECS names, loadgen's own fields under loadgen.*, nothing bare that ECS or Logstash owns
    assert rec["event.dataset"] == "loadgen.interval" and rec["event.kind"] == "metric"
    assert rec["ecs.version"] == jsonl.ECS_VERSION and rec["event.duration"] == 5
    assert rec["loadgen.group"] == 0 and rec["loadgen.interval.index"] == 3
    assert not {"type", "group", "error", "job"} & set(rec)
    assert all(k in jsonl.ECS_KEYS or k.startswith("loadgen.") for k in rec)
    # no key part is a number (Elasticsearch would nest 99.000000 as {"99": {"000000": ...}})
    assert not any(part.isdigit() for k in rec for part in k.split("."))


def test_validate_reports_missing_wrong_and_unknown_keys(tmp_path) -> None:
    rec = _record("start", {"group": 0, "jobs": 1, "workers": 1, "spawn_s": 0.1}, tmp_path)
    assert jsonl.validate(rec) == []
    missing = {k: v for k, v in rec.items() if k != "loadgen.spawn_s"}
    assert any("missing" in p for p in jsonl.validate(missing))
    assert any("jobs" in p for p in jsonl.validate({**rec, "loadgen.jobs": "1"}))
    assert any("jobs" in p for p in jsonl.validate({**rec, "loadgen.jobs": True}))
    assert any("unexpected" in p for p in jsonl.validate({**rec, "bogus": 1}))
    assert jsonl.validate({"event.dataset": "nope"}) == ["unknown event.dataset 'nope'"]


def test_percentile_keys_have_no_dot() -> None:
    assert [jsonl.percentile_key(p) for p in (1.0, 50.0, 99.9, 99.99, 99.999999)] == [
        "p1",
        "p50",
        "p99_9",
        "p99_99",
        "p99_999999",
    ]


def test_shipped_schema_is_a_valid_json_schema_and_agrees_with_validate(tmp_path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = jsonl.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    rec = _record("start", {"group": 0, "jobs": 1, "workers": 1, "spawn_s": 0.1}, tmp_path)
    jsonschema.validate(rec, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**rec, "loadgen.jobs": "1"}, schema)
    assert orjson.loads(jsonl.schema_text()) == schema


def test_rfc3339_is_utc_with_z() -> None:
    assert jsonl.rfc3339(1_795_676_398_203_718_824) == "2026-11-26T06:59:58.203718Z"


def test_kernel_record_has_flat_counter_keys(tmp_path) -> None:
    delta = {
        "scope": "system",
        "vmstat": {"pgfault": 10, "thp_fault_alloc": 2},
        "mthp": {"64kB": {"anon_fault_alloc": 3}, "2048kB": {"split": 0}},
    }
    fields = jsonl.kernel_fields(delta)
    assert fields == {
        "scope": "system",
        "vmstat.pgfault": 10,
        "vmstat.thp_fault_alloc": 2,
        "mthp.64kB.anon_fault_alloc": 3,
        "mthp.2048kB.split": 0,
    }
    rec = _record("kernel", {"group": None, "interval_ns": 5, "final": False, **fields}, tmp_path)
    assert jsonl.validate(rec) == []
    assert rec["loadgen.mthp.64kB.anon_fault_alloc"] == 3
    assert any(
        "vmstat.pgfault" in p for p in jsonl.validate({**rec, "loadgen.vmstat.pgfault": 1.5})
    )
    assert any("unexpected" in p for p in jsonl.validate({**rec, "loadgen.vmstat": 1}))


def test_header_fields_flatten_nested_objects_and_keep_lists() -> None:
    header = {
        "hostname": "h",
        "cpu": {"model": "m", "count": 2},
        "thp": {"mthp_enabled": {"64kB": "never"}},
        "job_files": [{"path": "a.fio", "sha256": ""}],
    }
    assert jsonl.header_fields(header) == {
        "header.hostname": "h",
        "header.cpu.model": "m",
        "header.cpu.count": 2,
        "header.thp.mthp_enabled.64kB": "never",
        "header.job_files": [{"path": "a.fio", "sha256": ""}],
    }


# ---- event actions: the code, the schema and docs/jsonl.md name the same set ---------------
def _documented_actions() -> set[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "jsonl.md").read_text()
    section = text.split("### `event`", 1)[1].split("\n### ", 1)[0]
    listing = section.split("`event.action`:", 1)[1].split("Also `log.level`", 1)[0]
    return set(re.findall(r"`([a-z_]+)`\s+\(", listing))


def _actions_in_the_code() -> tuple[set[str], list[str]]:
    """The EventAction members the controller's code uses, and every call that passes an
    event action as a plain string (which the schema's enum could miss)."""
    import ast
    from pathlib import Path

    import loadgen

    used: set[str] = set()
    literal_calls: list[str] = []
    action_arg = {"event": 0, "fail": 3, "_stop_all": 1, "abort": 1}
    for path in Path(loadgen.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "EventAction":
                used.add(node.attr)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                index = action_arg.get(node.func.attr)
                if index is not None and len(node.args) > index:
                    arg = node.args[index]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        literal_calls.append(f"{path.name}:{node.lineno}: {arg.value!r}")
    return used, literal_calls


def test_every_event_action_is_in_the_schema_the_docs_and_the_code() -> None:
    from loadgen.report.jsonl import EventAction
    from loadgen.status import StopReason

    schema = jsonl.schema()
    (event,) = [s for s in schema["oneOf"]
                if s["properties"]["event.dataset"]["const"] == "loadgen.event"]
    in_schema = set(event["properties"]["event.action"]["enum"])
    members = {a.value for a in EventAction}
    used, literal_calls = _actions_in_the_code()
    assert literal_calls == []  # every action goes through the enum
    # none is dead: a stop's event carries its StopReason as the action
    stops = {reason.value for reason in StopReason}
    assert {EventAction[name].value for name in used} | stops == members
    assert in_schema == members
    assert _documented_actions() == members


def test_an_event_action_outside_the_enum_is_invalid() -> None:
    from loadgen.report.jsonl import validate

    fields = {"group": None, "job": None, "thread_number": None, "subjob": None,
              "event.action": "reopen", "log.level": "info", "message": "m", "error": 0}
    record = jsonl.stream_record("event", fields, jsonl.stream_base("h", "0" * 32), 1, 0.0, 1)
    assert validate(record) == []
    assert validate({**record, "event.action": "helper_gone"}) != []
