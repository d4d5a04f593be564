"""Value kinds for the access-pattern options ``rw`` and ``random_distribution``.

Both are fio enums with a ``:`` postfix that carries numbers (``rw=randread:8``,
``random_distribution=zipf:1.2``), so they get their own parsers and fio's parameter checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from loadgen.jobfile.expr import ExpressionError, evaluate, no_units
from loadgen.jobfile.values import (
    DIRECTIONS,
    ZONES_MAX,
    BadValue,
    Kind,
    ParseContext,
    parse_int,
    parse_size,
)
from loadgen.plan import READ, RW_ALIASES, TRIM_MODES, WRITE, RwMode

# what --cmdhelp says of each mode; RwMode and RW_ALIASES are the accepted spellings
_RW_HELP = {
    RwMode.READ: "sequential reads",
    RwMode.WRITE: "sequential writes",
    RwMode.RANDREAD: "random reads",
    RwMode.RANDWRITE: "random writes",
    RwMode.RW: "sequential mixed reads and writes",
    RwMode.RANDRW: "random mixed reads and writes",
}
RW_SPELLINGS: tuple[str, ...] = (*(mode.value for mode in RwMode), *RW_ALIASES)


@dataclass(frozen=True)
class RwValue:
    mode: RwMode  # aliases resolved: readwrite -> rw
    postfix: int  # bytes added after each I/O (sequential) or I/Os per random offset


class Rw(Kind):
    label = "enum"

    def parse(self, text: str, ctx: ParseContext) -> RwValue:
        mode, colon, postfix_text = text.partition(":")
        if mode in TRIM_MODES:
            raise BadValue(
                "trim is not supported: anonymous memory cannot be trimmed "
                "(fio's page_fault engine fails every trim with EINVAL)"
            )
        if mode not in RW_SPELLINGS:
            raise BadValue(f"{mode!r} is not one of: {', '.join(RW_SPELLINGS)}")
        rw = RwMode(mode)
        if not colon:
            return RwValue(rw, 0)
        if rw.random:
            return RwValue(rw, parse_int(postfix_text, 1))
        stripped = postfix_text.strip()
        if stripped.startswith("-"):  # a backward skip: fio's negative ddir_seq_add
            return RwValue(rw, -parse_size(stripped[1:], ctx))
        return RwValue(rw, parse_size(postfix_text, ctx))

    def describe(self) -> list[str]:
        lines = []
        for mode, meaning in _RW_HELP.items():
            lines.append(f"{mode}: {meaning}")
            lines += [f"{alias}: same as {mode}" for alias, to in RW_ALIASES.items() if to is mode]
        return lines + [
            "postfix :N -- sequential: skip N bytes after each I/O (:-N skips back, "
            "wrapping to the region end); random: new offset every N I/Os",
            f"{', '.join(TRIM_MODES)}: rejected (anonymous memory)",
        ]

    def show(self, value: Any) -> str:
        return str(value.mode) if isinstance(value, RwValue) else str(value)


DISTRIBUTIONS = {
    "random": "uniform (default)",
    "zipf": "zipf[:theta[:center]], theta != 1.0, default 1.1",
    "pareto": "pareto[:h[:center]], 0 < h < 1, default 0.2",
    "normal": "normal[:dev[:center]], 0 <= dev < 100 (percent of the range), default 0",
    "zoned": "zoned:a/b:c/d... a% of accesses to the next b% of the region, per direction ','",
    "zoned_abs": "zoned_abs:a/SIZE:... a% of accesses to the next SIZE bytes, per direction ','",
    "sequence": "sequence:B,B,... these block indices in this order, over and over (at most "
                "64 of them; random_sequence_stride=1 moves each cycle on by their count)",
}
SEQUENCE_MAX = 64  # fio's FIO_SEQ_MAX
DEFAULT_PARAM = {"zipf": 1.1, "pareto": 0.2, "normal": 0.0}
NO_CENTER = -1.0  # center not given: the engine picks a random rotation (fio)

Zones = tuple[tuple[float, int], ...]


@dataclass(frozen=True)
class DistributionValue:
    name: str
    params: tuple[float, ...]  # (parameter, center) for zipf/pareto/normal
    zones: tuple[Zones, Zones]  # (read, write) for zoned/zoned_abs
    sequence: tuple[int, ...] = ()  # block indices for sequence


def _atoi(text: str) -> int:
    """C's atoi: leading blanks, an optional sign, then digits; anything else ends it."""
    match = re.match(r"\s*([-+]?\d+)", text, re.ASCII)
    return int(match.group(1)) if match else 0


def _sequence(text: str) -> tuple[int, ...]:
    """fio's parse_sequence_distribution: comma-separated block indices, digits only."""
    if not text:
        raise BadValue("missing pattern in sequence distribution (sequence:2,0,1)")
    items = text.split(",")
    if len(items) > SEQUENCE_MAX:
        raise BadValue(f"sequence distribution supports up to {SEQUENCE_MAX} elements "
                       f"(got {len(items)})")
    for item in items:
        if not item.strip().isdigit() or not item.strip().isascii():
            raise BadValue(f"invalid or negative element <{item.strip()}> in random_sequence")
    return tuple(int(item) for item in items)


