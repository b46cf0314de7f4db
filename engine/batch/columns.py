"""The flat, columnar form of a register of enterprise profiles.

One row per enterprise; nested profile fields become dotted column names:

- scalar fields by name: `credit_code`, `zone`, `registration_date`, `employees`, …;
- `compliance.tax_credit_rating`, `compliance.abnormal_operations_list`,
  `compliance.serious_dishonesty_list`;
- `financials.<year>.<line>`, e.g. `financials.2025.revenue` (yuan), and
  `financials.<year>.income_by_industry`: a JSON object of industry code → amount in a text
  file (`{"C3976": "1200万元"}`), a list of {industry, amount} structs in the frame;
- `facts.<name>` for profile-supplied facts declared in the catalogue;
- the lists `intellectual_property`, `certifications`, `compliance.records` and `projects`:
  JSON arrays of objects in a text file (CSV), lists of structs in Parquet and in memory
  (amounts of a project in millionths, as every quantity).

An empty cell is *unknown*, exactly as an absent field in a profile. Every row is validated by the
same `Profile` model as `incentives check` uses; a row that fails is reported with its number and
skipped. In the evaluation frame quantities are exact integers in millionths of their unit
(`Int128`), so nothing goes through `float`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import polars as pl

from ..errors import ProfileError
from ..model.facts import FactDef, FactType
from ..model.profile import AMOUNT_LINES, FINANCIAL_MAPPINGS, Profile, Project, parse_profile
from ..reference.context import _coerce

SCALE = 10**6  # quantities are stored as integer millionths of their unit
LIMIT = 10**15  # |quantity| below this, so that products stay far inside Int128
QUANTITY = pl.Int128

SCALARS: dict[str, pl.DataType] = {
    "credit_code": pl.String(),
    "name": pl.String(),
    "synthetic": pl.Boolean(),
    "zone": pl.String(),
    "registration_date": pl.Date(),
    "industry_code": pl.String(),
    "resident_enterprise": pl.Boolean(),
    "audit_collection": pl.Boolean(),
    "restricted_industry": pl.Boolean(),
    "employees": QUANTITY(),
    "tech_staff": QUANTITY(),
    "workforce": QUANTITY(),
    "rd_staff": QUANTITY(),
    "compliance.tax_credit_rating": pl.String(),
    "compliance.abnormal_operations_list": pl.Boolean(),
    "compliance.serious_dishonesty_list": pl.Boolean(),
}
FINANCIAL_LINES = AMOUNT_LINES  # the financial columns in yuan
INCOME_STRUCT = pl.Struct({"industry": pl.String, "amount": QUANTITY})
FINANCIAL_LISTS: dict[str, pl.DataType] = {name: pl.List(INCOME_STRUCT) for name in FINANCIAL_MAPPINGS}

IP_STRUCT = pl.Struct(
    {
        "kind": pl.String,
        "count": pl.Int64,
        "acquisition": pl.String,
        "main_product": pl.Boolean,
        "granted": pl.Date,
    }
)
CERT_STRUCT = pl.Struct(
    {"kind": pl.String, "issued": pl.Date, "expires": pl.Date, "number": pl.String}
)
PROJECT_STRUCT = pl.Struct(
    {
        "name": pl.String,
        "kind": pl.String,
        "investment": QUANTITY,
        "equipment_investment": QUANTITY,
        "start": pl.Date,
        "applying": pl.Boolean,
        "construction_months": QUANTITY,
        "capacity_tonnes": QUANTITY,
        "industrial": pl.Boolean,
        "standard_land": pl.Boolean,
    }
)
RECORD_STRUCT = pl.Struct(
    {"occurred": pl.Date, "kind": pl.String, "severity": pl.String, "description": pl.String}
)
LISTS: dict[str, pl.DataType] = {
    "intellectual_property": pl.List(IP_STRUCT),
    "certifications": pl.List(CERT_STRUCT),
    "compliance.records": pl.List(RECORD_STRUCT),
    "projects": pl.List(PROJECT_STRUCT),
}
_FACT_TYPES: dict[FactType, pl.DataType] = {
    FactType.QUANTITY: QUANTITY(),
    FactType.BOOL: pl.Boolean(),
    FactType.DATE: pl.Date(),
    FactType.CODE: pl.String(),
    FactType.CODES: pl.List(pl.String),
}
ROW = "row"  # 1-based row number in the register (a line number for JSON Lines)


class RowError(ValueError):
    """A register row that cannot be used; the message names the column."""


def to_micro(value: Decimal, where: str) -> int:
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        raise RowError(f"{where}: {value} has more than 6 decimal places")
    if abs(value) >= LIMIT:
        raise RowError(f"{where}: {value} is too large (at most 15 digits before the point)")
    return int(scaled)


def from_micro(value: int) -> Decimal:
    return Decimal(value) / SCALE


def declared_profile_facts(facts: Mapping[str, FactDef]) -> dict[str, FactDef]:
    """Profile-supplied facts by their name in the profile's `facts` map."""
    return {d.profile_fact: d for d in facts.values() if d.profile_fact is not None}


