"""A small, safe evaluator for numeric option values: ``5*1024*1024*24105/8``, ``(4k+512)``.

fio pipes keyword-substituted lines through ``bc`` (integer arithmetic, division truncates)
and, in builds with ``CONFIG_ARITHMETIC``, evaluates values in parentheses.  loadgen always
evaluates arithmetic with these rules, without ``eval`` or an external ``bc``:

* operators ``+ - * / % ^``, unary minus/plus, parentheses;
* literals: decimal (``1.5``), hex (``0x10``), each optionally followed by a unit suffix that
  the caller's ``units`` function turns into a multiplier of the base unit (bytes, ns); a
  suffix may also follow a closing parenthesis, ``(7/2)k`` = 3k, as in fio's parser;
* integer operands divide and take remainders like bc (truncating toward zero); a decimal
  literal makes the arithmetic exact (``1.5g``);
* a bare number means the option's default unit (``runtime=10`` is 10 s) -- quantities with
  and without a unit are combined by scaling the bare one first, so ``1m+30`` is 90 s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

MAX_MAGNITUDE = 2**128  # far above any byte count or ns value; stops runaway ``^``
MAX_DEPTH = 64  # parenthesis nesting; keeps recursion bounded
MAX_EXPONENT = 128

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<hex>0[xX][0-9a-fA-F]+)(?P<hexunit>[a-zA-Z]*)"
    r"|(?P<dec>\d+(?:\.\d*)?|\.\d+)(?P<decunit>[a-zA-Z]*)"
    r"|(?P<op>[-+*/%^()])"
    r"|(?P<unit>[a-zA-Z]+)"
    r")",
    re.ASCII,  # as fio's strtoll: digits and blanks are ASCII ones (not a full-width "１")
)

Units = Callable[[str], int | None]


class ExpressionError(ValueError):
    """The text is not a valid expression; the message says why."""


@dataclass(frozen=True)
class Quantity:
    """A value in base units if ``has_unit``, else a bare number in the option's default unit."""

    value: Fraction
    has_unit: bool


@dataclass(frozen=True)
class _Token:
    kind: str  # "num" | "op" | "end"
    text: str
    quantity: Quantity | None = None


def _tokenize(text: str, units: Units) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:].strip()[:1]
            raise ExpressionError(f"unexpected character {bad!r}")
        pos = match.end()
        if match.group("op"):
            tokens.append(_Token("op", match.group("op")))
            continue
        if match.group("unit"):
            unit = match.group("unit")
            multiplier = units(unit.lower())
            if not tokens or tokens[-1].text != ")" or multiplier is None:
                raise ExpressionError(f"unexpected {unit!r}")
            tokens.append(_Token("unit", unit, Quantity(Fraction(multiplier), True)))
            continue
        if match.group("hex"):
            number, suffix = Fraction(int(match.group("hex"), 16)), match.group("hexunit")
        else:
            number, suffix = Fraction(match.group("dec")), match.group("decunit")
        if suffix:
            multiplier = units(suffix.lower())
            if multiplier is None and suffix.lower() == "z":
                raise ExpressionError("sizes in zones (the z suffix) are not supported: fio "
                                      "converts them only in zonemode=zbd")
            if multiplier is None:
                raise ExpressionError(f"unknown unit {suffix!r}")
            quantity = Quantity(number * multiplier, True)
        else:
            quantity = Quantity(number, False)
        tokens.append(_Token("num", match.group(0).strip(), quantity))
    tokens.append(_Token("end", ""))
    return tokens


def _is_int(value: Fraction) -> bool:
    return value.denominator == 1


def _check(value: Fraction) -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError("value out of range")
    return value


