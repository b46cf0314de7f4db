"""Conditions that can never hold, conditions that always hold, and policies their own criteria
make unreachable: reasoning on bounds of one fact at a time, over trees with `not` pushed to the
leaves first (`not: {employees ge 20}` is `employees lt 20`, `not: {any: [a, b]}` is
`all: [not a, not b]`).

The reasoning is sound, not complete: what it reports is certain (for every enterprise whose
facts are known), and a contradiction spread across facts (a ratio against its parts) goes
unseen. A fact's own range counts: a number of persons or items is never below 0, and a score
read off point bands, or summed from such scores, never exceeds its best bands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ..compile.plan import (
    Comparison,
    DateBound,
    FactPlan,
    Group,
    MaxOfSource,
    Node,
    PointsSource,
    PolicyPlan,
    SumOfSource,
)
from ..model.units import Unit

_NEGATED = {
    "ge": "lt", "lt": "ge", "gt": "le", "le": "gt", "eq": "ne", "ne": "eq",
    "in": "not_in", "not_in": "in",
}  # fmt: skip


def negate(node: Node) -> Node:
    """`not node` with the negation pushed to the leaves (Kleene: exact for every value,
    unknown stays unknown). Leaves without a negated operator keep a `not` above them."""
    if isinstance(node, Comparison):
        if node.op in _NEGATED:
            return _leaf(node, _NEGATED[node.op], node.operand)
        if node.op == "between" and isinstance(node.operand, tuple):
            low, high = node.operand
            below, above = _leaf(node, "lt", low), _leaf(node, "gt", high)
            return Group(kind="any", children=(below, above), where=node.where)
        return Group(kind="not", children=(node,), where=node.where)
    if node.kind == "not":
        return positive(node.children[0])
    kind: Literal["all", "any"] = "any" if node.kind == "all" else "all"
    return Group(kind=kind, children=tuple(negate(c) for c in node.children), where=node.where)


def positive(node: Node) -> Node:
    """The same condition with every `not` pushed to the leaves."""
    if isinstance(node, Comparison):
        return node
    if node.kind == "not":
        return negate(node.children[0])
    children = tuple(positive(c) for c in node.children)
    return Group(kind=node.kind, children=children, label=node.label, where=node.where)


def _leaf(like: Comparison, op: str, operand: object) -> Comparison:
    return Comparison(fact=like.fact, op=op, operand=operand, label=like.label, where=like.where)


# --- the range one fact may take -------------------------------------------------------------


@dataclass
class Range:
    """What a conjunction allows for one fact: bounds, allowed values, excluded values."""

    low: Any = None
    low_in: bool = True
    high: Any = None
    high_in: bool = True
    allowed: frozenset[Any] | None = None
    excluded: frozenset[Any] = frozenset()

    def add(self, op: str, value: Any) -> None:
        if op in ("ge", "gt"):
            self._raise_low(value, op == "ge")
        elif op in ("le", "lt"):
            self._lower_high(value, op == "le")
        elif op == "between":
            self._raise_low(value[0], True)
            self._lower_high(value[1], True)
        elif op in ("eq", "in"):
            values = frozenset(value) if op == "in" else frozenset({value})
            self.allowed = values if self.allowed is None else self.allowed & values
        elif op in ("ne", "not_in"):
            self.excluded |= frozenset(value) if op == "not_in" else frozenset({value})

    def _raise_low(self, value: Any, inclusive: bool) -> None:
        if self.low is None or value > self.low or (value == self.low and not inclusive):
            self.low, self.low_in = value, inclusive

    def _lower_high(self, value: Any, inclusive: bool) -> None:
        if self.high is None or value < self.high or (value == self.high and not inclusive):
            self.high, self.high_in = value, inclusive

    def empty(self, boolean: bool = False) -> bool:
        if (
            self.low is not None
            and self.high is not None
            and (
                self.low > self.high
                or (self.low == self.high and not (self.low_in and self.high_in))
            )
        ):
            return True
        allowed = frozenset({True, False}) if boolean and self.allowed is None else self.allowed
        if allowed is None:
            return False
        return not any(self._admits(v) for v in allowed)

    def _admits(self, value: Any) -> bool:
        if value in self.excluded:
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self.low_in)):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_in))
        )


def natural_range(fact: FactPlan, facts: Mapping[str, FactPlan]) -> tuple[Decimal | None, Decimal | None]:
    """The least and greatest value a fact can take whatever the profile says (None: open):
    counts of persons and items are never negative; a `points` fact pays one of its bands (or 0,
    in no band), a sum of parts the sum of theirs, the best of parts the best of theirs."""
    source = fact.source
    if isinstance(source, PointsSource):
        amounts = [b.amount or Decimal(0) for b in source.bands] + [Decimal(0)]
        return min(amounts), max(amounts)
    if isinstance(source, SumOfSource | MaxOfSource):
        parts = [natural_range(facts[p], facts) for p in source.parts]
        return _combine([lo for lo, _ in parts], isinstance(source, SumOfSource)), _combine(
            [hi for _, hi in parts], isinstance(source, SumOfSource)
        )
    if fact.unit in (Unit.PERSON, Unit.ITEM):
        return Decimal(0), None
    return None, None


def _combine(values: list[Decimal | None], add: bool) -> Decimal | None:
    known = [v for v in values if v is not None]
    if len(known) < len(values) or not known:
        return None
    return sum(known, Decimal(0)) if add else max(known)


_REFERENCE = date(2024, 6, 15)  # relative date bounds keep their order on any evaluation date


def _key(leaf: Comparison) -> tuple[str, bool] | None:
    """Leaves whose operands can be compared: (fact, relative dates?)."""
    if leaf.op in ("prefix_in", "contains", "within"):
        return None
    bounds = [x for x in flat(leaf.operand) if isinstance(x, DateBound)]
    if not bounds:
        return (leaf.fact, False)
    relative = {b.fixed is None for b in bounds}
    return None if len(relative) > 1 else (leaf.fact, relative.pop())


def flat(value: Any) -> list[Any]:
    if isinstance(value, tuple | frozenset):
        return [x for item in value for x in flat(item)]
    return [value]


def plain(value: Any) -> Any:
    """An operand with relative dates resolved on one reference day (their order is kept)."""
    if isinstance(value, DateBound):
        return value.resolve(_REFERENCE)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(plain(v) for v in value)
    return value


def conjuncts(node: Node) -> Iterator[Comparison]:
    """The leaves an `all` requires together: its leaves and those of nested `all`s."""
    for child in node.children:
        if isinstance(child, Comparison):
            yield child
        elif child.kind == "all":
            yield from conjuncts(child)


# --- the solver ------------------------------------------------------------------------------


Clash = tuple[Node, list[Comparison]]  # a node that can never hold, and the leaves that clash


@dataclass
class Solver:
    """Decides whether a tree (with `not` at the leaves only) can ever be true, collecting the
    nodes that cannot when asked to."""

    facts: Mapping[str, FactPlan]
    clashes: list[Clash] = field(default_factory=list)

    def possible(self, node: Node, report: bool = False) -> bool:
        if isinstance(node, Comparison):
            alone = self._clash([node])
            if alone and report:
                self.clashes.append((node, [node]))
            return not alone
        children = [self.possible(child, report) for child in node.children]
        if node.kind == "any":
            return any(children)
        if node.kind != "all":
            return True  # a `not` left above a leaf that has no negated operator
        return all(children) and self._conjunction(node, report)

    def _conjunction(self, node: Node, report: bool) -> bool:
        """Whether the leaves an `all` requires together can hold together."""
        by_fact: dict[tuple[str, bool], list[Comparison]] = {}
        for leaf in conjuncts(node):
            key = _key(leaf)
            if key is not None:
                by_fact.setdefault(key, []).append(leaf)
        clashing = [leaves for leaves in by_fact.values() if len(leaves) > 1 and self._clash(leaves)]
        if report:
            # a leaf that cannot hold even alone is reported where it is written
            self.clashes += [(node, ls) for ls in clashing if all(not self._clash([x]) for x in ls)]
        return not clashing

    def always(self, node: Node) -> bool:
        """True for every enterprise whose facts it reads are known."""
        return not self.possible(negate(node))

    def _clash(self, leaves: list[Comparison]) -> bool:
        fact = self.facts[leaves[0].fact]
        key = _key(leaves[0])
        if key is None:
            return False
        rng = Range()
        low, high = natural_range(fact, self.facts)
        if low is not None:
            rng.add("ge", low)
        if high is not None:
            rng.add("le", high)
        for leaf in leaves:
            rng.add(leaf.op, plain(leaf.operand))
        return rng.empty(boolean=fact.type.value == "bool")


@dataclass(frozen=True)
class Verdict:
    """What the solver finds in one policy: nodes that never hold (with the clashing leaves),
    nodes that always hold, whether the condition can hold, and the exclusions that every
    enterprise the condition admits meets."""

    never: list[Clash]
    always: list[Node]
    condition_possible: bool
    excluding_all: list[Node]


def examine(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Verdict:
    solver = Solver(facts)
    condition: list[Node] = []
    exclusions: list[Node] = []
    always: list[Node] = []
    possible = True
    for criterion in plan.criteria:
        tree = positive(criterion.node)
        possible &= solver.possible(tree, report=True) or criterion.exclusion
        always += _always(solver, tree)
        (exclusions if criterion.exclusion else condition).append(tree)
    excluding = []
    if possible:
        for exclusion in exclusions:
            combined = Group(kind="all", children=(*condition, negate(exclusion)))
            if not solver.possible(combined):
                excluding.append(exclusion)
    return Verdict(solver.clashes, always, possible, excluding)


def _always(solver: Solver, node: Node) -> list[Node]:
    """The outermost nodes of a tree that hold for every known value."""
    if solver.always(node):
        return [node]
    return [found for child in node.children for found in _always(solver, child)]


__all__ = ["Range", "Solver", "Verdict", "examine", "natural_range", "negate", "positive"]
