"""The invariants every policy must satisfy, each a check `(policy_set, policy_id, scenario)`
that raises `InvariantFailure`.

These are oracles for the evaluators, so they are written apart from the code they check, on
purpose: a verdict is checked against the Kleene combination of its explanation, zones against
their own walk up the zone tree (`Zones.chain`), not the plan's resolved `applies_in`, and an
amount against the cap and stacking rules as the policy states them. Sharing the evaluators'
code here would let one mistake pass both.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias

from ..errors import ProfileError
from ..model.facts import FactType
from ..model.profile import parse_profile
from ..model.zones import NATIONAL, Zones
from ..policyset import PolicySet
from ..reference.results import PolicyResult, Report, Status, Trace
from .inputs import bump
from .profiles import step_size
from .scenarios import Data, InvariantFailure, Scenario, fill_in, valid_data


def _result(report: Report, policy_id: str) -> PolicyResult:
    return next(r for r in report.results if r.policy_id == policy_id)


def _evaluate(
    policy_set: PolicySet,
    data: Data,
    as_of: date,
    policy_id: str,
    explain: bool = False,
    gaps: bool = False,
) -> Report:
    """The policy and the other members of its stacking group (what its invariants read), not
    the whole set: the engine evaluates only those (`evaluate(policy_ids=...)`)."""
    return policy_set.evaluate(
        parse_profile(data), as_of, explain=explain, gaps=gaps,
        policy_ids=_with_group(policy_set, policy_id),
    )  # fmt: skip


def _with_group(policy_set: PolicySet, policy_id: str) -> list[str]:
    stacking = policy_set.get(policy_id).stacking
    if stacking is None:
        return [policy_id]
    members = policy_set.plan.groups[stacking.group].members
    return [policy_id, *(m for m in members if m != policy_id)]


def check_determinism(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """Same inputs, same date → same report; and a policy evaluated alone gets the verdict and
    amount (before stacking) it gets among the whole set."""
    first = _evaluate(policy_set, scenario.data, scenario.as_of, policy_id, explain=True, gaps=True)
    second = _evaluate(
        policy_set, copy.deepcopy(scenario.data), scenario.as_of, policy_id, explain=True, gaps=True
    )
    if first.to_json_dict() != second.to_json_dict():
        raise InvariantFailure("determinism", policy_id, "two evaluations gave different reports")
    alone = policy_set.evaluate(
        scenario.profile, scenario.as_of, policy_ids=[policy_id], gaps=False
    )
    whole = policy_set.evaluate(scenario.profile, scenario.as_of, gaps=False)
    a, b = alone.results[0], _result(whole, policy_id)
    if (a.status, a.amount_alone, a.missing, a.review) != (
        b.status,
        b.amount_alone,
        b.missing,
        b.review,
    ):
        raise InvariantFailure(
            "determinism",
            policy_id,
            f"alone: {a.status.value} {a.amount_alone}; in the set: {b.status.value} {b.amount_alone}",
        )


def check_soundness(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """A decided verdict (eligible / ineligible) never changes when unknown facts are filled
    in, and a known amount stays the same. (Ineligible may become not_in_force when the zone
    becomes known and lies outside the policy's zones: both decide that nothing is due.)"""
    before = _result(_evaluate(policy_set, scenario.data, scenario.as_of, policy_id), policy_id)
    if before.status not in (Status.ELIGIBLE, Status.INELIGIBLE):
        return
    filled, _ = valid_data(fill_in(scenario.data, scenario.filler))
    after = _result(_evaluate(policy_set, filled, scenario.as_of, policy_id), policy_id)
    added = sorted(k for k in _leaf_keys(filled) if k not in _leaf_keys(scenario.data))
    shown = ", ".join(added[:8]) + (" …" if len(added) > 8 else "")
    zone_filled = "zone" not in scenario.data and "zone" in filled
    refined = before.status is Status.INELIGIBLE and after.status is Status.NOT_IN_FORCE
    if after.status is not before.status and not (refined and zone_filled):
        raise InvariantFailure(
            "soundness",
            policy_id,
            f"{before.status.value} became {after.status.value} once these unknown fields were "
            f"filled in: {shown}",
        )
    if before.amount_alone is not None and after.amount_alone != before.amount_alone:
        raise InvariantFailure(
            "soundness",
            policy_id,
            f"the amount {before.amount_alone} became {after.amount_alone} once these unknown "
            f"fields were filled in: {shown}",
        )


def _leaf_keys(data: Any, prefix: str = "") -> set[str]:
    if isinstance(data, dict) and data:
        return {k for key, v in data.items() for k in _leaf_keys(v, f"{prefix}{key}.")}
    return {prefix.rstrip(".")}


_TRUTH = {"false": 0, "unknown": 1, "review": 1, "true": 2}
_EXPECTED_ROOT = {
    Status.ELIGIBLE: {"true"},
    Status.INELIGIBLE: {"false"},
    Status.UNDETERMINED: {"unknown", "review"},
    Status.NEEDS_REVIEW: {"review"},
}


def check_explanation(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """The evaluated tree agrees with the verdict: its root outcome is the verdict, every node is
    the Kleene combination of its children, a leaf is unknown exactly when its value is, and
    the failing, missing and review facts named in the result appear in the tree as such."""
    result = _result(
        _evaluate(policy_set, scenario.data, scenario.as_of, policy_id, explain=True, gaps=True),
        policy_id,
    )
    if result.status is Status.NOT_IN_FORCE:
        if result.trace is not None:
            raise InvariantFailure("explanation", policy_id, "not in force, yet has a trace")
        return
    fail = _failer("explanation", policy_id)
    tree = result.trace
    if tree is None:
        fail("no trace although an explanation was asked for")
        return
    _check_root(result, tree, fail)
    for child in tree.children:
        _check_trace(child, fail)
    _check_named(result, tree, fail)


def _check_root(result: PolicyResult, tree: Trace, fail: Callable[[str], None]) -> None:
    """The root is the verdict and the Kleene combination of the criteria (an exclusion
    counted negated)."""
    if tree.outcome not in _EXPECTED_ROOT[result.status]:
        fail(f"verdict {result.status.value} but the explanation's outcome is {tree.outcome}")
    parts = [2 - _TRUTH[c.outcome] if c.exclusion else _TRUTH[c.outcome] for c in tree.children]
    combined = min(parts, default=2)
    root = _TRUTH[tree.outcome]
    zone_unknown = "zone" in result.missing
    # Without the zone nothing is decided, whatever the criteria combine to.
    if root != combined and not (zone_unknown and root == 1):
        fail(f"the verdict's tree is {tree.outcome} but its criteria combine to {combined}")


def _check_named(result: PolicyResult, tree: Trace, fail: Callable[[str], None]) -> None:
    """The gaps, missing facts and facts for review of the result are leaves of the tree with
    that outcome."""
    by_outcome: dict[str, set[str]] = {}
    for node in _trace_leaves(tree):
        if node.fact is not None:
            by_outcome.setdefault(node.outcome, set()).add(node.fact)
    if result.status is Status.INELIGIBLE:
        if not result.gaps:
            fail("ineligible, yet no failing criterion is named")
        decided = by_outcome.get("false", set()) | by_outcome.get("true", set())
        named = {g.fact for g in result.gaps} - decided
        if named:
            fail(f"gaps name {sorted(named)}, which are not decided criteria in the tree")
    if result.status is Status.UNDETERMINED:
        named = set(result.missing) - by_outcome.get("unknown", set()) - {"zone"}
        if not result.missing or named:
            fail(f"undetermined, but missing facts {result.missing} are not unknown in the tree")
    if result.status is Status.NEEDS_REVIEW:
        named = set(result.review) - by_outcome.get("review", set())
        if not result.review or named:
            fail(f"needs review, but {result.review} are not awaiting review in the tree")


def _failer(invariant: str, policy_id: str) -> Callable[[str], None]:
    def fail(message: str) -> None:
        raise InvariantFailure(invariant, policy_id, message)

    return fail


def _trace_leaves(node: Trace) -> list[Trace]:
    if node.kind == "leaf":
        return [node]
    return [leaf for child in node.children for leaf in _trace_leaves(child)]


def _check_trace(node: Trace, fail: Callable[[str], None]) -> None:
    truth = _TRUTH[node.outcome]
    if node.kind == "leaf":
        if (node.value is None) != (truth == 1):
            fail(f"criterion on {node.fact}: value {node.value!r} but outcome {node.outcome}")
        return
    values = [_TRUTH[c.outcome] for c in node.children]
    expected = (
        min(values) if node.kind == "all" else max(values) if node.kind == "any" else 2 - values[0]
    )
    if truth != expected:
        fail(f"an '{node.kind}' node is {node.outcome} but its parts combine to {expected}")
    for child in node.children:
        _check_trace(child, fail)


def check_amounts(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """Amounts are never negative, never above the policy's cap, only paid when eligible, and
    a stacking group never pays more than its cap."""
    report = _evaluate(policy_set, scenario.data, scenario.as_of, policy_id)
    check_report_amounts(policy_set, report, policy_id)


def check_report_amounts(policy_set: PolicySet, report: Report, policy_id: str) -> None:
    """The amount checks of `check_amounts`, on a report already computed."""
    fail = _failer("amounts", policy_id)
    result = _result(report, policy_id)
    plan = policy_set.get(policy_id)
    if result.status is not Status.ELIGIBLE:
        if result.amount is not None or result.amount_alone is not None:
            fail(f"{result.status.value}, yet an amount of {result.amount} is shown")
        return
    _check_amount_values(result, plan.benefit.cap, fail)
    stacking = plan.stacking
    if stacking is not None and stacking.cap is not None:
        paid = _group_paid(policy_set, report, stacking.group)
        total = sum((r.amount or Decimal(0) for r in paid), Decimal(0))
        if total > stacking.cap:
            fail(f"group {stacking.group} pays {total} in total, above its cap {stacking.cap}")


def _check_amount_values(
    result: PolicyResult, cap: Decimal | None, fail: Callable[[str], None]
) -> None:
    """An eligible result's amounts: never negative, never above the cap, and stacking only
    ever lowers them."""
    for name, value in (("amount", result.amount), ("amount before stacking", result.amount_alone)):
        if value is not None and value < 0:
            fail(f"{name} {value} is negative")
        if value is not None and cap is not None and value > cap:
            fail(f"{name} {value} is above the cap {cap}")
    if (result.amount is None) != (result.amount_alone is None) or (
        result.amount is not None
        and result.amount_alone is not None
        and result.amount > result.amount_alone
    ):
        fail(f"after stacking {result.amount} exceeds the amount alone {result.amount_alone}")


def _group_paid(policy_set: PolicySet, report: Report, group: str) -> list[PolicyResult]:
    return [
        r
        for r in report.results
        if r.status is Status.ELIGIBLE
        and (s := policy_set.get(r.policy_id).stacking) is not None
        and s.group == group
    ]


def check_stacking(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """An exclusive group pays at most one member: the one that pays most (就高)."""
    report = _evaluate(policy_set, scenario.data, scenario.as_of, policy_id)
    check_report_stacking(policy_set, report, policy_id)


def check_report_stacking(policy_set: PolicySet, report: Report, policy_id: str) -> None:
    """The checks of `check_stacking`, on a report already computed."""
    stacking = policy_set.get(policy_id).stacking
    if stacking is None or not stacking.exclusive:
        return
    members = _group_paid(policy_set, report, stacking.group)
    paid = [r for r in members if r.amount is not None and r.amount > 0]
    fail = _failer("stacking", policy_id)
    if len(paid) > 1:
        fail(
            f"exclusive group {stacking.group} pays {len(paid)} members: "
            + ", ".join(f"{r.policy_id} {r.amount}" for r in paid)
        )
    best = max((r.amount_alone or Decimal(0) for r in members), default=Decimal(0))
    capped = stacking.cap is not None and stacking.cap == 0
    if best > 0 and not capped and (not paid or paid[0].amount_alone != best):
        fail(f"exclusive group {stacking.group} does not pay its highest member ({best})")


def check_monotone(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """For each fact the policy declares monotone: raising it (through the profile inputs it
    is computed from) never lowers what the policy pays, ineligible counting as zero."""
    plan = policy_set.get(policy_id)
    if not plan.monotone:
        return
    profile = scenario.profile
    only = _with_group(policy_set, policy_id)
    before = _result(policy_set.evaluate(profile, scenario.as_of, gaps=False, policy_ids=only), policy_id)
    award = _award(before)
    if award is None:
        return
    facts = policy_set.plan.facts
    ctx = policy_set.context(profile, scenario.as_of)
    for fact in plan.monotone:
        defn = facts[fact]
        if defn.type is not FactType.QUANTITY:
            continue
        data = copy.deepcopy(scenario.data)
        if not bump(data, defn, step_size(defn.unit, scenario.step), ctx, facts):
            continue
        try:
            raised = parse_profile(data)
        except ProfileError:
            continue
        new_ctx = policy_set.context(raised, scenario.as_of)
        old_value, new_value = ctx.get(fact), new_ctx.get(fact)
        if not (isinstance(old_value, Decimal) and isinstance(new_value, Decimal)):
            continue
        if new_value <= old_value:
            continue
        after = _result(
            policy_set.evaluate(raised, scenario.as_of, gaps=False, policy_ids=only), policy_id
        )
        new_award = _award(after)
        if new_award is not None and new_award < award:
            raise InvariantFailure(
                "monotone",
                policy_id,
                f"raising {fact} from {old_value} to {new_value} lowers the award from "
                f"{award} ({before.status.value}) to {new_award} ({after.status.value})",
            )


def _award(result: PolicyResult) -> Decimal | None:
    if result.status is Status.INELIGIBLE:
        return Decimal(0)
    if result.status is Status.ELIGIBLE and result.amount_kind != "none":
        return result.amount_alone
    return None


def check_in_force(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """`not_in_force` exactly when the date is outside the effective period or the (known)
    zone is outside the policy's zones. The date of a tax-year preference is the last day of
    its (default) tax year, the year before the evaluation date."""
    plan = policy_set.get(policy_id)
    profile = scenario.profile
    result = _result(
        policy_set.evaluate(profile, scenario.as_of, gaps=False, policy_ids=[policy_id]), policy_id
    )
    start, until = plan.effective.start, plan.effective.until
    day = scenario.as_of
    if plan.attaches == "tax_year":
        day = date(day.year - 1, 12, 31)
    outside_dates = (start is not None and day < start) or (until is not None and day > until)
    outside_zone = False
    if profile.zone is not None and NATIONAL not in plan.zones:
        # the zones as written, against the profile's zone and every zone above it
        chain = Zones(dict(policy_set.zones)).chain(profile.zone)
        outside_zone = plan.zones.isdisjoint(chain)
    expected = outside_dates or outside_zone
    if (result.status is Status.NOT_IN_FORCE) != expected:
        raise InvariantFailure(
            "in-force",
            policy_id,
            f"status {result.status.value} on {day} ({plan.attaches}) for effective period "
            f"{start or '…'} to {until or '…'}, zones {sorted(plan.zones)}, profile zone "
            f"{profile.zone}",
        )


# Benefits that must pay something when eligible: cash, and tax benefits of a fixed or banded
# amount. A reduced rate or a deduction on a base of zero saves nothing in an ordinary year.
_MUST_PAY = frozenset({"grant", "rate_of", "tiers", "per_unit"})


def check_pays_something(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """An eligible cash or tax benefit pays more than nothing: an eligible enterprise paid 0
    because its base is zero or a loss, or its banded fact lies in no band (a rate of exports
    the condition lets be zero, tiers on a fact the condition never bounds) is a condition that
    lost a part ("有出口实绩", "盈利"). A tiny base that rounds to 0 is not counted."""
    plan = policy_set.get(policy_id)
    benefit = plan.benefit
    if benefit.amount_kind == "none" or benefit.kind not in _MUST_PAY:
        return
    report = _evaluate(policy_set, scenario.data, scenario.as_of, policy_id)
    result = _result(report, policy_id)
    if result.status is not Status.ELIGIBLE or result.amount_alone != 0:
        return
    ctx = policy_set.context(scenario.profile, scenario.as_of)
    why = []
    if benefit.base is not None:
        base = ctx.get(benefit.base)
        if isinstance(base, Decimal) and base <= 0:
            why.append(f"its base {benefit.base} is {base}")
    if benefit.by is not None:
        value = ctx.get(benefit.by)
        if isinstance(value, Decimal) and not any(band.holds(value) for band in benefit.bands):
            why.append(f"{benefit.by} = {value} is in no band")
    if why:
        raise InvariantFailure(
            "eligible-pays-nothing", policy_id,
            f"eligible but paid 0: {'; '.join(why)} (does the condition lack a part such as "
            "有出口实绩 or 盈利?)",
        )  # fmt: skip


Invariant = Callable[[PolicySet, str, Scenario], None]

INVARIANTS: dict[str, Invariant] = {
    "determinism": check_determinism,
    "soundness": check_soundness,
    "explanation": check_explanation,
    "amounts": check_amounts,
    "stacking": check_stacking,
    "monotone": check_monotone,
    "in-force": check_in_force,
    "eligible-pays-nothing": check_pays_something,
}
SEVERITY: dict[str, str] = {"eligible-pays-nothing": "warning"}  # every other one: error


Invariants: TypeAlias = Iterable[str] | Mapping[str, Invariant]


def _checks(invariants: Invariants | None) -> dict[str, Invariant]:
    """Built-in invariants by name, or a mapping of names to checks (built-in or your own)."""
    if invariants is None:
        return dict(INVARIANTS)
    if isinstance(invariants, Mapping):
        return dict(invariants)
    return {name: INVARIANTS[name] for name in invariants}


def check_all(
    policy_set: PolicySet,
    policy_id: str,
    scenario: Scenario,
    invariants: Invariants | None = None,
) -> None:
    """Run every invariant (or those given) on one scenario; the first failure is raised."""
    for check in _checks(invariants).values():
        check(policy_set, policy_id, scenario)
