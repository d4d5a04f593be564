"""Run one job file through fio (``LOADGEN_FIO``) and loadgen and compare what they report.

Compared per report entry, in fio's order: job name, group id, error, and per direction the
I/O count and bytes; minor faults within ``minf_tolerance``; the job's JSON keys; the exit
status.  ``python -m tests.fio_diff.harness`` prints the corpus table that
docs/fio-differences.md shows.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.test_blktrace import trace_bytes

ROOT = Path(__file__).resolve().parents[2]
FIO = os.environ.get("LOADGEN_FIO", "")
GLOBAL = "[global]\nioengine=page_fault\n"
DIRECTIONS = ("read", "write")
# fio's JSON puts an empty entry (name "", groupid 2^32-1) where it counted a report slot it
# did not fill: a stats=0 job, or a group_reporting job that joined an earlier entry
BLANK_GROUP = 2**32 - 1
# keys fio always writes and loadgen does not
FIO_ONLY_KEYS: set[str] = set()


def fio_skip_reason() -> str | None:
    if not FIO:
        return "LOADGEN_FIO is not set (point it at an fio binary to run the differential suite)"
    if not os.access(FIO, os.X_OK):
        return f"LOADGEN_FIO={FIO} is not an executable"
    return None


@dataclass(frozen=True)
class Case:
    """One corpus entry: job sections (after a [global] with ioengine=page_fault)."""

    name: str
    text: str
    exact: bool = True  # per-direction counts must be equal (False: mixed rw, statistical)
    timed: tuple[str, ...] = ()  # jobs stopped by time or by another job: counts not compared
    args: tuple[str, ...] = ()
    known: str = ""  # a difference not fixed yet, and why (the test expects it, strictly)
    # the jobs write ``write_iolog=trace.log``: "order" compares its (direction, offset,
    # length) lines in order, "set" as a multiset (random offsets), "blocks" the multiset
    # of (offset, length) without directions (mixed rw), "measured" the measured window's
    # I/Os in order as far as both went (fio also logs the ramp's; one job), "prefix" the
    # I/Os in order as far as both went (a timed job), "" not at all
    trace: str = ""
    files: tuple[tuple[str, str | bytes], ...] = ()  # (name, contents) beside the job file


@dataclass
class Outcome:
    status: int
    doc: dict[str, Any]
    stderr: str


@dataclass
class Comparison:
    case: Case
    fio: Outcome
    loadgen: Outcome
    problems: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (job, fio, loadgen)


def _json_of(stdout: str) -> dict[str, Any]:
    start = stdout.find("{")  # fio prints exec_prerun's notes before the document
    return dict(json.loads(stdout[start:])) if start >= 0 else {}


def run_fio(path: Path, args: tuple[str, ...], cwd: Path) -> Outcome:
    done = subprocess.run([FIO, *args, "--output-format=json", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    return Outcome(done.returncode, _json_of(done.stdout), done.stderr)


def run_loadgen(path: Path, args: tuple[str, ...], cwd: Path) -> Outcome:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "loadgen", "run", "--eta=never", *args,
                           "--output-format=json", str(path)], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)
    return Outcome(done.returncode, _json_of(done.stdout), done.stderr)


def minf_tolerance(expected: int, workers: int) -> int:
    """Each of loadgen's worker processes faults ~130-200 pages of Python runtime around its
    job, where fio's job threads fault ~10: 256 pages a worker, plus 5%."""
    return 256 * max(workers, 1) + math.ceil(0.05 * expected)


def mixed_tolerance(total: int, share: float) -> int:
    """Four standard deviations of a binomial draw: fio's and loadgen's random streams for
    the read/write choice are not the same sequence."""
    return math.ceil(4 * math.sqrt(total * share * (1 - share))) + 1


def _entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [j for j in doc.get("jobs", [])
            if not (j["jobname"] == "" and j["groupid"] == BLANK_GROUP)]


