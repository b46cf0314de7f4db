"""The vectorised back end: the policy set's plan (`engine.compile.plan`) turned into Polars
expressions that evaluate a whole register (one row per enterprise) at once, three-valued, with
exact amounts.

Semantics are the plan's, as `PolicySet.evaluate` (the reference) computes them, column by
column:

- a fact is a column that is null when the reference would return `Missing`, plus a column that
  says whether that unknown needs an expert (`review`);
- quantities are exact integers in millionths of their unit (`Int128`); a ratio is kept as a
  numerator and a positive denominator and compared by cross-multiplication, so `3%` is exactly
  3%; amounts are rounded half-up to the fen in integer arithmetic, never through `float`;
  whatever could leave the exact range is refused when the policy is compiled (see
  "exactness" below), so the reference evaluates it instead;
- truth values are 0 (false), 1 (unknown), 2 (true): `all` is the row-wise minimum, `any` the
  maximum, `not` is `2 − x`, as in `engine.reference.logic`;
- the missing facts of an undetermined verdict are the facts of the leaves that are unknown
  under unknown ancestors (`reference.explain.unknown_leaves`); stacking (exclusive groups and group caps)
  is applied across the policy columns of each row.

A construct this compiler does not translate raises `Unsupported` with the reason; such a policy
(and every member of its stacking group) is evaluated by the reference evaluator instead, row by
row, and `VectorisedSet.fallback` says which and why. Explanations are never produced here: ask
the reference evaluator for the rows you want explained.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

import numpy as np
import polars as pl

from ..compile.plan import (
    AverageGrowthSource,
    Band,
    Basis,
    BenefitPlan,
    CagrSource,
    CertificatesSource,
    CertifiedSource,
    Comparison,
    DateBound,
    Dates,
    Duration,
    FactPlan,
    FactType,
    FieldSource,
    FinancialSource,
    GroupPlan,
    GrowthSource,
    IndustryShareSource,
    IpCountSource,
    MaxOfSource,
    Node,
    PointsSource,
    PolicyPlan,
    ProfileFactSource,
    ProjectSource,
    RatioSource,
    RecordsSource,
    SumOfSource,
    SumYearsSource,
)
from ..model.profile import MAX_INDUSTRIES, Profile
from ..model.units import Unit
from ..policyset import PolicySet
from ..reference.context import mean_growth
from ..reference.results import Status
from .columns import (
    FINANCIAL_LISTS,
    LIMIT,
    QUANTITY,
    ROW,
    SCALARS,
    SCALE,
    from_micro,
)
from .results import CodedResults, enum_of, evaluated_schema

STATUS = pl.Enum([s.value for s in Status])
# Statuses are computed as small integer codes (cheap to compare, select and reshape) and
# become the `STATUS` enum once, in the long result.
_CODE = {s: i for i, s in enumerate(Status)}
_STATUSES = pl.Series([s.value for s in Status], dtype=STATUS)  # by code
FALSE_, UNKNOWN_, TRUE_ = 0, 1, 2
_DURATION = {Unit.YEAR: "y", Unit.MONTH: "mo", Unit.DAY: "d"}


Stage = tuple[int, int]
_FACT, _NODE, _VERDICT, _POLICY, _STACKED = range(5)
_BEFORE_FACTS: Stage = (_FACT, -1)  # columns that facts of every depth read


class Unsupported(Exception):
    """A construct the vectorised compiler does not translate; the reference evaluates it."""


# --- exactness -------------------------------------------------------------------------------
#
# Every column holds exact integers. Each fact's columns carry a bound on their magnitude, and
# every product and sum is checked against Int128 when the policy is compiled: what could
# overflow (a threshold or rate with very many digits) is `Unsupported`, so the reference
# evaluates it, never a wrapped-around integer. The bounds start from what a register can hold:
# a quantity is below `LIMIT` in its unit (`columns.to_micro` makes a larger cell a bad row), an
# IP item's count fits Int64, a list has fewer than 2^32 items.
#
# A ratio is compared by cross-multiplication, exactly; the reference divides to 28
# significant digits. The two agree whenever |numerator| × (the threshold's denominator) <
# 2·10^27 in millionths (the quotient's rounding error is then smaller than its distance to any
# other threshold), which `_check_quotient` requires, and the threshold has at most 28 digits.

_INT128 = 2**127 - 1
_COLUMN = LIMIT * SCALE  # |a quantity column| is below this
_ITEMS = 2**32  # items in one list cell, at most
_COUNT = (2**63) * _ITEMS * SCALE  # an IP count: Int64 counts over a list
_QUOTIENT_DIGITS = 28


def _fits(size: int, what: str) -> int:
    if size > _INT128:
        raise Unsupported(f"{what} could exceed the exact integer range (Int128)")
    return size


def _check_quotient(numerator: int, bottom: int, bound: Decimal) -> None:
    digits = len(bound.normalize().as_tuple().digits)
    if numerator * bottom >= 2 * 10**(_QUOTIENT_DIGITS - 1) or digits > _QUOTIENT_DIGITS:
        raise Unsupported(
            f"a ratio compared with {bound} needs more precision than the reference's "
            "28-digit quotient: the reference evaluates it"
        )


# Literals are built once: `pl.lit` with a dtype builds a Series each time, and a policy set
# uses thousands of them.
@functools.lru_cache(maxsize=4096)
def _int(value: int) -> pl.Expr:
    _fits(abs(value), f"the constant {value}")
    return pl.lit(value, dtype=pl.Int128)


@functools.lru_cache(maxsize=256)
def _lit(value: Any, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    return pl.lit(value, dtype=dtype)


_NO, _YES = pl.lit(False), pl.lit(True)
_NO_AMOUNT = pl.lit(None, dtype=pl.Int128)


def _constant(flag: pl.Expr) -> bool:
    """Whether a flag is one of the two constants (kept as literals, never computed into a
    column: most facts never need an expert)."""
    return flag is _NO or flag is _YES


def _ratio(value: Decimal) -> tuple[int, int]:
    top, bottom = value.as_integer_ratio()
    return top, bottom


@dataclass(frozen=True)
class Fact:
    """A fact as columns: `value` is null exactly when the reference gives `Missing`.

    Quantities are `num / den` with `den > 0`; `den` is None for a plain quantity in millionths.
    `size` bounds |value| and `den_size` |den| (see "exactness" above).
    """

    defn: FactPlan
    value: pl.Expr
    review: pl.Expr
    den: pl.Expr | None = None
    size: int = _COLUMN
    den_size: int = 0
    power: int = 1  # a compound growth: `num / den` is (1 + the fact)^power, num ≥ 0
    decimal: bool = False  # `value` is the reference's Decimal as text, compared in Python

    @property
    def missing(self) -> pl.Expr:
        return self.value.is_null()

    def compare(self, op: str, bound: Decimal) -> pl.Expr:
        """`value op bound`, exactly."""
        if self.decimal:
            return _decimal_compare(self.value, op, bound)
        if self.power != 1:
            # x ↦ (1 + x)^power is increasing from x = −1, the least a growth can be; a bound
            # below it compares as −1 does (the factor is never below 0).
            bound = (bound + 1) ** self.power if bound >= -1 else Decimal(-1)
        top, bottom = _ratio(bound)
        what = f"{self.defn.id!r} compared with {bound}"
        _fits(self.size * bottom, what)
        left = self.value if bottom == 1 else self.value * _int(bottom)
        if self.den is None:
            right = _int(top * SCALE)
        else:
            _fits(abs(top) * self.den_size, what)
            _check_quotient(self.size, bottom, bound)
            right = _int(top) * self.den
        return _compare(op, left, right)


class _Facts:
    """Fact columns over one frame for one evaluation date, built on first use."""

    def __init__(
        self,
        facts: Mapping[str, FactPlan],
        columns: Mapping[str, pl.DataType],
        on: date | Basis,
        stages: dict[Stage, dict[str, pl.Expr]] | None = None,
        count: Iterator[int] | None = None,
    ):
        basis = on if isinstance(on, Basis) else Basis(on, on.year - 1)
        self.facts = facts
        self.columns = columns
        self.as_of = basis.on  # as the reference's `Context`: the day, and the year read as last
        self.last_year = basis.fiscal_year
        self._built: dict[str, Fact] = {}
        self._outside: dict[tuple[str, ...], pl.Expr] = {}
        self._operating: dict[int, pl.Expr] = {}
        # Columns computed in order, each stage from the columns of earlier stages: plans stay
        # small however often a fact or a node is used. A stage is (phase, depth): what facts
        # of every depth read (`_BEFORE_FACTS`), facts by formula depth, then condition nodes
        # by height, then each policy's verdict, its masks and amount, its status, then
        # stacking.
        self.stages: dict[Stage, dict[str, pl.Expr]] = {} if stages is None else stages
        self._count = itertools.count(1) if count is None else count

    def at(self, basis: Basis) -> _Facts:
        """The same frame's facts on another basis (a tax year's), computed in the same
        stages: one plan for both, each fact once per basis."""
        other = _Facts(self.facts, self.columns, basis, self.stages, self._count)
        other._outside, other._operating = self._outside, self._operating  # not by date
        return other

    def put(self, stage: Stage, expr: pl.Expr, prefix: str = "t") -> pl.Expr:
        name = f"__{prefix}{next(self._count)}"
        self.stages.setdefault(stage, {})[name] = expr
        return pl.col(name)

    def run(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        for level in sorted(self.stages):
            frame = frame.with_columns(**self.stages[level])
        return frame

    def column(self, name: str, dtype: pl.DataType) -> pl.Expr:
        present = self.columns.get(name)
        if present is None:
            return pl.lit(None, dtype=dtype)
        if present != dtype:
            raise Unsupported(f"column {name!r} is {present}, expected {dtype}")
        return pl.col(name)

    def get(self, name: str) -> Fact:
        if name not in self._built:
            defn = self.facts[name]
            raw = _BUILDERS[defn.source.kind](self, defn)  # builds its inputs first
            stage = (_FACT, defn.depth)
            self._built[name] = Fact(
                raw.defn,
                self.put(stage, raw.value, "f"),
                raw.review if _constant(raw.review) else self.put(stage, raw.review, "r"),
                None if raw.den is None else self.put(stage, raw.den, "d"),
                raw.size,
                raw.den_size,
                raw.power,
                raw.decimal,
            )
        return self._built[name]

    def outside(self, zones: Iterable[str]) -> pl.Expr:
        """Whether the row's zone is known and not one of `zones`: a column per distinct set of
        zones (the test reads text, and every flag of a policy reads it)."""
        key = tuple(sorted(zones))
        if key not in self._outside:
            zone = self.column("zone", pl.String())
            outside = zone.is_not_null() & ~zone.is_in(list(key))
            self._outside[key] = self.put((_FACT, 0), outside, "z")
        return self._outside[key]

    def operating(self, year: int) -> pl.Expr:
        """Whether a year counts for the enterprise (registered by then, or unknown when): a
        column per year, computed before the facts, which every sum over years reads."""
        if year not in self._operating:
            registered = self.column("registration_date", pl.Date()).dt.year()
            counts = registered.is_null() | (registered <= year)
            self._operating[year] = self.put(_BEFORE_FACTS, counts, "y")
        return self._operating[year]

    def judged(self, defn: FactPlan) -> pl.Expr:
        """Whether an unknown value of a fact read from the profile needs an expert."""
        return _YES if defn.judgement else _NO

    def financial(self, year: int, line: str) -> pl.Expr:
        return self.column(f"financials.{year}.{line}", QUANTITY())


# One builder per source kind: the fact's columns, as the reference's resolver computes it.


def _read(facts: _Facts, defn: FactPlan) -> Fact:
    source = defn.source
    if isinstance(source, FieldSource):
        name = ".".join(source.path)
        if name not in SCALARS:
            raise Unsupported(f"fact {defn.id!r} reads {name!r}, which is not a scalar field")
    else:
        assert isinstance(source, ProfileFactSource)
        name = f"facts.{source.name}"
    return Fact(defn, facts.column(name, _dtype(defn)), facts.judged(defn))


def _financial(facts: _Facts, defn: FactPlan) -> Fact:
    source = defn.source
    assert isinstance(source, FinancialSource)
    year = facts.last_year - source.years_back
    return Fact(defn, facts.financial(year, source.line), facts.judged(defn))


def _sum_years(facts: _Facts, defn: FactPlan) -> Fact:
    # 实际经营期不满N年的按实际经营时间计算: years before registration do not count.
    source = defn.source
    assert isinstance(source, SumYearsSource)
    total: pl.Expr = _int(0)
    gaps: pl.Expr = _NO
    counted: pl.Expr = _NO
    for year in range(facts.last_year - source.years + 1, facts.last_year + 1):
        value = facts.financial(year, source.line)
        included = facts.operating(year)
        total = total + pl.when(included).then(value).otherwise(_int(0)).fill_null(_int(0))
        gaps = gaps | (included & value.is_null())
        counted = counted | included
    return Fact(defn, pl.when(~gaps & counted).then(total), _NO, size=source.years * _COLUMN)


def _growth(facts: _Facts, defn: FactPlan) -> Fact:
    source = defn.source
    assert isinstance(source, GrowthSource)
    current = facts.financial(facts.last_year, source.line)
    previous = facts.financial(facts.last_year - 1, source.line)
    ok = previous != 0
    sign = pl.when(previous < 0).then(_int(-1)).otherwise(_int(1))
    num = pl.when(ok).then((current - previous) * sign)
    den = pl.when(ok & current.is_not_null()).then(previous * sign)
    return Fact(defn, num, _NO, den, 2 * _COLUMN, _COLUMN)


def _ratio_fact(facts: _Facts, defn: FactPlan) -> Fact:
    source = defn.source
    assert isinstance(source, RatioSource)
    parts = [facts.get(source.numerator), facts.get(source.denominator)]
    for part in parts:
        if part.defn.type is not FactType.QUANTITY or part.den is not None:
            raise Unsupported(
                f"fact {defn.id!r} divides {part.defn.id!r}, which is not a plain quantity"
            )
    top, bottom = parts
    ok = (bottom.value != 0) & top.value.is_not_null()
    sign = pl.when(bottom.value < 0).then(_int(-1)).otherwise(_int(1))
    num = pl.when(ok).then(top.value * sign)
    den = pl.when(ok).then(bottom.value * sign)
    # `context._merge`: the unknown needs an expert only if every unknown part does.
    review = (
        pl.when(top.missing & bottom.missing)
        .then(top.review & bottom.review)
        .when(top.missing)
        .then(top.review)
        .when(bottom.missing)
        .then(bottom.review)
        .otherwise(_NO)
    )
    return Fact(defn, num, review, den, top.size, bottom.size)


def _points(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._points`: unknown as its `by` fact is, else the first band that holds."""
    source = defn.source
    assert isinstance(source, PointsSource)
    by = facts.get(source.by)
    if by.defn.type is not FactType.QUANTITY:
        raise Unsupported(f"fact {defn.id!r} scores {by.defn.id!r}, which is not a quantity")
    score: Any = pl.when(by.missing).then(_NO_AMOUNT)
    size = 1
    for band in source.bands:
        points = _micro(band.amount or Decimal(0), "points")
        score = score.when(_band_holds(band, by)).then(_int(points))
        size = max(size, abs(points) + 1)
    return Fact(defn, score.otherwise(_int(0)), by.review, size=size)


