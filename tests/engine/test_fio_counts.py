"""Counts that depend only on fio's rules, checked against the fio binary in LOADGEN_FIO."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.engine.conftest import make_job, run_job

FIO = os.environ.get("LOADGEN_FIO", "")
pytestmark = pytest.mark.skipif(
    not FIO, reason="LOADGEN_FIO (an fio binary with the page_fault engine) is not set"
)
K = 1024
M = K * K


def _fio(*args: str) -> dict[str, int]:
    out = subprocess.run(
        [FIO, "--ioengine=page_fault", "--output-format=json", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    job = json.loads(out[out.index("{") :])["jobs"][0]
    return {"read": job["read"]["total_ios"], "write": job["write"]["total_ios"]}


def test_per_direction_block_sizes_run_fios_number_of_ios() -> None:
    """The total is set by the map rules, not the random numbers: within 5 % of fio's."""
    fio = _fio("--name=a", "--rw=randrw", "--bs=4k,16k", "--size=16m")
    ours = run_job(
        make_job(
            rw="randrw",
            size=16 * M,
            bs_min=(4 * K, 16 * K),
            bs_max=(4 * K, 16 * K),
            blockalign=(4 * K, 16 * K),
        )
    )
    total = sum(ours.ios)
    assert abs(total - (fio["read"] + fio["write"])) <= 0.05 * (fio["read"] + fio["write"])


def test_lfsr_with_norandommap_touches_each_block_once_like_fio() -> None:
    fio = _fio(
        "--name=a",
        "--rw=randwrite",
        "--bs=4k",
        "--size=4m",
        "--random_generator=lfsr",
        "--norandommap",
    )
    ours = run_job(make_job(rw="randwrite", size=4 * M, random_generator="lfsr", norandommap=True))
    assert ours.ios == (0, fio["write"]) == (0, 1024)
    assert ours.total.minf >= 1024
