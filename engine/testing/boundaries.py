"""Boundary enumeration: the deterministic half of `incentives prop`.

Before any random search, for each policy:

1. **solve** the condition tree for an assignment under which every criterion holds (an `any`
   takes its first route that does not contradict what is already required, exclusions are
   required false, `not` is pushed to the leaves first): each fact gets the value nearest to
   the bounds on it (`ge 2000万元` → exactly 2000万元), so the scenario sits on the edges where
   mistakes are;
2. **walk** every threshold and band bound the policy reads (criteria, tiers, point bands,
   caps, the base at zero, formula edges: `profiles.targets`): one resolution step below, at and
   one above (one fen, one person or item, one day, 0.01 percentage point, one point), each
   with the other facts of the solved assignment kept, facts computed from the walked one
   (a ratio over it) recomputed to their solved values.

Every invariant is checked on every scenario. Where the tree cannot be solved (criteria the
solver cannot satisfy together, a fact no profile field can set) the reason is returned and
the walk still runs from the partial assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..check.logic import Range, negate, positive
from ..compile.plan import (
    Basis,
    Comparison,
    DateBound,
    Dates,
    FactPlan,
    FactType,
    Group,
    Node,
    PolicyPlan,
    RatioSource,
)
from ..model.units import Unit
from ..policyset import PolicySet
from ..reference.context import Missing
from ..reference.results import Status
from .inputs import assign
from .profiles import targets
from .scenarios import Data, Scenario, valid_data

_RESOLUTION = {
    Unit.YUAN: Decimal("0.01"), Unit.RATIO: Decimal("0.0001"), Unit.PERSON: Decimal(1),
    Unit.ITEM: Decimal(1), Unit.POINT: Decimal(1),
}  # fmt: skip
_DAY = timedelta(days=1)
_USUAL_DAY = date(2026, 6, 30)  # an evaluation date inside most periods in force


def resolution(unit: Unit | None) -> Decimal:
    """One step of a quantity: a fen, a person, an item, a point, 0.01 percentage point."""
    return _RESOLUTION.get(unit, Decimal("0.01")) if unit is not None else Decimal("0.01")


def evaluation_day(plan: PolicyPlan) -> date:
    """A day the policy is in force: a usual date if it is, else the first day of its period.
    A tax-year preference is evaluated for the year before the date (its default tax year):
    the usual date if that year is in force, else the usual day after the first tax year
    whose 31 December lies in the period (none: as an application's)."""
    if plan.attaches == "tax_year":
        if plan.effective.covers(basis_of(plan, _USUAL_DAY).on):
            return _USUAL_DAY
        year = _first_tax_year(plan)
        if year is not None:
            return _USUAL_DAY.replace(year=year + 1)
    if plan.effective.covers(_USUAL_DAY):
        return _USUAL_DAY
    if plan.effective.start is not None:
        return plan.effective.start
    return plan.effective.until or _USUAL_DAY


def _first_tax_year(plan: PolicyPlan) -> int | None:
    """The first year whose 31 December is in the policy's period (None: there is none)."""
    start, until = plan.effective.start, plan.effective.until
    if start is None:
        return None if until is None else until.year - 1
    if until is not None and date(start.year, 12, 31) > until:
        return None
    return start.year if start.year < 9999 else None


def basis_of(plan: PolicyPlan, as_of: date) -> Basis:
    """What the policy looks at when evaluated on `as_of` with the default tax year: the day of
    its certificates and date thresholds and the fiscal year of its financials."""
    return Dates.of(as_of).basis(plan.attaches)


# --- solving the condition -------------------------------------------------------------------


@dataclass
class _Need:
    """What the chosen route requires of each fact, and the leaves it cannot reason about
    (prefix_in, contains, within) to satisfy one by one."""

    ranges: dict[str, Range] = field(default_factory=dict)
    others: list[tuple[Comparison, bool]] = field(default_factory=list)  # (leaf, negated)

    def copy(self) -> _Need:
        ranges = {k: _copy(r) for k, r in self.ranges.items()}
        return _Need(ranges, list(self.others))


def _copy(rng: Range) -> Range:
    return Range(rng.low, rng.low_in, rng.high, rng.high_in, rng.allowed, rng.excluded)


def _admits(rng: Range, value: Any) -> bool:
    probe = _copy(rng)
    probe.add("eq", value)
    return not probe.empty()


class _Solver:
    def __init__(self, facts: Mapping[str, FactPlan], as_of: date) -> None:
        self.facts, self.as_of = facts, as_of

    def route(self, node: Node, need: _Need) -> _Need | None:
        """`need` with what makes `node` true added; None when no route fits."""
        if isinstance(node, Comparison):
            return self._leaf(node, need)
        if node.kind == "all":
            current: _Need | None = need
            for child in node.children:
                current = self.route(child, current) if current is not None else None
            return current
        if node.kind == "any":
            for child in node.children:
                found = self.route(child, need.copy())
                if found is not None:
                    return found
            return None
        inner = node.children[0]  # a `not` over a leaf with no negated operator
        if isinstance(inner, Comparison):
            need.others.append((inner, True))
        return need

    def _leaf(self, leaf: Comparison, need: _Need) -> _Need | None:
        fact = self.facts[leaf.fact]
        if leaf.op in ("prefix_in", "contains", "within") or fact.type is FactType.CODES:
            need.others.append((leaf, False))
            return need
        rng = need.ranges.setdefault(leaf.fact, Range())
        rng.add(leaf.op, _resolved(leaf.operand, self.as_of))
        if rng.empty(boolean=fact.type is FactType.BOOL):
            return None
        return need


def _resolved(value: Any, as_of: date) -> Any:
    if isinstance(value, DateBound):
        return value.resolve(as_of)
    if isinstance(value, tuple):
        return tuple(_resolved(v, as_of) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_resolved(v, as_of) for v in value)
    return value


def _witness(fact: FactPlan, rng: Range) -> Any:
    """A value the range admits, next to its bounds: the lower bound if there is one."""
    if fact.type is FactType.BOOL:
        choices: list[Any] = [True, False]
    elif rng.allowed is not None:
        choices = sorted(rng.allowed, key=str)
    elif fact.type is FactType.CODE:
        choices = [*sorted(fact.values or ()), "X"]
    else:
        choices = _ordered_choices(fact, rng)
    return next((v for v in choices if _admits(rng, v)), choices[0])


def _ordered_choices(fact: FactPlan, rng: Range) -> list[Any]:
    """A lower bound when there is one; else half the upper bound, so that facts computed from
    this one (a ratio over it, or of it) have room either way; else the upper bound."""
    step: Any = _DAY if fact.type is FactType.DATE else resolution(fact.unit)
    low = rng.low if rng.low_in or rng.low is None else _moved(rng.low, step)
    high = rng.high if rng.high_in or rng.high is None else _moved(rng.high, -step)
    half = high / 2 if isinstance(high, Decimal) and high > 0 else None
    nothing = date(2015, 1, 1) if fact.type is FactType.DATE else Decimal(0)
    return [v for v in (low, half, high) if v is not None] or [nothing]


def _moved(value: Any, step: Any) -> Any:
    """`value + step`, or None past the calendar's edge (a bound of `-3000年`)."""
    try:
        return value + step
    except OverflowError:
        return None


_CODES = ("C3976", "C4210", "I6510", "M7320", "A0111", "F5191", "C2710")  # GB/T 4754 classes


def _other_value(leaf: Comparison, negated: bool, as_of: date) -> Any:
    """A value satisfying a leaf the range reasoning leaves aside (or its negation)."""
    if leaf.op == "prefix_in" and isinstance(leaf.operand, tuple):
        prefixes = leaf.operand
        if not negated:
            return prefixes[0]
        return next((c for c in _CODES if not c.startswith(prefixes)), None)
    if leaf.op == "contains":
        return () if negated else (str(leaf.operand),)
    if leaf.op == "within":
        return as_of - timedelta(days=366 * 20) if negated else as_of - _DAY
    return None


@dataclass(frozen=True)
class Solution:
    """The solved assignment (fact → value), the evaluation date, the zone, and why the
    condition could not be solved (None when it was)."""

    values: dict[str, Any]
    ranges: dict[str, Range]
    as_of: date
    zone: str | None
    basis: Basis  # what the policy looks at on `as_of`: the day and fiscal year of its facts
    problem: str | None = None


def solve(policy_set: PolicySet, policy_id: str) -> Solution:
    plan = policy_set.get(policy_id)
    facts = policy_set.plan.facts
    as_of = evaluation_day(plan)
    basis = basis_of(plan, as_of)
    parts: list[Node] = [
        negate(c.node) if c.exclusion else positive(c.node) for c in plan.criteria
    ]
    need = _Solver(facts, basis.on).route(Group(kind="all", children=tuple(parts)), _Need())
    problem = None
    if need is None:
        problem = "no route of the condition holds with every exclusion false"
        need = _Need()
    values: dict[str, Any] = {fact: _witness(facts[fact], rng) for fact, rng in need.ranges.items()}
    for leaf, negated in need.others:
        value = _other_value(leaf, negated, basis.on)
        if value is not None and leaf.fact not in values:
            values[leaf.fact] = value
    zones = sorted(plan.applies_in) if plan.applies_in is not None else sorted(policy_set.zones)
    zone = next((z for z in zones if z in policy_set.zones), None)
    return Solution(values, need.ranges, as_of, zone, basis, problem)


# --- building profiles -----------------------------------------------------------------------


def build(
    policy_set: PolicySet,
    values: Mapping[str, Any],
    as_of: date | Basis,
    zone: str | None,
    ranges: Mapping[str, Range] | None = None,
    exact: frozenset[str] = frozenset(),
) -> Data:
    """Profile data in which each fact takes its value: facts read from the profile first, then
    those computed from them. A computed fact whose value already lies in its `ranges` is left
    as its inputs make it (unless it is `exact`); a ratio is reached through whichever of its
    parts its range leaves free. `as_of` is the day the facts are read on (an application's
    basis), or the `Basis` of the policy they are for."""
    builder = _Builder(policy_set, as_of, ranges or {}, zone)
    facts = policy_set.plan.facts
    for name in sorted(values, key=lambda n: (facts[n].depth, n)):
        builder.place(facts[name], values[name], name in exact)
    return valid_data(builder.data)[0]


class _Builder:
    def __init__(
        self, policy_set: PolicySet, on: date | Basis, ranges: Mapping[str, Range], zone: str | None
    ) -> None:
        self.policy_set, self.ranges = policy_set, ranges
        self.as_of = on if isinstance(on, Basis) else Basis(on, on.year - 1)
        self.facts = policy_set.plan.facts
        self.data: Data = {"synthetic": True, **({"zone": zone} if zone is not None else {})}

    def now(self, fact: str) -> Any:
        return self.policy_set.context(valid_data(self.data)[1], self.as_of).get(fact)

    def fits(self, fact: str, value: Any) -> bool:
        return fact not in self.ranges or _admits(self.ranges[fact], value)

    def place(self, fact: FactPlan, value: Any, exact: bool) -> None:
        if fact.depth > 0 and not exact and fact.id in self.ranges:
            current = self.now(fact.id)
            if not isinstance(current, Missing) and self.fits(fact.id, current):
                return
        source = fact.source
        if isinstance(source, RatioSource) and isinstance(value, Decimal) and self._ratio(source, value):
            return
        assign(self.data, fact, value, self.facts, self.as_of)

    def _ratio(self, source: RatioSource, value: Decimal) -> bool:
        """numerator ÷ denominator = value, changing the part whose range allows it."""
        top, bottom = self.now(source.numerator), self.now(source.denominator)
        if isinstance(bottom, Decimal) and bottom > 0 and self.fits(source.numerator, value * bottom):
            assign(self.data, self.facts[source.numerator], value * bottom, self.facts, self.as_of)
            return True
        if isinstance(top, Decimal) and top > 0 and value > 0:
            wanted = top / value
            if self.fits(source.denominator, wanted):
                assign(self.data, self.facts[source.denominator], wanted, self.facts, self.as_of)
                return True
        return False


def boundary_scenarios(policy_set: PolicySet, policy_id: str) -> tuple[list[Scenario], str | None]:
    """The solved scenario, then each target value one step below, at and above its bound with
    the rest of the solution kept; and why the condition could not be solved, if it could not."""
    solution = solve(policy_set, policy_id)
    found = [_scenario(policy_set, solution, solution.values, frozenset())]
    for fact, value in targets(policy_set, policy_id, solution.basis.on):
        walked = {**solution.values, fact: value}
        found.append(_scenario(policy_set, solution, walked, frozenset({fact})))
    unique = list({repr(s.data): s for s in found}.values())
    problem = solution.problem or _not_eligible(policy_set, policy_id, found[0])
    return unique, problem


def _scenario(
    policy_set: PolicySet, solution: Solution, values: Mapping[str, Any], exact: frozenset[str]
) -> Scenario:
    data = build(policy_set, values, solution.basis, solution.zone, solution.ranges, exact)
    return Scenario(data=data, as_of=solution.as_of, filler={}, step=0)


def _not_eligible(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> str | None:
    """Why the solved scenario is not eligible (criteria the solver cannot reason about), or
    None when it is."""
    report = policy_set.evaluate(scenario.profile, scenario.as_of, policy_ids=[policy_id])
    result = report.results[0]
    if result.status in (Status.ELIGIBLE, Status.NEEDS_REVIEW):
        return None
    named = [*result.missing, *(g.fact for g in result.gaps)]
    facts = ", ".join(dict.fromkeys(named)) or "its criteria"
    return (f"no scenario meeting every criterion was constructed ({result.status.value} on "
            f"{facts}); the walk starts from the partial one")  # fmt: skip


__all__ = ["Solution", "basis_of", "boundary_scenarios", "build", "evaluation_day", "resolution", "solve"]
