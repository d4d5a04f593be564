"""Where each I/O goes: direction, offset and length, generated in vectorised batches.

One ``AccessPattern`` follows fio's per-file state for one job: the sequential cursors
(one per direction, both starting at the region start, so rw=rw overlaps), the random
map, the rwmix chooser and the random streams.  ``start_loop`` is fio's
``clear_io_state`` (cursors and map reset, streams re-seeded when repeatable);
``next_batch`` returns up to n I/Os and sets ``exhausted`` when this loop's region is
used up.  Under time_based the region wraps instead (cursor to start, map cleared, no
re-seed).  The common cases (sequential with one cursor step, uniform random with or
without the map, fixed block sizes) are whole-batch numpy or compiled claims through the
map; the rest (holes with mixed directions or drawn lengths, ``rw=<mode>:N`` in random
jobs, the identical sequencer, percentage_random) is fio's walk I/O by I/O in compiled
code (``loadgen.engine.walk``), over pre-drawn random numbers.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from loadgen.engine import randmap, walk
from loadgen.engine.blocksize import BlockSizer
from loadgen.engine.distribution import IndexDraw, make_index_draws
from loadgen.engine.lfsr import Lfsr
from loadgen.engine.randmap import RandomMap
from loadgen.engine.rwmix import DirectionChooser
from loadgen.engine.streams import SEED_BLOCK, Seeder, Streams
from loadgen.engine.walk import seq_next
from loadgen.plan import READ, WRITE, Job, RwMode, VerifyKind
from loadgen.replaylog import ReplayOptions
from loadgen.replaylog import load as load_replay

# Loops up to this many I/Os are recorded and replayed: a loop of one batch (the one
# that matters, a small region looped many times) is kept as it is, and a longer one is
# regenerated, since keeping its batches alive would fault fresh heap in the window.
REPLAY_MAX_OPS = 1 << 12
_NO_WORDS = np.zeros(1, dtype=np.uint64)  # the walk's map and register when there are none
_NO_LFSR = np.zeros(5, dtype=np.uint64)
GENERATORS = ("tausworthe", "tausworthe64", "lfsr")
# fio draws these over the file's blocks (filesetup.c __init_rand_distribution), not over a
# zone's or the region's
SPREAD_DISTRIBUTIONS = ("zipf", "pareto", "normal")


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _skip_run(pos: int, start: int, end: int, add: int, wrap: bool, bs: int, out: Any) -> int:
    """Fixed-size sequential I/Os with holes (``rw=read:-8k``) into ``out``; returns how
    many fit before the loop ends (an offset is refused or a block crosses the end)."""
    for i in range(len(out)):
        off = seq_next(pos, start, end, add, wrap)
        if off < 0 or off + bs > end:
            return i
        out[i] = off
        pos = off + bs
    return len(out)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _zone_run(state: Any, start: int, zone_end: int, real_end: int, stride: int,
              zone_size: int, bs: int, out: Any) -> int:
    """Fixed-size sequential I/Os zone by zone (zonemode=strided) into ``out``.

    ``state`` holds [zone base, bytes left in the zone, cursor, bytes left in the loop,
    exhausted] and is updated; the cursor goes round ``[start, zone_end)`` and is moved by
    the zone base.  Returns how many I/Os were made.
    """
    base, left, pos, budget = state[0], state[1], state[2], state[3]
    k = 0
    while k < len(out):
        if budget <= 0:
            state[4] = 1
            break
        if left <= 0:
            base += stride
            if start + base >= real_end:
                base = 0
            left = zone_size
            pos = start
        if pos + bs > zone_end:
            pos = start
        off = pos + base
        if off + bs > real_end:
            state[4] = 1
            break
        out[k] = off
        k += 1
        pos += bs
        left -= bs
        budget -= bs
    state[0], state[1], state[2], state[3] = base, left, pos, budget
    return k


class Batch:
    """Up to n I/Os as arrays: absolute offsets into the mapping, lengths, directions
    (0 = read)."""

    __slots__ = ("dirs", "lengths", "offsets")

    def __init__(self, offsets: np.ndarray, lengths: np.ndarray, dirs: np.ndarray) -> None:
        self.offsets = offsets
        self.lengths = lengths
        self.dirs = dirs

    def __len__(self) -> int:
        return len(self.offsets)

    @staticmethod
    def empty() -> Batch:
        z = np.empty(0, dtype=np.int64)
        return Batch(z, z, np.empty(0, dtype=np.int8))


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
        rw = RwMode(job.rw)
        if job.random_generator not in GENERATORS:
            raise ValueError(
                f"random_generator={job.random_generator}: expected one of {', '.join(GENERATORS)}"
            )
        self.random = rw.random
        self.mixed = rw.mixed
        self.fixed_dir = WRITE if rw.writes and not rw.mixed else READ
        self.writes = rw.writes
        self.start, self.end = region_bounds(job)
        # zonemode=strided (fio setup_strided_zone_mode): the pattern runs over one zone,
        # [start, start + zonerange), for zonesize bytes, then moves zonerange + zoneskip
        # on (back to the start past the region end); offsets are shifted by ``_zone_base``.
        self.zoned = job.zone_size > 0
        self.real_end = self.end
        if self.zoned:
            self.end = min(self.start + job.zone_range, self.real_end)
        self._zone_base = 0
        self._zone_left = job.zone_size
        self.sizers = tuple(
            BlockSizer(job.bs_min[d], job.bs_max[d], job.bssplit[d], job.bs_unaligned)
            for d in (READ, WRITE)
        )
        active = (READ, WRITE) if self.mixed else (self.fixed_dir,)
        # bs_is_seq_rand with two slots (the resolver keeps them only for random jobs): the
        # offsets by the direction's grid, the lengths by the I/O's slot, in the walk
        self.seq_rand = job.bs_is_seq_rand and self.random and (
            job.bs_min[READ], job.bs_max[READ], job.bssplit[READ]
        ) != (job.bs_min[WRITE], job.bs_max[WRITE], job.bssplit[WRITE])
        self.min_bs = min(self.sizers[d].min for d in active)
        self.max_bs = max(self.sizers[d].max for d in ((READ, WRITE) if self.seq_rand else active))
        self.fixed_len = not self.seq_rand and len(
            {(self.sizers[d].min, self.sizers[d].max) for d in active}
        ) == 1 and all(self.sizers[d].fixed for d in active)
        # time_based needs a runtime; fio warns and drops it otherwise.
        self.time_based = job.time_based and job.runtime_ns > 0
        # the region (a zone) is used round and round rather than ending the loop
        self.cycling = self.time_based or self.zoned
        # Sequential writes wrap inside a loop when io_size > size (fio get_next_seq_offset).
        self.wrap_at_end = self.cycling or (self.writes and job.io_size > job.size)
        self.seq_add = job.rw_postfix if not self.random else 0
        self.seq_nr = job.rw_postfix if self.random and job.rw_postfix > 1 else 0
        self.identical = job.rw_sequencer == "identical"
        # Holes can cycle through the region for ever (a backward skip always finds an
        # offset): such a loop ends after its bytes, as fio's does at io_size.
        cycles = self.seq_add or self.zoned
        self.pass_cap = job.bytes_per_pass if cycles and not self.time_based else 0
        self._pass_left = self.pass_cap
        self.perc_rand = job.percentage_random
        # Random grid: blocks of blockalign; fio reduces the region by (min_bs - ba).
        self.ba = tuple(
            job.blockalign[d] if self.random else self.sizers[d].min for d in (READ, WRITE)
        )
        region = max(self.end - self.start, 0)
        region -= region % self.min_bs
        self.lastb = tuple(
            max(region - max(self.min_bs - self.ba[d], 0), 0) // self.ba[d] for d in (READ, WRITE)
        )
        # fio sizes the map by its smallest block size over both directions (rw_min_bs)
        # and indexes it with each direction's own block number.
        self.rw_min_bs = min(self.sizers[d].min for d in (READ, WRITE))
        # zipf/pareto/normal draw over the whole file, as fio's (its file size and io_size
        # are both ``size`` here), whatever the zones or the start offset: an I/O may leave
        # its zone, and one at or past the file end ends the loop; from their own
        # generator, so no shift register (and no map)
        self.spread = self.random and job.random_distribution in SPREAD_DISTRIBUTIONS
        self.seeder = Seeder(
            job.randseed,
            job.thread_number,
            reseed=job.randrepeat,
            fixed=job.randrepeat or job.randseed_set,
            use64=job.random_generator == "tausworthe64",
            verify=job.verify.kind is not VerifyKind.NONE,
        )
        self.lfsr: Lfsr | None = None
        if self.random and job.random_generator == "lfsr" and region and not self.spread:
            self.lfsr = Lfsr(region // self.rw_min_bs, self.seeder.seeds[SEED_BLOCK])
        self.use_map = (
            self.random
            and self.lfsr is None
            and not job.norandommap
            and job.random_distribution == "random"
            and all(self.ba[d] == self.sizers[d].min for d in active)
        )
        self.map = RandomMap(region // self.rw_min_bs) if self.use_map else None
        self._geo, self._split = self._sized_geometry()
        self.map_lastb = self.lastb[active[0]]
        self.map_ba = self.ba[active[0]]
        nranges = -(-self.real_end // min(job.bs_min)) if region else 0
        self.streams: Streams = self.seeder.make()
        self.index_draws: tuple[IndexDraw, IndexDraw] | None = None
        # random_distribution=sequence (fio __get_next_rand_offset_sequence): block indices
        # from the list by the direction's issued I/Os, counted across loops as fio's
        # io_issues; a block past the direction's last ends the loop
        self.sequence: np.ndarray | None = None
        self._issued = [0, 0]
        if self.random and region and job.random_distribution == "sequence":
            self.sequence = np.asarray(job.random_sequence, dtype=np.int64)
            for d in active:
                worst = int(self.sequence.max())
                if worst >= self.lastb[d]:
                    raise ValueError(f"sequence access block {worst} in base pattern out of "
                                     f"bounds (max {self.lastb[d]})")
        elif self.random and region and job.random_distribution != "random":
            self.index_draws = make_index_draws(
                job,
                max(nranges, 1),
                self.lastb[active[0]],
                self.ba[active[0]],
                self.streams.distribution,
            )
        self.chooser = DirectionChooser(job.rwmixread) if self.mixed else None
        self.last_pos = [self.start, self.start]
        self.last_start = [-1, -1]
        self.exhausted = False
        # fio (init.c) starts the counter at 1, not N, so the first I/O decides
        self._seq_left = 1
        self._first_loop = True
        self._template: Batch | None = None  # the first complete loop, for replays
        self._recording: list[Batch] | None = None
        self._forced_at_start = 0
        self._replay = 0
        self.repeat = 1  # how many times the runner runs the last batch (replayed loops)
        # read_iolog: each loop is the log, one batch; ``replay_due`` says when each of its
        # I/Os is due (ns since the loop started; None: no stalls)
        self.replay: Batch | None = None
        self.replay_due: np.ndarray | None = None
        if job.read_iolog:
            log = load_replay(job.read_iolog, ReplayOptions(
                job.replay_no_stall, job.replay_time_scale, job.replay_scale,
                job.replay_align, job.replay_skip))
            if log.extent > job.size:
                raise ValueError(f"read_iolog={job.read_iolog}: the log needs {log.extent} "
                                 f"bytes, the region has {job.size} (it changed since the check)")
            self.replay = Batch(log.offsets, log.lengths, log.dirs)
            self.replay_due = log.due_ns
            self.max_bs = max(self.max_bs, int(log.lengths.max()))
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
        if self.replay is not None:
            self.exhausted = not first  # fio replays a log once, whatever loops says
            return 1
        if not first and self.seeder.repeatable:
            template = self._template
            if template is not None and not self.time_based:
                n = (
                    max_replays
                    if self.chooser is None
                    else self.chooser.replay(template.dirs, max_replays)
                )
                if n:
                    self._replay = n
                    self.exhausted = False
                    return n
            self.streams = self.seeder.make()
        # fio resets the cursors (and map) when an offset is refused (the file is
        # reopened); a loop that ended at its bytes goes on from where it was, zones and
        # all (checked: rw=read:-12k loops=2 continues the backward walk, and strided zones
        # with loops=2 go on with the next zone)
        continued = bool(self.pass_cap) and self._pass_left <= 0
        if not continued:
            self._zone_base, self._zone_left = 0, self.job.zone_size
            self.last_pos = [self.start, self.start]
            self.last_start = [-1, -1]
        self._pass_left = self.pass_cap
        if self.map is not None and not continued:
            self.map.reset()
        if self.lfsr is not None and not continued:
            self.lfsr.reset()
        if self.chooser is not None:
            self.chooser.new_loop(self.streams.rwmix)
        self.exhausted = self.end - self.start < self.min_bs or (
            self.random and min(self.lastb) == 0
        )
        # Only loops that are a pure function of the seeds are recorded: not time_based
        # (no re-seed), not random rw=<mode>:N (its I/O counter runs across loops).
        recordable = (
            self.seeder.repeatable
            and not self.time_based
            and not self.seq_nr
            and not self.pass_cap
            and self.sequence is None  # its count runs on across loops, as fio's io_issues
            and self._template is None
        )
        self._recording = [] if recordable else None
        self._forced_at_start = self.chooser.forced if self.chooser is not None else 0
        return 1

    def reset_issued(self) -> None:
        """The ramp's end: fio's reset_all_stats zeroes io_issues, so the rwmix counts and
        a sequence's place in its list start again from 0."""
        self._issued = [0, 0]
        if self.chooser is not None:
            self.chooser.reset_counts()

    @property
    def template_ops(self) -> int:
        """I/Os of the recorded loop (0 if none): what one replay yields."""
        return len(self._template) if self._template is not None else 0

    # ---- batches ----------------------------------------------------------------------
    def _directions(self, n: int) -> np.ndarray:
        if self.chooser is not None:
            return self.chooser.choose(n)
        return np.full(n, self.fixed_dir, dtype=np.int8)

    def _give_back(self, dirs: np.ndarray, failed: bool = False) -> None:
        """Directions chosen but not used (the batch or the loop ended first) are not
        chosen; with ``failed`` the first of them was, for an I/O that found no offset
        (``DirectionChooser.unchoose``)."""
        if self.chooser is not None and len(dirs):
            self.chooser.unchoose(len(dirs), failed)

    def _lengths(self, dirs: np.ndarray) -> np.ndarray:
        if self.fixed_len:
            return np.full(len(dirs), self.min_bs, dtype=np.int64)
        out = np.empty(len(dirs), dtype=np.int64)
        for d in (READ, WRITE):
            mask = dirs == d
            k = int(mask.sum())
            if k:
                out[mask] = self.sizers[d].draw(self.streams.bs(d), k)
        return out

    def next_batch(self, n: int) -> Batch:
        """Up to ``n`` I/Os of this loop (a replayed loop comes whole, however long)."""
        if self.replay is not None:
            self.repeat = 1
            if self.exhausted or n <= 0:
                return Batch.empty()
            self.exhausted = True
            return self.replay
        if self._replay:
            assert self._template is not None
            self.repeat, self._replay = self._replay, 0
            self.exhausted = True
            return self._template
        self.repeat = 1
        batch = self._zone_batch(n) if self.zoned else self._generate(n)
        if self.pass_cap:
            batch = self._capped(batch)
        rec = self._recording
        if rec is not None:
            rec.append(batch)
            if sum(len(b) for b in rec) > REPLAY_MAX_OPS:
                self._recording = None
            elif self.exhausted:
                forced = self.chooser.forced if self.chooser is not None else 0
                if forced == self._forced_at_start and len(rec) == 1 and len(rec[0]):
                    self._template = rec[0]
                elif forced == self._forced_at_start and any(len(b) for b in rec):
                    self._template = Batch(
                        np.concatenate([b.offsets for b in rec]),
                        np.concatenate([b.lengths for b in rec]),
                        np.concatenate([b.dirs for b in rec]),
                    )
                self._recording = None
        return batch

    def _zone_batch(self, n: int) -> Batch:
        """Up to ``n`` I/Os, zone visit after zone visit (so small zones still make long
        batches); stops early at this loop's bytes or when the loop ends."""
        if not self.random and not self.mixed and self.fixed_len and not self.seq_add:
            return self._zone_seq_batch(n)
        if (self.random and self.fixed_len and self.map is not None
                and self.map.nblocks == self.map_lastb and self.seq_nr == 0
                and min(self.perc_rand) >= 100):
            return self._zone_rand_batch(n)
        parts: list[Batch] = []
        got = 0
        issued = 0
        while got < n and not self.exhausted:
            if self._zone_left <= 0:
                self._next_zone()
            part = self._zone_visit(n - got)
            if not len(part):
                break
            parts.append(part)
            got += len(part)
            issued += int(part.lengths.sum())
            if self.pass_cap and issued >= self._pass_left:
                break
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Batch.empty()
        return Batch(np.concatenate([b.offsets for b in parts]),
                     np.concatenate([b.lengths for b in parts]),
                     np.concatenate([b.dirs for b in parts]))

    def _zone_seq_batch(self, n: int) -> Batch:
        """Sequential equal blocks in zones, in compiled code (any zone size)."""
        d, bs = self.fixed_dir, self.min_bs
        budget = self._pass_left if self.pass_cap else 1 << 62
        state = np.array([self._zone_base, self._zone_left, self.last_pos[d], budget, 0],
                         dtype=np.int64)
        offs = np.empty(n, dtype=np.int64)
        job = self.job
        k = _zone_run(state, self.start, self.end, self.real_end,
                      job.zone_range + job.zone_skip, job.zone_size, bs, offs)
        self._zone_base, self._zone_left = int(state[0]), int(state[1])
        self.last_pos[d] = int(state[2])
        if state[4]:
            self.exhausted = True
        return Batch(offs[:k], np.full(k, bs, dtype=np.int64), np.full(k, d, dtype=np.int8))

    def _zone_rand_batch(self, n: int) -> Batch:
        """Uniform one-block random I/Os through a map cleared at each zone visit (and when
        full), vectorised over the visits: equal blocks make every visit's I/O count known."""
        assert self.map is not None
        job, bs = self.job, self.min_bs
        if self.pass_cap:
            n = min(n, -(-self._pass_left // bs))
        if n <= 0:
            self.exhausted = True
            return Batch.empty()
        per_visit = -(-job.zone_size // bs)
        first = -(-self._zone_left // bs) if self._zone_left > 0 else 0
        j = np.arange(n, dtype=np.int64)
        visit = np.where(j < first, 0, 1 + (j - first) // per_visit)
        resets = np.flatnonzero((j >= first) & ((j - first) % per_visit == 0))
        stride = job.zone_range + job.zone_skip
        nzones = -(-(self.real_end - self.start) // stride)
        base = ((self._zone_base // stride + visit) % nzones) * stride
        dirs = self._directions(n)
        offs = self.start + self._claim_cycling(n, resets) * self.map_ba + base
        k = n
        bad = np.flatnonzero(offs + bs > self.real_end)  # fio: past the file, the loop ends
        if len(bad):
            k = int(bad[0])
            self.exhausted = True
            self._give_back(dirs[k:], failed=True)
        if k:
            last = int(visit[k - 1])
            done_in_last = (k - first if last else k) - (max(last - 1, 0) * per_visit)
            self._zone_base = int(base[k - 1])
            self._zone_left = ((self._zone_left if last == 0 else job.zone_size)
                               - done_in_last * bs)
        return Batch(offs[:k], np.full(k, bs, dtype=np.int64), dirs[:k])

    def _next_zone(self) -> None:
        """fio's zone switch: zonerange + zoneskip on, back to the start past the end, and
        the cursors and map of a fresh zone (fio_file_reset)."""
        job = self.job
        self._zone_base += job.zone_range + job.zone_skip
        if self.start + self._zone_base >= self.real_end:
            self._zone_base = 0
        self._zone_left = job.zone_size
        self.last_pos = [self.start, self.start]
        self.last_start = [-1, -1]
        if self.map is not None:
            self.map.reset()
        if self.lfsr is not None:
            self.lfsr.reset()

    def _zone_visit(self, n: int) -> Batch:
        """The next I/Os of the current zone, moved to where the zone lies; a zone is done
        once zonesize bytes went to it (the I/O that crosses it is whole, as fio's)."""
        want = min(n, -(-self._zone_left // max(self.min_bs, 1)))
        batch = self._generate(want)
        done_before = np.cumsum(batch.lengths) - batch.lengths
        k = int(np.searchsorted(done_before, self._zone_left, side="left"))
        offs = batch.offsets[:k] + self._zone_base
        lens, dirs = batch.lengths[:k], batch.dirs[:k]
        bad = np.flatnonzero(offs + lens > self.real_end)  # fio: past the file, the loop ends
        if len(bad):
            k = int(bad[0])
            offs, lens, dirs = offs[:k], lens[:k], dirs[:k]
            self.exhausted = True
        self._give_back(batch.dirs[k:])
        self._zone_left -= int(lens.sum())
        return Batch(offs, lens, dirs)

    def _capped(self, batch: Batch) -> Batch:
        """The I/Os that start before this loop's bytes are done (``pass_cap``)."""
        done_before = np.cumsum(batch.lengths) - batch.lengths
        k = int(np.searchsorted(done_before, self._pass_left, side="left"))
        if k < len(batch):
            self.exhausted = True
            self._give_back(batch.dirs[k:])
            batch = Batch(batch.offsets[:k], batch.lengths[:k], batch.dirs[:k])
            if not self.zoned:  # zone cursors are kept inside the zone, not in the region
                self._remember(batch.offsets, batch.lengths, batch.dirs)
        self._pass_left -= int(batch.lengths.sum())
        if self._pass_left <= 0:
            self.exhausted = True
        return batch

    def _generate(self, n: int) -> Batch:
        if self.exhausted or n <= 0:
            return Batch.empty()
        if not self.random and not self.mixed and self.fixed_len:
            run = self._sequential_run(n) if self.seq_add == 0 else self._skip_batch(n)
            if len(run) or self.seq_add:
                return run
        dirs = self._directions(n)
        if self.seq_rand:
            return self._walk_batch(dirs)
        if self.random and self.seq_nr == 0 and min(self.perc_rand) >= 100:
            if self.lfsr is not None:
                return self._lfsr_batch(dirs)
            if self.map is not None and self.fixed_len and self.map.nblocks == self.map_lastb:
                return self._random_map_batch(dirs)
            if self.map is not None:
                return self._random_map_sized_batch(dirs)
            if not self.use_map:
                return self._random_nomap_batch(dirs)
        if not self.random and self.seq_add == 0:
            batch = self._sequential_batch(dirs)
            if len(batch):
                return batch
            # The very next I/O needs care (region end, wrap, redraw): per-I/O path below.
            dirs = self._directions(1)
        return self._walk_batch(dirs)

    def _random_map_batch(self, dirs: np.ndarray) -> Batch:
        """Uniform one-block I/Os through the map; under time_based a full map is
        cleared and the batch goes on (so a small region still fills whole batches)."""
        assert self.map is not None
        if self.cycling:
            offs = self.start + self._claim_cycling(len(dirs)) * self.map_ba
            lens = np.full(len(dirs), self.min_bs, dtype=np.int64)
            self._remember(offs, lens, dirs)
            return Batch(offs, lens, dirs)
        parts: list[np.ndarray] = []
        want = len(dirs)
        got = 0
        while got < want:
            if self.map.full:
                if not self.cycling:
                    self.exhausted = True
                    break
                self.map.reset()
            cand = self.streams.offset.integers(
                0, self.map.nblocks, size=min(want - got, self.map.free), dtype=np.int64
            )
            blocks = self.map.claim_single(cand)
            parts.append(blocks)
            got += len(blocks)
        if self.map.full and not self.cycling:
            self.exhausted = True
            self._fail(dirs[got:])
            dirs = dirs[:got]
        blocks = (
            parts[0]
            if len(parts) == 1
            else np.concatenate(parts)
            if parts
            else np.empty(0, dtype=np.int64)
        )
        offs = self.start + blocks * self.map_ba
        lens = np.full(got, self.min_bs, dtype=np.int64)
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _claim_cycling(self, n: int, resets: np.ndarray | None = None) -> np.ndarray:
        """``n`` one-block claims through a map that is cleared when full (and before the
        I/O indices in ``resets``), taking from the offset stream only the draws used."""
        assert self.map is not None
        parts: list[np.ndarray] = []
        got = 0
        while got < n:
            want = n - got
            cand = self.streams.offset.peek_integers(
                0, self.map.nblocks, want + want // max(self.map.nblocks, 1) + 2)
            at = resets[resets >= got] - got if resets is not None else np.empty(0, np.int64)
            blocks, used = self.map.claim_cycling(cand, want, at)
            self.streams.offset.skip(used)
            parts.append(blocks)
            got += len(blocks)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _fail(self, dirs: np.ndarray) -> None:
        """The loop ended because the next I/O found no block in the map: fio chose that
        I/O's direction and drew its offset before finding out (the I/O may be the first
        of ``dirs``, or one of the next batch when ``dirs`` is empty)."""
        if not len(dirs):
            dirs = self._directions(1)
        self._give_back(dirs, failed=True)
        self.streams.offset.raw(1)

    def _sized_geometry(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """What ``RandomMap.claim_sized`` needs of the region and each direction's sizer."""
        geo = np.zeros(randmap.G_SIZE, dtype=np.int64)
        split_bs: list[int] = []
        split_cum: list[float] = []
        for d in (READ, WRITE):
            z, g = self.sizers[d], randmap.G_STRIDE * d
            geo[g + randmap.G_LASTB] = self.lastb[d]
            geo[g + randmap.G_BA] = self.ba[d]
            geo[g + randmap.G_MIN] = max(z.min, 1)
            geo[g + randmap.G_MAX] = z.max
            geo[g + randmap.G_UNALIGNED] = z.unaligned
            geo[g + randmap.G_FIXED] = z.fixed
            geo[g + randmap.G_NSPLIT] = len(z.split_bs)
            geo[g + randmap.G_SPLIT_AT] = len(split_bs)
            split_bs += z.split_bs.tolist()
            split_cum += z.split_cum.tolist()
        geo[randmap.G_START] = self.start
        geo[randmap.G_END] = self.end
        return geo, (
            np.array(split_bs or [0], dtype=np.int64),
            np.array(split_cum or [0.0], dtype=np.float64),
        )

    def _random_map_sized_batch(self, dirs: np.ndarray) -> Batch:
        """Random I/Os through the map with drawn lengths or per-direction block sizes, in
        compiled code; a batch ends early, not exhausted, when its pre-drawn block sizes
        run out (redraws near the region end)."""
        assert self.map is not None
        n = len(dirs)
        u_block = self.streams.offset.peek(n + n // max(self.map.nblocks, 1) + 2)
        offs, lens, status, taken = self.map.claim_sized(
            dirs, u_block, self._geo, self._split, self._bs_draws(dirs), self.cycling
        )
        self._take_draws(taken)
        k = len(offs)
        exhausted = status == randmap.SIZED_EXHAUSTED
        if exhausted:
            self.exhausted = True
        self._give_back(dirs[k:], failed=exhausted)
        dirs = dirs[:k]
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _lfsr_batch(self, dirs: np.ndarray) -> Batch:
        """Blocks in the shift register's order (each once per loop; time_based starts the
        register again when a loop's blocks are used up); lengths fit or the loop ends."""
        assert self.lfsr is not None
        blocks = self.lfsr.take(len(dirs))
        if self.cycling:
            while len(blocks) < len(dirs):
                self.lfsr.reset()
                blocks = np.concatenate([blocks, self.lfsr.take(len(dirs) - len(blocks))])
        ba = np.where(dirs == WRITE, self.ba[WRITE], self.ba[READ])
        offs = self.start + blocks * ba[: len(blocks)]
        lens = self._lengths(dirs[: len(blocks)])
        bad = np.flatnonzero(offs + lens > self.end)
        k = len(blocks) if len(bad) == 0 else int(bad[0])
        if k < len(dirs):
            self.exhausted = True
            self._give_back(dirs[k:])
        self._remember(offs[:k], lens[:k], dirs[:k])
        return Batch(offs[:k], lens[:k], dirs[:k])

    def _sequence_blocks(self, d: int, k: int) -> np.ndarray:
        """The next ``k`` blocks of direction ``d`` from the sequence; -1 past the last."""
        assert self.sequence is not None
        issued = self._issued[d] + np.arange(k, dtype=np.int64)
        self._issued[d] += k
        n = len(self.sequence)
        blocks = self.sequence[issued % n]
        if self.job.random_sequence_stride:
            blocks = blocks + (issued // n) * n
        return np.where(blocks < self.lastb[d], blocks, -1)

    def _random_nomap_batch(self, dirs: np.ndarray) -> Batch:
        n = len(dirs)
        offs = np.empty(n, dtype=np.int64)
        if self.sequence is not None:
            blocks = np.empty(n, dtype=np.int64)
            for d in (READ, WRITE):
                mask = dirs == d
                if mask.any():
                    blocks[mask] = self._sequence_blocks(d, int(mask.sum()))
            past = np.flatnonzero(blocks < 0)
            if len(past):  # fio: no offset for this I/O, the loop ends before it
                k = int(past[0])
                for d in (READ, WRITE):  # the I/Os not issued are not counted
                    self._issued[d] -= int((dirs[k:] == d).sum())
                self.exhausted = True
                self._give_back(dirs[k:])
                dirs, blocks, offs = dirs[:k], blocks[:k], offs[:k]
            for d in (READ, WRITE):
                mask = dirs == d
                offs[mask] = self.start + blocks[mask] * self.ba[d]
            lens = self._lengths(dirs)
            self._remember(offs, lens, dirs)
            return Batch(offs, lens, dirs)
        if self.spread:
            return self._spread_batch(dirs)
        draws = self.index_draws
        if draws is None:
            # one draw per I/O in issue order, over the I/O's own direction's blocks
            u = self.streams.offset.random(n)
            blocks = (np.array(self.lastb, dtype=np.float64)[dirs] * u).astype(np.int64)
            offs[:] = self.start + blocks * np.array(self.ba, dtype=np.int64)[dirs]
        else:
            for d in (READ, WRITE):
                mask = dirs == d
                k = int(mask.sum())
                if k:
                    blocks = np.minimum(draws[d](self.streams.offset, k), self.lastb[d] - 1)
                    offs[mask] = self.start + blocks * self.ba[d]
        lens = self._lengths(dirs)
        bad = np.flatnonzero(offs + lens > self.end)
        for i in bad.tolist():  # redraw lengths that cross the region end
            d = int(dirs[i])
            lens[i] = self.sizers[d].draw_fitting(self.streams.bs(d), self.end - int(offs[i]))
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _spread_batch(self, dirs: np.ndarray) -> Batch:
        """zipf/pareto/normal I/Os: blocks over the whole file times the direction's
        blockalign, from the zone start (fio's get_next_offset); the loop ends before the
        first I/O that starts at or crosses the file end."""
        assert self.index_draws is not None
        n = len(dirs)
        offs = np.empty(n, dtype=np.int64)
        for d in (READ, WRITE):
            mask = dirs == d
            k = int(mask.sum())
            if k:
                offs[mask] = self.start + self.index_draws[d](self.streams.offset, k) * self.ba[d]
        lens = self._lengths(dirs)
        ends = offs + self._zone_base + lens
        k = n
        if self.fixed_len:
            bad = np.flatnonzero(ends > self.real_end)
            k = int(bad[0]) if len(bad) else n
        else:
            for i in np.flatnonzero(ends > self.real_end).tolist():
                length = self._spread_length(int(dirs[i]), int(offs[i]))
                if not length:
                    k = i
                    break
                lens[i] = length
        if k < n:
            self.exhausted = True
            self._give_back(dirs[k:])
            offs, lens, dirs = offs[:k], lens[:k], dirs[:k]
        self._remember(offs, lens, dirs)
        return Batch(offs, lens, dirs)

    def _spread_length(self, d: int, off: int) -> int:
        """The length of a zipf/pareto/normal I/O at ``off`` (zone coordinates), or 0 when
        the loop ends there: fio draws it to fit before size plus the start offset
        (io_u_fits) and then refuses one that crosses the file end."""
        at = off + self._zone_base
        if at >= self.real_end:
            return 0
        length = self.sizers[d].draw_fitting(self.streams.bs(d), self.real_end + self.start - at)
        return length if at + length <= self.real_end else 0

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
        offs = pos + bs * np.arange(k, dtype=np.int64)
        return Batch(offs, np.full(k, bs, dtype=np.int64), np.full(k, d, dtype=np.int8))

    def _skip_batch(self, n: int) -> Batch:
        """One direction, equal blocks, holes of ``rw=<mode>:N`` (backward too)."""
        d, bs = self.fixed_dir, self.min_bs
        offs = np.empty(n, dtype=np.int64)
        k = _skip_run(self.last_pos[d], self.start, self.end, self.seq_add, self.wrap_at_end,
                      bs, offs)
        if k < n:
            self.exhausted = True
        if k:
            self.last_start[d] = int(offs[k - 1])
            self.last_pos[d] = int(offs[k - 1]) + bs
        return Batch(offs[:k], np.full(k, bs, dtype=np.int64), np.full(k, d, dtype=np.int8))

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

    # ---- the general path: fio's walk, I/O by I/O, in compiled code ----------------------
    def _walk_batch(self, dirs: np.ndarray) -> Batch:
        """I/Os whose offsets depend on the ones before them (``loadgen.engine.walk``):
        modes decided for the batch, blocks and lengths in compiled code; a batch whose
        block-size draws run out goes on with fresh ones."""
        n = len(dirs)
        modes, seqrand_draws = self._modes(dirs)
        given = self._given_blocks(dirs)
        src = self._block_source()
        cur = np.array([*self.last_pos, *self.last_start, -1,
                        self.map.free if self.map is not None else 0], dtype=np.int64)
        words = self.map.words if self.map is not None else _NO_WORDS
        nblocks = self.map.nblocks if self.map is not None else 0
        reg = self.lfsr.state if self.lfsr is not None else _NO_LFSR
        reg0 = self.lfsr.initial if self.lfsr is not None else _NO_LFSR
        offs = np.empty(n, dtype=np.int64)
        lens = np.empty(n, dtype=np.int64)
        taken = np.zeros(3, dtype=np.int64)
        k = 0
        status = walk.NEED_DRAWS
        while status == walk.NEED_DRAWS and k < n:
            u_block = self.streams.offset.peek(n - k + 16)
            made, status = walk.walk(
                dirs[k:], modes[k:], u_block, given[k:], self._geo, self._split[0],
                self._split[1], self._bs_draws(dirs[k:]), cur, words, nblocks, reg, reg0, src,
                self.seq_add, self.wrap_at_end, self.cycling, self.seq_rand,
                self.real_end if self.spread else 0, self._zone_base, offs[k:], lens[k:],
                taken)
            self._take_draws(taken)
            k += made
        self.last_pos = [int(cur[walk.CUR_POS]), int(cur[walk.CUR_POS + 1])]
        self.last_start = [int(cur[walk.CUR_START]), int(cur[walk.CUR_START + 1])]
        if self.map is not None:
            self.map.free = int(cur[walk.CUR_FREE])
        exhausted = status == walk.EXHAUSTED
        self._count_modes(k + exhausted)  # fio counts the I/O that found no offset
        for d in (READ, WRITE):  # and so it drew its should_do_random
            if len(seqrand_draws[d]):
                self.streams.seqrand(d).skip(int(seqrand_draws[d][k + exhausted - 1])
                                             if k + exhausted else 0)
        if self.sequence is not None:  # the I/Os not issued are not counted
            for d in (READ, WRITE):
                self._issued[d] -= int((dirs[k:] == d).sum())
        if exhausted:
            self.exhausted = True
        self._give_back(dirs[k:], failed=exhausted)
        return Batch(offs[:k], lens[:k], dirs[:k])

    def _modes(self, dirs: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Each I/O's mode (fio's should_do_random): with ``rw=<mode>:N`` every Nth I/O
        decides, the others repeat the offset (identical) or follow on (sequential); a
        deciding I/O is random by ``percentage_random`` of its direction."""
        n = len(dirs)
        none = np.empty(0, dtype=np.int64)
        if not self.random:
            return np.full(n, walk.SEQ, dtype=np.int8), (none, none)
        modes = np.full(n, walk.RAND, dtype=np.int8)
        decides = np.ones(n, dtype=np.bool_)
        if self.seq_nr:
            i = np.arange(n)
            first = self._seq_left - 1  # the counter reaches 0 at this I/O
            decides = (i >= first) & ((i - first) % self.seq_nr == 0)
            modes[~decides] = walk.SAME if self.identical else walk.SEQ
        # fio's should_do_random draws only for a deciding I/O of a direction below 100%,
        # each direction from its own stream; the draws are only looked at here, and
        # ``drawn[d][i]`` says how many of them the first i+1 I/Os use
        drawn = [none, none]
        for d in (READ, WRITE):
            perc = self.perc_rand[d]
            if perc < 100:
                mask = decides & (dirs == d)
                k = int(np.count_nonzero(mask))
                if k:
                    v = self.streams.seqrand(d).peek_integers(1, 101, k)
                    modes[mask] = np.where(v <= perc, walk.RAND, walk.SEQ)
                    drawn[d] = np.cumsum(mask, dtype=np.int64)
        return modes, (drawn[0], drawn[1])

    def _count_modes(self, processed: int) -> None:
        """The ``rw=<mode>:N`` counter after ``processed`` I/Os of a batch."""
        if self.seq_nr and processed:
            left = self._seq_left - processed
            self._seq_left = left if left > 0 else self.seq_nr - (-left) % self.seq_nr

    def _block_source(self) -> int:
        if not self.random:
            return walk.SRC_NONE
        if self.lfsr is not None:
            return walk.SRC_LFSR
        if self.map is not None:
            return walk.SRC_MAP
        if self.sequence is not None or self.index_draws is not None:
            return walk.SRC_GIVEN
        return walk.SRC_UNIFORM

    def _given_blocks(self, dirs: np.ndarray) -> np.ndarray:
        """Per I/O, the block a random one takes from the distribution (-1: none left):
        the sequence by the direction's issued I/Os (fio's io_issues counts every I/O
        of the direction), or the distribution's draws."""
        n = len(dirs)
        if not self.random or (self.sequence is None and self.index_draws is None):
            return np.zeros(n, dtype=np.int64)
        given = np.empty(n, dtype=np.int64)
        for d in (READ, WRITE):
            mask = dirs == d
            k = int(mask.sum())
            if not k:
                continue
            if self.sequence is not None:
                given[mask] = self._sequence_blocks(d, k)
            else:
                assert self.index_draws is not None
                drawn = self.index_draws[d](self.streams.offset, k)
                # zipf/pareto/normal: any block of the file (the walk checks the end)
                given[mask] = drawn if self.spread else np.minimum(drawn, self.lastb[d] - 1)
        return given

    def _bs_draws(self, dirs: np.ndarray) -> np.ndarray:
        """Block-size draws for ``dirs``: one per I/O and some for redraws, per direction
        that draws at all."""
        nw = int(dirs.sum())
        counts = (len(dirs) - nw, nw)
        width = max(counts) + max(counts) // 8 + 16
        u_bs = np.zeros((2, width), dtype=np.float64)
        drawn = [not z.fixed for z in self.sizers]
        if self.seq_rand:  # either slot can size either direction's I/O
            drawn = [any(drawn)] * 2
        for d in (READ, WRITE):
            if counts[d] and drawn[d]:
                u_bs[d] = self.streams.bs(d).peek(width)
        return u_bs

    def _take_draws(self, taken: np.ndarray) -> None:
        """Take from the streams the draws a compiled batch used of what it was shown:
        block draws, then each direction's block-size draws (``_bs_draws``)."""
        self.streams.offset.skip(int(taken[0]))
        for d in (READ, WRITE):
            if taken[1 + d]:
                self.streams.bs(d).skip(int(taken[1 + d]))
