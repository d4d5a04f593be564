"""fio's run-control options that the controller carries out around a job's I/O.

* ``exec_prerun``/``exec_postrun`` (fio's ``exec_string``): ``CMD > NAME.MODE.txt 2>&1``
  through the shell, once per worker (numjobs clone), the prerun before the job starts and
  the postrun when it ends.  A prerun that fails leaves the job without I/O and without an
  error, and skips its postrun, exactly as fio does.
* ``exitall``/``exitall_on_error``/``exit_what`` (fio's ``fio_terminate_threads``): which
  jobs the end of a job stops.
* ``wait_for`` (fio's ``waitee_running``): a job starts once every worker of the named job
  has ended; a waitee in an earlier group has ended before the group starts.
"""

from __future__ import annotations

import os
import subprocess
import sys

import anyio

from loadgen.plan import Group, Job, Plan


def run_exitall(plan: Plan) -> bool:
    """fio's ``exitall`` sets one global flag: any job that has it makes every job's end stop
    the others."""
    return any(job.exitall for job in plan.jobs)


def stops_others(job: Job, failed: bool, exitall: bool) -> bool:
    """Whether the end of ``job`` stops other jobs (which ones: ``job.exit_what``)."""
    return exitall or (job.exitall_on_error and failed)


def waits_in(job: Job, group: Group) -> bool:
    """Whether ``job`` waits for a job of its own group."""
    return bool(job.wait_for) and any(other.name == job.wait_for for other in group.jobs)


def waitee_done(job: Job, group: Group, done: set[int]) -> bool:
    """Whether every worker of ``job``'s waitee in ``group`` has ended (``done``: their
    thread numbers)."""
    return all(other.thread_number in done for other in group.jobs if other.name == job.wait_for)


def output_name(job: Job, mode: str) -> str:
    return f"{job.name}.{mode}.txt"


def start_command(job: Job, mode: str, nice: int) -> subprocess.Popen[bytes]:
    """Start ``exec_<mode>`` of ``job`` as fio's ``exec_string`` runs it; ``nice`` is the
    priority the user started loadgen with (the controller runs boosted)."""
    command = job.exec_prerun if mode == "prerun" else job.exec_postrun
    print(f"{job.name} : Saving output of {mode} in {output_name(job, mode)}", file=sys.stderr,
          flush=True)
    return subprocess.Popen(f"{command} > {output_name(job, mode)} 2>&1", shell=True,
                            preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))


async def wait_all(processes: list[subprocess.Popen[bytes]]) -> list[int]:
    """The exit statuses, waited for without holding the event loop."""
    return [await anyio.to_thread.run_sync(process.wait) for process in processes]


async def run_preruns(jobs: tuple[Job, ...], nice: int) -> set[int]:
    """Run every job's exec_prerun at once (fio's job threads run theirs in parallel); returns
    the thread numbers whose prerun failed."""
    started = [(job, start_command(job, "prerun", nice)) for job in jobs if job.exec_prerun]
    statuses = await wait_all([process for _, process in started])
    failed = set()
    for (job, _), status in zip(started, statuses, strict=True):
        if status != 0:
            failed.add(job.thread_number)
            print(f"loadgen: {job.name}: exec_prerun exited with status {status}: the job "
                  "runs no I/O (as in fio)", file=sys.stderr, flush=True)
    return failed
