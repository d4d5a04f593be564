"""A worker that runs no Python: the fork and the whole job in one compiled function.

A storm worker forked as a Python process pays for the interpreter it inherits: every
object it touches is a copy-on-write fault, and fork and exit copy and tear down the
page tables of the helper's whole heap (numba and LLVM included).  A lean worker is
forked by ``spawn`` (a raw ``clone``, so no at-fork handler runs) and the child never
returns into Python: it sets itself up with system calls, waits at the gate, runs its
pre-generated I/Os through the kernel (``kernel.execute``) and ends in ``exit_group``.
The helper prepares everything before the fork (``loadgen.engine.leanspawn``): the
region, the I/O arrays and the write source in a private block the child inherits, its
parameters and the kernel's state in a block shared with the helper, which reads the
counts and sends them on the child's behalf.  The helper's heap can then be left out of
the child altogether (``loadgen.engine.forkmem``).

What must hold in the child: no allocation, no exception, no Python object, no libc
call that keeps state (only ``syscall``); every address it uses is in the two blocks,
its stack or machine code.  Interval deltas: at each grid point the child copies its
accumulators into the shared block's slot (when the helper has taken the previous one)
and zeroes the interval part, as ``Recorder.take`` does; SIGTERM, blocked since before
the fork, is polled between kernel calls, so a stop still ends in a final report.
"""

from __future__ import annotations

import platform
from typing import Any

from loadgen.engine.jit import choose_cache_dir

choose_cache_dir()

import numba  # noqa: E402  (the cache directory must be chosen first)
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from loadgen.engine import kernel as k  # noqa: E402
from loadgen.plan import Job, MemKind, RwMode  # noqa: E402

MAX_IOS = 1 << 16  # more than this and a job's own work dwarfs what a Python worker costs
CHUNK_NS = 10_000_000  # a kernel call returns at least this often (the runner's CHUNK_NS)
UNLIMITED = 1 << 62

# ---- the shared block: parameters (P), status (S), then the kernel's state and one slot ----
P_NIOS, P_GATE, P_PPID, P_NICE, P_FLAGS, P_BYTES, P_IOS, P_RUNTIME = range(8)
P_INTERVAL, P_ORIGIN, P_OFFS, P_LENS, P_DIRS, P_RBUF, P_RBUF_LEN, P_START_CLOCK = range(8, 16)
S_STATUS, S_START, S_END, S_PUBLISHED, S_CONSUMED, S_GATE_BUF, S_START_MS = range(16, 23)
S_NAME = 24  # 2 words: the process name, NUL-terminated
S_OOM_PATH = 26  # 4 words: "/proc/self/oom_score_adj"
S_OOM_VALUE = 30  # "1000"
RUSAGE_WORDS = 18  # struct rusage on 64-bit Linux
S_RU0 = 32  # at the measured window's start
S_RU1 = S_RU0 + RUSAGE_WORDS  # at its end
HEADER = 80
S_ORIGIN = 23  # the interval grid's origin the child used
# the end hold: how long (ns, 0 = none), the address of the group's count of workers
# still running, a timespec for the wait
P_HOLD_NS, P_HOLD_AT, S_HOLD_TS = 70, 71, 72
# written by a co-forker (``loadgen.engine.helper``): the pid it forked this block's worker
# as, -errno when that fork failed, 0 when it did not try (the helper runs the unit then)
S_FORKED = 74
S_FORKED_NS = 75  # and when (CLOCK_MONOTONIC), for the READY the helper sends for it
STATUS_FORKED, STATUS_RUNNING, STATUS_DONE = 0, 1, 2
STATE = HEADER  # the kernel's state (kernel.State.over)
CTL, ACC, ACCF, LOGS, TS, CLOCK = (STATE + at for at in k.STATE_PARTS)
# the slot: one interval's accumulators, published by the child, taken by the helper
SLOT = STATE + k.STATE_WORDS
SL_END, SL_INDEX, SL_FIRST = range(3)
SL_RU = 4
SLOT_STATE = SLOT + SL_RU + RUSAGE_WORDS + 2
SLOT_ACC, SLOT_ACCF = SLOT_STATE + k.STATE_PARTS[1], SLOT_STATE + k.STATE_PARTS[2]
SHARED_WORDS = SLOT_STATE + k.STATE_WORDS

