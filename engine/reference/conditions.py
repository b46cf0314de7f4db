"""The reference evaluator's form of a condition tree: the plan's nodes compiled once into
closures over the evaluation context, three-valued (`logic.Truth`)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from ..compile.plan import Comparison, DateBound, FactPlan, FactType, Group, Node, Path
from .context import Context, Missing, Value, direct_field
from .logic import FALSE, NEGATED, TRUE, UNKNOWN, Truth

Fn = Callable[[Context], Truth]
Test = Callable[[Value, date], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _unknown(ctx: Context) -> Truth:
    return UNKNOWN


@dataclass(frozen=True, eq=False, slots=True)
class CNode:
    """A compiled node: the plan's node, the compiled children and the truth function."""

    node: Node
    children: tuple[CNode, ...] = ()
    fn: Fn = field(default=_unknown)
    # Explanations' texts that depend only on the node and the evaluation date, made once
    # (`explain._cached`); never part of what the node means.
    texts: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def path(self) -> Path:
        return self.node.where.path


@dataclass(frozen=True, eq=False, slots=True)
class CLeaf(CNode):
    """A compiled comparison, with its fact's plan and the value test (`test(value, as_of)`)."""

    # The fact's plan: always given (`compile_node`); a field rather than a property, since
    # explanations and the way search read it at every leaf.
    fact_def: FactPlan = field(default=cast(FactPlan, None))
    test: Test = field(default=lambda value, as_of: False)
    op: str = "eq"  # the comparison's, kept here: explanations read them often
    operand: Any = None

    @property
    def comparison(self) -> Comparison:
        node = self.node
        assert isinstance(node, Comparison)
        return node


def compile_node(node: Node, facts: Mapping[str, FactPlan]) -> CNode:
    if isinstance(node, Comparison):
        defn = facts[node.fact]
        test = leaf_test(node, defn)
        fn = _leaf_fn(defn, node, test)
        return CLeaf(node, (), fn, fact_def=defn, test=test, op=node.op, operand=node.operand)
    children = tuple(compile_node(child, facts) for child in node.children)
    return CNode(node, children, _group_fn(node, children))


def _group_fn(node: Group, children: tuple[CNode, ...]) -> Fn:
    fns = [c.fn for c in children]
    if node.kind == "not":
        inner = fns[0]
        return lambda ctx: NEGATED[inner(ctx)]
    return _all(children) if node.kind == "all" else _any(fns)


# One child of an `all` as its closure runs it: a leaf comparing a fact with a fixed value as
# (fact id, comparison, bound), compared in the loop itself; any other child as
# (None, its truth function, None).
_Step = tuple[str | None, Callable[..., Any], Any]


def _all(children: tuple[CNode, ...]) -> Fn:
    """The children in order, the first false one deciding; the leaves that `_leaf_fn` would
    compile to `compared` compared in the loop, without a call of their own (what most
    children of the library's `all` nodes are)."""
    steps: tuple[_Step, ...] = tuple(_step(child) for child in children)

    def all_of(ctx: Context) -> Truth:
        result = TRUE
        for fact, test, bound in steps:
            if fact is None:
                value: Truth = test(ctx)
                if value is FALSE:
                    return FALSE
                if value < result:
                    result = value
            else:
                known = ctx[fact]
                if known.__class__ is Missing:
                    result = UNKNOWN
                elif not test(known, bound):
                    return FALSE
        return result

    return all_of


def _step(child: CNode) -> _Step:
    if isinstance(child, CLeaf) and _compared(child.fact_def, child.op):
        return child.fact_def.id, _COMPARE[child.op], child.operand
    return None, child.fn, None


def _compared(defn: FactPlan, op: str) -> bool:
    """Whether `_leaf_fn` compiles a leaf with this fact and operator to `compared`."""
    return direct_field(defn) is None and defn.type is not FactType.DATE and op in _COMPARE


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


