"""The per-I/O engine options' value kinds, and their checks into the job's controls.

The options are rows of the one option table (``loadgen.jobfile.options``); this module
holds what is particular to them: fio's pattern syntax (``buffer_pattern``,
``verify_pattern``), per-direction integer lists, and the fixups fio applies between
them (``fixup_options``), giving ``RateControls``, ``VerifyControls`` and
``BufferControls``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from loadgen.errors import InputError
from loadgen.jobfile.values import BadValue, Kind, ParseContext, PerDirection, parse_int
from loadgen.jobfile.values import split_directions as _split
from loadgen.plan import (
    READ,
    WRITE,
    BufferControls,
    RateControls,
    RateProcess,
    VerifyControls,
    VerifyKind,
)

if TYPE_CHECKING:  # options imports this module's value kinds
    from loadgen.jobfile.options import State

MAX_PATTERN = 512  # fio's MAX_PATTERN_SIZE
VERIFY_HEADER = 48  # bytes of loadgen's verify header (fio: sizeof(struct verify_header))

Pattern = tuple[bytes, tuple[int, ...]]  # bytes, places of %o (8 bytes each)

_TOKEN = re.compile(r'\s*(?:"(?P<s>[^"]*)"|0[xX](?P<h>[0-9a-fA-F]+)|(?P<o>%o)|(?P<d>-?\d+))')


def parse_pattern(text: str, formats: bool) -> Pattern:
    """fio's ``parse_and_fill_pattern``: "strings", 0xHEX bytes, decimal numbers (the
    fewest little-endian bytes; a negative one 4 bytes) and, with ``formats``, ``%o``."""
    out = bytearray()
    places: list[int] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise BadValue(f"{text[pos:]!r}: not a pattern (\"text\", 0xHEX, a number"
                           f"{' or %o' if formats else ''})")
        pos = m.end()
        if m["s"] is not None:
            out += m["s"].encode()
        elif m["h"] is not None:
            digits = m["h"]
            if len(digits) % 2:
                digits = "0" + digits  # fio reads an odd first digit alone
            out += bytes.fromhex(digits)
        elif m["o"] is not None:
            if not formats:
                raise BadValue("%o is allowed only in verify_pattern")
            places.append(len(out))
            out += bytes(8)
        else:
            value = int(m["d"])
            if not -(1 << 31) <= value < (1 << 31):
                raise BadValue(f"{m['d']}: a pattern number is a 32-bit integer")
            if value == 0:
                out += b"\0"
            else:
                unsigned = value & 0xFFFFFFFF
                n = (unsigned.bit_length() + 7) // 8
                out += unsigned.to_bytes(n, "little")
        if len(out) > MAX_PATTERN:
            raise BadValue(f"a pattern is at most {MAX_PATTERN} bytes")
    if not out:
        raise BadValue("an empty pattern")
    return bytes(out), tuple(places)


class PatternKind(Kind):
    """fio's pattern syntax (lib/pattern.c)."""

    label = "pattern"

    def __init__(self, formats: bool) -> None:
        self.formats = formats

    def parse(self, text: str, ctx: ParseContext) -> Pattern:
        return parse_pattern(text, self.formats)

    def describe(self) -> list[str]:
        extra = ", %o (the block's offset, 8 bytes)" if self.formats else ""
        return [f'"text", 0xHEX bytes, decimal numbers{extra}; concatenated, e.g. 0xdead"ab"']

    def show(self, value: Any) -> str:
        return ""


class IntList(PerDirection):
    """Per-direction integers ``r,w,t`` (rate_iops)."""

    label = "int list"

    def __init__(self, minimum: int = 0) -> None:
        super().__init__(minimum)

    def parse(self, text: str, ctx: ParseContext) -> tuple[int | None, ...]:
        return tuple(None if part is None else parse_int(part, self.minimum)
                     for part in _split(text))

    def describe(self) -> list[str]:
        return ["read[,write[,trim]]; a value without a following comma also sets later directions"]


class PercentFloat(Kind):
    """A percentage with decimals, 0..100 (latency_percentile)."""

    label = "float"
    scalar_number = True

    def parse(self, text: str, ctx: ParseContext) -> float:
        try:
            value = float(text.strip().rstrip("%"))
        except ValueError:
            raise BadValue(f"{text.strip()!r} is not a number") from None
        if not 0.0 <= value <= 100.0:
            raise BadValue(f"{text.strip()!r} is out of range (0..100)")
        return value

    def describe(self) -> list[str]:
        return ["a percentage 0..100, decimals allowed"]


def _pair(value: tuple[int | None, ...]) -> tuple[int, int]:
    return value[READ] or 0, value[WRITE] or 0


