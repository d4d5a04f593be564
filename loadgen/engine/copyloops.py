"""The hot loops: one copy per I/O, timed with two clock reads, nothing else per I/O.

Measured on this project's machine (Python 3.11, interleaved medians, 4 KiB blocks on
memory that no longer faults): ``mm[o:o+n] = src`` on the ``mmap`` object is the
fastest write (213 ns/op with timing, vs 225 for a memoryview slice, 708 for
ctypes.memmove); ``mm[o:o+n]`` (a bytes copy whose malloc'd buffer is reused at once)
is the fastest read (259 vs 290 for ``rbuf[:] = view[o:o+n]``).  Storing only
``clock() - t0`` (one append) beats storing both stamps (302 vs 365 for randrw).
Latencies go into ``array('q')`` and offsets come from arrays or ranges, so the loop
keeps no per-I/O Python int alive: a list of thousands of ints would take fresh
pymalloc arenas (mmap'd, released when empty) and fault pages of its own.
Reads larger than ``SMALL_READ`` copy into a preallocated buffer instead, so that a big
malloc never adds faults of its own.  Without per-I/O timing (gtod_reduce) contiguous
runs are coalesced into few large copies and aligned random writes become one numpy
fancy-indexed assignment per batch (56 ns/op).

The write source (read-only bytes) is made once per size and shared: a storm's
forked workers inherit it from the fork helper and never fault its pages.

Where a cache-hot I/O's time goes (``page_fault_cache_hot``: 64 pages, 4 KiB randrw,
timed; CPU ns per I/O, medians of interleaved runs on the 2-core box under a shared
load average of 100-600, so +-10%):

* two clock reads + the subtraction + the append, no copy:   ~153 (a clock read is
  ~60: the vDSO clock_gettime on TSC plus a builtin call and a new int object)
* the copy alone: write ``mm[s] = src`` ~82, read ``mm[s]`` ~100 (slice unpacking,
  buffer export, a 4 KiB memcpy; the read also mallocs/frees its bytes)
* the ``for`` itself: ~5
* => timed write loop ~237-250, read loop ~255-265 (``loop_w``/``loop_r``)
* everything around the loops (tiles, per-chunk bookkeeping, folding latencies into
  histograms/moments every 32768 I/Os): ~20-25 after this project's cuts (was ~55)

Measured alternatives, all slower or equal: ``time.monotonic_ns`` = ``perf_counter_ns``
(237 vs 237), ``time.clock_gettime_ns(CLOCK_MONOTONIC)`` 288 (an argument to parse);
moving the per-I/O work into C iterators (``array('q', filter(None, map(operator.call,
[clock, partial(setitem, mm, s, src), clock, ...])))``, no bytecode per I/O) 310 vs 249,
since the partial/setitem dispatch between the two clock reads costs more than
STORE_SUBSCR.  fio spends ~190-200 CPU ns per I/O on this job, so the pure-Python
floor is about 1.3x fio and the whole job lands at ~1.4-1.5x (``scripts/engine_vs_fio.py
hot10k``); with gtod_reduce (no clock reads) the engine is faster than fio.
"""

from __future__ import annotations

import functools
import mmap
import time
from array import array
from collections.abc import Sequence

import numpy as np

from loadgen.plan import WRITE

SMALL_READ = 64 * 1024
COALESCE = 256 * 1024  # bytes per copy call when runs are coalesced (stays in L2)

SHARED_SOURCE_MAX = 1 << 20  # write sources up to this size are cached per process

clock = time.perf_counter_ns


