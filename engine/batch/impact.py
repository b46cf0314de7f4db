"""What a change of the policy set does to a register: every enterprise evaluated under a base
and a candidate set on the vectorised back end, batch by batch, and the two results of each
enterprise × policy side by side. The one library function behind `incentives impact`; the
Spark job runs the same per-batch function (`impact_batch`, see `spark.impact_jsonl`).

    from incentives.engine.batch.impact import impact_register
    report = impact_register(PolicySet("base"), PolicySet("candidate"), Path("register.csv"),
                             date(2026, 11, 24), out=Path("changes.parquet"), fmt="parquet")
    report.better_off, report.worse_off, report.to_json()

A row of the side-by-side (`IMPACT_COLUMNS`) holds each set's status, amount and amount kind
for one enterprise and one policy of either set; a policy only one set has is `absent` in the
other (null as evaluated). Policies are matched by id; whether their definitions differ is
read from the plans (`check.diff`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from ..check.diff import diff_sets
from ..model.facts import FactDef
from ..model.profile import Profile
from ..policyset import PolicySet
from .cells import CellBatch, CellChecker, nested_cells
from .columns import ROW
from .impact_tally import ABSENT, ImpactReport
from .output import ResultWriter, result_target
from .pipeline import read_row, record_cells, screen_cells
from .registers import Source, read_register, register_source
from .results import amount_text_expr
from .vectorised import VectorisedSet

# Rows per batch: impact evaluates two policy sets and holds both sets of decoded results, so it
# keeps smaller batches than screen's (`registers.BATCH`) to stay under 2 GB.
BATCH = 20_000

_TEXT = pl.String()
# name: (type as evaluated, type as written)
_COLUMNS: dict[str, tuple[pl.DataType, pl.DataType]] = {
    ROW: (pl.Int64(), pl.Int64()),
    "credit_code": (_TEXT, _TEXT),
    "zone": (_TEXT, _TEXT),
    "policy_id": (_TEXT, _TEXT),
    "base_status": (_TEXT, _TEXT),  # null (written `absent`): the policy is not in that set
    "candidate_status": (_TEXT, _TEXT),
    "base_amount": (pl.Int128(), _TEXT),  # millionths of a yuan as evaluated; decimal text
    "candidate_amount": (pl.Int128(), _TEXT),
    "base_kind": (_TEXT, _TEXT),  # cash, tax_saving, deduction or none
    "candidate_kind": (_TEXT, _TEXT),
}
IMPACT_COLUMNS: tuple[str, ...] = tuple(_COLUMNS)
IMPACT_EVALUATED: dict[str, pl.DataType] = {n: t for n, (t, _) in _COLUMNS.items()}
IMPACT_WRITTEN: dict[str, pl.DataType] = {n: t for n, (_, t) in _COLUMNS.items()}


@dataclass(frozen=True)
class Pair:
    """The base and candidate sets compiled for the vectorised back end, with their cell
    caches (kept across batches), and the order of policies in the side-by-side."""

    base: VectorisedSet
    candidate: VectorisedSet
    base_cells: CellChecker
    candidate_cells: CellChecker
    order: Mapping[str, int]  # the candidate's policies in order, then those it removed

    @classmethod
    def of(cls, base: PolicySet, candidate: PolicySet) -> Pair:
        ids = [p.id for p in candidate.policies]
        ids += [p.id for p in base.policies if p.id not in set(ids)]
        return cls(
            VectorisedSet(base), VectorisedSet(candidate), CellChecker(base),
            CellChecker(candidate), {pid: i for i, pid in enumerate(ids)},
        )  # fmt: skip


def register_facts(base: PolicySet, candidate: PolicySet) -> dict[str, FactDef]:
    """The declarations a register is read with: either set's (the candidate's where both
    declare a fact)."""
    return {**base.facts, **candidate.facts}


def impact_batch(
    pair: Pair,
    numbered: Sequence[tuple[int, Any]],
    as_of: date,
    flat: bool,
    tax_year: int | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """`impact_cells` on raw rows: nested profile data (or the exception parsing it raised), or
    flat records, with their row numbers (as `pipeline.screen_batch` takes them)."""
    batch = record_cells(numbered) if flat else nested_cells(numbered)
    return impact_cells(pair, batch, as_of, tax_year)


def impact_cells(
    pair: Pair, batch: CellBatch, as_of: date, tax_year: int | None = None
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """The side-by-side of a batch (`IMPACT_EVALUATED`, by row, then policy) and its bad rows.

    Each set screens the batch as `screen` does (`pipeline.screen_cells`); a row either set
    refuses is a bad row (saying which set, when only one does) and left out of both.
    `tax_year`: the year of the tax-year preferences (default: the year before `as_of`)."""
    base_result, base_bad, _ = screen_cells(
        pair.base, batch, as_of, (), pair.base_cells, tax_year
    )
    candidate_result, candidate_bad, _ = screen_cells(
        pair.candidate, batch, as_of, (), pair.candidate_cells, tax_year
    )
    bad = _bad_rows(base_bad, candidate_bad)
    refused = pl.DataFrame({ROW: sorted({n for n, _ in bad})}, schema={ROW: pl.Int64})
    left = base_result.join(refused, on=ROW, how="anti").select(
        ROW, "policy_id",
        pl.col("credit_code").alias("_code"), pl.col("zone").alias("_zone"),
        pl.col("status").cast(pl.String).alias("base_status"),
        pl.col("amount").alias("base_amount"), pl.col("amount_kind").alias("base_kind"),
    )  # fmt: skip
    right = candidate_result.join(refused, on=ROW, how="anti").select(
        ROW, "policy_id", "credit_code", "zone",
        pl.col("status").cast(pl.String).alias("candidate_status"),
        pl.col("amount").alias("candidate_amount"), pl.col("amount_kind").alias("candidate_kind"),
    )  # fmt: skip
    joined = left.join(right, on=[ROW, "policy_id"], how="full", coalesce=True)
    order = pl.col("policy_id").replace_strict(dict(pair.order), return_dtype=pl.Int64)
    side_by_side = (
        joined.with_columns(
            pl.coalesce("credit_code", "_code").alias("credit_code"),
            pl.coalesce("zone", "_zone").alias("zone"),
        )
        .sort(pl.col(ROW), order)
        .select(IMPACT_COLUMNS)
    )
    return side_by_side.cast(pl.Schema(IMPACT_EVALUATED)), bad


def _bad_rows(
    base: list[tuple[int, str]], candidate: list[tuple[int, str]]
) -> list[tuple[int, str]]:
    by_base, by_candidate = dict(base), dict(candidate)
    out = []
    for number in sorted(by_base.keys() | by_candidate.keys()):
        old, new = by_base.get(number), by_candidate.get(number)
        if old is not None and new is not None and old == new:
            out.append((number, old))
        elif old is not None and new is not None:
            out.append((number, f"base set: {old}; candidate set: {new}"))
        elif old is not None:
            out.append((number, f"refused by the base set only: {old}"))
        else:
            out.append((number, f"refused by the candidate set only: {new}"))
    return out


def changed_rows(side_by_side: pl.DataFrame) -> pl.DataFrame:
    """The enterprise × policy results that differ between the sets (status or amount)."""
    return side_by_side.filter(
        pl.col("base_status").ne_missing(pl.col("candidate_status"))
        | pl.col("base_amount").ne_missing(pl.col("candidate_amount"))
    )


def presented_impact(side_by_side: pl.DataFrame) -> pl.DataFrame:
    """Side-by-side rows as written: absent statuses as `absent`, amounts as decimal text."""
    return side_by_side.with_columns(
        pl.col("base_status", "candidate_status").fill_null(ABSENT),
        amount_text_expr(pl.col("base_amount")).alias("base_amount"),
        amount_text_expr(pl.col("candidate_amount")).alias("candidate_amount"),
    ).select(IMPACT_COLUMNS)


def impact_register(
    base: PolicySet,
    candidate: PolicySet,
    source: Source,
    as_of: date,
    *,
    out: Path | BinaryIO | None = None,
    fmt: str = "csv",
    register_fmt: str | None = None,
    encoding: str | None = None,
    examples: int = 3,
    explain_transitions: int = 0,
    batch_size: int = BATCH,
    name: str | None = None,
    tax_year: int | None = None,
) -> ImpactReport:
    """Evaluate the register `source` (a path, or a binary file with `register_fmt`) under
    both sets on `as_of` (tax-year preferences for `tax_year`, default the year before) and
    report the change (`ImpactReport`).

    `out`: where the changed results go, one row per enterprise × policy whose status or
    amount differs (`IMPACT_COLUMNS`; written atomically, never over an input), in `fmt` (csv,
    jsonl or parquet); None: only the report. `examples`: enterprises kept per transition;
    `explain_transitions`: how many of them get the reference explanation of both verdicts.
    Raises InputError (RegisterError, OutputError) for a register that cannot be read or
    results that cannot be written; bad rows are in the report.
    """
    from .impact_explain import explain_transition

    register_fmt, shown = register_source(source, register_fmt, encoding, name)
    pair = Pair.of(base, candidate)
    report = ImpactReport.start(diff_sets(base, candidate), base, candidate, examples)
    batches = read_register(source, register_fmt, register_facts(base, candidate),
                            encoding=encoding, batch_size=batch_size, name=shown)  # fmt: skip
    with _changes(out, fmt, source, (base, candidate)) as writer:
        for batch in batches:
            report.rows += len(batch.cells.numbers) + len(batch.bad)
            side_by_side, bad = impact_cells(pair, batch.cells, as_of, tax_year)
            report.add_bad([*batch.bad, *bad])
            changed = changed_rows(side_by_side)
            picked = report.add(side_by_side, changed)
            for example in picked:
                if example.index < explain_transitions:
                    profile = _profile(batch.cells, example.row, base)
                    example.explanation = explain_transition(
                        base, candidate, profile, example.policy_id, as_of, tax_year
                    )
            if writer is not None:
                writer.write(presented_impact(changed))
    return report


def _profile(cells: CellBatch, row: int, policy_set: PolicySet) -> Profile:
    return read_row(cells.record(cells.numbers.index(row)), cells.flat, policy_set)


def _changes(
    out: Path | BinaryIO | None, fmt: str, source: Source, sets: tuple[PolicySet, PolicySet]
) -> contextlib.AbstractContextManager[ResultWriter | None]:
    """The writer of the changed rows; never over an input of either set or the register."""
    return result_target(
        out, fmt, [source] if isinstance(source, Path) else [],
        [policy_set.directory for policy_set in sets], IMPACT_WRITTEN,
    )  # fmt: skip
