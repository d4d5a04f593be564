"""loadgen's fio JSON against fio's own (samples pf.json, pfplus.json, gr_plus.json)."""

from __future__ import annotations

import enum
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from loadgen.report import render_json
from loadgen.report.fiojson import Pairs, dumps
from loadgen.results import RunResult
from loadgen.stats import histogram
from loadgen.status import Outcome, OutcomeKind

from .fio_sample import DATA, big_result, load, multi_result, result_from_fio, sync_ss_result


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def key_types(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every key path in document order with its JSON type (int and float kept apart)."""
    if isinstance(value, dict):
        out = [(path, "object")]
        for k, v in value.items():
            out += key_types(v, f"{path}/{k}")
        return out
    if isinstance(value, list):
        out = [(path, "array")]
        for i, v in enumerate(value):
            out += key_types(v, f"{path}[{i}]")
        return out
    return [(path, type(value).__name__)]


def without_loadgen(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc.pop("loadgen")
    doc["jobs"] = [{k: v for k, v in job.items() if k != "loadgen"} for job in doc["jobs"]]
    return doc


@pytest.mark.parametrize(
    "sample,plus", [("pf.json", False), ("pfplus.json", True), ("gr_plus.json", True)]
)
def test_same_key_paths_types_and_order_as_fio(sample: str, plus: bool) -> None:
    fio_doc = load(sample)
    ours = json.loads(render_json(result_from_fio(fio_doc), plus=plus))
    assert "loadgen" in ours and all("loadgen" in job for job in ours["jobs"])
    assert key_types(without_loadgen(ours)) == key_types(fio_doc)


def strip_loadgen_keys(text: str) -> str:
    text = re.sub(r',\n      "loadgen" : \{.*?\n      \}\n', "\n", text, flags=re.S)
    return re.sub(r',\n  "loadgen" : \{.*\n  \}\n\}', "\n}", text, flags=re.S)


@pytest.mark.parametrize("sample,plus", [("pf.json", False), ("pfplus.json", True)])
def test_text_identical_to_fio_apart_from_version_and_loadgen_keys(sample: str, plus: bool) -> None:
    """Same numbers in, same bytes out: layout, %f floats, rounding of
    bw/iops/runtime/percentages."""
    expected = (DATA / sample).read_text()
    text = strip_loadgen_keys(render_json(result_from_fio(load(sample)), plus=plus))
    assert text.replace('"loadgen-0.1.0"', '"fio-3.42"') == expected


@pytest.mark.parametrize(
    "rebuilt,sample", [(multi_result, "multi_plus.json"), (big_result, "big_plus.json"),
                       (sync_ss_result, "sync_ss_plus.json")]
)
def test_fio_runs_identical_to_fio(
    rebuilt: Callable[[], tuple[RunResult, list[str]]], sample: str
) -> None:
    """fio's multi.fio run (4 workers, 2 groups, description, bw samples) and big.fio run
    (lat percentiles with a custom list including 100, kb_base=1000) rebuilt from their json+."""
    result, _ = rebuilt()
    text = strip_loadgen_keys(render_json(result, plus=True))
    expected = (DATA / sample).read_text()
    version = "fio-3.42-135-gf5344384"
    if sample == "sync_ss_plus.json":  # a time-based job: fio knew its ETA, loadgen never does
        version, expected = "fio-3.42", expected.replace('"eta" : 0,', '"eta" : 2147483647,')
    assert text.replace('"loadgen-0.1.0"', f'"{version}"') == expected


def test_percentiles_rebuilt_from_json_plus_bins_are_exact() -> None:
    fio_doc = load("pfplus.json")
    for ddir in ("read", "write"):
        clat = fio_doc["jobs"][0][ddir]["clat_ns"]
        hist = histogram.empty()
        for value, count in clat["bins"].items():
            hist[histogram.value_to_index([int(value)])[0]] += count
        got = histogram.percentiles(hist)
        assert len(got) == 17
        assert {f"{p:f}": v for p, v in got.items()} == clat["percentile"]


def test_latency_distribution_from_sample() -> None:
    fio_doc = load("pf.json")
    ours = json.loads(render_json(result_from_fio(fio_doc)))
    for key in ("latency_ns", "latency_us", "latency_ms"):
        assert ours["jobs"][0][key] == fio_doc["jobs"][0][key]
    assert ours["jobs"][0]["latency_us"]["500"] == 0.01  # one I/O of 16384: fio's 0.01 minimum


def test_json_plus_bins_sum_to_n_and_keys_are_bucket_values() -> None:
    ours = json.loads(render_json(result_from_fio(load("pfplus.json")), plus=True))
    for ddir in ("read", "write"):
        clat = ours["jobs"][0][ddir]["clat_ns"]
        assert sum(clat["bins"].values()) == clat["N"]
        keys = [int(k) for k in clat["bins"]]
        assert keys == sorted(keys)
        assert all(
            histogram.index_to_value(int(histogram.value_to_index([k])[0])) == k for k in keys
        )
    assert "bins" not in ours["jobs"][0]["trim"]["clat_ns"]
    assert "bins" not in ours["jobs"][0]["read"]["lat_ns"]


def test_plain_json_has_no_bins() -> None:
    ours = json.loads(render_json(result_from_fio(load("pfplus.json")), plus=False))
    assert "bins" not in ours["jobs"][0]["read"]["clat_ns"]
    assert "percentile" in ours["jobs"][0]["read"]["clat_ns"]


def test_dumps_layout_duplicate_keys_and_escaping() -> None:
    text = dumps(
        {
            "a": Pairs([("bs", "4k"), ("bs", "8k")]),
            "n": 1,
            "f": 1.5,
            "s": 'x"\\',
            "l": [1, {"k": 2}],
        }
    )
    assert text == (
        '{\n  "a" : {\n    "bs" : "4k",\n    "bs" : "8k"\n  },\n  "n" : 1,\n  "f" : 1.500000,\n'
        '  "s" : "x\\"\\\\",\n  "l" : [\n    1,\n    {\n      "k" : 2\n    }\n  ]\n}'
    )
    assert json.loads(text)["s"] == 'x"\\'


def test_loadgen_keys_carry_header_outcome_and_kernel_deltas() -> None:
    result = result_from_fio(load("pf.json"))
    result.header = {"kernel_release": "6.18.0", "loadgen_version": "0.1.0"}
    job_result = result.groups[0].jobs[0]
    job_result.kernel = {"scope": "system", "vmstat": {"pgfault": 5}, "mthp": {}}
    job_result.outcome = OutcomeKind.OOM_KILLED
    job_result.last_end = Outcome(OutcomeKind.OOM_KILLED, 7, 12, oom_evidence="memcg")
    job_result.restarts = 2
    result.groups[0].kernel = {"scope": "system", "vmstat": {"pgfault": 7}, "mthp": {}}
    result.groups[0].release_epoch_ns = 1_700_000_000_000_000_000
    doc = json.loads(render_json(result))
    assert doc["loadgen"]["header"]["kernel_release"] == "6.18.0"
    group = doc["loadgen"]["groups"][0]
    assert group["kernel"]["vmstat"] == {"pgfault": 7}
    assert group["release_epoch_ns"] == 1_700_000_000_000_000_000
    job = doc["jobs"][0]["loadgen"]
    assert job["kernel"]["vmstat"]["pgfault"] == 5
    assert (job["outcome"], job["restarts"]) == ("oom_killed", 2)
    assert job["outcome_detail"] == {"kind": "oom_killed", "pid": 7, "errno": 12,
                                     "oom_evidence": "memcg"}
    assert list(doc)[-1] == "loadgen" and list(doc["jobs"][0])[-1] == "loadgen"


def test_the_controllers_monotonic_clock_stays_out_of_the_report() -> None:
    result = result_from_fio(load("pf.json"))
    result.groups[0].release_ns = 123_456_789
    result.groups[0].jobs[0].ready_ns = 123_000_000
    text = render_json(result)
    assert "123456789" not in text and "123000000" not in text
    assert "ready_ns" not in text and '"release_ns"' not in text


def test_json_plus_gives_fio_jsonplus_clat2csv_its_recorded_csv() -> None:
    """data/tools/pfplus.clat2csv_job0.csv is what fio's tools/fio_jsonplus_clat2csv printed for
    loadgen's json+ of this result (byte-identical to its output for fio's own pfplus.json).  The
    tool needs read/write/trim in every job, non-empty integer-keyed ``bins``, and pairs each CSV
    row's count with bins[nsec]; check our bins give exactly the recorded rows."""
    ours = json.loads(render_json(result_from_fio(load("pfplus.json")), plus=True))
    lines = (DATA / "tools" / "pfplus.clat2csv_job0.csv").read_text().splitlines()
    columns = [c.strip() for c in lines[0].split(",")]
    rebuilt: dict[str, dict[str, int]] = {}
    for line in lines[1:]:
        values = [v.strip() for v in line.split(",")]
        for col, value in zip(columns, values, strict=True):
            if col.endswith("_count") and value:
                ddir, lat = col.split("_")[:2]
                rebuilt.setdefault(f"{ddir}/{lat}_ns", {})[values[0]] = int(value)
    job = ours["jobs"][0]
    expected = {f"{d}/{lat}": job[d][lat]["bins"] for d in ("read", "write", "trim")
                for lat in ("slat_ns", "clat_ns", "lat_ns") if "bins" in job[d][lat]}
    assert rebuilt == expected and set(expected) == {"read/clat_ns", "write/clat_ns"}
    assert all(job[d]["clat_ns"]["bins"] for d in ("read", "write"))


