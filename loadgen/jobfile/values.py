"""Value types of job options: how the text after ``=`` becomes a number, list or word.

Each kind parses one option value under a ``ParseContext`` (kb_base of the job so far, the
machine's CPU count, whether the value came from the command line) and raises ``BadValue``
with a message that names what was expected.  The kinds also describe themselves for
``--cmdhelp`` and docs/options.md, so the option table is the single source of truth.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from fractions import Fraction
from math import floor
from typing import Any

from loadgen.jobfile.expr import ExpressionError, Units, evaluate, no_units
from loadgen.plan import BsSplitEntry

U64_MAX = 2**64 - 1
DIRECTIONS = 3  # fio's read,write,trim lists; trim is parsed and then dropped
BSSPLIT_MAX = 64  # fio's BSSPLIT_MAX
ZONES_MAX = 256  # fio's ZONESPLIT_MAX
PERCENTILES_MAX = 20  # fio's FIO_IO_U_LIST_MAX_LEN

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
TIME_UNITS_NS = {
    "us": NS_PER_US,
    "usec": NS_PER_US,
    "ms": NS_PER_MS,
    "msec": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}


class BadValue(ValueError):
    """The value does not parse; the message is shown after the option name."""


@dataclass(frozen=True)
class ParseContext:
    kb_base: int = 1024
    ncpus: int = 1
    on_command_line: bool = False


@dataclass(frozen=True)
class Percent:
    """``N%``: a share of the job's size, resolved once the size is known."""

    value: int


def size_units(kb_base: int) -> Units:
    """fio's size suffixes: ``k``=kb_base^1 ...; the IEC spellings take the *other* base."""
    other = 1000 if kb_base == 1024 else 1024
    powers = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}

    def multiplier(suffix: str) -> int | None:
        if suffix == "b":
            return 1
        power = powers.get(suffix[:1])
        if power is None:
            return None
        rest = suffix[1:]
        if rest in ("", "b"):
            return int(kb_base**power)
        if rest == "ib":
            return int(other**power)
        return None

    return multiplier


def time_units(suffix: str) -> int | None:
    return TIME_UNITS_NS.get(suffix)


def _evaluate(text: str, units: Units, default_scale: int = 1) -> Fraction:
    try:
        return evaluate(text, units, default_scale)
    except ExpressionError as exc:
        raise BadValue(f"{exc} in {text.strip()!r}") from None


def _bounded(value: int, minimum: int, maximum: int, text: str) -> int:
    if not minimum <= value <= maximum:
        if maximum != U64_MAX:
            allowed = f"{minimum}..{maximum}"
        else:
            allowed = f"at least {minimum}" if value < minimum else "at most 2^64-1"
        raise BadValue(f"{text.strip()!r} is out of range ({allowed})")
    return value


def parse_int(text: str, minimum: int = 0, maximum: int = U64_MAX) -> int:
    value = _evaluate(text, no_units)
    if value.denominator != 1:
        raise BadValue(f"{text.strip()!r} is not a whole number")
    return _bounded(int(value), minimum, maximum, text)


def parse_size(text: str, ctx: ParseContext, minimum: int = 0, maximum: int = U64_MAX) -> int:
    return _bounded(floor(_evaluate(text, size_units(ctx.kb_base))), minimum, maximum, text)


def parse_time(text: str, default_unit_ns: int) -> int:
    return _bounded(floor(_evaluate(text, time_units, default_unit_ns)), 0, U64_MAX, text)


def split_range(text: str) -> tuple[str, str] | None:
    """Split ``lo-hi`` / ``lo:hi`` at the top level; a ``-`` after an operand is the separator.

    Subtraction inside a range side needs parentheses: ``bsrange=(8k-4k)-16k``.
    """
    if ":" in text:
        lo, _, hi = text.partition(":")
        return lo, hi
    depth = 0
    previous = ""
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "-" and depth == 0 and previous and (previous.isalnum() or previous in ").%"):
            return text[:index], text[index + 1 :]
        if not char.isspace():
            previous = char
    return None


