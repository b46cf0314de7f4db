"""Register rows to the evaluation frame column by column, without a `Profile` per row.

The definition of a valid row stays the per-row one (`pipeline.read_row`: the `Profile` model
and the policy set's checks, then `columns.profile_to_row`). This module only avoids running it
on every row, relying on one property of that definition: **a row is valid exactly when each of
its cells is valid on its own, and each cell's frame value depends on that cell alone** (the
model's only validators across fields, a part above its whole such as `tech_staff` above
`employees`, are checked across columns by `_parts_above_wholes`; the policy set checks the zone
and each declared fact separately; `profile_to_row` converts field by field). So each distinct cell value of a column is
checked once, by the per-row path applied to a row holding only that cell, and the answer is
reused for every row holding the same value. A column of one type of cell (all text, as in CSV;
integers, booleans or dates, as in typed Parquet and JSON) is converted as a whole: plain decimal
amounts, integers and valid credit codes by `column_checks` on the whole column, every other
distinct value once (`CellChecker.column`). Cells of a few common shapes (plain decimal amounts,
integers, `true`/`false`, ISO dates, names, valid credit codes) are converted directly by the
column's `_Kind.sure` (amounts with units through the field's own validator, `_read`, or for a
whole text column by one parse of its distinct texts against the field's unit table,
`column_checks.plain_micro`; lists of IP, certificates and compliance records through the
model's own validation of that field, item by item, `_Lists`; declared facts through the one
coercion of profile facts, `reference.context._coerce`), which accepts only what the model
certainly accepts and converts it to the same value;
`tests/test_screen_fast.py` and `tests/test_screen_paths.py` check both claims against the
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
from typing import Any, get_args, get_origin

import orjson
import polars as pl
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import ProfileError
from ..model.creditcode import credit_code_problem
from ..model.facts import FactDef, FactType
from ..model.jsonio import JsonError, load_lines
from ..model.profile import (
    FINANCIAL_PARTS,
    FINANCIAL_SHARES,
    PROFILE_PARTS,
    Compliance,
    Profile,
    _money,
    _number,
)
from ..model.units import Unit, suffix_powers
from ..policyset import PolicySet
from ..reference.context import _coerce
from .column_checks import PLAIN, SIGNED, int_micro, plain_micro, valid_credit_codes
from .columns import (
    FINANCIAL_LINES,
    LIMIT,
    LISTS,
    ROW,
    SCALARS,
    SCALE,
    RowError,
    _json_list,
    declared_profile_facts,
    flat_column_type,
    profile_to_row,
    row_profile,
    schema,
    to_micro,
    unflatten,
)

# The shapes converted without asking the model (anything else is asked once per value).
_PLAIN, _SIGNED = re.compile(PLAIN), re.compile(SIGNED)
_ISO_DATE = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}")
_FLAT_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_SIGNED_LINES = frozenset({"taxable_income", "net_assets"})  # money that may be negative
_LIST_NAMES = frozenset(LISTS)
# The units a profile field's validator takes besides plain numbers (`_money`, `_number`)
_MONEY_UNITS = suffix_powers(Unit.YUAN, Unit.NUMBER)
_HEADCOUNT_UNITS = suffix_powers(Unit.NUMBER, Unit.PERSON)
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


Sure = Callable[
    [Any], Any
]  # a cell → its frame value if the model certainly accepts it, else ABSENT


@dataclass(frozen=True)
class _Kind:
    """How the cells of one column are converted without asking the model."""

    sure: Sure
    # a column of quantities whose plain decimal text and integers Polars converts at once
    # (`column_checks.plain_micro`, `int_micro`): whether it may be negative; None otherwise
    plain: bool | None = None
    units: Mapping[str, int] | None = None  # and the units it may be written in (`suffix_powers`)
    text: str | None = None  # "code": valid credit codes as they are; "any": every text as is
    many: Callable[[Sequence[Any]], list[Any]] | None = None  # `sure` of many cells at once


def _nothing_sure(value: Any) -> Any:
    return ABSENT


def _sure_text(value: Any) -> Any:
    return value if type(value) is str else ABSENT


def _sure_credit_code(value: Any) -> Any:
    if type(value) is str and value == value.strip().upper() and credit_code_problem(value) is None:
        return value
    return ABSENT


def _sure_bool(value: Any) -> Any:
    return value if type(value) is bool else ABSENT


def _sure_flat_bool(value: Any) -> Any:
    if type(value) is str:
        return _FLAT_BOOLS.get(value, ABSENT)
    return value if type(value) is bool else ABSENT


def _sure_day(value: Any) -> Any:
    if type(value) is date:
        return value
    if type(value) is str and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return ABSENT
    return ABSENT


def _sure_quantity(reader: Callable[[object], object], signed: bool) -> Sure:
    """Quantities of a profile field: plain numbers directly, text with units through the field's
    own validator (`_money`, `_number`), then its `ge=0` and `to_micro`."""
    pattern = _SIGNED if signed else _PLAIN

    def sure(value: Any) -> Any:
        kind_of = type(value)
        if kind_of is int:
            return value * SCALE if (value >= 0 or signed) and -LIMIT < value < LIMIT else ABSENT
        if kind_of is str:
            return _micro_text(value) if pattern.fullmatch(value) else _read(reader, signed, value)
        if kind_of is Decimal:
            micro = _micro_decimal(value, signed)
            return ABSENT if micro is None else micro
        return ABSENT

    return sure


def _sure_fact_quantity(defn: FactDef) -> Sure:
    """Quantities of a declared profile fact, through the one coercion of profile facts that the
    per-row path also applies (`reference.context._coerce`: units, what a bare number may mean),
    then `to_micro`; once per distinct value (registers repeat scores and years)."""
    where = f"facts.{defn.profile_fact}"
    once = _once_per_value(lambda value: _fact_micro(defn, value, where), 10_000)

    def sure(value: Any) -> Any:
        if type(value) not in (str, int, Decimal):  # other types: the model decides
            return ABSENT
        return once(value)

    return sure


def _fact_micro(defn: FactDef, value: Any, where: str) -> Any:
    try:
        number = _coerce(defn, value, where)
        return to_micro(number, "") if isinstance(number, Decimal) else ABSENT
    except ValueError:  # RowError too
        return ABSENT


class _Lists:
    """A list column's cells (JSON text in CSV, lists in JSON Lines and Parquet) through the
    model's own validation of that field (`list[Item] | None`, as `Profile` declares it), then
    `profile_to_row`'s dump (`model_dump` of each item), as JSON text. Text is read as JSON only
    in a flat register (CSV): in JSON Lines a text where a list belongs is the model's to refuse
    (`"[]"` is not a list).

    The field has no rule over a list as a whole, so a list is valid exactly when each of its
    items is, and each item's dump depends on that item alone: each distinct item (`_list_key`)
    is validated and dumped once (registers repeat the same patent or certificate in many
    lists). `judged` takes the distinct cells of a column at once, their texts parsed by one
    `jsonio.load_lines` (where it accepts a text it reads what `json.loads` reads, Decimals for
    fractions; what it refuses goes to `columns._json_list`)."""

    def __init__(self, name: str, flat: bool) -> None:
        model: type[BaseModel] = Compliance if name == "compliance.records" else Profile
        info = model.model_fields[name.rsplit(".", 1)[-1]]
        listed, none = get_args(info.annotation)
        if none is not type(None) or get_origin(listed) is not list or info.metadata:
            raise TypeError(f"{name}: not a plain optional list")  # the docstring's premise
        self.name, self.flat = name, flat
        self.item: TypeAdapter[BaseModel] = TypeAdapter(get_args(listed)[0])
        self.items: dict[bytes, Any] = {}  # an item's key → its dump, or ABSENT if refused

    def sure(self, value: Any) -> Any:
        """`judged` of one value."""
        data = self._text(value) if isinstance(value, str) else value
        return self._list(data) if type(data) is list else ABSENT

    def judged(self, values: Sequence[Any]) -> list[Any]:
        """Each value's frame value (JSON text) if the model certainly accepts it, else ABSENT
        (a null too: the model decides what it means)."""
        if len(self.items) > 50_000:
            self.items.clear()
        return [
            ABSENT if type(data) is not list else self._list(data) for data in self._parsed(values)
        ]

    def _list(self, data: list[Any]) -> Any:
        dumped = []
        for item in data:
            key = _list_key(item)
            found = self.items.get(key)
            if found is None:
                found = self.items[key] = self._dumped(item)
            if found is ABSENT:
                return ABSENT
            dumped.append(found)
        return _canonical(self.name, dumped)

    def _dumped(self, item: Any) -> Any:
        try:
            return self.item.validate_python(item).model_dump()
        except ValidationError:
            return ABSENT

    def _parsed(self, values: Sequence[Any]) -> list[Any]:
        """Each value as `_text` reads it if it is text, else as it is: the texts `load_lines`
        accepts as it reads them (a byte-order mark, which it drops and `json.loads` refuses,
        aside), the others one by one."""
        if not self.flat:
            return [ABSENT if isinstance(v, str) else v for v in values]
        texts = [i for i, v in enumerate(values) if type(v) is str and not v.startswith("\ufeff")]
        loaded = set(texts)
        parsed = [
            self._text(v) if isinstance(v, str) and i not in loaded else v
            for i, v in enumerate(values)
        ]
        for i, data in zip(texts, load_lines([values[i] for i in texts]), strict=True):
            parsed[i] = self._text(values[i]) if isinstance(data, JsonError) else data
        return parsed

    def _text(self, text: str) -> Any:
        """A text cell as `_json_list` reads it, ABSENT where it refuses it or in JSON Lines."""
        if not self.flat:
            return ABSENT
        try:
            return _json_list(text, self.name)
        except RowError:
            return ABSENT


def _kind(name: str, declared: Mapping[str, FactDef], flat: bool) -> _Kind:
    if name in ("employees", "tech_staff", "workforce", "rd_staff"):
        return _Kind(_sure_quantity(_number, signed=False), plain=False, units=_HEADCOUNT_UNITS)
    if name.startswith("financials."):
        parts = name.split(".")
        if not (len(parts) == 3 and parts[2] in FINANCIAL_LINES and _year(parts[1])):
            return _Kind(_nothing_sure)  # unknown line or bad year: the model says what is wrong
        signed = parts[2] in _SIGNED_LINES
        return _Kind(_sure_quantity(_money, signed), plain=signed, units=_MONEY_UNITS)
    if name.startswith("facts."):
        defn = declared.get(name[6:])
        return _Kind(_nothing_sure) if defn is None else _Kind(_fact_sure(defn, flat))
    if name in _LIST_NAMES and name != "projects":
        lists = _Lists(name, flat)
        return _Kind(_once_per_value(lists.sure, 20_000), many=lists.judged)
    return _scalar_kind(name, flat)


def _scalar_kind(name: str, flat: bool) -> _Kind:
    dtype = SCALARS.get(name)
    if isinstance(dtype, pl.Boolean) and name != "synthetic":
        return _Kind(_sure_flat_bool if flat else _sure_bool)
    if isinstance(dtype, pl.Date):
        return _Kind(_sure_day)
    if name == "name":
        return _Kind(_sure_text, text="any")
    if name == "credit_code":
        return _Kind(_sure_credit_code, text="code")
    return _Kind(_nothing_sure)


def _fact_sure(defn: FactDef, flat: bool) -> Sure:
    if defn.type is FactType.QUANTITY:
        return _sure_fact_quantity(defn)
    if defn.type is FactType.BOOL:
        return _sure_flat_bool if flat else _sure_bool
    if defn.type is FactType.DATE:
        return _sure_day
    return _sure_text if defn.type is FactType.CODE else _nothing_sure


def _year(text: str) -> bool:
    """A fiscal year as the model takes it (`FiscalYear`), spelled as the frame spells it."""
    return (
        text.isascii() and text.isdigit() and str(int(text)) == text and 1949 <= int(text) <= 2200
    )


def _read(reader: Callable[[object], object], signed: bool, text: str) -> Any:
    """A profile field's own steps for a text amount: its validator, `ge=0`, `to_micro`."""
    try:
        value = reader(text)
        if not isinstance(value, Decimal) or (value < 0 and not signed):
            return ABSENT
        return to_micro(value, "")
    except ValueError:  # UnitError and RowError are ValueErrors
        return ABSENT