def _combined(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._combine`: unknown when any part is (even a `max_of` whose known parts
    already beat it: the reference does not decide early), else the sum or the largest."""
    source = defn.source
    assert isinstance(source, SumOfSource | MaxOfSource)
    parts = [facts.get(name) for name in source.parts]
    for part in parts:
        if part.defn.type is not FactType.QUANTITY or part.den is not None:
            raise Unsupported(
                f"fact {defn.id!r} combines {part.defn.id!r}, which is not a plain quantity"
            )
    if isinstance(source, SumOfSource):
        value = pl.sum_horizontal([p.value for p in parts], ignore_nulls=False)
        size = _fits(sum(p.size for p in parts), f"the sum {defn.id!r}")
    else:
        # max_horizontal skips nulls; an unknown part must make the maximum unknown.
        known = pl.all_horizontal([p.value.is_not_null() for p in parts])
        value = pl.when(known).then(pl.max_horizontal([p.value for p in parts]))
        size = max(p.size for p in parts)
    # `context._merge`: the unknown needs an expert only if every unknown part does.
    review = pl.all_horizontal([p.value.is_not_null() | p.review for p in parts])
    return Fact(defn, value, review, size=size)


def _ip_count(facts: _Facts, defn: FactPlan) -> Fact:
    spec = defn.source
    assert isinstance(spec, IpCountSource)
    item = pl.element().struct
    chosen = _ip_chosen(spec, facts.last_year)
    items = facts.column("intellectual_property", _list("intellectual_property"))
    counted = chosen
    if spec.main_product is not None:
        counted = chosen & (item.field("main_product") == spec.main_product)
    # Summed as Int128: Int64 counts could wrap around in Int64.
    total = items.list.eval(
        pl.when(counted).then(item.field("count").cast(pl.Int128)).otherwise(_int(0))
    ).list.sum()
    value = total * _int(SCALE)
    if spec.main_product is not None:
        unsure = items.list.eval(chosen & item.field("main_product").is_null()).list.any()
        value = pl.when(~unsure).then(value)
    if spec.granted_years is not None:
        undated = items.list.eval(chosen & item.field("granted").is_null()).list.any()
        value = pl.when(~undated).then(value)
    return Fact(defn, value, _NO, size=_COUNT)


def _ip_chosen(spec: IpCountSource, last_year: int) -> pl.Expr:
    """`context._ip_count`'s choice of items: kind, acquisition, and the grant year."""
    item = pl.element().struct
    chosen = item.field("kind").is_in(sorted(spec.kinds))
    if spec.acquisitions is not None:
        chosen = chosen & item.field("acquisition").is_in(sorted(spec.acquisitions))
    if spec.granted_years is not None:
        year = item.field("granted").dt.year()
        # an undated item is counted here; the fact is then unknown (`_ip_count`)
        chosen = chosen & (year.is_null() | year.is_between(last_year - spec.granted_years + 1,
                                                            last_year))  # fmt: skip
    return chosen


def _certified(facts: _Facts, defn: FactPlan) -> Fact:
    spec = defn.source
    assert isinstance(spec, CertifiedSource)
    item = pl.element().struct
    issued, expires = item.field("issued"), item.field("expires")
    as_of = pl.lit(facts.as_of)
    if spec.validity is None:
        open_ended: pl.Expr = _YES
    else:
        amount, unit = spec.validity.amount, spec.validity.unit
        open_ended = issued.dt.offset_by(f"{amount}{_DURATION[unit]}") > as_of
    valid = (
        (item.field("kind") == spec.certificate)
        & (issued <= as_of)
        & pl.when(expires.is_not_null()).then(expires >= as_of).otherwise(open_ended)
    )
    items = facts.column("certifications", _list("certifications"))
    return Fact(defn, items.list.eval(valid).list.any(), _NO)


def _offset(duration: Duration) -> str:
    return f"{duration.amount}{_DURATION[duration.unit]}"


def _certificates(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._certificates`: the certificates of the kind issued by the evaluation date,
    one per issue date (the one that ends last), oldest first."""
    spec = defn.source
    assert isinstance(spec, CertificatesSource)
    item = pl.element().struct
    issued, expires = item.field("issued"), item.field("expires")
    items = facts.column("certifications", _list("certifications"))
    held = items.list.eval(
        pl.element().filter((item.field("kind") == spec.certificate) & (issued <= facts.as_of))
    )
    if spec.measure == "latest_issued":  # the latest of the issue dates
        return Fact(defn, held.list.eval(issued).list.max(), _NO)
    # The distinct issue dates: a list of fewer than two has as many (and is not searched).
    several = pl.when(held.list.len() >= 2).then(held)
    count = several.list.eval(issued).list.n_unique().fill_null(held.list.len())
    if spec.measure == "first":
        return Fact(defn, pl.when(count > 0).then(count == 1), _NO)
    assert spec.validity is not None
    end = (pl.when(expires.is_not_null()).then(expires.dt.offset_by("1d"))
           .otherwise(issued.dt.offset_by(_offset(spec.validity))))  # fmt: skip
    one = pl.struct(issued.alias("i"), end.alias("e"))
    pair = pl.element().struct
    # Sorting and scanning each list costs per row, even an empty one: only lists of two or
    # more certificates can hold a renewal (one certificate is a chain of no links), so the
    # others are left null here and count no links.
    chain = (
        several.list.eval(one)
        .list.eval(
            pl.element().sort_by([pair.field("i"), pair.field("e")], descending=[False, True])
        )
        .list.eval(pl.element().filter(pair.field("i").is_first_distinct()))
        .list.eval(
            (pair.field("i") <= pair.field("e").shift(1).dt.offset_by(_offset(spec.grace)))
            .fill_null(False).cast(pl.Int64).reverse().cum_prod().sum()
        )
        .list.first()
        .fill_null(0)
    )
    value = pl.when(count > 0).then(chain + 1).otherwise(0).cast(pl.Int128) * _int(SCALE)
    return Fact(defn, pl.when(count.is_not_null()).then(value), _NO, size=_ITEMS * SCALE)


def _project(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._applied_project`: the project marked applying, or the only one listed."""
    spec = defn.source
    assert isinstance(spec, ProjectSource)
    items = facts.column("projects", _list("projects"))
    applying = pl.element().struct.field("applying").fill_null(False)
    marked = items.list.eval(applying.cast(pl.Int64)).list.sum()
    chosen = (
        pl.when(marked == 1)
        .then(items.list.eval(pl.element().filter(applying)).list.first())
        .when((marked == 0) & (items.list.len() == 1))
        .then(items.list.first())
    )
    value = chosen.struct.field(spec.field)
    return Fact(defn, value, _NO)


def _cagr(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._cagr` over two years at most: the growth factor last ÷ first as a ratio,
    compared with (1 + bound)^years (`Fact.power`), exactly."""
    spec = defn.source
    assert isinstance(spec, CagrSource)
    if spec.years > 2:
        raise Unsupported(f"fact {defn.id!r}: a compound growth over {spec.years} years has no "
                          "exact comparison here (a root of a ratio)")  # fmt: skip
    last = facts.financial(facts.last_year, spec.line)
    first = facts.financial(facts.last_year - spec.years, spec.line)
    ok = (first > 0) & (last >= 0)
    return Fact(defn, pl.when(ok).then(last), _NO, pl.when(ok).then(first), _COLUMN, _COLUMN,
                power=spec.years)  # fmt: skip


def _average_growth(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._average_growth`, row by row through `context.mean_growth` (a mean of rates
    multiplies amounts beyond Int128): the value is the Decimal as text, compared in Python."""
    spec = defn.source
    assert isinstance(spec, AverageGrowthSource)
    years = range(facts.last_year - spec.years, facts.last_year + 1)
    packed = pl.struct([facts.financial(y, spec.line).alias(str(y)) for y in years])
    value = packed.map_batches(_mean_growth_texts, return_dtype=pl.String)
    return Fact(defn, value, _NO, den=_int(1), decimal=True)


def _mean_growth_texts(rows: pl.Series) -> pl.Series:
    """Each row's mean growth as text, null where a year is unknown (or zero): Python only
    for the rows whose years are all known, the others stay null without being looked at."""
    years = rows.struct.unnest()
    known = years.select(pl.all_horizontal(pl.all().is_not_null())).to_series()
    texts: list[str | None] = []
    for values in years.filter(known).iter_rows():
        mean = mean_growth([from_micro(v) for v in values])
        texts.append(None if isinstance(mean, int) else str(mean))
    out = pl.repeat(None, len(rows), dtype=pl.String, eager=True)
    return out.scatter(known.arg_true(), pl.Series(texts, dtype=pl.String)) if texts else out


_PYTHON_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge,
    "lt": operator.lt, "le": operator.le,
}  # fmt: skip


def _decimal_compare(value: pl.Expr, op: str, bound: Decimal) -> pl.Expr:
    test = _PYTHON_OPS[op]

    def compare(texts: pl.Series) -> pl.Series:
        return pl.Series([None if t is None else test(Decimal(t), bound) for t in texts.to_list()],
                         dtype=pl.Boolean)  # fmt: skip

    return value.map_batches(compare, return_dtype=pl.Boolean)


def _industry_share(facts: _Facts, defn: FactPlan) -> Fact:
    """`context._industry_share`: the listed industries' part of the year's income by industry
    (without one, 0 for a firm registered outside the list, else unknown)."""
    spec = defn.source
    assert isinstance(spec, IndustryShareSource)
    name = f"financials.{facts.last_year}.income_by_industry"
    income = facts.column(name, FINANCIAL_LISTS["income_by_industry"])
    entry = pl.element().struct
    listed = pl.any_horizontal([entry.field("industry").str.starts_with(p) for p in spec.prefixes])
    part = income.list.eval(pl.when(listed).then(entry.field("amount")).otherwise(_int(0))).list.sum()
    total = income.list.eval(entry.field("amount")).list.sum()
    registered = facts.column("industry_code", pl.String())
    outside = ~pl.any_horizontal([registered.str.starts_with(p) for p in spec.prefixes])
    known = income.is_not_null() & (total != 0)
    presumed = income.is_null() & registered.is_not_null() & outside
    num = pl.when(known).then(part.cast(pl.Int128)).when(presumed).then(_int(0))
    den = pl.when(known).then(total.cast(pl.Int128)).when(presumed).then(_int(1))
    size = MAX_INDUSTRIES * _COLUMN  # a sum over the industries of one year
    return Fact(defn, num, _NO, den, size, size)


def _records(facts: _Facts, defn: FactPlan) -> Fact:
    spec = defn.source
    assert isinstance(spec, RecordsSource)
    start = pl.lit(spec.within.before(facts.as_of))
    item = pl.element().struct
    occurred = item.field("occurred")
    hit = (
        item.field("kind").is_in(sorted(spec.kinds))
        & item.field("severity").is_in(sorted(spec.severities))
        & (occurred > start)
        & (occurred <= pl.lit(facts.as_of))
    )
    items = facts.column("compliance.records", _list("compliance.records"))
    count = items.list.eval(hit.cast(pl.Int64)).list.sum()
    return Fact(defn, count.cast(pl.Int128) * _int(SCALE), _NO, size=_ITEMS * SCALE)


_BUILDERS: dict[str, Callable[[_Facts, FactPlan], Fact]] = {
    "field": _read,
    "profile_fact": _read,
    "financial": _financial,
    "sum_years": _sum_years,
    "growth": _growth,
    "ratio": _ratio_fact,
    "points": _points,
    "sum_of": _combined,
    "max_of": _combined,
    "ip_count": _ip_count,
    "certified": _certified,
    "records": _records,
    "certificates": _certificates,
    "project": _project,
    "cagr": _cagr,
    "average_growth": _average_growth,
    "industry_share": _industry_share,
}


def _dtype(defn: FactPlan) -> pl.DataType:
    return {
        FactType.QUANTITY: QUANTITY(),
        FactType.BOOL: pl.Boolean(),
        FactType.DATE: pl.Date(),
        FactType.CODE: pl.String(),
        FactType.CODES: pl.List(pl.String),
    }[defn.type]


def _list(name: str) -> pl.DataType:
    from .columns import LISTS

    return LISTS[name]


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """A compiled node: its truth column, and for leaves the fact it reads."""

    truth: pl.Expr
    children: tuple[_Node, ...] = ()
    fact: Fact | None = None
    height: int = 0


def _condition(node: Node, facts: _Facts) -> _Node:
    if isinstance(node, Comparison):
        fact = facts.get(node.fact)
        test = _test(node, fact, facts.as_of)
        truth = (
            pl.when(fact.missing)
            .then(_lit(UNKNOWN_, pl.UInt8))
            .when(test)
            .then(_lit(TRUE_, pl.UInt8))
            .otherwise(_lit(FALSE_, pl.UInt8))
        )
        return _Node(facts.put((_NODE, 0), truth), fact=fact)
    children = tuple(_condition(child, facts) for child in node.children)
    height = 1 + max(c.height for c in children)
    if node.kind == "all":
        truth = pl.min_horizontal([c.truth for c in children])
    elif node.kind == "any":
        truth = pl.max_horizontal([c.truth for c in children])
    else:
        truth = _lit(TRUE_, pl.UInt8) - children[0].truth
    return _Node(facts.put((_NODE, height), truth), children, height=height)


def _test(leaf: Comparison, fact: Fact, as_of: date) -> pl.Expr:
    kind = fact.defn.type
    if kind is FactType.QUANTITY:
        return _quantity_test(leaf, fact)
    if kind is FactType.DATE:
        return _date_test(leaf, fact.value, as_of)
    op, operand, value = leaf.op, cast(Any, leaf.operand), fact.value
    if kind is FactType.CODES:
        return value.list.contains(pl.lit(operand))
    if op in ("in", "not_in"):
        found = value.is_in(sorted(operand))
        return found if op == "in" else ~found
    if op == "prefix_in":
        upper = value.str.to_uppercase()
        return pl.any_horizontal([upper.str.starts_with(p) for p in operand])
    return _compare(op, value, pl.lit(operand))


def _quantity_test(leaf: Comparison, fact: Fact) -> pl.Expr:
    op, operand = leaf.op, cast(Any, leaf.operand)
    if op == "between":
        low, high = operand
        return fact.compare("ge", low) & fact.compare("le", high)
    if op in ("in", "not_in"):
        hits = [fact.compare("eq", item) for item in sorted(operand)]
        found = pl.any_horizontal(hits)
        return found if op == "in" else ~found
    assert isinstance(operand, Decimal)
    return fact.compare(op, operand)


def _date_test(leaf: Comparison, value: pl.Expr, as_of: date) -> pl.Expr:
    op, operand = leaf.op, cast(Any, leaf.operand)
    if op == "within":
        assert isinstance(operand, DateBound)
        return (value > pl.lit(operand.resolve(as_of))) & (value <= pl.lit(as_of))
    if op == "between":
        low, high = (pl.lit(b.resolve(as_of)) for b in operand)
        return (value >= low) & (value <= high)
    assert isinstance(operand, DateBound)
    return _compare(op, value, pl.lit(operand.resolve(as_of)))


def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    return {
        "eq": left == right,
        "ne": left != right,
        "lt": left < right,
        "le": left <= right,
        "gt": left > right,
        "ge": left >= right,
    }[op]


def _unknown_bits(node: _Node, bits: Mapping[str, int], dtype: pl.DataType) -> pl.Expr:
    """The bits of the facts `unknown_leaves` reports under `node` when its ancestors are all
    unknown: none unless `node` is unknown too, else a leaf's own fact's bit or its children's
    bits OR-ed together. One comparison and one OR per node, where a flag per leaf would repeat
    the test of every ancestor for each of its leaves. Masks are of the policy's narrowest
    type (`_mask_type`)."""
    if node.fact is not None:
        inside = _lit(1 << bits[node.fact.defn.id], dtype)
    else:
        inside = functools.reduce(
            operator.or_, (_unknown_bits(c, bits, dtype) for c in node.children)
        )
    return pl.when(node.truth == UNKNOWN_).then(inside).otherwise(_lit(0, dtype))


def _leaf_facts(node: _Node, into: set[str]) -> set[str]:
    if node.fact is not None:
        into.add(node.fact.defn.id)
    for child in node.children:
        _leaf_facts(child, into)
    return into


# --- amounts ---------------------------------------------------------------------------------


def _micro(value: Decimal, what: str) -> int:
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        raise Unsupported(f"{what} {value} has more than 6 decimal places")
    return int(scaled)


def _plain(fact: Fact, what: str) -> Fact:
    if fact.den is not None:
        raise Unsupported(f"{what} {fact.defn.id!r} is a ratio, not an amount")
    return fact


def _rate_amount(base: Fact, rate: Decimal, benefit: BenefitPlan) -> tuple[pl.Expr, int]:
    """`BenefitPlan.times` in millionths of a yuan: round_half_up(max(base, 0) × rate, fen),
    and a bound on its size."""
    rounding = benefit.rounding
    if (rounding.quantum, rounding.mode) != (Decimal("0.01"), "ROUND_HALF_UP"):
        raise Unsupported(f"amounts rounded to {rounding.quantum} {rounding.mode}")
    top, bottom = _ratio(rate)
    what = f"{base.defn.id!r} × {rate}"
    _fits(base.size * 2 * top * 100 + bottom * SCALE, what)
    positive = pl.when(base.value < 0).then(_int(0)).otherwise(base.value)
    cents = (positive * _int(2 * top * 100) + _int(bottom * SCALE)) // _int(2 * bottom * SCALE)
    return cents * _int(SCALE // 100), base.size * top // bottom + SCALE


def _progressive(base: Fact, benefit: BenefitPlan) -> tuple[pl.Expr, int]:
    """`BenefitPlan.saving` in millionths of a yuan: Σ part × (standard − rate) over a common
    denominator, rounded half up to the fen once; and a bound on its size."""
    rounding = benefit.rounding
    if (rounding.quantum, rounding.mode) != (Decimal("0.01"), "ROUND_HALF_UP"):
        raise Unsupported(f"amounts rounded to {rounding.quantum} {rounding.mode}")
    assert benefit.factor is not None and benefit.factor.standard is not None
    factors = [_ratio(benefit.factor.standard - (band.rate or Decimal(0))) for band in benefit.bands]
    common = math.lcm(*(bottom for _, bottom in factors))
    weights = [top * (common // bottom) for top, bottom in factors]
    _fits(base.size * 2 * 100 * sum(weights) + common * SCALE, f"{base.defn.id!r} by parts")
    value = pl.when(base.value < 0).then(_int(0)).otherwise(base.value)
    total: pl.Expr = _int(0)
    for band, weight in zip(benefit.bands, weights, strict=True):
        low = _micro(band.low or Decimal(0), "part bound")
        width = None if band.high is None else _micro(band.high, "part bound") - low
        part = pl.when(value <= _int(low)).then(_int(0)).otherwise(value - _int(low))
        if width is not None:
            part = pl.when(part > _int(width)).then(_int(width)).otherwise(part)
        total = total + part * _int(weight)
    cents = (total * _int(2 * 100) + _int(common * SCALE)) // _int(2 * common * SCALE)
    return cents * _int(SCALE // 100), base.size * sum(weights) // common + SCALE


@dataclass(frozen=True)
class _Amount:
    value: pl.Expr  # null when unknown (or for a service)
    missing: pl.Expr  # the amount could not be computed
    review: pl.Expr  # …because of an unknown that needs an expert
    facts: tuple[Fact, ...]
    size: int = 0  # bounds |value|


def _amount(benefit: BenefitPlan, facts: _Facts) -> _Amount:
    kind = benefit.kind
    no = _NO
    if kind == "service":
        return _Amount(_NO_AMOUNT, no, no, ())
    if kind == "grant":
        assert benefit.fixed is not None
        fixed = _micro(benefit.fixed, "grant")
        return _capped(_Amount(_int(fixed), no, no, (), fixed), benefit)
    if kind == "tiers":
        return _capped(_tiers(benefit, facts), benefit)
    assert benefit.base is not None and benefit.factor is not None
    base = _plain(facts.get(benefit.base), "base")
    if benefit.progressive:
        value, size = _progressive(base, benefit)
    else:
        value, size = _rate_amount(base, benefit.factor.value, benefit)
    return _capped(_Amount(value, base.missing, base.review, (base,), size), benefit)


def _tiers(benefit: BenefitPlan, facts: _Facts) -> _Amount:
    assert benefit.by is not None
    by = facts.get(benefit.by)
    base = None if benefit.base is None else _plain(facts.get(benefit.base), "base")
    value: Any = pl
    missing: Any = pl
    review: Any = pl
    size = 0
    for band in benefit.bands:
        # A column: the amount, whether it is missing and whether for an expert all read it.
        holds = facts.put((_NODE, 0), _band_holds(band, by), "b")
        if band.amount is not None:
            pays = _micro(band.amount, "tier amount")
            paid, lacking, judged, most = _int(pays), _NO, _NO, abs(pays)
        else:
            assert base is not None and band.rate is not None
            paid, most = _rate_amount(base, band.rate, benefit)
            lacking, judged = base.missing, base.review
        value = value.when(holds).then(paid)
        missing = missing.when(holds).then(lacking)
        review = review.when(holds).then(judged)
        size = max(size, most)
    value = value.otherwise(_int(0))
    missing = missing.otherwise(_NO)
    review = review.otherwise(_NO)
    used = (by,) if base is None else (by, base)
    return _Amount(
        pl.when(by.missing).then(_NO_AMOUNT).otherwise(value),
        by.missing | missing,
        pl.when(by.missing).then(by.review).otherwise(review),
        used,
        size,
    )


def _band_holds(band: Band, by: Fact) -> pl.Expr:
    holds: pl.Expr = _YES
    for op, bound in band.bounds():
        holds = holds & by.compare(op, bound)
    return holds


def _capped(amount: _Amount, benefit: BenefitPlan) -> _Amount:
    if benefit.cap is None:
        return amount
    cap = _micro(benefit.cap, "cap")
    value = pl.when(amount.value > _int(cap)).then(_int(cap)).otherwise(amount.value)
    return _Amount(value, amount.missing, amount.review, amount.facts, min(amount.size, cap))


# --- one policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PolicyColumns:
    status: pl.Expr  # a `_CODE`
    amount: pl.Expr
    # The facts that may be listed, in list order, and two bit masks over them (bit i: names[i]
    # is in the list of missing facts / of facts for an expert): a few distinct masks per policy
    # are turned into lists once, instead of building a list in every row.
    names: tuple[str, ...]
    missing: pl.Expr
    review: pl.Expr
    size: int = 0  # bounds |amount|


def _code(status: Status) -> pl.Expr:
    return _lit(_CODE[status], pl.UInt8)


_MASK = pl.UInt64
_MASK_BITS = 64


def _mask(flags: Iterable[tuple[int, pl.Expr]], dtype: pl.DataType) -> pl.Expr | None:
    """Bit i set where its flag is true, for each (i, flag), in `dtype`; None where no flag
    can be (all are `_NO`)."""
    # A null flag adds nothing (`sum_horizontal` skips nulls), as `when(null)` is false.
    bits = [flag.cast(dtype) * _lit(1 << bit, dtype) for bit, flag in flags if flag is not _NO]
    return pl.sum_horizontal(bits) if bits else None


def _criteria(plan: PolicyPlan, facts: _Facts) -> tuple[list[_Node], pl.Expr]:
    """The compiled roots of a policy's criteria and their combined truth: every condition
    true, every exclusion false (`2 − x`)."""
    compiled = [_condition(c.node, facts) for c in plan.criteria]
    parts = [
        _lit(TRUE_, pl.UInt8) - node.truth if c.exclusion else node.truth
        for c, node in zip(plan.criteria, compiled, strict=True)
    ]
    return compiled, pl.min_horizontal(parts) if parts else _lit(TRUE_, pl.UInt8)


def _policy(plan: PolicyPlan, facts: _Facts) -> _PolicyColumns:
    if not plan.effective.covers(facts.as_of):
        status = _code(Status.NOT_IN_FORCE)
        none = _lit(0, _MASK)
        return _PolicyColumns(status, _NO_AMOUNT, (), none, none)
    return _translated(plan, facts)


def _translated(plan: PolicyPlan, facts: _Facts) -> _PolicyColumns:
    """A policy's columns on a date it is in force."""
    zone = facts.column("zone", pl.String())
    if plan.applies_in is None:
        outside: pl.Expr = _NO
        zone_unknown: pl.Expr = _NO
    else:
        outside = facts.outside(plan.applies_in)
        zone_unknown = zone.is_null()
    compiled, decided = _criteria(plan, facts)
    # Without the zone nothing is decided: a zone elsewhere would make it not_in_force.
    truth = facts.put(
        (_VERDICT, 0), pl.when(zone_unknown).then(_lit(UNKNOWN_, pl.UInt8)).otherwise(decided), "c"
    )
    amount = _amount(plan.benefit, facts)
    eligible, unknown = truth == TRUE_, truth == UNKNOWN_
    if outside is not _NO:
        eligible, unknown = ~outside & eligible, ~outside & unknown
    names, found_mask, judged_mask = _asked(
        compiled, amount, facts, eligible, unknown, zone_unknown
    )
    none = _lit(0, _mask_type(names))
    found = none if found_mask is None else facts.put((_POLICY, 0), found_mask, "k")
    if judged_mask is None or found_mask is None:
        missing, review = found, none
    else:
        judged = facts.put((_POLICY, 0), judged_mask, "j")
        missing, review = found & ~judged, found & judged
    status = (
        pl.when(outside)
        .then(_code(Status.NOT_IN_FORCE))
        .when(truth == TRUE_)
        .then(_code(Status.ELIGIBLE))
        .when(truth == FALSE_)
        .then(_code(Status.INELIGIBLE))
        .when(missing != 0)
        .then(_code(Status.UNDETERMINED))
        .otherwise(_code(Status.NEEDS_REVIEW))
    )
    value = pl.when(eligible).then(amount.value).otherwise(_NO_AMOUNT)
    return _PolicyColumns(
        facts.put((_POLICY, 1), status, "s"),
        facts.put((_POLICY, 0), value, "a"),
        names,
        missing if missing is found else facts.put((_POLICY, 1), missing, "m"),
        review if review is none else facts.put((_POLICY, 1), review, "v"),
        amount.size,
    )


def _asked(
    compiled: list[_Node],
    amount: _Amount,
    facts: _Facts,
    eligible: pl.Expr,
    unknown: pl.Expr,
    zone_unknown: pl.Expr,
) -> tuple[tuple[str, ...], pl.Expr | None, pl.Expr | None]:
    """The facts that may be listed (sorted by name), and two masks over them, bit i for the
    i-th (None where no bit can be set): the facts listed, as the reference's `unknown_leaves`
    and the amount's missing facts give them, and those of them that need an expert. The lists
    are the masks' difference and intersection (no flag is ever null: truth columns and review
    columns are never null)."""
    leaves: set[str] = set()
    for node in compiled:
        _leaf_facts(node, leaves)
    review = {fact_id: facts.get(fact_id).review for fact_id in leaves}
    review.setdefault("zone", _NO)
    besides: dict[str, pl.Expr] = {}  # fact → listed other than through a leaf
    if zone_unknown is not _NO:
        besides["zone"] = unknown & zone_unknown
    for fact in amount.facts:
        fact_id = fact.defn.id
        when_eligible = eligible & amount.missing & fact.missing
        besides[fact_id] = besides[fact_id] | when_eligible if fact_id in besides else when_eligible
        judged = review.get(fact_id, _NO)
        if amount.review is not judged:
            judged = pl.when(when_eligible).then(amount.review).otherwise(judged)
        review[fact_id] = judged
    if len(review) > _MASK_BITS:
        raise Unsupported(f"more than {_MASK_BITS} facts could be missing")
    names = tuple(sorted(review))
    bits = {name: bit for bit, name in enumerate(names)}
    dtype = _mask_type(names)
    listed = _mask(((bits[fact_id], flag) for fact_id, flag in besides.items()), dtype)
    found = [] if listed is None else [listed]
    if compiled:
        under = functools.reduce(
            operator.or_, (_unknown_bits(node, bits, dtype) for node in compiled)
        )
        found.append(pl.when(unknown).then(under).otherwise(_lit(0, dtype)))
    found_mask = functools.reduce(operator.or_, found) if found else None
    return names, found_mask, _mask(((bits[name], review[name]) for name in names), dtype)


# --- the set ---------------------------------------------------------------------------------


def _stacked(
    group: GroupPlan, columns: Mapping[str, _PolicyColumns], amounts: Mapping[str, pl.Expr],
    eligible: Mapping[str, pl.Expr],
) -> dict[str, pl.Expr]:  # fmt: skip
    """`evaluate.apply_stacking` for one group, column-wise: the amounts after stacking."""
    cap = None if group.cap is None else _micro(group.cap, "group cap")
    ids = sorted(group.members)
    _fits(sum(columns[pid].size for pid in ids), f"the amounts of group {group.id!r}")
    counts = {pid: eligible[pid] & amounts[pid].is_not_null() for pid in ids}
    out: dict[str, pl.Expr] = {}
    for pid in ids:
        mine = amounts[pid]
        others = [o for o in ids if o != pid]
        ahead = [
            counts[other] & ((amounts[other] > mine) | ((amounts[other] == mine) & (other < pid)))
            for other in others
        ]
        if group.exclusive:
            loses = pl.any_horizontal(ahead) if ahead else _NO
            paid = pl.when(counts[pid] & loses).then(_int(0)).otherwise(mine)
            if cap is not None:
                paid = pl.when(paid > _int(cap)).then(_int(cap)).otherwise(paid)
        elif cap is not None:
            paid = _left_under_cap(cap, ahead, others, amounts, counts[pid], mine)
        else:
            paid = mine
        out[pid] = paid
    return out


def _left_under_cap(
    cap: int, ahead: list[pl.Expr], others: list[str], amounts: Mapping[str, pl.Expr],
    counted: pl.Expr, mine: pl.Expr,
) -> pl.Expr:  # fmt: skip
    """What a member of a capped group still gets after the members ranked ahead of it."""
    before = (
        pl.sum_horizontal(
            [pl.when(flag).then(amounts[o]).otherwise(_int(0)) for flag, o in zip(ahead, others, strict=True)]
        )
        if ahead
        else _int(0)
    )  # fmt: skip
    left = pl.when(_int(cap) > before).then(_int(cap) - before).otherwise(_int(0))
    return pl.when(counted & (mine > left)).then(left).otherwise(mine)


_NEAR = 256  # masks of a batch this close together are coded by their distance from the least


def _decoded(
    wide: pl.DataFrame, names: list[tuple[str, ...]]
) -> tuple[list[list[str]], dict[str, pl.Expr | pl.Series]]:
    """The lists of missing and review facts, and each mask column's codes (indexes into those
    lists, UInt16, or UInt32 past 2^16 lists). A policy's masks that lie within `_NEAR` of each
    other in the batch (most: a few facts to list, or the same facts in every row) are coded by
    their distance from the least, each mask between becoming a list once (used or not); the
    others by binary search among their distinct masks, each becoming a list once."""
    masks = [(f"{key}{i}", listed) for i, listed in enumerate(names) for key in ("m", "v")]
    bounds = wide.select(
        *(pl.col(name).min().alias(f"least {name}") for name, _ in masks),
        *(pl.col(name).max().alias(f"most {name}") for name, _ in masks),
    ).row(0)  # one pass for both
    least, most = bounds[: len(masks)], bounds[len(masks) :]
    distinct = _spread(wide, [name for (name, _), lo, hi in zip(masks, least, most, strict=True)
                              if hi - lo >= _NEAR])  # fmt: skip
    lists: list[list[str]] = []
    placed: list[tuple[str, int, int]] = []  # mask column, offset of its lists, its least mask
    for (name, listed), lo, hi in zip(masks, least, most, strict=True):
        placed.append((name, len(lists), lo))
        found = distinct[name] if name in distinct else range(lo, hi + 1)
        lists += [[fact for bit, fact in enumerate(listed) if m >> bit & 1] for m in found]
    code = pl.UInt16() if len(lists) <= 2**16 else pl.UInt32()
    codes = {name: _codes(wide, name, offset, lo, distinct.get(name), code)
             for name, offset, lo in placed}  # fmt: skip
    return lists, codes


def _spread(wide: pl.DataFrame, spread: list[str]) -> dict[str, list[int]]:
    """The distinct masks, sorted, of each of the `spread` mask columns."""
    if not spread:
        return {}
    # eager: a lazy query with a literal per policy costs more to plan than to run
    found = wide.select(pl.col(name).unique().sort().implode() for name in spread).row(0)
    return dict(zip(spread, found, strict=True))


def _codes(
    wide: pl.DataFrame, name: str, offset: int, least: int, found: list[int] | None,
    code: pl.DataType,
) -> pl.Expr | pl.Series:  # fmt: skip
    """A mask column's codes: `offset` plus its distance from `least`, or, given its distinct
    masks `found`, plus its place among them."""
    if found is None:  # integer literals keep the column's type (each fits it)
        near: pl.Expr = (pl.col(name) - least).cast(code) + offset
        return near
    column = wide[name]
    places = pl.Series(found, dtype=column.dtype).search_sorted(column)
    spread: pl.Series = (places + offset).cast(code)
    return spread


def _side_by_side(frame: pl.DataFrame) -> pl.Series:
    """Each row's values (of integer columns of one type, without nulls) side by side and the
    rows laid end to end: one C-ordered copy by numpy, a fifth of the time of `concat_arr`
    with `reshape` (which has to be used where there are nulls)."""
    dtype = frame.dtypes[0]
    laid = pl.Series(frame.to_numpy(order="c").ravel())
    assert laid.dtype == dtype, (laid.dtype, dtype)  # a null would have made it floats
    return laid


_INT64 = 2**63 - 1


def _narrowed(amount: pl.Expr, size: int) -> pl.Expr:
    """A policy's amount column, Int64 where its bound proves that every value fits."""
    return amount.cast(pl.Int64) if size <= _INT64 else amount


def _mask_type(names: Sequence[str]) -> pl.DataType:
    """The narrowest unsigned type with a bit for each fact a policy's masks list."""
    return next(t for bits, t in ((8, pl.UInt8()), (16, pl.UInt16()), (32, pl.UInt32()),
                                  (_MASK_BITS, _MASK())) if len(names) <= bits)  # fmt: skip


def _amount_type(wide: pl.DataFrame, sizes: Sequence[int]) -> pl.DataType:
    """Int64 where every amount of the batch is proved to fit it: by its policy's bound (the
    wide column is then Int64 already), or, for a policy whose bound exceeds Int64 (a rate of
    a quantity up to `LIMIT`), by the largest magnitude its column holds in this batch; else
    Int128. Half the memory of the amounts, which are a third of a batch's results."""
    unbounded = [pl.col(f"a{i}") for i, size in enumerate(sizes) if size > _INT64]
    if unbounded:
        largest = wide.select(pl.max_horizontal(c.abs().max() for c in unbounded)).item()
        if largest is not None and largest > _INT64:
            return pl.Int128()
    return pl.Int64()


_QUERIES_KEPT = 8  # queries kept per set (a schema and dates each)


@dataclass(frozen=True)
class _Query:
    """The wide evaluation of a set for one frame schema and one pair of dates: columns
    computed stage after stage, then the selected result columns."""

    stages: list[dict[str, pl.Expr]]
    selected: list[pl.Expr]
    names: list[tuple[str, ...]]  # per policy, the facts its masks list
    sizes: list[int]  # per policy, a bound on |amount| (stacking only lowers an amount)

    def run(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        for stage in self.stages:
            frame = frame.with_columns(**stage)
        return frame.select(self.selected)


class VectorisedSet:
    """A `PolicySet` compiled to Polars expressions; evaluates frames built by `columns`."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        plan = policy_set.plan
        probe = _Facts(plan.facts, {}, date(2026, 1, 1))
        reasons: dict[str, str] = {}
        columns: dict[str, _PolicyColumns] = {}
        for policy in plan.policies:
            try:  # translate every policy once, whatever the date, to find what is unsupported
                columns[policy.id] = _translated(policy, probe)
            except Unsupported as exc:
                reasons[policy.id] = str(exc)
        for group in plan.groups.values():
            broken = [m for m in group.members if m in reasons]
            if not broken:
                try:
                    _stacked(group, columns, {m: _NO_AMOUNT for m in group.members},
                             {m: _NO for m in group.members})  # fmt: skip
                    continue
                except Unsupported as exc:
                    reasons[group.members[0]] = str(exc)
                    broken = [group.members[0]]
            for member in group.members:
                if member not in reasons:
                    reasons[member] = f"shares stacking group with {broken[0]}"
        self.fallback: dict[str, str] = reasons  # policy id → why the reference evaluates it
        self.vectorised = tuple(p for p in plan.policies if p.id not in reasons)
        self._queries: dict[tuple[object, ...], _Query] = {}
        self._keeping = threading.Lock()

    def fact_frame(
        self, frame: pl.DataFrame, on: date | Basis, fact_ids: Sequence[str]
    ) -> pl.DataFrame:
        """The named facts as the compiler computes them on a day (or a `Basis`), to check
        them against the reference: per fact `id` (null when unknown; Int128 millionths, or a
        numerator), `id.den` (a ratio's denominator, else null) and `id.review`."""
        facts = _Facts(self.policy_set.plan.facts, dict(frame.schema), on)
        columns: list[pl.Expr] = []
        for fact_id in fact_ids:
            fact = facts.get(fact_id)
            den = _NO_AMOUNT if fact.den is None else fact.den
            columns += [
                fact.value.alias(fact_id),
                den.alias(f"{fact_id}.den"),
                fact.review.alias(f"{fact_id}.review"),
            ]
        return facts.run(frame.lazy()).select(columns).collect()

    def evaluate(
        self,
        frame: pl.DataFrame,
        as_of: date,
        profiles: Sequence[Profile] | None = None,
        tax_year: int | None = None,
    ) -> pl.DataFrame:
        """One row per enterprise × policy: row, credit_code, zone, policy_id, status, amount
        (Int128 millionths of a yuan), amount_kind, missing, review; ordered by row, then by
        the policies' order in the set. Applications are evaluated on `as_of`, tax-year
        preferences for `tax_year` (default the year before), as `PolicySet.evaluate`.

        `profiles` (the validated profiles of the frame's rows, in order) are needed only when
        some policy falls back to the reference evaluator.
        """
        return self.evaluate_coded(frame, as_of, profiles, tax_year).decoded()

    def evaluate_coded(
        self,
        frame: pl.DataFrame,
        as_of: date,
        profiles: Sequence[Profile] | None = None,
        tax_year: int | None = None,
    ) -> CodedResults:
        """`evaluate`, with its repeated values still codes (see `results.CodedResults`): what
        `screen` tallies and writes, without spelling out 40 policies' texts and lists."""
        dates = Dates.of(as_of, tax_year)
        wide, query = self._wide(frame, dates)
        coded = self._long(wide, query)
        if not self.fallback:
            return coded
        order = {p.id: i for i, p in enumerate(self.policy_set.policies)}
        out = pl.concat([coded.decoded(), self._reference(frame, dates, profiles)])
        out = out.sort(
            pl.col(ROW), pl.col("policy_id").replace_strict(order, return_dtype=pl.Int64)
        )
        return CodedResults.of(out)

    def _wide(self, frame: pl.DataFrame, dates: Dates) -> tuple[pl.DataFrame, _Query]:
        """One row per enterprise: row, credit_code, zone, then per vectorised policy i its
        status code `s{i}`, amount `a{i}` and masks of missing `m{i}` and review `v{i}` facts
        (whose fact names are the query's i-th `names`)."""
        query = self._query(frame.schema, dates)
        wide = query.run(frame.lazy()).collect()
        if not wide[ROW].is_sorted():
            wide = wide.sort(ROW, maintain_order=True)
        return wide, query

    def _query(self, schema: pl.Schema, dates: Dates) -> _Query:
        """The expressions of `_wide` for frames of this schema on these dates, built once
        (a register is evaluated batch after batch with the same columns and dates)."""
        key = (tuple(schema.items()), dates)
        query = self._queries.get(key)
        if query is None:
            query = self._build(dict(schema), dates)
            with self._keeping:  # the service evaluates from several threads
                if len(self._queries) >= _QUERIES_KEPT:
                    self._queries.pop(next(iter(self._queries)))
                self._queries[key] = query
        return query

    def _build(self, schema: dict[str, pl.DataType], dates: Dates) -> _Query:
        plan = self.policy_set.plan
        facts = _Facts(plan.facts, schema, dates.basis("application"))
        on = {"application": facts, "tax_year": facts.at(dates.basis("tax_year"))}
        columns = {p.id: _policy(p, on[p.attaches]) for p in self.vectorised}
        amounts = {pid: c.amount for pid, c in columns.items()}
        eligible = {pid: c.status == _CODE[Status.ELIGIBLE] for pid, c in columns.items()}
        for group in plan.groups.values():
            if group.members[0] in self.fallback:
                continue  # a group falls back whole
            stacked = _stacked(group, columns, amounts, eligible)
            amounts.update(
                {pid: facts.put((_STACKED, 0), expr, "p") for pid, expr in stacked.items()}
            )
        ids = [p.id for p in self.vectorised]
        selected = [
            pl.col(ROW),
            facts.column("credit_code", pl.String()).alias("credit_code"),
            facts.column("zone", pl.String()).alias("zone"),
            *[
                expr.alias(f"{key}{i}")
                for i, pid in enumerate(ids)
                for key, expr in (
                    ("s", columns[pid].status),
                    ("a", _narrowed(amounts[pid], columns[pid].size)),
                    ("m", columns[pid].missing.cast(_mask_type(columns[pid].names))),
                    ("v", columns[pid].review.cast(_mask_type(columns[pid].names))),
                )
            ],
        ]
        stages = [facts.stages[level] for level in sorted(facts.stages)]
        return _Query(
            stages, selected, [columns[pid].names for pid in ids], [columns[pid].size for pid in ids]
        )

    def _long(self, wide: pl.DataFrame, query: _Query) -> CodedResults:
        """One row per enterprise × policy, enterprise by enterprise (the frame's order), each
        enterprise's policies in the set's order, from the wide frame of `_wide`: small codes
        (texts as Enums, lists of facts as indexes) laid out enterprise by enterprise."""
        names = query.names
        count, n = len(names), wide.height
        ids = pl.Series("policy_id", [p.id for p in self.vectorised], pl.String)
        kinds = pl.Series("amount_kind", [p.benefit.amount_kind for p in self.vectorised])
        policy_ids, kind_codes = ids.cast(pl.Enum(ids)), kinds.cast(pl.Enum(kinds.unique(maintain_order=True)))
        if count == 0 or n == 0:
            empty = pl.DataFrame(schema=OUTPUT).with_columns(
                pl.col("credit_code", "zone").cast(pl.Enum([])),
                pl.col("policy_id").cast(policy_ids.dtype),
                pl.col("amount_kind").cast(kind_codes.dtype),
                pl.col("missing", "review").cast(pl.UInt16),
            )
            return CodedResults(empty, pl.Series([], dtype=pl.List(pl.String)))
        lists, codes = _decoded(wide, names)
        masks = wide.select(**codes)

        def per_policy(key: str, columns: pl.DataFrame = wide) -> pl.Expr:
            """The policies' `key` columns (integers without nulls) side by side."""
            return pl.lit(_side_by_side(columns.select(f"{key}{i}" for i in range(count))))

        def tiled(values: pl.Series) -> pl.Expr:  # the policies' values, once per enterprise
            row = pl.lit(values.implode().cast(pl.Array(values.dtype, count))).first()
            return pl.repeat(row, n).reshape((-1,)).alias(values.name)

        # Amounts have nulls: each enterprise's side by side as one fixed-size array, then
        # those arrays laid end to end.
        amount = _amount_type(wide, query.sizes)
        amounts = pl.concat_arr(pl.col(f"a{i}").cast(amount) for i in range(count))
        # The enterprise's own columns, each value `count` times: the row numbers (never null)
        # repeated by numpy, the credit code and zone gathered by a shared index (a third of
        # the time of interleaving `count` copies of a column).
        enterprise = pl.Series(np.repeat(np.arange(n, dtype=np.uint32), count))
        rows = pl.Series(ROW, np.repeat(wide[ROW].to_numpy(), count))
        own = [pl.col(c).cast(enum_of(wide[c])).gather(enterprise) for c in ("credit_code", "zone")]
        frame = (
            wide.lazy()
            .select(
                pl.lit(rows),
                *own,
                tiled(policy_ids),
                pl.lit(_STATUSES).gather(per_policy("s")).alias("status"),
                amounts.reshape((-1,)).alias("amount"),
                tiled(kind_codes),
                per_policy("m", masks).alias("missing"),
                per_policy("v", masks).alias("review"),
            )
            .collect()
        )
        return CodedResults(frame, pl.Series(lists, dtype=pl.List(pl.String)))

    def _reference(
        self, frame: pl.DataFrame, dates: Dates, profiles: Sequence[Profile] | None
    ) -> pl.DataFrame:
        if profiles is None or len(profiles) != frame.height:
            raise ValueError("policies that fall back to the reference evaluator need profiles")
        ids = [p.id for p in self.policy_set.policies if p.id in self.fallback]
        data: dict[str, list[Any]] = {name: [] for name in OUTPUT}
        for row, profile in zip(frame[ROW].to_list(), profiles, strict=True):
            report = self.policy_set.evaluate(
                profile, dates.as_of, tax_year=dates.tax_year, policy_ids=ids, gaps=False
            )
            for result in report.results:
                data[ROW].append(row)
                data["credit_code"].append(profile.credit_code)
                data["zone"].append(profile.zone)
                data["policy_id"].append(result.policy_id)
                data["status"].append(result.status.value)
                data["amount"].append(None if result.amount is None else int(result.amount * SCALE))
                data["amount_kind"].append(result.amount_kind)
                data["missing"].append(result.missing)
                data["review"].append(result.review)
        return pl.DataFrame(data, schema=OUTPUT)


OUTPUT: dict[str, pl.DataType] = evaluated_schema(STATUS)  # the result columns: see `results`
