"""fio's I/O logs (iolog versions 2 and 3) read for ``read_iolog`` replay (fio iolog.c);
a blktrace binary trace becomes such a log first (``loadgen.blktrace``).

The resolver checks a log before anything starts (every bad line is ``FILE:LINE:
message``); the worker loads the same log into arrays.  Every file the log names replays
into the job's one region (fio's ``replay_redirect`` is implied).  Version 3 lines carry
a time in µs: an I/O is due the scaled time since the line before later than the one
before it (fio's ``delay_since_ttime``); version 2 ``wait`` lines pause until a time in ms
since the start.  ``sync``/``datasync`` lines are entries of direction ``SYNC`` (no
offset, no data): the engine's sync, which page_fault completes at once, counted and timed
as fio counts them; ``trim`` cannot be replayed into anonymous memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadgen.plan import SYNC

VERSION_2 = "fio version 2 iolog"
VERSION_3 = "fio version 3 iolog"
FILE_ACTIONS = ("add", "open", "close")
IO_ACTIONS = ("read", "write", "trim", "sync", "datasync")
SKIPPABLE = ("read", "write", "trim", "sync")
U32_MAX = 2**32 - 1


class LogError(ValueError):
    """A bad log; ``line`` is 1-based (0: the file itself)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ReplayOptions:
    """fio's replay options that change what a log becomes."""

    no_stall: bool = False
    time_scale: int = 100  # percent: 200 replays twice as fast
    scale: int = 1  # offsets divided by this (0 = 1)
    align: int = 0  # offsets aligned down to this power of two (0 = as they are)
    skip: tuple[str, ...] = ()  # I/O kinds left out (read, write, trim, sync)


@dataclass(frozen=True)
class ReplayLog:
    """The entries of a log: offsets, lengths, directions (0 = read, 1 = write, ``SYNC`` a
    sync line, offset and length 0) and when each is due, in ns since the replay started
    (None: no stalls, as fast as the engine goes)."""

    offsets: np.ndarray
    lengths: np.ndarray
    dirs: np.ndarray
    due_ns: np.ndarray | None

    @property
    def extent(self) -> int:
        """The region the log needs: the end of its furthest I/O."""
        return int((self.offsets + self.lengths).max()) if len(self.offsets) else 0

    @property
    def total_bytes(self) -> int:
        return int(self.lengths.sum())

    @property
    def ios(self) -> int:
        """Reads and writes (sync lines left out)."""
        return int(np.count_nonzero(self.dirs != SYNC))


def _number(word: str, line: int, what: str, maximum: int = 2**64 - 1) -> int:
    if not word.isascii() or not word.isdigit() or int(word) > maximum:
        raise LogError(line, f"{what} {word!r} is not a number (0..{maximum})")
    return int(word)


def parse(text: str, options: ReplayOptions) -> ReplayLog:
    """The log's I/Os; LogError names the first bad line."""
    lines = text.splitlines()
    header = lines[0].strip() if lines else ""
    if header == VERSION_3:
        version = 3
    elif header == VERSION_2:
        version = 2
    elif header.startswith("fio version") and "iolog" in header:
        raise LogError(1, f"{header!r}: only iolog versions 2 and 3 are supported (as fio)")
    else:
        raise LogError(1, "not an fio iolog: the first line must be 'fio version 2 iolog' or "
                          "'fio version 3 iolog'")
    offs: list[int] = []
    lens: list[int] = []
    dirs: list[int] = []
    due: list[int] = []
    scale = 100.0 / options.time_scale
    clock_us = 0.0  # the due time of the line being read
    last_ttime = 0
    wait_until_us = 0.0
    for number, raw in enumerate(lines[1:], start=2):
        words = raw.split()
        if not words:
            continue
        if version == 3:
            ttime = _number(words[0], number, "time")
            if last_ttime and not options.no_stall and ttime >= last_ttime:
                clock_us += (ttime - last_ttime) * scale
            last_ttime = ttime
            words = words[1:]
        if len(words) == 2:
            if words[1] not in FILE_ACTIONS:
                raise LogError(number, f"bad file action {words[1]!r} (add, open or close)")
            continue
        if len(words) != 4:
            fields = "TIME FILE ACTION" if version == 3 else "FILE ACTION"
            raise LogError(number, f"bad iolog{version} line: expected '{fields} [OFFSET "
                                   f"LENGTH]', got {raw.strip()!r}")
        _, action, offset_word, length_word = words
        if action == "wait":
            if version == 2 and not options.no_stall:  # fio: a v3 wait is ignored
                wait_until_us = max(wait_until_us, _number(offset_word, number, "time") * 1000.0)
            continue
        if action not in IO_ACTIONS:
            raise LogError(number, f"bad iolog action {action!r} (read, write, trim, sync, "
                                   "datasync or wait)")
        offset = _number(offset_word, number, "offset")
        length = _number(length_word, number, "length", U32_MAX)
        if action in options.skip:  # fio: replay_skip=sync leaves datasync lines in
            continue
        if action in ("sync", "datasync"):
            offs.append(0)
            lens.append(0)
            dirs.append(SYNC)
            due.append(int(max(clock_us, wait_until_us) * 1000))
            continue
        if action == "trim":
            raise LogError(number, "trim cannot be replayed into anonymous memory (the "
                                   "page_fault engine fails it; replay_skip=trim leaves it out)")
        if length == 0:
            raise LogError(number, "an I/O of length 0")
        if options.scale > 1:
            offset //= options.scale
        if options.align:
            offset &= ~(options.align - 1)
        offs.append(offset)
        lens.append(length)
        dirs.append(0 if action == "read" else 1)
        due.append(int(max(clock_us, wait_until_us) * 1000))
    stalls = not options.no_stall and any(due)
    return ReplayLog(
        np.array(offs, dtype=np.int64),
        np.array(lens, dtype=np.int64),
        np.array(dirs, dtype=np.int8),
        np.maximum.accumulate(np.array(due, dtype=np.int64)) if stalls else None,
    )


def load(path: str, options: ReplayOptions) -> ReplayLog:
    """An iolog, or a blktrace binary trace (fio's is_blktrace: by its first record)."""
    from loadgen import blktrace  # it builds on this module

    with open(path, "rb") as f:
        data = f.read()
    if blktrace.byte_order(data) is not None:
        return blktrace.parse_trace(data, options)
    return parse(data.decode("utf-8", errors="replace"), options)
