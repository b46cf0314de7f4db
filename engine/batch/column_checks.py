"""Whole columns of register cells converted at once, for the shapes the model certainly accepts.

Each function takes a column of cells as a Polars Series and gives the frame value of every cell
of a shape it is sure of, and null for every other cell (which `cells.CellChecker` then asks the
per-row path about, once per distinct value). Each accepts only what the per-cell conversion of
`cells` accepts, and converts it to the same value:

- `plain_micro`: plain decimal text (`12`, `-3.5`, at most 15 digits before the point and 6 after)
  as integer millionths, as `cells._micro_text`; with the units of a field (`1200万元`, `1.5亿元`,
  `12人`: a plain decimal and a suffix of `model.units.suffix_powers`, nothing between them), the
  value `parse_quantity` reads, if it has at most 6 decimals and is below `LIMIT`;
- `int_micro`: integers (typed Parquet, JSON numbers) as millionths, inside the range and sign
  of the column;
- `valid_credit_codes`: whether each text is a valid GB 32100 credit code as written (18
  characters of the code's set, a digit division code, both check characters right), the
  check characters computed on the whole column, as `model.creditcode.credit_code_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from ..model.creditcode import CHARSET
from .columns import LIMIT, SCALE

# Plain decimal text of a quantity (at most 15 digits before the point and 6 after), unsigned
# and signed: the shapes converted without asking the model, here and in `cells`.
PLAIN = r"[0-9]{1,15}(?:\.[0-9]{1,6})?"
SIGNED = r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?"

# GB 32100 (see `model.creditcode`): each position's weight, the value of each character, and
# the GB 11714 weights and values of the embedded organisation code (positions 9-16).
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUES = {ch: i for i, ch in enumerate(CHARSET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHECKS = {i: str(i) for i in range(1, 10)} | {10: "X", 11: "0"}
_SCALES = {d: 10 ** (6 - d) for d in range(7)}  # decimals written → the factor to millionths
_CODE = "^[" + "".join(CHARSET) + "]{2}[0-9]{6}[" + "".join(CHARSET) + "]{10}$"


def plain_micro(
    texts: pl.Series, signed: bool, units: Mapping[str, int] | None = None
) -> pl.Series:
    """Millionths (Int128) of each plain decimal text, or of a plain decimal followed at once
    by one of `units` (suffix → power of ten of its factor: `万元` → 4); null for any other
    cell, and for one whose value has more than 6 decimals or 15 digits before the point."""
    text = pl.col("text")
    if not units:
        micro = _plain(text, SIGNED if signed else PLAIN)
    else:
        size, negative = _with_unit(text, signed, units)
        micro = pl.when(negative).then(pl.lit(0, pl.Int128) - size).otherwise(size)
    return pl.DataFrame({"text": texts.cast(pl.String)}).select(micro).to_series()


def _plain(text: pl.Expr, pattern: str) -> pl.Expr:
    """Millionths of each text matching `pattern` (`[-]digits[.digits]`, at most 6 decimals):
    its digits without the point, read as one integer (the sign with them), times ten to the
    power of the decimals it lacks of 6."""
    decimals = (text.str.len_bytes() - text.str.find(".", literal=True) - 1).fill_null(0)
    digits = text.str.replace(".", "", literal=True).cast(pl.Int128, strict=False)
    scale = decimals.replace_strict(_SCALES, default=None, return_dtype=pl.Int128)
    return pl.when(text.str.contains(f"^(?:{pattern})$")).then(digits * scale)


def _with_unit(text: pl.Expr, signed: bool, units: Mapping[str, int]) -> tuple[pl.Expr, pl.Expr]:
    """The size in millionths and the sign of `<number><unit>` texts (`1200万元`, `12.5`)."""
    suffixes = "|".join(re.escape(s) for s in sorted(units, key=len, reverse=True))
    sign = "-?" if signed else ""
    parts = text.str.extract_groups(
        f"^(?<sign>{sign})(?<whole>[0-9]{{1,15}})(?:\\.(?<fraction>[0-9]{{1,20}}))?"
        f"(?<unit>{suffixes})?$"
    )
    unit = parts.struct.field("unit")  # one of `units` (the pattern says so), or none
    power = unit.replace_strict(units, default=None, return_dtype=pl.Int64).fill_null(0)
    digits = power + 6  # decimals a value in millionths may have, in the unit written
    fraction = parts.struct.field("fraction").fill_null("")
    fits = fraction.str.len_chars() <= digits
    whole = parts.struct.field("whole").cast(pl.Int128)
    scale = digits.replace_strict(
        {d: 10**d for d in {p + 6 for p in (0, *units.values())}}, return_dtype=pl.Int128
    )
    tail = fraction.str.pad_end(20, "0").str.slice(0, digits.cast(pl.UInt32))
    size = pl.when(fits).then(whole * scale + tail.cast(pl.Int128))
    inside = size < pl.lit(LIMIT * SCALE, pl.Int128)
    return pl.when(inside).then(size), parts.struct.field("sign") == "-"


def int_micro(numbers: pl.Series, signed: bool) -> pl.Series:
    """Millionths (Int128) of each integer inside (−LIMIT, LIMIT), and not negative unless the
    column may be; null for any other."""
    value = pl.col("n").cast(pl.Int128)
    low = -LIMIT if signed else -1
    inside = (value > low) & (value < LIMIT)
    micro = pl.when(inside).then(value * pl.lit(SCALE, pl.Int128))
    return pl.DataFrame({"n": numbers}).select(micro).to_series()


def valid_credit_codes(texts: pl.Series) -> pl.Series:
    """Whether each text is a valid credit code exactly as written (no space, capitals). A text
    of the code's shape (`_CODE`: 18 characters of its set, all ASCII) is read as its 18 bytes,
    from which each character's two values are computed (`_values`)."""
    code = pl.col("code")
    shaped = code.str.contains(_CODE)
    padded = pl.when(shaped).then(code).otherwise(pl.lit("0" * 18))  # every text 18 bytes long
    raw = padded.cast(pl.Binary).bin.reinterpret(dtype=pl.Array(pl.UInt8, 18), endianness="little")
    frame = pl.DataFrame({"code": texts.cast(pl.String)}).select(shaped=shaped, raw=raw)
    bytes_ = frame.select(pl.col("raw").arr.get(i).cast(pl.Int32).alias(str(i)) for i in range(18))
    org, values = _values([pl.col(str(i)) for i in range(18)])
    org_total = pl.sum_horizontal([v * w for v, w in zip(org[8:16], _ORG_WEIGHTS, strict=True)])
    org_check = (11 - org_total % 11).replace_strict(_ORG_CHECKS, default=None)
    total = pl.sum_horizontal([v * w for v, w in zip(values[:17], _WEIGHTS, strict=True)])
    remainder = 31 - total % 31
    check = pl.when(remainder == 31).then(0).otherwise(remainder)
    valid = (values[16] == _value_of(org_check)) & (values[17] == check)
    return frame["shaped"].fill_null(False) & bytes_.select(valid.fill_null(False)).to_series()


def _values(chars: list[pl.Expr]) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The GB 11714 and GB 32100 values of each character of the code's set, from its byte:
    digits 0-9, then letters from 10 (A) in GB 11714, and without I, O, S, V in GB 32100 (the
    set has no Z either: nothing after Y to shift)."""
    org = [pl.when(c >= ord("A")).then(c - (ord("A") - 10)).otherwise(c - ord("0")) for c in chars]
    skipped = [ord(letter) for letter in "IOSV"]
    values = [
        o - pl.sum_horizontal([(c > s).cast(pl.Int32) for s in skipped])
        for o, c in zip(org, chars, strict=True)
    ]
    return org, values


def _value_of(character: pl.Expr) -> pl.Expr:
    """The GB 32100 value of a one-character text of the code's set."""
    return character.replace_strict(_VALUES, default=None, return_dtype=pl.Int32)


__all__ = ["PLAIN", "SIGNED", "int_micro", "plain_micro", "valid_credit_codes"]
