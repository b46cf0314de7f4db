from datetime import date
from decimal import Decimal

import pytest

from incentives.engine.model.units import (
    Unit,
    UnitError,
    format_money,
    format_quantity,
    parse_quantity,
    shift_date,
)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("20万元", Decimal("200000"), Unit.YUAN),
        ("1.5亿元", Decimal("150000000"), Unit.YUAN),
        ("5,000万元", Decimal("50000000"), Unit.YUAN),
        ("3%", Decimal("0.03"), Unit.RATIO),
        ("0.1%", Decimal("0.001"), Unit.RATIO),
        ("500元/吨", Decimal("500"), Unit.YUAN_PER_TONNE),
        ("12元/平方米", Decimal("12"), Unit.YUAN_PER_SQUARE_METRE),
        ("300人", Decimal("300"), Unit.PERSON),
        ("70分", Decimal("70"), Unit.POINT),
        ("1年", Decimal("1"), Unit.YEAR),
        ("-6个月", Decimal("-6"), Unit.MONTH),
        ("12", Decimal("12"), Unit.NUMBER),
        (7, Decimal("7"), Unit.NUMBER),
        (Decimal("0.6"), Decimal("0.6"), Unit.NUMBER),
    ],
)
def test_parse_exact(text: object, value: Decimal, unit: Unit) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == value
    assert isinstance(quantity.value, Decimal)
    assert quantity.unit is unit


def test_no_float_rounding() -> None:
    assert parse_quantity("0.1万元").value + parse_quantity("0.2万元").value == Decimal("3000")


@pytest.mark.parametrize("bad", ["20万美元", "abc", "", "1..2元", True, None, [1]])
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(UnitError):
        parse_quantity(bad)


def test_shift_date_calendar() -> None:
    assert shift_date(date(2024, 2, 29), -1, Unit.YEAR) == date(2023, 2, 28)
    assert shift_date(date(2026, 3, 31), -1, Unit.MONTH) == date(2026, 2, 28)
    assert shift_date(date(2026, 1, 1), -1, Unit.DAY) == date(2025, 12, 31)


def test_format_money() -> None:
    assert format_money(Decimal("52000000"), "zh") == "5200万元"
    assert format_money(Decimal("150000000"), "zh") == "1.5亿元"
    assert format_money(Decimal("1234.5"), "en") == "¥1,234.50"
    assert format_money(Decimal("520000"), "en") == "¥520,000"


def test_numbers_beyond_28_digits_are_formatted_not_raised() -> None:
    # Found by tests/test_fuzz_cli.py: a software-copyright count of 10^30 made `explain` raise
    # decimal.InvalidOperation (rounding to 4 decimals needs 35 digits, the context has 28).
    huge = Decimal(10) ** 30
    assert format_quantity(huge, Unit.ITEM, "en") == f"{10**30} items"
    assert format_quantity(Decimal(f"{10**30}.00006"), Unit.ITEM, "zh") == f"{10**30}.0001项"
    assert format_money(huge, "en") == f"¥{10**30:,}"


def test_rounding_for_display_is_the_same_either_side_of_the_narrow_path() -> None:
    # `_rounded` quantizes most values in the current context and only widens it for values
    # too long for it: both ways must give what a wide-enough context gives, at the boundary.
    from decimal import localcontext

    from incentives.engine.model.units import _rounded

    for exponent in range(15, 35):
        for digits in ("1", "9.99995", "123456789.123456789", "-4.5"):
            value = Decimal(digits).scaleb(exponent - Decimal(digits).adjusted())
            for step in (Decimal("0.01"), Decimal("0.0001")):
                with localcontext() as wide:
                    wide.prec = 80
                    expected = value.quantize(step)
                assert _rounded(value, step) == expected, (value, step)


def test_a_figure_of_many_digits_with_a_unit_is_exact_or_refused() -> None:
    """A number of 29 digits or more times a unit's factor (万, 亿) overflowed the default
    Decimal context: a raw InvalidOperation instead of an answer. Now the product is exact
    when it is usable and refused by the usable bound when it is not, in a profile too."""
    from incentives.engine.errors import ProfileError
    from incentives.engine.model.profile import parse_profile
    from incentives.engine.model.units import UnitError, parse_quantity

    exact = parse_quantity("1.000000000000000000000000000001万元").value
    assert exact == Decimal("10000.00000000000000000000000001")
    for huge in ("1" + "0" * 28 + "万元", "1" * 27 + "万元", "9" * 40 + "亿元"):
        with pytest.raises(UnitError, match="not a usable number"):
            parse_quantity(huge)
        with pytest.raises(ProfileError, match=r"financials\.2025\.revenue"):
            parse_profile({"financials": {"2025": {"revenue": huge}}})


def test_a_message_repeats_a_long_value_cut_short() -> None:
    """A hostile cell of a hundred thousand digits is refused with its first characters and
    its length, not printed back whole; short values are quoted in full as before."""
    from incentives.engine.model.units import UnitError, parse_quantity

    with pytest.raises(UnitError) as huge:
        parse_quantity("1" + "0" * 100_000 + "万元")
    assert "… (100,003 characters) is not a usable number" in str(huge.value)
    assert len(str(huge.value)) < 200
    with pytest.raises(UnitError, match=r"cannot read 'x{60}'… \(500 characters\)"):
        parse_quantity("x" * 500)
    with pytest.raises(UnitError, match=r"^cannot read 'abc' as a number"):
        parse_quantity("abc")
