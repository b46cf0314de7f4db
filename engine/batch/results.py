"""Screening results: the columns of a result row (defined here once, for the vectorised back
end, `screen`'s files, the Spark job and any other caller), how they are written, and the
summary of a run (counts by verdict, amounts by policy and by zone, bad rows).

One row per enterprise × policy. As evaluated, `amount` is an integer of millionths of a yuan and
`status` the back end's status type; as written, `amount` is exact decimal text (`520000.00`)
and `status` its value (`eligible`, …).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from ..model.profile import Profile
from .columns import ROW, SCALE

_TEXT = pl.String()
_CODES = pl.List(pl.String)
# name: (type as evaluated, type as written); None is the back end's status type.
_COLUMNS: dict[str, tuple[pl.DataType | None, pl.DataType]] = {
    ROW: (
        pl.Int64(),
        pl.Int64(),
    ),  # the register row: line (JSON Lines), record (CSV), from 1 (Parquet)
    "credit_code": (_TEXT, _TEXT),
    "zone": (_TEXT, _TEXT),
    "policy_id": (_TEXT, _TEXT),
    "status": (None, _TEXT),
    "amount": (pl.Int128(), _TEXT),
    "amount_kind": (_TEXT, _TEXT),  # cash, tax_saving, deduction or none
    "missing": (_CODES, _CODES),  # facts whose absence leaves the verdict open
    "review": (_CODES, _CODES),  # facts awaiting an expert's judgement
}
RESULT_COLUMNS: tuple[str, ...] = tuple(_COLUMNS)
ERROR_COLUMN = "error"  # the reason a row is bad, where bad rows travel with results (Spark)


def evaluated_schema(status: pl.DataType) -> dict[str, pl.DataType]:
    """The Polars schema of results as the vectorised back end gives them."""
    return {name: status if kind is None else kind for name, (kind, _) in _COLUMNS.items()}


def written_schema(*, with_error: bool = False) -> dict[str, pl.DataType]:
    """The Polars schema of results as written (see `presented`)."""
    schema = {name: written for name, (_, written) in _COLUMNS.items()}
    return {**schema, ERROR_COLUMN: _TEXT} if with_error else schema


def arrow_schema(*, with_error: bool = False) -> Any:
    """The Arrow schema of written results (Parquet files, Spark's Arrow batches)."""
    return arrow_schema_of(written_schema(with_error=with_error))


def arrow_schema_of(written: dict[str, pl.DataType]) -> Any:
    """The Arrow schema of written columns (integers, text and lists of text)."""
    import pyarrow as pa

    types = {pl.Int64(): pa.int64(), _TEXT: pa.string(), _CODES: pa.list_(pa.string())}
    return pa.schema([(n, types[t]) for n, t in written.items()])


def spark_schema(*, with_error: bool = False) -> str:
    """The same schema as a Spark DDL string."""
    return spark_schema_of(written_schema(with_error=with_error))


def spark_schema_of(written: dict[str, pl.DataType]) -> str:
    """Written columns as a Spark DDL string."""
    types = {pl.Int64(): "long", _TEXT: "string", _CODES: "array<string>"}
    return ", ".join(f"{n} {types[t]}" for n, t in written.items())


@dataclass(frozen=True)
class CodedResults:
    """Results as the vectorised back end computes them, before their repeated values are
    spelled out: `credit_code`, `zone`, `policy_id` and `amount_kind` are Enums (of the batch's
    own values), `missing` and `review` are unsigned indexes (UInt16 or UInt32) into `lists`
    (lists of fact ids: one may be there twice, or unused), and `amount` is Int64 where the
    batch's amounts were proved to fit it, else Int128. `decoded()` gives the results of
    `evaluated_schema`, `presented()` the results as written; both are exactly what the frame
    codes."""

    frame: pl.DataFrame
    lists: pl.Series  # List(String), indexed by the codes of `missing` and `review`

    @property
    def height(self) -> int:
        return self.frame.height

    def decoded(self) -> pl.DataFrame:
        """The results with every column of `evaluated_schema` (lists of fact ids, texts).
        An Enum's texts are gathered from its categories by code: a gathered text shares its
        bytes with the category's, where a cast to String writes every row's text anew (five
        times the time)."""
        return self.frame.with_columns(
            *(_texts(name, self.frame.schema[name]) for name in _ENUMS),
            pl.col("amount").cast(pl.Int128),
            pl.lit(self.lists).gather(pl.col("missing")).alias("missing"),
            pl.lit(self.lists).gather(pl.col("review")).alias("review"),
        )

    @classmethod
    def of(cls, results: pl.DataFrame) -> CodedResults:
        """Decoded results (`evaluated_schema`) coded again, as the vectorised back end gives
        them (used where some results come from the reference evaluator)."""
        both = pl.concat([results["missing"], results["review"]])
        lists = both.unique(maintain_order=True)
        texts = lists.list.join("\x1f")  # no fact id holds a control character
        codes = {name: results[name].list.join("\x1f").replace_strict(
            texts, pl.int_range(len(texts), dtype=pl.UInt32, eager=True)) for name in ("missing", "review")}  # fmt: skip
        frame = results.with_columns(
            *[pl.col(name).cast(enum_of(results[name])) for name in _ENUMS], **codes
        )
        return cls(frame, lists)


_ENUMS = ("credit_code", "zone", "policy_id", "amount_kind")


def _texts(name: str, dtype: pl.DataType) -> pl.Expr:
    """An Enum column as String: its categories gathered by its codes (null stays null)."""
    if not isinstance(dtype, pl.Enum):
        return pl.col(name).cast(pl.String)
    categories = pl.Series(dtype.categories, dtype=pl.String)
    return pl.lit(categories).gather(pl.col(name).to_physical()).alias(name)


def enum_of(values: pl.Series) -> pl.Enum:
    return pl.Enum(values.drop_nulls().unique(maintain_order=True).cast(pl.String))


def money_text(value: Decimal) -> str:
    """Yuan as exact decimal text with at least two decimals: `520000.00`, `0.125`."""
    text = f"{value:f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def amount_text(micro: int | None) -> str | None:
    """Millionths of a yuan → `520000.00` (at least two decimals, exact)."""
    return None if micro is None else money_text(Decimal(micro) / SCALE)


def presented(result: pl.DataFrame | CodedResults) -> pl.DataFrame:
    """Results as written: the status as text, the amount as exact decimal text (`amount_text`,
    computed on whole columns of integer millionths), the columns in their order; the codes of
    `CodedResults` spelled out (Enums stay Enums: every writer writes their text), each
    distinct amount's text computed once (`amount_texts`)."""
    if isinstance(result, CodedResults):
        return spelled_out(result, result.lists)
    return result.with_columns(
        pl.col("status").cast(pl.String), amount_text_expr(pl.col("amount")).alias("amount")
    ).select(RESULT_COLUMNS)


def spelled_out(result: CodedResults, lists: pl.Series) -> pl.DataFrame:
    """`presented` coded results, with `missing` and `review` taken from `lists`: one value per
    distinct list of `result.lists` (the lists themselves, or CSV's text of each)."""
    codes, texts = amount_texts(result.frame["amount"])
    return result.frame.with_columns(
        pl.col("status").cast(pl.String),
        pl.lit(texts).gather(pl.lit(codes)).alias("amount"),
        pl.lit(lists).gather(pl.col("missing")).alias("missing"),
        pl.lit(lists).gather(pl.col("review")).alias("review"),
    ).select(RESULT_COLUMNS)


def amount_texts(micro: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A column of integer millionths of a yuan as (codes, texts): the text of each distinct
    amount once (`amount_text_expr`), and per row the index of its text (null where the amount
    is). A batch's amounts repeat: most are null, the rest a few thousand values."""
    distinct = micro.drop_nulls().unique().sort()
    texts = pl.select(amount_text_expr(pl.lit(distinct)).alias("amount")).to_series()
    where = distinct.search_sorted(micro)
    codes = pl.select(pl.when(micro.is_not_null()).then(where).alias("code")).to_series()
    return codes, texts


def amount_text_expr(micro: pl.Expr) -> pl.Expr:
    """A column of integer millionths of a yuan as `amount_text` gives each value."""
    scale = pl.lit(SCALE, pl.Int128)
    size = micro.abs()
    fraction = (size % scale).cast(pl.String).str.zfill(6).str.strip_chars_end("0")
    return pl.concat_str(
        pl.when(micro < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (size // scale).cast(pl.String),
        pl.lit("."),
        fraction.str.pad_end(2, "0"),
    )


KEEP_BAD = 1_000  # bad rows a summary keeps (with their messages); all are counted


class BadRows:
    """What a run's tally (`Summary`, impact's report) does with its rows: all counted, the
    bad ones counted and the first `KEEP_BAD` kept with their message, in row order."""

    rows: int
    bad_count: int
    bad: list[tuple[int, str]]

    @property
    def screened(self) -> int:
        return self.rows - self.bad_count

    def add_bad(self, bad: Iterable[tuple[int, str]]) -> None:
        rows = sorted(bad)
        self.bad_count += len(rows)
        self.bad.extend(rows[: max(0, KEEP_BAD - len(self.bad))])

    def rows_json(self) -> dict[str, Any]:
        """The rows part of a run's JSON: read, screened, bad (counted, and the kept ones
        with their message)."""
        return {
            "rows": self.rows,
            "screened": self.screened,
            "bad_rows": self.bad_count,
            "bad": [{"row": n, "error": message} for n, message in self.bad],
        }


# A batch's results counted: (policy, status, results, sum of eligible millionths) and
# (zone, eligible results, their sum of millionths), as `Summary.add_tally` adds them up.
Tally = tuple[list[tuple[str, str, int, int | None]], list[tuple[str, int, int | None]]]


def tally(result: pl.DataFrame | CodedResults) -> Tally:
    """A batch of results counted by policy and status, and its eligible results by zone."""
    if isinstance(result, CodedResults):
        result = result.frame
    summed = pl.col("amount").cast(pl.Int128).sum().alias("amount")  # no Int64 wrapping
    by_policy = result.group_by("policy_id", "status").agg(pl.len().alias("n"), summed)
    eligible = result.filter(pl.col("status") == "eligible")
    zone = pl.col("zone").cast(pl.String).fill_null("(unknown)")
    by_zone = eligible.group_by(zone).agg(pl.len().alias("n"), summed)
    return (
        [(policy, str(status), n, amount) for policy, status, n, amount in by_policy.iter_rows()],
        list(by_zone.iter_rows()),
    )


@dataclass
class Summary(BadRows):
    """What a screening run found, tallied batch by batch (memory does not grow with the
    register): counts by policy and verdict, amounts of eligible results by policy and by
    zone (yuan), the bad rows (the first `KEEP_BAD` with their message, all counted), and the
    validated profiles of the rows asked to be explained."""

    policies: tuple[str, ...] = ()
    rows: int = 0  # rows read, good and bad
    bad_count: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (policy, status) → n
    policy_amounts: dict[str, Decimal] = field(default_factory=dict)
    zone_eligible: dict[str, int] = field(default_factory=dict)
    zone_amounts: dict[str, Decimal] = field(default_factory=dict)
    explained: dict[int, Profile] = field(default_factory=dict)

    def add_results(self, result: pl.DataFrame | CodedResults) -> None:
        """Tally a batch of results as the vectorised back end gives them."""
        self.add_tally(tally(result))

    def add_tally(self, counted: Tally) -> None:
        """Tally a batch's `tally`."""
        by_policy, by_zone = counted
        for policy, status, n, amount in by_policy:
            key = (policy, status)
            self.counts[key] = self.counts.get(key, 0) + n
            if status == "eligible":
                total = self.policy_amounts.get(policy, Decimal(0))
                self.policy_amounts[policy] = total + Decimal(amount or 0) / SCALE
        for zone, n, amount in by_zone:
            self.zone_eligible[zone] = self.zone_eligible.get(zone, 0) + n
            total = self.zone_amounts.get(zone, Decimal(0))
            self.zone_amounts[zone] = total + Decimal(amount or 0) / SCALE

    def count(self, policy: str, status: str) -> int:
        return self.counts.get((policy, status), 0)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data; amounts as decimal text in yuan."""
        return {
            **self.rows_json(),
            "policies": [
                {
                    "policy_id": pid,
                    "counts": {s: n for (p, s), n in sorted(self.counts.items()) if p == pid},
                    "eligible_amount": money_text(self.policy_amounts.get(pid, Decimal(0))),
                }
                for pid in self.policies
            ],
            "zones": [
                {"zone": z, "eligible": n, "eligible_amount": money_text(self.zone_amounts[z])}
                for z, n in sorted(self.zone_eligible.items())
            ],
        }
