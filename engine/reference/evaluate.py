"""Evaluate one policy (its plan compiled into closures) for one profile, then apply stacking
across the results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from ..compile.plan import Basis, FactPlan, Period, PolicyPlan, StackingPlan
from ..model.units import format_money
from .amounts import Compute, compile_amount
from .conditions import CNode, Truths, compile_node, leaves
from .context import Context, Missing
from .explain import (
    failing_leaves,
    gap,
    iter_unknown_leaves,
    trace,
    trace_node,
    truths_of,
    unknown_leaves,
)
from .logic import FALSE, NEGATED, TRUE, UNKNOWN, Truth
from .results import (
    Gap,
    Later,
    PolicyResult,
    SourceInfo,
    Status,
    Step,
    Text,
    Trace,
    assemble_filled,
    assemble_later,
    blank,
)


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    """A policy's plan compiled for the reference evaluator: its criteria as closures (`when`,
    the conditions that must hold; `unless`, the exclusions), its amount as a function of the
    context, and what every result of it shows whatever the profile. Internal to the
    reference evaluator; `PolicySet` hands out the plan."""

    plan: PolicyPlan
    when: CNode | None
    unless: tuple[CNode, ...]
    compute: Compute
    # For a zone the policy does not apply in but some zones inside it do (`zgq`, whose Taiyuan
    # parks get Taiyuan's policies): those zones, named in the reason.
    inside: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What every result of this policy shows whatever the profile, built once here rather than
    # per evaluation: the result's fields in order, those that vary left None. Never changed
    # (a plain dict, since a read-only proxy's copy costs more); each result gets a copy, and
    # its own lists.
    _template: dict[str, Any] = field(init=False, repr=False)
    # The template with the last basis a result was made on filled in (bases are shared by
    # every evaluation on one day: `PolicySet`'s `_bases`), and whether the policy is in force
    # on it, replaced for another basis; one triple, set at once, so threads on other days at
    # most make it again.
    _on_basis: tuple[Basis | None, dict[str, Any], bool] = field(init=False, repr=False)
    _zone_list: tuple[str, ...] = field(init=False, repr=False)
    _requires: tuple[Text, ...] = field(init=False, repr=False)
    _outside_period: Text = field(init=False, repr=False)
    _outside_zones: Text = field(init=False, repr=False)
    _trees: tuple[CNode, ...] = field(init=False, repr=False)  # `when` (if any), then `unless`
    # Whether an unknown of its criteria may await an expert's judgement (a leaf's fact
    # `may_need_review`); if not, an open verdict is undetermined.
    _may_need_review: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        plan = self.plan
        template = blank(PolicyResult)
        template.update(
            policy_id=plan.id,
            title=Text(zh=plan.title, en=plan.title_en),
            benefit=Text(zh=plan.benefit.zh, en=plan.benefit.en),
            benefit_kind=plan.benefit.kind,
            amount_kind=plan.benefit.amount_kind,
            source=plan.source,
            effective_from=plan.effective.start,
            effective_until=plan.effective.until,
            attaches=plan.attaches,
        )
        period = _period(plan.effective)
        outside = (
            Text(zh=f"该纳税年度不在有效期内（{period.zh}）",
                 en=f"not in force for this tax year ({period.en})")
            if plan.attaches == "tax_year"
            else Text(zh=f"不在有效期内（{period.zh}）", en=f"not in force on this date ({period.en})")
        )  # fmt: skip
        where = ", ".join(sorted(plan.zones))
        for name, value in (
            ("_template", template),
            ("_on_basis", (None, template, False)),
            ("_zone_list", tuple(sorted(plan.zones))),
            ("_requires", tuple(Text(zh=r.zh, en=r.en) for r in plan.requires)),
            ("_outside_period", outside),
            ("_outside_zones", Text(zh=f"仅适用于 {where}", en=f"applies only in {where}")),
            ("_trees", (*([] if self.when is None else [self.when]), *self.unless)),
        ):  # fmt: skip
            object.__setattr__(self, name, value)
        review = any(leaf.fact_def.may_need_review for tree in self._trees for leaf in leaves(tree))
        object.__setattr__(self, "_may_need_review", review)

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def stacking(self) -> StackingPlan | None:
        return self.plan.stacking

    @property
    def source(self) -> SourceInfo:
        return self.plan.source

    def result(
        self,
        status: Status,
        basis: Basis,
        *,
        reason: Text | None = None,
        amount: Decimal | None = None,
        calculation: list[Step] | None = None,
        missing: list[str] | None = None,
        missing_inputs: list[str] | None = None,
        review: list[str] | None = None,
        gaps: list[Gap] | Later | None = None,
        trace: Trace | Later | None = None,
    ) -> PolicyResult:
        """A result of this policy, before stacking (so `amount_alone` is `amount`); gaps and
        trace may be `Later`, computed when read."""
        values = self._verdict(status, basis, reason)
        if amount is not None:
            values["amount"] = values["amount_alone"] = amount
        if calculation:  # a copy: a benefit may hand every evaluation the same list of steps
            values["calculation"] = [*calculation]
        if missing:
            values["missing"] = missing
        if missing_inputs:
            values["missing_inputs"] = missing_inputs
        if review:
            values["review"] = review
        if gaps:
            values["gaps"] = gaps
        if trace is not None:
            values["trace"] = trace
        if trace.__class__ is Later or gaps.__class__ is Later:
            return assemble_later(PolicyResult, values)
        return assemble_filled(PolicyResult, values)

    def verdict_only(self, status: Status, basis: Basis, reason: Text | None) -> PolicyResult:
        """`result(status, basis, reason=reason)`: a verdict with no amount, steps, facts,
        gaps or trace (screening's most common result), without `result`'s tests of each."""
        return assemble_filled(PolicyResult, self._verdict(status, basis, reason))

    def _verdict(self, status: Status, basis: Basis, reason: Text | None) -> dict[str, Any]:
        """A result's values with its status and reason, every list of it new and empty (the
        template's fields, in the model's order)."""
        values = self._on(basis).copy()
        values["status"] = status
        values["zones"] = [*self._zone_list]
        values["calculation"] = []
        values["missing"] = []
        values["missing_inputs"] = []
        values["review"] = []
        values["gaps"] = []
        if reason is not None:
            values["reason"] = reason
        values["requires"] = [*self._requires]
        return values

    def _on(self, basis: Basis) -> dict[str, Any]:
        """The template with the basis filled in, kept for the next result on it."""
        kept = self._on_basis
        return (kept if kept[0] is basis else self._keep(basis))[1]

    def in_force(self, basis: Basis) -> bool:
        """Whether the policy is in force on the basis's day (`Period.covers`), kept with the
        template for the next evaluation on it."""
        kept = self._on_basis
        return (kept if kept[0] is basis else self._keep(basis))[2]

    def _keep(self, basis: Basis) -> tuple[Basis, dict[str, Any], bool]:
        template = self._template.copy()
        template.update(evaluated_on=basis.on, fiscal_year=basis.fiscal_year,
                        tax_year=basis.tax_year)  # fmt: skip
        kept = (basis, template, self.plan.effective.covers(basis.on))
        object.__setattr__(self, "_on_basis", kept)
        return kept


def compile_policy(
    plan: PolicyPlan,
    facts: Mapping[str, FactPlan],
    below: Mapping[str, frozenset[str]] | None = None,
) -> CompiledPolicy:
    """`below`: each zone's zones inside it (at any depth), for the reasons of `inside`."""
    required = [compile_node(c.node, facts) for c in plan.criteria if not c.exclusion]
    assert len(required) <= 1, "the loader writes a policy's condition as one criterion"
    applies_in = plan.applies_in
    inside = {
        zone: tuple(sorted(inner & applies_in))
        for zone, inner in (below or {}).items()
        if applies_in is not None and zone not in applies_in and inner & applies_in
    }
    return CompiledPolicy(
        plan=plan,
        when=required[0] if required else None,
        unless=tuple(compile_node(c.node, facts) for c in plan.criteria if c.exclusion),
        compute=compile_amount(plan.benefit, facts),
        inside=inside,
    )


