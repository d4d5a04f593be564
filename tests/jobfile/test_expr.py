"""The safe evaluator: fio's bc rules and §1.5 parenthesised arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest

from loadgen.jobfile.expr import ExpressionError, bc_integer, evaluate, no_units
from loadgen.jobfile.values import NS_PER_S, size_units, time_units

SIZE = size_units(1024)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1+2*3", 7),
        ("(1+2)*3", 9),
        ("7/2", 3),
        ("-7/2", -3),  # truncates toward zero, as bc
        ("7%3", 1),
        ("-7%3", -1),
        ("2^10", 1024),
        ("2^3^2", 512),  # right associative
        ("-2^2", -4),
        ("--3", 3),
        ("0x10", 16),
        ("0X1f", 31),
        (" 4 ", 4),
    ],
)
def test_integer_arithmetic(text, value):
    assert evaluate(text, no_units) == value


def test_suffixes_inside_expressions():
    assert evaluate("(4k+512)", SIZE) == 4608
    assert evaluate("2*1m", SIZE) == 2 << 20
    assert evaluate("1.5g", SIZE) == 3 << 29
    assert evaluate("0x10k", SIZE) == 16 << 10


def test_suffix_after_parenthesis_scales_like_fios_parser():
    # values observed with fio built with CONFIG_ARITHMETIC (fio-arith)
    assert evaluate("(7/2)k", SIZE) == 3072
    assert evaluate("(10%3)k", SIZE) == 1024
    assert evaluate("(1+2)*4k", SIZE) == 12288
    assert evaluate("(-1+5)k", SIZE) == 4096  # fio-arith gives 1 here; loadgen does the maths


def test_bare_numbers_take_the_default_unit():
    assert evaluate("10", time_units, NS_PER_S) == 10 * NS_PER_S
    assert evaluate("1m+30", time_units, NS_PER_S) == 90 * NS_PER_S
    assert evaluate("2*30s", time_units, NS_PER_S) == 60 * NS_PER_S
    assert evaluate("1m/2", time_units, NS_PER_S) == 30 * NS_PER_S
    assert evaluate("0.5", time_units, NS_PER_S) == NS_PER_S // 2
    assert evaluate("1m/30s", time_units, NS_PER_S) == 2 * NS_PER_S  # ratio, then seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty value"),
        ("1/0", "division by zero"),
        ("1%0", "division by zero"),
        ("(1+2", "missing ')'"),
        ("1+", "missing number"),
        ("1 2", "unexpected '2'"),
        ("4q", "unknown unit 'q'"),
        ("a", "unexpected 'a'"),
        ("$x", r"unexpected character '\$'"),
        ("2^-1", "exponent must be 0..128"),
        ("2^0.5", "exponent must be a whole number"),
        ("10^100^100", "value out of range"),
        ("99999999999999^128", "value out of range"),
        ("(" * 100 + "1" + ")" * 100, "nested too deeply"),
        ("-" * 100 + "1", "nested too deeply"),
        ("1.5%1", "'%' needs whole numbers"),
        ("(4k)k", "unit 'k' after a value that has a unit"),
        ("k", "unexpected 'k'"),
        ("2 k", "unexpected 'k'"),
    ],
)
def test_errors(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(text, SIZE)


def test_decimal_division_is_exact():
    assert evaluate("1.5/2", no_units) == Fraction(3, 4)


def test_bc_integer_is_what_bc_prints():
    assert bc_integer("5*1024*1024*24105/8") == 15797452800
    assert bc_integer("24105/8*5") == 15065
    assert bc_integer("4096") is None  # nothing to compute
    assert bc_integer("4096-16k") is None  # bc would fail on the suffix
    assert bc_integer("1/0") is None