def test_dumps_numpy_values() -> None:
    assert dumps({"a": np.uint64(3), "b": np.array([1, 2]), "c": np.float64(0.5)}) == (
        '{\n  "a" : 3,\n  "b" : [\n    1,\n    2\n  ],\n  "c" : 0.500000\n}')


def test_dumps_empty_containers_subclasses_and_a_repeated_object() -> None:
    class Kind(enum.IntEnum):
        TWO = 2

    class Name(enum.StrEnum):
        A = "a"

    shared = {"k": 1}
    text = dumps({"e": {}, "l": [], "t": (True, None), "i": Kind.TWO, "s": Name.A,
                  "o": OrderedDict(x=0.25), "r": [shared, shared]})
    assert text == (
        '{\n  "e" : {\n\n  },\n  "l" : [\n\n  ],\n  "t" : [\n    true,\n    null\n  ],\n'
        '  "i" : 2,\n  "s" : "a",\n  "o" : {\n    "x" : 0.250000\n  },\n'
        '  "r" : [\n    {\n      "k" : 1\n    },\n    {\n      "k" : 1\n    }\n  ]\n}')
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_long_strings_with_quotes_and_odd_characters_are_escaped_as_fio() -> None:
    """Only backslash, quote and control characters are escaped, whichever way the string
    is quoted (a saved run is megabytes of JSON inside one string)."""
    for text in ('{"a":"b\\"c"}' * 1000, 'é"ü\u2028\x7f'):
        assert dumps(text) == '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        assert json.loads(dumps(text)) == text
    assert dumps('tab\t"') == '"tab\\u0009\\""'
    assert dumps('lone \udcff "') == '"lone \udcff \\""'


