"""The quantity parser's short cut for the usual spellings (`1200`, `20万元`) reads them exactly as
its regular-expression path does, and leaves every other text to it."""

from __future__ import annotations

from collections.abc import Callable

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine.model.units import (
    _SUFFIXES,
    Quantity,
    UnitError,
    _matched_text,
    _plain_text,
)

EXAMPLES = examples(300)

UNITS = [text for text, _, _ in _SUFFIXES]
# Digits of other scripts, full-width digits, signs, separators, exponents, spaces, date marks
# and unit texts cut short: what a hostile or careless file writes around a number.
PIECES = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=30),
    st.sampled_from([*UNITS, "万", "亿", "元/", "e5", "E-3", " ", "\t", ",", ".", "-", "+", "/"]),
    st.sampled_from(["０", "١", "²", "𝟗", "年", "月", "日", "\u202e", "\x00", "", "%%"]),
    st.text(max_size=3),
)
TEXTS = st.lists(PIECES, min_size=1, max_size=4).map("".join)


def _read(parse: Callable[[str], Quantity | None], raw: str) -> object:
    """What a path answers, in a form to compare: the value as written and its unit, or the
    refusal (its type and message: a figure too long for Decimal's precision fails alike)."""
    try:
        quantity = parse(raw)
    except (UnitError, ArithmeticError) as exc:
        return type(exc).__name__, str(exc)
    return None if quantity is None else (repr(quantity.value), quantity.unit)


@settings(max_examples=EXAMPLES)
@given(raw=TEXTS)
def test_short_cut_reads_as_the_pattern_does(raw: str) -> None:
    plain = _read(_plain_text, raw)
    if plain is not None:  # taken: what the pattern reads, the same value written the same
        assert plain == _read(_matched_text, raw), raw


@settings(max_examples=EXAMPLES)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=40), unit=st.sampled_from(UNITS))
def test_usual_spellings_take_the_short_cut(digits: str, unit: str) -> None:
    # parse_quantity's limits (10^-18 to 10^18) are checked after either path, on its quantity
    for raw in (digits, digits + unit):
        plain = _read(_plain_text, raw)
        assert plain is not None, raw
        assert plain == _read(_matched_text, raw), raw
