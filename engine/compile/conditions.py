"""Compile condition trees once into closures over the evaluation context.

The loader calls `compile_condition` for every tree; problems of meaning (unknown fact, a unit
that does not match the fact's, an operator that does not fit the fact's type) are collected
with their path so the loader can report file, line and field for each.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..model.facts import FactDef, FactType
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
    shifted,
)
from ..reference.context import Context, Missing, Value
from ..reference.logic import (
    FALSE,
    NEGATED,
    TRUE,
    UNKNOWN,
    Truth,
)

Path = tuple[str | int, ...]
Fn = Callable[[Context], Truth]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}

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


@dataclass(frozen=True, slots=True)
class DateBound:
    """A date threshold: fixed, or relative to the evaluation date (`-1年`)."""

    fixed: date | None = None
    amount: int = 0
    unit: Unit = Unit.DAY

    def resolve(self, as_of: date) -> date:
        return self.fixed if self.fixed is not None else shifted(as_of, self.amount, self.unit)

    def text(self) -> str:
        if self.fixed is not None:
            return self.fixed.isoformat()
        return f"as_of {'-' if self.amount < 0 else '+'} {abs(self.amount)} {self.unit.value}(s)"


@dataclass(eq=False)
class CNode:
    """A compiled condition: the source node, its children and its truth function."""

    node: AllOf | AnyOf | NotOf | Leaf
    path: Path
    children: list[CNode] = field(default_factory=list)
    fn: Fn = field(default=lambda ctx: UNKNOWN)


@dataclass(eq=False)
class CLeaf(CNode):
    fact: FactDef | None = None
    op: str = "eq"
    operand: Any = None  # Decimal, bool, str, DateBound, tuples and frozensets of these
    test: Callable[[Value, date], bool] = field(default=lambda value, as_of: False)

    @property
    def fact_def(self) -> FactDef:
        assert self.fact is not None
        return self.fact


def compile_condition(
    node: Condition, facts: dict[str, FactDef], path: Path, errors: list[CompileError]
) -> CNode:
    """Compile a tree; every problem is appended to `errors` (a tree with errors must not be used)."""
    if isinstance(node, AllOf):
        children = [
            compile_condition(c, facts, (*path, "all", i), errors) for i, c in enumerate(node.all)
        ]
        return CNode(node, path, children, _all([c.fn for c in children]))
    if isinstance(node, AnyOf):
        children = [
            compile_condition(c, facts, (*path, "any", i), errors) for i, c in enumerate(node.any)
        ]
        return CNode(node, path, children, _any([c.fn for c in children]))
    if isinstance(node, NotOf):
        child = compile_condition(node.not_, facts, (*path, "not"), errors)
        inner = child.fn
        return CNode(node, path, [child], lambda ctx: NEGATED[inner(ctx)])
    try:
        return _compile_leaf(node, facts, path)
    except CompileError as exc:
        errors.append(exc)
        return CNode(node, path)


def _all(fns: list[Fn]) -> Fn:
    def all_of(ctx: Context) -> Truth:
        result = TRUE
        for fn in fns:
            value = fn(ctx)
            if value is FALSE:
                return FALSE
            if value < result:
                result = value
        return result

    return all_of


def _any(fns: list[Fn]) -> Fn:
    def any_of(ctx: Context) -> Truth:
        result = FALSE
        for fn in fns:
            value = fn(ctx)
            if value is TRUE:
                return TRUE
            if value > result:
                result = value
        return result

    return any_of


def _compile_leaf(leaf: Leaf, facts: dict[str, FactDef], path: Path) -> CLeaf:
    defn = facts.get(leaf.fact)
    if defn is None:
        raise CompileError(
            f"unknown fact {leaf.fact!r}{_suggest(leaf.fact, facts)}", (*path, "fact")
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
    test = _test(defn, op, operand)
    return CLeaf(leaf, path, [], _leaf_fn(defn, op, operand, test), defn, op, operand, test)


def _leaf_fn(defn: FactDef, op: str, operand: Any, test: Callable[[Value, date], bool]) -> Fn:
    """The truth function of a leaf. Leaves are most of what evaluation runs, so the common
    shape, a fact compared with a fixed value, calls the comparison itself (one C call) rather
    than going through `test`; the others do go through `test` (same semantics)."""
    fact_id = defn.id
    if defn.type is not FactType.DATE and op in _COMPARE:
        compare, bound = _COMPARE[op], operand

        def compared(ctx: Context) -> Truth:
            value = ctx[fact_id]
            if value.__class__ is Missing:
                return UNKNOWN
            return TRUE if compare(value, bound) else FALSE

        return compared

    def tested(ctx: Context) -> Truth:
        value = ctx[fact_id]
        if value.__class__ is Missing:
            return UNKNOWN
        return TRUE if test(value, ctx.as_of) else FALSE  # type: ignore[arg-type]

    return tested


def _suggest(name: str, facts: dict[str, FactDef]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(facts), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _operand(defn: FactDef, op: str, raw: Any, path: Path) -> Any:
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


def _scalar(defn: FactDef, raw: Any, path: Path) -> Any:
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


def _check_unit(defn: FactDef, quantity: Quantity, raw: Any, path: Path) -> Decimal:
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


def _test(defn: FactDef, op: str, operand: Any) -> Callable[[Value, date], bool]:
    if defn.type is FactType.DATE:
        return _date_test(op, operand)
    if op in _COMPARE:
        compare, bound = _COMPARE[op], operand
        return lambda value, as_of: compare(value, bound)
    if op == "between":
        low, high = operand
        return lambda value, as_of: low <= value <= high
    if op == "in":
        return lambda value, as_of: value in operand
    if op == "not_in":
        return lambda value, as_of: value not in operand
    if op == "prefix_in":
        prefixes = operand
        return lambda value, as_of: str(value).upper().startswith(prefixes)
    assert op == "contains"
    return lambda value, as_of: operand in value  # type: ignore[operator]


def _date_test(op: str, operand: Any) -> Callable[[Value, date], bool]:
    if op in _COMPARE:
        compare, bound = _COMPARE[op], operand
        return lambda value, as_of: compare(value, bound.resolve(as_of))
    if op == "between":
        low, high = operand
        return lambda value, as_of: low.resolve(as_of) <= value <= high.resolve(as_of)
    assert op == "within"
    start = operand
    return lambda value, as_of: start.resolve(as_of) < value <= as_of  # type: ignore[operator]


def leaves(node: CNode) -> list[CLeaf]:
    if isinstance(node, CLeaf):
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]