def _once_per_value(judge: Sure, bound: int) -> Sure:
    """`judge`, asked once per distinct value (`_key`) while fewer than `bound` values are
    kept; a value that cannot be a key (a signalling NaN) is judged every time."""
    known: dict[Any, Any] = {}

    def sure(value: Any) -> Any:
        try:
            key = _key(value)
            found = known.get(key, known)
        except TypeError:
            return judge(value)
        if found is known:
            if len(known) > bound:
                known.clear()
            found = known[key] = judge(value)
        return found

    return sure


def _key(value: Any) -> Any:
    """A dictionary key that tells apart every value the model could tell apart."""
    if isinstance(value, list | dict):
        return ("repr", repr(value))
    return (type(value), value)


def _list_key(value: Any) -> bytes:
    """A key for a parsed list cell that tells apart every value `_key` tells apart, cheaper
    than its `repr`: orjson's text of it (a JSON value's text gives back that value), or the
    `repr` behind a NUL byte (orjson's text never begins with one) for what orjson does not
    write (Decimals, integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return b"\0" + repr(value).encode()


def _list_keys(cells: Sequence[Any], flat: bool) -> list[bytes | None]:
    """`_list_key` of each cell of a list column; None for an empty cell (absent, and in a
    flat register null or "", as in `CellChecker._one_by_one`)."""
    empty = flat and "" in cells
    return [
        None if c is ABSENT or (flat and (c is None or (empty and c == ""))) else _list_key(c)
        for c in cells
    ]


def _canonical(name: str, value: Any) -> Any:
    """A list column's value as JSON text (decoded into structs once per distinct value): by
    orjson (dates as ISO text, as `date.isoformat`), or the standard library for what orjson
    does not write."""
    if name in _LIST_NAMES and value is not None:
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            return json.dumps(value, default=date.isoformat, ensure_ascii=False)
    return value


Cells = Sequence[Any] | pl.Series  # a column's cells: Python values, or a flat register's Series


@dataclass
class CellBatch:
    """One batch of register rows, cut into columns of cells.

    `columns[name][i]` is row i's cell (`ABSENT` when it has none). A flat register's column
    may be a Series read straight from the file (`registers`), where null is an empty cell. A
    row listed in `suspects` is screened by the per-row path from `record(i)`, whatever its
    cells.
    """

    numbers: list[int]
    columns: dict[str, Cells]
    record: Callable[[int], Any]
    flat: bool
    suspects: set[int] = field(default_factory=set)


class CellChecker:
    """Per-column caches of the per-row path's verdict on single cells, for one policy set."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        self.declared = declared_profile_facts(policy_set.facts)
        self._caches: dict[tuple[str, bool], dict[Any, Any]] = {}
        self._kinds: dict[tuple[str, bool], _Kind] = {}

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

    def convert(self, name: str, cells: Cells, flat: bool) -> tuple[list[Any], list[int]]:
        """Frame values of a column's cells, and the positions of cells that are not valid."""
        values, bad = self.column(name, cells, flat)
        return values.to_list(), bad

    def column(self, name: str, cells: Cells, flat: bool) -> tuple[pl.Series, list[int]]:
        """`convert`, as a Series of the column's frame type (null where a cell is empty or not
        valid). A column of one type of cell (text, integers, booleans, dates: what CSV, typed
        Parquet and most JSON give) is converted at once: the shapes `column_checks` is sure of
        first, then each other distinct value once; a column of other or mixed types (Decimals,
        lists, numbers beside text) cell by cell."""
        kind = self._kinds.get((name, flat))
        if kind is None:
            kind = self._kinds[name, flat] = _kind(name, self.declared, flat)
        cache = self._caches.setdefault((name, flat), {})
        if len(cache) > 50_000:  # values of a column rarely repeat across the whole register
            cache.clear()
        dtype = _value_type(name, self.policy_set.facts)
        if isinstance(cells, pl.Series):
            return self._series(name, cells, flat, kind, cache, dtype)
        if kind.many is not None:
            return self._keyed(name, cells, flat, kind.many, cache, dtype)
        return self._listed(name, cells, flat, kind, cache, dtype)

    def _listed(
        self, name: str, cells: Sequence[Any], flat: bool, kind: _Kind, cache: dict[Any, Any],
        dtype: pl.DataType,
    ) -> tuple[pl.Series, list[int]]:  # fmt: skip
        """`column` of Python cells: at once when they are of one type `_whole` takes (and
        absent or null), else cell by cell."""
        types = set(map(type, cells))
        null_bad = False
        if type(None) in types and not flat:  # JSON null: a value the model judges, once
            answer = self._asked(name, None, flat, cache)
            if answer is not None and answer is not ABSENT:
                return self._one_by_one(name, cells, flat, kind, cache, dtype)
            null_bad = answer is ABSENT
        others = types - {type(None), type(ABSENT)}
        of = others.pop() if len(others) == 1 else str if not others else None
        if of in _RAW_TYPES:
            try:
                present = [None if c is ABSENT else c for c in cells] if ABSENT in cells else cells
                raw = pl.Series(name, present, _RAW_TYPES[of])
                values, bad = self._whole(name, raw, flat, kind, cache, dtype, of)
            except (OverflowError, TypeError, pl.exceptions.PolarsError):  # a huge integer
                return self._one_by_one(name, cells, flat, kind, cache, dtype)
            if null_bad:
                bad = sorted([*bad, *(i for i, c in enumerate(cells) if c is None)])
            return values, bad
        return self._one_by_one(name, cells, flat, kind, cache, dtype)

    def _series(
        self, name: str, cells: pl.Series, flat: bool, kind: _Kind, cache: dict[Any, Any],
        dtype: pl.DataType,
    ) -> tuple[pl.Series, list[int]]:  # fmt: skip
        """`column` of a flat register's column read straight into a Series (a null is an empty
        cell): at once when its type is one `_whole` takes, else cell by cell."""
        of = _series_type(cells.dtype)
        if of is not None:
            try:
                return self._whole(name, cells, flat, kind, cache, dtype, of)
            except (OverflowError, TypeError, pl.exceptions.PolarsError):
                pass
        if kind.many is not None:  # a Parquet column of lists
            return self._keyed(name, cells.to_list(), flat, kind.many, cache, dtype)
        return self._one_by_one(name, cells.to_list(), flat, kind, cache, dtype)

    def _whole(
        self, name: str, raw: pl.Series, flat: bool, kind: _Kind, cache: dict[Any, Any],
        dtype: pl.DataType, of: type,
    ) -> tuple[pl.Series, list[int]]:  # fmt: skip
        """A column of one type of cell and absent (or null) cells, at once."""
        if of is str and flat:
            raw = raw.replace("", None)
        sure = _sure_column(raw, kind, of, dtype)
        rest = raw.filter(raw.is_not_null() & sure.is_null())
        if len(rest) == 0:
            return sure.alias(name), []
        unique = rest.unique()
        distinct = unique.to_list()
        answers = []
        if kind.many is not None:
            judged = kind.many(distinct)
        else:
            judged = [
                kind.sure(value) if parsed is None else parsed
                for value, parsed in zip(distinct, _with_units(unique, kind, of), strict=True)
            ]
        for value, found in zip(distinct, judged, strict=True):
            answers.append(self._asked(name, value, flat, cache) if found is ABSENT else found)
        known = pl.Series([None if a is ABSENT else a for a in answers], dtype=dtype)
        codes = raw.replace_strict(
            distinct, range(len(distinct)), default=None, return_dtype=pl.UInt32
        )
        asked = known.gather(codes)
        values = pl.DataFrame({"s": sure, "a": asked}).select(pl.coalesce("s", "a")).to_series()
        refused = [i for i, a in enumerate(answers) if a is ABSENT]
        bad = codes.is_in(refused).fill_null(False).arg_true().to_list() if refused else []
        return values.alias(name), bad

    def _keyed(
        self, name: str, cells: Sequence[Any], flat: bool, many: Callable[..., list[Any]],
        cache: dict[Any, Any], dtype: pl.DataType,
    ) -> tuple[pl.Series, list[int]]:  # fmt: skip
        """`column` of Python cells of a list column, each distinct value (`_list_key`) judged
        once: by `many` (a `_Kind.many`) at once, then by `_asked` where it is not sure."""
        keys = _list_keys(cells, flat)
        first = dict(zip(keys, cells, strict=True))  # a cell of each distinct key
        first.pop(None, None)
        distinct = list(first.values())
        found: dict[Any, Any] = {None: None}
        for key, value, sure in zip(first, distinct, many(distinct), strict=True):
            found[key] = self._asked(name, value, flat, cache) if sure is ABSENT else sure
        values = [found[key] for key in keys]
        if not any(found[key] is ABSENT for key in first):
            return pl.Series(name, values, dtype), []
        bad = [i for i, value in enumerate(values) if value is ABSENT]
        return pl.Series(name, [None if v is ABSENT else v for v in values], dtype), bad

    def _one_by_one(
        self, name: str, cells: Sequence[Any], flat: bool, kind: _Kind, cache: dict[Any, Any],
        dtype: pl.DataType,
    ) -> tuple[pl.Series, list[int]]:  # fmt: skip
        """A column of other or mixed types (Decimals, lists, numbers and text), cell by cell."""
        sure = kind.sure
        values: list[Any] = []
        bad: list[int] = []
        append = values.append
        for i, cell in enumerate(cells):
            if cell is ABSENT or (flat and (cell is None or cell == "")):
                append(None)
                continue
            value = sure(cell)
            if value is ABSENT:
                value = self._asked(name, cell, flat, cache)
                if value is ABSENT:
                    bad.append(i)
                    value = None
            append(value)
        return pl.Series(name, values, dtype), bad

    def _asked(self, name: str, cell: Any, flat: bool, cache: dict[Any, Any]) -> Any:
        """`one_cell`, once per distinct value of the column."""
        try:
            key = _key(cell)
            value = cache.get(key, cache)
            if value is cache:
                value = cache[key] = self.one_cell(name, cell, flat)
            return value
        except TypeError:  # unhashable (a signalling NaN): ask without caching
            return self.one_cell(name, cell, flat)


