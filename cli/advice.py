"""What a report says a company could do, in words: the opportunities ranked by value, each
policy's ways to pass (either … or …, everything a way needs together), gaps on facts the
company cannot move shown as reasons rather than advice, and missing facts with their labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ..engine.compile.plan import FactPlan
from ..engine.model.units import format_money
from ..engine.reference.results import Alternative, Gap, Opportunity, PolicyResult, assemble
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
    value = f" {gap.value(lang)}," if gap.value else ""
    change = f" → {gap.change(lang)}" if gap.change else ""
    return f"{gap.label(lang)}{article}:{value} {needs} {gap.required(lang)}{change}"


_OPEN = {"supply": ("画像未说明", "not stated"), "review": ("需专家判断", "expert judgement")}


def _way_lines(
    alternative: Alternative, lang: str, indent: str, common: frozenset[str] = frozenset()
) -> Iterator[str]:
    for gap in alternative.gaps:
        flag = "" if gap.actionable else f" ({_pick(_MOBILITY[gap.mobility], lang)})"
        yield f"{indent}- {gap_text(gap, lang)}{flag}"
    for kind, gaps in (("supply", alternative.supply), ("review", alternative.review)):
        yield from (
            f"{indent}- {gap_text(g, lang)} ({_pick(_OPEN[kind], lang)})"
            for g in gaps
            if g.fact not in common
        )


def _common(ways: Sequence[Alternative]) -> Alternative | None:
    """What every way asks to state or have judged alike, said once above the ways."""
    first = ways[0]
    shared = [
        {g.fact for g in way.supply} | {g.fact for g in way.review} for way in ways[1:]
    ]
    keep = [g for g in (*first.supply, *first.review) if all(g.fact in s for s in shared)]
    if not keep:
        return None
    supply, review = [g for g in first.supply if g in keep], [g for g in first.review if g in keep]
    # The Alternative(...) of these values, without building its validator for them.
    return assemble(Alternative, {"gaps": [], "mobility": "actionable", "supply": supply,
                                  "review": review, "certain": True})  # fmt: skip


def alternative_lines(opportunity: Opportunity, lang: str) -> Iterator[str]:
    """Every way to pass, cheapest first: one way as a list of what it needs together; several
    as `either:` … `or:` …, after what they all ask to state or have judged (said once).
    Nothing when every way only states facts: the missing facts above say it."""
    ways = opportunity.alternatives
    if not any(way.gaps for way in ways):
        return
    if len(ways) == 1:
        yield f"{word('to_pass', lang)}:"
        yield from _way_lines(ways[0], lang, "  ")
        return
    common = _common(ways)
    shared: frozenset[str] = frozenset()
    if common is not None:
        yield "每种途径都须：" if lang == "zh" else "whichever way, it needs:"
        yield from _way_lines(common, lang, "  ")
        shared = frozenset(g.fact for g in (*common.supply, *common.review))
    yield f"{word('to_pass', lang)} ({'以下任一' if lang == 'zh' else 'any one of'}):"
    for index, way in enumerate(ways):
        head = (
            ("或者" if lang == "zh" else "or") if index else ("要么" if lang == "zh" else "either")
        )
        own = len(way.gaps) + sum(g.fact not in shared for g in (*way.supply, *way.review))
        together = ("（同时满足）" if lang == "zh" else ", all of") if own > 1 else ""
        yield f"  {head}{together}:"
        yield from _way_lines(way, lang, "    ", shared)


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
    """What reaching the policy would bring: the amount on the figures of its basis (the
    year said), or the benefit."""
    if opportunity.amount is None:
        if opportunity.amount_kind == "none":
            return opportunity.benefit(lang)
        unknown = "金额待定" if lang == "zh" else "amount unknown"
        if opportunity.note is not None:
            return f"{unknown}（{opportunity.note('zh')}）" if lang == "zh" else f"{unknown} ({opportunity.note('en')})"
        return unknown
    amount = format_money(opportunity.amount, lang)
    kind = {"tax_saving": (" 减税", " tax saved"), "deduction": (" 加计扣除", " deduction")}
    text = amount + _pick(kind.get(opportunity.amount_kind, ("", "")), lang) + _year(opportunity, lang)
    worth = opportunity.worth
    if worth is not None and opportunity.note is not None:
        more = format_money(worth, lang)
        text += f"（净增 {more}）" if lang == "zh" else f" ({more} more than today)"
    return text


def needs_text(way: Alternative, lang: str, sep: str | None = None, changes: bool = False) -> str:
    """A way in a few words: its changes by label (with what each takes, under `changes`),
    then what to state or have judged."""
    parts = [
        g.label(lang) + (f" ({g.change(lang)})" if changes and g.change else "") for g in way.gaps
    ]
    for kind, gaps in (("supply", way.supply), ("review", way.review)):
        if gaps:
            head = {"supply": ("补充：", "state: "), "review": ("专家判断：", "judged: ")}[kind]
            labels = ("、" if lang == "zh" else ", ").join(g.label(lang) for g in gaps)
            parts.append(f"{_pick(head, lang)}{labels}")
    return (sep or ("; " if lang == "en" else "；")).join(parts)


def uncertain_text(opportunity: Opportunity, lang: str) -> str:
    if opportunity.certain:
        return ""
    return "（不确定：须先补充信息或经专家判断）" if lang == "zh" else " (uncertain: facts to state or have judged)"


def _opportunity_line(o: Opportunity, lang: str) -> str:
    best = o.alternatives[0]
    more = len(o.alternatives) - 1
    other = ""
    if more:
        other = f"（另有 {more} 种途径）" if lang == "zh" else f" (or {more} other way{'s' * (more > 1)})"
    pace = "" if best.mobility == "actionable" else f" [{_pick(_MOBILITY[best.mobility], lang)}]"
    return f"  {o.rank}. {o.policy_id} — {worth_text(o, lang)} ← {needs_text(best, lang)}{other}{pace}"


_HEADS = {
    True: ("可争取的政策（按价值排序）：", "Opportunities, ranked by value:"),
    False: (
        "还可能适用，须先补充信息或经专家判断（不确定，排在确定的机会之后）：",
        "Could also apply once facts are stated or judged (uncertain, ranked after the certain):",
    ),
}


def _year(opportunity: Opportunity, lang: str) -> str:
    """The year of the figures an amount is on: the tax year's, or the last fiscal year's."""
    if opportunity.tax_year is not None:
        return f"（{opportunity.tax_year} 纳税年度）" if lang == "zh" else f" (tax year {opportunity.tax_year})"
    if opportunity.fiscal_year is not None:
        return f"（按 {opportunity.fiscal_year} 年数据）" if lang == "zh" else f" (on {opportunity.fiscal_year} figures)"
    return ""


UNCERTAIN_SHOWN = 8  # under the table; the JSON and the reports list them all


def opportunity_lines(opportunities: Sequence[Opportunity], lang: str) -> Iterator[str]:
    """The ranked list under the table: rank, policy, what it would bring, the cheapest way;
    every certain opportunity, then the first of those that rest on facts not stated (or
    awaiting judgement)."""
    for certain in (True, False):
        chosen = [o for o in opportunities if o.certain is certain]
        if chosen:
            yield _pick(_HEADS[certain], lang)
            shown = chosen if certain else chosen[:UNCERTAIN_SHOWN]
            yield from (_opportunity_line(o, lang) for o in shown)
    more = sum(not o.certain for o in opportunities) - UNCERTAIN_SHOWN
    if more > 0:
        yield (
            f"  …另有 {more} 项（--format json、markdown 或 html 全部列出）"
            if lang == "zh"
            else f"  … and {more} more (--format json, markdown or html lists them all)"
        )


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
    mine = [i for i in used if _input_of(i) in plan.profile_inputs]
    inputs = ", ".join(mine or sorted(plan.profile_inputs))
    return f"{plan.zh if lang == 'zh' else plan.en} ({fact}{' ← ' + inputs if inputs else ''})"


def _input_of(used: str) -> str:
    """The profile input a missing input's text is about, as a fact's plan names it:
    `financials.2025.revenue` → `financials.revenue`; a derived fact's instruction
    (`projects[].applying (2 projects listed; …)`) → `projects`."""
    return _yearless(used.split(" ", 1)[0].split("[", 1)[0])


def _yearless(path: str) -> str:
    """`financials.2025.revenue` → `financials.revenue`, the form a fact's plan names it in."""
    steps = path.split(".")
    if len(steps) == 3 and steps[0] == "financials" and steps[1].isdigit():
        return f"financials.{steps[2]}"
    return path
