"""scripts/bench.py against stub loadgen/fio/pflimit programs with known numbers.

The stubs print fio-shaped reports whose runtimes come from a list the test chooses, so the
medians and per-round ratios in the result can be checked exactly, without the real engine.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
BENCH = SCRIPTS / "bench.py"
sys.path.insert(0, str(SCRIPTS))

from _bench_stats import pair_ratios, quartiles, ratio_summary  # noqa: E402
from _bench_watch import Watch, run_watched  # noqa: E402

# A stub that behaves like fio / "loadgen run": reads the job file for numjobs, writes an
# fio-shaped JSON report to --output. Its Nth call takes the Nth runtime of STUB_RUNTIMES
# (cycling); STUB_LOADGEN is a JSON object put under each job's "loadgen" key; STUB_DROP
# names keys (comma-separated) left out of each job; STUB_FAIL makes it exit 1;
# STUB_RELEASE_AFTER_S: sleep that long, then put the time as the group's release_epoch_ns.
REPORT_STUB = r'''
import json, os, sys, time
from pathlib import Path
time.sleep(float(os.environ.get("STUB_RELEASE_AFTER_S", "0")))
release_epoch_ns = time.time_ns()
args = [a for a in sys.argv[1:] if a != "run"]
output = next(a.split("=", 1)[1] for a in args if a.startswith("--output="))
job_file = next(a for a in args if not a.startswith("--"))
options = dict(l.split("=", 1) for l in Path(job_file).read_text().splitlines() if "=" in l)
state = Path(os.environ["STUB_STATE"])
calls = int(state.read_text()) if state.exists() else 0
state.write_text(str(calls + 1))
log = Path(os.environ["STUB_STATE"] + ".args")
with log.open("a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "job": Path(job_file).read_text()}) + "\n")
if os.environ.get("STUB_FAIL"):
    print("stub: asked to fail", file=sys.stderr)
    sys.exit(1)
runtimes = [float(x) for x in os.environ["STUB_RUNTIMES"].split(",")]
runtime = runtimes[calls % len(runtimes)]
jobs = []
for _ in range(int(options.get("numjobs", "1"))):
    job = {"jobname": "x", "job_runtime": runtime, "minf": 2048,
           "read": {"total_ios": 0, "runtime": 0, "clat_ns": {"mean": 0.0}},
           "write": {"total_ios": 1000, "runtime": runtime, "iops": 1000 * 1000 / runtime,
                     "clat_ns": {"mean": 250.0}}}
    if os.environ.get("STUB_LOADGEN"):
        job["loadgen"] = json.loads(os.environ["STUB_LOADGEN"])
    for key in os.environ.get("STUB_DROP", "").split(","):
        job.pop(key, None)
    jobs.append(job)
top = {"groups": [{"id": 0, "workers": len(jobs), "release_epoch_ns": release_epoch_ns}]}
Path(output).write_text(json.dumps({"fio version": "stub", "jobs": jobs, "loadgen": top}))
'''

PFLIMIT_STUB = r'''
import json, os, sys
from pathlib import Path
state = Path(os.environ["PFSTUB_STATE"])
calls = int(state.read_text()) if state.exists() else 0
state.write_text(str(calls + 1))
rates = [float(x) for x in os.environ["PFSTUB_RATES"].split(",")]
print(json.dumps({"nproc": int(sys.argv[3]), "blocks_per_s": rates[calls % len(rates)],
                  "minor_faults": 2100, "seconds": 0.1}))
'''


def _executable(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, Path]:
    return {
        "report": _executable(tmp_path / "report_stub.py", REPORT_STUB),
        "pflimit": _executable(tmp_path / "pflimit_stub.py", PFLIMIT_STUB),
        "dir": tmp_path,
    }


def run_bench(
    stubs: dict[str, Path], extra: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    """Run bench.py --smoke with every side stubbed; loadgen's stub state is 'lg', fio's 'fio'."""
    out_json = stubs["dir"] / "result.json"
    out_md = stubs["dir"] / "result.md"
    # loadgen and fio share one stub program; their state files tell their calls apart.
    runtimes = env.pop("LG_RUNTIMES", "100")
    report = shlex.quote(str(stubs["report"]))
    loadgen_cmd = f"env STUB_STATE={stubs['dir'] / 'lg'} STUB_RUNTIMES={runtimes} {report}"
    fio_wrapper = _executable(
        stubs["dir"] / "fio_stub.py",
        "import os, sys\n"
        f"os.environ['STUB_STATE'] = {str(stubs['dir'] / 'fio')!r}\n"
        f"os.environ['STUB_RUNTIMES'] = {env.pop('FIO_RUNTIMES', '100')!r}\n"
        "for loadgen_only in ('STUB_LOADGEN', 'STUB_FAIL', 'STUB_DROP'):\n"
        "    os.environ.pop(loadgen_only, None)\n"
        f"os.execv(sys.executable, [sys.executable, {str(stubs['report'])!r}, *sys.argv[1:]])\n",
    )
    command = [
        sys.executable, str(BENCH), "--smoke",
        "--loadgen-cmd", loadgen_cmd,
        "--fio", str(fio_wrapper),
        "--pflimit-bin", str(stubs["pflimit"]),
        "--json-out", str(out_json), "--md-out", str(out_md),
        *extra,
    ]  # fmt: skip
    full_env = {
        **os.environ,
        "PFSTUB_STATE": str(stubs["dir"] / "pf"),
        "PFSTUB_RATES": "10000",
        **env,
    }
    completed = subprocess.run(
        command, capture_output=True, text=True, env=full_env, timeout=60, check=False
    )
    document = json.loads(out_json.read_text()) if out_json.exists() else None
    return completed, document


def _case(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(case for case in document["cases"] if case["name"] == name)


def test_medians_and_per_round_ratios_follow_the_stub_numbers(stubs: dict[str, Path]) -> None:
    # loadgen: 1000 ops in 100/200/400 ms -> 10000, 5000, 2500 ops/s; fio always 10000.
    completed, document = run_bench(
        stubs,
        ["--cases", "fault-seq-4k", "--pairs", "3"],
        {"LG_RUNTIMES": "100,200,400", "FIO_RUNTIMES": "100", "PFSTUB_RATES": "20000,10000,5000"},
    )
    assert completed.returncode == 0, completed.stderr
    assert document is not None
    case = _case(document, "fault-seq-4k")
    assert case["sides"]["loadgen"]["values"] == pytest.approx([10000, 5000, 2500])
    assert case["sides"]["loadgen"]["median"] == pytest.approx(5000)
    assert case["sides"]["fio"]["median"] == pytest.approx(10000)
    assert case["sides"]["pflimit"]["median"] == pytest.approx(10000)
    vs_fio = case["ratios"]["loadgen/fio"]
    assert vs_fio["per_pair"] == pytest.approx([1.0, 0.5, 0.25])
    assert (vs_fio["median"], vs_fio["min"], vs_fio["max"]) == pytest.approx((0.5, 0.25, 1.0))
    # each round's loadgen and pflimit fell by the same factor: the ratio stays put
    assert case["ratios"]["loadgen/pflimit"]["per_pair"] == pytest.approx([0.5, 0.5, 0.5])
    assert case["targets"] == [
        {"label": "loadgen >= 0.95x fio ops/s", "met": False, "value": pytest.approx(0.5)}
    ]
    markdown = (stubs["dir"] / "result.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| fault-seq-4k |"))
    assert "0.500 [0.250-1.000]" in row
    assert "NOT met" in row
    assert markdown == completed.stdout


def test_sides_run_in_turn_reversed_every_other_round(stubs: dict[str, Path]) -> None:
    completed, _ = run_bench(stubs, ["--cases", "fault-seq-4k", "--pairs", "2"], {})
    assert completed.returncode == 0, completed.stderr
    order = [
        line.split()[4].rstrip(":") for line in completed.stderr.splitlines() if " round " in line
    ]
    assert order == ["loadgen", "fio", "pflimit", "pflimit", "fio", "loadgen"]


def test_every_case_is_reported_in_json_and_markdown(stubs: dict[str, Path]) -> None:
    completed, document = run_bench(stubs, [], {})
    assert completed.returncode == 0, completed.stderr
    assert document is not None
    listed = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = [line.split(":")[0] for line in listed.stdout.splitlines()]
    assert [case["name"] for case in document["cases"]] == names
    assert document["schema"] == "loadgen-bench/1"
    assert document["options"]["smoke"] is True and document["options"]["pairs"] == 1
    for case in document["cases"]:
        assert set(case) >= {"metric", "better", "sides", "ratios", "targets", "job"}
        assert f"| {case['name']} |" in completed.stdout
    # fio is not run where it has no comparable number; loadgen's thp is kept from fio
    assert "fio" not in _case(document, "controller-1s")["sides"]
    assert "fio" not in _case(document, "storm-1024")["sides"]
    fio_calls = [json.loads(line) for line in (stubs["dir"] / "fio.args").read_text().splitlines()]
    loadgen_calls = [
        json.loads(line) for line in (stubs["dir"] / "lg.args").read_text().splitlines()
    ]
    assert not any("thp=" in call["job"] for call in fio_calls)
    assert any("thp=never" in call["job"] for call in loadgen_calls)
    assert all(call["argv"][0] == "run" for call in loadgen_calls)


def test_loadgen_extras_judge_storm_and_controller_targets(stubs: dict[str, Path]) -> None:
    extras = {
        "spawn_s": 0.5,
        "start_skew_ns": 200000,
        "uss_bytes": 12 << 20,
        "controller_cpu_s": 0.001,
    }
    completed, document = run_bench(
        stubs,
        ["--cases", "storm-1024*,controller-1s"],
        {"STUB_LOADGEN": json.dumps(extras), "STUB_RELEASE_AFTER_S": "0.2"},
    )
    assert completed.returncode == 0, completed.stderr
    assert document is not None
    storm = _case(document, "storm-1024")
    assert [(t["label"], t["met"]) for t in storm["targets"]] == [("all released within 5 s", True)]
    run = storm["sides"]["loadgen"]["runs"][0]["metrics"]
    # release: from bench.py's clock reading before the start to the stub's release_epoch_ns
    assert 0.2 <= run["release_s"] <= run["wall_s"]
    uss = _case(document, "storm-1024-uss")
    assert [(t["label"], t["met"]) for t in uss["targets"]] == [("USS <= 8 MiB per worker", False)]
    assert uss["sides"]["loadgen"]["median"] == 12 << 20
    # the report's figure wins over sampling
    assert uss["sides"]["loadgen"]["extras"]["uss_sampled"] == 0.0
    controller = _case(document, "controller-1s")
    run = controller["sides"]["loadgen"]["runs"][0]["metrics"]
    assert run["report_controller_cpu_s"] == 0.001  # the report's own figure, kept apart
    assert run["controller_cpu_s"] > 0  # measured from outside: the stub's interpreter
    assert run["controller_cpu_share_whole"] == pytest.approx(
        run["controller_cpu_s"] / run["wall_s"]
    )


def test_steady_share_is_the_middle_of_release_to_exit() -> None:
    second = 1_000_000_000
    # start at 0, release at 2 s, exit at 10 s: the window is 3 s .. 9 s (1 s margins)
    samples = [
        (t * second, cpu)
        for t, cpu in ((1, 0.9), (2, 1.0), (3, 1.2), (6, 1.5), (9, 1.8), (10, 2.5))
    ]
    watch = Watch(start_ns=0, cpu_samples=samples)
    assert watch.steady_share(2 * second) == pytest.approx((1.8 - 1.2) / 6)
    assert watch.controller_cpu_s() == 2.5
    # a short run keeps a quarter of the span at each end: release 0, exit 4 s -> 1 s .. 3 s
    short = Watch(
        start_ns=0, cpu_samples=[(0, 0.0), (second, 0.1), (3 * second, 0.3), (4 * second, 0.9)]
    )
    assert short.steady_share(0) == pytest.approx(0.1)
    assert Watch(start_ns=0).steady_share(0) is None


CPU_BURNER = r"""
import os, subprocess, sys, time
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
CHILD = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.6: pass"
subprocess.run([sys.executable, "-c", CHILD], check=True)
t = os.times()
sys.stderr.write(f"{t.user + t.system} {t.children_user + t.children_system}\n")
"""


def test_watch_counts_the_controller_process_alone() -> None:
    watch, stderr = run_watched([sys.executable, "-c", CPU_BURNER], timeout_s=120, cwd=None,
                                uss=False)
    assert watch.returncode == 0, stderr
    own_s, children_s = map(float, stderr.split())
    cpu_s = watch.controller_cpu_s()
    assert cpu_s is not None
    # the zombie's own times: all it used up to the report above and its exit, none of the
    # child's (which burnt twice the parent's loop)
    assert own_s <= cpu_s < own_s + children_s / 2


TREE = """
import os, time
if os.fork() == 0:          # the helper
    pids = []
    for _ in range(20):      # the workers: alive for a while, then gone
        pid = os.fork()
        if pid == 0:
            time.sleep(1.5)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    os._exit(0)