_RAW_TYPES: dict[type, pl.DataType] = {
    str: pl.String(),
    int: pl.Int128(),
    bool: pl.Boolean(),
    date: pl.Date(),
}


def _series_type(dtype: pl.DataType) -> type | None:
    """The Python type of the cells of a Series of this type, if `_whole` takes it at once."""
    if dtype == pl.String:
        return str
    if dtype.is_integer():
        return int
    return {pl.Boolean: bool, pl.Date: date, pl.Decimal: Decimal}.get(type(dtype))


def _value_type(name: str, facts: Mapping[str, FactDef]) -> pl.DataType:
    """The type of a column's frame values as `CellChecker.convert` gives them: the frame's,
    but JSON text for lists of structs, and nothing for a name that is no column."""
    if name in _LIST_NAMES:
        return pl.String()
    found = flat_column_type(name, facts)
    return pl.Null() if found is None else found


def _with_units(distinct: pl.Series, kind: _Kind, of: type) -> list[Any]:
    """The frame values of distinct texts written with one of the column's units (`1200万元`),
    parsed at once (`column_checks.plain_micro`); None for every other value."""
    if kind.units is None or kind.plain is None or of is not str:
        return [None] * len(distinct)
    return plain_micro(distinct, kind.plain, kind.units).to_list()


