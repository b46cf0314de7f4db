"""What the batch agreement tests share: a register frame of profiles, and the checks that
the vectorised back end gives the reference's verdicts, amounts, missing facts and facts for
review, and the reference's value of every score fact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from incentives.engine import PolicySet, Profile
from incentives.engine.batch.columns import ROW, RowError, from_micro, profile_to_row, rows_to_frame
from incentives.engine.batch.vectorised import VectorisedSet
from incentives.engine.compile.plan import FORMULA_KINDS
from incentives.engine.reference.context import Missing


def fits_a_register(profile: Profile, policies: PolicySet) -> bool:
    """A row the register refuses (a value with more than 6 decimals, or of 10^15 or more)
    is a bad row, never evaluated by the batch back end."""
    try:
        profile_to_row(profile, policies.facts)
    except RowError:
        return False
    return True


def frame_of(policies: PolicySet, profiles: list[Profile]) -> pl.DataFrame:
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: i}) for i, p in enumerate(profiles)]
    return rows_to_frame(rows, policies.facts)


def assert_scores_agree(
    policies: PolicySet, profiles: list[Profile], as_of: date, vectorised: VectorisedSet
) -> None:
    """Every score fact (and what it is computed from) has the reference's value, or is unknown
    with the reference's need for review: verdicts alone rarely show a band taken wrongly."""
    ids = sorted(
        {
            fact_id
            for defn in policies.plan.facts.values()
            if defn.source_kind in FORMULA_KINDS
            for fact_id in (defn.id, *defn.inputs)
        }
    )
    got = vectorised.fact_frame(frame_of(policies, profiles), as_of, ids).to_dicts()
    for profile, row in zip(profiles, got, strict=True):
        context = policies.context(profile, as_of)
        for fact_id in ids:
            expected = context.get(fact_id)
            value, den = row[fact_id], row[f"{fact_id}.den"]
            if isinstance(expected, Missing):
                actual: Any = ("unknown", row[f"{fact_id}.review"])
                wanted: Any = ("unknown", expected.review)
            elif isinstance(expected, Decimal):
                actual = (
                    None
                    if value is None
                    else from_micro(value)
                    if den is None
                    else Decimal(value) / Decimal(den)
                )
                wanted = expected
            else:
                continue  # not a number: read by a score only through a number
            assert actual == wanted, f"{fact_id} on {profile!r}"  # fmt: skip


def assert_agree(
    policies: PolicySet,
    profiles: list[Profile],
    as_of: date,
    vectorised: VectorisedSet,
    tax_year: int | None = None,
) -> None:
    out = vectorised.evaluate(frame_of(policies, profiles), as_of, profiles, tax_year)
    got = {(r[ROW], r["policy_id"]): r for r in out.iter_rows(named=True)}
    assert len(got) == len(profiles) * len(policies)
    for index, profile in enumerate(profiles):
        report = policies.evaluate(profile, as_of, tax_year=tax_year)
        for result in report.results:
            row = got[(index, result.policy_id)]
            amount = None if row["amount"] is None else from_micro(row["amount"])
            actual = (row["status"], amount, row["amount_kind"], row["missing"], row["review"])
            expected = (
                result.status.value,
                result.amount,
                result.amount_kind,
                result.missing,
                result.review,
            )
            assert actual == expected, f"row {index}, {result.policy_id}, profile {profile!r}"
