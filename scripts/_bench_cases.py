"""The benchmark catalogue: what each case runs on each side and which target it is judged by.

One place for the workloads keeps loadgen and fio on the very same job file (only options
fio lacks, such as thp, are added for loadgen alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Target:
    """A goal from the issue. kind "ratio" judges the median per-pair ratio RATIO_KEY;
    kind "metric" judges the worst (max) loadgen run of METRIC."""

    label: str
    kind: Literal["ratio", "metric"]
    key: str
    op: Literal["<=", ">=", "<"]
    bound: float

    def judge(self, case_result: dict[str, Any]) -> dict[str, Any]:
        """{label, met, value}: met is None when the value is missing (a side did not run)."""
        if self.kind == "ratio":
            value = case_result["ratios"].get(self.key, {}).get("median")
        else:
            runs = case_result["sides"].get("loadgen", {}).get("runs", [])
            values = [run["metrics"].get(self.key) for run in runs if run.get("error") is None]
            present = [v for v in values if v is not None]
            value = max(present) if present else None
        met = None if value is None else _compare(value, self.op, self.bound)
        return {"label": self.label, "met": met, "value": value}


def _compare(value: float, op: str, bound: float) -> bool:
    if op == "<=":
        return value <= bound
    if op == ">=":
        return value >= bound
    return value < bound


@dataclass(frozen=True)
class Case:
    """One benchmarked workload. job: options shared by loadgen and fio (one [x] section)."""

    name: str
    title: str
    metric: str  # the Sample metric compared between sides
    better: Literal["higher", "lower"]
    job: tuple[tuple[str, str], ...]
    memory_bytes: int  # what the workload maps in total; the warm-up touches this much once
    loadgen_job: tuple[tuple[str, str], ...] = ()  # options fio does not have
    loadgen_args: tuple[str, ...] = ()
    fio: bool = True
    pflimit_args: tuple[str, ...] | None = None
    extras: tuple[str, ...] = ()  # further Sample metrics worth reporting for this case
    sample_uss: bool = False  # sample workers' USS from outside while loadgen runs
    targets: tuple[Target, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def job_file(self, for_loadgen: bool) -> str:
        options = self.job + (self.loadgen_job if for_loadgen else ())
        lines = [f"[{self.name}]", *(f"{key}={value}" for key, value in options)]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Scale:
    """Sizes that differ between a real run and --smoke (which only proves the plumbing)."""

    fault_bytes: int
    storm_bytes: int
    storm_jobs: tuple[int, int]
    storm_1024_jobs: int
    storm_uss_runtime_s: int
    cache_hot_loops: int
    controller_jobs: int
    controller_runtime_s: int


def scale_for(smoke: bool, ncpus: int, cache_hot_loops: int, controller_runtime_s: int) -> Scale:
    if smoke:
        return Scale(8 * MIB, 8 * MIB, (2, 2), 2, 1, 100, 2, 1)
    return Scale(GIB, 32 * MIB, (ncpus, 4 * ncpus), 1024, 3, cache_hot_loops, 64, controller_runtime_s)


def _pf(rw: str, bs: str, size: int, **more: str) -> tuple[tuple[str, str], ...]:
    base = {"ioengine": "page_fault", "rw": rw, "bs": bs, "size": str(size)}
    base.update(more)
    return tuple(base.items())


FIO_NO_THP = (
    "fio has no thp option; THP is in madvise mode here and fio's page_fault engine never "
    "calls madvise, so fio's region gets no THP (the same as loadgen thp=never)"
)


def build_cases(scale: Scale, pagesize: int, include_fio_storm_1024: bool) -> list[Case]:
    """All cases, in the order they run."""
    ratio_095 = Target("loadgen >= 0.95x fio ops/s", "ratio", "loadgen/fio", ">=", 0.95)
    cases: list[Case] = []
    for name, rw in (("fault-seq-4k", "write"), ("fault-rand-4k", "randwrite")):
        cases.append(
            Case(
                name=name,
                title=f"{scale.fault_bytes // MIB} MiB {rw} 4 KiB, 1 worker, THP off (ops/s)",
                metric="ops_per_s",
                better="higher",
                job=_pf(rw, "4k", scale.fault_bytes),
                loadgen_job=(("thp", "never"),),
                pflimit_args=(str(scale.fault_bytes // MIB), "4096", "1"),
                memory_bytes=scale.fault_bytes,
                extras=("minf", "overhead_ns"),
                targets=(ratio_095,),
                notes=(FIO_NO_THP,) + (("pflimit writes sequentially: the floor, not the same pattern",) if rw == "randwrite" else ()),
            )
        )
    hot_size = 64 * pagesize
    for name, more, target in (
        ("cache-hot", {}, Target("loadgen <= 1.5x fio ns/op", "ratio", "loadgen/fio", "<=", 1.5)),
        ("cache-hot-gtod", {"gtod_reduce": "1"}, Target("loadgen faster than fio ns/op", "ratio", "loadgen/fio", "<", 1.0)),
    ):
        cases.append(
            Case(
                name=name,
                title=f"page_fault_cache_hot (64 pages randrw 50%, loops={scale.cache_hot_loops})"
                + (" gtod_reduce=1" if more else " with per-op latency")
                + " (ns/op)",
                metric="ns_per_op",
                better="lower",
                job=_pf("randrw", str(pagesize), hot_size, rwmixread="50", loops=str(scale.cache_hot_loops), **more),
                memory_bytes=hot_size,
                extras=("clat_ns_mean", "overhead_ns"),
                targets=(target,),
                notes=(
                    "the example job has loops=100 (about 2 ms, below the 1 ms runtime resolution); "
                    "the bench raises loops so ns/op = runtime/ops is measurable",
                ),
            )
        )
    for name, thp in (("large-2m-thp", "madvise"), ("large-2m-nothp", "never")):
        cases.append(
            Case(
                name=name,
                title=f"{scale.fault_bytes // MIB} MiB write bs=2M, loadgen thp={thp} (ops/s)",
                metric="ops_per_s",
                better="higher",
                job=_pf("write", "2M", scale.fault_bytes, blockalign="2M"),
                loadgen_job=(("thp", thp),),
                pflimit_args=(str(scale.fault_bytes // MIB), str(2 * MIB), "1"),
                memory_bytes=scale.fault_bytes,
                extras=("minf",),
                notes=(FIO_NO_THP,),
            )
        )
    for label, jobs in zip(("storm-1x", "storm-4x"), scale.storm_jobs, strict=True):
        cases.append(
            Case(
                name=label,
                title=f"storm numjobs={jobs} x {scale.storm_bytes // MIB} MiB 4 KiB write (aggregate ops/s)",
                metric="ops_per_s",
                better="higher",
                job=_pf("write", "4k", scale.storm_bytes, numjobs=str(jobs)),
                loadgen_job=(("thp", "never"),),
                pflimit_args=(str(scale.storm_bytes // MIB), "4096", str(jobs)),
                memory_bytes=scale.storm_bytes * jobs,
                extras=("ops_per_s_sum", "spawn_s", "start_skew_ns", "minf"),
                notes=("ops/s = all operations / longest job runtime; ops_per_s_sum = sum of per-job rates",),
            )
        )
    cases.append(
        Case(
            name="storm-1024",
            title=f"storm numjobs={scale.storm_1024_jobs} x 64 KiB randwrite (s from command start until all released)",
            metric="release_s",
            better="lower",
            job=_pf("randwrite", "4k", 64 * 1024, numjobs=str(scale.storm_1024_jobs)),
            memory_bytes=64 * 1024 * scale.storm_1024_jobs,
            fio=include_fio_storm_1024,
            extras=("spawn_s", "fork_s", "start_skew_ns", "wall_s", "controller_cpu_s", "uss_bytes", "uss_bytes_median"),
            targets=(Target("all released within 5 s", "metric", "release_s", "<=", 5.0),),
            notes=(
                "release_s = the report's group release_epoch_ns minus bench.py's clock reading "
                "right before it started loadgen: interpreter start, imports, parsing, forking and readiness",
                "uss_bytes: the report's (each worker's USS at its job end), shown here and judged in storm-1024-uss",
                "fio runs here only with --fio-storm-1024 (it forks one job at a time; minutes)",
            ),
        )
    )
    cases.append(
        Case(
            name="storm-1024-uss",
            title=f"the same storm, time_based runtime={scale.storm_uss_runtime_s} s so that every worker "
            "lives on after it ran (USS per worker)",
            metric="uss_bytes",
            better="lower",
            job=_pf(
                "randwrite",
                "4k",
                64 * 1024,
                numjobs=str(scale.storm_1024_jobs),
                time_based="1",
                runtime=str(scale.storm_uss_runtime_s),
            ),
            memory_bytes=64 * 1024 * scale.storm_1024_jobs,
            fio=False,
            extras=("uss_bytes_median", "uss_sampled", "release_s", "wall_s"),
            sample_uss=True,
            targets=(Target("USS <= 8 MiB per worker", "metric", "uss_bytes", "<=", 8.0 * MIB),),
            notes=(
                "uss_bytes = the report's, else (uss_sampled=1) the largest of every 16th worker (64 at most), "
                "each sampled with psutil every 0.25 s while alive and its largest sample kept: a worker "
                "waiting for the release is far smaller than one that has run",
            ),
        )
    )
    for name, interval in (("controller-1s", "1"), ("controller-100ms", "0.1")):
        cases.append(
            Case(
                name=name,
                title=f"controller CPU, {scale.controller_jobs} workers, {scale.controller_runtime_s} s "
                f"time_based, status interval {interval} s (share of one core)",
                metric="controller_cpu_share",
                better="lower",
                job=_pf(
                    "randwrite",
                    "4k",
                    4 * MIB,
                    numjobs=str(scale.controller_jobs),
                    time_based="1",
                    runtime=str(scale.controller_runtime_s),
                ),
                loadgen_args=(f"--status-interval={interval}",),
                memory_bytes=4 * MIB * scale.controller_jobs,
                fio=False,
                extras=("controller_cpu_s", "controller_cpu_share_whole", "report_controller_cpu_pct", "wall_s"),
                targets=(Target("controller <= 2% of one core", "metric", "controller_cpu_share", "<=", 0.02),)
                if interval == "1"
                else (),
                notes=(
                    "share = controller CPU (user+system of the loadgen process alone, workers and helper "
                    "excluded, psutil) per wall second from 1 s after the release to 1 s before the exit (a quarter of that span in short runs); "
                    "controller_cpu_share_whole = the whole life's controller CPU / wall time, start-up imports "
                    "and the report included",
                ),
            )
        )
    return cases
