"""The per-batch function shared by `incentives screen` and the Spark job: raw register rows in,
one result row per enterprise × policy out, bad rows set aside with their row number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import polars as pl

from ..compile.plan import Dates
from ..errors import ProfileError
from ..model.profile import Profile
from ..policyset import PolicySet
from .cells import (
    ABSENT,
    CellBatch,
    CellChecker,
    build_frame,
    flat_cells,
    nested_cells,
)
from .columns import (
    ROW,
    RowError,
    financial_years,
    profile_to_row,
    row_profile,
    rows_to_frame,
    schema,
    unflatten,
)
from .results import CodedResults
from .vectorised import VectorisedSet


def read_row(data: Any, flat: bool, policy_set: PolicySet) -> Profile:
    """Validate one register row (nested JSON data, or a flat CSV/Parquet record)."""
    if isinstance(data, Exception):
        raise RowError(f"invalid JSON: {data}")
    if flat:
        data = unflatten(data, policy_set.facts)
    profile = row_profile(data, "row")
    try:
        policy_set.check_profile(profile)
    except ProfileError as exc:
        raise RowError("; ".join(str(p) for p in exc.problems)) from None
    return profile


def screen_batch(
    vectorised: VectorisedSet,
    numbered: Sequence[tuple[int, Any]],
    as_of: date,
    flat: bool,
    explain: Iterable[int] = (),
    checker: CellChecker | None = None,
    tax_year: int | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, str]], dict[int, Profile]]:
    """Results (see `VectorisedSet.evaluate`), bad rows, and validated profiles by row number.

    `numbered` holds (row number, data) pairs: nested profile data (or the exception that parsing
    it raised), or flat records. Profiles are built only where needed: for every valid row when
    some policy falls back to the reference evaluator, else only for the rows in `explain`.
    """
    batch = record_cells(numbered) if flat else nested_cells(numbered)
    return screen_cells(vectorised, batch, as_of, explain, checker, tax_year)


def record_cells(numbered: Sequence[tuple[int, Any]]) -> CellBatch:
    """Flat records (mappings of column → cell) cut into columns; a record that is not a
    mapping, or has surplus cells (the key None of csv.DictReader), is left to the per-row path."""
    numbers = [n for n, _ in numbered]
    records = [d for _, d in numbered]
    header: dict[str, None] = {}
    for data in records:
        if isinstance(data, dict):
            header.update((k, None) for k in data if k not in header and isinstance(k, str))
    odd = {i for i, d in enumerate(records) if not isinstance(d, dict) or None in d}
    columns = [
        [ABSENT if i in odd else d.get(k, ABSENT) for i, d in enumerate(records)] for k in header
    ]
    return flat_cells(numbers, list(header), columns, records.__getitem__, odd)


def screen_cells(
    vectorised: VectorisedSet,
    batch: CellBatch,
    as_of: date,
    explain: Iterable[int] = (),
    checker: CellChecker | None = None,
    tax_year: int | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, str]], dict[int, Profile]]:
    """`screen_batch` on a batch already cut into columns (see `cells`)."""
    coded, bad, profiles = screen_coded(vectorised, batch, as_of, explain, checker, tax_year)
    return coded.decoded(), bad, profiles


def screen_coded(
    vectorised: VectorisedSet,
    batch: CellBatch,
    as_of: date,
    explain: Iterable[int] = (),
    checker: CellChecker | None = None,
    tax_year: int | None = None,
) -> tuple[CodedResults, list[tuple[int, str]], dict[int, Profile]]:
    """`screen_cells` with the results still coded (`results.CodedResults`), as `screen`
    tallies and writes them."""
    policy_set = vectorised.policy_set
    checker = checker or CellChecker(policy_set)
    dates = Dates.of(as_of, tax_year)
    last = {as_of.year - 1, dates.tax_year}  # the fiscal years applications and tax years read
    years = sorted({year - back for year in last for back in range(4)})
    frame, bad, profiles, suspects = validated_frame(checker, batch, years)
    # Profiles cost a model validation per row: only the reference evaluator and --explain need them
    wanted = set(frame[ROW].to_list()) if vectorised.fallback else set(explain)
    position = {n: i for i, n in enumerate(batch.numbers)}
    for number in sorted(wanted - profiles.keys()):
        where = position.get(number)
        if where is not None and where not in suspects:
            profiles[number] = read_row(batch.record(where), batch.flat, policy_set)
    ordered = [profiles[n] for n in frame[ROW].to_list()] if vectorised.fallback else None
    result = vectorised.evaluate_coded(frame, as_of, ordered, dates.tax_year)
    return result, bad, profiles


def validated_frame(
    checker: CellChecker, batch: CellBatch, years: Iterable[int]
) -> tuple[pl.DataFrame, list[tuple[int, str]], dict[int, Profile], set[int]]:
    """The evaluation frame of a batch's valid rows, its bad rows (number, message), the
    profiles of the rows that went through the per-row path, and their positions.

    Exactly what `read_row`, `profile_to_row` and `rows_to_frame` give row by row."""
    policy_set = checker.policy_set
    years = set(years)
    fast, suspect_list = build_frame(checker, batch, sorted(years))
    profiles: dict[int, Profile] = {}
    bad: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []
    for i in suspect_list:
        number = batch.numbers[i]
        try:
            profile = read_row(batch.record(i), batch.flat, policy_set)
            row = profile_to_row(profile, policy_set.facts)
        except RowError as exc:
            bad.append((number, str(exc)))
            continue
        row[ROW] = number
        rows.append(row)
        profiles[number] = profile
    frame = fast
    if rows:
        slow = rows_to_frame(rows, policy_set.facts, financial_years(fast.columns) | years)
        columns = schema(financial_years(slow.columns), policy_set.facts)
        frame = pl.concat([_widened(fast, columns), _widened(slow, columns)]).sort(ROW)
    return frame, bad, profiles, set(suspect_list)


def _widened(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """`frame` with every column of `columns`, in that order (absent financial years are null)."""
    return frame.select(
        pl.col(name) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in columns.items()
    )
