"""What changed between two policy sets, read from their plans (`compile.plan`), not from the
files' text: a policy moved to another file, reindented or with its bounds respelt (`10%` for
`0.1`) is unchanged; a threshold, a band, an amount, a date, a zone or a citation that differs
is a change, shown as the reviewer of a policy pull request wants to read it.

    from incentives.engine.check.diff import diff_sets
    changes = diff_sets(PolicySet("base"), PolicySet("candidate"))
    for policy in changes.policies: policy.kind, policy.changes

A policy is *changed* when its plan differs or when a fact it depends on (directly or through a
formula) is defined differently; `impact` reads the same classification.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ..compile.plan import (
    Band,
    BenefitPlan,
    Comparison,
    DateBound,
    FactPlan,
    Group,
    Node,
    PointsSource,
    PolicyPlan,
    SetPlan,
)
from ..compile.records import Record
from ..model.units import Unit, format_money, format_quantity
from ..policyset import PolicySet

ChangeKind = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class Change:
    """One aspect of a policy that differs: `before` and `after` as readable lines (an empty
    tuple where the aspect is absent on that side)."""

    aspect: str  # title, period, zones, source, criteria, benefit, stacking, fact <id>, …
    before: tuple[str, ...]
    after: tuple[str, ...]

    def lines(self) -> Iterator[str]:
        """The change as `- old` / `+ new` lines, unchanged lines of a long aspect left out."""
        matcher = difflib.SequenceMatcher(a=self.before, b=self.after, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            yield from (f"- {line}" for line in self.before[i1:i2])
            yield from (f"+ {line}" for line in self.after[j1:j2])

    def to_json(self) -> dict[str, Any]:
        return {"aspect": self.aspect, "before": list(self.before), "after": list(self.after)}


@dataclass(frozen=True)
class PolicyDiff:
    policy_id: str
    kind: ChangeKind
    file: str  # the candidate's file (the base's for a removed policy)
    line: int | None
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class SetDiff:
    policies: tuple[PolicyDiff, ...]
    facts: tuple[Change, ...] = ()  # facts added, removed or defined differently
    counts: Mapping[str, int] = field(default_factory=dict)

    def kind_of(self, policy_id: str) -> ChangeKind:
        return next(p.kind for p in self.policies if p.policy_id == policy_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "policies": [p.to_json() for p in self.policies if p.kind != "unchanged"],
            "facts": [c.to_json() for c in self.facts],
        }


def diff_sets(base: PolicySet, candidate: PolicySet) -> SetDiff:
    """Every policy of either set, matched by id, in the candidate's order (removed ones last)."""
    return diff_plans(base.plan, candidate.plan)


def diff_plans(base: SetPlan, candidate: SetPlan) -> SetDiff:
    old = {p.id: p for p in base.policies}
    new = {p.id: p for p in candidate.policies}
    changed_facts = _changed_facts(base.facts, candidate.facts)
    out: list[PolicyDiff] = []
    for plan in candidate.policies:
        before = old.get(plan.id)
        if before is None:
            out.append(PolicyDiff(plan.id, "added", plan.where.file, plan.where.line,
                                  tuple(_aspects(None, plan, candidate.facts))))  # fmt: skip
            continue
        changes = [*_policy_changes(before, plan, base.facts, candidate.facts)]
        for fact_id in sorted((before.depends_on | plan.depends_on) & changed_facts.keys()):
            changes.append(changed_facts[fact_id])
        kind: ChangeKind = "changed" if changes else "unchanged"
        out.append(PolicyDiff(plan.id, kind, plan.where.file, plan.where.line, tuple(changes)))
    for plan in base.policies:
        if plan.id not in new:
            out.append(PolicyDiff(plan.id, "removed", plan.where.file, plan.where.line,
                                  tuple(_aspects(plan, None, base.facts))))  # fmt: skip
    counts: dict[str, int] = {kind: sum(p.kind == kind for p in out) for kind in _KINDS}
    return SetDiff(tuple(out), tuple(changed_facts[f] for f in sorted(changed_facts)), counts)


