"""Static checks of a rule set that loads (on its plan): mistakes the loader cannot refuse
outright. This module runs them and places each finding; the reasoning lives beside it.

- tiers and point bands that leave a gap (stated exactly), overlap at a boundary or shadow a
  band (here);
- conditions that can never hold or always hold, with `not` pushed to the leaves, and
  policies their own criteria make unreachable (`logic`);
- labels that disagree with their rule, a benefit's text with its rate (`labels`);
- code values no profile holds, industry codes not written as profiles hold them (`codes`);
- what a benefit pays the enterprises its condition admits: nothing (no band), less in a
  higher band, caps that never or always bind, a condition capping a monotone fact
  (`amounts`);
- the same measure twice (`duplicates`); exclusive groups with a single member;
- document facts the profile states that do not say how the company can move them
  (`mobility`);
- values of the wrong unit the loader lets through; periods that ended before the evaluation
  date; successions that do not hand over on consecutive days.

Every finding names the file, the line, the policy and a severity; `incentives validate`
exits 1 when any finding is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from ..compile.loader import LoadedSet, load
from ..compile.plan import (
    Band,
    BenefitPlan,
    Comparison,
    DateBound,
    FactPlan,
    FactType,
    PointsSource,
    PolicyPlan,
)
from ..model.units import Unit, format_quantity
from ..model.yamlio import Location, line_of
from .amounts import WHOLE, admitted, bounded, capping, falls, nearest_band, paid_range, unpaid
from .amounts import probes as amount_probes
from .codes import code_problems
from .duplicates import duplicates
from .findings import Finding, Severity
from .labels import benefit_problem, label_problems
from .logic import examine, flat, natural_range
from .mobility import mobility_findings


def lint(directory: Path | None, as_of: date) -> tuple[LoadedSet, list[Finding]]:
    """Load the set (raises PolicyError as the loader does) and return every finding, errors
    first, then by file and line."""
    loaded = load(directory)
    findings: list[Finding] = []
    superseded = {shown for shown, doc in loaded.documents if doc.superseded_by is not None}
    facts = loaded.plan.facts
    for plan in loaded.policies:
        at = _Locator(loaded, plan.id)
        findings += _tier_findings(plan, facts, at)
        findings += _condition_findings(plan, facts, at)
        findings += _unit_findings(plan, facts, at)
        findings += _cap_findings(plan, facts, at)
        findings += _band_findings(plan, facts, at)
        findings += _monotone_findings(plan, facts, at)
        findings += _label_findings(plan, facts, at)
        findings += [
            at.finding(severity, code, message, leaf.where.path)
            for severity, code, message, leaf in code_problems(plan, facts)
        ]
        # A superseded document is kept on purpose, for evaluations on dates before its end.
        until = plan.effective.until
        if until is not None and until < as_of and at.file not in superseded:
            own = (*at.base, "effective") in at.lines
            path = (*at.base, "effective") if own else ("effective",)
            findings.append(
                at.finding(
                    "warning", "expired",
                    f"its effective period ended on {until} (before {as_of}): it is "
                    "never in force from then on", path, absolute=not own,
                )
            )  # fmt: skip
    findings += _group_findings(loaded)
    findings += _duplicate_findings(loaded)
    findings += _points_findings(loaded)
    findings += _succession_findings(loaded)
    findings += mobility_findings(loaded)
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (order[f.severity], f.file or "", f.line or 0, f.code))
    return loaded, findings


class _Locator:
    """File, line and policy of a path inside one policy's document."""

    def __init__(self, loaded: LoadedSet, policy_id: str) -> None:
        self.file, index = loaded.locations.get(policy_id, ("", -1))
        self.lines: dict[Location, int] = loaded.lines.get(self.file, {})
        self.base: tuple[str | int, ...] = ("policies", index)
        self.policy = policy_id

    def finding(
        self,
        severity: Severity,
        code: str,
        message: str,
        path: tuple[str | int, ...] = (),
        absolute: bool = False,
    ) -> Finding:
        full = path if absolute or path[:2] == self.base else (*self.base, *path)
        return Finding(
            severity, code, message, self.policy, self.file or None, line_of(self.lines, full)
        )


# --- tiers and point bands --------------------------------------------------------------------


Found = list[tuple[str, str, int]]  # (code, message, index of the band)


def band_findings(bands: list[Band], by: FactPlan, what: str) -> Found:
    """Problems of a banded table where the first band that holds applies: (code, message,
    index of the band). A gap (values between bands in no band; counts of persons and items
    have no values between whole numbers), a band that earlier bands shadow completely, and
    two bands that share values: a boundary value both include (含/不含 slip) or a partial
    overlap. A band nested in a later one is the usual cascade (`ge: 30%`, then `ge: 25%`), and
    so is a higher band listed first that takes its own lower bound from the band below
    (`ge: 3亿元`, then `ge: 1亿元, le: 3亿元`)."""
    assert by.unit is not None
    bounds = sorted({b for band in bands for b in (band.low, band.high) if b is not None})
    probes = amount_probes(bounds, by.unit)
    name = f"{what} by {by.id}"
    return _gaps(bands, probes, by.unit, name) + _overlaps(bands, probes, by.unit, name)