def _number(text: str) -> float:
    try:
        return float(evaluate(text, no_units))
    except ExpressionError as exc:
        raise BadValue(f"{exc} in {text.strip()!r}") from None


class Distribution(Kind):
    label = "enum"

    def parse(self, text: str, ctx: ParseContext) -> DistributionValue:
        name, colon, rest = text.partition(":")
        if name not in DISTRIBUTIONS:
            raise BadValue(f"{name!r} is not one of: {', '.join(DISTRIBUTIONS)}")
        if name == "random":
            if colon:
                raise BadValue("random takes no parameters")
            return DistributionValue(name, (), ((), ()))
        if name == "sequence":
            return DistributionValue(name, (), ((), ()), _sequence(rest if colon else ""))
        if name in ("zoned", "zoned_abs"):
            if not rest.strip():
                raise BadValue(f"{name} needs zones, e.g. {name}:60/10:40/90")
            return DistributionValue(name, (), self._zones(name, rest, ctx))
        return DistributionValue(name, self._params(name, rest if colon else ""), ((), ()))

    def _params(self, name: str, text: str) -> tuple[float, ...]:
        parts = text.split(":") if text else []
        if len(parts) > 2:
            raise BadValue(f"{name} takes at most 2 parameters")
        value = _number(parts[0]) if parts and parts[0].strip() else DEFAULT_PARAM[name]
        center = _number(parts[1]) if len(parts) > 1 else NO_CENTER
        if name == "zipf" and value == 1.0:
            raise BadValue("zipf theta must be different from 1.0")
        if name == "pareto" and not 0.0 < value < 1.0:
            raise BadValue("pareto input out of range (0 < h < 1.0)")
        if name == "normal" and not 0.0 <= value < 100.0:
            raise BadValue("normal deviation out of range (0 <= dev < 100.0)")
        if center != NO_CENTER and not 0.0 <= center <= 1.0:
            raise BadValue("distribution center out of range (0 <= center <= 1.0)")
        return (value, center)

    def _zones(self, name: str, text: str, ctx: ParseContext) -> tuple[Zones, Zones]:
        """fio's str_split_parse: ``r,w,t`` without carry-on past the first comma; an empty
        list leaves that direction uniform (trim is parsed and dropped)."""
        parts = text.split(",")
        if len(parts) > DIRECTIONS:
            raise BadValue(f"at most {DIRECTIONS} comma-separated zone lists (read,write,trim)")
        if len(parts) == 1:
            parts = parts * DIRECTIONS
        elif len(parts) == 2:
            parts.append(parts[1])
        lists = [self._zone_list(name, part, ctx) for part in parts]
        if not lists[READ] and not lists[WRITE]:
            raise BadValue(f"{name} needs zones, e.g. {name}:60/10:40/90")
        return (lists[READ], lists[WRITE])

    def _zone_list(self, name: str, text: str, ctx: ParseContext) -> Zones:
        """fio's split_parse_ddir and zone_split_ddir: ``access/region`` items split at
        ``:``, parsing stops at an empty item; a zoned region is read as C's atoi (so
        ``90/`` is 90, and an empty or 0 region shares what the others leave, a region
        above 100 is 100); a zoned_abs size may carry a trailing ``/``."""
        parsed: list[tuple[float, int | None]] = []
        for item in text.split(":"):
            if not item:
                break
            if len(parsed) == ZONES_MAX:
                break  # fio: "hit max of 256 split entries", the rest ignored
            access_text, slash, region_text = item.partition("/")
            access = parse_int(access_text, 0, 100)
            region: int | None
            if name == "zoned":
                region = min(_atoi(region_text), 100) if slash else 0
                region = region or None
            elif slash:
                region = parse_size(region_text.rstrip("/"), ctx)
            else:
                region = 0
            parsed.append((float(access), region))
        if not parsed:
            return ()
        access_sum = sum(access for access, _ in parsed)
        given = sum(region for _, region in parsed if region is not None)
        if access_sum > 100 or (name == "zoned" and given > 100):
            raise BadValue("zone percentages add up to more than 100")
        if access_sum != 100:
            raise BadValue(f"zone access percentages add up to {access_sum:g}, not 100")
        missing = sum(1 for _, region in parsed if region is None)
        if missing == 1 and len(parsed) == 1:
            given = 100  # fio's rule for a single zone without a region
        share = (100 - given) // missing if missing else 0
        return tuple((access, share if region is None else region) for access, region in parsed)

    def describe(self) -> list[str]:
        return [f"{word}: {meaning}" for word, meaning in DISTRIBUTIONS.items()]

    def show(self, value: Any) -> str:
        return value.name if isinstance(value, DistributionValue) else str(value)
