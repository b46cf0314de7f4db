"""Condition trees → plan nodes (`plan.Group`, `plan.Comparison`), with every problem of
meaning collected: an unknown fact, a unit that does not match the fact's, an operator that does
not fit the fact's type, a bound that cannot be read. Each problem carries its path so the
loader can report file, line and field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ..model.facts import FactType
from ..model.industry import normalise_industry_code
from ..model.language import (
    COMPARISONS,
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    NotOf,
)
from ..model.units import (
    Quantity,
    Unit,
    UnitError,
    parse_quantity,
)
from .facts import suggest
from .plan import Comparison, DateBound, FactPlan, FieldSource, Group, Node, Path, Where

Placer = Callable[[Path], Where]  # where a path of the document is written

_OPS_BY_TYPE: dict[FactType, frozenset[str]] = {
    FactType.QUANTITY: frozenset({*COMPARISONS, "between", "in", "not_in"}),
    FactType.DATE: frozenset({*COMPARISONS, "between", "within"}),
    FactType.BOOL: frozenset({"eq", "ne"}),
    FactType.CODE: frozenset({"eq", "ne", "in", "not_in", "prefix_in"}),
    FactType.CODES: frozenset({"contains"}),
}


class CompileError(ValueError):
    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class RefusedFact(CompileError):
    """A fact that is declared but refused: its own problems are reported, naming it adds none."""


Facts = Mapping[str, FactPlan | None]  # None: declared, but refused


def fact_plan(facts: Facts, name: str, path: Path) -> FactPlan | None:
    """The plan of a fact named at `path`; None when no fact has that name."""
    if name in facts and facts[name] is None:
        raise RefusedFact(name, path)
    return facts.get(name)


def _wording(node: AllOf | AnyOf | NotOf | Leaf, at: Placer, path: Path) -> dict[str, Any]:
    return {
        "label": node.label,
        "label_en": node.label_en,
        "article": node.article,
        "provenance": None if node.provenance is None else node.provenance.value,
        "note": node.note,
        "where": at(path),
    }


def plan_condition(
    node: Condition,
    facts: Facts,
    path: Path,
    errors: list[CompileError],
    at: Placer,
) -> Node:
    """The plan of a tree; every problem is appended to `errors` (a tree with errors must not
    be used)."""
    if isinstance(node, Leaf):
        try:
            return _comparison(node, facts, path, at)
        except CompileError as exc:
            errors.append(exc)
            return Group(kind="all", children=(), **_wording(node, at, path))
    kind: Literal["all", "any", "not"]
    if isinstance(node, NotOf):
        kind, parts = "not", [(node.not_, (*path, "not"))]
    elif isinstance(node, AllOf):
        kind, parts = "all", [(part, (*path, "all", i)) for i, part in enumerate(node.all)]
    else:
        kind, parts = "any", [(part, (*path, "any", i)) for i, part in enumerate(node.any)]
    children = tuple(plan_condition(part, facts, where, errors, at) for part, where in parts)
    return Group(kind=kind, children=children, **_wording(node, at, path))


def _comparison(leaf: Leaf, facts: Facts, path: Path, at: Placer) -> Comparison:
    defn = fact_plan(facts, leaf.fact, (*path, "fact"))
    if defn is None:
        raise CompileError(
            f"unknown fact {leaf.fact!r}{suggest(leaf.fact, facts)}", (*path, "fact")
        )
    op = leaf.op
    op_path = (*path, "in" if op == "in" else op)
    if op not in _OPS_BY_TYPE[defn.type]:
        allowed = ", ".join(sorted(_OPS_BY_TYPE[defn.type]))
        raise CompileError(
            f"operator {op!r} does not apply to {defn.type.value} fact {defn.id!r} (use {allowed})",
            op_path,
        )
    operand = _operand(defn, op, leaf.operand, op_path)
    if industry_fact(defn):
        operand = _industry_codes(operand, leaf.operand, op_path)
    return Comparison(
        fact=defn.id, op=op, operand=operand, written=leaf.operand, **_wording(leaf, at, path)
    )


def industry_fact(defn: FactPlan) -> bool:
    """A fact holding the profile's GB/T 4754 industry code (normalised when read)."""
    return isinstance(defn.source, FieldSource) and defn.source.path == ("industry_code",)