def _sure_column(raw: pl.Series, kind: _Kind, of: type, dtype: pl.DataType) -> pl.Series:
    """The frame values of the cells of shapes `column_checks` is sure of; null elsewhere."""
    if kind.plain is not None and of in (str, int, Decimal):
        return (int_micro if of is int else plain_micro)(raw, kind.plain)  # Decimal: as text
    if kind.text is not None and of is str:
        if kind.text == "any":
            return raw
        valid = valid_credit_codes(raw)
        return (
            pl.DataFrame({"c": raw, "v": valid})
            .select(pl.when(pl.col("v")).then(pl.col("c")))
            .to_series()
        )
    return pl.Series(raw.name, [None] * len(raw), dtype)


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
    converted, suspects = _converted(checker, batch)
    size = len(batch.numbers)
    keep = pl.Series([True] * size, dtype=pl.Boolean)
    if suspects:
        keep = keep.scatter(sorted(suspects), False)
    kept = {name: values.filter(keep) for name, values in converted.items()}
    found_years = {
        int(name.split(".")[1])
        for name, values in kept.items()
        if name.startswith("financials.") and values.null_count() < len(values)
    }
    columns = schema(found_years | set(years), checker.policy_set.facts)
    height = size - len(suspects)
    data = {ROW: pl.Series(ROW, batch.numbers, pl.Int64).filter(keep)}
    for name, dtype in columns.items():
        if name != ROW:
            data[name] = _series(name, dtype, kept.get(name), height)
    return pl.DataFrame(data), sorted(suspects)