def _gaps(bands: list[Band], probes: list[Decimal], unit: Unit, name: str) -> Found:
    """Each run of probes in no band with covered probes on both sides, as its exact range."""
    found: Found = []
    covered = [any(b.holds(v) for b in bands) for v in probes]
    k = 0
    while k < len(probes):
        if covered[k] or not any(covered[:k]):
            k += 1
            continue
        end = k
        while end < len(probes) and not covered[end]:
            end += 1
        if end == len(probes):
            break
        shown = _gap_text(bands, probes[k], probes[end - 1], unit)
        index = next(i for i, b in enumerate(bands) if b.holds(probes[end]))
        found.append(("tier-gap", f"{name}: a gap: {shown} in no band", index))
        k = end
    return found


def _gap_text(bands: list[Band], first: Decimal, last: Decimal, unit: Unit) -> str:
    """The exact values from the first to the last uncovered probe: whole numbers one by one,
    else between the bounds around them, each end included or not."""
    def q(value: Decimal) -> str:
        return format_quantity(value, unit, "en")

    if unit in WHOLE or first == last:
        if first == last:
            return f"exactly {q(first)} is"
        return f"the values from {q(first)} to {q(last)} are"
    bounds = sorted({b for band in bands for b in (band.low, band.high) if b is not None})
    low = max(b for b in bounds if b <= first)
    high = min(b for b in bounds if b >= last)
    start = f"from {q(low)}" if low == first else f"above {q(low)}"
    stop = f"up to and including {q(high)}" if high == last else f"and below {q(high)}"
    return f"the values {start} {stop} are"


def _overlaps(bands: list[Band], probes: list[Decimal], unit: Unit, name: str) -> Found:
    found: Found = []
    for j, later in enumerate(bands):
        if _shadowed(bands, probes, j):
            found.append(("tier-shadowed",
                f"{name}: band {j + 1} never applies, earlier bands take all its values", j))  # fmt: skip
            continue
        for i, earlier in enumerate(bands[:j]):
            shared = _shared(earlier, later, probes)
            if shared:
                found.append(("tier-overlap", _overlap_text(name, i, j, shared, unit), j))
    return found


def _shadowed(bands: list[Band], probes: list[Decimal], j: int) -> bool:
    inside = [v for v in probes if bands[j].holds(v)]
    return bool(inside) and all(any(b.holds(v) for b in bands[:j]) for v in inside)


def _shared(earlier: Band, later: Band, probes: list[Decimal]) -> list[Decimal]:
    """The values two bands both take, where that is a mistake: not a band nested in a later
    one, nor a higher band listed first that takes its own lower bound (a cascade)."""
    shared = [v for v in probes if earlier.holds(v) and later.holds(v)]
    if not shared or earlier.within(later) or (len(shared) == 1 and earlier.low == shared[0]):
        return []
    return shared


def _overlap_text(name: str, i: int, j: int, shared: list[Decimal], unit: Unit) -> str:
    if len(shared) == 1:
        return (f"{name}: bands {i + 1} and {j + 1} both include "
                f"{format_quantity(shared[0], unit, 'en')}; band {i + 1}, listed first, takes it")  # fmt: skip
    return (f"{name}: bands {i + 1} and {j + 1} overlap from "
            f"{format_quantity(shared[0], unit, 'en')} to {format_quantity(shared[-1], unit, 'en')}; "
            f"band {i + 1}, listed first, takes those values")  # fmt: skip


def _tier_findings(
    plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator
) -> list[Finding]:
    benefit = plan.benefit
    if benefit.by is None:
        return []
    path = ("benefit", "tiers", "bands")
    return [
        at.finding("error", code, message, (*path, index))
        for code, message, index in band_findings(list(benefit.bands), facts[benefit.by], "tiers")
    ]


def _points_findings(loaded: LoadedSet) -> list[Finding]:
    """The same checks for scoring facts declared with point bands (`points: {by, bands}`)."""
    found = []
    facts = loaded.plan.facts
    for defn in facts.values():
        source = defn.source
        if not isinstance(source, PointsSource):
            continue
        by = facts[source.by]
        for code, message, band in band_findings(list(source.bands), by, f"points of {defn.id}"):
            where = source.bands[band].where
            found.append(Finding("error", code, message, None, where.file, where.line))
    return found


# --- conditions that can never (or always) hold ---------------------------------------------