class _Parser:
    """Recursive descent over the token list; every step returns a Quantity."""

    def __init__(self, tokens: list[_Token], default_scale: int) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.default_scale = default_scale

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _align(self, a: Quantity, b: Quantity) -> tuple[Fraction, Fraction, bool]:
        """Bring both operands to the same footing (bare numbers scaled to the base unit)."""
        if a.has_unit == b.has_unit:
            return a.value, b.value, a.has_unit
        scale = self.default_scale
        av = a.value if a.has_unit else a.value * scale
        bv = b.value if b.has_unit else b.value * scale
        return av, bv, True

    def expression(self) -> Quantity:
        left = self.term()
        while self.peek().kind == "op" and self.peek().text in "+-":
            op = self.take().text
            right = self.term()
            av, bv, unit = self._align(left, right)
            left = Quantity(_check(av + bv if op == "+" else av - bv), unit)
        return left

    def term(self) -> Quantity:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in "*/%":
            op = self.take().text
            right = self.unary()
            left = self._multiplicative(op, left, right)
        return left

    def _multiplicative(self, op: str, a: Quantity, b: Quantity) -> Quantity:
        if op == "*":
            return Quantity(_check(a.value * b.value), a.has_unit or b.has_unit)
        av, bv, unit = (a.value, b.value, a.has_unit) if not b.has_unit else self._align(a, b)
        if b.has_unit:
            unit = False  # quantity / quantity is a plain ratio
        if bv == 0:
            raise ExpressionError("division by zero")
        if op == "/":
            if _is_int(av) and _is_int(bv):
                quotient = abs(int(av)) // abs(int(bv))
                return Quantity(Fraction(quotient if (av >= 0) == (bv > 0) else -quotient), unit)
            return Quantity(_check(av / bv), unit)
        if not (_is_int(av) and _is_int(bv)):
            raise ExpressionError("'%' needs whole numbers")
        remainder = abs(int(av)) % abs(int(bv))
        return Quantity(Fraction(remainder if av >= 0 else -remainder), a.has_unit or b.has_unit)

    def unary(self) -> Quantity:
        token = self.peek()
        if token.kind == "op" and token.text in "+-":
            self.take()
            self._enter()
            operand = self.unary()
            self.depth -= 1
            return Quantity(
                -operand.value if token.text == "-" else operand.value, operand.has_unit
            )
        return self.power()

    def power(self) -> Quantity:
        base = self.atom()
        if self.peek().kind == "op" and self.peek().text == "^":
            self.take()
            self._enter()
            exponent = self.unary()
            self.depth -= 1
            if exponent.has_unit or not _is_int(exponent.value):
                raise ExpressionError("exponent must be a whole number")
            if not 0 <= exponent.value <= MAX_EXPONENT:
                raise ExpressionError(f"exponent must be 0..{MAX_EXPONENT}")
            bits = max(abs(base.value.numerator).bit_length(), base.value.denominator.bit_length())
            if int(exponent.value) * bits > 4 * MAX_MAGNITUDE.bit_length():
                raise ExpressionError("value out of range")
            return Quantity(_check(base.value ** int(exponent.value)), base.has_unit)
        return base

    def atom(self) -> Quantity:
        token = self.take()
        if token.kind == "num" and token.quantity is not None:
            return token.quantity
        if token.kind == "op" and token.text == "(":
            self._enter()
            inner = self.expression()
            self.depth -= 1
            if self.take().text != ")":
                raise ExpressionError("missing ')'")
            unit = self.peek()
            if unit.kind == "unit" and unit.quantity is not None:
                self.take()  # "(7/2)k": a suffix after ')' scales the value, as fio's parser
                if inner.has_unit:
                    raise ExpressionError(f"unit {unit.text!r} after a value that has a unit")
                return Quantity(_check(inner.value * unit.quantity.value), True)
            return inner
        if token.kind == "end":
            raise ExpressionError("missing number")
        raise ExpressionError(f"unexpected {token.text!r}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError("expression nested too deeply")


def evaluate(text: str, units: Units, default_scale: int = 1) -> Fraction:
    """Evaluate ``text``; the result is in base units (bare results scaled by ``default_scale``)."""
    if not text.strip():
        raise ExpressionError("empty value")
    parser = _Parser(_tokenize(text, units), default_scale)
    result = parser.expression()
    leftover = parser.peek()
    if leftover.kind != "end":
        raise ExpressionError(f"unexpected {leftover.text!r}")
    return result.value if result.has_unit else result.value * default_scale


def no_units(_suffix: str) -> int | None:
    """Units function for plain numbers: every suffix is an error."""
    return None


def bc_integer(text: str) -> int | None:
    """What ``bc`` would print for ``text``, or None if bc would not take it (units, decimals).

    fio shows a keyword-substituted line with bc's result (``size=15797452800``); loadgen
    does the same in "job options" so the reports read as fio's.
    """
    if not re.fullmatch(r"[\d\s+\-*/%^()]+", text, re.ASCII) or not re.search(r"[-+*/%^]", text):
        return None
    try:
        value = evaluate(text, no_units)
    except ExpressionError:
        return None
    return int(value) if _is_int(value) else None
