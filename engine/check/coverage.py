"""Which clauses the worked cases exercise (`incentives test --coverage`), read from the
reference evaluator's trace of each case (`PolicyResult.trace`, walked beside the plan's tree)
and, for bands, from the case's own evaluation context: nothing is evaluated a second way.

Per policy, the *goals* are:

- every comparison decided **true** by some case, and decided **false** by some case;
- every exclusion **fired** (true) in some case;
- every child of an `any` **deciding** in some case (the `any` true and that child true);
- every band of a `tiers` benefit **paid** by some eligible case;
- every band of a `points` fact the policy depends on **scored** in some case.

Coverage is the share of goals met, per policy and for the set. A comparison that no case
decided either way but some case left unknown is listed as *only ever unknown*. Uncovered goals
are listed with the file and line they are written at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..compile.plan import (
    Band,
    Comparison,
    FactPlan,
    Group,
    Node,
    PointsSource,
    PolicyPlan,
    Where,
    first_band,
)
from ..policyset import PolicySet
from ..reference.results import Status, Trace
from .cases import CaseResult
from .diff import comparison_text


@dataclass(frozen=True)
class Goal:
    """One thing a case can exercise."""

    policy_id: str
    kind: str  # true, false, fired, deciding, paid, scored
    what: str  # the comparison, exclusion, branch or band, readable
    where: Where
    key: tuple[Any, ...]  # identifies the goal among the policy's

    def to_json(self, seen: str | None = None) -> dict[str, Any]:
        data = {"kind": self.kind, "what": self.what, "file": self.where.file,
                "line": self.where.line}  # fmt: skip
        if seen is not None:
            data["seen"] = seen
        return data


@dataclass
class PolicyCoverage:
    policy_id: str
    goals: list[Goal]
    met: set[tuple[Any, ...]] = field(default_factory=set)
    unknown: set[tuple[Any, ...]] = field(default_factory=set)  # comparisons left unknown
    cases: int = 0

    @property
    def covered(self) -> int:
        return sum(g.key in self.met for g in self.goals)

    @property
    def percent(self) -> Decimal:
        return _percent(self.covered, len(self.goals))

    def uncovered(self) -> list[Goal]:
        return [g for g in self.goals if g.key not in self.met]

    def only_unknown(self) -> list[Goal]:
        """Comparisons no case decided either way, though some left them unknown."""
        decided = {g.key[1] for g in self.goals if g.key in self.met and g.kind in ("true", "false")}
        return [g for g in self.goals if g.kind == "true" and g.key[1] in self.unknown - decided]

    def to_json(self) -> dict[str, Any]:
        unknown = {g.key[1] for g in self.only_unknown()}
        uncovered = []
        for goal in self.uncovered():
            leaf = goal.kind in ("true", "false")
            uncovered.append(goal.to_json("only unknown" if leaf and goal.key[1] in unknown else None))
        return {
            "policy_id": self.policy_id,
            "cases": self.cases,
            "covered": self.covered,
            "goals": len(self.goals),
            "percent": str(self.percent),
            "uncovered": uncovered,
        }


@dataclass
class Coverage:
    policies: list[PolicyCoverage]

    @property
    def covered(self) -> int:
        return sum(p.covered for p in self.policies)

    @property
    def goals(self) -> int:
        return sum(len(p.goals) for p in self.policies)

    @property
    def percent(self) -> Decimal:
        return _percent(self.covered, self.goals)

    def to_json(self) -> dict[str, Any]:
        return {
            "covered": self.covered,
            "goals": self.goals,
            "percent": str(self.percent),
            "policies": [p.to_json() for p in self.policies],
        }


def _percent(covered: int, total: int) -> Decimal:
    if total == 0:
        return Decimal(100)
    return (Decimal(100) * covered / total).quantize(Decimal("0.1"))


def coverage(policy_set: PolicySet, results: Iterable[CaseResult]) -> Coverage:
    """What the cases (`cases.run_cases`) exercise of each policy of the set."""
    facts = policy_set.plan.facts
    by_id = {p.id: PolicyCoverage(p.id, list(goals(p, facts))) for p in policy_set.policies}
    for outcome in results:
        policy = by_id.get(outcome.case.policy)
        if policy is None or outcome.result is None:
            continue
        policy.cases += 1
        _record(policy, policy_set.get(policy.policy_id), policy_set, outcome)
    return Coverage(list(by_id.values()))


# --- the goals of a policy -----------------------------------------------------------------


def _roots(plan: PolicyPlan) -> list[tuple[Node, bool]]:
    """The criteria in the order the trace gives them: the condition, then the exclusions."""
    ordered = [c for c in plan.criteria if not c.exclusion] + [c for c in plan.criteria if c.exclusion]
    return [(c.node, c.exclusion) for c in ordered]


def goals(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[Goal]:
    pid = plan.id
    for index, (node, exclusion) in enumerate(_roots(plan)):
        if exclusion:
            yield Goal(pid, "fired", f"exclusion {_node_text(node, facts)}", node.where,
                       ("fired", (index,)))  # fmt: skip
        yield from _node_goals(pid, node, (index,), facts)
    benefit = plan.benefit
    if benefit.kind == "tiers" and benefit.by is not None:
        unit = facts[benefit.by].unit
        for i, band in enumerate(benefit.bands):
            yield Goal(pid, "paid", f"tier {benefit.by} {_band_text(band, unit)}", band.where,
                       ("paid", i))  # fmt: skip
    for fact_id in sorted(plan.depends_on):
        source = facts[fact_id].source
        if isinstance(source, PointsSource):
            unit = facts[source.by].unit
            for i, band in enumerate(source.bands):
                where = band.where if band.where.file else facts[fact_id].where
                yield Goal(pid, "scored", f"{fact_id} band {source.by} {_band_text(band, unit)}",
                           where, ("scored", fact_id, i))  # fmt: skip


def _node_goals(
    pid: str, node: Node, path: tuple[int, ...], facts: Mapping[str, FactPlan]
) -> Iterator[Goal]:
    if isinstance(node, Comparison):
        text = comparison_text(node, facts.get(node.fact))
        for outcome in ("true", "false"):
            yield Goal(pid, outcome, text, node.where, (outcome, path))
        return
    assert isinstance(node, Group)
    for i, child in enumerate(node.children):
        if node.kind == "any":
            yield Goal(pid, "deciding", f"branch {_node_text(child, facts)} of an any",
                       child.where, ("deciding", (*path, i)))  # fmt: skip
        yield from _node_goals(pid, child, (*path, i), facts)


def _node_text(node: Node, facts: Mapping[str, FactPlan]) -> str:
    if isinstance(node, Comparison):
        return comparison_text(node, facts.get(node.fact))
    if node.label:
        return f"{node.kind} ({node.label_en or node.label})"
    return f"{node.kind} of {len(node.children)}"


def _band_text(band: Band, unit: Any) -> str:
    return band.written or (band.text(unit, "en") if unit is not None else "")


# --- what a case met ---------------------------------------------------------------------------


def _record(
    policy: PolicyCoverage, plan: PolicyPlan, policy_set: PolicySet, outcome: CaseResult
) -> None:
    result = outcome.result
    assert result is not None
    if result.trace is not None:
        for index, ((node, exclusion), traced) in enumerate(
            zip(_roots(plan), result.trace.children, strict=True)
        ):
            if exclusion and traced.outcome == "true":
                policy.met.add(("fired", (index,)))
            _walk(policy, node, traced, (index,))
    if outcome.profile is not None and outcome.as_of is not None:
        _record_bands(policy, plan, policy_set, outcome, result.status, result.trace is not None)


def _record_bands(
    policy: PolicyCoverage,
    plan: PolicyPlan,
    policy_set: PolicySet,
    outcome: CaseResult,
    status: Status,
    in_force: bool,
) -> None:
    """The tier an eligible case is paid in, and the point bands its facts score in (the
    values from the case's own evaluation context)."""
    assert outcome.profile is not None and outcome.as_of is not None
    ctx = policy_set.context(outcome.profile, outcome.as_of)
    benefit, facts = plan.benefit, policy_set.plan.facts
    if status is Status.ELIGIBLE and benefit.kind == "tiers" and benefit.by is not None:
        band = _band_of(benefit.bands, ctx.get(benefit.by))
        if band is not None:
            policy.met.add(("paid", band))
    if not in_force:
        return  # not in force: its facts' values decide nothing
    for fact_id in plan.depends_on:
        source = facts[fact_id].source
        if isinstance(source, PointsSource):
            band = _band_of(source.bands, ctx.get(source.by))
            if band is not None:
                policy.met.add(("scored", fact_id, band))


def _band_of(bands: tuple[Band, ...], value: object) -> int | None:
    if not isinstance(value, Decimal):
        return None
    band = first_band(bands, value)
    return None if band is None else bands.index(band)


def _walk(policy: PolicyCoverage, node: Node, traced: Trace, path: tuple[int, ...]) -> None:
    if isinstance(node, Comparison):
        if traced.outcome in ("true", "false"):
            policy.met.add((traced.outcome, path))
        else:
            policy.unknown.add(path)
        return
    assert isinstance(node, Group)
    for i, (child, child_trace) in enumerate(zip(node.children, traced.children, strict=True)):
        if node.kind == "any" and traced.outcome == "true" and child_trace.outcome == "true":
            policy.met.add(("deciding", (*path, i)))
        _walk(policy, child, child_trace, (*path, i))