def _leaf_text(leaf: Comparison, facts: Mapping[str, FactPlan]) -> str:
    from ..reference.explain import threshold_text

    relative = [b for b in flat(leaf.operand) if isinstance(b, DateBound) and b.fixed is None]
    if relative:  # no evaluation date to resolve them on: show them as written
        return f"{leaf.fact} {leaf.op} {' / '.join(b.text() for b in relative)}"
    return f"{leaf.fact} {threshold_text(leaf, facts[leaf.fact], date(2024, 6, 15)).en}"


def _ceiling_text(leaf: Comparison, facts: Mapping[str, FactPlan]) -> str:
    fact = facts[leaf.fact]
    low, high = natural_range(fact, facts)
    unit = fact.unit or Unit.NUMBER
    shown = [f"at least {format_quantity(low, unit, 'en')}" if low is not None else "",
             f"at most {format_quantity(high, unit, 'en')}" if high is not None else ""]  # fmt: skip
    return f"{leaf.fact} is {' and '.join(s for s in shown if s)} whatever the profile says"


def _condition_findings(
    plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator
) -> list[Finding]:
    verdict = examine(plan, facts)
    found = []
    for node, leaves in verdict.never:
        if len(leaves) == 1:
            message = (f"this criterion can never be true: {_leaf_text(leaves[0], facts)}, but "
                       f"{_ceiling_text(leaves[0], facts)}")  # fmt: skip
        else:
            text = " and ".join(_leaf_text(leaf, facts) for leaf in leaves)
            message = f"this condition can never be true: {text} cannot all hold"
        found.append(at.finding("error", "never-true", message, node.where.path))
    for node in verdict.always:
        found.append(at.finding("warning", "always-true",
            "this condition is true for every enterprise whose facts it reads are known: it "
            "selects nothing (a lost part, or `any` where `all` was meant?)", node.where.path))  # fmt: skip
    if not verdict.condition_possible:
        found.append(at.finding("error", "unreachable",
            "the policy can never be eligible: its condition can never be true", ()))  # fmt: skip
    for node in verdict.excluding_all:
        found.append(at.finding("error", "unreachable",
            "the policy can never be eligible: every enterprise its condition admits meets this "
            "exclusion (an exclusion written the wrong way round?)", node.where.path))  # fmt: skip
    return found


# --- labels that say otherwise ---------------------------------------------------------------


def _label_findings(
    plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator
) -> list[Finding]:
    found = [
        at.finding("error", "label-mismatch", message, leaf.where.path)
        for leaf, message in label_problems(plan, facts)
    ]
    message = benefit_problem(plan.benefit)
    if message is not None:
        found.append(at.finding("error", "label-mismatch", message, ("benefit", plan.benefit.kind)))
    return found


# --- units the loader lets through -----------------------------------------------------------


def _unit_findings(
    plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator
) -> list[Finding]:
    found = []
    for index, name in enumerate(plan.monotone):
        defn = facts.get(name)
        if defn is not None and defn.type is not FactType.QUANTITY:
            found.append(at.finding("error", "unit",
                f"monotone fact {name!r} is {defn.type.value}, not a quantity: 'more' of it has "
                "no meaning", ("monotone", index)))  # fmt: skip
    for leaf, _ in plan.comparisons():
        defn = facts[leaf.fact]
        if defn.unit is not Unit.RATIO or leaf.op in ("ne", "not_in"):
            continue
        big = [v for v in flat(leaf.operand) if isinstance(v, Decimal) and v > 1]
        if big and defn.source.kind not in ("growth", "cagr", "average_growth"):
            found.append(at.finding("warning", "unit",
                f"{leaf.fact} is a share, compared with "
                f"{format_quantity(big[0], Unit.RATIO, 'en')}; a percentage above 100% is "
                "probably a slip", leaf.where.path))  # fmt: skip
    return found


# --- what the benefit pays ------------------------------------------------------------------


def _cap_findings(plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator) -> list[Finding]:
    """A cap the benefit never reaches, or one at or below the least it pays (it always binds)."""
    cap = plan.benefit.cap
    if cap is None:
        return []
    least, most = paid_range(plan, facts)
    if most is not None and most <= cap:
        return [at.finding("warning", "cap-unused",
            f"the cap {_yuan(cap)} is never applied: the benefit pays at most {_yuan(most)} to "
            "the enterprises its condition admits", ("benefit", "cap"))]  # fmt: skip
    if least is not None and least >= cap:
        return [at.finding("warning", "cap-always-binds",
            f"the cap {_yuan(cap)} always applies: the benefit pays at least {_yuan(least)} to "
            "the enterprises its condition admits, so every award is the cap (a cap typed in the "
            "wrong unit, or a rate meant as the cap?)", ("benefit", "cap"))]  # fmt: skip
    return []


def _yuan(value: Decimal) -> str:
    return format_quantity(value, Unit.YUAN, "en")