def _outside_zone(cp: CompiledPolicy, zone: str) -> Text:
    """Why a policy is not in force in `zone`: the zones it applies in, and the zones inside
    `zone` that it applies in, if any (a more precise location might place the profile there)."""
    inner = cp.inside.get(zone)
    if not inner:
        return cp._outside_zones
    shown = ", ".join(inner[:6]) + (", …" if len(inner) > 6 else "")
    return Text(
        zh=f"{cp._outside_zones.zh}；{zone} 仅部分位于其中：如企业位于 {shown}，请填写该区域",
        en=f"{cp._outside_zones.en}; {zone} lies only partly in it: if the enterprise is in "
        f"{shown}, give that zone",
    )


def _period(effective: Period) -> Text:
    start = effective.start.isoformat() if effective.start else "…"
    until = effective.until.isoformat() if effective.until else "…"
    return Text(zh=f"{start} 至 {until}", en=f"{start} to {until}")


_EXCLUDED = Text(zh="存在排除情形", en="an exclusion applies")


Outcome = tuple[
    Status, Decimal | None, list[Step], dict[str, Missing], list[Gap] | Later, Text | None
]


def _outside(cp: CompiledPolicy, ctx: Context, zone: str | None) -> Text | None:
    """Why the policy is not in force for the profile in `zone` on the context's basis (the
    evaluation date, or the tax year's last day), or None if it is."""
    if not cp.in_force(ctx.basis):
        return cp._outside_period
    applies_in = cp.plan.applies_in
    if applies_in is not None and zone is not None and zone not in applies_in:
        return _outside_zone(cp, zone)
    return None


