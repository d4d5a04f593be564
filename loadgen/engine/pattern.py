"""Where each I/O goes: direction, offset and length, generated in vectorised batches.

One ``AccessPattern`` follows fio's per-file state for one job: the sequential cursors
(one per direction, both starting at the region start, so rw=rw overlaps), the random
map, the rwmix chooser and the random streams.  ``start_loop`` is fio's
``clear_io_state`` (cursors and map reset, streams re-seeded when repeatable);
``next_batch`` returns up to n I/Os and sets ``exhausted`` when this loop's region is
used up.  Under time_based the region wraps instead (cursor to start, map cleared, no
re-seed).  The common cases (sequential with one cursor step, uniform random with or
without the map, fixed block sizes) are whole-batch numpy; the rest (holes, identical
sequencer, percentage_random, bsrange with the map) is a per-I/O path over
pre-drawn random numbers.
"""

from __future__ import annotations

from array import array

from collections.abc import Sequence

import numpy as np

from loadgen.engine.blocksize import BlockSizer
from loadgen.engine.distribution import IndexDraw, make_index_draws
from loadgen.engine.randmap import RandomMap
from loadgen.engine.rwmix import DirectionChooser
from loadgen.engine.streams import Seeder, Streams
from loadgen.plan import READ, WRITE, Job

RANDOM_MODES = ("randread", "randwrite", "randrw")
MIXED_MODES = ("rw", "readwrite", "randrw")
WRITE_MODES = ("write", "randwrite", "rw", "readwrite", "randrw")
REPLAY_MAX_OPS = 1 << 16  # loops up to this many I/Os are recorded and replayed


class Batch:
    """Up to n I/Os: absolute offsets into the mapping, lengths, directions (0=read).

    A sequential run of equal blocks in one direction is kept as arithmetic
    (``arith`` = first offset, block size, direction): its offsets reach the copy loop
    as a ``range`` and its arrays are only built if something asks for them.
    """

    __slots__ = ("_offsets", "_lengths", "_dirs", "_lists", "arith", "count", "tile_len", "tile_slices", "tile_distinct",
                 "_tile_of")

    def __init__(self, offsets: np.ndarray, lengths: np.ndarray, dirs: np.ndarray) -> None:
        self._offsets: np.ndarray | None = offsets
        self._lengths: np.ndarray | None = lengths
        self._dirs: np.ndarray | None = dirs
        self._lists: tuple[Sequence[int], Sequence[int], list[int]] | None = None
        self.arith: tuple[int, int, int] | None = None
        self.count = len(offsets)
        self.tile_len = 0
        self.tile_slices: tuple[list[slice], list[slice]] | None = None
        self.tile_distinct = False
        self._tile_of: tuple[Batch, int] | None = None  # (template, reps) of a tiled batch

    @staticmethod
    def run(first: int, bs: int, count: int, ddir: int) -> Batch:
        b = Batch.__new__(Batch)
        b._offsets = b._lengths = b._dirs = None
        b._lists = None
        b.arith = (first, bs, ddir)
        b.count = count
        b.tile_len = 0
        b.tile_slices = None
        b.tile_distinct = False
        b._tile_of = None
        return b

    @property
    def offsets(self) -> np.ndarray:
        if self._offsets is None and self._tile_of is not None:
            template, reps = self._tile_of
            self._offsets = np.tile(template.offsets, reps)
        if self._offsets is None:
            assert self.arith is not None
            first, bs, _ = self.arith
            self._offsets = first + bs * np.arange(self.count, dtype=np.int64)
        return self._offsets

    @property
    def lengths(self) -> np.ndarray:
        if self._lengths is None and self._tile_of is not None:
            template, reps = self._tile_of
            self._lengths = np.tile(template.lengths, reps)
        if self._lengths is None:
            assert self.arith is not None
            self._lengths = np.full(self.count, self.arith[1], dtype=np.int64)
        return self._lengths

    @property
    def dirs(self) -> np.ndarray:
        if self._dirs is None and self._tile_of is not None:
            template, reps = self._tile_of
            self._dirs = np.tile(template.dirs, reps)
        if self._dirs is None:
            assert self.arith is not None
            self._dirs = np.full(self.count, self.arith[2], dtype=np.int8)
        return self._dirs

    def __len__(self) -> int:
        return self.count

    def lists(self) -> tuple[Sequence[int], Sequence[int], list[int]]:
        """The batch as Python sequences for the copy loops (converted once, then cached)."""
        if self._lists is None and self._tile_of is not None:
            # The tiles share one set of int objects, so these lists are cheap and fastest.
            template, reps = self._tile_of
            o, n, d = template.lists()
            self._lists = (list(o) * reps, list(n) * reps, d * reps)
        if self._lists is None:
            if self.arith is not None:
                first, bs, ddir = self.arith
                self._lists = (range(first, first + bs * self.count, bs), [bs], [ddir])
            else:
                # Arrays, not lists: no per-I/O int objects kept alive (see copyloops).
                self._lists = (_int_array(self.offsets), _int_array(self.lengths), self.dirs.tolist())
        return self._lists

    def tiled(self, reps: int, distinct: bool) -> Batch:
        """The batch repeated ``reps`` times (replayed loops).

        Equal-sized tiles also get their I/Os as slice objects (``tile_slices``: one
        tile's writes and reads, each in order).  With ``distinct`` (every block once
        per loop, and a replayed block always has the same direction) a tile's writes
        and reads may run as two branch-free loops without changing what faults.
        The repeated arrays and lists are built only if something asks for them (the
        slices path never does), so a big tiled batch costs no memory of its own.
        """
        out = Batch.__new__(Batch)
        out._offsets = out._lengths = out._dirs = None
        out._lists = None
        out.arith = None
        out.count = len(self) * reps
        out.tile_len = 0
        out.tile_slices = None
        out.tile_distinct = False
        out._tile_of = (self, reps)
        o, n, d = self.lists()
        if len(set(n)) == 1 and len(self):
            bs = n[0]
            sl = [slice(x, x + bs) for x in o]
            out.tile_len = len(self)
            out.tile_slices = (
                [s for s, dd in zip(sl, d) if dd],
                [s for s, dd in zip(sl, d) if not dd],
            )
            out.tile_distinct = distinct
        return out

    @staticmethod
    def empty() -> Batch:
        z = np.empty(0, dtype=np.int64)
        return Batch(z, z, np.empty(0, dtype=np.int8))


