"""fio's number formatting for text reports (lib/num2str.c, stat.c), so columns match byte for byte.

Text-level tools and people diffing loadgen's report against fio's rely on the exact
rounding ("227k", "31.9MiB", "1210.6k"), so this reproduces fio's integer arithmetic,
carry rounding included, rather than Python's own formatting.
"""

from __future__ import annotations

import math

SI_PREFIXES = ("", "k", "M", "G", "T", "P", "E")
IEC_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

# fio's num2str unit selectors (lib/num2str.h)
N2S_NONE = 0
N2S_PERSEC = 1
N2S_BYTE = 2
N2S_BIT = 3
N2S_BYTEPERSEC = 4
N2S_BITPERSEC = 5
_UNIT_SUFFIX = {N2S_NONE: "", N2S_PERSEC: "/s", N2S_BYTE: "B", N2S_BIT: "bit",
                N2S_BYTEPERSEC: "B/s", N2S_BITPERSEC: "bit/s"}


def c_float(value: float, decimals: int) -> str:
    """C's ``%.Nf`` (Python rounds the binary value the same way glibc does)."""
    return f"{value:.{decimals}f}"


def num2str(num: int, maxlen: int, base: int, pow2: bool, units: int) -> str:
    """fio's ``num2str``: at most ``maxlen`` digits, then a unit prefix, with fio's carry
    rounding."""
    thousand = 1024 if pow2 else 1000
    prefixes = IEC_PREFIXES if pow2 else SI_PREFIXES
    num = int(num)
    post_index = 0
    while base > 1:
        base //= thousand
        post_index += 1
    if units in (N2S_BIT, N2S_BITPERSEC):
        num *= 8
    text = str(num)
    if len(text) <= maxlen and post_index < len(SI_PREFIXES):  # most numbers: as they are
        return text + prefixes[post_index] + _UNIT_SUFFIX[units]
    modulo = -1
    carry = False
    while post_index < len(SI_PREFIXES):
        if len(str(num)) <= maxlen:
            break
        modulo = num % thousand
        num //= thousand
        carry = modulo >= thousand // 2
        post_index += 1
    if post_index >= len(SI_PREFIXES):
        post_index = 0
    suffix = prefixes[post_index] + _UNIT_SUFFIX[units]
    if modulo == -1:
        return f"{num}{suffix}"
    room = maxlen - len(str(num))
    if room <= 1:
        return f"{num + (1 if carry else 0)}{suffix}"
    frac = c_float(modulo / thousand, room - 1)
    if frac[0] == "1":
        num += 1
    return f"{num}.{frac[2:]}{suffix}"


def is_power_of_2(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def bw_units(unit_base: int) -> int:
    """Job option ``unit_base`` (8 = bytes, 1 = bits) as fio's num2str selector."""
    return N2S_BITPERSEC if unit_base == 1 else N2S_BYTEPERSEC


def scale_down_ns(value_ns: int) -> tuple[float, str]:
    """fio's ``scale_down_ns``: the unit used on the text ``latency   :`` line."""
    if value_ns >= 2_000_000_000:
        return value_ns / 1e9, "s"
    if value_ns >= 2_000_000:
        return value_ns / 1e6, "ms"
    if value_ns >= 2000:
        return value_ns / 1e3, "us"
    return float(value_ns), "ns"


def percentile_time_width(max_value: int, divisor: int) -> int:
    """Column width of a percentile block: max(5, digits of the largest value in its unit)."""
    scaled = max_value // divisor
    if scaled <= 0:
        return 5
    return max(5, int(math.log10(scaled) + 1))