def split_directions(text: str) -> list[str | None]:
    """fio's ``r,w,t`` carry-on rule: a value not followed by a comma fills later directions.

    Returns one entry per direction; None leaves that direction at its current value.
    """
    parts = text.split(",")
    if len(parts) > DIRECTIONS:
        raise BadValue(f"at most {DIRECTIONS} comma-separated values (read,write,trim)")
    result: list[str | None] = [None] * DIRECTIONS
    for index, part in enumerate(parts):
        if part.strip() == "":
            continue
        last = index == len(parts) - 1
        for direction in range(index, DIRECTIONS if last else index + 1):
            result[direction] = part
    return result


class Kind:
    """How one option's value is written; subclasses parse and describe it."""

    label = "str"
    # bare ``key`` without ``=``: None = not allowed, else the text parsed in its place
    bare_in_file: str | None = None
    bare_on_command_line: str | None = None
    # a single number (bc-style display of keyword arithmetic applies)
    scalar_number = False
    per_direction = False

    def parse(self, text: str, ctx: ParseContext) -> Any:
        raise NotImplementedError

    def describe(self) -> list[str]:
        """Extra lines for --cmdhelp: allowed values, ranges, syntax."""
        return []

    def show(self, value: Any) -> str:
        """A default value as the user would write it."""
        return "" if value is None else str(value)


class Str(Kind):
    label = "string"

    def __init__(self, allow_empty: bool = True) -> None:
        self.allow_empty = allow_empty

    def parse(self, text: str, ctx: ParseContext) -> str:
        if not text and not self.allow_empty:
            raise BadValue("needs a value")
        return text


class Enum(Kind):
    label = "enum"

    def __init__(self, choices: dict[str, str]) -> None:
        self.choices = choices

    def parse(self, text: str, ctx: ParseContext) -> str:
        if text not in self.choices:
            raise BadValue(f"{text!r} is not one of: {', '.join(self.choices)}")
        return text

    def describe(self) -> list[str]:
        return [f"{word}: {meaning}" for word, meaning in self.choices.items()]


class Int(Kind):
    label = "int"
    scalar_number = True

    def __init__(self, minimum: int = 0, maximum: int = U64_MAX, hint: str = "") -> None:
        self.minimum, self.maximum, self.hint = minimum, maximum, hint

    def parse(self, text: str, ctx: ParseContext) -> int:
        return parse_int(text, self.minimum, self.maximum)

    def describe(self) -> list[str]:
        upper = "" if self.maximum == U64_MAX else str(self.maximum)
        lines = [f"range: {self.minimum}..{upper}"]
        return lines + ([self.hint] if self.hint else [])


class Size(Kind):
    label = "size"
    scalar_number = True

    def __init__(self, minimum: int = 0, percent: bool = False) -> None:
        self.minimum, self.percent = minimum, percent

    def parse(self, text: str, ctx: ParseContext) -> int | Percent:
        stripped = text.strip()
        if stripped.endswith("%"):
            if not self.percent:
                raise BadValue("a percentage is not allowed here")
            return Percent(parse_int(stripped[:-1], 0, 100))
        return parse_size(text, ctx, self.minimum)

    def describe(self) -> list[str]:
        lines = [
            "syntax: number with optional suffix k/m/g/t/p (kb_base), kib/mib/... (other base)"
        ]
        if self.percent:
            lines.append("or N% of the job's size (0..100)")
        if self.minimum:
            lines.append(f"minimum: {self.minimum}")
        return lines