def _industry_codes(operand: Any, raw: Any, path: Path) -> Any:
    """Industry codes in a rule, normalised as a profile's are (`4210` → `C4210`), so that they
    can match; a code that cannot be one (division 51 in section C) is refused."""

    def one(code: str, at: Path) -> str:
        try:
            return normalise_industry_code(code)
        except ValueError as exc:
            raise CompileError(str(exc), at) from None

    if isinstance(operand, frozenset):
        return frozenset(one(str(code), (*path, i)) for i, code in enumerate(raw))
    if isinstance(operand, tuple):
        return tuple(one(str(code), (*path, i)) for i, code in enumerate(raw))
    return one(operand, path) if isinstance(operand, str) else operand


def _operand(defn: FactPlan, op: str, raw: Any, path: Path) -> Any:
    if op in ("in", "not_in"):
        return frozenset(_scalar(defn, item, (*path, i)) for i, item in enumerate(raw))
    if op == "between":
        low, high = (_scalar(defn, item, (*path, i)) for i, item in enumerate(raw))
        low_key = low.resolve(date(2000, 1, 1)) if isinstance(low, DateBound) else low
        high_key = high.resolve(date(2000, 1, 1)) if isinstance(high, DateBound) else high
        if low_key > high_key:
            raise CompileError(f"between: lower bound {raw[0]} is above upper bound {raw[1]}", path)
        return (low, high)
    if op == "prefix_in":
        return tuple(str(item).upper() for item in raw)
    if op == "contains":
        return str(raw)
    if op == "within":
        amount, unit = _duration(raw, path)
        if amount <= 0:
            raise CompileError(f"within needs a positive period, got {raw!r}", path)
        return DateBound(amount=-amount, unit=unit)
    return _scalar(defn, raw, path)


def _duration(raw: Any, path: Path) -> tuple[int, Unit]:
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise CompileError(str(exc), path) from None
    if not quantity.unit.is_duration or quantity.value != int(quantity.value):
        raise CompileError(
            f"expected a whole number of years, months or days (e.g. '-1年'), got {raw!r}", path
        )
    return int(quantity.value), quantity.unit


def _scalar(defn: FactPlan, raw: Any, path: Path) -> Any:
    kind = defn.type
    if kind is FactType.BOOL:
        if not isinstance(raw, bool):
            raise CompileError(
                f"fact {defn.id!r} is true/false; compare it with true or false", path
            )
        return raw
    if kind is FactType.DATE:
        if isinstance(raw, date):
            return DateBound(fixed=raw)
        amount, unit = _duration(raw, path)
        return DateBound(amount=amount, unit=unit)
    if kind in (FactType.CODE, FactType.CODES):
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise CompileError(f"fact {defn.id!r} is a code; compare it with text", path)
        return str(raw)
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise CompileError(str(exc), path) from None
    return _check_unit(defn, quantity, raw, path)


def _check_unit(defn: FactPlan, quantity: Quantity, raw: Any, path: Path) -> Decimal:
    unit = defn.unit
    assert unit is not None
    if quantity.unit is unit:
        return quantity.value
    plain_ok = unit in (Unit.PERSON, Unit.ITEM, Unit.POINT, Unit.NUMBER, Unit.TONNE)
    if quantity.unit is Unit.NUMBER and plain_ok:
        return quantity.value
    hint = {
        Unit.YUAN: "an amount such as '5000万元'",
        Unit.RATIO: "a percentage such as '10%'",
    }.get(unit, f"a value in {unit.value}")
    raise CompileError(
        f"unit mismatch: fact {defn.id!r} is in {unit.value} but '{raw}' is "
        f"{'a plain number' if quantity.unit is Unit.NUMBER else quantity.unit.value}; write {hint}",
        path,
    )
