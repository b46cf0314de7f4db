"""Scoring facts: points bands, sums and the better of alternatives, with their explanations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import AS_OF, InlineSet, build, examples, load_documents
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import PolicyError, PolicySet
from incentives.engine.reference.conditions import compile_node
from incentives.engine.reference.context import Missing
from incentives.engine.reference.explain import trace

SCORED = """\
id: test.scored
title: 测试
title_en: test
issuer: 测试
provenance: illustrative
zones: [national]
facts:
  - id: staff_points
    type: quantity
    unit: point
    zh: 人员分
    en: staff points
    points:
      by: tech_staff_share
      bands: [{ge: 30%, points: 20}, {ge: 10%, points: 4}, {lt: 10%, points: 0}]
  - {id: rd_a, type: quantity, unit: point, zh: 方式一, en: option 1, points: {by: rd_intensity, bands: [{ge: 6%, points: 50}, {ge: 2%, points: 10}]}}
  - {id: rd_b, type: quantity, unit: point, zh: 方式二, en: option 2, points: {by: rd_to_cost, bands: [{ge: 30%, points: 50}, {ge: 10%, points: 10}]}}
  - {id: rd_best, type: quantity, unit: point, zh: 较优, en: better option, max_of: [rd_a, rd_b]}
  - {id: total, type: quantity, unit: point, zh: 总分, en: total, sum_of: [staff_points, rd_best]}
policies:
  - id: test.scored.policy
    title: 测试
    title_en: test
    when: {fact: total, ge: 60}
    benefit: {service: true, zh: 测试, en: test}
