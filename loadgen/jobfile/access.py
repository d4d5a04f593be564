"""Value kinds for the access-pattern options ``rw`` and ``random_distribution``.

Both are fio enums with a ``:`` postfix that carries numbers (``rw=randread:8``,
``random_distribution=zipf:1.2``), so they get their own parsers and fio's parameter checks.
"""

from __future__ import annotations

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
    split_directions,
)
from loadgen.plan import RW_ALIASES, TRIM_MODES, RwMode

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
        if postfix_text.strip().startswith("-"):
            raise BadValue("backward skips (rw=read:-8k) are not supported yet: they need the "
                           "per-I/O engine")
        return RwValue(rw, parse_size(postfix_text, ctx))

    def describe(self) -> list[str]:
        lines = []
        for mode, meaning in _RW_HELP.items():
            lines.append(f"{mode}: {meaning}")
            lines += [f"{alias}: same as {mode}" for alias, to in RW_ALIASES.items() if to is mode]
        return lines + [
            "postfix :N -- sequential: skip N bytes after each I/O; "
            "random: new offset every N I/Os",
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
}
DEFAULT_PARAM = {"zipf": 1.1, "pareto": 0.2, "normal": 0.0}
NO_CENTER = -1.0  # center not given: the engine picks a random rotation (fio)

Zones = tuple[tuple[float, int], ...]


@dataclass(frozen=True)
class DistributionValue:
    name: str
    params: tuple[float, ...]  # (parameter, center) for zipf/pareto/normal
    zones: tuple[Zones, Zones]  # (read, write) for zoned/zoned_abs


def _number(text: str) -> float:
    try:
        return float(evaluate(text, no_units))
    except ExpressionError as exc:
        raise BadValue(f"{exc} in {text.strip()!r}") from None


class Distribution(Kind):
    label = "enum"

    def parse(self, text: str, ctx: ParseContext) -> DistributionValue:
        name, colon, rest = text.partition(":")
        if name == "sequence":
            raise BadValue("random_distribution=sequence is not supported yet: it needs the "
                           "per-I/O engine")
        if name not in DISTRIBUTIONS:
            raise BadValue(f"{name!r} is not one of: {', '.join(DISTRIBUTIONS)}")
        if name == "random":
            if colon:
                raise BadValue("random takes no parameters")
            return DistributionValue(name, (), ((), ()))
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
        per_direction = split_directions(text)
        lists: list[Zones] = []
        for direction in range(DIRECTIONS):
            part = per_direction[direction]
            if part is None:
                raise BadValue(f"{name} needs a zone list for every direction")
            lists.append(self._zone_list(name, part, ctx))
        return (lists[0], lists[1])

    def _zone_list(self, name: str, text: str, ctx: ParseContext) -> Zones:
        items = text.split(":")
        if len(items) > ZONES_MAX:
            raise BadValue(f"at most {ZONES_MAX} zones")
        parsed: list[tuple[float, int | None]] = []
        for item in items:
            access_text, slash, region_text = item.partition("/")
            if not slash:
                raise BadValue(f"zone {item.strip()!r} is not access%/region")
            access = parse_int(access_text, 0, 100)
            region: int | None
            if name == "zoned":
                # fio's zone_split_ddir: an empty region ("20/") gets an equal share of the rest
                region = parse_int(region_text, 0, 100) if region_text.strip() else None
            else:
                region = parse_size(region_text, ctx, 1)
            parsed.append((float(access), region))
        access_sum = sum(access for access, _ in parsed)
        if access_sum != 100:
            raise BadValue(f"zone access percentages add up to {access_sum:g}, not 100")
        given = sum(region for _, region in parsed if region is not None)
        if name == "zoned" and given > 100:
            raise BadValue("zone region percentages add up to more than 100")
        missing = sum(1 for _, region in parsed if region is None)
        share = (100 - given) // missing if missing else 0
        return tuple((access, share if region is None else region) for access, region in parsed)

    def describe(self) -> list[str]:
        return [f"{word}: {meaning}" for word, meaning in DISTRIBUTIONS.items()]

    def show(self, value: Any) -> str:
        return value.name if isinstance(value, DistributionValue) else str(value)