def _int_array(values: np.ndarray) -> array:
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out


def region_bounds(job: Job) -> tuple[int, int]:
    """[start, end) of the job's I/O inside its mapping (fio's file_offset .. real size).

    offset=N% is aligned up to the minimum block size; clone k starts offset_increment*k
    later; the end is ``size``.  An empty range means the job does no I/O.
    """
    min_bs = min(job.bs_min)
    start = job.offset
    if job.offset_percent:
        pct = job.size * job.offset_percent // 100
        start += -(-pct // min_bs) * min_bs
    start += job.subjob * job.offset_increment
    return min(start, job.size), job.size


class AccessPattern:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.random = job.rw in RANDOM_MODES
        self.mixed = job.rw in MIXED_MODES
        self.fixed_dir = WRITE if job.rw in ("write", "randwrite") else READ
        self.writes = job.rw in WRITE_MODES
        self.start, self.end = region_bounds(job)
        self.sizers = tuple(
            BlockSizer(job.bs_min[d], job.bs_max[d], job.bssplit[d], job.bs_unaligned) for d in (READ, WRITE)
        )
        active = (READ, WRITE) if self.mixed else (self.fixed_dir,)
        self.min_bs = min(self.sizers[d].min for d in active)
        self.max_bs = max(self.sizers[d].max for d in active)
        self.fixed_len = len({(self.sizers[d].min, self.sizers[d].max) for d in active}) == 1 and all(
            self.sizers[d].fixed for d in active
        )
        # time_based needs a runtime; fio warns and drops it otherwise.
        self.time_based = job.time_based and job.runtime_ns > 0
        # Sequential writes wrap inside a loop when io_size > size (fio get_next_seq_offset).
        self.wrap_at_end = self.time_based or (self.writes and job.io_size > job.size)
        self.seq_add = job.rw_postfix if not self.random else 0
        self.seq_nr = job.rw_postfix if self.random and job.rw_postfix > 1 else 0
        self.identical = job.rw_sequencer == "identical"
        self.perc_rand = job.percentage_random
        # Random grid: blocks of blockalign; fio reduces the region by (min_bs - ba).
        self.ba = tuple(job.blockalign[d] if self.random else self.sizers[d].min for d in (READ, WRITE))
        region = max(self.end - self.start, 0)
        region -= region % self.min_bs
        self.lastb = tuple(
            max(region - max(self.min_bs - self.ba[d], 0), 0) // self.ba[d] for d in (READ, WRITE)
        )
        self.use_map = (
            self.random
            and not job.norandommap
            and job.random_distribution == "random"
            and all(self.ba[d] == self.sizers[d].min for d in active)
        )
        self.map = RandomMap(self.lastb[active[0]]) if self.use_map else None
        nranges = -(-min(self.end - self.start, job.bytes_per_pass) // min(job.bs_min)) if region else 0
        self.seeder = Seeder(job.randseed, job.thread_number, job.randrepeat)
        self.streams: Streams = self.seeder.make()
        self.index_draws: tuple[IndexDraw, IndexDraw] | None = None
        if self.random and region and job.random_distribution != "random":
            self.index_draws = make_index_draws(
                job, max(nranges, 1), self.lastb[active[0]], self.ba[active[0]], self.streams.distribution
            )
        self.chooser = DirectionChooser(job.rwmixread) if self.mixed else None
        self.last_pos = [self.start, self.start]
        self.last_start = [-1, -1]
        self.exhausted = False
        self._seq_left = self.seq_nr
        self._first_loop = True
        self._template: Batch | None = None  # the first complete loop, for replays
        self._recording: list[Batch] | None = None
        self._forced_at_start = 0
        self._replay = 0
        self._tiles: dict[int, Batch] = {}
        self.start_loop()

    # ---- loop state -------------------------------------------------------------------
    def start_loop(self, max_replays: int = 1) -> int:
        """fio's clear_io_state: cursors to start, map cleared, streams re-seeded.

        A re-seeded loop repeats the previous one exactly, so a recorded loop is replayed
        instead of regenerated, up to ``max_replays`` times in one batch (when the rwmix
        state allows, see ``DirectionChooser.replay``).  Returns how many loops this
        start covers.
        """
        first, self._first_loop = self._first_loop, False
        if not first and self.seeder.repeatable:
            template = self._template
            if template is not None and not self.time_based:
                n = max_replays if self.chooser is None else self.chooser.replay(template.dirs, max_replays)
                if n:
                    self._replay = n
                    self.exhausted = False
                    return n
            self.streams = self.seeder.make()
        self.last_pos = [self.start, self.start]
        self.last_start = [-1, -1]
        if self.map is not None:
            self.map.reset()
        if self.chooser is not None:
            self.chooser.new_loop(self.streams.rwmix)
        self.exhausted = self.end - self.start < self.min_bs or (self.random and min(self.lastb) == 0)
        # Only loops that are a pure function of the seeds are recorded: not time_based
        # (no re-seed), not random rw=<mode>:N (its I/O counter runs across loops).
        recordable = self.seeder.repeatable and not self.time_based and not self.seq_nr and self._template is None
        self._recording = [] if recordable else None
        self._forced_at_start = self.chooser.forced if self.chooser is not None else 0
        return 1

    @property
    def template_ops(self) -> int:
        """I/Os of the recorded loop (0 if none): what one replay yields."""
        return len(self._template) if self._template is not None else 0

    # ---- batches ----------------------------------------------------------------------
    def _directions(self, n: int) -> np.ndarray:
        if self.chooser is not None:
            return self.chooser.choose(n)
        return np.full(n, self.fixed_dir, dtype=np.int8)

    def _give_back(self, dirs: np.ndarray) -> None:
        """Directions drawn but not used (the loop ended first) are not issued."""
        if self.chooser is not None and len(dirs):
            nw = int(dirs.sum())
            self.chooser.issued[WRITE] -= nw
            self.chooser.issued[READ] -= len(dirs) - nw

    def _lengths(self, dirs: np.ndarray) -> np.ndarray:
        if self.fixed_len:
            return np.full(len(dirs), self.min_bs, dtype=np.int64)
        out = np.empty(len(dirs), dtype=np.int64)
        for d in (READ, WRITE):
            mask = dirs == d
            k = int(mask.sum())
            if k:
                out[mask] = self.sizers[d].draw(self.streams.bs[d], k)
        return out

    def next_batch(self, n: int) -> Batch:
        """Up to ``n`` I/Os of this loop (a replayed loop comes whole, however long)."""
        if self._replay:
            assert self._template is not None
            reps, self._replay = self._replay, 0
            self.exhausted = True
            if reps == 1:
                return self._template
            tiled = self._tiles.get(reps)
            if tiled is None:  # made once and reused: replays allocate nothing new
                tiled = self._tiles[reps] = self._template.tiled(reps, self.use_map)
            return tiled
        batch = self._generate(n)
        rec = self._recording
        if rec is not None:
            rec.append(batch)
            if sum(len(b) for b in rec) > REPLAY_MAX_OPS:
                self._recording = None
            elif self.exhausted:
                forced = self.chooser.forced if self.chooser is not None else 0
                if forced == self._forced_at_start and sum(len(b) for b in rec):
                    self._template = Batch(
                        np.concatenate([b.offsets for b in rec]),
                        np.concatenate([b.lengths for b in rec]),
                        np.concatenate([b.dirs for b in rec]),
                    )
                self._recording = None
        return batch

    def _generate(self, n: int) -> Batch:
        if self.exhausted or n <= 0:
            return Batch.empty()
        if not self.random and not self.mixed and self.fixed_len and self.seq_add == 0:
            run = self._sequential_run(n)
            if len(run):
                return run
        dirs = self._directions(n)
        if self.random and self.seq_nr == 0 and min(self.perc_rand) >= 100:
            if self.use_map and self.fixed_len:
                return self._random_map_batch(dirs)
            if not self.use_map:
                return self._random_nomap_batch(dirs)
        if not self.random and self.seq_add == 0:
            batch = self._sequential_batch(dirs)
            if len(batch):
                return batch
            # The very next I/O needs care (region end, wrap, redraw): per-I/O path below.
            dirs = self._directions(1)
        return self._per_io_batch(dirs)

    def _random_map_batch(self, dirs: np.ndarray) -> Batch:
        """Uniform one-block I/Os through the map; under time_based a full map is
        cleared and the batch goes on (so a small region still fills whole batches)."""
        assert self.map is not None
        if self.time_based:
            cand = self.streams.offset.integers(0, self.map.nblocks, size=len(dirs), dtype=np.int64)
            offs = self.start + self.map.claim_cycling(cand) * self.ba[READ]
            lens = np.full(len(dirs), self.min_bs, dtype=np.int64)
            self._remember(offs, lens, dirs)
            return Batch(offs, lens, dirs)
        parts: list[np.ndarray] = []
        want = len(dirs)
        got = 0
        while got < want:
            if self.map.full:
                if not self.time_based:
                    self.exhausted = True
                    break
                self.map.reset()
            cand = self.streams.offset.integers(0, self.map.nblocks, size=min(want - got, self.map.free), dtype=np.int64)
            blocks = self.map.claim_single(cand)
            parts.append(blocks)
            got += len(blocks)
        if self.map.full and not self.time_based:
            self.exhausted = True
        if got < want:
            self._give_back(dirs[got:])
            dirs = dirs[:got]
        blocks = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        offs = self.start + blocks * self.ba[READ]
        lens = np.full(got, self.min_bs, dtype=np.int64)
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _random_nomap_batch(self, dirs: np.ndarray) -> Batch:
        n = len(dirs)
        offs = np.empty(n, dtype=np.int64)
        for d in (READ, WRITE):
            mask = dirs == d
            k = int(mask.sum())
            if not k:
                continue
            if self.index_draws is not None:
                blocks = np.minimum(self.index_draws[d](self.streams.offset, k), self.lastb[d] - 1)
            else:
                blocks = self.streams.offset.integers(0, self.lastb[d], size=k, dtype=np.int64)
            offs[mask] = self.start + blocks * self.ba[d]
        lens = self._lengths(dirs)
        bad = np.flatnonzero(offs + lens > self.end)
        for i in bad.tolist():  # redraw lengths that cross the region end
            d = int(dirs[i])
            lens[i] = self.sizers[d].draw_fitting(self.streams.bs[d], self.end - int(offs[i]))
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _sequential_run(self, n: int) -> Batch:
        """One direction, equal blocks, no holes: the next run up to the region end."""
        d, bs = self.fixed_dir, self.min_bs
        pos = self.last_pos[d]
        if self.wrap_at_end and pos + bs > self.end:
            pos = self.start
        k = min(n, max((self.end - pos) // bs, 0))
        if k == 0:
            return Batch.empty()
        self.last_start[d] = pos + (k - 1) * bs
        self.last_pos[d] = pos + k * bs
        return Batch.run(pos, bs, k, d)

    def _sequential_batch(self, dirs: np.ndarray) -> Batch:
        """Contiguous I/Os per direction; stops before the first one that would not fit.

        Fixed-size I/Os that wrap (time_based, or io_size beyond size) wrap inside the
        batch: offsets run modulo the largest multiple of the block size in the region.
        """
        lens = self._lengths(dirs)
        offs = np.empty(len(dirs), dtype=np.int64)
        span = self.end - self.start
        wrap = self.wrap_at_end and self.fixed_len and span >= self.min_bs
        span -= span % self.min_bs
        for d in (READ, WRITE):
            mask = dirs == d
            if mask.any():
                dl = lens[mask]
                rel = self.last_pos[d] - self.start + np.cumsum(dl) - dl
                offs[mask] = self.start + (rel % span if wrap else rel)
        if wrap:
            k = len(dirs)
        else:
            bad = np.flatnonzero(offs + lens > self.end)
            k = len(dirs) if len(bad) == 0 else int(bad[0])
        self._give_back(dirs[k:])
        batch = Batch(offs[:k], lens[:k], dirs[:k])
        self._remember(batch.offsets, batch.lengths, batch.dirs)
        return batch

    def _remember(self, offs: np.ndarray, lens: np.ndarray, dirs: np.ndarray) -> None:
        """Cursor state after a batch: last start and end per direction."""
        for d in (READ, WRITE):
            idx = np.flatnonzero(dirs == d)
            if len(idx):
                i = int(idx[-1])
                self.last_start[d] = int(offs[i])
                self.last_pos[d] = int(offs[i] + lens[i])

    # ---- the general per-I/O path -------------------------------------------------------
    def _per_io_batch(self, dirs: np.ndarray) -> Batch:
        n = len(dirs)
        offs = np.empty(n, dtype=np.int64)
        lens = np.empty(n, dtype=np.int64)
        dlist = dirs.tolist()
        # Pre-drawn uniforms, one per I/O and purpose, so the loop makes no numpy calls.
        u_block = self.streams.offset.random(n).tolist()
        u_perc = [self.streams.seqrand[d].integers(1, 101, size=n).tolist() for d in (READ, WRITE)]
        k = 0
        for i, d in enumerate(dlist):
            io = self._one(d, u_block[i], u_perc[d][i])
            if io is None:
                self.exhausted = True
                break
            offs[k], lens[k] = io
            k += 1
        self._give_back(dirs[k:])
        return Batch(offs[:k], lens[:k], dirs[:k])

    def _is_random(self, d: int, v_perc: int) -> bool | None:
        """True: random offset; False: sequential; None: identical (rw_sequencer)."""
        if not self.random:
            return False
        if self.seq_nr:
            self._seq_left -= 1
            if self._seq_left > 0:
                return None if self.identical else False
            self._seq_left = self.seq_nr
        return self.perc_rand[d] >= 100 or v_perc <= self.perc_rand[d]

    def _seq_offset(self, d: int) -> int | None:
        pos = self.last_pos[d]
        if pos >= self.end and self.wrap_at_end:
            pos = self.start
        if pos >= self.end:
            return None
        rel = pos - self.start
        if rel and self.seq_add:
            rel += self.seq_add
            if self.start + rel >= self.end:
                rel = 0
        return self.start + rel

    def _rand_block(self, d: int, u: float) -> int | None:
        if self.map is not None:
            if self.map.full:
                if not self.time_based:
                    return None
                self.map.reset()
            return self.map.next_free(int(u * self.map.nblocks))
        if self.index_draws is not None:
            return min(int(self.index_draws[d](self.streams.offset, 1)[0]), self.lastb[d] - 1)
        return int(u * self.lastb[d])

    def _one(self, d: int, u_block: float, v_perc: int) -> tuple[int, int] | None:
        mode = self._is_random(d, v_perc)
        block = -1
        if mode is None:
            off = self.last_start[d] if self.last_start[d] != -1 else self.start
        elif mode:
            off = None
        else:
            off = self._seq_offset(d)
        if off is None:
            if not self.random:
                return None
            b = self._rand_block(d, u_block)
            if b is None:
                return None
            block = b
            off = self.start + b * self.ba[d]
        length = self.sizers[d].draw_fitting(self.streams.bs[d], self.end - off)
        if length == 0:
            return None
        if self.map is not None:
            gran = self.map_granularity
            first = (off - self.start) // gran
            nblk = -(-length // gran)
            if block >= 0:
                got = self.map.mark_run(first, nblk)
                length = min(length, got * gran)
            else:  # sequential or repeated I/O in a random job: marks, never shortened
                last = min(first + nblk, self.map.nblocks)
                self.map.free -= (last - first) - sum(self.map.used[first:last])
                self.map.used[first:last] = b"\x01" * (last - first)
        self.last_start[d] = off
        self.last_pos[d] = off + length
        return off, length

    @property
    def map_granularity(self) -> int:
        return self.min_bs