# ---- system calls, by number (the libc wrappers may keep state the child must not touch) --
_SYSCALLS = {
    # read write close getppid setpriority prctl getrusage rt_sigpending close_range exit_group
    # clone openat futex
    "x86_64": (0, 1, 3, 110, 141, 157, 98, 127, 436, 231, 56, 257, 202),
    "aarch64": (63, 64, 57, 173, 140, 167, 165, 136, 436, 94, 220, 56, 98),
}
_NUMBERS = _SYSCALLS.get(platform.machine())
SUPPORTED = _NUMBERS is not None
(
    SYS_READ, SYS_WRITE, SYS_CLOSE, SYS_GETPPID, SYS_SETPRIORITY, SYS_PRCTL, SYS_GETRUSAGE,
    SYS_SIGPENDING, SYS_CLOSE_RANGE, SYS_EXIT_GROUP, SYS_CLONE, SYS_OPENAT, SYS_FUTEX,
) = _NUMBERS or (-1,) * 13
SIGCHLD, SIGKILL, SIGTERM = 17, 9, 15
CLONE_PARENT = 0x8000  # the child is its forker's sibling: the helper's, from a co-forker
PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15
AT_FDCWD, O_WRONLY = -100, 1
FUTEX_WAIT, FUTEX_WAKE = 0, 1  # not FUTEX_PRIVATE: the word is shared between processes
WAKE_ALL = 0x7FFFFFFF
FAILED_EXIT = 1

_syscall = types.ExternalFunction(
    "syscall", types.int64(types.int64, types.int64, types.int64, types.int64, types.int64)
)