def _truth(cp: CompiledPolicy, ctx: Context, zone: str | None) -> tuple[Truth, bool, bool]:
    """The criteria's truth for a policy in force, whether an exclusion applies, and whether
    the zone is known where it matters."""
    truth = TRUE if cp.when is None else cp.when.fn(ctx)
    excluded = False
    for exclusion in cp.unless:
        outcome = exclusion.fn(ctx)
        excluded = excluded or outcome is TRUE
        negated = NEGATED[outcome]
        if negated < truth:
            truth = negated
    zone_known = cp.plan.applies_in is None or zone is not None
    if not zone_known:
        # Without the zone even failed criteria decide nothing: a known zone elsewhere would
        # make the policy not_in_force rather than ineligible (soundness of unknowns).
        truth = UNKNOWN
    return truth, excluded, zone_known


def verdict(cp: CompiledPolicy, ctx: Context, zone: str | None) -> Status:
    """The status `evaluate_policy` gives, without building its result."""
    if _outside(cp, ctx, zone) is not None:
        return Status.NOT_IN_FORCE
    truth, _, zone_known = _truth(cp, ctx, zone)
    if truth is TRUE:
        return Status.ELIGIBLE
    if truth is FALSE:
        return Status.INELIGIBLE
    return _open_status(cp, ctx, zone_known)


def _open_status(cp: CompiledPolicy, ctx: Context, zone_known: bool) -> Status:
    """The status `_open` gives, without collecting the missing facts: undetermined as soon
    as one unknown needs data rather than an expert's judgement."""
    if not zone_known or not cp._may_need_review:
        return Status.UNDETERMINED
    for node in cp._trees:
        for leaf in iter_unknown_leaves(node, ctx):
            value = ctx[leaf.fact_def.id]
            assert isinstance(value, Missing)
            if not value.review:
                return Status.UNDETERMINED
    return Status.NEEDS_REVIEW


def evaluate_policy(
    cp: CompiledPolicy,
    ctx: Context,
    zone: str | None,
    explain: bool,
    gaps: bool = True,
) -> PolicyResult:
    """One policy's result for the profile in `zone` (None: unknown); `gaps` adds what it would
    take to pass when it is ineligible."""
    basis = ctx.basis
    outside = _outside(cp, ctx, zone)
    if outside is not None:
        return cp.result(Status.NOT_IN_FORCE, basis, reason=outside)
    truth, excluded, zone_known = _truth(cp, ctx, zone)
    if truth is FALSE and not gaps and not explain:  # most results of screening
        return cp.verdict_only(Status.INELIGIBLE, basis, _EXCLUDED if excluded else None)
    # Every node's truth, for what reads the whole tree (the gaps, the trace): one for both,
    # each node computed once.
    truths = truths_of(ctx) if explain or (gaps and truth is FALSE) else None
    if truth is TRUE:
        decided = _eligible(cp, ctx)
    elif truth is FALSE:
        decided = _ineligible(cp, ctx, excluded, truths if gaps else None)
    else:
        decided = _open(cp, ctx, zone_known)
    status, amount, steps, missing, found, reason = decided
    trace_result = None
    if explain:
        assert truths is not None
        trace_result = Later(partial(_trace, cp, truths, truth, status))
    if not missing:  # most results: nothing to sort
        return cp.result(status, basis, amount=amount, calculation=steps, gaps=found,
                         reason=reason, trace=trace_result)  # fmt: skip
    return _with_missing(cp, basis, decided, trace_result)


def _with_missing(
    cp: CompiledPolicy, basis: Basis, outcome: Outcome, trace: Trace | Later | None
) -> PolicyResult:
    """A result that lists facts: those it lacks, the profile inputs behind them, and those
    awaiting an expert."""
    status, amount, steps, missing, found, reason = outcome
    lacking: list[str] = []
    review: list[str] = []
    inputs: set[str] = set()
    for fact, why in missing.items():
        if why.review:
            review.append(fact)
        else:
            lacking.append(fact)
            inputs.update(why.inputs)
    lacking.sort()
    review.sort()
    return cp.result(
        status,
        basis,
        amount=amount,
        calculation=steps,
        missing=lacking,
        missing_inputs=sorted(inputs),
        review=review,
        gaps=found,
        reason=reason,
        trace=trace,
    )