def schema(years: Iterable[int], facts: Mapping[str, FactDef]) -> dict[str, pl.DataType]:
    """The evaluation frame's columns for these fiscal years and this catalogue."""
    columns: dict[str, pl.DataType] = {ROW: pl.Int64(), **SCALARS}
    for year in sorted(set(years), reverse=True):
        for line in FINANCIAL_LINES:
            columns[f"financials.{year}.{line}"] = QUANTITY()
        for line, dtype in FINANCIAL_LISTS.items():
            columns[f"financials.{year}.{line}"] = dtype
    columns.update(LISTS)
    for name, defn in sorted(declared_profile_facts(facts).items()):
        columns[f"facts.{name}"] = _FACT_TYPES[defn.type]
    return columns


def flat_column_type(name: str, facts: Mapping[str, FactDef]) -> pl.DataType | None:
    """The frame type of a flat register column (`financials.2025.revenue`, `facts.sme`, …),
    or None for a name that is not a column of a register under this catalogue."""
    if name in SCALARS:
        return SCALARS[name]
    if name in LISTS:
        return LISTS[name]
    if name.startswith("facts."):
        defn = declared_profile_facts(facts).get(name[6:])
        return None if defn is None else _FACT_TYPES[defn.type]
    if not _financial_column(name):
        return None
    return FINANCIAL_LISTS.get(name.rsplit(".", 1)[1], QUANTITY())


# --- profile → flat row ----------------------------------------------------------------------


def profile_to_row(profile: Profile, facts: Mapping[str, FactDef]) -> dict[str, Any]:
    """The flat row of a validated profile, quantities in millionths. Raises RowError."""
    row: dict[str, Any] = {}
    for name in SCALARS:
        if name.startswith("compliance."):
            value = getattr(profile.compliance, name.split(".", 1)[1], None)
        else:
            value = getattr(profile, name)
        row[name] = to_micro(value, name) if isinstance(value, Decimal) else value
    for year, record in (profile.financials or {}).items():
        for line in FINANCIAL_LINES:
            value = getattr(record, line)
            if value is not None:
                row[f"financials.{year}.{line}"] = to_micro(value, f"financials.{year}.{line}")
        if record.income_by_industry is not None:
            where = f"financials.{year}.income_by_industry"
            row[where] = [{"industry": code, "amount": to_micro(amount, f"{where}.{code}")}
                          for code, amount in record.income_by_industry.items()]  # fmt: skip
    row["intellectual_property"] = _dump_list(profile.intellectual_property)
    row["certifications"] = _dump_list(profile.certifications)
    records = profile.compliance.records if profile.compliance is not None else None
    row["compliance.records"] = _dump_list(records)
    row["projects"] = None if profile.projects is None else [
        _project_cells(project, f"projects[{i}]") for i, project in enumerate(profile.projects)
    ]
    if profile.facts:
        row.update(_fact_cells(profile.facts, declared_profile_facts(facts)))
    return row


def _fact_cells(values: Mapping[str, Any], declared: Mapping[str, FactDef]) -> dict[str, Any]:
    """The `facts.` columns of a profile's facts, by the one coercion of profile facts."""
    cells: dict[str, Any] = {}
    for name, raw in values.items():
        defn = declared.get(name)
        if defn is None:
            raise RowError(f"facts.{name}: not declared in the fact catalogue of this policy set")
        try:
            value: Any = _coerce(defn, raw, f"facts.{name}")
        except ValueError as exc:
            raise RowError(str(exc)) from None
        if isinstance(value, Decimal):
            value = to_micro(value, f"facts.{name}")
        elif isinstance(value, frozenset):
            value = sorted(value)
        cells[f"facts.{name}"] = value
    return cells


def _project_cells(project: Project, where: str) -> dict[str, Any]:
    """A project as a frame struct: its quantities in millionths."""
    return {
        name: to_micro(value, f"{where}.{name}") if isinstance(value, Decimal) else value
        for name, value in project.model_dump().items()
    }