@intrinsic  # type: ignore[untyped-decorator]
def _voidptr(typingctx: Any, addr: Any) -> Any:
    """A raw address as a pointer, for ``numba.carray`` (an array with no owner)."""
    sig = types.voidptr(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return sig, codegen


def unfit(unit: tuple[Job, ...]) -> str:
    """Why this unit cannot run as a lean worker ("" when it can): one job in its own
    process whose whole I/O sequence is known before the fork and whose run needs nothing
    but the kernel (no logs, pacing, ramps, flows, verification, per-pass region work)."""
    if not SUPPORTED:
        return f"no system call table for {platform.machine()}"
    if len(unit) != 1:
        return "several jobs in one worker"
    job = unit[0]
    try:
        RwMode(job.rw)
    except ValueError:
        return "not a read or write workload"
    checks = (
        (job.thread, "thread=1"),
        (job.time_based or job.ramp_time_ns or job.ramp_size, "time-based or ramped"),
        (job.loops != 1 or job.io_size, "more than one pass"),
        (job.startdelay_ns != (0, 0) or job.thinktime_ns, "startdelay or thinktime"),
        (job.rate != type(job.rate)(), "rate controls"),
        (job.verify.on, "verify"),
        (job.flow, "flow"),
        (job.steadystate.on, "steadystate"),
        (job.read_iolog or job.write_iolog, "an I/O log"),
        (job.write_bw_log or job.write_lat_log or job.write_iops_log or job.write_hist_log,
         "per-I/O logs"),
        (job.mm != type(job.mm)(), "memory controls"),
        (job.thp != "never" and job.thp != "inherit", "thp advice"),
        (job.mem is not MemKind.MALLOC, "mem="),
        (job.buffers.refill or job.buffers.dedupe_percentage, "changing write buffers"),
        (job.cpus_allowed or job.numa_mem_policy is not None, "CPU or memory placement"),
        (job.clocksource != "cpu", "clocksource"),
        (job.bytes_per_pass // max(min(job.bs_min), 1) > MAX_IOS, f"over {MAX_IOS} I/Os"),
    )
    for bad, why in checks:
        if bad:
            return why
    return ""


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _publish(h: Any, acc: Any, accf: Any, ctl: Any, now: int, index: int) -> None:
    """Copy the interval's accumulators into the slot and zero them (``Recorder.take``);
    skipped while the helper has not taken the previous one (the next delta spans both)."""
    if h[S_PUBLISHED] != k.atomic_load(h.ctypes.data + 8 * S_CONSUMED):
        return
    base = h.ctypes.data
    h[SLOT + SL_END] = now
    h[SLOT + SL_INDEX] = index
    h[SLOT + SL_FIRST] = ctl[k.C_FIRST]
    _syscall(SYS_GETRUSAGE, 0, base + 8 * (SLOT + SL_RU), 0, 0)
    h[SLOT_ACC : SLOT_ACC + k.A_SIZE] = acc
    numba.carray(_voidptr(base + 8 * SLOT_ACCF), k.AF_SIZE, np.float64)[:] = accf
    acc[k.A_CNT : k.A_CNT + 4] = 0
    acc[k.A_MOM : k.A_WIN] = 0
    acc[k.A_LBK :] = 0
    accf[:] = 0.0
    k.atomic_add(h.ctypes.data + 8 * S_PUBLISHED, 1)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _hold(h: Any, base: int, ts: Any) -> None:
    """The end hold: the group's workers exit together, once the last has ended or the
    hold is up, so no worker's exit (its region freed, its page tables torn down) takes
    CPU from a peer that is still measuring.  The group's count of running workers is a
    word in the slab's header; the one that takes it to zero wakes the others.  A worker
    with no hold (``P_HOLD_NS`` 0) only counts itself out."""
    at = h[P_HOLD_AT]
    if k.atomic_add(at, -1) <= 1:
        _syscall(SYS_FUTEX, at, FUTEX_WAKE, WAKE_ALL, 0)
        return
    if h[P_HOLD_NS] <= 0:
        return
    count = numba.carray(_voidptr(at), 1, np.int32)  # the futex word: the low half
    spec = h[S_HOLD_TS:S_HOLD_TS + 2]
    end = k._now(ts) + h[P_HOLD_NS]
    while True:
        seen = count[0]
        now = k._now(ts)
        if seen <= 0 or now >= end:
            return
        spec[0] = (end - now) // 1_000_000_000
        spec[1] = (end - now) % 1_000_000_000
        _syscall(SYS_FUTEX, at, FUTEX_WAIT, seen, base + 8 * S_HOLD_TS)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _child(shared: int, private: int) -> None:
    """The worker's whole life after the fork; ends in exit_group, never returns."""
    h = numba.carray(_voidptr(shared), SHARED_WORDS, np.int64)
    base = h.ctypes.data
    if _syscall(SYS_PRCTL, PR_SET_PDEATHSIG, SIGKILL, 0, 0) != 0 or (
        _syscall(SYS_GETPPID, 0, 0, 0, 0) != h[P_PPID]
    ):
        _syscall(SYS_EXIT_GROUP, FAILED_EXIT, 0, 0, 0)
    gate = h[P_GATE]
    if gate > 3:
        _syscall(SYS_CLOSE_RANGE, 3, gate - 1, 0, 0)
    _syscall(SYS_CLOSE_RANGE, gate + 1, 0x7FFFFFFF, 0, 0)
    _syscall(SYS_SETPRIORITY, 0, 0, h[P_NICE], 0)
    _syscall(SYS_PRCTL, PR_SET_NAME, base + 8 * S_NAME, 0, 0)
    fd = _syscall(SYS_OPENAT, AT_FDCWD, base + 8 * S_OOM_PATH, O_WRONLY, 0)
    if fd >= 0:
        _syscall(SYS_WRITE, fd, base + 8 * S_OOM_VALUE, 4, 0)
        _syscall(SYS_CLOSE, fd, 0, 0, 0)
    # every page the window uses, touched now: its faults are setup's, not the job's
    for i in range(0, SLOT, 512):  # (the slot only if the job runs past a grid point)
        k.atomic_add(base + 8 * i, 0)
    rbuf = numba.carray(_voidptr(h[P_RBUF]), h[P_RBUF_LEN], np.uint8)
    for i in range(0, len(rbuf), 4096):  # page-aligned: one store per page
        rbuf[i] = 0
    ctl = h[CTL:ACC]
    if h[P_FLAGS] & k.F_SCRAMBLE:  # the kernel stamps the source: its pages made ours now
        src, end = ctl[k.C_SRC], ctl[k.C_SRC] + ctl[k.C_SRC_STEP] * ctl[k.C_SRC_SLOTS]
        page = src - src % 4096
        while page < end:  # a real write each (x86 makes an RMW of 0 a load)
            at = max(page, src)  # (the ring starts 64-byte aligned)
            k.atomic_add(at, 1)
            k.atomic_add(at, -1)
            page += 4096
    n = h[P_NIOS]
    offs = numba.carray(_voidptr(h[P_OFFS]), n, np.int64)
    lens = numba.carray(_voidptr(h[P_LENS]), n, np.int64)
    dirs = numba.carray(_voidptr(h[P_DIRS]), n, np.int8)
    acc = h[ACC:ACCF]
    accf = numba.carray(_voidptr(base + 8 * ACCF), k.AF_SIZE, np.float64)
    logs = h[LOGS:TS].reshape((3, 1))
    ts = h[TS:CLOCK]
    clock = numba.carray(_voidptr(base + 8 * CLOCK), 1, np.float64)
    got = 0
    while got < 8:  # the gate: the run's origin, or EOF
        r = _syscall(SYS_READ, gate, base + 8 * S_GATE_BUF + got, 8 - got, 0)
        if r <= 0:
            break
        got += r
    _syscall(SYS_CLOSE, gate, 0, 0, 0)
    start = k._now(ts)
    origin = h[P_ORIGIN]
    if origin == 0:
        origin = h[S_GATE_BUF] if got == 8 else start
    h[S_ORIGIN] = origin
    interval = max(h[P_INTERVAL], 1)
    # the measured window (Recorder.start; the block is fresh, so the counts are zero)
    _syscall(SYS_GETRUSAGE, 0, base + 8 * S_RU0, 0, 0)
    k._clock_gettime(np.int32(h[P_START_CLOCK]), ts.ctypes.data)
    h[S_START_MS] = ts[0] * 1000 + ts[1] // 1_000_000
    h[S_START] = start
    acc[k.A_WIN] = start
    acc[k.A_WIN + 4] = start
    h[S_STATUS] = STATUS_RUNNING
    next_report = origin + ((start - origin) // interval + 1) * interval
    runtime = h[P_RUNTIME]
    bytes_limit = h[P_BYTES]
    ios_limit = h[P_IOS]
    flags = h[P_FLAGS] | k.F_RECORD
    pos = 0
    done_bytes = 0
    done_ios = 0
    while pos < n:
        _syscall(SYS_SIGPENDING, base + 8 * S_GATE_BUF, 8, 0, 0)
        if h[S_GATE_BUF] & (1 << (SIGTERM - 1)):
            break
        now = k._now(ts)
        if runtime and now - start >= runtime:
            break
        if now >= next_report:
            index = (now - origin) // interval
            _publish(h, acc, accf, ctl, now, index)
            next_report = origin + (index + 1) * interval
        deadline = min(now + CHUNK_NS, next_report)
        if runtime:
            deadline = min(deadline, start + runtime)
        ctl[k.C_FLAGS] = flags
        ctl[k.C_DEADLINE] = deadline
        ctl[k.C_BYTES_LEFT] = bytes_limit - done_bytes
        ctl[k.C_IOS_LEFT] = (ios_limit - done_ios) if ios_limit else UNLIMITED
        ran = k.execute(offs, lens, dirs, pos, n - pos, ctl, acc, accf, logs, ts, clock)
        done_bytes = bytes_limit - ctl[k.C_BYTES_LEFT]
        if ios_limit:
            done_ios = ios_limit - ctl[k.C_IOS_LEFT]
        pos += ran
        if done_bytes >= bytes_limit or (ios_limit and done_ios >= ios_limit):
            break
        if ran == 0:  # nothing can run (the budget is short of the next I/O)
            break
    h[S_END] = k._now(ts)
    _syscall(SYS_GETRUSAGE, 0, base + 8 * S_RU1, 0, 0)
    k.atomic_add(base + 8 * S_STATUS, STATUS_DONE - STATUS_RUNNING)
    _hold(h, base, ts)
    _syscall(SYS_EXIT_GROUP, 0, 0, 0, 0)


@numba.njit(nogil=False, cache=True)  # type: ignore[untyped-decorator]
def spawn(shared: int, private: int, flags: int) -> int:
    """Fork (a raw clone with ``flags``, SIGCHLD and maybe CLONE_PARENT: no at-fork
    handlers) into ``_child``; the child's pid, or -1 (errno says why)."""
    pid = _syscall(SYS_CLONE, flags, 0, 0, 0)
    if pid == 0:
        _child(shared, private)
    return pid  # type: ignore[no-any-return]