def _converted(checker: CellChecker, batch: CellBatch) -> tuple[dict[str, pl.Series], set[int]]:
    """Frame values of every column the frame takes, and the positions of the suspect rows."""
    suspects = set(batch.suspects)
    converted: dict[str, pl.Series] = {}
    for name, cells in batch.columns.items():
        if batch.flat and name == ROW:
            continue  # the per-row path ignores a `row` column of a flat register
        if batch.flat and _target(name) != name:
            # an unknown column, or one spelled unlike the frame (`financials.02025.revenue`,
            # which the per-row path merges with `financials.2025.revenue`): rows that fill it
            # are left to the per-row path
            suspects.update(_filled(cells))
            continue
        values, bad = checker.column(name, cells, batch.flat)
        suspects.update(bad)
        converted[name] = values
    suspects.update(_parts_above_wholes(converted))
    return converted, suspects


def _filled(cells: Cells) -> list[int]:
    """The positions of a column's cells that are not empty (absent, null or "")."""
    if isinstance(cells, pl.Series):
        filled = cells.is_not_null()
        if cells.dtype == pl.String:
            filled &= cells != ""
        return filled.arg_true().to_list()
    return [i for i, c in enumerate(cells) if c is not ABSENT and c not in (None, "")]


def _series(name: str, dtype: pl.DataType, column: pl.Series | None, height: int) -> pl.Series:
    """One frame column: the kept rows' values, or its default where the register has none."""
    if column is None:
        default = False if name == "synthetic" else None
        return pl.repeat(default, height, dtype=dtype, eager=True).alias(name)
    if name in _LIST_NAMES:
        return _decode_lists(name, column, dtype)
    series: pl.Series = column.cast(dtype).alias(name)
    return series.fill_null(False) if name == "synthetic" else series


