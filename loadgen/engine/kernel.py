"""The compiled per-I/O loop: one numba function runs a chunk of I/Os against the mapping.

For each I/O: with ``flow``, the shared flow check first (it may hold the I/O back); a
sync due after the previous write (fsync/fdatasync/sync_file_range, counted and timed;
a replayed log's sync line is an entry of its own, direction ``SYNC``, and only that);
the clock read before and after (unless untimed), one ``memcpy`` in the I/O's direction,
and the latency into fio's per-direction histogram, the exact moments, the latency
buckets, the bw/iops windows and (with per-I/O logs) the log arrays.  It
stops at the end of the chunk, at a byte or I/O budget, or once a completion passes the
deadline.  Nothing is allocated per I/O; all state lives in arrays the caller owns
(``State``), so the kernel can run without the GIL (thread mode faults in parallel).

Choices that matter (measured, see docs/performance.md): ``memcpy`` is LLVM's intrinsic
(a numba slice assignment compiles to a byte loop), and ``clock_gettime`` is bound as an
external function (a ctypes function pointer would keep numba from caching the machine
code on disk).  Every stamp is a ``CLOCK_MONOTONIC`` value (the clock of
``time.monotonic_ns``), so stamps are comparable with the controller's and across
workers: read per stamp, or where the TSC is trusted, one read per call and the TSC's
ticks since scaled onto it (``loadgen.engine.clock``).

Latencies: clat is the copy alone (the two clock reads around it); lat runs from the
previous I/O's completion (the loop's bookkeeping and this I/O's preparation, fio's
start_time to completion) to this one's completion.
"""

from __future__ import annotations

from typing import Any

from loadgen.engine.jit import choose_cache_dir

choose_cache_dir()

import numba  # noqa: E402  (the cache directory must be chosen first)
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from loadgen.plan import SYNC  # noqa: E402
from loadgen.stats import histogram, latbuckets  # noqa: E402

PLAT_BITS = histogram.PLAT_BITS
PLAT_NR = histogram.PLAT_NR
CLOCK_MONOTONIC = 1
NS_PER_MS = 1_000_000
UNTIMED_CHECK = 64  # untimed I/Os between clock reads for the deadline
UNTIMED_CHECK_BYTES = 1 << 20  # ... or after this many bytes, whichever comes first
LOG_MSEC_SLACK = 1  # fio takes a bw/iops window up to 1 ms early

# ---- ctl: the call's inputs and outputs (int64) ---------------------------------------------
C_BASE, C_SRC, C_RBUF, C_FLAGS, C_DEADLINE, C_BYTES_LEFT, C_IOS_LEFT, C_NOW, C_FIRST, C_PASS = (
    range(10)
)
# the write source ring (loadgen.engine.buffers): write k copies from C_SRC + (k % SLOTS)
# * STEP; C_SRC_NEXT counts writes across calls.  C_SPIN: thinkcycles after each I/O.
# C_SINK keeps the spin's result, so the compiler cannot drop the spin.
C_SRC_STEP, C_SRC_SLOTS, C_SRC_NEXT, C_SPIN, C_SINK = range(10, 15)
# syncs (fio's fsync/fdatasync/sync_file_range every N writes, 0 = off): after a write that
# makes the write count C_WRITES a multiple of one of them, a sync comes before the next
# I/O (C_SYNC_PENDING); the page_fault engine completes it at once, so it is timed and
# counted, nothing more.
C_SYNC_A, C_SYNC_B, C_SYNC_C, C_WRITES, C_SYNC_PENDING = range(15, 20)
# flow (fio's flow.c, loadgen.engine.flow): the addresses of the flow's shared counter
# (its total weight 8 bytes on) and of this job's own count, this job's weight, flow_sleep
C_FLOW, C_FLOW_MINE, C_FLOW_WEIGHT, C_FLOW_SLEEP = range(20, 24)
C_SIZE = 24
FLOW_SPIN_CHECK = 256  # held back this many times: read the clock for the deadline
F_TIMED, F_RECORD, F_CLAT, F_LAT, F_LAT_HIST, F_SAMPLES, F_LOG, F_NOCOPY, F_SCRAMBLE = (
    1 << i for i in range(9)
)
SCRAMBLE_SECTOR = 512

