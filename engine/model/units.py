"""Exact quantities with units: `20万元`, `1.5亿元`, `3%`, `500元/吨`, `1年`.

Every amount is a `Decimal`; nothing here ever goes through `float`, so `0.1 + 0.2` stays
`0.3` and a threshold written as `5,000万元` compares exactly with a profile's revenue.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation, getcontext, localcontext
from enum import Enum
from typing import Annotated

from pydantic import BeforeValidator


class Unit(str, Enum):
    """The dimension of a quantity. Facts declare one; thresholds must match it."""

    YUAN = "yuan"
    RATIO = "ratio"
    PERSON = "person"
    ITEM = "item"
    POINT = "point"
    TONNE = "tonne"
    SQUARE_METRE = "m2"
    YUAN_PER_TONNE = "yuan/tonne"
    YUAN_PER_SQUARE_METRE = "yuan/m2"
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    NUMBER = "number"

    @property
    def is_duration(self) -> bool:
        return self in (Unit.YEAR, Unit.MONTH, Unit.DAY)


# Longest suffixes first so that `万元` wins over `元` and `元/吨` over `元`.
_SUFFIXES: list[tuple[str, Decimal, Unit]] = sorted(
    [
        ("亿元", Decimal(10) ** 8, Unit.YUAN),
        ("万元", Decimal(10) ** 4, Unit.YUAN),
        ("元", Decimal(1), Unit.YUAN),
        ("yuan", Decimal(1), Unit.YUAN),
        ("CNY", Decimal(1), Unit.YUAN),
        ("%", Decimal("0.01"), Unit.RATIO),
        ("％", Decimal("0.01"), Unit.RATIO),
        ("‰", Decimal("0.001"), Unit.RATIO),
        ("元/吨", Decimal(1), Unit.YUAN_PER_TONNE),
        ("万元/吨", Decimal(10) ** 4, Unit.YUAN_PER_TONNE),
        ("元/平方米", Decimal(1), Unit.YUAN_PER_SQUARE_METRE),
        ("元/㎡", Decimal(1), Unit.YUAN_PER_SQUARE_METRE),
        ("元/m2", Decimal(1), Unit.YUAN_PER_SQUARE_METRE),
        ("人", Decimal(1), Unit.PERSON),
        ("项", Decimal(1), Unit.ITEM),
        ("件", Decimal(1), Unit.ITEM),
        ("分", Decimal(1), Unit.POINT),
        ("吨", Decimal(1), Unit.TONNE),
        ("万吨", Decimal(10) ** 4, Unit.TONNE),
        ("平方米", Decimal(1), Unit.SQUARE_METRE),
        ("㎡", Decimal(1), Unit.SQUARE_METRE),
        ("m2", Decimal(1), Unit.SQUARE_METRE),
        ("年", Decimal(1), Unit.YEAR),
        ("个月", Decimal(1), Unit.MONTH),
        ("天", Decimal(1), Unit.DAY),
        ("日", Decimal(1), Unit.DAY),
    ],
    key=lambda s: -len(s[0]),
)


def suffix_powers(*units: Unit) -> dict[str, int]:
    """The suffixes of `units` whose factor is a whole power of ten, by that power (`万元` → 4):
    for readers that parse `<number><suffix>` texts as a whole column, as `parse_quantity` does."""
    powers: dict[str, int] = {}
    for text, factor, unit in _SUFFIXES:
        power = factor.adjusted()
        if unit in units and power >= 0 and factor == Decimal(10) ** power:
            powers[text] = power
    return powers


_NUMBER = re.compile(r"^\s*([+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(.*?)\s*$")
# Digits with commas in some other grouping than threes: `1,2000万元` (万-grouping), `12,00`.
_BAD_GROUPING = re.compile(r"^\s*[+-]?\d+(?:,\d+)+(?:\.\d+)?\s*\D*$")
# Things that look like a date: ISO `2026-02-30`, and what spreadsheets write, `2019/5/10`,
# `10/5/2019`, `2019.5.10`, `2019年5月10日`.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_LIKE = re.compile(
    r"^\s*(?:(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"|(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}))\s*$"
)


class UnitError(ValueError):
    """A value whose number or unit cannot be read."""


def date_problem(text: str) -> str | None:
    """Why `text`, which is written like a date, is not one the engine reads; None when it does
    not look like a date at all (or is a real date in ISO form). Dates are read in one spelling,
    ISO 8601 `YYYY-MM-DD`: a spreadsheet's `2019/5/10` is refused with its ISO form (and
    `10/5/2019` as ambiguous), so that no file means different days to different readers."""
    match = _DATE_LIKE.match(text)
    if match is None:
        return None
    year, month, day = match.group(1, 2, 3)
    if year is None:
        return (
            f"{text!r} is not a date the engine reads: day and month order is ambiguous; "
            "write it as YYYY-MM-DD"
        )
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12:
        return f"{text!r} is not a real date: there is no month {m}"
    last = calendar.monthrange(y, m)[1] if y >= 1 else 31
    if not 1 <= d <= last:
        name = calendar.month_name[m]
        return f"{text!r} is not a real date: {name} {y} has {last} days"
    iso = f"{y:04d}-{m:02d}-{d:02d}"
    if iso != text:
        return f"{text!r} is not a date the engine reads: write it as {iso} (YYYY-MM-DD)"
    return None


def parse_date(raw: object) -> date:
    """A date from a `date` (not a datetime) or its ISO text `YYYY-MM-DD`; anything else is
    refused with what is wrong (`2026-02-30`: February has 28 days; `2019/5/10`: write
    2019-05-10). Numbers are never dates: `20190510` is not read as seconds since 1970."""
    if isinstance(raw, datetime):
        raise UnitError(f"expected a date (YYYY-MM-DD) without a time of day, got {raw}")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        problem = date_problem(text)
        if problem is None and _ISO_DATE.match(text):
            return date.fromisoformat(text)
        if problem is not None:
            raise UnitError(problem)
    raise UnitError(f"expected a date written YYYY-MM-DD (e.g. 2019-05-10), got {raw!r}")


def _date_field(raw: object) -> object:
    if raw is None:
        return raw
    try:
        return parse_date(raw)
    except UnitError as exc:
        raise ValueError(str(exc)) from None


# A date field of a model (profile, policy document, case file): `parse_date`'s rules, where
# pydantic alone would read `20190510` as seconds since 1970 and word `2026-02-30` vaguely.
Day = Annotated[date, BeforeValidator(_date_field)]


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: Unit

    def __str__(self) -> str:
        return format_quantity(self.value, self.unit, "zh")


_SHOWN = 60  # characters of a value a message repeats


def quoted(raw: str) -> str:
    """A text as a message repeats it: its repr, cut short after `_SHOWN` characters with the
    length said (a hostile cell of a million digits is not printed back whole)."""
    if len(raw) <= _SHOWN:
        return repr(raw)
    return f"{raw[:_SHOWN]!r}… ({len(raw):,} characters)"


# No enterprise figure or policy threshold comes near 10^18 or 10^-18; beyond them Decimal
# arithmetic on hostile input (`1e999999999`, `1e-999999999`) overflows during evaluation.
EXPONENT_LIMIT = 18


def parse_quantity(raw: object) -> Quantity:
    """Read `20万元`, `3%`, `500元/吨`, `12` (a plain number) or a Decimal/int exactly."""
    quantity = _parse_quantity(raw)
    value = quantity.value
    if not value.is_finite() or (value != 0 and abs(value.adjusted()) >= EXPONENT_LIMIT):
        shown = quoted(raw) if isinstance(raw, str) else str(raw)
        raise UnitError(f"{shown} is not a usable number (finite, between 10^-18 and 10^18)")
    return quantity


def _parse_quantity(raw: object) -> Quantity:
    if isinstance(raw, bool):
        raise UnitError(f"expected a number with a unit, got the boolean {raw!r}")
    if isinstance(raw, int):
        return Quantity(Decimal(raw), Unit.NUMBER)
    if isinstance(raw, Decimal):
        return Quantity(raw, Unit.NUMBER)
    if isinstance(raw, float):
        # YAML floats are read as Decimal by our loader; a float here came from Python code.
        return Quantity(Decimal(repr(raw)), Unit.NUMBER)
    if isinstance(raw, date):
        raise UnitError(f"'{raw}' is a date; a number with a unit is expected here")
    if not isinstance(raw, str):
        raise UnitError(f"expected a number with a unit such as '20万元' or '3%', got {raw!r}")
    return _parse_text(raw)


def _text_problem(raw: str, match: re.Match[str] | None) -> str | None:
    """Why a text that is not a number with a unit is not one, when a better reason than
    "cannot read" is known: it is a date, or its commas group digits otherwise than in threes."""
    text = raw.strip()
    problem = date_problem(text)
    if problem is None and _ISO_DATE.match(text):
        problem = f"{raw!r} is a date; a number with a unit is expected here"
    grouped_wrong = "," in raw and (match is None or match.group(2)[:1] in tuple("0123456789,"))
    if problem is None and grouped_wrong and _BAD_GROUPING.match(raw):
        # `1,2000万元`: the pattern alone would read 1,200 with the unit '0万元'
        plain = re.sub(r"\s+", "", raw.replace(",", ""))
        problem = (
            f"the commas in {raw!r} do not group digits in threes (1,234,567); write the "
            f"number without commas, {plain!r} if that is what it means (decimals after '.')"
        )
    return problem


# The usual spellings, ASCII digits alone or followed at once by a known unit (`1200`, `20万元`),
# are read without the regular expressions; `_matched_text` reads them the same (a property
# test checks it on hostile texts).
_PLAIN_DIGITS = re.compile(r"[0-9]+")
_UNIT_OF: dict[str, tuple[Decimal, Unit]] = {text: (f, unit) for text, f, unit in _SUFFIXES}


def _plain_text(raw: str) -> Quantity | None:
    """`_matched_text(raw)` for ASCII digits with no unit or one known unit right after them;
    None for any other text."""
    if raw.isascii() and raw.isdigit():
        return Quantity(Decimal(raw), Unit.NUMBER)
    digits = _PLAIN_DIGITS.match(raw)
    if digits is None:
        return None
    known = _UNIT_OF.get(raw[digits.end() :])
    if known is None:
        return None
    factor, unit = known
    return Quantity(_scaled(Decimal(digits.group()), factor), unit)


def _parse_text(raw: str) -> Quantity:
    plain = _plain_text(raw)
    return plain if plain is not None else _matched_text(raw)


def _matched_text(raw: str) -> Quantity:
    match = _NUMBER.match(raw)
    problem = _text_problem(raw, match)
    if problem is not None:
        raise UnitError(problem)
    if not match:
        raise UnitError(f"cannot read {quoted(raw)} as a number with a unit (e.g. '20万元', '3%')")
    number_text, suffix = match.group(1).replace(",", ""), match.group(2)
    try:
        number = Decimal(number_text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise UnitError(f"cannot read the number in {raw!r}") from exc
    if not suffix:
        return Quantity(number, Unit.NUMBER)
    known = _UNIT_OF.get(suffix)
    if known is None:
        raise UnitError(_unknown_unit(raw, match.group(1), suffix))
    factor, unit = known
    return Quantity(_scaled(number, factor), unit)


def _unknown_unit(raw: str, number: str, suffix: str) -> str:
    if re.fullmatch(r"[eE][+-]?\d+", suffix):
        return f"{raw!r}: exponents are not read; write the number in full"
    units = ", ".join(sorted({s for s, _, _ in _SUFFIXES}))
    # 万 and 亿 alone are the usual shorthand for amounts; any other guess could change the
    # meaning (20万美元 is not 20万元)
    hint = f"; for an amount write '{number}{suffix}元'" if suffix in ("万", "亿") else ""
    return f"unknown unit {quoted(suffix)} in {quoted(raw)}{hint} (known units: {units})"


def _scaled(number: Decimal, factor: Decimal) -> Decimal:
    """`number × factor` (a unit's: 万 is 10^4), exact however many digits the number has (in
    the default context a product of more than 28 digits would be rounded, and its exponent
    noise could not be dropped); a product beyond the usable bound is left as it is, for
    `parse_quantity` to refuse."""
    if number.adjusted() + factor.adjusted() > EXPONENT_LIMIT:
        return number * factor
    needed = len(number.as_tuple().digits) + len(factor.as_tuple().digits) + 2
    if needed <= getcontext().prec:  # nearly every figure: exact in the caller's context
        return _normalise(number * factor)
    with localcontext() as context:
        context.prec = max(needed, EXPONENT_LIMIT + 2)
        return _normalise(number * factor)


def _normalise(value: Decimal) -> Decimal:
    """Drop exponent noise (`2.0E+5` → `200000`) while keeping the value exact."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def shift_date(day: date, amount: int, unit: Unit) -> date:
    """Calendar arithmetic: 29 February minus one year is 28 February. A shift past the
    calendar's range stops at its first or last day, which compares the same with any real date."""
    if unit is Unit.DAY:
        ordinal = day.toordinal() + amount
        return date.fromordinal(min(max(ordinal, 1), date.max.toordinal()))
    months = amount * 12 if unit is Unit.YEAR else amount
    if unit not in (Unit.YEAR, Unit.MONTH):
        raise UnitError(f"{unit.value} is not a duration")
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if year < date.min.year:
        return date.min
    if year > date.max.year:
        return date.max
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@functools.lru_cache(maxsize=1024)
def shifted(day: date, amount: int, unit: Unit) -> date:
    """`shift_date`, remembered: evaluation shifts the same evaluation date by the same few
    periods (`-1年`) for every profile. It is a pure function, so sharing its cache between
    threads and policy sets changes nothing but time."""
    return shift_date(day, amount, unit)