class Truths(dict[CNode, Truth]):
    """The truth of every node of a tree asked for, each computed once, from its children's
    truths (`all` the least, `any` the greatest, `not` the negation: what the closures
    compute, without their short cuts). Explanations walk a tree top-down and ask at every
    node; calling each node's closure would evaluate the subtrees again at every level."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def __missing__(self, node: CNode) -> Truth:
        if isinstance(node, CLeaf):
            value = node.fn(self.ctx)
        else:
            group: Group = node.node  # type: ignore[assignment]  # a node with children
            kind = group.kind
            if kind == "not":
                value = NEGATED[self[node.children[0]]]
            elif kind == "all":
                value = min(map(self.__getitem__, node.children))
            else:
                value = max(map(self.__getitem__, node.children))
        self[node] = value
        return value


def _leaf_fn(defn: FactPlan, leaf: Comparison, test: Test) -> Fn:
    """The truth function of a leaf. Leaves are most of what evaluation runs, so the common
    shape, a fact compared with a fixed value, calls the comparison itself (one C call) rather
    than going through `test`; the others do go through `test` (same semantics). A leaf of a
    profile field that needs no coercion reads the field itself (`_field_fn`)."""
    fact_id, op = defn.id, leaf.op
    direct = direct_field(defn)
    if direct is not None:
        if defn.type is not FactType.DATE and op in _COMPARE:
            return _field_compared(fact_id, *direct, _COMPARE[op], leaf.operand)
        return _field_fn(fact_id, *direct, test)
    if _compared(defn, op):
        compare, bound = _COMPARE[op], leaf.operand

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


def _field_fn(fact_id: str, name: str, exact: type, test: Test) -> Fn:
    """The truth function of a leaf on the profile field `name`: an absent field is unknown, a
    value of the type `exact` is tested as it is (what its resolver gives), and any other
    value is the context's (coerced, or refused, by its resolver). Nothing is kept in the
    context: reading the field again costs what finding it there would."""

    def field(ctx: Context) -> Truth:
        value: Any = getattr(ctx.profile, name, None)
        if value is None:
            return UNKNOWN
        if value.__class__ is not exact:
            value = ctx[fact_id]
            if value.__class__ is Missing:
                return UNKNOWN
        return TRUE if test(value, ctx.as_of) else FALSE

    return field


def _field_compared(
    fact_id: str, name: str, exact: type, compare: Callable[[Any, Any], bool], bound: Any
) -> Fn:
    """`_field_fn` of a leaf comparing the field with a fixed value: the comparison itself
    (`leaf_test`'s), without the call of `test`."""

    def field_compared(ctx: Context) -> Truth:
        value: Any = getattr(ctx.profile, name, None)
        if value is None:
            return UNKNOWN
        if value.__class__ is not exact:
            value = ctx[fact_id]
            if value.__class__ is Missing:
                return UNKNOWN
        return TRUE if compare(value, bound) else FALSE

    return field_compared


def leaf_test(leaf: Comparison, defn: FactPlan) -> Test:
    """Whether a known value passes the comparison on an evaluation date."""
    op, operand = leaf.op, cast(Any, leaf.operand)
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


def _date_test(op: str, operand: Any) -> Test:
    if op in _COMPARE:
        compare, bound = _COMPARE[op], _on_day(operand)
        return lambda value, as_of: compare(value, bound(as_of))
    if op == "between":
        low, high = (_on_day(b) for b in operand)
        return lambda value, as_of: low(as_of) <= value <= high(as_of)  # type: ignore[operator]
    assert op == "within"
    start = _on_day(operand)
    return lambda value, as_of: start(as_of) < value <= as_of  # type: ignore[operator]


def _on_day(bound: DateBound) -> Callable[[date], date]:
    """`bound.resolve`, keeping the last evaluation date's answer (a run evaluates every
    profile on one day): one pair, replaced at once, so threads on other days at most
    resolve it again."""
    if bound.fixed is not None:
        fixed = bound.fixed
        return lambda as_of: fixed
    kept: list[tuple[date, date] | None] = [None]

    def resolve(as_of: date) -> date:
        pair = kept[0]
        if pair is not None and pair[0] == as_of:
            return pair[1]
        day = bound.resolve(as_of)
        kept[0] = (as_of, day)
        return day

    return resolve


def leaves(node: CNode) -> list[CLeaf]:
    if isinstance(node, CLeaf):
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]
