"""Register rows to the evaluation frame column by column, without a `Profile` per row.

The definition of a valid row stays the per-row one (`pipeline.read_row`: the `Profile` model
and the policy set's checks, then `columns.profile_to_row`). This module only avoids running it
on every row, relying on one property of that definition: **a row is valid exactly when each of
its cells is valid on its own, and each cell's frame value depends on that cell alone** (the
model's only validators across fields, a part above its whole such as `tech_staff` above
`employees`, are checked across columns by `_parts_above_wholes`; the policy set checks the zone
and each declared fact separately; `profile_to_row` converts field by field). So each distinct cell value of a column is
checked once, by the per-row path applied to a row holding only that cell, and the answer is
reused for every row holding the same value. Cells of a few common shapes (plain decimal
amounts, integers, `true`/`false`, ISO dates, names, valid credit codes) are converted directly
by `_sure` (plain decimal text columns by Polars, `_plain_micro`; amounts with units through the
field's own validator, `_read`), which accepts only what the model certainly accepts and
converts it to the same value; `tests/test_screen_fast.py` checks both claims against the
per-row path. A model or unflatten rule that links two cells would break the property: such a
change must come with a row-level check here (the property tests would catch it).

A row with any cell that is not valid, or whose shape this module does not take apart
(unparseable JSON, a financial year written `02025`, duplicate CSV headers, …) is a *suspect*: it
goes through the per-row path whole, which gives the same error message as before, with every
invalid field, or accepts it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from ..errors import ProfileError
from ..model.creditcode import credit_code_problem
from ..model.facts import FactDef, FactType
from ..model.profile import FINANCIAL_PARTS, PROFILE_PARTS, _money, _number
from ..policyset import PolicySet
from .columns import (
    FINANCIAL_LINES,
    LIMIT,
    LISTS,
    ROW,
    SCALARS,
    SCALE,
    RowError,
    declared_profile_facts,
    profile_to_row,
    row_profile,
    schema,
    to_micro,
    unflatten,
)

# The shapes `_sure` converts without asking the model (anything else is asked once per value).
_PLAIN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")
_SIGNED = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?")
_ISO_DATE = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}")
_FLAT_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_SIGNED_LINES = frozenset({"taxable_income", "net_assets"})  # money that may be negative
_LIST_NAMES = frozenset(LISTS)
ABSENT = object()  # a cell that is not there (an empty CSV cell, a key absent from JSON)


def _micro_text(text: str) -> int:
    whole, _, fraction = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * SCALE + int(fraction.ljust(6, "0")))


def _micro_decimal(value: Decimal, signed: bool) -> int | None:
    if not value.is_finite() or not (-LIMIT < value < LIMIT) or (value < 0 and not signed):
        return None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -6:
        return None
    return int(value * SCALE)


@dataclass(frozen=True)
class _Kind:
    """What a column holds, as far as `_sure` needs to know."""

    quantity: bool = False
    # the field's own validator (`_money`, `_number`) for amounts with units (`1200万元`)
    reader: Callable[[object], object] | None = None
    signed: bool = False
    boolean: bool = False
    day: bool = False
    text: bool = False  # any string is valid and stays as it is
    credit_code: bool = False


def _kind(name: str, declared: Mapping[str, FactDef]) -> _Kind:
    if name in ("employees", "tech_staff"):
        return _Kind(quantity=True, reader=_number)
    if name.startswith("financials."):
        parts = name.split(".")
        if not (len(parts) == 3 and parts[2] in FINANCIAL_LINES and _year(parts[1])):
            return _Kind()  # unknown line or bad year: the model says what is wrong
        return _Kind(quantity=True, signed=parts[2] in _SIGNED_LINES, reader=_money)
    if name.startswith("facts."):
        defn = declared.get(name[6:])
        if defn is None:
            return _Kind()
        return _Kind(
            quantity=defn.type is FactType.QUANTITY,
            signed=True,
            boolean=defn.type is FactType.BOOL,
            day=defn.type is FactType.DATE,
            text=defn.type is FactType.CODE,
        )
    dtype = SCALARS.get(name)
    if dtype is None:
        return _Kind()
    return _Kind(
        boolean=isinstance(dtype, pl.Boolean) and name != "synthetic",
        day=isinstance(dtype, pl.Date),
        text=name == "name",
        credit_code=name == "credit_code",
    )


def _year(text: str) -> bool:
    """A fiscal year as the model takes it (`FiscalYear`), spelled as the frame spells it."""
    return (
        text.isascii() and text.isdigit() and str(int(text)) == text and 1949 <= int(text) <= 2200
    )


def _sure(kind: _Kind, value: Any, flat: bool) -> Any:
    """The frame value of a cell the model certainly accepts, or ABSENT if not sure."""
    kind_of = type(value)
    if kind.quantity:
        if kind_of is int:
            if (value >= 0 or kind.signed) and -LIMIT < value < LIMIT:
                return value * SCALE
        elif kind_of is str:
            if (_SIGNED if kind.signed else _PLAIN).fullmatch(value):
                return _micro_text(value)
            if kind.reader is not None:
                return _read(kind, value)
        elif kind_of is Decimal:
            micro = _micro_decimal(value, kind.signed)
            if micro is not None:
                return micro
        return ABSENT
    if kind.boolean:
        if kind_of is bool:
            return value
        if flat and kind_of is str:
            return _FLAT_BOOLS.get(value, ABSENT)
        return ABSENT
    if kind.day:
        if kind_of is date:
            return value
        if kind_of is str and _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                return ABSENT
        return ABSENT
    if kind.text:
        return value if kind_of is str else ABSENT
    if (
        kind.credit_code
        and kind_of is str
        and value == value.strip().upper()
        and credit_code_problem(value) is None
    ):
        return value
    return ABSENT


def _read(kind: _Kind, text: str) -> Any:
    """A profile field's own steps for a text amount: its validator, `ge=0`, `to_micro`."""
    assert kind.reader is not None
    try:
        value = kind.reader(text)
        if not isinstance(value, Decimal) or (value < 0 and not kind.signed):
            return ABSENT
        return to_micro(value, "")
    except ValueError:  # UnitError and RowError are ValueErrors
        return ABSENT