def _plain_layout(value: Any, level: int = 0) -> str:
    """fio json.c's layout written out member by member, as the reference for ``dumps``
    (strings here need no escapes)."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)) and not isinstance(value, Pairs):
        items = [inner + _plain_layout(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    pairs = list(value) if isinstance(value, Pairs) else list(value.items())
    members = [f'{inner}"{k}" : {_plain_layout(v, level + 1)}' for k, v in pairs]
    return "{\n" + ",\n".join(members) + "\n" + pad + "}"


def test_dumps_matches_a_plain_layout_whatever_the_member_types() -> None:
    """One key set with other value types, at other levels, repeated and shared; keys
    with '%'; a (str, Enum) key equal to a plain key but printed as its str(); a map too
    large for a template; read-only mappings."""

    class Mode(str, enum.Enum):  # noqa: UP042 (a StrEnum prints as its value)
        a = "a"  # hashed by name: the same hash as "a"

    shape = ("a", "b", "c")
    variants: list[Any] = [
        dict(zip(shape, (1, 2.5, "x"), strict=True)),
        dict(zip(shape, (1.0, 2, True), strict=True)),
        dict(zip(shape, ({"a": 1}, [1, 2.0], -0.0), strict=True)),
        {Mode.a: 1, "b": 2.5, "c": "x"},
        {"100%": 1, "%d": 2.0, "%%s": "y"},
    ]
    shared = {"a": 3, "b": 0.5}
    doc = {
        "flat": variants,
        "deep": [{"one": v, "two": [v]} for v in variants],
        "shared": [shared, {"again": shared}, MappingProxyType(shared)],
        "pairs": Pairs([("k", "1"), ("k", "2")]),
        "wide": {str(i): i * 0.5 if i % 3 else i for i in range(100)},
        "empty": [{}, [], Pairs()],
    }
    assert dumps(doc) == _plain_layout(doc)
    assert dumps(doc) == dumps(doc)  # templates cached by the first