os.wait()
"""


def test_watch_samples_the_uss_of_every_16th_worker() -> None:
    watch, _ = run_watched([sys.executable, "-c", TREE], timeout_s=60, cwd=None, uss=True)
    assert watch.returncode == 0
    assert len(watch.uss_by_pid) == 2  # workers 0 and 16 of 20
    maximum, median = watch.uss_summary()
    assert maximum is not None and median is not None and 0 < median <= maximum


def test_uss_summary_keeps_each_workers_largest_sample_and_skips_unsampled() -> None:
    watch = Watch(start_ns=0, uss_by_pid={10: 3 << 20, 11: 5 << 20, 12: 0, 13: 4 << 20})
    assert watch.uss_summary() == (5 << 20, 4 << 20)
    assert Watch(start_ns=0, uss_by_pid={10: 0}).uss_summary() == (None, None)


def test_missing_report_keys_read_as_na(stubs: dict[str, Path]) -> None:
    completed, document = run_bench(
        stubs, ["--cases", "fault-seq-4k,storm-1024-uss"], {"STUB_DROP": "read,write"}
    )
    assert completed.returncode == 0, completed.stderr
    assert document is not None
    case = _case(document, "fault-seq-4k")
    assert case["sides"]["loadgen"]["median"] is None
    assert case["ratios"]["loadgen/fio"]["median"] is None
    assert case["targets"][0]["met"] is None
    # no uss_bytes in the report and no worker to sample: the USS target cannot be judged
    uss_target = _case(document, "storm-1024-uss")["targets"][0]
    assert uss_target["label"] == "USS <= 8 MiB per worker" and uss_target["met"] is None
    assert "n/a" in completed.stdout


def test_a_failing_side_is_recorded_not_fatal(stubs: dict[str, Path]) -> None:
    completed, document = run_bench(stubs, ["--cases", "fault-seq-4k"], {"STUB_FAIL": "1"})
    assert completed.returncode == 0, completed.stderr
    assert document is not None
    loadgen = _case(document, "fault-seq-4k")["sides"]["loadgen"]
    assert loadgen["runs"][0]["error"] == "exit 1: stub: asked to fail"
    assert "stub: asked to fail" in completed.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--pairs", "0"],
        ["--settle", "-1"],
        ["--cases", "no-such-case"],
        ["--fio", "/nonexistent/fio"],
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args: list[str]) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", *args], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1
    assert completed.stderr.startswith("bench: ")


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_pflimit_source_is_compiled_into_a_temp_dir(tmp_path: Path) -> None:
    source = tmp_path / "fake_pflimit.c"
    source.write_text(
        '#include <stdio.h>\nint main(void){printf("{\\"nproc\\": 1, \\"blocks_per_s\\": 4000, '
        '\\"minor_faults\\": 5, \\"seconds\\": 0.5}\\n");return 0;}\n'
    )
    out_json = tmp_path / "r.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--no-loadgen", "--cases", "fault-seq-4k",
         "--pflimit", str(source), "--json-out", str(out_json)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    document = json.loads(out_json.read_text())
    assert _case(document, "fault-seq-4k")["sides"]["pflimit"]["median"] == 4000
    assert "compiled from" in document["machine"]["pflimit"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake_pflimit.c", "r.json"]


def test_damon_schemes_lists_the_running_kdamonds_schemes_only(tmp_path: Path) -> None:
    from bench import damon_schemes

    def kdamond(number: int, state: str, actions: list[str]) -> None:
        root = tmp_path / "kdamonds" / str(number)
        context = root / "contexts" / "0"
        (context / "monitoring_attrs" / "intervals").mkdir(parents=True)
        (root / "state").write_text(f"{state}\n")
        (context / "operations").write_text("paddr\n")
        (context / "monitoring_attrs" / "intervals" / "aggr_us").write_text("5000000\n")
        for index, action in enumerate(actions):
            scheme = context / "schemes" / str(index)
            (scheme / "access_pattern" / "age").mkdir(parents=True)
            (scheme / "action").write_text(f"{action}\n")
            (scheme / "access_pattern" / "age" / "min").write_text(f"{12 + index}\n")
        (root / "contexts" / "nr_contexts").write_text("1\n")

    kdamond(0, "on", ["pageout", "stat"])
    kdamond(1, "off", ["pageout"])
    assert damon_schemes(tmp_path) == [
        {"operations": "paddr", "aggr_us": "5000000", "action": "pageout",
         "min_age_aggr_intervals": "12"},
        {"operations": "paddr", "aggr_us": "5000000", "action": "stat",
         "min_age_aggr_intervals": "13"},
    ]  # fmt: skip
    assert damon_schemes(tmp_path / "absent") == []


def test_pair_ratios_skip_rounds_with_a_missing_side() -> None:
    assert pair_ratios([2.0, None, 9.0, 4.0], [1.0, 3.0, None, 8.0]) == [2.0, 0.5]


def test_ratio_summary_spread() -> None:
    summary = ratio_summary([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (summary["median"], summary["min"], summary["max"]) == (3.0, 1.0, 5.0)
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert ratio_summary([])["median"] is None


def test_copy_microbenchmark_reports_every_primitive_and_state(tmp_path: Path) -> None:
    out_json = tmp_path / "copy.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_copy.py"), "--size-mib", "1", "--rounds", "2",
         "--hot-passes", "2", "--json-out", str(out_json)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    document = json.loads(out_json.read_text())
    table_rows = [
        line
        for line in completed.stdout.splitlines()
        if line.startswith("| ") and "ns/block" not in line
    ]
    assert len(table_rows) == len(document["ns_per_block"])
    for by_state in document["ns_per_block"].values():
        assert set(by_state) == {"fresh", "faulted", "cache-hot"}
        assert all(len(values) == 2 and min(values) > 0 for values in by_state.values())


def test_copy_microbenchmark_rejects_a_block_size_that_does_not_divide() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_copy.py"), "--size-mib", "1", "--bs", "3000"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.startswith("bench_copy: ")