class Time(Kind):
    label = "time"
    scalar_number = True

    def __init__(self, default_unit: str, allow_range: bool = False) -> None:
        self.default_unit = default_unit
        self.allow_range = allow_range

    def parse(self, text: str, ctx: ParseContext) -> int | tuple[int, int]:
        scale = TIME_UNITS_NS[self.default_unit]
        if self.allow_range:
            sides = split_range(text)
            if sides is not None:
                lo, hi = parse_time(sides[0], scale), parse_time(sides[1], scale)
                return (min(lo, hi), max(lo, hi))
        return parse_time(text, scale)

    def describe(self) -> list[str]:
        lines = [f"unit without suffix: {self.default_unit}; suffixes us/usec ms/msec s m h d"]
        if self.allow_range:
            lines.append("or a range lo-hi (a random value in it per job)")
        return lines

    def show(self, value: Any) -> str:
        return (
            str(value // TIME_UNITS_NS[self.default_unit]) if isinstance(value, int) else str(value)
        )


class Bool(Kind):
    """fio's FIO_OPT_BOOL: needs a number (``sscanf %u``); ``true`` and a bare key are errors."""

    label = "bool"
    scalar_number = True

    def parse(self, text: str, ctx: ParseContext) -> bool:
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit()):  # "１" is a digit to Python
            raise BadValue(f"{stripped!r} is not 0 or 1 (a bool option needs a number)")
        return int(stripped) != 0

    def describe(self) -> list[str]:
        return ["0 or 1 (a value is required)"]

    def show(self, value: Any) -> str:
        return str(int(bool(value)))


class Flag(Bool):
    """fio's FIO_OPT_STR_SET: a bare key sets it, ``key=0`` clears it."""

    label = "flag"
    bare_in_file = "1"
    bare_on_command_line = "1"

    def parse(self, text: str, ctx: ParseContext) -> bool:
        return parse_int(text) != 0

    def describe(self) -> list[str]:
        return ["bare or =1 sets it, =0 clears it"]


class PerDirection(Kind):
    """Values given per direction as ``read,write,trim`` (fio's carry-on rule applies)."""

    per_direction = True

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def show(self, value: Any) -> str:
        if not isinstance(value, tuple):
            return str(value)
        if all(v is None for v in value):
            return "(see meaning)"
        return str(value[0]) if len(set(value)) == 1 else ",".join(map(str, value))


class SizeList(PerDirection):
    """Per-direction sizes ``r,w,t`` (bs, blockalign)."""

    label = "size list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int | None, ...]:
        return tuple(
            None if part is None else parse_size(part, ctx, self.minimum)
            for part in split_directions(text)
        )

    def describe(self) -> list[str]:
        return ["read[,write[,trim]]; a value without a following comma also sets later directions"]


class RangeList(PerDirection):
    """Per-direction size ranges ``lo-hi[,lo-hi[,lo-hi]]`` (bsrange)."""

    label = "range list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[tuple[int, int] | None, ...]:
        result: list[tuple[int, int] | None] = []
        for part in split_directions(text):
            if part is None:
                result.append(None)
                continue
            sides = split_range(part)
            if sides is None:
                raise BadValue(f"{part.strip()!r} is not a range lo-hi")
            lo = parse_size(sides[0], ctx, self.minimum)
            hi = parse_size(sides[1], ctx, self.minimum)
            result.append((min(lo, hi), max(lo, hi)))
        return tuple(result)

    def describe(self) -> list[str]:
        return ["lo-hi or lo:hi sizes (swapped if lo>hi), per direction read[,write[,trim]]"]


class PercentList(PerDirection):
    """Per-direction integer percentages (percentage_random)."""

    label = "int list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int | None, ...]:
        return tuple(None if p is None else parse_int(p, 0, 100) for p in split_directions(text))

    def describe(self) -> list[str]:
        return ["0..100 per direction read[,write[,trim]]"]