_YI, _WAN = Decimal(10) ** 8, Decimal(10) ** 4
_CENT, _TEN_THOUSANDTH = Decimal("0.01"), Decimal("0.0001")
# Digits a value may have before `_rounded` must widen the context: the default's 28 less the
# two a quantize to 4 decimals needs (a wider step needs fewer).
_NARROW = 28 - 2 - 4


def format_money(value: Decimal, lang: str) -> str:
    if lang == "zh":
        size = abs(value)
        if size >= _YI:
            return f"{_trim(value / _YI)}亿元"
        if size >= _WAN:
            return f"{_trim(value / _WAN)}万元"
        return f"{_trim(value)}元"
    rounded = _rounded(value, _CENT)
    text = f"{rounded:,.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    return f"¥{text}"


def _rounded(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded to `step` however many digits it has (in the default context, a result
    of more than 28 digits, e.g. a count of 10^30 to 4 decimals, raises InvalidOperation).
    Nearly every value is far below that: it is rounded without a context of its own."""
    if value.adjusted() < _NARROW:
        return value.quantize(step)
    with localcontext() as context:
        context.prec = max(context.prec, value.adjusted() - step.adjusted() + 2)
        return value.quantize(step)


def _trim(value: Decimal) -> str:
    """Up to 4 decimals, no trailing zeros: 12.3456789 → 12.3457, 20.50 → 20.5."""
    text = f"{_rounded(value, _TEN_THOUSANDTH):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_UNIT_WORDS: dict[Unit, tuple[str, str]] = {
    Unit.PERSON: ("人", " persons"),
    Unit.ITEM: ("项", " items"),
    Unit.POINT: ("分", " points"),
    Unit.TONNE: ("吨", " t"),
    Unit.SQUARE_METRE: ("平方米", " m²"),
    Unit.YUAN_PER_TONNE: ("元/吨", " yuan/t"),
    Unit.YUAN_PER_SQUARE_METRE: ("元/平方米", " yuan/m²"),
    Unit.YEAR: ("年", " years"),
    Unit.MONTH: ("个月", " months"),
    Unit.DAY: ("天", " days"),
    Unit.NUMBER: ("", ""),
}


def format_quantities(value: Decimal, unit: Unit) -> tuple[str, str]:
    """`format_quantity` in Chinese and in English, the number written once where both
    languages write it alike (explanations show every value in both)."""
    if unit is Unit.YUAN:
        return format_money(value, "zh"), format_money(value, "en")
    if unit is Unit.RATIO:
        shown = f"{_trim(value * 100)}%"
        return shown, shown
    zh, en = _UNIT_WORDS[unit]
    number = _trim(value)
    return f"{number}{zh}", f"{number}{en}"


def format_quantity(value: Decimal, unit: Unit, lang: str) -> str:
    if unit is Unit.YUAN:
        return format_money(value, lang)
    if unit is Unit.RATIO:
        return f"{_trim(value * 100)}%"
    zh, en = _UNIT_WORDS[unit]
    return f"{_trim(value)}{zh if lang == 'zh' else en}"