def _pattern(size: int) -> bytes:
    """``size`` non-zero bytes: written pages are never mistaken for the zero page."""
    return (bytes(range(1, 256)) * (-(-size // 255)))[:size]


@functools.lru_cache(maxsize=8)
def _shared_pattern(size: int) -> bytes:
    return _pattern(size)


def write_source(size: int) -> bytes:
    """The bytes every write copies from (shared across Copiers when small)."""
    return _shared_pattern(size) if size <= SHARED_SOURCE_MAX else _pattern(size)


class Copier:
    """Copy loops bound to one mapping and its I/O buffers."""

    def __init__(self, mm: mmap.mmap, max_len: int, gil_free: bool = False) -> None:
        """``gil_free``: copy with numpy, which releases the GIL for the copy.

        ``mm[o:o+n] = src`` holds the GIL while it copies (and faults), so jobs run as
        threads (thread=1) would fault one at a time.  numpy slice assignment of more
        than a few hundred bytes releases it, at about 160 ns more per I/O, so thread
        jobs fault concurrently like fio's.
        """
        self.mm = mm
        self.gil_free = gil_free
        # Coalesced copies never exceed the mapping, so a small region needs small buffers.
        size = max(max_len, min(COALESCE, len(mm)))
        self.wsrc = write_source(size)
        self.rbuf = bytearray(size)
        self.view: memoryview | np.ndarray
        self.wview: memoryview | np.ndarray
        self.rview: memoryview | np.ndarray
        if gil_free:
            self.view = np.frombuffer(mm, dtype=np.uint8)
            self.wview = np.frombuffer(self.wsrc, dtype=np.uint8)
            self.rview = np.frombuffer(self.rbuf, dtype=np.uint8)
        else:
            self.view, self.wview, self.rview = memoryview(mm), memoryview(self.wsrc), memoryview(self.rbuf)
        # Writes go to ``target`` from ``source`` (the mmap object itself is fastest).
        self.target = self.view if gil_free else mm
        self.source = self.wview if gil_free else self.wsrc
        self.rview[:] = self.wview  # pre-touch the read buffer outside the measured window

    def close(self) -> None:
        """Drop every view of the mapping (it cannot be unmapped while one exists)."""
        for v in (self.view, self.rview, self.wview):
            if isinstance(v, memoryview):
                v.release()
        del self.view, self.rview, self.wview, self.target, self.source

    # ---- timed: returns clat (ns) per I/O ------------------------------------------------
    def timed(self, offs: Sequence[int], lens: Sequence[int] | int, dirs: Sequence[int] | int) -> array:
        """Run the I/Os in order; ``lens``/``dirs`` may be one value for all."""
        if isinstance(lens, int):
            if isinstance(dirs, int):
                if dirs == WRITE:
                    return self._write_fixed(offs, lens)
                return self._read_fixed(offs, lens)
            return self._mixed_fixed(offs, lens, dirs)
        if isinstance(dirs, int):
            dirs = [dirs] * len(offs)
        return self._mixed_var(offs, lens, dirs)

    def _write_fixed(self, offs: Sequence[int], n: int) -> array:
        mm, src, clk = self.target, self.source[:n], clock
        out = array("q")
        ap = out.append
        for o in offs:
            t = clk()
            mm[o : o + n] = src
            ap(clk() - t)
        return out

    def _read_fixed(self, offs: Sequence[int], n: int) -> array:
        mm, clk = self.mm, clock
        out = array("q")
        ap = out.append
        if n <= SMALL_READ and not self.gil_free:
            for o in offs:
                t = clk()
                mm[o : o + n]
                ap(clk() - t)
        else:
            view, dst = self.view, self.rview[:n]
            for o in offs:
                t = clk()
                dst[:] = view[o : o + n]
                ap(clk() - t)
        return out

    def _mixed_fixed(self, offs: Sequence[int], n: int, dirs: Sequence[int]) -> array:
        if n > SMALL_READ or self.gil_free:
            return self._mixed_var(offs, [n] * len(offs), dirs)
        mm, src, clk = self.mm, self.wsrc[:n], clock
        out = array("q")
        ap = out.append
        for o, d in zip(offs, dirs):
            if d:
                t = clk()
                mm[o : o + n] = src
                ap(clk() - t)
            else:
                t = clk()
                mm[o : o + n]
                ap(clk() - t)
        return out

    def write_slices(self, slices: Sequence[slice]) -> array:
        """Timed writes of equal blocks given as slices (replayed loops)."""
        mm, clk = self.target, clock
        src = self.source[: slices[0].stop - slices[0].start] if slices else b""
        out = array("q")
        ap = out.append
        for s in slices:
            t = clk()
            mm[s] = src
            ap(clk() - t)
        return out

    def read_slices(self, slices: Sequence[slice]) -> array:
        """Timed reads of equal blocks given as slices (replayed loops)."""
        if slices and (slices[0].stop - slices[0].start > SMALL_READ or self.gil_free):
            return self._read_fixed([s.start for s in slices], slices[0].stop - slices[0].start)
        mm, clk = self.mm, clock
        out = array("q")
        ap = out.append
        for s in slices:
            t = clk()
            mm[s]
            ap(clk() - t)
        return out

    def _mixed_var(self, offs: Sequence[int], lens: Sequence[int], dirs: Sequence[int]) -> array:
        view, wv, rv, clk = self.view, self.wview, self.rview, clock
        out = array("q")
        ap = out.append
        for o, n, d in zip(offs, lens, dirs):
            if d:
                t = clk()
                view[o : o + n] = wv[:n]
                ap(clk() - t)
            else:
                t = clk()
                rv[:n] = view[o : o + n]
                ap(clk() - t)
        return out

    def stamped(self, offs: Sequence[int], lens: Sequence[int], dirs: Sequence[int]) -> tuple[array, array]:
        """Like ``timed`` but also returns each I/O's start stamp (for per-I/O logs)."""
        view, wv, rv, clk = self.view, self.wview, self.rview, clock
        starts = array("q")
        out = array("q")
        sp, ap = starts.append, out.append
        for o, n, d in zip(offs, lens, dirs):
            if d:
                t = clk()
                view[o : o + n] = wv[:n]
                ap(clk() - t)
            else:
                t = clk()
                rv[:n] = view[o : o + n]
                ap(clk() - t)
            sp(t)
        return starts, out

    # ---- untimed (gtod_reduce): as few calls as the pattern allows ---------------------
    def untimed(self, offs: np.ndarray, lens: np.ndarray, dirs: np.ndarray, distinct: bool) -> None:
        """Run the I/Os with no per-I/O clock.  ``distinct``: no block repeats in the batch
        (the random map), so reads and writes may be grouped without changing faults."""
        k = len(offs)
        if k == 0:
            return
        ends = offs + lens
        # Runs: consecutive I/Os of one direction that continue where the previous ended.
        brk = np.flatnonzero((offs[1:] != ends[:-1]) | (dirs[1:] != dirs[:-1])) + 1
        if len(brk) <= k // 8:
            starts = np.concatenate([[0], brk])
            stops = np.concatenate([brk, [k]])
            for a, b in zip(starts.tolist(), stops.tolist()):
                self.copy_range(int(offs[a]), int(ends[b - 1]), int(dirs[a]))
            return
        n = int(lens[0])
        if distinct and bool((lens == n).all()) and not (offs % n).any():
            blocks = np.frombuffer(self.mm, dtype=np.dtype((np.void, n)), count=len(self.mm) // n)
            src = np.frombuffer(self.wsrc, dtype=np.dtype((np.void, n)), count=1)
            try:
                w = dirs == WRITE
                if w.any():
                    blocks[offs[w] // n] = src
                rd = (~w).nonzero()[0]
            finally:
                del blocks, src
            if self.gil_free:
                view, rv = self.view, self.rview[:n]
                for o in offs[rd].tolist():
                    rv[:] = view[o : o + n]
            else:
                mm = self.mm
                for o in offs[rd].tolist():
                    mm[o : o + n]
            return
        view, wv, rv = self.view, self.wview, self.rview
        for o, n, d in zip(offs.tolist(), lens.tolist(), dirs.tolist()):
            if d:
                view[o : o + n] = wv[:n]
            else:
                rv[:n] = view[o : o + n]

    def copy_range(self, a: int, b: int, d: int) -> None:
        """Bytes [a, b) of the mapping in one direction, in COALESCE-sized copies."""
        view, wv, rv = self.view, self.wview, self.rview
        while a < b:
            n = min(b - a, COALESCE)
            if d:
                view[a : a + n] = wv[:n]
            else:
                rv[:n] = view[a : a + n]
            a += n