_KINDS: tuple[ChangeKind, ...] = ("added", "removed", "changed", "unchanged")


def _changed_facts(
    base: Mapping[str, FactPlan], candidate: Mapping[str, FactPlan]
) -> dict[str, Change]:
    out: dict[str, Change] = {}
    for fact_id in sorted(base.keys() | candidate.keys()):
        before, after = base.get(fact_id), candidate.get(fact_id)
        if before != after:
            old, new = _fact_lines(before, base), _fact_lines(after, candidate)
            out[fact_id] = Change(f"fact {fact_id}", old, new)
    return out


def _fact_lines(fact: FactPlan | None, facts: Mapping[str, FactPlan]) -> tuple[str, ...]:
    if fact is None:
        return ()
    unit = f" in {fact.unit.value}" if fact.unit is not None else ""
    lines = [f"{fact.type.value}{unit}: {fact.zh} / {fact.en}"]
    source = fact.source
    if isinstance(source, PointsSource):
        by = facts.get(source.by)
        by_unit = Unit.NUMBER if by is None or by.unit is None else by.unit
        lines.append(f"points by {source.by}:")
        lines += [f"  {_band(b, by_unit, 'points')}" for b in source.bands]
    else:
        lines.append(f"{source.kind}: {_source_text(source)}")
    if fact.judgement:
        lines.append("needs an expert's judgement when unknown")
    return tuple(lines)


def _source_text(source: Record) -> str:
    parts = []
    for name in source.__record_compared__:
        value = getattr(source, name)
        if isinstance(value, frozenset):
            value = ", ".join(sorted(map(str, value)))
        elif isinstance(value, tuple):
            value = ", ".join(map(str, value))
        parts.append(f"{name}={value}")
    return "; ".join(parts)


def _policy_changes(
    before: PolicyPlan,
    after: PolicyPlan,
    old_facts: Mapping[str, FactPlan],
    new_facts: Mapping[str, FactPlan],
) -> Iterator[Change]:
    if before == after:
        return
    found = list(_aspects(before, after, new_facts, old_facts))
    # labels, notes and wording are part of the plan but not of the lines above
    yield from found or [Change("wording", ("labels or notes as before",), ("labels or notes reworded",))]


def _aspects(
    before: PolicyPlan | None,
    after: PolicyPlan | None,
    facts: Mapping[str, FactPlan],
    old_facts: Mapping[str, FactPlan] | None = None,
) -> Iterator[Change]:
    """The aspects of a policy that differ (for an added or removed policy: all of them)."""
    old_facts = facts if old_facts is None else old_facts
    for aspect, render in _RENDERERS:
        old = () if before is None else tuple(render(before, old_facts))
        new = () if after is None else tuple(render(after, facts))
        if old != new:
            yield Change(aspect, old, new)


# --- how each aspect reads -----------------------------------------------------------------