_NONE: dict[str, Missing] = {}  # shared, never changed: no fact is missing


def _eligible(cp: CompiledPolicy, ctx: Context) -> Outcome:
    amount = cp.compute(ctx)
    missing = _NONE
    if amount.missing is not None:
        missing = {
            fact: amount.missing
            for fact in cp.plan.benefit.reads
            if isinstance(ctx[fact], Missing)
        }
    return Status.ELIGIBLE, amount.value, amount.steps, missing, [], None


def _ineligible(cp: CompiledPolicy, ctx: Context, excluded: bool, truths: Truths | None) -> Outcome:
    """`truths` given: with the gaps (computed when read)."""
    reason = _EXCLUDED if excluded else None
    found: list[Gap] | Later = [] if truths is None else Later(partial(_gaps, cp, truths))
    return Status.INELIGIBLE, None, [], _NONE, found, reason


def _gaps(cp: CompiledPolicy, truths: Truths) -> list[Gap]:
    """What it would take to pass an ineligible policy: its failing leaves, closest first."""
    ctx = truths.ctx
    pairs = [] if cp.when is None else failing_leaves(cp.when, ctx, TRUE, truths)
    for exclusion in cp.unless:
        if truths[exclusion] is TRUE:
            pairs.extend(failing_leaves(exclusion, ctx, FALSE, truths))
    return sorted(
        (gap(leaf, negate, ctx, ctx.facts) for leaf, negate in pairs),
        key=lambda g: (g.distance is None, g.distance or 0, g.fact),
    )


def _open(cp: CompiledPolicy, ctx: Context, zone_known: bool) -> Outcome:
    """Undetermined, or awaiting review: the facts whose values could decide it."""
    missing: dict[str, Missing] = {}
    for node in cp._trees:
        for leaf in unknown_leaves(node, ctx):
            value = ctx[leaf.fact_def.id]
            assert isinstance(value, Missing)
            missing[leaf.fact_def.id] = value
    if not zone_known:
        missing["zone"] = Missing(frozenset({"zone"}))
    needs_data = any(not m.review for m in missing.values())
    status = Status.UNDETERMINED if needs_data else Status.NEEDS_REVIEW
    return status, None, [], missing, [], None


def _trace(cp: CompiledPolicy, truths: Truths, truth: Truth, status: Status) -> Trace:
    article, ctx = cp.plan.source.article, truths.ctx
    children = [] if cp.when is None else [trace(cp.when, ctx, article, truths=truths)]
    children += [trace(node, ctx, article, True, truths) for node in cp.unless]
    outcome_text = {TRUE: "true", FALSE: "false"}.get(
        truth, "review" if status is Status.NEEDS_REVIEW else "unknown"
    )
    return trace_node(kind="all", outcome=outcome_text, children=children)


def apply_stacking(
    results: list[PolicyResult], stacking_of: Mapping[str, StackingPlan | None]
) -> list[PolicyResult]:
    """Exclusive groups pay only their highest member (ties: lowest id); group caps limit the
    sum (`plan.GroupPlan`). `stacking_of` gives each policy's stacking by id."""
    groups: dict[str, list[int]] = {}
    for index, result in enumerate(results):
        stacking = stacking_of[result.policy_id]
        if stacking is not None and result.status is Status.ELIGIBLE and result.amount is not None:
            groups.setdefault(stacking.group, []).append(index)
    out = list(results)
    for group, members in sorted(groups.items()):
        stacking = stacking_of[results[members[0]].policy_id]
        assert stacking is not None
        ranked = sorted(members, key=lambda i: (-(results[i].amount or 0), results[i].policy_id))
        if stacking.exclusive:
            _highest_only(out, ranked, group)
            ranked = ranked[:1]
        if stacking.cap is not None:
            _group_cap(out, ranked, group, stacking.cap)
    return out


def _highest_only(out: list[PolicyResult], ranked: list[int], group: str) -> None:
    winner = out[ranked[0]]
    for i in ranked[1:]:
        note = Text(
            zh=f"与 {winner.policy_id} 同属不可重复享受的组 {group}，按就高原则不计入",
            en=f"in exclusive group {group} with {winner.policy_id}, which pays more; not counted",
        )
        out[i] = out[i].model_copy(update={"amount": Decimal(0), "stacking": note})


def _group_cap(out: list[PolicyResult], ranked: list[int], group: str, cap: Decimal) -> None:
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


def default_as_of() -> date:
    return date.today()
