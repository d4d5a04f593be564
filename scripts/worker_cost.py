"""What one storm worker costs, phase by phase, forked from a helper-like process.

    python scripts/worker_cost.py [--size-mib 8] [--forks 40]

Loads the kernel as the fork helper does (SciPy kept out, warm-up, calibration, heap
kept, gc frozen), then forks workers one at a time (no contention) and reports, per
worker: the helper's CPU per fork, the child's CPU and minor faults for (0) nothing but
exit, (1) the job's setup, (2) setup and run, and in one child the same setup and run
done three times, which separates the copy-on-write faults of the first time (inherited
pages written once) from the job's own work.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.modules.setdefault("scipy", None)  # type: ignore[arg-type]  # as the fork helper does
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from loadgen import protocol  # noqa: E402
from loadgen.engine import helper, kernel  # noqa: E402
from loadgen.engine.hygiene import bare_fork, keep_heap  # noqa: E402
from loadgen.engine.runner import Calibration, JobRunner  # noqa: E402
from loadgen.plan import Job, RwMode  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=8)
    ap.add_argument("--forks", type=int, default=40)
    args = ap.parse_args()
    kernel.compile_kernel()
    helper.warm_up()
    cal = Calibration.measure()
    keep_heap()
    import gc

    gc.collect()
    gc.freeze()
    job = Job(
        name="storm",
        thread_number=1,
        subjob=0,
        numjobs=1,
        group_id=0,
        size=args.size_mib << 20,
        rw=RwMode.RANDRW,
    )

    def runner() -> JobRunner:
        return JobRunner(job, cal.overhead_ns(True), cal.tsc_ns_per_tick)

    def body(phase: int) -> None:
        r = runner()
        if phase >= 1:
            r.setup()
        if phase >= 2:
            r.run(protocol.encode_interval, 10**9, lambda: False)
            r.close()

    for phase, what in ((0, "fork and exit"), (1, "setup"), (2, "setup and run")):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = 0.0
        for _ in range(args.forks):
            t0 = time.process_time()
            pid = bare_fork()
            if pid == 0:
                body(phase)
                os._exit(0)
            cpu += time.process_time() - t0
            os.waitpid(pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        faults = (after.ru_minflt - before.ru_minflt) / args.forks
        print(
            f"{what:14s} helper {cpu / args.forks * 1e3:.2f} ms/fork, child "
            f"{child / args.forks * 1e3:.2f} ms, {faults:.0f} faults",
            flush=True,
        )

    r_fd, w_fd = os.pipe()
    pid = bare_fork()
    if pid == 0:
        lines = []
        for i in range(3):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.process_time()
            r = runner()
            r.setup()
            f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t1 = time.process_time()
            r.run(protocol.encode_interval, 10**9, lambda: False)
            f2 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t2 = time.process_time()
            r.close()
            lines.append(
                f"one child, time {i + 1}: setup {(t1 - t0) * 1e3:.2f} ms "
                f"{f1 - f0} faults, run {(t2 - t1) * 1e3:.2f} ms {f2 - f1} faults"
            )
        os.write(w_fd, "\n".join(lines).encode())
        os._exit(0)
    os.close(w_fd)
    os.waitpid(pid, 0)
    print(os.read(r_fd, 1 << 16).decode())


if __name__ == "__main__":
    main()