def engine_controls(
    state: State, name: str, where: str, size: int, min_write: int
) -> tuple[RateControls, VerifyControls, BufferControls]:
    """The job's pacing, verify and buffer controls, with fio's fixups and checks
    (``size``: the region; ``min_write``: the smallest write block)."""
    rates, iops = _pair(state.rate), _pair(state.rate_iops)
    mins, iops_mins = _pair(state.rate_min), _pair(state.rate_iops_min)
    for direction, label in ((READ, "read"), (WRITE, "write")):
        if mins[direction] and iops_mins[direction]:
            raise InputError(f"job {name!r}: rate_min and rate_iops_min are both set for "
                             f"{label}s; give one", where)
        # fio: rate wins over rate_iops (__setup_rate)
        limit = rates[direction] or iops[direction] * state.bs[direction]
        if mins[direction] and limit and mins[direction] > limit:
            raise InputError(f"job {name!r}: rate_min is above rate for {label}s", where)
    rate = RateControls(
        rate=_pair(state.rate), rate_min=_pair(state.rate_min),
        rate_iops=_pair(state.rate_iops), rate_iops_min=_pair(state.rate_iops_min),
        process=RateProcess(state.rate_process), cycle_ms=state.rate_cycle,
        ignore_thinktime=state.rate_ignore_thinktime,
        thinktime_iotime_ns=state.thinktime_iotime_ns,
        thinktime_blocks_set=state.thinktime_blocks != 1,
        thinkcycles=state.thinkcycles, thinktime_blocks_type=state.thinktime_blocks_type,
        max_latency_ns=_pair(state.max_latency_ns),
        latency_target_ns=state.latency_target_ns, latency_window_ns=state.latency_window_ns,
        latency_percentile=state.latency_percentile, latency_run=state.latency_run,
    )
    if rate.process is RateProcess.POISSON and not rate.paced:
        raise InputError(f"job {name!r}: rate_process=poisson needs rate= or rate_iops=", where)
    if state.thinktime_iotime_ns and not state.thinktime_ns:
        raise InputError(f"job {name!r}: thinktime_iotime needs thinktime=", where)
    kind = VerifyKind(state.verify)
    vpattern, places = state.verify_pattern
    if kind is VerifyKind.NONE and vpattern:
        kind = VerifyKind.PATTERN  # fio: verify_pattern alone selects verify=pattern
    if kind in (VerifyKind.PATTERN, VerifyKind.PATTERN_HDR) and not vpattern:
        raise InputError(f"job {name!r}: verify={kind} needs verify_pattern=", where)
    interval = state.verify_interval
    smallest = min(state.bs[READ], state.bs[WRITE])
    header = kind.has_header
    room = VERIFY_HEADER + kind.digest_bytes
    if interval and header and interval < max(2 * VERIFY_HEADER, room):
        raise InputError(f"job {name!r}: verify_interval must be at least "
                         f"{max(2 * VERIFY_HEADER, room)}", where)
    if interval and interval > smallest:
        raise InputError(f"job {name!r}: verify_interval={interval} is above the block "
                         f"size {smallest}", where)
    if header and smallest < room:
        raise InputError(f"job {name!r}: the block size {smallest} has no room for the "
                         f"{room}-byte verify header", where)
    if state.verify_offset and header and state.verify_offset + room > (
            interval or smallest):
        raise InputError(f"job {name!r}: verify_offset leaves no room for the header", where)
    verify = VerifyControls(
        kind=kind, pattern=vpattern.hex(), pattern_offset_at=places, interval=interval,
        offset=state.verify_offset, do_verify=state.do_verify, fatal=state.verify_fatal,
        backlog=state.verify_backlog, backlog_batch=state.verify_backlog_batch,
        dump=state.verify_dump, only=state.verify_only,
        state_save=state.verify_state_save, state_load=state.verify_state_load,
        # fio: verify_only cannot know the earlier run's write numbers unless told to check
        write_sequence=state.verify_write_sequence and (
            state.verify_write_sequence_set or not state.verify_only),
    )
    bpattern = state.buffer_pattern[0]
    compress = state.buffer_compress_percentage
    zero = state.zero_buffers
    refill = bool(state.refill_buffers)
    scramble = state.scramble_buffers
    if compress == 100:  # fio: fully compressible is zeroes (or the pattern)
        zero, compress = not bpattern, 0
    elif compress and state.refill_buffers is None:
        refill = True
    if bpattern:  # fio's str_buffer_pattern_cb
        refill = bool(compress) or state.rw.reads
        scramble = zero = False
    buffers = BufferControls(
        pattern=bpattern.hex(), zero=zero, refill=refill, scramble=scramble,
        compress_percentage=compress, compress_chunk=state.buffer_compress_chunk,
        dedupe_percentage=state.dedupe_percentage,
        dedupe_working_set_pages=_working_set_pages(state, name, where, size, min_write),
        dedupe_global=state.dedupe_global,
    )
    return rate, verify, buffers


def _working_set_pages(state: State, name: str, where: str, size: int, min_write: int) -> int:
    """fio's num_unique_pages (dedupe_working_set_percentage of size, in minimum writes),
    with its checks; 0 = no working set (repeat mode, or no dedupe)."""
    dedupe, share = state.dedupe_percentage, state.dedupe_working_set_percentage
    if not dedupe or state.dedupe_mode != "working_set":
        return 0
    if share + dedupe > 100:  # fio's words
        raise InputError(
            f"job {name!r}: impossible to reach expected dedupe percentage "
            f"{dedupe} since {share} percentage of size is reserved to dedupe "
            "working set (those are unique pages)",
            where,
        )
    pages = size * share // 100 // min_write
    if not pages and dedupe < 100:  # fio would draw from an empty set
        raise InputError(
            f"job {name!r}: dedupe_working_set_percentage={share} of size="
            f"{size} holds no block of {min_write} bytes",
            where,
        )
    return pages
