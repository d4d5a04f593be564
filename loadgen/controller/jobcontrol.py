"""fio's run-control options that the controller carries out around a job's I/O.

* ``exec_prerun``/``exec_postrun`` (fio's ``exec_string``): ``CMD > NAME.MODE.txt 2>&1``
  through the shell, once per worker (numjobs clone), the prerun before the job starts and
  the postrun when it ends.  A prerun that fails leaves the job without I/O and without an
  error, and skips its postrun, exactly as fio does.
* ``exitall``/``exitall_on_error``/``exit_what`` (fio's ``fio_terminate_threads``): which
  jobs the end of a job stops.
* ``wait_for`` (fio's ``waitee_running``): a job starts once every worker of the named job
  has ended; a waitee in an earlier group has ended before the group starts.
* ``lockmem`` (fio's ``fio_pin_memory``): that much anonymous memory mapped and mlocked per
  worker from before the job starts until it ends, so the job runs with that much less
  memory for everything else.  fio holds it in the job's own process; here the controller
  holds it.  If it cannot be pinned the job does no I/O and has no error, as in fio.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass

import anyio

from loadgen.plan import Group, Job, Plan


def run_exitall(plan: Plan) -> bool:
    """fio's ``exitall`` sets one global flag: any job that has it makes every job's end stop
    the others."""
    return any(job.exitall for job in plan.jobs)


DEFER_EXITS_S = 0.5  # the longest a storm worker's end waits while its peers still run


def exit_deferral_s(plan: Plan, group: Group) -> float:
    """How long the fork helper may hold back the end of a lean worker of ``group`` while
    others still fault: their bookkeeping (the final counts, the exit notice, this
    controller's handling of both) then takes no CPU from the workers in the measured
    window; their runtimes are their own clocks'.  None where a job's end must be acted
    on at once: exitall, a job that waits for another, a postrun, OOM respawns."""
    if run_exitall(plan) or any(job.wait_for for job in plan.jobs):
        return 0.0
    if any(job.exitall_on_error or job.exec_postrun or job.oom_policy != "report"
           for job in group.jobs):
        return 0.0
    return DEFER_EXITS_S


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


LOCKMEM_RESERVE = 128 << 20  # fio never mlocks more than physical memory minus 128 MiB
_PROT_RW = 0x1 | 0x2
_MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


@dataclass
class Pinned:
    """One worker's locked memory; ``release`` gives it back (once)."""

    address: int
    size: int

    def release(self) -> None:
        if self.size:
            _libc.munmap(self.address, self.size)  # munmap unlocks too
            self.size = 0


def lockmem_size(job: Job, phys_bytes: int) -> int:
    """fio's clamp: at most physical memory minus 128 MiB."""
    if phys_bytes and job.lockmem + LOCKMEM_RESERVE > phys_bytes:
        return max(phys_bytes - LOCKMEM_RESERVE, 0)
    return job.lockmem


def pin(size: int) -> Pinned:
    """Map and mlock ``size`` bytes (mlock faults every page in); OSError if it cannot."""
    address = _libc.mmap(None, size, _PROT_RW, _MAP_PRIVATE_ANONYMOUS, -1, 0)
    if address in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"malloc locked mem: {os.strerror(err)}")
    if _libc.mlock(address, size) != 0:
        err = ctypes.get_errno()
        _libc.munmap(address, size)
        raise OSError(err, f"mlock: {os.strerror(err)}")
    return Pinned(address, size)


async def pin_all(jobs: tuple[Job, ...]) -> tuple[dict[int, Pinned], set[int]]:
    """Pin every job's lockmem (off the event loop: pinning gigabytes takes seconds); returns
    the pins by thread number and the thread numbers that could not be pinned."""
    phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE")
    pinned: dict[int, Pinned] = {}
    failed: set[int] = set()
    for job in jobs:
        if not job.lockmem:
            continue
        size = lockmem_size(job, phys)
        if size != job.lockmem:
            print(f"fio: limiting mlocked memory to {size >> 20}MiB", file=sys.stderr, flush=True)
        try:
            pinned[job.thread_number] = await anyio.to_thread.run_sync(pin, size)
        except OSError as exc:
            failed.add(job.thread_number)
            print(f"loadgen: {job.name}: lockmem={job.lockmem}: {exc.strerror}: the job runs no "
                  "I/O (as in fio)", file=sys.stderr, flush=True)
    return pinned, failed