class BsSplit(Kind):
    """``bs/pct:bs/pct...[,write list[,trim list]]``; missing pcts share the remainder."""

    label = "bssplit"
    per_direction = True

    def parse(self, text: str, ctx: ParseContext) -> tuple[tuple[BsSplitEntry, ...] | None, ...]:
        return tuple(
            None if part is None else self._one_list(part, ctx) for part in split_directions(text)
        )

    def _one_list(self, text: str, ctx: ParseContext) -> tuple[BsSplitEntry, ...]:
        items = text.split(":")
        if len(items) > BSSPLIT_MAX:
            raise BadValue(f"at most {BSSPLIT_MAX} bssplit entries")
        parsed: list[tuple[int, int | None]] = []
        for item in items:
            size_text, _, pct_text = item.partition("/")
            bs = parse_size(size_text, ctx, 1)
            pct = parse_int(pct_text, 0, 100) if pct_text.strip() else 0
            parsed.append((bs, pct or None))
        given = sum(pct for _, pct in parsed if pct is not None)
        missing = sum(1 for _, pct in parsed if pct is None)
        if given > 100:
            raise BadValue(f"bssplit percentages add up to {given}, more than 100")
        share = (100 - given) // missing if missing else 0
        entries = [BsSplitEntry(bs, share if pct is None else pct) for bs, pct in parsed]
        return tuple(sorted(entries, key=lambda entry: entry.pct))

    def describe(self) -> list[str]:
        return [
            "bs/pct:bs/pct... (at most 64); an entry without pct shares what is left of 100",
            "optional ,write list[,trim list]; one list applies to all directions",
        ]

    def show(self, value: Any) -> str:
        return ""


class FloatList(Kind):
    label = "float list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[float, ...]:
        items = text.split(":")
        if len(items) > PERCENTILES_MAX:
            raise BadValue(f"at most {PERCENTILES_MAX} values")
        values = []
        for item in items:
            value = _evaluate(item, no_units)
            if not 0 <= value <= 100:
                raise BadValue(f"{item.strip()!r} is out of range (0..100)")
            values.append(float(value))
        return tuple(values)

    def describe(self) -> list[str]:
        return [f"':'-separated percentiles 0..100, at most {PERCENTILES_MAX}"]

    def show(self, value: Any) -> str:
        return ":".join(f"{v:g}" for v in value) if value else "(fio's default list)"


class CpuList(Kind):
    label = "cpu list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int, ...]:
        cpus: set[int] = set()
        for part in text.split(","):
            if not part.strip():
                raise BadValue("empty entry in CPU list")
            sides = split_range(part)
            lo, hi = (part, part) if sides is None else sides
            first, last = parse_int(lo), parse_int(hi)
            first, last = min(first, last), max(first, last)
            if last >= ctx.ncpus:
                raise BadValue(f"CPU {last} too large (this machine has CPUs 0..{ctx.ncpus - 1})")
            cpus.update(range(first, last + 1))
        return tuple(sorted(cpus))

    def describe(self) -> list[str]:
        return ["comma list of CPU indices and a-b ranges; each index < configured CPUs"]

    def show(self, value: Any) -> str:
        return "(all CPUs)" if not value else ",".join(map(str, value))


class CpuMask(CpuList):
    label = "cpu mask"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int, ...]:
        mask = parse_int(text, 0, 2**32 - 1)
        cpus = tuple(cpu for cpu in range(32) if mask >> cpu & 1)
        if cpus and cpus[-1] >= ctx.ncpus:
            raise BadValue(f"CPU {cpus[-1]} too large (this machine has CPUs 0..{ctx.ncpus - 1})")
        return cpus

    def describe(self) -> list[str]:
        return ["bit mask of CPUs 0..31 (e.g. 0x3)"]


class LogPrefix(Kind):
    """write_*_log: a file prefix; bare in a job file means the job name (as fio)."""

    label = "log prefix"
    bare_in_file = ""

    def parse(self, text: str, ctx: ParseContext) -> str:
        return text

    def describe(self) -> list[str]:
        return ["file name prefix; bare (job file only) or empty = the job name"]

    def show(self, value: Any) -> str:
        return "(off)"


class SignedInt(Kind):
    """fio's FIO_OPT_INT with a negative minimum (``nice=-5``)."""

    label = "int"
    scalar_number = True

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    def parse(self, text: str, ctx: ParseContext) -> int:
        stripped = text.strip()
        if stripped.startswith("-"):
            return -parse_int(stripped[1:], 0, max(-self.minimum, 0))
        return parse_int(stripped, max(self.minimum, 0), self.maximum)

    def describe(self) -> list[str]:
        return [f"range: {self.minimum}..{self.maximum}"]


