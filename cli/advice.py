"""What a report says a company could do, in words: the opportunities ranked by value, each
policy's ways to pass (either … or …, everything a way needs together), gaps on facts the
company cannot move shown as reasons rather than advice, and missing facts with their labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ..engine.compile.plan import FactPlan
from ..engine.model.units import format_money
from ..engine.reference.results import Alternative, Gap, Opportunity, PolicyResult
from .i18n import word

_MOBILITY = {
    "actionable": ("可自主改变", "actionable"),
    "slow": ("需多年才能改变", "slow to change"),
    "fixed": ("企业无法改变", "fixed"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def gap_text(gap: Gap, lang: str) -> str:
    """`label 〔article〕: value, needs ≥ x → +¥y needed`."""
    needs = "要求" if lang == "zh" else "needs"
    article = f" 〔{gap.article}〕" if gap.article else ""
    value = f" {gap.value(lang)}" if gap.value else ""
    change = f" → {gap.change(lang)}" if gap.change else ""
    return f"{gap.label(lang)}{article}:{value}, {needs} {gap.required(lang)}{change}"


def _way_lines(alternative: Alternative, lang: str, indent: str) -> Iterator[str]:
    for gap in alternative.gaps:
        flag = "" if gap.actionable else f" ({_pick(_MOBILITY[gap.mobility], lang)})"
        yield f"{indent}- {gap_text(gap, lang)}{flag}"


def alternative_lines(opportunity: Opportunity, lang: str) -> Iterator[str]:
    """Every way to pass, cheapest first: one way as a list of what it needs together; several
    as `either:` … `or:` …."""
    ways = opportunity.alternatives
    if len(ways) == 1:
        yield f"{word('to_pass', lang)}:"
        yield from _way_lines(ways[0], lang, "  ")
        return
    yield f"{word('to_pass', lang)} ({'以下任一' if lang == 'zh' else 'any one of'}):"
    for index, way in enumerate(ways):
        head = (
            ("或者" if lang == "zh" else "or") if index else ("要么" if lang == "zh" else "either")
        )
        together = ("（同时满足）" if lang == "zh" else ", all of") if len(way.gaps) > 1 else ""
        yield f"  {head}{together}:"
        yield from _way_lines(way, lang, "    ")


def reason_lines(result: PolicyResult, lang: str) -> Iterator[str]:
    """The failing criteria of an ineligible policy that is no opportunity: when some are on
    fixed facts, those are why it does not apply (never advice, and the others are moot);
    otherwise (stacking would pay it nothing more) what it would take."""
    fixed = [g for g in result.gaps if g.mobility == "fixed"]
    others = [g for g in result.gaps if g.mobility != "fixed"]
    if fixed:
        yield f"{'原因（企业无法改变）' if lang == 'zh' else 'why not (nothing the company can change)'}:"
        yield from (f"  - {gap_text(g, lang)}" for g in fixed)
    if others and not fixed:
        yield f"{word('to_pass', lang)}:"
        yield from (f"  - {gap_text(g, lang)}" for g in others)


def worth_text(opportunity: Opportunity, lang: str) -> str:
    """What reaching the policy would bring: the amount on today's figures, or the benefit."""
    if opportunity.amount is None:
        if opportunity.amount_kind == "none":
            return opportunity.benefit(lang)
        return "金额待定" if lang == "zh" else "amount unknown"
    amount = format_money(opportunity.amount, lang)
    kind = {"tax_saving": (" 减税", " tax saved"), "deduction": (" 加计扣除", " deduction")}
    text = amount + _pick(kind.get(opportunity.amount_kind, ("", "")), lang)
    worth = opportunity.worth
    if worth is not None and opportunity.note is not None:
        more = format_money(worth, lang)
        text += f"（净增 {more}）" if lang == "zh" else f" ({more} more than today)"
    return text


def opportunity_lines(opportunities: Sequence[Opportunity], lang: str) -> Iterator[str]:
    """The ranked list under the table: rank, policy, what it would bring, the cheapest way."""
    if not opportunities:
        return
    yield "可争取的政策（按价值排序）：" if lang == "zh" else "Opportunities, ranked by value:"
    for o in opportunities:
        best = o.alternatives[0]
        needs = ("; " if lang == "en" else "；").join(g.label(lang) for g in best.gaps)
        more = len(o.alternatives) - 1
        other = (
            (
                f"（另有 {more} 种途径）"
                if lang == "zh"
                else f" (or {more} other way{'s' * (more > 1)})"
            )
            if more
            else ""
        )
        pace = (
            "" if best.mobility == "actionable" else f" [{_pick(_MOBILITY[best.mobility], lang)}]"
        )
        yield f"  {o.rank}. {o.policy_id} — {worth_text(o, lang)} ← {needs}{other}{pace}"


def missing_lines(
    result: PolicyResult, facts: Mapping[str, FactPlan] | None, lang: str
) -> Iterator[str]:
    """`missing:` then each missing fact by its label, with its id and the profile field
    that gives it (by id alone without the facts)."""
    if facts is None:
        inputs = ", ".join(result.missing_inputs)
        yield f"{word('missing', lang)}: {', '.join(result.missing)}" + (
            f" ({inputs})" if inputs else ""
        )
        return
    yield f"{word('missing', lang)}:"
    used = result.missing_inputs
    yield from (f"  - {_labelled(fact, facts, lang, used)}" for fact in result.missing)


def review_lines(
    result: PolicyResult, facts: Mapping[str, FactPlan] | None, lang: str
) -> Iterator[str]:
    if facts is None:
        yield f"{word('review', lang)}: {', '.join(result.review)}"
        return
    yield f"{word('review', lang)}:"
    yield from (f"  - {_labelled(fact, facts, lang)}" for fact in result.review)


def _labelled(
    fact: str, facts: Mapping[str, FactPlan], lang: str, used: Sequence[str] = ()
) -> str:
    """`label (fact ← inputs)`: the profile inputs it lacked as the evaluation read them, with
    the year of a financial line (`financials.2025.rd_amortisation`), from `used` (the result's
    missing inputs); the fact's own inputs, yearless, when the result names none of them."""
    plan = facts.get(fact)
    if plan is None:  # `zone`, when the profile has none
        return fact
    mine = [i for i in used if _yearless(i) in plan.profile_inputs]
    inputs = ", ".join(mine or sorted(plan.profile_inputs))
    return f"{plan.zh if lang == 'zh' else plan.en} ({fact}{' ← ' + inputs if inputs else ''})"


def _yearless(path: str) -> str:
    """`financials.2025.revenue` → `financials.revenue`, the form a fact's plan names it in."""
    steps = path.split(".")
    if len(steps) == 3 and steps[0] == "financials" and steps[1].isdigit():
        return f"financials.{steps[2]}"
    return path