# ---- acc: the accumulators (int64) ------------------------------------------------------------
# CNT/TOT: [dir*2] ios, [dir*2+1] bytes (interval / whole measured window).
# MOM: per (kind, dir): n, K (shift), sum(x-K), min, max; kind 0 clat, 1 lat.
# SMP: per (kind, dir): n, min, max; kind 0 bw, 1 iops.  WIN: per kind: t0, length, at[2].
A_CNT = 0
A_TOT = 4
A_MOM = 8
A_SMP = A_MOM + 20
A_WIN = A_SMP + 12
A_LBK = A_WIN + 8
A_HIST = A_LBK + latbuckets.NBUCKETS
# SYNC: syncs issued, then the sync latency's MOM (5) and its histogram
A_SYNC = A_HIST + 4 * PLAT_NR
A_SYNC_HIST = A_SYNC + 6
A_SIZE = A_SYNC_HIST + PLAT_NR
# accf (float64): MOM per (kind, dir): sum((x-K)^2); SMP per (kind, dir): mean, m2; the
# sync latency's sum((x-K)^2).
AF_MOM = 0
AF_SMP = 4
AF_SYNC = 12
AF_SIZE = 13

_EDGES = np.ascontiguousarray(latbuckets.EDGES_NS, dtype=np.int64)