"""

BASE = {
    "employees": 100,
    "tech_staff": 30,
    "financials": {2025: {"revenue": "1000万元", "rd_expense": "100万元", "total_cost": "200万元"}},
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return load_documents(tmp_path_factory.mktemp("scored"), SCORED, name="scored.yaml")


def _get(policies: PolicySet, fact: str, **changes: object) -> object:
    return policies.context(build(BASE, **changes), AS_OF).get(fact)


def test_points_take_the_first_band_that_holds_and_bounds_are_inclusive(scored: PolicySet) -> None:
    assert _get(scored, "staff_points") == 20  # exactly 30%
    assert _get(scored, "staff_points", tech_staff=29) == 4
    assert _get(scored, "staff_points", tech_staff=9) == 0
    # below every band of rd_a (2%): no band holds, so 0 points
    assert _get(scored, "rd_a", financials__2025__rd_expense="19万元") == 0


def test_max_of_picks_the_better_option_and_sum_adds_the_parts(scored: PolicySet) -> None:
    # rd / revenue = 10% → 50 ; rd / cost = 50% → 50 ; staff 30% → 20
    assert _get(scored, "total") == 70
    # rd 30万: 3% of revenue → 10 points, 15% of cost → 10; with cost 90万: 33% → 50
    assert _get(scored, "rd_best", financials__2025__rd_expense="30万元") == 10
    assert (
        _get(
            scored,
            "rd_best",
            financials__2025__rd_expense="30万元",
            financials__2025__total_cost="90万元",
        )
        == 50
    )


def test_unknown_parts_make_sums_and_maxima_unknown(scored: PolicySet) -> None:
    missing = _get(scored, "rd_best", financials__2025__total_cost=None)
    assert isinstance(missing, Missing)
    assert missing.inputs == {"financials.2025.total_cost"}
    total = _get(scored, "total", tech_staff=None, financials__2025__total_cost=None)
    assert isinstance(total, Missing)
    assert total.inputs == {"tech_staff", "financials.2025.total_cost"}
    result = scored.evaluate(build(BASE, financials__2025__total_cost=None), AS_OF).results[0]
    assert result.status.value == "undetermined"
    assert result.missing_inputs == ["financials.2025.total_cost"]


def test_explanation_names_the_band_and_the_chosen_option(scored: PolicySet) -> None:
    profile = build(
        BASE, financials__2025__rd_expense="30万元", financials__2025__total_cost="90万元"
    )
    ctx = scored.context(profile, AS_OF)
    plan = scored.get("test.scored.policy")
    when = compile_node(plan.criteria[0].node, scored.plan.facts)  # the reference's closures
    origin = trace(when, ctx, None).origin
    assert origin is not None
    assert "staff_points 20 points [tech_staff_share 30%: band ≥ 30% → 20]" in origin
    assert "rd_a 10 points [rd_intensity 3%: band ≥ 2% → 10];" in origin
    assert "rd_b 50 points [rd_to_cost 33.3333%: band ≥ 30% → 50] ← chosen" in origin
    assert origin.count("← chosen") == 1


def test_tech_sme_score_reports_which_rd_option_counted(policies: PolicySet) -> None:
    profile = build(BASE, financials__2025__total_assets="5000万元", resident_enterprise=True)
    result = policies.explain(profile, "national.tech-sme.evaluation", AS_OF)
    assert result.trace is not None

    def origins(node: object) -> list[str]:
        children = getattr(node, "children", [])
        own = [getattr(node, "origin", None)]
        return [o for o in own if o] + [o for c in children for o in origins(c)]

    score = next(o for o in origins(result.trace) if o.startswith("tech_sme_staff_points"))
    assert (
        "tech_sme_rd_points_by_revenue 50 points [rd_intensity 10%: band ≥ 6% → 50] ← chosen"
        in score
    )


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        (
            "{id: bad, type: quantity, unit: point, zh: x, en: x, points: {by: tech_staff_share, bands: [{ge: 30万元, points: 5}]}}",
            "bound '30万元' is not in ratio",
        ),
        (
            "{id: bad, type: quantity, unit: point, zh: x, en: x, sum_of: [tech_staff_share, no_such_fact]}",
            "computed from unknown fact 'no_such_fact'",
        ),
        (
            "{id: bad, type: quantity, unit: point, zh: x, en: x, max_of: [revenue, employees]}",
            "combines 'revenue', which is not a quantity in point",
        ),
        (
            "{id: bad, type: quantity, unit: ratio, zh: x, en: x, points: {by: revenue, bands: [{ge: 1, points: 5}]}}",
            "a points fact must have unit 'point'",
        ),
    ],
)
def test_loader_refuses_bad_formulas(inline_set: InlineSet, fact: str, message: str) -> None:
    text = SCORED.replace("facts:\n", f"facts:\n  - {fact}\n", 1)
    with pytest.raises(PolicyError) as caught:
        inline_set(text, name="scored.yaml")
    assert message in caught.value.render()


def test_points_values_are_exact_decimals(scored: PolicySet) -> None:
    value = _get(scored, "total")
    assert isinstance(value, Decimal) and value == Decimal(70)


def _band_points(value: Decimal, bands: list[tuple[str, int]]) -> int:
    """Reference reading of 第七条's tables: the first lower bound the value reaches."""
    return next((points for low, points in bands if value >= Decimal(low)), 0)


RD_BY_REVENUE = [("0.06", 50), ("0.05", 40), ("0.04", 30), ("0.03", 20), ("0.02", 10)]
RD_BY_COST = [("0.30", 50), ("0.25", 40), ("0.20", 30), ("0.15", 20), ("0.10", 10)]


@settings(max_examples=examples(200))
@given(
    rd=st.integers(min_value=0, max_value=5_000_000),
    revenue=st.integers(min_value=1, max_value=100_000_000),
    cost=st.integers(min_value=1, max_value=100_000_000),
)
def test_tech_sme_rd_points_are_the_better_of_both_tables(
    policies: PolicySet, rd: int, revenue: int, cost: int
) -> None:
    profile = build(
        {"financials": {2025: {"rd_expense": rd, "revenue": revenue, "total_cost": cost}}}
    )
    ctx = policies.context(profile, AS_OF)
    by_revenue = _band_points(Decimal(rd) / Decimal(revenue), RD_BY_REVENUE)
    by_cost = _band_points(Decimal(rd) / Decimal(cost), RD_BY_COST)
    assert ctx.get("tech_sme_rd_points_by_revenue") == by_revenue
    assert ctx.get("tech_sme_rd_points_by_cost") == by_cost
    assert ctx.get("tech_sme_rd_points") == max(by_revenue, by_cost)
