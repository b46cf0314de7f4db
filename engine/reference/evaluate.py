"""Evaluate one compiled policy for one profile, then apply stacking across the results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ..compile.benefits import CompiledBenefit
from ..compile.conditions import CNode
from ..model.facts import FactDef
from ..model.language import Effective, Policy, Stacking
from ..model.units import format_money
from ..model.zones import NATIONAL
from .context import Context, Missing
from .explain import (
    failing_leaves,
    gap,
    trace,
    unknown_leaves,
)
from .logic import FALSE, TRUE, Truth
from .results import (
    Gap,
    PolicyResult,
    SourceInfo,
    Status,
    Step,
    Text,
    Trace,
    assemble,
    blank,
)


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    policy: Policy
    source: SourceInfo
    effective: Effective
    zones: frozenset[str]
    when: CNode | None
    unless: tuple[CNode, ...]
    benefit: CompiledBenefit
    # What every result of this policy shows whatever the profile, built once here rather than
    # per evaluation: the result's fields in order, those that vary left None. Read-only; each
    # result gets a copy, and its own lists.
    _template: MappingProxyType[str, Any] = field(init=False, repr=False)
    _zone_list: tuple[str, ...] = field(init=False, repr=False)
    _requires: tuple[Text, ...] = field(init=False, repr=False)
    _outside_period: Text = field(init=False, repr=False)
    _outside_zones: Text = field(init=False, repr=False)

    def __post_init__(self) -> None:
        policy = self.policy
        template = blank(PolicyResult)
        template.update(
            policy_id=policy.id,
            title=Text(zh=policy.title, en=policy.title_en),
            benefit=Text(zh=policy.benefit.zh, en=policy.benefit.en),
            benefit_kind=policy.benefit.kind,
            amount_kind=self.benefit.kind,
            source=self.source,
            effective_from=self.effective.start,
            effective_until=self.effective.until,
        )
        period = _period(self.effective)
        where = ", ".join(sorted(self.zones))
        for name, value in (
            ("_template", MappingProxyType(template)),
            ("_zone_list", tuple(sorted(self.zones))),
            ("_requires", tuple(Text(zh=r.zh, en=r.en or r.zh) for r in policy.requires)),
            ("_outside_period", Text(zh=f"不在有效期内（{period.zh}）",
                                     en=f"not in force on this date ({period.en})")),
            ("_outside_zones", Text(zh=f"仅适用于 {where}", en=f"applies only in {where}")),
        ):  # fmt: skip
            object.__setattr__(self, name, value)

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def stacking(self) -> Stacking | None:
        return self.policy.stacking

    def result(
        self,
        status: Status,
        *,
        reason: Text | None = None,
        amount: Decimal | None = None,
        calculation: list[Step] | None = None,
        missing: list[str] | None = None,
        missing_inputs: list[str] | None = None,
        review: list[str] | None = None,
        gaps: list[Gap] | None = None,
        trace: Trace | None = None,
    ) -> PolicyResult:
        """A result of this policy, before stacking (so `amount_alone` is `amount`)."""
        values = self._template.copy()
        values["status"] = status
        values["zones"] = [*self._zone_list]
        values["amount"] = values["amount_alone"] = amount
        # A copy: a benefit may hand every evaluation the same list of steps.
        values["calculation"] = [*calculation] if calculation else []
        values["missing"] = missing or []
        values["missing_inputs"] = missing_inputs or []
        values["review"] = review or []
        values["gaps"] = gaps or []
        values["reason"] = reason
        values["requires"] = [*self._requires]
        values["trace"] = trace
        return assemble(PolicyResult, values)


def _period(effective: Effective) -> Text:
    start = effective.start.isoformat() if effective.start else "…"
    until = effective.until.isoformat() if effective.until else "…"
    return Text(zh=f"{start} 至 {until}", en=f"{start} to {until}")


_EXCLUDED = Text(zh="存在排除情形", en="an exclusion applies")


def evaluate_policy(
    cp: CompiledPolicy,
    ctx: Context,
    zone_chain: tuple[str, ...] | None,
    facts: Mapping[str, FactDef],
    explain: bool,
    gaps: bool = True,
) -> PolicyResult:
    """One policy's result; `gaps` adds what it would take to pass when it is ineligible."""
    if not cp.effective.covers(ctx.as_of):
        return cp.result(Status.NOT_IN_FORCE, reason=cp._outside_period)
    zone_known = NATIONAL in cp.zones or zone_chain is not None
    if zone_chain is not None and NATIONAL not in cp.zones and cp.zones.isdisjoint(zone_chain):
        return cp.result(Status.NOT_IN_FORCE, reason=cp._outside_zones)

    truth = TRUE if cp.when is None else cp.when.fn(ctx)
    excluded = False
    for exclusion in cp.unless:
        outcome = exclusion.fn(ctx)
        excluded = excluded or outcome is TRUE
        truth = min(truth, outcome.negate())
    if not zone_known:
        # Without the zone even failed criteria decide nothing: a known zone elsewhere would
        # make the policy not_in_force rather than ineligible (soundness of unknowns).
        truth = Truth.UNKNOWN

    missing: dict[str, Missing] = {}
    found_gaps: list[Gap] = []
    amount_value: Decimal | None = None
    steps: list[Step] = []
    reason: Text | None = None
    if truth is TRUE:
        status = Status.ELIGIBLE
        amount = cp.benefit.compute(ctx)
        amount_value, steps = amount.value, amount.steps
        if amount.missing is not None:
            missing.update(
                {
                    fact: amount.missing
                    for fact in cp.benefit.facts
                    if isinstance(ctx.get(fact), Missing)
                }
            )
    elif truth is FALSE:
        status = Status.INELIGIBLE
        if excluded:
            reason = _EXCLUDED
        if gaps:
            pairs = [] if cp.when is None else failing_leaves(cp.when, ctx)
            for exclusion in cp.unless:
                if exclusion.fn(ctx) is TRUE:
                    pairs.extend(failing_leaves(exclusion, ctx, FALSE))
            found_gaps = sorted(
                (gap(leaf, negate, ctx, facts) for leaf, negate in pairs),
                key=lambda g: (g.distance is None, g.distance or 0, g.fact),
            )
    else:
        nodes = ([cp.when] if cp.when is not None else []) + list(cp.unless)
        for node in nodes:
            for leaf in unknown_leaves(node, ctx):
                value = ctx.get(leaf.fact_def.id)
                assert isinstance(value, Missing)
                missing[leaf.fact_def.id] = value
        if not zone_known:
            missing["zone"] = Missing(frozenset({"zone"}))
        needs_data = any(not m.review for m in missing.values())
        status = Status.UNDETERMINED if needs_data else Status.NEEDS_REVIEW

    trace_result: Trace | None = None
    if explain:
        article = cp.source.article
        children = [] if cp.when is None else [trace(cp.when, ctx, article)]
        children += [trace(node, ctx, article, exclusion=True) for node in cp.unless]
        outcome_text = {TRUE: "true", FALSE: "false"}.get(
            truth, "review" if status is Status.NEEDS_REVIEW else "unknown"
        )
        trace_result = Trace(kind="all", outcome=outcome_text, children=children)

    if not missing:  # most results: nothing to sort
        return cp.result(
            status,
            amount=amount_value,
            calculation=steps,
            gaps=found_gaps,
            reason=reason,
            trace=trace_result,
        )
    return cp.result(
        status,
        amount=amount_value,
        calculation=steps,
        missing=sorted(f for f, m in missing.items() if not m.review),
        missing_inputs=sorted({i for m in missing.values() if not m.review for i in m.inputs}),
        review=sorted(f for f, m in missing.items() if m.review),
        gaps=found_gaps,
        reason=reason,
        trace=trace_result,
    )