@intrinsic  # type: ignore[untyped-decorator]
def _memcpy(typingctx: Any, dst: Any, src: Any, n: Any) -> Any:
    """LLVM's memcpy between two raw addresses."""
    sig = types.void(types.int64, types.int64, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        d, s, k = args
        byte_ptr = ir.IntType(8).as_pointer()
        cgutils.raw_memcpy(
            builder, builder.inttoptr(d, byte_ptr), builder.inttoptr(s, byte_ptr), k, 1
        )
        return context.get_dummy_value()

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def _rdtsc(typingctx: Any) -> Any:
    """The CPU's time-stamp counter (x86 ``rdtsc``; used only where ``loadgen.engine.clock``
    found it reliable)."""
    sig = types.int64()

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic(
            "llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), [])
        )
        return builder.call(fn, [])

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def _leading_zeros(typingctx: Any, v: Any) -> Any:
    sig = types.int64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def trailing_zeros(typingctx: Any, v: Any) -> Any:
    """Index of the lowest set bit of a uint64 (64 for zero)."""
    sig = types.int64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def _store64(typingctx: Any, addr: Any, value: Any) -> Any:
    """An unaligned 8-byte store to a raw address."""
    sig = types.void(types.int64, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a, v = args
        ptr = builder.inttoptr(a, ir.IntType(64).as_pointer())
        builder.store(v, ptr, align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def atomic_add(typingctx: Any, addr: Any, value: Any) -> Any:
    """An atomic 8-byte add at a raw address (shared memory across processes)."""
    sig = types.int64(types.int64, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a, v = args
        ptr = builder.inttoptr(a, ir.IntType(64).as_pointer())
        return builder.atomic_rmw("add", ptr, v, "seq_cst")

    return sig, codegen


@intrinsic  # type: ignore[untyped-decorator]
def atomic_load(typingctx: Any, addr: Any) -> Any:
    """An atomic 8-byte load from a raw address."""
    sig = types.int64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.load_atomic(ptr, "seq_cst", 8)

    return sig, codegen


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _scramble(at: int, n: int, off: int, stamp: int) -> None:
    """fio's small_content_scramble: in each 512-byte sector, the sector's offset at the
    start of one of its cache lines and the stamp (s, ns) at the end of the first.  As
    fio, into the source before the copy (earlier writes' offset stamps stay in the other
    lines): a large block's destination is out of the cache once copied, its source not."""
    line = ((stamp % 1_000_000_000) ^ off) & 7
    for sector in range(n // SCRAMBLE_SECTOR):
        p = at + sector * SCRAMBLE_SECTOR
        _store64(p + (line << 6), off + sector * SCRAMBLE_SECTOR)
        _store64(p + 48, stamp // 1_000_000_000)
        _store64(p + 56, stamp % 1_000_000_000)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _spin(cycles: int, seed: int) -> int:
    """thinkcycles: a dependent chain the compiler cannot drop (its result is stored)."""
    x = seed
    for _ in range(cycles):
        x = x * 6364136223846793005 + 1442695040888963407
    return x


_clock_gettime = types.ExternalFunction("clock_gettime", types.int32(types.int32, types.voidptr))
_usleep = types.ExternalFunction("usleep", types.int32(types.uint32))
_sched_yield = types.ExternalFunction("sched_yield", types.int32())


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def shared_add(addr: int, value: int) -> int:
    """atomic_add for Python callers (the flow table's join and leave)."""
    return atomic_add(addr, value)  # type: ignore[no-any-return]


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _flow_go(flow: int, mine: int, weight: int, sleep_us: int) -> bool:
    """fio's flow_threshold_exceeded: False (and flow_sleep slept) while this job is ahead
    of its weight's share of the flow's I/Os; else count this I/O in the flow and go."""
    total = atomic_load(flow)
    weights = atomic_load(flow + 8)
    mine_n = atomic_load(mine)
    if mine_n * weights > weight * total:  # mine/total > weight/weights, both positive
        if sleep_us:
            _usleep(sleep_us)
        else:  # fio spins; giving the CPU up lets the jobs it waits for catch up sooner
            _sched_yield()
        return False
    atomic_add(flow, 1)
    atomic_add(mine, 1)
    return True


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _now(ts: Any) -> int:
    _clock_gettime(CLOCK_MONOTONIC, ts.ctypes.data)
    return ts[0] * 1_000_000_000 + ts[1]  # type: ignore[no-any-return]


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _clock(ts: Any, scale: float, anchor_ns: int, anchor_tsc: int) -> int:
    """CLOCK_MONOTONIC ns: read, or (``scale`` > 0: ns per TSC tick) the TSC's ticks since
    the call's anchor pair scaled onto it, about half the cost of a vDSO read."""
    if scale > 0.0:
        return anchor_ns + np.int64((_rdtsc() - anchor_tsc) * scale)  # type: ignore[return-value]
    return _now(ts)  # type: ignore[no-any-return]


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def tsc_pair(ts: Any) -> Any:
    """A TSC reading between two CLOCK_MONOTONIC reads: (tsc, ns before, ns after)."""
    before = _now(ts)
    tsc = _rdtsc()
    after = _now(ts)
    return tsc, before, after


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def plat_index(v: int) -> int:
    """fio's ``plat_val_to_idx``: exact below 128 ns, then 64 buckets per power of two."""
    if v < (1 << (PLAT_BITS + 1)):
        return max(v, 0)
    msb = 63 - _leading_zeros(v)
    shift = msb - PLAT_BITS
    idx = (shift + 1) * (1 << PLAT_BITS) + ((v >> shift) & ((1 << PLAT_BITS) - 1))
    return min(idx, PLAT_NR - 1)  # type: ignore[no-any-return]


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _moment(acc: Any, accf: Any, at: int, atf: int, v: int) -> None:
    n = acc[at]
    if n == 0:
        acc[at + 1] = v
        acc[at + 3] = v
        acc[at + 4] = v
    d = v - acc[at + 1]
    acc[at] = n + 1
    acc[at + 2] += d
    accf[atf] += float(d) * float(d)
    if v < acc[at + 3]:
        acc[at + 3] = v
    if v > acc[at + 4]:
        acc[at + 4] = v


@numba.njit(nogil=True, cache=True, inline="always")  # type: ignore[untyped-decorator]
def _sync(
    acc: Any,
    accf: Any,
    ts: Any,
    scale: float,
    anchor: int,
    anchor_tsc: int,
    timed: bool,
    rec_clat: bool,
) -> None:
    """Count one sync, and time it (two clock reads: page_fault completes it at once)."""
    acc[A_SYNC] += 1
    if timed:
        s0 = _clock(ts, scale, anchor, anchor_tsc)
        sync_ns = _clock(ts, scale, anchor, anchor_tsc) - s0
        if rec_clat:
            _moment(acc, accf, A_SYNC + 1, AF_SYNC, sync_ns)
            acc[A_SYNC_HIST + plat_index(sync_ns)] += 1


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _windows(acc: Any, accf: Any, now: int) -> None:
    """Take a bw (KiB/s) and an iops sample per direction for each window that is full."""
    for kind in range(2):
        w = A_WIN + 4 * kind
        length_ms = acc[w + 1]
        spent_ms = (now - acc[w]) // NS_PER_MS
        if spent_ms < length_ms and length_ms - spent_ms > LOG_MSEC_SLACK:
            continue
        for d in range(2):
            total = acc[A_TOT + 2 * d + (1 if kind == 0 else 0)]
            delta = total - acc[w + 2 + d]
            acc[w + 2 + d] = total
            if delta == 0 or spent_ms == 0:
                continue  # fio: no entry for a direction without I/O
            value = delta * 1000 // spent_ms
            if kind == 0:
                value //= 1024
            s = A_SMP + 3 * (2 * kind + d)
            sf = AF_SMP + 2 * (2 * kind + d)
            n = acc[s] + 1
            acc[s] = n
            if n == 1 or value < acc[s + 1]:
                acc[s + 1] = value
            if n == 1 or value > acc[s + 2]:
                acc[s + 2] = value
            diff = value - accf[sf]
            accf[sf] += diff / n
            accf[sf + 1] += diff * (value - accf[sf])
        acc[w] = now


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def execute(
    offs: Any,
    lens: Any,
    dirs: Any,
    start: int,
    count: int,
    ctl: Any,
    acc: Any,
    accf: Any,
    logs: Any,
    ts: Any,
    clock: Any,
) -> int:
    """Run ``count`` I/Os from index ``start`` of the arrays, wrapping around at their end
    (a replayed loop runs many times in one call); returns how many ran.

    Stops early, before an I/O, when the byte or I/O budget is spent, and after an I/O
    whose completion reaches the deadline (0 = none).  ``logs[0]``/``logs[1]`` receive
    each I/O's start stamp, clat and lat from index 0 when logs are on.  ``clock[0]``:
    ns per TSC tick, or 0 to read CLOCK_MONOTONIC for every stamp.
    """
    flags = ctl[C_FLAGS]
    timed = (flags & F_TIMED) != 0
    record = (flags & F_RECORD) != 0
    rec_clat = record and timed and (flags & F_CLAT) != 0
    rec_lat = record and timed and (flags & F_LAT) != 0
    lat_hist = (flags & F_LAT_HIST) != 0
    samples = record and (flags & F_SAMPLES) != 0
    log = record and timed and (flags & F_LOG) != 0
    copy = (flags & F_NOCOPY) == 0
    scramble = (flags & F_SCRAMBLE) != 0
    base = ctl[C_BASE]
    src = ctl[C_SRC]
    src_step = ctl[C_SRC_STEP]
    src_slots = ctl[C_SRC_SLOTS]
    writes = ctl[C_SRC_NEXT]
    spin = ctl[C_SPIN]
    rbuf = ctl[C_RBUF]
    deadline = ctl[C_DEADLINE]
    bytes_left = ctl[C_BYTES_LEFT]
    ios_left = ctl[C_IOS_LEFT]
    sync_a = ctl[C_SYNC_A]
    sync_b = ctl[C_SYNC_B]
    sync_c = ctl[C_SYNC_C]
    syncing = (sync_a | sync_b | sync_c) != 0
    write_count = ctl[C_WRITES]
    sync_pending = ctl[C_SYNC_PENDING]
    flow = ctl[C_FLOW]
    flow_mine = ctl[C_FLOW_MINE]
    flow_weight = ctl[C_FLOW_WEIGHT]
    flow_sleep = ctl[C_FLOW_SLEEP]
    held = False
    pass_bytes = 0
    unchecked = 0
    unchecked_bytes = 0
    # a window cannot be due before start + (length - slack) ms: a compare per I/O
    # instead of _windows' two divisions (it still decides, with fio's arithmetic)
    due_bw = max(acc[A_WIN + 1] - LOG_MSEC_SLACK, 0) * NS_PER_MS
    due_iops = max(acc[A_WIN + 5] - LOG_MSEC_SLACK, 0) * NS_PER_MS
    scale = clock[0]
    now = _now(ts)
    anchor_tsc = _rdtsc() if scale > 0.0 else 0
    anchor = now
    prev = now
    span = len(offs)
    i = start
    ran = 0
    while ran < count:
        d = np.int64(dirs[i])
        if d == SYNC:  # a replayed sync line: page_fault completes it at once; no data,
            if record:  # so neither a budget nor the flow holds it back
                _sync(acc, accf, ts, scale, anchor, anchor_tsc, timed, rec_clat)
            i += 1
            if i == span:
                i = 0
            ran += 1
            continue
        if bytes_left <= 0 or ios_left <= 0:
            break
        if flow:
            held_back = 0
            while not _flow_go(flow, flow_mine, flow_weight, flow_sleep):
                held_back += 1
                if held_back % FLOW_SPIN_CHECK == 0 or flow_sleep:
                    now = _now(ts)
                    if now >= deadline:  # the caller looks at stop, reports, runtime
                        held = True
                        break
            if held:
                break
            if held_back and timed:
                prev = _clock(ts, scale, anchor, anchor_tsc)  # fio checks the flow first: not lat
        off = offs[i]
        n = lens[i]
        if sync_pending:
            sync_pending = 0
            if record:
                _sync(acc, accf, ts, scale, anchor, anchor_tsc, timed, rec_clat)
        if syncing and d:
            write_count += 1
            if ((sync_a and write_count % sync_a == 0) or (sync_b and write_count % sync_b == 0)
                    or (sync_c and write_count % sync_c == 0)):
                sync_pending = 1
        if timed:
            t0 = _clock(ts, scale, anchor, anchor_tsc)
            if copy:
                if d:
                    s = src
                    if src_slots > 1:
                        s += (writes % src_slots) * src_step
                    writes += 1
                    if scramble:
                        _scramble(s, n, off, t0)
                    _memcpy(base + off, s, n)
                else:
                    _memcpy(rbuf, base + off, n)
            now = _clock(ts, scale, anchor, anchor_tsc)
            clat = now - t0
            if record and ctl[C_FIRST] == 0:
                ctl[C_FIRST] = t0
            if rec_clat:
                _moment(acc, accf, A_MOM + 5 * d, AF_MOM + d, clat)
                acc[A_HIST + d * PLAT_NR + plat_index(clat)] += 1
                b = 0
                while b < len(_EDGES) and clat >= _EDGES[b]:
                    b += 1
                acc[A_LBK + b] += 1
            if rec_lat:
                lat = now - prev
                _moment(acc, accf, A_MOM + 10 + 5 * d, AF_MOM + 2 + d, lat)
                if lat_hist:
                    acc[A_HIST + (2 + d) * PLAT_NR + plat_index(lat)] += 1
            if log:
                logs[0, ran] = t0
                logs[1, ran] = clat
                logs[2, ran] = now - prev
            prev = now
        else:
            if record and ctl[C_FIRST] == 0:
                ctl[C_FIRST] = _now(ts)
            if copy:
                if d:
                    s = src
                    if src_slots > 1:
                        s += (writes % src_slots) * src_step
                    writes += 1
                    if scramble:
                        _scramble(s, n, off, 0)
                    _memcpy(base + off, s, n)
                else:
                    _memcpy(rbuf, base + off, n)
            unchecked += 1
            unchecked_bytes += n
        if spin:
            ctl[C_SINK] = _spin(spin, ctl[C_SINK])
        bytes_left -= n
        ios_left -= 1
        pass_bytes += n
        if record:
            acc[A_CNT + 2 * d] += 1
            acc[A_CNT + 2 * d + 1] += n
            acc[A_TOT + 2 * d] += 1
            acc[A_TOT + 2 * d + 1] += n
        i += 1
        if i == span:
            i = 0
        ran += 1
        if not timed:
            if unchecked < UNTIMED_CHECK and unchecked_bytes < UNTIMED_CHECK_BYTES:
                continue
            unchecked = 0
            unchecked_bytes = 0
            now = _now(ts)
        if samples and (now - acc[A_WIN] >= due_bw or now - acc[A_WIN + 4] >= due_iops):
            _windows(acc, accf, now)
        if deadline and now >= deadline:
            break
    if not timed:
        now = _now(ts)
        if samples:
            _windows(acc, accf, now)
    ctl[C_NOW] = now
    ctl[C_BYTES_LEFT] = bytes_left
    ctl[C_IOS_LEFT] = ios_left
    ctl[C_PASS] = pass_bytes
    ctl[C_SRC_NEXT] = writes
    ctl[C_WRITES] = write_count
    ctl[C_SYNC_PENDING] = sync_pending
    return ran


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def now_ns(ts: Any) -> int:
    """CLOCK_MONOTONIC in ns, read the way the kernel reads it."""
    return _now(ts)  # type: ignore[no-any-return]


# State's arrays laid out in one block of int64 words (State.over): where each starts
STATE_PARTS = (0, C_SIZE, C_SIZE + A_SIZE, C_SIZE + A_SIZE + AF_SIZE,
               C_SIZE + A_SIZE + AF_SIZE + 3, C_SIZE + A_SIZE + AF_SIZE + 5)
STATE_WORDS = STATE_PARTS[-1] + 1


class State:
    """The arrays one job's kernel calls share: inputs, accumulators, logs, a timespec."""

    def __init__(self, log_capacity: int, tsc_ns_per_tick: float = 0.0) -> None:
        # np.full, not np.zeros: calloc'd pages would fault on first use, in the window.
        self.ctl = np.full(C_SIZE, 0, dtype=np.int64)
        self.acc = np.full(A_SIZE, 0, dtype=np.int64)
        self.accf = np.full(AF_SIZE, 0.0, dtype=np.float64)
        self.logs = np.full((3, max(log_capacity, 1)), 0, dtype=np.int64)
        self.ts = np.full(2, 0, dtype=np.int64)
        self.clock = np.full(1, tsc_ns_per_tick, dtype=np.float64)

    @classmethod
    def over(cls, words: np.ndarray, at: int) -> State:
        """A state (no per-I/O logs) whose arrays are ``words[at:at + STATE_WORDS]``, a
        block another process also maps (``loadgen.engine.lean``)."""
        state = cls.__new__(cls)
        ctl, acc, accf, logs, ts, clock = (at + p for p in STATE_PARTS)
        state.ctl = words[ctl:acc]
        state.acc = words[acc:accf]
        state.accf = words[accf:logs].view(np.float64)
        state.logs = words[logs:ts].reshape(3, 1)
        state.ts = words[ts:clock]
        state.clock = words[clock:clock + 1].view(np.float64)
        return state

    def run(
        self, offs: np.ndarray, lens: np.ndarray, dirs: np.ndarray, start: int, count: int
    ) -> int:
        ran: int = execute(
            offs,
            lens,
            dirs,
            start,
            count,
            self.ctl,
            self.acc,
            self.accf,
            self.logs,
            self.ts,
            self.clock,
        )
        return ran

    def now(self) -> int:
        return now_ns(self.ts)  # type: ignore[no-any-return]


def compile_kernel() -> None:
    """Compile (or load from numba's cache) every function the engine calls, by calling it
    once on a scratch page; a fork helper does this before forking so workers inherit it."""
    page = np.zeros(8192, dtype=np.uint8)
    state = State(4)
    ctl = state.ctl
    ctl[C_BASE] = page.ctypes.data
    ctl[C_SRC] = page.ctypes.data + 4096
    ctl[C_RBUF] = page.ctypes.data + 4096
    ctl[C_BYTES_LEFT] = ctl[C_IOS_LEFT] = 1 << 62
    offs = np.zeros(4, dtype=np.int64)
    lens = np.full(4, 64, dtype=np.int64)
    dirs = np.array([1, 0, 1, 0], dtype=np.int8)
    for flags in (F_TIMED | F_RECORD | F_CLAT | F_LAT | F_SAMPLES | F_LOG, F_RECORD):
        ctl[C_FLAGS] = flags
        state.run(offs, lens, dirs, 0, 4)
    state.now()
    tsc_pair(state.ts)