def _dump_list(items: list[Any] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [item.model_dump() for item in items]


def financial_years(names: Iterable[str]) -> set[int]:
    """The fiscal years of the `financials.<year>.<line>` column names among `names`."""
    return {int(name.split(".")[1]) for name in names if name.startswith("financials.")}


def rows_to_frame(
    rows: list[dict[str, Any]], facts: Mapping[str, FactDef], years: Iterable[int] = ()
) -> pl.DataFrame:
    """Build the evaluation frame column by column (fast, and typed exactly)."""
    found_years = financial_years(name for r in rows for name in r)
    columns = schema(found_years | set(years), facts)
    data = {name: [r.get(name) for r in rows] for name in columns}
    return pl.DataFrame(data, schema=columns)


# --- flat row (from CSV or Parquet) → profile ------------------------------------------------


def unflatten(flat: Mapping[str, Any], facts: Mapping[str, FactDef]) -> dict[str, Any]:
    """Nested profile data from a flat row; text cells of CSV are read as the schema says.

    Raises RowError for unknown columns and unreadable cells; the Profile model then validates.
    """
    if not isinstance(flat, Mapping):
        raise RowError(f"expected a row of named columns, got {type(flat).__name__}")
    declared: dict[str, FactDef] | None = None  # built on the first `facts.` column only
    data: dict[str, Any] = {}
    for key, raw in flat.items():
        if not isinstance(key, str):  # csv.DictReader files surplus cells under None
            raise RowError("more cells than the header has columns")
        if key == ROW or raw is None or raw == "":
            continue
        if key.startswith("facts."):
            if declared is None:
                declared = declared_profile_facts(facts)
            value = _flat_fact(key, raw, declared)
        else:
            value = _flat_value(key, raw)
        _put(data, key.split("."), value)
    return data


def _flat_value(key: str, raw: Any) -> Any:
    """A cell of a profile field's column, read as its column says."""
    if key in ("intellectual_property", "certifications", "compliance.records", "projects"):
        return _json_list(raw, key)
    if key in SCALARS and isinstance(SCALARS[key], pl.Boolean):
        return _bool(raw, key)
    if _financial_column(key) and key.rsplit(".", 1)[1] in FINANCIAL_LISTS:
        return _income_mapping(_json_list(raw, key))
    if key in SCALARS or _financial_column(key):
        if isinstance(raw, float):
            raise RowError(f"{key}: floating-point value {raw!r}; write amounts as decimals")
        return raw
    raise RowError(f"unknown column {key!r}")


def _flat_fact(key: str, raw: Any, declared: Mapping[str, FactDef]) -> Any:
    """A cell of a `facts.` column, read as the fact's declaration says."""
    defn = declared.get(key[6:])
    if defn is None:
        raise RowError(f"{key}: not declared in the fact catalogue of this policy set")
    if defn.type is FactType.BOOL:
        return _bool(raw, key)
    if defn.type is FactType.CODES and isinstance(raw, str):
        return _json_list(raw, key)
    if isinstance(raw, float):
        raise RowError(f"{key}: floating-point value {raw!r}; write numbers as text")
    return raw


def _income_mapping(value: Any) -> Any:
    """Income by industry as the profile has it (code → amount), from a JSON object or from a
    list of {industry, amount} (a Parquet list of structs, as the frame holds it)."""
    if isinstance(value, list) and all(
        isinstance(item, Mapping) and set(item) == {"industry", "amount"} for item in value
    ):
        mapping = {item["industry"]: item["amount"] for item in value}
        if len(mapping) == len(value):  # an industry listed twice is left for the model to refuse
            return mapping
    return value


def _financial_column(key: str) -> bool:
    parts = key.split(".")
    return (
        len(parts) == 3
        and parts[0] == "financials"
        and parts[1].isdigit()
        and (parts[2] in FINANCIAL_LINES or parts[2] in FINANCIAL_LISTS)
    )


def _put(data: dict[str, Any], steps: list[str], value: Any) -> None:
    node = data
    for step in steps[:-1]:
        key: Any = int(step) if step.isdigit() else step
        node = node.setdefault(key, {})
    node[steps[-1]] = value


def _bool(raw: Any, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise RowError(f"{where}: expected true or false, got {raw!r}")


def _json_list(raw: Any, where: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise RowError(f"{where}: invalid JSON ({exc.msg})") from None


def row_profile(data: Any, where: str) -> Profile:
    """Validate nested profile data; a RowError lists every invalid field."""
    try:
        return parse_profile(data, file=where)
    except ProfileError as exc:
        details = "; ".join(f"{p.field}: {p.message}" for p in exc.problems) or exc.summary
        raise RowError(details) from None


__all__ = [
    "LISTS",
    "QUANTITY",
    "ROW",
    "SCALARS",
    "SCALE",
    "RowError",
    "flat_column_type",
    "from_micro",
    "profile_to_row",
    "row_profile",
    "rows_to_frame",
    "schema",
    "to_micro",
    "unflatten",
]