def _title(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    yield f"{plan.title} / {plan.title_en}"


def _period(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    start, until = plan.effective.start, plan.effective.until
    yield f"in force {start.isoformat() if start else '…'} to {until.isoformat() if until else '…'}"


def _zones(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    if plan.applies_in is None:
        yield "applies everywhere"
        return
    yield f"zones as written: {', '.join(sorted(plan.zones))}"
    yield from (f"applies in {zone}" for zone in sorted(plan.applies_in))


def _source(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    source = plan.source
    number = f" {source.number}" if source.number else ""
    yield f"document {source.document_id}: {source.document}{number} ({source.issuer})"
    yield f"article {source.article or '—'}"
    yield f"provenance {source.provenance}"
    if source.url:
        yield f"url {source.url}"
    if source.superseded_by:
        yield f"superseded by {source.superseded_by}"


def _criteria(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    for criterion in plan.criteria:
        yield "unless:" if criterion.exclusion else "when:"
        yield from _node_lines(criterion.node, facts, 1)


def _node_lines(node: Node, facts: Mapping[str, FactPlan], depth: int) -> Iterator[str]:
    indent = "  " * depth
    cited = _cited(node.article, node.provenance)
    if isinstance(node, Group):
        yield f"{indent}{node.kind}:{cited}"
        for child in node.children:
            yield from _node_lines(child, facts, depth + 1)
        return
    assert isinstance(node, Comparison)
    yield f"{indent}{comparison_text(node, facts.get(node.fact))}{cited}"


def _cited(article: str | None, provenance: str | None) -> str:
    parts = [p for p in (article, provenance) if p]
    return f"  [{', '.join(parts)}]" if parts else ""


_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


def comparison_text(leaf: Comparison, fact: FactPlan | None) -> str:
    """`tech_staff_share ≥ 10%`, `registration_date ≤ as_of - 1 year(s)`, `zone in {a, b}`."""
    unit = None if fact is None else fact.unit
    operand: Any = leaf.operand
    if leaf.op == "between":
        low, high = (operand_text(v, unit) for v in operand)
        return f"{leaf.fact} between {low} and {high}"
    if leaf.op in ("in", "not_in", "prefix_in"):
        items = ", ".join(sorted(operand_text(v, unit) for v in operand))
        return f"{leaf.fact} {leaf.op.replace('_', ' ')} {{{items}}}"
    return f"{leaf.fact} {_SYMBOLS.get(leaf.op, leaf.op)} {operand_text(operand, unit)}"


def operand_text(value: object, unit: Unit | None) -> str:
    if isinstance(value, DateBound):
        return value.text()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal) and unit is not None:
        return format_quantity(value, unit, "en")
    return str(value)


def _band(band: Band, unit: Unit, what: str) -> str:
    if band.rate is not None:
        pays = f"{format_quantity(band.rate, Unit.RATIO, 'en')} of the base"
    elif what == "points":
        pays = f"{band.amount} points"
    else:
        pays = format_money(band.amount or Decimal(0), "en")
    return f"{band.text(unit, 'en')} → {pays}"


def _benefit(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    benefit = plan.benefit
    yield f"{benefit.kind} ({benefit.amount_kind}): {benefit.en}"
    yield from _benefit_terms(benefit, facts)
    if benefit.cap is not None:
        yield f"cap {format_money(benefit.cap, 'en')}"
    if benefit.provenance:
        yield f"provenance {benefit.provenance}"


def _benefit_terms(benefit: BenefitPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    if benefit.fixed is not None:
        yield f"pays {format_money(benefit.fixed, 'en')}"
    if benefit.factor is not None:
        factor = benefit.factor
        standard = "" if factor.standard is None else f" (standard {operand_text(factor.standard, Unit.RATIO)})"
        yield f"{benefit.base} × {format_quantity(factor.rate, factor.unit, 'en')}{standard}"
    if benefit.by is not None:
        by = facts.get(benefit.by)
        unit = Unit.RATIO if by is None or by.unit is None else by.unit
        base = f" of {benefit.base}" if benefit.base else ""
        yield f"tiers by {benefit.by}{base}:"
        yield from (f"  {_band(band, unit, 'yuan')}" for band in benefit.bands)


def _stacking(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    stacking = plan.stacking
    if stacking is None:
        return
    exclusive = "exclusive (highest pays)" if stacking.exclusive else "not exclusive"
    cap = "" if stacking.cap is None else f", group cap {format_money(stacking.cap, 'en')}"
    yield f"group {stacking.group}: {exclusive}{cap}"


def _other(plan: PolicyPlan, facts: Mapping[str, FactPlan]) -> Iterator[str]:
    yield from (f"requires {r.en}" for r in plan.requires)
    if plan.monotone:
        yield f"monotone in {', '.join(plan.monotone)}"
    if plan.note:
        yield f"note {plan.note}"


_RENDERERS = (
    ("title", _title),
    ("period", _period),
    ("zones", _zones),
    ("source", _source),
    ("criteria", _criteria),
    ("benefit", _benefit),
    ("stacking", _stacking),
    ("requirements and notes", _other),
)