def compare(case: Case, workdir: Path) -> Comparison:
    path = workdir / f"{case.name}.fio"
    path.write_text(GLOBAL + case.text)
    fio_dir, loadgen_dir = workdir / "fio", workdir / "loadgen"
    fio_dir.mkdir(exist_ok=True)
    loadgen_dir.mkdir(exist_ok=True)
    for tool_dir in (fio_dir, loadgen_dir):
        (tool_dir / TRACE).unlink(missing_ok=True)  # fio appends to an iolog that exists
        for name, contents in case.files:
            if isinstance(contents, bytes):
                (tool_dir / name).write_bytes(contents)
            else:
                (tool_dir / name).write_text(contents)
    result = Comparison(case, run_fio(path, case.args, fio_dir),
                        run_loadgen(path, case.args, loadgen_dir))
    problems = result.problems
    if result.fio.status != result.loadgen.status:
        problems.append(f"exit status: fio {result.fio.status}, loadgen {result.loadgen.status}: "
                        f"{result.loadgen.stderr.strip()[-300:]}")
    theirs, ours = _entries(result.fio.doc), _entries(result.loadgen.doc)
    if case.trace:
        measured = (_ios(theirs), _ios(ours)) if case.trace == "measured" else None
        problems += _trace_problems(case.trace, fio_dir / TRACE, loadgen_dir / TRACE, measured)
    if len(theirs) != len(ours):
        problems.append(f"entries: fio {[j['jobname'] for j in theirs]}, "
                        f"loadgen {[j['jobname'] for j in ours]}")
        return result
    for fj, lj in zip(theirs, ours, strict=True):
        name = fj["jobname"]
        timed = name in case.timed
        for key in ("jobname", "groupid", "error"):
            if fj[key] != lj[key]:
                problems.append(f"{name}: {key}: fio {fj[key]!r}, loadgen {lj[key]!r}")
        missing = set(fj) - set(lj) - FIO_ONLY_KEYS
        if missing:
            problems.append(f"{name}: keys fio has and loadgen lacks: {sorted(missing)}")
        problems += _nested_key_problems(name, fj, lj)
        if not timed:
            problems += _count_problems(case, name, fj, lj)
        result.rows.append((name, _cell(fj, timed), _cell(lj, timed)))
    return result


def _nested_key_problems(name: str, fj: dict[str, Any], lj: dict[str, Any]) -> list[str]:
    """The keys (and their order) of the objects whose layout fio fixes: steadystate, sync."""
    problems = []
    for key in ("steadystate", "sync"):
        if key not in fj or key not in lj:
            continue
        for path in ((key,), (key, "data"), (key, "lat_ns")):
            theirs, ours = fj, lj
            for step in path:
                theirs, ours = theirs.get(step, {}), ours.get(step, {})
            if list(theirs) != list(ours):
                problems.append(f"{name}: {'.'.join(path)} keys: fio {list(theirs)}, "
                                f"loadgen {list(ours)}")
    if "steadystate" in fj and "steadystate" in lj:
        theirs, ours = fj["steadystate"], lj["steadystate"]
        problems += [f"{name}: steadystate.{key}: fio {theirs[key]!r}, loadgen {ours[key]!r}"
                     for key in ("ss", "duration", "attained") if theirs[key] != ours[key]]
    return problems


TRACE = "trace.log"


def trace_rows(path: Path) -> list[tuple[str, int, int]]:
    """(direction, offset, length) of each I/O line of an iolog (v2 or v3)."""
    rows = []
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) == 5 and words[2] in DIRECTIONS:  # v3: time file action offset length
            rows.append((words[2], int(words[3]), int(words[4])))
        elif len(words) == 4 and words[1] in DIRECTIONS:  # v2: file action offset length
            rows.append((words[1], int(words[2]), int(words[3])))
    return rows


def _ios(entries: list[dict[str, Any]]) -> int:
    """The I/Os of the report's entries, both directions."""
    return sum(j[d]["total_ios"] for j in entries for d in DIRECTIONS)