def _plain_micro(cells: Sequence[Any], signed: bool) -> list[int | None] | None:
    """`_micro_text` of every plain decimal text cell at once (None for other cells), or None
    when the column has no text (typed Parquet)."""
    texts = [c if type(c) is str else None for c in cells]
    if not any(texts):
        return None
    pattern = (_SIGNED if signed else _PLAIN).pattern
    text = pl.col("text")
    plain = pl.when(text.str.contains(f"^(?:{pattern})$")).then(text)  # others: null
    whole = plain.str.extract(r"^-?([0-9]+)", 1).cast(pl.Int128)
    fraction = plain.str.extract(r"\.([0-9]+)$", 1).fill_null("").str.pad_end(6, "0")
    size = whole * pl.lit(SCALE, pl.Int128) + fraction.cast(pl.Int128)
    micro = (
        pl.DataFrame({"text": texts}, schema={"text": pl.String})
        .select(
            pl.when(plain.str.starts_with("-")).then(pl.lit(0, pl.Int128) - size).otherwise(size)
        )
        .to_series()
    )
    return micro.to_list()


def _key(value: Any) -> Any:
    """A dictionary key that tells apart every value the model could tell apart."""
    if isinstance(value, list | dict):
        return ("repr", repr(value))
    return (type(value), value)


def _canonical(name: str, value: Any) -> Any:
    """A list column's value as JSON text (decoded into structs once per distinct value)."""
    if name in _LIST_NAMES and name != "projects" and value is not None:
        return json.dumps(value, default=date.isoformat, ensure_ascii=False)
    return value


@dataclass
class CellBatch:
    """One batch of register rows, cut into columns of cells.

    `columns[name][i]` is row i's cell (`ABSENT` when it has none). A row listed in `suspects`
    is screened by the per-row path from `record(i)`, whatever its cells.
    """

    numbers: list[int]
    columns: dict[str, list[Any]]
    record: Callable[[int], Any]
    flat: bool
    suspects: set[int] = field(default_factory=set)


