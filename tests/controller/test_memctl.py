"""Memory controls end to end: machine checks, sysfs settings restored on every exit path,
per-job memory cgroups, backing files, and the restorer that outlives the controller."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadgen.controller.cgroup import cgroup_of, find_hierarchy
from loadgen.controller.memctl import KSM_RUN, RESTORER, mthp_enabled_file
from loadgen.kernel import thp
from loadgen.kernel.mmfacts import NR_HUGEPAGES, hugetlb_pool

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
MTHP = 64 * 1024
MTHP_FILE = mthp_enabled_file(MTHP)
needs_root = pytest.mark.skipif(not IS_ROOT, reason="changes system settings: needs root")
needs_mthp = pytest.mark.skipif(not os.path.exists(MTHP_FILE), reason="no 64kB mTHP size")


def loadgen(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", "run", "--eta=never", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "loadgen", "run", "--eta=never", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def policy() -> str:
    return thp.selected(Path(MTHP_FILE).read_text().strip())


def wait_for(check: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


def job_report(out: str) -> dict[str, object]:
    return json.loads(out)["jobs"][0]  # type: ignore[no-any-return]


# ---- machine checks: one line, exit 2, nothing started -----------------------------------------
def test_an_mthp_size_the_kernel_lacks_is_one_line_and_status_2() -> None:
    done = loadgen("--name=a", "--size=1m", "--mthp=256m:always")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "mthp=" in lines[0] and "Traceback" not in done.stderr


@needs_root
def test_an_empty_hugetlb_pool_names_nr_hugepages() -> None:
    if hugetlb_pool().free:
        pytest.skip("the hugetlb pool is not empty")
    done = loadgen("--name=a", "--size=4m", "--backing=hugetlb", "--rw=write")
    assert done.returncode == 2
    assert NR_HUGEPAGES in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_memory_high_on_cgroup_v1_says_it_needs_v2() -> None:
    hierarchy = find_hierarchy()
    if hierarchy is None or hierarchy.version != 1 or not IS_ROOT:
        pytest.skip("needs a cgroup v1 memory controller and root")
    done = loadgen("--name=a", "--size=1m", "--memory_high=32m")
    assert done.returncode == 2 and "cgroup v2" in done.stderr


# ---- sysfs settings ---------------------------------------------------------------------------
@needs_root
@needs_mthp
def test_mthp_policy_holds_during_the_group_and_is_restored(tmp_path: Path) -> None:
    before = policy()
    if before == "always":
        pytest.skip("64kB is already 'always'")
    done = loadgen("--name=m", "--rw=write", "--size=16m", "--bs=64k", "--mthp=64k:always",
                   "--output-format=json")
    assert done.returncode == 0, done.stderr
    assert policy() == before
    job = job_report(done.stdout)
    loadgen_extras = job["loadgen"]
    assert isinstance(loadgen_extras, dict)
    assert loadgen_extras["mm"]["mthp_policy"] == {"64kB": "always"}
    # the setting was in force: the kernel allocated 64 KiB folios for the job's faults
    assert loadgen_extras["kernel"]["mthp"]["64kB"]["anon_fault_alloc"] > 0


@needs_root
@needs_mthp
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_mthp_policy_comes_back_when_the_controller_is_signalled(signum: int) -> None:
    before = policy()
    if before == "always":
        pytest.skip("64kB is already 'always'")
    proc = start("--name=m", "--rw=write", "--size=8m", "--time_based", "--runtime=600",
                 "--mthp=64k:always")
    try:
        wait_for(lambda: policy() == "always", "the run to set 64kB:always")
        proc.send_signal(signum)
        proc.wait(timeout=60)
        # SIGKILL leaves it to the restorer, which sees its pipe close
        wait_for(lambda: policy() == before, "the policy to come back", 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


@needs_root
@needs_mthp
def test_mthp_policy_comes_back_after_a_worker_crash() -> None:
    before = policy()
    if before == "always":
        pytest.skip("64kB is already 'always'")
    proc = start("--name=m", "--rw=write", "--size=8m", "--time_based", "--runtime=600",
                 "--mthp=64k:always")
    try:
        wait_for(lambda: policy() == "always", "the run to set 64kB:always")
        controller = psutil.Process(proc.pid)

        def workers() -> list[psutil.Process]:
            helpers = [c for c in controller.children()
                       if "loadgen.engine.helper" in " ".join(c.cmdline())]
            return [w for c in helpers for w in c.children()]

        def crash_workers() -> bool:
            # again until the run ends: the first child seen may be the helper's
            # start-up probe of lean workers (on a busy machine), not the job's worker;
            # the run's processes end (and turn zombie) while they are looked at
            with contextlib.suppress(psutil.Error):
                for worker in workers():
                    with contextlib.suppress(psutil.Error):
                        worker.send_signal(signal.SIGSEGV)
            return proc.poll() is not None

        wait_for(crash_workers, "the run to end on its worker's crash")
        assert proc.returncode == 1  # a worker died
        assert policy() == before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_root
def test_ksm_starts_ksmd_for_the_run_and_reports_its_counters() -> None:
    before = Path(KSM_RUN).read_text().strip()
    if before == "1":
        pytest.skip("ksmd is already running")
    proc = start("--name=k", "--rw=write", "--size=8m", "--time_based", "--runtime=600", "--ksm=1",
                 "--output-format=json")
    try:
        wait_for(lambda: Path(KSM_RUN).read_text().strip() == "1", "ksmd to start")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert Path(KSM_RUN).read_text().strip() == before
    mm = job_report(out)["loadgen"]["mm"]  # type: ignore[index]
    assert {"pages_sharing", "pages_shared", "full_scans"} <= set(mm["ksm_system_wide"])


# ---- memory cgroups -----------------------------------------------------------------------------
def test_memory_limit_ooms_inside_the_jobs_own_cgroup() -> None:
    hierarchy = find_hierarchy()
    if hierarchy is None or not IS_ROOT:
        pytest.skip("needs a memory cgroup controller and root")
    done = loadgen("--name=p", "--rw=write", "--size=256m", "--memory_limit=64m",
                   "--output-format=json")
    assert done.returncode == 4, done.stderr  # an OOM kill (docs/reliability.md)
    job = job_report(done.stdout)
    extras = job["loadgen"]
    assert isinstance(extras, dict)
    assert extras["outcome"] == "oom_killed"
    group = extras["mm"]["cgroup"]
    assert group["events"]["oom_kill"] >= 1
    assert 0 < group["peak_bytes"] <= 64 * 1024 * 1024  # the 256 MiB never left its group
    assert not Path(group["path"]).exists()  # removed at the end


def test_memory_limit_above_the_job_lets_it_finish_and_counts_its_faults() -> None:
    if find_hierarchy() is None or not IS_ROOT:
        pytest.skip("needs a memory cgroup controller and root")
    done = loadgen("--name=p", "--rw=write", "--size=16m", "--memory_limit=64m",
                   "--output-format=json")
    assert done.returncode == 0, done.stderr
    group = job_report(done.stdout)["loadgen"]["mm"]["cgroup"]  # type: ignore[index]
    assert group["events"]["oom_kill"] == 0
    assert group["stat"]["pgfault"] >= 16 * 1024 * 1024 // 4096  # the job's faults, in its group
    assert group["peak_bytes"] >= 16 * 1024 * 1024


# ---- backing files ------------------------------------------------------------------------------
def test_a_backing_file_loadgen_made_is_removed_and_one_that_existed_is_kept(
        tmp_path: Path) -> None:
    made = tmp_path / "made"
    done = loadgen("--name=f", "--rw=write", "--size=1m", "--backing=file", f"--filename={made}",
                   "--output-format=json")
    assert done.returncode == 0, done.stderr
    assert not made.exists()
    mm = job_report(done.stdout)["loadgen"]["mm"]  # type: ignore[index]
    assert mm["file"]["created"] is True
    kept = tmp_path / "kept"
    kept.write_bytes(b"")
    done = loadgen("--name=f", "--rw=write", "--size=1m", "--backing=file", f"--filename={kept}")
    assert done.returncode == 0, done.stderr
    # the write source is data (fio scrambles an offset stamp into each sector): not zeros
    assert kept.stat().st_size == 1024 * 1024 and any(kept.read_bytes())


# ---- the restorer -------------------------------------------------------------------------------
def restorer() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-I", str(RESTORER)], stdin=subprocess.PIPE)


def test_the_restorer_undoes_open_entries_when_its_pipe_closes(tmp_path: Path) -> None:
    setting, made, directory = tmp_path / "setting", tmp_path / "made", tmp_path / "dir"
    setting.write_text("changed")
    made.write_text("x")
    directory.mkdir()
    done_setting = tmp_path / "done"
    done_setting.write_text("changed")
    proc = restorer()
    assert proc.stdin is not None
    proc.stdin.write(f"W\t1\t{setting}\toriginal\nU\t2\t{made}\nD\t3\t{directory}\n"
                     f"W\t4\t{done_setting}\toriginal\nX\t4\n".encode())
    proc.stdin.close()  # as when the controller is SIGKILLed
    assert proc.wait(timeout=30) == 0
    assert setting.read_text() == "original"
    assert not made.exists() and not directory.exists()
    assert done_setting.read_text() == "changed"  # undone by the controller already


def test_the_restorer_does_nothing_after_q(tmp_path: Path) -> None:
    setting = tmp_path / "setting"
    setting.write_text("changed")
    proc = restorer()
    assert proc.stdin is not None
    proc.stdin.write(f"W\t1\t{setting}\toriginal\nQ\n".encode())
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert setting.read_text() == "changed"


def ignores(pid: int, signums: tuple[int, ...]) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return all(mask >> (s - 1) & 1 for s in signums)
    return False


def test_the_restorer_survives_the_signals_that_end_the_controller(tmp_path: Path) -> None:
    setting = tmp_path / "setting"
    setting.write_text("changed")
    proc = restorer()
    assert proc.stdin is not None
    proc.stdin.write(f"W\t1\t{setting}\toriginal\n".encode())
    proc.stdin.flush()
    wait_for(lambda: ignores(proc.pid, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)),
             "the restorer to ignore the signals")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        proc.send_signal(signum)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert setting.read_text() == "original"


# ---- per-pass options and huge pages -------------------------------------------------------------
def test_per_pass_options_run() -> None:
    done = loadgen("--name=r", "--rw=write", "--size=1m", "--loops=2", "--refault=dontneed")
    assert done.returncode == 0, done.stderr


def test_the_region_report_and_fault_kinds_reach_the_json_and_the_saved_run(
    tmp_path: Path,
) -> None:
    """refault=dontneed loops=3: 2 re-faults, timed apart from the I/O, and 3 passes of
    first-touch writes; `loadgen report` of the JSON lines prints the same object."""
    stream = tmp_path / "run.jsonl"
    done = loadgen("--name=r", "--rw=write", "--size=1m", "--loops=3", "--thp=never",
                   "--refault=dontneed", "--fault_kinds=1", "--output-format=json",
                   f"--jsonl={stream}")
    assert done.returncode == 0, done.stderr
    report = job_report(done.stdout)
    mm = report["loadgen"]["mm"]  # type: ignore[index]
    region, kinds = mm["region"], mm["fault_kinds"]
    assert (region["passes"], region["refaults"]) == (3, 2)
    assert 0 < region["refault_max_ns"] <= region["refault_ns"]
    assert kinds == {"first_read": 0, "first_write": 3 * 256, "cow_after_zero": 0}
    assert kinds["first_write"] <= report["minf"]  # type: ignore[operator]
    again = subprocess.run([sys.executable, "-m", "loadgen", "report", str(stream),
                            "--output-format=json"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0, again.stderr
    assert job_report(again.stdout)["loadgen"]["mm"] == mm  # type: ignore[index]


def test_a_job_without_fault_kinds_reports_the_region_but_no_kinds() -> None:
    done = loadgen("--name=r", "--rw=write", "--size=1m", "--loops=2", "--refault=remap",
                   "--output-format=json")
    assert done.returncode == 0, done.stderr
    mm = job_report(done.stdout)["loadgen"]["mm"]  # type: ignore[index]
    assert "fault_kinds" not in mm and mm["region"]["refaults"] == 1


@pytest.mark.skipif(thp.selected(Path(thp.THP_ROOT, "enabled").read_text()
                                 if Path(thp.THP_ROOT, "enabled").exists() else "never")
                    in ("never", ""), reason="THP is off on this machine")
def test_thp_madvise_reports_huge_page_faults_and_never_none() -> None:
    counts = {}
    for mode in ("madvise", "never"):
        done = loadgen("--name=h", "--rw=write", "--size=16m", "--bs=2m", f"--thp={mode}",
                       "--output-format=json")
        assert done.returncode == 0, done.stderr
        mm = job_report(done.stdout)["loadgen"]["mm"]  # type: ignore[index]
        counts[mode] = mm.get("huge_page_faults", 0)
    assert counts["madvise"] > 0 and counts["never"] == 0


@needs_root
def test_a_hugetlb_job_takes_one_fault_per_huge_page_and_leaves_the_pool_as_it_was() -> None:
    control = Path(NR_HUGEPAGES)
    before = control.read_text().strip()
    try:
        control.write_text(str(int(before) + 8))
        if hugetlb_pool().free < 8:
            pytest.skip("the kernel could not give 8 huge pages")
        size = 8 * hugetlb_pool().page_size
        done = loadgen("--name=h", "--rw=write", f"--size={size}", "--backing=hugetlb",
                       "--output-format=json")
        assert done.returncode == 0, done.stderr
        job = job_report(done.stdout)
        base_pages = size // 4096
        assert int(job["minf"]) < base_pages // 8  # type: ignore[call-overload]
        assert hugetlb_pool().free >= 8  # unmapped at the end: the pages went back
    finally:
        control.write_text(before)


def test_a_sigkilled_controllers_cgroup_and_file_are_removed_by_the_restorer(
        tmp_path: Path) -> None:
    hierarchy = find_hierarchy()
    if hierarchy is None or not IS_ROOT:
        pytest.skip("needs a memory cgroup controller and root")
    made = tmp_path / "backing"
    proc = start("--name=k", "--rw=write", "--size=8m", "--time_based", "--runtime=600",
                 "--memory_limit=64m", "--backing=file", f"--filename={made}")
    try:
        parent = cgroup_of(proc.pid, hierarchy)
        assert parent is not None
        pattern = f"loadgen-{proc.pid}-*"
        wait_for(lambda: made.exists() and any(parent.glob(pattern)), "the job's cgroup and file")
        proc.kill()
        proc.wait(timeout=60)
        wait_for(lambda: not made.exists() and not any(parent.glob(pattern)),
                 "the restorer to remove them", 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