def _band_findings(plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator) -> list[Finding]:
    """Bands that pay less than the band below, and admitted values no band pays."""
    benefit = plan.benefit
    if benefit.by is None:
        return []
    by = facts[benefit.by]
    unit = by.unit or Unit.NUMBER
    rng = admitted(plan, by, facts)
    path = ("benefit", "tiers", "bands")
    found = []
    for fall in falls(benefit, unit, rng):
        declared = benefit.by in plan.monotone
        found.append(at.finding("error" if declared else "warning",
            "monotone" if declared else "tier-falls",
            f"band {fall.higher + 1} pays less than band {fall.lower + 1} below it: at "
            f"{format_quantity(fall.value, unit, 'en')} of {benefit.by} it pays {_paid(fall.after, benefit)} "
            f"where a little less pays {_paid(fall.before, benefit)}"
            + (f" ({benefit.by} is declared monotone)" if declared else ""),
            (*path, fall.higher)))  # fmt: skip
    missed = unpaid(benefit, unit, rng) if benefit.amount_kind != "none" else []
    if missed:
        shown = format_quantity(missed[0], unit, "en")
        if not bounded(plan, benefit.by):
            where: tuple[str | int, ...] = ("benefit", "tiers", "by")
            why = f"the condition never bounds {benefit.by}"
        else:
            band = nearest_band(benefit.bands, missed[0])
            where, why = (*path, band), "the condition admits values the bands do not cover"
        found.append(at.finding("error", "eligible-pays-nothing",
            f"an enterprise with {benefit.by} = {shown} is eligible but in no band, so it is paid "
            f"nothing: {why}", where))  # fmt: skip
    return found


def _paid(value: Decimal, benefit: BenefitPlan) -> str:
    if benefit.bands and all(b.amount is not None for b in benefit.bands):
        return _yuan(value)
    return _yuan(value) if benefit.base == benefit.by else f"a rate of {format_quantity(value, Unit.RATIO, 'en')}"


def _monotone_findings(plan: PolicyPlan, facts: Mapping[str, FactPlan], at: _Locator) -> list[Finding]:
    from ..reference.explain import threshold_text

    return [
        at.finding("error", "monotone",
            f"{leaf.fact} is declared monotone, but the condition requires "
            f"{leaf.fact} {threshold_text(leaf, facts[leaf.fact], date(2024, 6, 15)).en}: more of it "
            "ends the eligibility", leaf.where.path)
        for leaf in capping(plan)
    ]


# --- stacking groups -------------------------------------------------------------------------


def _group_findings(loaded: LoadedSet) -> list[Finding]:
    found = []
    for group in sorted(loaded.plan.groups.values(), key=lambda g: g.id):
        if group.exclusive and len(group.members) == 1:
            at = _Locator(loaded, group.members[0])
            found.append(at.finding("warning", "lonely-group",
                f"exclusive group {group.id!r} has only this member: exclusivity never applies "
                "(a misspelt group name?)", ("stacking", "group")))  # fmt: skip
    return found


# --- the same measure twice ------------------------------------------------------------------


def _duplicate_findings(loaded: LoadedSet) -> list[Finding]:
    found = []
    for first, second in duplicates(loaded):
        at = _Locator(loaded, second.id)
        found.append(at.finding("warning", "duplicate-measure",
            f"the same measure as {first.id} ({first.where}): equivalent criteria, overlapping "
            "zones and periods, and no shared stacking group or succession, so an enterprise is "
            "paid by both; put them in one group (exclusive: 不重复享受; not exclusive: 可叠加) or "
            "remove the copy", ()))  # fmt: skip
    return found


# --- succession ------------------------------------------------------------------------------


def _succession_findings(loaded: LoadedSet) -> list[Finding]:
    """A superseded document should hand over the day after its end: a gap leaves enterprises
    with no rules, an overlap applies old and new rules together."""
    by_id = {doc.id: doc for _, doc in loaded.documents}
    found = []
    for shown, doc in loaded.documents:
        successor = by_id.get(doc.superseded_by or "")
        if successor is None or doc.effective.until is None:
            continue  # the loader refuses both
        end, start = doc.effective.until, successor.effective.start
        # nothing can start after the calendar's last day
        handover = None if end == date.max else end + timedelta(days=1)
        if start is not None and start == handover:
            continue
        if start is None or handover is None or start < handover:
            problem = f"overlaps {successor.id}, which is in force from {start or 'the start'}"
        else:
            problem = f"leaves a gap before {successor.id}, which starts on {start}"
        found.append(
            Finding(
                "warning", "succession",
                f"document ends on {end} and {problem}"
                + (f"; the successor should start on {handover}" if handover else ""),
                None, shown, line_of(loaded.lines.get(shown, {}), ("effective", "until")),
            )
        )  # fmt: skip
    return found


__all__ = ["Finding", "lint"]