class CellChecker:
    """Per-column caches of the per-row path's verdict on single cells, for one policy set."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        self.declared = declared_profile_facts(policy_set.facts)
        self._caches: dict[tuple[str, bool], dict[Any, Any]] = {}
        self._kinds: dict[str, _Kind] = {}

    def one_cell(self, name: str, value: Any, flat: bool) -> Any:
        """The frame value of a row made of this cell alone, or ABSENT if that row is bad."""
        if flat:
            record: Any = {name: value}
        else:
            record = {}
            node = record
            steps = name.split(".")
            for step in steps[:-1]:
                node = node.setdefault(step, {})
            node[steps[-1]] = value
        try:
            if flat:
                record = unflatten(record, self.policy_set.facts)
            profile = row_profile(record, "row")
            if name == "zone" or name.startswith("facts."):  # all that check_profile looks at
                self.policy_set.check_profile(profile)
            row = profile_to_row(profile, self.policy_set.facts)
        except (RowError, ProfileError):
            return ABSENT
        return _canonical(name, row.get(name))

    def convert(self, name: str, cells: Sequence[Any], flat: bool) -> tuple[list[Any], list[int]]:
        """Frame values of a column's cells, and the positions of cells that are not valid."""
        kind = self._kinds.get(name)
        if kind is None:
            kind = self._kinds[name] = _kind(name, self.declared)
        cache = self._caches.setdefault((name, flat), {})
        if len(cache) > 50_000:  # values of a column rarely repeat across the whole register
            cache.clear()
        values: list[Any] = []
        bad: list[int] = []
        append = values.append
        plain = _plain_micro(cells, kind.signed) if kind.quantity and flat else None
        for i, cell in enumerate(cells):
            if cell is ABSENT or (flat and (cell is None or cell == "")):
                append(None)
                continue
            if plain is not None:
                micro = plain[i]
                if micro is not None:
                    append(micro)
                    continue
            value = _sure(kind, cell, flat)
            if value is ABSENT:
                try:
                    key = _key(cell)
                    value = cache.get(key, cache)
                    if value is cache:
                        value = cache[key] = self.one_cell(name, cell, flat)
                except TypeError:  # unhashable (a signalling NaN): ask without caching
                    value = self.one_cell(name, cell, flat)
                if value is ABSENT:
                    bad.append(i)
                    value = None
            append(value)
        return values, bad


def _target(name: str) -> str | None:
    """The frame column a flat column fills, if it is spelled as the frame spells it."""
    if name in SCALARS or name in _LIST_NAMES or name.startswith("facts."):
        return name
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "financials" and parts[1].isdigit():
        return name if str(int(parts[1])) == parts[1] else None
    return None  # unknown: every non-empty cell is a bad cell, which one_cell reports


def build_frame(
    checker: CellChecker, batch: CellBatch, years: Sequence[int]
) -> tuple[pl.DataFrame, list[int]]:
    """The evaluation frame of the rows whose every cell is valid, and the suspects' positions.

    The frame has exactly the columns and values that `rows_to_frame` gives for those rows.
    """
    n = len(batch.numbers)
    suspects = set(batch.suspects)
    converted: dict[str, list[Any]] = {}
    for name, cells in batch.columns.items():
        if batch.flat and name == ROW:
            continue  # the per-row path ignores a `row` column of a flat register
        if batch.flat and _target(name) != name:
            # an unknown column, or one spelled unlike the frame (`financials.02025.revenue`,
            # which the per-row path merges with `financials.2025.revenue`): rows that fill it
            # are left to the per-row path
            suspects.update(
                i for i, c in enumerate(cells) if c is not ABSENT and c not in (None, "")
            )
            continue
        values, bad = checker.convert(name, cells, batch.flat)
        suspects.update(bad)
        converted[name] = values
    suspects.update(_parts_above_wholes(converted))
    keep = [i for i in range(n) if i not in suspects]
    found_years = {
        int(name.split(".")[1])
        for name, values in converted.items()
        if name.startswith("financials.") and any(values[i] is not None for i in keep)
    }
    columns = schema(found_years | set(years), checker.policy_set.facts)
    data: dict[str, pl.Series] = {}
    for name, dtype in columns.items():
        if name == ROW:
            data[name] = pl.Series(name, [batch.numbers[i] for i in keep], pl.Int64)
            continue
        column = converted.get(name)
        if column is None:
            default = False if name == "synthetic" else None
            data[name] = pl.Series(name, [default] * len(keep), dtype)
        elif name in _LIST_NAMES and name != "projects":
            data[name] = _decode_lists(name, [column[i] for i in keep], dtype)
        else:
            series = pl.Series(name, [column[i] for i in keep], dtype=dtype)
            if name == "synthetic":
                series = series.fill_null(False)
            data[name] = series
    return pl.DataFrame(data), sorted(suspects)


