"""``loadgen compare``: real interleaved runs, and the family-wise false-alarm rate simulated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loadgen.cli import main
from loadgen.controller import execute
from loadgen.plan import RunOptions
from loadgen.report.fiojson import render_json

from ..controller.plans import make_plan

pytest.importorskip("scipy")

from loadgen.analysis import compare
from loadgen.analysis.runs import METRICS, Run

RUNS = 6
MIB = 1 << 20


def _job(bs: int) -> dict:
    return {"name": "pf", "rw": "write", "size": 16 * MIB, "bs_min": (bs, bs), "bs_max": (bs, bs)}


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three sets of 6 runs, interleaved (4k, 64k, 4k, 4k, 64k, 4k...): small, so seconds in all."""
    root = tmp_path_factory.mktemp("sets")
    dirs = {name: root / name for name in ("4k", "64k", "4k_again")}
    for d in dirs.values():
        d.mkdir()
    for i in range(RUNS):
        for name, bs in (("4k", 4096), ("64k", 65536), ("4k_again", 4096)):
            result = execute(make_plan([_job(bs)]), RunOptions(eta="never"))
            (dirs[name] / f"run{i}.json").write_text(render_json(result))
    return dirs


def _compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    status = main(["compare", *args, "--output-format=json"])
    return status, json.loads(capsys.readouterr().out)


def test_4k_against_64k_blocks_is_significant(sets, capsys: pytest.CaptureFixture[str]) -> None:
    status, doc = _compare(capsys, str(sets["4k"]), str(sets["64k"]))
    assert status == 0
    (comparison,) = doc["comparisons"]
    by_metric = {m["metric"]: m for m in comparison["metrics"]}
    iops = by_metric["iops"]
    assert iops["base"]["n"] == iops["new"]["n"] == RUNS
    assert iops["significant"] is True and iops["change_pct"] < -50  # 16x fewer, bigger copies
    assert iops["ci_pct"][1] < 0 and iops["p_adjusted"] < doc["alpha"]
    assert iops["regression"] is True
    assert doc["family_wise_error"]["method"] == "Holm-Bonferroni"
    # metrics that never vary (thp_fault_alloc with THP off) are reported but not in the family
    tested = [
        m for m in comparison["metrics"] if len(set(m["base"]["values"] + m["new"]["values"])) > 1
    ]
    assert comparison["family_size"] == len(tested) >= 5
    # a CI gate: the iops regression is far beyond 10%
    assert main(["compare", str(sets["4k"]), str(sets["64k"]), "--fail-on-regression=10"]) == 1
    text = capsys.readouterr().out
    assert "Holm-Bonferroni" in text and "SIGNIFICANT (regression)" in text


def test_the_same_configuration_shows_no_significant_change(
    sets, capsys: pytest.CaptureFixture[str]
) -> None:
    status, doc = _compare(capsys, str(sets["4k"]), str(sets["4k_again"]), "--fail-on-regression=0")
    assert status == 0
    (comparison,) = doc["comparisons"]
    assert comparison["metrics"] and not any(m["significant"] for m in comparison["metrics"])


def test_sets_by_comma_list_and_header_warnings(
    sets, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = sorted(sets["4k"].iterdir())
    other = tmp_path / "other_kernel.json"
    doc = json.loads(runs[0].read_text())
    doc["loadgen"]["header"]["kernel_release"] = "6.1.0-other"
    other.write_text(json.dumps(doc))
    status, out = _compare(capsys, ",".join(str(p) for p in runs[1:]), f"{other},{runs[0]}")
    assert status == 0
    assert any("kernel" in w and "6.1.0-other" in w for w in out["warnings"])
    assert any("cannot show a significant change" in w for w in out["warnings"])  # 5 vs 2 runs


def test_bad_sets_are_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(tmp_path / "none"), str(tmp_path)]) == 2
    assert main(["compare", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("loadgen: ") for line in err)


def _bimodal(rng: np.random.Generator, n: int, shift: float = 1.0) -> np.ndarray:
    """THP fault throughput on these VMs: 120k or 1.4M ops/s from run to run, +-10%."""
    high = rng.random(n) < 0.5
    return np.where(high, 1.4e6, 1.2e5) * rng.normal(1.0, 0.1, n) * shift


def _runs(rng: np.random.Generator, n: int, shift: float = 1.0) -> list[Run]:
    tput = _bimodal(rng, n, shift)
    runs = []
    for i in range(n):
        values = {m.name: float(abs(rng.normal(100.0, 15.0))) for m in METRICS}
        values.update(
            iops=tput[i],
            bw=tput[i] * 4096,
            faults_per_s=tput[i] * rng.normal(1, 0.01),
            clat_p50=1e9 / tput[i],
        )
        runs.append(Run(f"sim{i}", {}, {"pf (g=0)": values}))
    return runs


def test_false_alarm_rate_over_all_metrics_stays_at_alpha_with_bimodal_noise() -> None:
    rng = np.random.default_rng(20261201)
    alpha, trials = 0.05, 300
    alarms = 0
    for trial in range(trials):
        result = compare.compare_sets(_runs(rng, RUNS), _runs(rng, RUNS), alpha, seed=trial)
        assert len(result.rows) == len(METRICS)
        alarms += any(r.significant for r in result.rows)
    # binomial(300, 0.05): mean 15, sd 3.8; the bound is the stated level plus 3 sd
    assert alarms <= trials * alpha + 3 * (trials * alpha * (1 - alpha)) ** 0.5, alarms


def test_a_real_shift_under_the_same_noise_is_found() -> None:
    rng = np.random.default_rng(7)
    found = 0
    for trial in range(40):
        # 20x slower: beyond the two modes' spread, so every new run is below every base run
        base, new = _runs(rng, RUNS), _runs(rng, RUNS, shift=0.05)
        rows = {r.metric.name: r for r in compare.compare_sets(base, new, 0.05, seed=trial).rows}
        found += rows["iops"].significant
    assert found >= 30


def test_holm_adjustment() -> None:
    assert compare.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert compare.holm([0.5, 0.9]) == [1.0, 1.0]
