"""The vectorised back end: the compiled policy AST turned into Polars expressions that evaluate a
whole register (one row per enterprise) at once, three-valued, with exact amounts.

Semantics are those of `PolicySet.evaluate` (the reference), column by column:

- a fact is a column that is null when the reference would return `Missing`, plus a column that
  says whether that unknown needs an expert (`review`);
- quantities are exact integers in millionths of their unit (`Int128`); a ratio is kept as a
  numerator and a positive denominator and compared by cross-multiplication, so `3%` is exactly
  3%; amounts are rounded half-up to the fen in integer arithmetic, never through `float`;
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from ..compile.benefits import CompiledBenefit, _CompiledBand, compile_band
from ..compile.conditions import CLeaf, CNode, DateBound
from ..model.facts import (
    FactDef,
    FactType,
    _duration,
    dependencies,
)
from ..model.language import AllOf, AnyOf, NotOf
from ..model.profile import CLASS_I_KINDS, CLASS_II_KINDS, Profile
from ..model.units import Unit, parse_quantity, shift_date
from ..model.zones import NATIONAL, Zones
from ..policyset import PolicySet
from ..reference.evaluate import CompiledPolicy
from ..reference.results import Status
from .columns import (
    QUANTITY,
    ROW,
    SCALARS,
    SCALE,
)
from .results import evaluated_schema

STATUS = pl.Enum([s.value for s in Status])
# Statuses are computed as small integer codes (cheap to compare, select and reshape) and
# become the `STATUS` enum once, in the long result.
_CODE = {s: i for i, s in enumerate(Status)}
_STATUSES = pl.Series([s.value for s in Status], dtype=STATUS)  # by code
FALSE_, UNKNOWN_, TRUE_ = 0, 1, 2
_PER_UNIT = {Unit.YUAN_PER_TONNE, Unit.YUAN_PER_SQUARE_METRE}
_DURATION = {Unit.YEAR: "y", Unit.MONTH: "mo", Unit.DAY: "d"}


Stage = tuple[int, int]
_FACT, _NODE, _POLICY, _STACKED = range(4)


class Unsupported(Exception):
    """A construct the vectorised compiler does not translate; the reference evaluates it."""


# Literals are built once: `pl.lit` with a dtype builds a Series each time, and a policy set
# uses thousands of them.
@functools.lru_cache(maxsize=4096)
def _int(value: int) -> pl.Expr:
    return pl.lit(value, dtype=pl.Int128)


@functools.lru_cache(maxsize=256)
def _lit(value: Any, dtype: type[pl.DataType]) -> pl.Expr:
    return pl.lit(value, dtype=dtype)


_NO, _YES = pl.lit(False), pl.lit(True)
_NO_AMOUNT = pl.lit(None, dtype=pl.Int128)


def _ratio(value: Decimal) -> tuple[int, int]:
    top, bottom = value.as_integer_ratio()
    return top, bottom


@dataclass(frozen=True)
class Fact:
    """A fact as columns: `value` is null exactly when the reference gives `Missing`.

    Quantities are `num / den` with `den > 0`; `den` is None for a plain quantity in millionths.
    """

    defn: FactDef
    value: pl.Expr
    review: pl.Expr
    den: pl.Expr | None = None

    @property
    def missing(self) -> pl.Expr:
        return self.value.is_null()

    def compare(self, op: str, bound: Decimal) -> pl.Expr:
        """`value op bound`, exactly."""
        top, bottom = _ratio(bound)
        left = self.value * _int(bottom)
        right = _int(top * SCALE) if self.den is None else _int(top) * self.den
        return _compare(op, left, right)


class _Facts:
    """Fact columns over one frame for one evaluation date, built on first use."""

    def __init__(
        self, facts: Mapping[str, FactDef], columns: Mapping[str, pl.DataType], as_of: date
    ):
        self.facts = facts
        self.columns = columns
        self.as_of = as_of
        self.last_year = as_of.year - 1
        self._built: dict[str, Fact] = {}
        self._depth: dict[str, int] = {}
        # Columns computed in order, each stage from the columns of earlier stages: plans stay
        # small however often a fact or a node is used. A stage is (phase, depth): facts by
        # formula depth, then condition nodes by height, then policies, then stacking.
        self.stages: dict[Stage, dict[str, pl.Expr]] = {}
        self._count = 0

    def put(self, stage: Stage, expr: pl.Expr, prefix: str = "t") -> pl.Expr:
        self._count += 1
        name = f"__{prefix}{self._count}"
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
            raw = self._build(defn)  # builds the facts it is computed from first
            depth = 1 + max((self._depth[d] for d in dependencies(defn)), default=-1)
            self._depth[name] = depth
            stage = (_FACT, depth)
            self._built[name] = Fact(
                raw.defn,
                self.put(stage, raw.value, "f"),
                self.put(stage, raw.review, "r"),
                None if raw.den is None else self.put(stage, raw.den, "d"),
            )
        return self._built[name]

    def _build(self, defn: FactDef) -> Fact:
        kind = defn.source_kind
        judged = pl.lit(defn.judgement)
        no = _NO
        if kind in ("field", "profile_fact"):
            name = str(defn.field) if kind == "field" else f"facts.{defn.profile_fact}"
            if kind == "field" and name not in SCALARS:
                raise Unsupported(f"fact {defn.id!r} reads {name!r}, which is not a scalar field")
            return Fact(defn, self.column(name, _dtype(defn)), judged)
        if defn.type is not FactType.QUANTITY and kind in ("financial", "sum_years", "growth"):
            raise Unsupported(f"fact {defn.id!r}: a financial line must be a quantity")
        if kind == "financial":
            year = self.last_year - defn.year
            return Fact(defn, self._financial(year, str(defn.financial)), judged)
        if kind == "sum_years":
            assert defn.sum_years is not None
            return Fact(defn, self._sum_years(defn.sum_years.financial, defn.sum_years.years), no)
        if kind == "growth":
            assert defn.growth is not None
            line = defn.growth.financial
            current = self._financial(self.last_year, line)
            previous = self._financial(self.last_year - 1, line)
            ok = previous != 0
            sign = pl.when(previous < 0).then(_int(-1)).otherwise(_int(1))
            num = pl.when(ok).then((current - previous) * sign)
            den = pl.when(ok & current.is_not_null()).then(previous * sign)
            return Fact(defn, num, no, den)
        if kind == "ratio":
            return self._ratio_fact(defn)
        if kind == "ip_count":
            return Fact(defn, self._ip_count(defn), no)
        if kind == "certified":
            return Fact(defn, self._certified(defn), no)
        if kind == "records":
            return Fact(defn, self._records(defn), no)
        if defn.type is not FactType.QUANTITY:
            raise Unsupported(f"fact {defn.id!r}: a {kind} formula must be a quantity")
        if kind == "points":
            return self._points(defn)
        return self._combined(defn)

    def _financial(self, year: int, line: str) -> pl.Expr:
        return self.column(f"financials.{year}.{line}", QUANTITY())

    def _sum_years(self, line: str, years: int) -> pl.Expr:
        # 实际经营期不满N年的按实际经营时间计算: years before registration do not count.
        registered = self.column("registration_date", pl.Date()).dt.year()
        total: pl.Expr = _int(0)
        gaps: pl.Expr = _NO
        counted: pl.Expr = _NO
        for year in range(self.last_year - years + 1, self.last_year + 1):
            value = self._financial(year, line)
            included = registered.is_null() | (registered <= year)
            total = total + pl.when(included).then(value).otherwise(_int(0)).fill_null(_int(0))
            gaps = gaps | (included & value.is_null())
            counted = counted | included
        return pl.when(~gaps & counted).then(total)

    def _ratio_fact(self, defn: FactDef) -> Fact:
        assert defn.ratio is not None
        parts = [self.get(name) for name in defn.ratio]
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
        review = (
            pl.when(top.missing & bottom.missing)
            .then(top.review & bottom.review)
            .when(top.missing)
            .then(top.review)
            .when(bottom.missing)
            .then(bottom.review)
            .otherwise(_NO)
        )
        return Fact(defn, num, review, den)

    def _points(self, defn: FactDef) -> Fact:
        """`reference.context._points`: unknown as its `by` fact is, else the first band that holds."""
        spec = defn.points
        assert spec is not None
        by = self.get(spec.by)
        if by.defn.type is not FactType.QUANTITY:
            raise Unsupported(f"fact {defn.id!r} scores {by.defn.id!r}, which is not a quantity")
        score: Any = pl.when(by.missing).then(_NO_AMOUNT)
        for band in spec.bands:
            holds: pl.Expr = _YES
            for op, bound in zip(("ge", "gt", "le", "lt"), band.bounds(), strict=True):
                if bound is not None:
                    holds = holds & by.compare(op, bound)
            score = score.when(holds).then(_int(_micro(Decimal(band.points), "points")))
        return Fact(defn, score.otherwise(_int(0)), by.review)

    def _combined(self, defn: FactDef) -> Fact:
        """`reference.context._combine`: unknown when any part is (even a `max_of` whose known parts
        already beat it: the reference does not decide early), else the sum or the largest."""
        names = defn.sum_of or defn.max_of
        assert names is not None
        parts = [self.get(name) for name in names]
        for part in parts:
            if part.defn.type is not FactType.QUANTITY or part.den is not None:
                raise Unsupported(
                    f"fact {defn.id!r} combines {part.defn.id!r}, which is not a plain quantity"
                )
        if defn.sum_of is not None:
            value = pl.sum_horizontal([p.value for p in parts], ignore_nulls=False)
        else:
            # max_horizontal skips nulls; an unknown part must make the maximum unknown.
            known = pl.all_horizontal([p.value.is_not_null() for p in parts])
            value = pl.when(known).then(pl.max_horizontal([p.value for p in parts]))
        # `_merge`: the unknown needs an expert only if every unknown part does.
        review = pl.all_horizontal([p.value.is_not_null() | p.review for p in parts])
        return Fact(defn, value, review)

    def _ip_count(self, defn: FactDef) -> pl.Expr:
        spec = defn.ip_count
        assert spec is not None
        kinds = sorted(
            frozenset().union(
                *(CLASS_I_KINDS if c == "I" else CLASS_II_KINDS for c in spec.classes)
            )
        )
        item = pl.element().struct
        chosen = item.field("kind").is_in(kinds)
        if spec.acquisition is not None:
            chosen = chosen & item.field("acquisition").is_in(list(spec.acquisition))
        items = self.column("intellectual_property", _list("intellectual_property"))
        counted = chosen
        if spec.main_product is not None:
            counted = chosen & (item.field("main_product") == spec.main_product)
        total = items.list.eval(
            pl.when(counted).then(item.field("count")).otherwise(_lit(0, pl.Int64))
        ).list.sum()
        value = total.cast(pl.Int128) * _int(SCALE)
        if spec.main_product is None:
            return value
        unsure = items.list.eval(chosen & item.field("main_product").is_null()).list.any()
        return pl.when(~unsure).then(value)

    def _certified(self, defn: FactDef) -> pl.Expr:
        spec = defn.certified
        assert spec is not None
        item = pl.element().struct
        issued, expires = item.field("issued"), item.field("expires")
        as_of = pl.lit(self.as_of)
        if spec.validity is None:
            open_ended: pl.Expr = _YES
        else:
            amount, unit = _duration(spec.validity)
            open_ended = issued.dt.offset_by(f"{amount}{_DURATION[unit]}") > as_of
        valid = (
            (item.field("kind") == spec.kind)
            & (issued <= as_of)
            & pl.when(expires.is_not_null()).then(expires >= as_of).otherwise(open_ended)
        )
        items = self.column("certifications", _list("certifications"))
        return items.list.eval(valid).list.any()

    def _records(self, defn: FactDef) -> pl.Expr:
        spec = defn.records
        assert spec is not None
        amount, unit = _duration(spec.within)
        start = pl.lit(shift_date(self.as_of, -amount, unit))
        item = pl.element().struct
        occurred = item.field("occurred")
        hit = (
            item.field("kind").is_in(list(spec.kinds))
            & item.field("severity").is_in(list(spec.severities))
            & (occurred > start)
            & (occurred <= pl.lit(self.as_of))
        )
        items = self.column("compliance.records", _list("compliance.records"))
        count = items.list.eval(hit.cast(pl.Int64)).list.sum()
        return count.cast(pl.Int128) * _int(SCALE)


def _dtype(defn: FactDef) -> pl.DataType:
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


def _condition(node: CNode, facts: _Facts) -> _Node:
    if isinstance(node, CLeaf):
        fact = facts.get(node.fact_def.id)
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
    if isinstance(node.node, AllOf):
        truth = pl.min_horizontal([c.truth for c in children])
    elif isinstance(node.node, AnyOf):
        truth = pl.max_horizontal([c.truth for c in children])
    else:
        assert isinstance(node.node, NotOf)
        truth = _lit(TRUE_, pl.UInt8) - children[0].truth
    return _Node(facts.put((_NODE, height), truth), children, height=height)


def _test(leaf: CLeaf, fact: Fact, as_of: date) -> pl.Expr:
    op, operand, kind = leaf.op, leaf.operand, leaf.fact_def.type
    value = fact.value
    if kind is FactType.QUANTITY:
        if op == "between":
            low, high = operand
            return fact.compare("ge", low) & fact.compare("le", high)
        if op in ("in", "not_in"):
            hits = [fact.compare("eq", item) for item in sorted(operand)]
            found = pl.any_horizontal(hits)
            return found if op == "in" else ~found
        return fact.compare(op, operand)
    if kind is FactType.DATE:
        if op == "within":
            assert isinstance(operand, DateBound)
            return (value > pl.lit(operand.resolve(as_of))) & (value <= pl.lit(as_of))
        if op == "between":
            low, high = (pl.lit(b.resolve(as_of)) for b in operand)
            return (value >= low) & (value <= high)
        return _compare(op, value, pl.lit(operand.resolve(as_of)))
    if kind is FactType.CODES:
        return value.list.contains(pl.lit(operand))
    if op in ("in", "not_in"):
        found = value.is_in(sorted(operand))
        return found if op == "in" else ~found
    if op == "prefix_in":
        upper = value.str.to_uppercase()
        return pl.any_horizontal([upper.str.starts_with(p) for p in operand])
    return _compare(op, value, pl.lit(operand))


def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    return {
        "eq": left == right,
        "ne": left != right,
        "lt": left < right,
        "le": left <= right,
        "gt": left > right,
        "ge": left >= right,
    }[op]


def _reported(node: _Node, under: pl.Expr, into: dict[str, list[pl.Expr]]) -> None:
    """Collect, per fact, when one of its leaves is reported by `unknown_leaves`."""
    here = under & (node.truth == UNKNOWN_)
    if node.fact is not None:
        into.setdefault(node.fact.defn.id, []).append(here)
    for child in node.children:
        _reported(child, here, into)


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


def _rate_amount(base: Fact, rate: Decimal) -> pl.Expr:
    """round_half_up(max(base, 0) × rate, fen), in millionths of a yuan."""
    top, bottom = _ratio(rate)
    positive = pl.when(base.value < 0).then(_int(0)).otherwise(base.value)
    cents = (positive * _int(2 * top * 100) + _int(bottom * SCALE)) // _int(2 * bottom * SCALE)
    return cents * _int(SCALE // 100)


@dataclass(frozen=True)
class _Amount:
    value: pl.Expr  # null when unknown (or for a service)
    missing: pl.Expr  # the amount could not be computed
    review: pl.Expr  # …because of an unknown that needs an expert
    facts: tuple[Fact, ...]


def _amount(benefit: CompiledBenefit, facts: _Facts) -> _Amount:
    spec = benefit.benefit
    kind = spec.kind
    no = _NO
    if kind == "service":
        return _Amount(_NO_AMOUNT, no, no, ())
    if kind == "grant":
        assert spec.grant is not None
        fixed = parse_quantity(spec.grant.amount).value
        value = _int(_micro(fixed, "grant"))
        return _capped(_Amount(value, no, no, ()), benefit)
    if kind == "tiers":
        return _capped(_tiers(benefit, facts), benefit)
    base = _plain(facts.get(benefit.facts[0]), "base")
    if kind == "rate_of":
        assert spec.rate_of is not None
        rate = parse_quantity(spec.rate_of.rate).value
    elif kind == "per_unit":
        assert spec.per_unit is not None
        quantity = parse_quantity(spec.per_unit.rate)
        assert quantity.unit in _PER_UNIT
        rate = quantity.value
    elif kind == "tax_rate":
        assert spec.tax_rate is not None
        rate = (
            parse_quantity(spec.tax_rate.standard).value - parse_quantity(spec.tax_rate.rate).value
        )
    else:
        assert spec.deduction is not None
        rate = parse_quantity(spec.deduction.rate).value
    amount = _Amount(_rate_amount(base, rate), base.missing, base.review, (base,))
    return _capped(amount, benefit)


def _tiers(benefit: CompiledBenefit, facts: _Facts) -> _Amount:
    spec = benefit.benefit.tiers
    assert spec is not None
    by = facts.get(spec.by)
    bands = [compile_band(b, by.defn, ()) for b in spec.bands]
    base = None if spec.base is None else _plain(facts.get(spec.base), "base")
    value: Any = pl
    missing: Any = pl
    review: Any = pl
    for band in bands:
        holds = _band_holds(band, by)
        if band.amount is not None:
            paid, lacking, judged = (
                _int(_micro(band.amount, "tier amount")),
                _NO,
                _NO,
            )
        else:
            assert base is not None and band.rate is not None
            paid, lacking, judged = _rate_amount(base, band.rate), base.missing, base.review
        value = value.when(holds).then(paid)
        missing = missing.when(holds).then(lacking)
        review = review.when(holds).then(judged)
    value = value.otherwise(_int(0))
    missing = missing.otherwise(_NO)
    review = review.otherwise(_NO)
    used = (by,) if base is None else (by, base)
    return _Amount(
        pl.when(by.missing).then(_NO_AMOUNT).otherwise(value),
        by.missing | missing,
        pl.when(by.missing).then(by.review).otherwise(review),
        used,
    )


def _band_holds(band: _CompiledBand, by: Fact) -> pl.Expr:
    holds: pl.Expr = _YES
    if band.low is not None:
        holds = holds & by.compare("ge" if band.low_inclusive else "gt", band.low)
    if band.high is not None:
        holds = holds & by.compare("le" if band.high_inclusive else "lt", band.high)
    return holds


def _capped(amount: _Amount, benefit: CompiledBenefit) -> _Amount:
    if benefit.cap is None:
        return amount
    cap = _int(_micro(benefit.cap, "cap"))
    value = pl.when(amount.value > cap).then(cap).otherwise(amount.value)
    return _Amount(value, amount.missing, amount.review, amount.facts)


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


def _code(status: Status) -> pl.Expr:
    return _lit(_CODE[status], pl.UInt8)


_MASK = pl.UInt64
_MASK_BITS = 64


def _mask(flags: list[pl.Expr]) -> pl.Expr:
    if not flags:
        return _lit(0, _MASK)
    return pl.sum_horizontal(
        [
            pl.when(flag).then(_lit(1 << bit, _MASK)).otherwise(_lit(0, _MASK))
            for bit, flag in enumerate(flags)
        ]
    )


def _policy(cp: CompiledPolicy, facts: _Facts, zones_within: frozenset[str]) -> _PolicyColumns:
    as_of = facts.as_of
    if not cp.effective.covers(as_of):
        status = _code(Status.NOT_IN_FORCE)
        none = _lit(0, _MASK)
        return _PolicyColumns(status, _NO_AMOUNT, (), none, none)
    zone = facts.column("zone", pl.String())
    if NATIONAL in cp.zones:
        outside: pl.Expr = _NO
        zone_unknown: pl.Expr = _NO
    else:
        outside = zone.is_not_null() & ~zone.is_in(sorted(zones_within))
        zone_unknown = zone.is_null()

    roots = ([cp.when] if cp.when is not None else []) + list(cp.unless)
    compiled = [_condition(node, facts) for node in roots]
    parts = []
    if cp.when is not None:
        parts.append(compiled[0].truth)
    parts += [_lit(TRUE_, pl.UInt8) - c.truth for c in compiled[1 if cp.when else 0 :]]
    decided = pl.min_horizontal(parts) if parts else _lit(TRUE_, pl.UInt8)
    # Without the zone nothing is decided: a zone elsewhere would make it not_in_force.
    truth = pl.when(zone_unknown).then(_lit(UNKNOWN_, pl.UInt8)).otherwise(decided)

    amount = _amount(cp.benefit, facts)
    eligible = ~outside & (truth == TRUE_)
    unknown = ~outside & (truth == UNKNOWN_)

    reported: dict[str, list[pl.Expr]] = {}
    for node in compiled:
        _reported(node, unknown, reported)
    asked: dict[str, tuple[pl.Expr, pl.Expr]] = {}  # fact → (in the list, needs review)
    for fact_id, flags in reported.items():
        asked[fact_id] = (pl.any_horizontal(flags), facts.get(fact_id).review)
    found, review = asked.get("zone", (_NO, _NO))
    asked["zone"] = (found | (unknown & zone_unknown), review)
    for fact in amount.facts:
        when_eligible = eligible & amount.missing & fact.missing
        found, review = asked.get(fact.defn.id, (_NO, _NO))
        asked[fact.defn.id] = (
            found | when_eligible,
            pl.when(when_eligible).then(amount.review).otherwise(review),
        )
    ordered = sorted(asked.items())
    if len(ordered) > _MASK_BITS:
        raise Unsupported(f"more than {_MASK_BITS} facts could be missing")
    needs_data = pl.any_horizontal([found & ~review for _, (found, review) in ordered])
    missing = _mask([found & ~review for _, (found, review) in ordered])
    review_list = _mask([found & review for _, (found, review) in ordered])
    status = (
        pl.when(outside)
        .then(_code(Status.NOT_IN_FORCE))
        .when(truth == TRUE_)
        .then(_code(Status.ELIGIBLE))
        .when(truth == FALSE_)
        .then(_code(Status.INELIGIBLE))
        .when(needs_data)
        .then(_code(Status.UNDETERMINED))
        .otherwise(_code(Status.NEEDS_REVIEW))
    )
    value = pl.when(eligible).then(amount.value).otherwise(_NO_AMOUNT)
    return _PolicyColumns(
        facts.put((_POLICY, 0), status, "s"),
        facts.put((_POLICY, 0), value, "a"),
        tuple(name for name, _ in ordered),
        facts.put((_POLICY, 0), missing, "m"),
        facts.put((_POLICY, 0), review_list, "v"),
    )


# --- the set ---------------------------------------------------------------------------------


def _stacked(
    members: list[CompiledPolicy], amounts: dict[str, pl.Expr], eligible: dict[str, pl.Expr]
) -> dict[str, pl.Expr]:
    """`evaluate.apply_stacking` for one group, column-wise: the amounts after stacking."""
    stacking = members[0].stacking
    assert stacking is not None
    cap = None if stacking.cap is None else _micro(parse_quantity(stacking.cap).value, "group cap")
    ids = sorted(p.id for p in members)
    counts = {pid: eligible[pid] & amounts[pid].is_not_null() for pid in ids}
    out: dict[str, pl.Expr] = {}
    for pid in ids:
        mine = amounts[pid]
        ahead = [
            counts[other] & ((amounts[other] > mine) | ((amounts[other] == mine) & (other < pid)))
            for other in ids
            if other != pid
        ]
        if stacking.exclusive:
            loses = pl.any_horizontal(ahead) if ahead else _NO
            paid = pl.when(counts[pid] & loses).then(_int(0)).otherwise(mine)
            if cap is not None:
                paid = pl.when(paid > _int(cap)).then(_int(cap)).otherwise(paid)
        elif cap is not None:
            before = (
                pl.sum_horizontal(
                    [
                        pl.when(flag).then(amounts[o]).otherwise(_int(0))
                        for flag, o in zip(ahead, [o for o in ids if o != pid], strict=True)
                    ]
                )
                if ahead
                else _int(0)
            )
            left = pl.when(_int(cap) > before).then(_int(cap) - before).otherwise(_int(0))
            paid = pl.when(counts[pid] & (mine > left)).then(left).otherwise(mine)
        else:
            paid = mine
        out[pid] = paid
    return out


class VectorisedSet:
    """A `PolicySet` compiled to Polars expressions; evaluates frames built by `columns`."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        probe = _Facts(policy_set.facts, {}, date(2026, 1, 1))
        reasons: dict[str, str] = {}
        for cp in policy_set.policies:
            try:  # translate every part once, whatever the date, to find what is unsupported
                for node in ([cp.when] if cp.when is not None else []) + list(cp.unless):
                    _condition(node, probe)
                _amount(cp.benefit, probe)
            except Unsupported as exc:
                reasons[cp.id] = str(exc)
        groups: dict[str, list[str]] = {}
        for cp in policy_set.policies:
            if cp.stacking is not None:
                groups.setdefault(cp.stacking.group, []).append(cp.id)
        for members in groups.values():
            broken = [m for m in members if m in reasons]
            for member in members:
                if member not in reasons and broken:
                    reasons[member] = f"shares stacking group with {broken[0]}"
        self.fallback: dict[str, str] = reasons  # policy id → why the reference evaluates it
        self.vectorised = tuple(cp for cp in policy_set.policies if cp.id not in reasons)
        zones = Zones(dict(policy_set.zones))
        chains = {z: zones.chain(z) for z in policy_set.zones}
        self._within = {
            cp.id: frozenset(z for z, chain in chains.items() if not cp.zones.isdisjoint(chain))
            for cp in policy_set.policies
        }

    def fact_frame(self, frame: pl.DataFrame, as_of: date, fact_ids: Sequence[str]) -> pl.DataFrame:
        """The named facts as the compiler computes them, to check them against the reference:
        per fact `id` (null when unknown; Int128 millionths, or a numerator), `id.den` (a
        ratio's denominator, else null) and `id.review`."""
        facts = _Facts(self.policy_set.facts, dict(frame.schema), as_of)
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
        self, frame: pl.DataFrame, as_of: date, profiles: Sequence[Profile] | None = None
    ) -> pl.DataFrame:
        """One row per enterprise × policy: row, credit_code, zone, policy_id, status, amount
        (Int128 millionths of a yuan), amount_kind, missing, review; ordered by row, then by
        the policies' order in the set.

        `profiles` (the validated profiles of the frame's rows, in order) are needed only when
        some policy falls back to the reference evaluator.
        """
        facts = _Facts(self.policy_set.facts, dict(frame.schema), as_of)
        columns = {cp.id: _policy(cp, facts, self._within[cp.id]) for cp in self.vectorised}
        amounts = {pid: c.amount for pid, c in columns.items()}
        eligible = {pid: c.status == _CODE[Status.ELIGIBLE] for pid, c in columns.items()}
        groups: dict[str, list[CompiledPolicy]] = {}
        for cp in self.vectorised:
            if cp.stacking is not None:
                groups.setdefault(cp.stacking.group, []).append(cp)
        for members in groups.values():
            stacked = _stacked(members, amounts, eligible)
            amounts.update(
                {pid: facts.put((_STACKED, 0), expr, "p") for pid, expr in stacked.items()}
            )
        ids = [cp.id for cp in self.vectorised]
        wide = (
            facts.run(frame.lazy())
            .select(
                pl.col(ROW),
                facts.column("credit_code", pl.String()).alias("credit_code"),
                facts.column("zone", pl.String()).alias("zone"),
                *[
                    expr.alias(f"{key}{i}")
                    for i, pid in enumerate(ids)
                    for key, expr in (
                        ("s", columns[pid].status),
                        ("a", amounts[pid]),
                        ("m", columns[pid].missing),
                        ("v", columns[pid].review),
                    )
                ],
            )
            .collect()
        )
        if not wide[ROW].is_sorted():
            wide = wide.sort(ROW, maintain_order=True)
        out = self._long(wide, [columns[pid].names for pid in ids])
        if not self.fallback:
            return out
        order = {cp.id: i for i, cp in enumerate(self.policy_set.policies)}
        out = pl.concat([out, self._reference(frame, as_of, profiles)], how="vertical")
        return out.sort(
            pl.col(ROW), pl.col("policy_id").replace_strict(order, return_dtype=pl.Int64)
        )

    def _long(self, wide: pl.DataFrame, names: list[tuple[str, ...]]) -> pl.DataFrame:
        """One row per enterprise × policy, enterprise by enterprise (the frame's order), each
        enterprise's policies in the set's order, from the wide frame of `evaluate`."""
        count, n = len(names), wide.height
        if count == 0 or n == 0:
            return pl.DataFrame(schema=OUTPUT)
        # Each distinct mask of a policy becomes a list once; rows hold its index in `lists`,
        # found by binary search among the policy's sorted masks.
        masks = [(f"{key}{i}", listed) for i, listed in enumerate(names) for key in ("m", "v")]
        distinct = wide.select(pl.col(name).unique().sort().implode() for name, _ in masks).row(0)
        lists: list[list[str]] = []
        codes: dict[str, pl.Series] = {}
        for (name, listed), found in zip(masks, distinct, strict=True):
            offset = len(lists)
            lists += [[fact for bit, fact in enumerate(listed) if m >> bit & 1] for m in found]
            # Eager: a lazy query with a literal per policy costs more to plan than to run.
            codes[name] = pl.Series(found, dtype=_MASK).search_sorted(wide[name]) + offset
        # Policy by policy, one after the other; gathered below into enterprise-major order
        # (a gather costs far less than sorting, or than building a list in every row).
        stacked = pl.DataFrame(
            {
                "status": pl.concat([wide[f"s{i}"] for i in range(count)]),
                "amount": pl.concat([wide[f"a{i}"] for i in range(count)]),
                "missing": pl.concat([codes[f"m{i}"] for i in range(count)]),
                "review": pl.concat([codes[f"v{i}"] for i in range(count)]),
            }
        )
        index = pl.UInt32 if n * count < 2**32 else pl.UInt64
        k = pl.int_range(pl.len(), dtype=index)
        enterprise, policy, source = pl.col("__e"), pl.col("__p"), pl.col("__s")
        table = pl.Series(lists, dtype=pl.List(pl.String))
        kinds = [cp.benefit.kind for cp in self.vectorised]
        return (
            stacked.lazy()
            .with_columns(__e=k // count, __p=k % count)
            .with_columns(__s=policy * n + enterprise)
            .select(
                *[pl.lit(wide[name]).gather(enterprise) for name in (ROW, "credit_code", "zone")],
                pl.lit(pl.Series("policy_id", [cp.id for cp in self.vectorised])).gather(policy),
                pl.lit(_STATUSES).gather(pl.col("status").gather(source)).alias("status"),
                pl.col("amount").gather(source),
                pl.lit(pl.Series("amount_kind", kinds, pl.String)).gather(policy),
                pl.lit(table).gather(pl.col("missing").gather(source)).alias("missing"),
                pl.lit(table).gather(pl.col("review").gather(source)).alias("review"),
            )
            .collect()
        )

    def _reference(
        self, frame: pl.DataFrame, as_of: date, profiles: Sequence[Profile] | None
    ) -> pl.DataFrame:
        if profiles is None or len(profiles) != frame.height:
            raise ValueError("policies that fall back to the reference evaluator need profiles")
        ids = [cp.id for cp in self.policy_set.policies if cp.id in self.fallback]
        data: dict[str, list[Any]] = {name: [] for name in OUTPUT}
        for row, profile in zip(frame[ROW].to_list(), profiles, strict=True):
            report = self.policy_set.evaluate(profile, as_of, policy_ids=ids, gaps=False)
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
