"""Terse v3 lines: fio's field count and every field's shape (sample from a real fio run)."""

from __future__ import annotations

import re

from loadgen.report import render_terse

from .fio_sample import DATA, big_result, load, result_from_fio


def shape(field: str) -> str:
    """A field's format class: int, %f float, %f percent, %3.1f/%3.2f percent, percentile, text."""
    for name, pattern in (
        ("int", r"\d+"),
        ("float6", r"-?\d+\.\d{6}"),
        ("pct6", r"\d+\.\d{6}%"),
        ("pct1", r"\d+\.\d%"),
        ("pct2", r"\d+\.\d\d%"),
        ("plist", r"(\d+\.\d{6}|0)%=\d+"),
    ):
        if re.fullmatch(pattern, field):
            return name
    return "text"


def test_field_count_and_shapes_match_fio() -> None:
    fio_fields = (DATA / "fio_terse.txt").read_text().rstrip("\n").split(";")
    ours = render_terse(result_from_fio(load("pf.json")))
    assert ours.endswith("\n") and ours.count("\n") == 1
    fields = ours.rstrip("\n").split(";")
    assert len(fields) == len(fio_fields) == 121
    assert [shape(f) for f in fields] == [shape(f) for f in fio_fields]


def test_values_follow_the_json_numbers() -> None:
    doc = load("pf.json")
    fields = render_terse(result_from_fio(doc)).rstrip("\n").split(";")
    read, write = doc["jobs"][0]["read"], doc["jobs"][0]["write"]
    assert fields[0:5] == ["3", "loadgen-0.1.0", "pf", "0", "0"]
    assert fields[5:9] == [
        str(read["io_kbytes"]),
        str(read["bw"]),
        str(int(read["iops"])),
        str(read["runtime"]),
    ]
    assert fields[13:17] == [
        "0",
        str(read["clat_ns"]["max"] // 1000),
        f"{read['clat_ns']['mean'] / 1000:f}",
        f"{read['clat_ns']['stddev'] / 1000:f}",
    ]
    assert fields[17] == f"1.000000%={read['clat_ns']['percentile']['1.000000'] // 1000}"
    assert fields[34:37] == ["0%=0"] * 3  # 17 percentiles, padded to fio's 20 columns
    assert fields[46] == str(write["io_kbytes"])
    # ns buckets fold into the first us bucket (25.128174 + 25.866699)
    assert fields[99] == "50.99%"


def test_same_run_terse_matches_json_plus_numbers() -> None:
    """fio printed gr_terse.txt and gr_plus.json in one run (numjobs=2, group_reporting).

    Rebuilt from the json+, loadgen's terse line equals fio's apart from the version and the
    cpu percentages (the merged entry's job_runtime is a sum over members, which a one-worker
    rebuild cannot split)."""
    fio_fields = (DATA / "gr_terse.txt").read_text().rstrip("\n").split(";")
    ours = render_terse(result_from_fio(load("gr_plus.json"))).rstrip("\n").split(";")
    differing = [i for i, (a, b) in enumerate(zip(ours, fio_fields, strict=True)) if a != b]
    assert differing == [1, 87, 88]


def test_big_run_terse_identical_to_fio() -> None:
    """big.fio printed terse and json+ together: lat percentiles in the terse columns,
    kb_base=1000."""
    result, _ = big_result()
    expected = (DATA / "big_terse.txt").read_text()
    assert render_terse(result).replace("loadgen-0.1.0", "fio-3.42-135-gf5344384") == expected