def _parts_above_wholes(converted: Mapping[str, list[Any]]) -> Iterator[int]:
    """Rows with a part above its whole in two cells (`tech_staff` above `employees`), the
    model's only rules across fields: suspects, so that the per-row path words the refusal."""
    pairs = [(part, whole) for part, (whole, _) in PROFILE_PARTS.items()]
    years = {name.split(".")[1] for name in converted if name.startswith("financials.")}
    pairs += [
        (f"financials.{year}.{part}", f"financials.{year}.{whole}")
        for year in years
        for part, (whole, _) in FINANCIAL_PARTS.items()
    ]
    for part, whole in pairs:
        if part in converted and whole in converted:
            for i, (a, b) in enumerate(zip(converted[part], converted[whole], strict=True)):
                if a is not None and b is not None and a > b:
                    yield i


def _decode_lists(name: str, texts: list[str | None], dtype: pl.DataType) -> pl.Series:
    """Decode each distinct JSON text once, then gather (registers repeat `[]` a lot)."""
    index: dict[str, int] = {}
    positions = [None if t is None else index.setdefault(t, len(index)) for t in texts]
    decoded = pl.Series(list(index), dtype=pl.String).str.json_decode(dtype)
    return decoded.gather(pl.Series(positions, dtype=pl.UInt32)).alias(name)


# --- cutting rows into cells -----------------------------------------------------------------


def nested_cells(numbered: Sequence[tuple[int, Any]]) -> CellBatch:
    """Cells of nested profile data (parsed JSON Lines); odd shapes make a row a suspect."""
    numbers = [n for n, _ in numbered]
    records = [d for _, d in numbered]
    columns: dict[str, list[Any]] = {}
    suspects: set[int] = set()
    size = len(numbered)

    def put(name: str, i: int, value: Any) -> None:
        column = columns.get(name)
        if column is None:
            column = columns[name] = [ABSENT] * size
        column[i] = value

    for i, data in enumerate(records):
        if not isinstance(data, dict) or not _flatten(data, i, put):
            suspects.add(i)
    return CellBatch(numbers, columns, records.__getitem__, flat=False, suspects=suspects)


def _flatten(data: dict[str, Any], i: int, put: Callable[[str, int, Any], None]) -> bool:
    """Cells of one profile; False when its shape is not one this module takes apart."""
    for key, value in data.items():
        if not isinstance(key, str) or "." in key:
            return False
        if key == "financials":
            if value is None:
                continue
            if not isinstance(value, dict):
                return False
            for year, lines in value.items():
                if not (isinstance(year, str) and year.isdigit() and str(int(year)) == year):
                    return False
                if not isinstance(lines, dict):
                    return False
                for line, amount in lines.items():
                    if not isinstance(line, str) or "." in line:
                        return False
                    put(f"financials.{year}.{line}", i, amount)
        elif key in ("compliance", "facts"):
            if value is None and key == "compliance":
                continue
            if not isinstance(value, dict):
                return False
            for sub, cell in value.items():
                if not isinstance(sub, str) or "." in sub:
                    return False
                put(f"{key}.{sub}", i, cell)
        else:
            put(key, i, value)
    return True


def flat_cells(
    numbers: list[int], header: Sequence[str], columns: Sequence[Sequence[Any]],
    record: Callable[[int], Any], suspects: set[int] | None = None,
) -> CellBatch:  # fmt: skip
    """Cells of flat rows (CSV or Parquet). Duplicate column names make every row a suspect,
    since the per-row path keeps only the last of them."""
    if len(set(header)) != len(header):
        return CellBatch(numbers, {}, record, True, set(range(len(numbers))))
    cells = {name: list(column) for name, column in zip(header, columns, strict=True)}
    return CellBatch(numbers, cells, record, True, set(suspects or ()))


__all__ = ["ABSENT", "CellBatch", "CellChecker", "build_frame", "flat_cells", "nested_cells"]
