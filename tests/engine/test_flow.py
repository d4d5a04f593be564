"""fio's flow control: jobs of one flow_id keep their I/O counts in the ratio of weights."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from loadgen.engine import flow
from loadgen.engine.runner import JobRunner
from loadgen.stats.jobstats import IntervalStats
from tests.engine.conftest import make_job

ROOT = Path(__file__).resolve().parents[2]
K = 1024


def test_join_and_leave_restore_a_fresh_flow() -> None:
    table = flow.FlowTable()
    a = make_job(thread_number=1, flow=3, flow_slot=5)
    b = make_job(thread_number=2, flow=1, flow_slot=5)
    table.join(a)
    table.join(b)
    assert table.counts(5) == (1, 4)  # fio starts a flow's counter at 1
    table.words[2 * 5] += 10  # ten I/Os of a
    table.words[(2 * flow.FLOWS + 1 * flow.JOB_STRIDE) + 1] += 10
    table.leave(1)
    table.leave(1)  # once only (the helper repeats it for a worker that died)
    assert table.counts(5) == (1, 1)
    table.leave(2)
    assert table.counts(5) == (1, 0)


def _run_together(*jobs: object, while_running: Callable[[], None] | None = None,
                  table: flow.FlowTable | None = None) -> list[int]:
    """Run jobs at once in threads of this process (they share ``table``, as a worker's
    jobs share the helper's);
    ``while_running`` is called once they all run, and stops them when it returns (None:
    they run to their end)."""
    totals = [IntervalStats() for _ in jobs]
    shared = table or flow.FlowTable()
    runners = [JobRunner(job, flow_table=shared) for job in jobs]  # type: ignore[arg-type]
    for r in runners:
        r.setup()
    started = threading.Barrier(len(jobs) + 1)
    stop = threading.Event()

    def go(i: int) -> None:
        started.wait()
        runners[i].run(totals[i].merge, 10**12, stop.is_set)
        runners[i].close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    started.wait()
    if while_running is not None:
        while_running()
        stop.set()
    for t in threads:
        t.join()
    return [t.dirs[0].ios + t.dirs[1].ios for t in totals]


def test_two_weights_share_the_ios_in_their_ratio() -> None:
    """fio's rule holds at every I/O: a job goes only while its count is at most its
    weight's share of the flow's counter (which starts at 1)."""
    common = dict(rw="randread", size=1024 * K, time_based=True, runtime_ns=60 * 10**9,
                  flow_id=9, flow_slot=1)
    table = flow.FlowTable()
    seen: list[tuple[int, int, int]] = []
    a_at, b_at = (2 * flow.FLOWS + t * flow.JOB_STRIDE + 1 for t in (11, 12))

    def sample() -> None:
        # until b has run a thousand I/Os (on a busy machine that takes longer)
        deadline = time.monotonic() + 60
        while len(seen) < 20 or (seen[-1][0] <= 1000 and time.monotonic() < deadline):
            time.sleep(0.01)
            # b before and after a: the counts only grow, so b at the moment a was read
            # lies between the two, however long this thread is preempted between reads
            b_before = int(table.words[b_at])
            a = int(table.words[a_at])
            seen.append((b_before, a, int(table.words[b_at])))

    _run_together(make_job(thread_number=11, flow=3, **common),
                  make_job(thread_number=12, flow=1, **common), while_running=sample,
                  table=table)
    assert seen[-1][0] > 1000
    # at each instant 4a <= 3(1 + a + b) and 4b <= 1 + a + b, so 3b - 1 <= a <= 3(1 + b):
    # a stays within a few I/Os of 3b
    assert all(3 * b_before - 16 <= a <= 3 * (1 + b_after) + 16
               for b_before, a, b_after in seen)


def test_a_job_outside_the_flow_is_not_held() -> None:
    common = dict(rw="randread", size=4096 * K, loops=4)
    a, b = _run_together(make_job(thread_number=13, flow=5, flow_slot=2, **common),
                         make_job(thread_number=14, **common))
    assert (a, b) == (4096, 4096)  # alone in its flow, a is never held either


def test_worker_processes_keep_the_ratio(tmp_path: Path) -> None:
    """Two worker processes of one flow; their counts are compared over the first interval,
    when both run (at the end, one that ends first leaves the other alone in its flow)."""
    (tmp_path / "f.fio").write_text(
        "[global]\nrw=randread\nsize=4m\ntime_based\nruntime=3\nflow_id=7\n"
        "[a]\nflow=2\n[b]\nflow=1\n[c]\nflow_id=8\nflow=4\n")
    done = subprocess.run([sys.executable, "-m", "loadgen", "run", "--eta=never",
                           "--output-format=json", "--jsonl=f.jsonl", "f.fio"], cwd=tmp_path,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    first = {}
    for line in (tmp_path / "f.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)
        if record["event.dataset"] == "loadgen.interval" and record[
                "loadgen.interval.index"] == 1:
            first[record["loadgen.job"]] = record["loadgen.read.total_ios"]
    # each worker closes its interval within a chunk (10 ms) of the grid point
    assert first["b"] > 0 and abs(first["a"] / first["b"] - 2) < 0.1
    assert first["c"] > 0  # alone in flow 8


def test_verify_reads_go_through_the_flow_too(in_tmp: Path) -> None:
    from loadgen.plan import VerifyControls, VerifyKind

    common = dict(size=1024 * K, flow_id=4, flow_slot=3)
    writer = make_job(thread_number=15, rw="write", flow=1,
                      verify=VerifyControls(kind=VerifyKind.CRC32C), **common)
    reader = make_job(thread_number=16, rw="randread", flow=1, time_based=True,
                      runtime_ns=60 * 10**9, **common)
    table = flow.FlowTable()
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set() and len(seen) < 2000:
            time.sleep(0.002)
            w_at, r_at = (2 * flow.FLOWS + t * flow.JOB_STRIDE + 1 for t in (15, 16))
            w, r = int(table.words[w_at]), int(table.words[r_at])
            seen.append((w, r))
            if w >= 512:  # the writes and all their verify reads went through the flow
                done.set()

    w_total, _ = _run_together(writer, reader, while_running=sample, table=table)
    assert w_total == 512  # 256 writes, 256 verify reads
    assert all(abs(w - r) <= 8 for w, r in seen[:-1])  # equal weights: equal counts
