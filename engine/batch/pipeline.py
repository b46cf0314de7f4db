"""The per-batch function shared by `incentives screen` and the Spark job: raw register rows in,
one result row per enterprise × policy out, bad rows set aside with their row number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from ..errors import ProfileError
from ..policyset import PolicySet
from ..profile import Profile
from .columns import ROW, RowError, profile_to_row, row_profile, rows_to_frame, unflatten
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
    vectorised: VectorisedSet, numbered: Sequence[tuple[int, Any]], as_of: date, flat: bool
) -> tuple[pl.DataFrame, list[tuple[int, str]], dict[int, Profile]]:
    """Results (see `VectorisedSet.evaluate`), bad rows, and the valid profiles by row number."""
    policy_set = vectorised.policy_set
    rows: list[dict[str, Any]] = []
    profiles: dict[int, Profile] = {}
    bad: list[tuple[int, str]] = []
    for number, data in numbered:
        try:
            profile = read_row(data, flat, policy_set)
            row = profile_to_row(profile, policy_set.facts)
        except RowError as exc:
            bad.append((number, str(exc)))
            continue
        row[ROW] = number
        rows.append(row)
        profiles[number] = profile
    years = [as_of.year - 1 - back for back in range(4)]
    frame = rows_to_frame(rows, policy_set.facts, years)
    result = vectorised.evaluate(frame, as_of, list(profiles.values()))
    return result, bad, profiles


def amount_text(micro: int | None) -> str | None:
    """Millionths of a yuan → `520000.00` (at least two decimals, exact)."""
    if micro is None:
        return None
    text = f"{Decimal(micro) / 1_000_000:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def presented(result: pl.DataFrame) -> pl.DataFrame:
    """Results with the status as text and the amount as an exact decimal string."""
    return result.with_columns(
        pl.col("status").cast(pl.String),
        pl.Series("amount", [amount_text(a) for a in result["amount"].to_list()], pl.String),
    )


def result_arrow_schema(*, with_error: bool = False) -> Any:
    """The Arrow schema of result rows (`screen` output; Spark adds the bad-row `error`)."""
    import pyarrow as pa

    fields = [
        ("row", pa.int64()),
        ("credit_code", pa.string()),
        ("zone", pa.string()),
        ("policy_id", pa.string()),
        ("status", pa.string()),
        ("amount", pa.string()),
        ("amount_kind", pa.string()),
        ("missing", pa.list_(pa.string())),
        ("review", pa.list_(pa.string())),
    ]
    if with_error:
        fields.append(("error", pa.string()))
    return pa.schema(fields)