def _trace_problems(how: str, fio_log: Path, loadgen_log: Path,
                    measured: tuple[int, int] | None = None) -> list[str]:
    if not fio_log.exists() or not loadgen_log.exists():
        return [f"trace: fio wrote {fio_log.exists()}, loadgen wrote {loadgen_log.exists()}"]
    theirs, ours = trace_rows(fio_log), trace_rows(loadgen_log)
    if measured is not None:  # each log's last I/Os are its measured ones
        theirs, ours = theirs[len(theirs) - measured[0]:], ours[len(ours) - measured[1]:]
        common = min(len(theirs), len(ours))
        theirs, ours = theirs[:common], ours[:common]
    if how == "prefix":
        common = min(len(theirs), len(ours))
        theirs, ours = theirs[:common], ours[:common]
    if how == "blocks":
        theirs = sorted(("", o, n) for _, o, n in theirs)
        ours = sorted(("", o, n) for _, o, n in ours)
    if how == "set":
        theirs, ours = sorted(theirs), sorted(ours)
    if theirs == ours:
        return []
    at = next((i for i, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
              min(len(theirs), len(ours)))
    return [f"trace: {len(theirs)} fio I/Os, {len(ours)} loadgen; first difference at {at}: "
            f"fio {theirs[at:at + 3]}, loadgen {ours[at:at + 3]}"]


def _count_problems(case: Case, name: str, fj: dict[str, Any], lj: dict[str, Any]) -> list[str]:
    problems = []
    directions = [d for d in (*DIRECTIONS, "mixed") if d in fj]
    total = sum(fj[d]["total_ios"] for d in directions if d != "mixed")
    if case.exact and "sync" in fj and fj["sync"]["total_ios"] != lj["sync"]["total_ios"]:
        problems.append(f"{name}: syncs: fio {fj['sync']['total_ios']}, "
                        f"loadgen {lj['sync']['total_ios']}")
    for direction in directions:
        f_ios, l_ios = fj[direction]["total_ios"], lj[direction]["total_ios"]
        f_bytes, l_bytes = fj[direction]["io_bytes"], lj[direction]["io_bytes"]
        if case.exact:
            if (f_ios, f_bytes) != (l_ios, l_bytes):
                problems.append(f"{name}: {direction}: fio {f_ios} I/Os {f_bytes} B, "
                                f"loadgen {l_ios} I/Os {l_bytes} B")
        elif abs(f_ios - l_ios) > mixed_tolerance(total, f_ios / total if total else 0.0):
            problems.append(f"{name}: {direction}: fio {f_ios} I/Os, loadgen {l_ios}")
    workers = lj.get("loadgen", {}).get("members", 1)
    if abs(fj["minf"] - lj["minf"]) > minf_tolerance(fj["minf"], workers):
        problems.append(f"{name}: minf: fio {fj['minf']}, loadgen {lj['minf']}")
    return problems


def _cell(job: dict[str, Any], timed: bool) -> str:
    names = {"read": "r", "write": "w", "mixed": "mixed"}
    parts = [f"{short}={job[key]['total_ios']}/{job[key]['io_bytes']}B"
             for key, short in names.items() if key in job]
    if job.get("sync", {}).get("total_ios"):
        parts.append(f"sync={job['sync']['total_ios']}")
    return " ".join([*parts, f"minf={job['minf']}"]) + (" (timed)" if timed else "")


def _trace(version: int, ios: list[tuple[str, int, int]], name: str = "t") -> str:
    """An iolog of these (direction, offset, length) I/Os, 10 us apart (v3 as loadgen and
    fio write it; v2 without times)."""
    if version == 2:
        body = [f"{name} add", f"{name} open"]
        body += [f"{name} {d} {o} {n}" for d, o, n in ios] + [f"{name} close"]
        return "fio version 2 iolog\n" + "\n".join(body) + "\n"
    body = [f"0 {name} add", f"0 {name} open"]
    body += [f"{10 * (i + 1)} {name} {d} {o} {n}" for i, (d, o, n) in enumerate(ios)]
    body.append(f"{10 * (len(ios) + 1)} {name} close")
    return "fio version 3 iolog\n" + "\n".join(body) + "\n"


K = 1024
# a mixed trace over 2 MiB: strided writes, reads of several sizes, a repeated block
REPLAY_IOS = ([("write", i * 64 * K, 4 * K) for i in range(32)]
              + [("read", i * 16 * K, 16 * K) for i in range(64)]
              + [("read", 1536 * K + i * 8 * K, 8 * K) for i in range(32)]
              + [("write", 4 * K, 4 * K)] * 8)
# writes with a sync after every second and a datasync after every fourth, reads, and a
# sync after the last I/O
REPLAY_SYNC_IOS = ([io for i in range(16) for io in [("write", i * 8 * K, 8 * K)]
                    + [("sync", 0, 0)] * (i % 2) + [("datasync", 0, 0)] * (i % 4 == 3)]
                   + [("read", i * 16 * K, 16 * K) for i in range(8)] + [("sync", 0, 0)])

# a blktrace's I/Os: 4 KiB writes up the first 128 KiB, then 16 KiB reads down 256 KiB
BLK_IOS = ([("write", i * 4 * K, 4 * K) for i in range(32)]
           + [("read", (15 - i) * 16 * K, 16 * K) for i in range(16)])

CORPUS: tuple[Case, ...] = (
    Case("seq_write", "[w]\nsize=4m\nrw=write\n"),
    Case("seq_read_64k", "[r]\nsize=4m\nrw=read\nbs=64k\n"),
    Case("randwrite", "[w]\nsize=4m\nrw=randwrite\n"),
    Case("randread_norandommap", "[r]\nsize=4m\nrw=randread\nnorandommap\n"),
    Case("rw_mix", "[m]\nsize=4m\nrw=randrw\nrwmixread=70\n"),
    Case("seq_rw_mix", "[m]\nsize=4m\nrw=rw\nrwmixwrite=20\n"),
    Case("loops", "[l]\nsize=8m\nrw=read\nbs=1m\nloops=2\n"),
    Case("io_size", "[i]\nsize=4m\nio_size=1m\nrw=randwrite\n"),
    Case("number_ios", "[n]\nsize=4m\nrw=randwrite\nnumber_ios=100\n"),
    Case("offset_pct", "[o]\nsize=4m\noffset=50%\nrw=write\n"),
    Case("bsrange", "[b]\nsize=4m\nrw=write\nbsrange=4k-4k\n"),
    Case("numjobs_group_reporting", "[g]\nsize=2m\nrw=randread\nnumjobs=3\ngroup_reporting\n"),
    Case("threads", "[t]\nsize=2m\nrw=write\nthread\nnumjobs=2\n"),
    Case("stonewall_groups", "[a]\nsize=2m\nrw=write\n[b]\nstonewall\nsize=1m\nrw=read\n"),
    Case("new_group", "[a]\nsize=2m\nrw=write\n[b]\nnew_group\nsize=1m\nrw=read\n"),
    Case("mixed_group_reporting", "[a]\nsize=2m\nrw=write\n[e]\nsize=2m\nrw=randread\n"
                                  "numjobs=2\ngroup_reporting\n"),
    Case("stats_0", "[a]\nsize=2m\nrw=write\n[b]\nsize=2m\nstats=0\n"),
    Case("steadystate", "[ss]\nsize=8m\nrw=randwrite\ntime_based\nruntime=60\n"
                        "ss=iops:100.5%\nss_dur=2\n", timed=("ss",)),
    Case("steadystate_group", "[ss]\nsize=4m\nrw=randwrite\ntime_based\nruntime=60\n"
                              "numjobs=2\ngroup_reporting\nss=bw:100.5%\nss_dur=2\n",
         timed=("ss",)),
    # a thread=1 worker's other job goes on after one attains steady state (here b, still
    # in its startdelay when a stops)
    Case("steadystate_thread_jobs", "[a]\nthread=1\nsize=4m\nrw=randwrite\ntime_based\n"
                                    "runtime=60\nss=iops:100.5%\nss_dur=2\n[b]\nthread=1\n"
                                    "startdelay=3\nsize=256k\nrw=write\nss=iops:100.5%\n"
                                    "ss_dur=2\n", timed=("a",)),
    Case("flow", "[a]\nsize=4m\nrw=randread\ntime_based\nruntime=1\nflow_id=3\nflow=2\n"
                 "[b]\nsize=4m\nrw=randread\ntime_based\nruntime=1\nflow_id=3\nflow=1\n"
                 "flow_sleep=10\n", timed=("a", "b")),
    Case("mem_types", "[s]\nsize=1m\nrw=write\nmem=shm\n[m]\nsize=1m\nrw=randrw\n"
                      "iomem=mmap\niomem_align=512\n[p]\nsize=1m\nrw=write\n"
                      "mem=mmapshared\n"),
    Case("fsync_noop", "[f]\nsize=4m\nrw=write\nfsync=4\nend_fsync=1\nfdatasync=8\n"),
    Case("sync_file_range", "[f]\nsize=1m\nrw=write\nsync_file_range=write:16\n"),
    Case("fsync_and_fdatasync", "[f]\nsize=4m\nrw=randwrite\nfsync=4\nfdatasync=3\n"
                                "loops=2\n"),
    Case("fsync_mixed", "[f]\nsize=4m\nrw=randrw\nfsync=2\n"),
    Case("fsync_ramp", "[f]\nsize=4m\nrw=write\nfsync=8\ntime_based\nruntime=1\n"
                       "ramp_time=200ms\n", timed=("f",)),
    # ramp_size: fio checks the ramp once a second (helper thread), loadgen at the amount,
    # so only a time-based job's keys compare; the group's jobs count the ramp together
    Case("ramp_size_group", "[g]\nsize=4m\nrw=randwrite\ntime_based\nruntime=1\n"
                            "ramp_size=8m\nnumjobs=2\ngroup_reporting\n", timed=("g",)),
    Case("continue_on_error", "[c]\nsize=1m\nrw=write\ncontinue_on_error=all\n"
                              "ignore_error=EIO,EIO\n"),
    Case("bs_is_seq_rand_seq", "[s]\nsize=4m\nrw=write\nbs=64k,4k\nbs_is_seq_rand=1\n"),
    Case("softrandommap", "[s]\nsize=4m\nrw=randwrite\nsoftrandommap=1\n"),
    Case("lockmem", "[l]\nsize=2m\nrw=write\nlockmem=32m\n"),
    Case("nice_prio", "[p]\nsize=2m\nrw=write\nnice=5\nprio=4\nprioclass=3\n"),
    Case("unified_mixed", "[u]\nsize=4m\nrw=randrw\nunified_rw_reporting=mixed\n"),
    Case("unified_both", "[u]\nsize=4m\nrw=randrw\nunified_rw_reporting=both\n"),
    Case("significant_figures", "[s]\nsize=1m\nrw=write\nsignificant_figures=6\n"),
    Case("wait_for", "[first]\nsize=4m\nrw=randread\n[second]\nwait_for=first\nsize=1m\n"
                     "rw=write\n"),
    Case("exec_pre_post", "[x]\nsize=1m\nrw=write\nexec_prerun=echo pre\n"
                          "exec_postrun=echo post\n"),
    Case("exec_prerun_fails", "[x]\nsize=1m\nrw=write\nexec_prerun=false\n"
                              "[y]\nsize=1m\nrw=write\n"),
    Case("exitall", "[short]\nsize=1m\nrw=write\nexitall\n[long]\nsize=16m\nrw=randread\n"
                    "time_based\nruntime=20\n", timed=("long",)),
    Case("exit_what_all", "[short]\nsize=1m\nrw=write\nexitall\nexit_what=all\n[long]\n"
                          "size=16m\nrw=randread\ntime_based\nruntime=20\n[later]\nstonewall\n"
                          "size=1m\nrw=write\n", timed=("long",)),
    Case("distribution_zipf", "[z]\nsize=4m\nrw=randread\nrandom_distribution=zipf:1.2\n"),
    Case("percentage_random", "[p]\nsize=4m\nrw=randwrite\npercentage_random=50\n"),
    # fio's random streams (taus88 and taus258 seeded from fio's rand_seeds): a random
    # job's directions, offsets and lengths are fio's, I/O by I/O
    Case("order_randwrite", "[w]\nsize=4m\nrw=randwrite\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("order_warm", "[w]\nsize=4m\nrw=randrw\nrwmixread=50\nloops=3\n"
                       "write_iolog=trace.log\n", trace="order"),
    Case("order_norandommap_mix", "[m]\nsize=4m\nrw=randrw\nnorandommap\n"
                                  "write_iolog=trace.log\n", trace="order"),
    Case("order_bsrange_mix", "[b]\nsize=4m\nrw=randrw\nrwmixread=30\nbsrange=4k-64k\n"
                              "loops=2\nwrite_iolog=trace.log\n", trace="order"),
    # the issue's case: 952 I/Os in fio, of 4k reads and 16k writes
    Case("order_bs_per_direction", "[b]\nsize=16m\nrw=randrw\nbs=4k,16k\n"
                                   "write_iolog=trace.log\n", trace="order"),
    Case("order_bssplit", "[b]\nsize=4m\nrw=randwrite\nbssplit=4k/50:16k/30:64k/20\n"
                          "write_iolog=trace.log\n", trace="order"),
    Case("order_percentage_random", "[p]\nsize=4m\nrw=randrw\npercentage_random=30,80\n"
                                    "write_iolog=trace.log\n", trace="order"),
    # fio's counter starts at 1: the first I/O decides, then every 4th
    Case("order_every_nth", "[n]\nsize=4m\nrw=randread:4\npercentage_random=50\n"
                            "write_iolog=trace.log\n", trace="order"),
    Case("order_tausworthe64", "[t]\nsize=4m\nrw=randrw\nrandom_generator=tausworthe64\n"
                               "write_iolog=trace.log\n", trace="order"),
    Case("order_lfsr", "[l]\nsize=4m\nrw=randwrite\nrandom_generator=lfsr\n"
                       "write_iolog=trace.log\n", trace="order"),
    # a given randseed turns randrepeat off: the loops go on with the streams, each
    # non-final loop spending the draws of the I/O that found the map full
    Case("order_randseed_loops", "[s]\nsize=4m\nrw=randrw\nrandseed=1234\nloops=3\n"
                                 "write_iolog=trace.log\n", trace="order"),
    # many batches (4096 I/Os each) and refills of the buffered rwmix draws per loop
    Case("order_many_batches", "[m]\nsize=64m\nrw=randrw\nrwmixread=70\nrandseed=9\n"
                               "loops=2\nwrite_iolog=trace.log\n", trace="order"),
    Case("order_seq_mix_loops", "[s]\nsize=4m\nrw=rw\nloops=3\nwrite_iolog=trace.log\n",
         trace="order"),
    # time_based: a full map is cleared and the draw that found it full is spent
    Case("order_time_based", "[t]\nsize=256k\nrw=randrw\ntime_based\nruntime=100ms\n"
                             "write_iolog=trace.log\n", timed=("t",), trace="prefix"),
    Case("timeout_flag", "[t]\nsize=1m\nrw=write\n", args=("--timeout=10",)),
    # random_distribution=sequence (fio's examples/sequence-distribution.fio, page_fault)
    Case("sequence_repeating", "[s]\nsize=48k\nio_size=24k\nrw=randread\n"
                               "random_distribution=sequence:2,0,1\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("sequence_strided", "[s]\nsize=48k\nio_size=24k\nrw=randwrite\n"
                             "random_distribution=sequence:2,0,1\nrandom_sequence_stride=1\n"
                             "write_iolog=trace.log\n", trace="order"),
    Case("sequence_strided_past_end", "[s]\nsize=32k\nrw=randread\n"
                                      "random_distribution=sequence:3,1,2,0,5\n"
                                      "random_sequence_stride=1\nwrite_iolog=trace.log\n",
         trace="order"),
    # fio zeroes io_issues at the ramp end: the measured I/Os start the list again
    Case("sequence_after_ramp", "[s]\nsize=4m\nrw=randread\nrandom_distribution=sequence:2,0,1\n"
                                "random_sequence_stride=1\nramp_time=200ms\ntime_based\n"
                                "runtime=100ms\nthinktime=1ms\nwrite_iolog=trace.log\n",
         timed=("s",), trace="measured"),
    Case("sequence_randrw_loops", "[s]\nsize=64k\nrw=randrw\nloops=2\n"
                                  "random_distribution=sequence:7,1,4\n"),
    # backward skips (fio's rw_sequencer offsets below zero wrap to the end)
    Case("backward_read", "[b]\nsize=256k\nrw=read:-8k\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("backward_wrap", "[b]\nsize=64k\nrw=read:-12k\nloops=2\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("backward_write_io_size", "[b]\nsize=64k\nio_size=128k\nrw=write:-8k\n"
                                   "write_iolog=trace.log\n", trace="order"),
    Case("backward_offset", "[b]\nsize=64k\noffset=50%\nrw=read:-8k\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("forward_holes_offset", "[b]\nsize=64k\noffset=50%\nrw=write:4k\n"
                                 "write_iolog=trace.log\n", trace="order"),
    Case("forward_holes_loops", "[b]\nsize=64k\nrw=read:8k\nloops=3\nwrite_iolog=trace.log\n",
         trace="order"),
    # zonemode=strided: which parts of the region are touched, in which order
    Case("zones_seq", "[z]\nsize=1m\nrw=read\nzonemode=strided\nzonesize=64k\nzoneskip=192k\n"
                      "write_iolog=trace.log\n", trace="order"),
    Case("zones_size_above_range", "[z]\nsize=1m\nrw=read\nzonemode=strided\nzonesize=128k\n"
                                   "zonerange=64k\nzoneskip=64k\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("zones_size_below_range", "[z]\nsize=1m\nrw=write\nzonemode=strided\nzonesize=32k\n"
                                   "zonerange=64k\nzoneskip=64k\nwrite_iolog=trace.log\n",
         trace="order"),
    Case("zones_random", "[z]\nsize=1m\nrw=randread\nzonemode=strided\nzonesize=64k\n"
                         "zoneskip=192k\nwrite_iolog=trace.log\n", trace="order"),
    Case("zones_random_revisit", "[z]\nsize=1m\nrw=randwrite\nzonemode=strided\n"
                                 "zonesize=128k\nzonerange=64k\nzoneskip=64k\n"
                                 "write_iolog=trace.log\n", trace="set"),
    # (a random I/O that lands past the region end ends the loop at a point the random
    # numbers decide, so the random cases' zones end at the region end exactly; a zone
    # visited again, or a second loop, has fio's blocks but not in fio's order)
    Case("zones_random_loops", "[z]\nsize=1m\nrw=randread\nzonemode=strided\nzonesize=64k\n"
                               "zoneskip=128k\nloops=2\nwrite_iolog=trace.log\n", trace="set"),
    Case("zones_loops_mid_zone", "[z]\nsize=1m\nrw=write\nzonemode=strided\nzonesize=48k\n"
                                 "zonerange=64k\nzoneskip=128k\nloops=2\n"
                                 "write_iolog=trace.log\n", trace="order"),
    Case("zones_mixed_loops", "[z]\nsize=1m\nrw=randrw\nzonemode=strided\nzonesize=64k\n"
                              "zoneskip=128k\nloops=2\nwrite_iolog=trace.log\n",
         exact=False, trace="blocks"),
    Case("zones_partial_last_zone", "[z]\nsize=800k\nrw=write\nzonemode=strided\n"
                                    "zonesize=64k\nzoneskip=192k\nwrite_iolog=trace.log\n",
         trace="order"),
    # zipf/pareto draw over the whole file from the zone start (a zone's I/Os leave it, and
    # one at or past the region end ends the loop); zipf:40 and pareto:0.000001 are all but
    # certain to draw rank 0, which the center puts at a known block, so the traces are
    # fio's in order: 16 I/Os at 512k from zone 0, 16 at 768k from 256k, then 1m ends it
    Case("zones_zipf_spread", "[z]\nsize=1m\nrw=randread\nzonemode=strided\nzonesize=64k\n"
                              "zoneskip=192k\nrandom_distribution=zipf:40:0.5\n"
                              "write_iolog=trace.log\n", trace="order"),
    Case("zones_pareto_spread", "[z]\nsize=1m\nrw=randwrite\nzonemode=strided\n"
                                "zonesize=64k\nzoneskip=192k\n"
                                "random_distribution=pareto:0.000001:0.5\n"
                                "write_iolog=trace.log\n", trace="order"),
    # the file's blocks, not io_size's (rank 0 at the middle of 4m, not of 1m)
    Case("zipf_size_not_io_size", "[z]\nsize=4m\nio_size=1m\nrw=randread\n"
                                  "random_distribution=zipf:40:0.5\nwrite_iolog=trace.log\n",
         trace="order"),
    # 768k from the start offset (512k) is past the end: no I/O (fio's unsigned check)
    Case("zipf_offset_past_end", "[z]\nsize=1m\noffset=50%\nrw=randread\n"
                                 "random_distribution=zipf:40:0.75\nwrite_iolog=trace.log\n",
         trace="order"),
    # blocks count 4k ranges, writes are 64k-aligned: block 64 is 4m, past the 1m region
    Case("zipf_write_blockalign", "[z]\nsize=1m\nrw=randwrite\nbs=4k,64k\n"
                                  "random_distribution=zipf:40:0.25\nwrite_iolog=trace.log\n",
         trace="order"),
    # read_iolog replay of a trace (v3 as loadgen writes it, v2 as older fio did); fio's
    # engine maps size plus the log's bytes, so size= makes room for the trace's 2 MiB
    Case("replay_v3", "[r]\nsize=2m\nread_iolog=replay.log\nreplay_no_stall=1\n",
         files=(("replay.log", _trace(3, REPLAY_IOS)),)),
    Case("replay_v2", "[r]\nsize=2m\nread_iolog=replay.log\n",
         files=(("replay.log", _trace(2, REPLAY_IOS)),)),
    Case("replay_timed", "[r]\nsize=2m\nread_iolog=replay.log\nreplay_time_scale=400\n",
         files=(("replay.log", _trace(3, REPLAY_IOS[:40])),)),
    Case("replay_skip_writes", "[r]\nsize=2m\nread_iolog=replay.log\nreplay_skip=write\n",
         files=(("replay.log", _trace(3, REPLAY_IOS)),)),
    Case("replay_scale_align", "[r]\nsize=2m\nread_iolog=replay.log\nreplay_scale=2\n"
                               "replay_align=8k\n",
         files=(("replay.log", _trace(3, REPLAY_IOS)),)),
    Case("replay_loops_once", "[r]\nread_iolog=replay.log\nloops=3\nsize=4m\n",
         files=(("replay.log", _trace(3, REPLAY_IOS)),)),
    # a blktrace binary trace (fio blktrace.c): fio maps only the trace's bytes and needs a
    # device for it (replay_redirect); BLK_IOS stay inside their own 384 KiB
    Case("replay_blktrace", "[r]\nread_iolog=trace.bin\nreplay_redirect=/dev/null\n",
         files=(("trace.bin", trace_bytes(BLK_IOS)),)),
    # a flush is a sync in both (fio's handle_trace_flush): 4 of them
    Case("replay_blktrace_flush", "[r]\nread_iolog=trace.bin\nreplay_redirect=/dev/null\n",
         files=(("trace.bin", trace_bytes([io for i, w in enumerate(BLK_IOS[:32]) for io in
                                           [w] + [("flush", 0, 0)] * (i % 8 == 7)])),)),
    Case("replay_blktrace_options", "[r]\nread_iolog=trace.bin\nreplay_redirect=/dev/null\n"
                                    "replay_skip=write\nreplay_time_scale=400\n",
         files=(("trace.bin", trace_bytes(BLK_IOS, order=">")),)),
    # sync and datasync lines are the engine's syncs (fio counts 13: 8 + 4 + the last);
    # replay_skip=sync leaves the datasyncs; fsync= adds none to a replay
    Case("replay_syncs_v2", "[r]\nsize=1m\nread_iolog=replay.log\n",
         files=(("replay.log", _trace(2, REPLAY_SYNC_IOS)),)),
    Case("replay_syncs_v3", "[r]\nsize=1m\nread_iolog=replay.log\nreplay_no_stall=1\n",
         files=(("replay.log", _trace(3, REPLAY_SYNC_IOS)),)),
    Case("replay_skip_sync", "[r]\nsize=1m\nread_iolog=replay.log\nreplay_skip=sync\n",
         files=(("replay.log", _trace(3, REPLAY_SYNC_IOS)),)),
    Case("replay_syncs_fsync", "[r]\nsize=1m\nread_iolog=replay.log\nfsync=2\n",
         files=(("replay.log", _trace(3, REPLAY_SYNC_IOS)),)),
    Case("zoned_trailing_slash", "[z]\nsize=4m\nrw=randread\nnorandommap\nnumber_ios=64\n"
                                 "random_distribution=zoned:60/10:40/90/\n"),
    # verify reads are counted as reads in both; atomic-verify.fio's shape in memory
    Case("verify_crc64", "[v]\nsize=1m\nrw=randwrite\nverify=crc64\n"),
    Case("verify_write_sequence_off", "[v]\nsize=1m\nrw=randwrite\nverify=crc64\n"
                                      "verify_write_sequence=0\nnumjobs=2\n"),
    Case("error_dump", "[e]\nsize=1m\nrw=write\nerror_dump=1\ncontinue_on_error=all\n"),
    # dedupe-global.fio's shape: the contents differ in fio's memory, the counts do not
    Case("dedupe_working_set", "[d]\nsize=4m\nrw=write\ndedupe_percentage=50\n"
                               "dedupe_mode=working_set\ndedupe_working_set_percentage=10\n"),
    Case("dedupe_global", "[global]\nsize=2m\nrw=write\ndedupe_percentage=50\n"
                          "dedupe_mode=working_set\ndedupe_working_set_percentage=50\n"
                          "dedupe_global=1\nbuffer_compress_percentage=50\n[a]\n[b]\n"),
)


def markdown_table(comparisons: list[Comparison]) -> str:
    lines = ["| case | job | fio | loadgen | result |", "|---|---|---|---|---|"]
    for comparison in comparisons:
        verdict = "same" if not comparison.problems else "; ".join(comparison.problems)
        for index, (job, theirs, ours) in enumerate(comparison.rows or [("", "", "")]):
            first = index == 0
            lines.append(f"| {comparison.case.name if first else ''} | {job} | {theirs} | "
                         f"{ours} | {verdict if first else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import tempfile

    reason = fio_skip_reason()
    if reason:
        sys.exit(reason)
    with tempfile.TemporaryDirectory() as tmp:
        print(markdown_table([compare(case, Path(tmp)) for case in CORPUS]), end="")