class NodeList(Kind):
    """A NUMA node list as libnuma's ``numa_parse_nodestring`` reads it: ``0,2-3`` or ``all``.

    ``()`` stands for ``all``; whether the nodes exist is checked against the machine."""

    label = "node list"

    def parse(self, text: str, ctx: ParseContext) -> tuple[int, ...]:
        return parse_node_list(text)

    def describe(self) -> list[str]:
        return ["comma list of NUMA node numbers and a-b ranges, or all"]

    def show(self, value: Any) -> str:
        return "" if value is None else ",".join(map(str, value)) or "all"


def parse_node_list(text: str) -> tuple[int, ...]:
    stripped = text.strip()
    if stripped == "all":
        return ()
    nodes: set[int] = set()
    for part in stripped.split(","):
        if not part.strip():
            raise BadValue("empty entry in node list")
        sides = split_range(part)
        lo, hi = (part, part) if sides is None else sides
        first, last = parse_int(lo, 0, 1023), parse_int(hi, 0, 1023)
        nodes.update(range(min(first, last), max(first, last) + 1))
    return tuple(sorted(nodes))


MEM_POLICY_MODES = {
    "default": "the process's policy (nothing set)",
    "prefer": "prefer one node: prefer:N",
    "bind": "only these nodes: bind:NODES",
    "interleave": "interleave over these nodes: interleave:NODES",
    "local": "the node of the CPU that faults",
}


class MemPolicy(Kind):
    """fio's ``numa_mem_policy=mode[:nodelist]`` (options.c ``str_numa_mpol_cb``)."""

    label = "mem policy"

    def parse(self, text: str, ctx: ParseContext) -> tuple[str, tuple[int, ...]]:
        mode, colon, nodes_text = text.strip().partition(":")
        if mode not in MEM_POLICY_MODES:
            raise BadValue(f"{mode!r} is not one of: {', '.join(MEM_POLICY_MODES)}")
        if mode in ("default", "local"):
            if colon and nodes_text.strip():
                raise BadValue(f"{mode} takes no node list")
            return mode, ()
        if not nodes_text.strip():
            raise BadValue(f"{mode} needs a node list ({mode}:NODES)")
        nodes = parse_node_list(nodes_text)
        if mode == "prefer" and len(nodes) != 1:
            raise BadValue("prefer takes exactly one node (prefer:N)")
        return mode, nodes

    def describe(self) -> list[str]:
        return [f"{word}: {meaning}" for word, meaning in MEM_POLICY_MODES.items()]

    def show(self, value: Any) -> str:
        if not value:
            return ""
        mode, nodes = value
        return f"{mode}:{','.join(map(str, nodes))}" if nodes else str(mode)


class ErrorList(Kind):
    """fio's ``ignore_error=READ,WRITE,VERIFY``: per class a ``:`` list of errno names/numbers."""

    label = "error lists"

    def parse(self, text: str, ctx: ParseContext) -> tuple[tuple[int, ...], ...]:
        classes = text.split(",")
        if len(classes) > 3:
            raise BadValue("at most three lists: read,write,verify")
        parsed: list[tuple[int, ...]] = []
        for words in classes:
            codes: list[int] = []
            for word in filter(None, (w.strip() for w in words.split(":"))):
                if word.isdigit():
                    codes.append(int(word))
                elif word.upper() in errno.errorcode.values():
                    codes.append(getattr(errno, word.upper()))
                else:
                    raise BadValue(f"{word!r} is not an errno name (EIO...) or number")
            parsed.append(tuple(codes))
        while len(parsed) < 3:
            parsed.append(())
        return tuple(parsed)

    def describe(self) -> list[str]:
        return ["READ,WRITE,VERIFY lists, each errno names or numbers joined by ':' (EIO:ENOMEM)"]

    def show(self, value: Any) -> str:
        return "" if not value else ",".join(":".join(map(str, codes)) for codes in value)