def apply_stacking(
    results: list[PolicyResult], compiled: Mapping[str, CompiledPolicy]
) -> list[PolicyResult]:
    """Exclusive groups pay only their highest member (ties: lowest id); group caps limit the sum."""
    groups: dict[str, list[int]] = {}
    for index, result in enumerate(results):
        stacking = compiled[result.policy_id].stacking
        if stacking is not None and result.status is Status.ELIGIBLE and result.amount is not None:
            groups.setdefault(stacking.group, []).append(index)
    out = list(results)
    for group, members in sorted(groups.items()):
        stacking = compiled[results[members[0]].policy_id].stacking
        assert stacking is not None
        ranked = sorted(members, key=lambda i: (-(results[i].amount or 0), results[i].policy_id))
        if stacking.exclusive:
            winner = results[ranked[0]]
            for i in ranked[1:]:
                note = Text(
                    zh=f"与 {winner.policy_id} 同属不可重复享受的组 {group}，按就高原则不计入",
                    en=f"in exclusive group {group} with {winner.policy_id}, which pays more; not counted",
                )
                out[i] = out[i].model_copy(update={"amount": Decimal(0), "stacking": note})
            ranked = ranked[:1]
        if stacking.cap is not None:
            from ..model.units import parse_quantity

            cap = parse_quantity(stacking.cap).value
            left = cap
            for i in ranked:
                amount = out[i].amount or Decimal(0)
                paid = min(amount, left)
                left -= paid
                if paid < amount:
                    note = Text(
                        zh=f"组 {group} 合计封顶 {format_money(cap, 'zh')}，本项计 {format_money(paid, 'zh')}",
                        en=f"group {group} is capped at {format_money(cap, 'en')} in total; counts {format_money(paid, 'en')}",
                    )
                    out[i] = out[i].model_copy(update={"amount": paid, "stacking": note})
    return out


def default_as_of() -> date:
    return date.today()