def _parts_above_wholes(converted: Mapping[str, pl.Series]) -> Iterator[int]:
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
            above = pl.DataFrame({"p": converted[part], "w": converted[whole]}).select(
                (pl.col("p") > pl.col("w")).fill_null(False)
            )
            yield from above.to_series().arg_true().to_list()
    yield from _shares_above_wholes(converted, years)


def _shares_above_wholes(converted: Mapping[str, pl.Series], years: set[str]) -> Iterator[int]:
    """Rows whose stated parts of a financial line add up to more than it (`FINANCIAL_SHARES`)."""
    for year in years:
        for whole, (parts, _) in FINANCIAL_SHARES.items():
            names = [f"financials.{year}.{name}" for name in (whole, *parts)]
            if all(name in converted for name in names):
                frame = pl.DataFrame({f"c{i}": converted[n] for i, n in enumerate(names)})
                stated = [pl.col(f"c{i}") for i in range(1, len(names))]
                above = frame.select(
                    (pl.sum_horizontal(stated) > pl.col("c0")).fill_null(False)
                    & pl.all_horizontal(c.is_not_null() for c in [pl.col("c0"), *stated])
                )
                yield from above.to_series().arg_true().to_list()


def _decode_lists(name: str, texts: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Decode each distinct JSON text once, then gather (registers repeat `[]` a lot)."""
    distinct = texts.drop_nulls().unique()
    positions = texts.replace_strict(
        distinct, pl.int_range(len(distinct), dtype=pl.UInt32, eager=True), default=None
    )
    decoded: pl.Series = distinct.str.json_decode(dtype)
    return decoded.gather(positions).alias(name)


# --- cutting rows into cells -----------------------------------------------------------------


class _Columns(dict[str, list[Any]]):
    """Columns of cells by name; a name seen first gets a column of ABSENT cells."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __missing__(self, name: str) -> list[Any]:
        column = self[name] = [ABSENT] * self.size
        return column


def nested_cells(numbered: Sequence[tuple[int, Any]]) -> CellBatch:
    """Cells of nested profile data (parsed JSON Lines); odd shapes make a row a suspect."""
    numbers = [n for n, _ in numbered]
    records = [d for _, d in numbered]
    columns = _Columns(len(numbered))
    suspects: set[int] = set()
    for i, data in enumerate(records):
        if type(data) is not dict or not _flatten(data, i, columns):
            suspects.add(i)
    return CellBatch(numbers, dict(columns), records.__getitem__, flat=False, suspects=suspects)


def _flatten(data: dict[str, Any], i: int, columns: _Columns) -> bool:
    """Cells of one profile; False when its shape is not one this module takes apart."""
    for key, value in data.items():
        if type(key) is not str or "." in key:
            return False
        if key == "financials":
            if value is not None and not _flatten_financials(value, i, columns):
                return False
        elif key == "compliance" or key == "facts":
            if value is None and key == "compliance":
                continue
            if type(value) is not dict or not _flatten_map(key, value, i, columns):
                return False
        else:
            columns[key][i] = value
    return True


def _flatten_financials(value: Any, i: int, columns: _Columns) -> bool:
    if type(value) is not dict:
        return False
    for year, lines in value.items():
        if not (type(year) is str and year.isascii() and year.isdigit() and str(int(year)) == year):
            return False
        if type(lines) is not dict or not _flatten_map(f"financials.{year}", lines, i, columns):
            return False
    return True


def _flatten_map(prefix: str, value: dict[Any, Any], i: int, columns: _Columns) -> bool:
    for sub, cell in value.items():
        if type(sub) is not str or "." in sub:
            return False
        columns[f"{prefix}.{sub}"][i] = cell
    return True


def flat_cells(
    numbers: list[int], header: Sequence[str], columns: Sequence[Cells],
    record: Callable[[int], Any], suspects: set[int] | None = None,
) -> CellBatch:  # fmt: skip
    """Cells of flat rows (CSV or Parquet). Duplicate column names make every row a suspect,
    since the per-row path keeps only the last of them."""
    if len(set(header)) != len(header):
        return CellBatch(numbers, {}, record, True, set(range(len(numbers))))
    cells: dict[str, Cells] = {
        name: column if isinstance(column, pl.Series) else list(column)
        for name, column in zip(header, columns, strict=True)
    }
    return CellBatch(numbers, cells, record, True, set(suspects or ()))


__all__ = [
    "ABSENT",
    "CellBatch",
    "CellChecker",
    "Cells",
    "build_frame",
    "flat_cells",
    "nested_cells",
]
