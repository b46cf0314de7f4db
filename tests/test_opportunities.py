"""Opportunities: every way to pass an ineligible policy (an `any` as alternatives, cheapest
first, a way holding everything it needs together), gaps on fixed facts as reasons and never
advice, what the policy would bring after stacking, ranked by value; gaps as numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from conftest import AS_OF, write_policy

from incentives.engine import PolicySet, parse_profile
from incentives.engine.reference.results import Report

HEADER = """\
id: test.chance
title: 机会测试
title_en: opportunity test
issuer: 测试
provenance: illustrative
zones: [national]
policies:
"""


def policy(pid: str, when: str, benefit: str = "{grant: {amount: 10万元}, zh: 奖励, en: award}",
           stacking: str = "") -> str:  # fmt: skip
    extra = f"\n    stacking: {stacking}" if stacking else ""
    return f"""\
  - id: test.chance.{pid}
    title: 政策{pid}
    title_en: policy {pid}
    when: {when}
    benefit: {benefit}{extra}
"""


def evaluate(tmp_path: Path, profile: dict[str, object], *policies: str) -> Report:
    write_policy(tmp_path, "chance.yaml", HEADER + "".join(policies))
    return PolicySet(tmp_path).evaluate(parse_profile(profile), AS_OF)


FIRM = {
    "employees": 100,
    "tech_staff": 5,
    "industry_code": "C3976",
    "financials": {
        2025: {"revenue": "4000万元", "rd_expense": "80万元", "total_assets": "6000万元"}
    },
}


def test_any_gives_alternatives_cheapest_first(tmp_path: Path) -> None:
    # R&D intensity 2% needs 3% (+40万元), or 10 more S&T staff would reach 15%: the closer first.
    when = "{any: [{fact: rd_intensity, ge: 3%}, {fact: tech_staff_share, ge: 15%}]}"
    report = evaluate(tmp_path, FIRM, policy("a", when))
    (chance,) = report.opportunities
    assert chance.policy_id == "test.chance.a" and chance.rank == 1
    assert [[g.fact for g in w.gaps] for w in chance.alternatives] == [
        ["rd_intensity"], ["tech_staff_share"],
    ]  # fmt: skip
    rd = chance.alternatives[0].gaps[0]
    assert (rd.have, rd.op, rd.need, rd.delta, rd.unit) == ("0.02", "ge", "0.03", "0.01", "ratio")
    assert rd.mobility == "actionable" and rd.actionable
    assert rd.change is not None and "¥400,000" in rd.change.en
    assert chance.amount == Decimal("100000") and chance.worth == Decimal("100000")


def test_all_combines_every_gap_of_a_way(tmp_path: Path) -> None:
    when = ("{all: [{fact: rd_intensity, ge: 3%}, {fact: employees, ge: 120},"
            " {any: [{fact: ip_class_i, ge: 1}, {fact: tech_staff, ge: 20}]}]}")  # fmt: skip
    report = evaluate(tmp_path, {**FIRM, "intellectual_property": []}, policy("b", when))
    (chance,) = report.opportunities
    ways = [sorted(g.fact for g in w.gaps) for w in chance.alternatives]
    assert ways == [  # 15 more S&T staff (75% of 20) is closer than a first class I patent
        ["employees", "rd_intensity", "tech_staff"],
        ["employees", "ip_class_i", "rd_intensity"],
    ]  # fmt: skip
    assert all(w.mobility == "actionable" for w in chance.alternatives)


def test_fixed_facts_are_reasons_never_advice(tmp_path: Path) -> None:
    when = "{all: [{fact: industry_code, prefix_in: [C42]}, {fact: rd_intensity, ge: 3%}]}"
    either = "{any: [{fact: industry_code, prefix_in: [C42]}, {fact: rd_intensity, ge: 3%}]}"
    report = evaluate(tmp_path, FIRM, policy("fixed", when), policy("either", either))
    assert [o.policy_id for o in report.opportunities] == ["test.chance.either"]
    (chance,) = report.opportunities
    assert [[g.fact for g in w.gaps] for w in chance.alternatives] == [["rd_intensity"]]
    fixed = next(r for r in report.results if r.policy_id == "test.chance.fixed")
    industry = next(g for g in fixed.gaps if g.fact == "industry_code")
    assert industry.mobility == "fixed" and not industry.actionable


def test_actionable_ways_rank_before_slow_ones_whatever_they_pay(tmp_path: Path) -> None:
    slow = policy(
        "slow",
        "{fact: total_assets, le: 5000万元}",
        "{grant: {amount: 500万元}, zh: 奖, en: award}",
    )
    quick = policy(
        "quick", "{fact: rd_intensity, ge: 3%}", "{grant: {amount: 5万元}, zh: 奖, en: award}"
    )
    big = policy(
        "big", "{fact: rd_intensity, ge: 4%}", "{grant: {amount: 50万元}, zh: 奖, en: award}"
    )
    report = evaluate(tmp_path, FIRM, slow, quick, big)
    assert [o.policy_id.rsplit(".")[-1] for o in report.opportunities] == ["big", "quick", "slow"]
    assert [o.rank for o in report.opportunities] == [1, 2, 3]
    assets = report.opportunities[2].alternatives[0]
    assert assets.mobility == "slow" and assets.gaps[0].delta == "-10000000"


def test_worth_after_an_exclusive_group_pays(tmp_path: Path) -> None:
    group = "{group: g, exclusive: true}"
    paid = policy(
        "paid", "{fact: employees, ge: 50}", "{grant: {amount: 30万元}, zh: 奖, en: award}", group
    )
    more = policy(
        "more",
        "{fact: rd_intensity, ge: 3%}",
        "{grant: {amount: 50万元}, zh: 奖, en: award}",
        group,
    )
    less = policy(
        "less",
        "{fact: rd_intensity, ge: 3%}",
        "{grant: {amount: 20万元}, zh: 奖, en: award}",
        group,
    )
    report = evaluate(tmp_path, FIRM, paid, more, less)
    worth = {o.policy_id.rsplit(".")[-1]: o.worth for o in report.opportunities}
    assert worth == {"more": Decimal("200000.00")}  # "less" would add nothing: left out
    assert all(o.note is not None for o in report.opportunities)


def test_exclusion_to_lift_and_dates_as_numbers(tmp_path: Path) -> None:
    profile = {**FIRM, "registration_date": "2026-03-01",
               "compliance": {"abnormal_operations_list": True}}  # fmt: skip
    when = "{fact: registration_date, le: -1年}"
    text = policy("x", when) + "    unless: [{fact: abnormal_operations_list, eq: true}]\n"
    report = evaluate(tmp_path, profile, text)
    (chance,) = report.opportunities
    gaps = {g.fact: g for g in chance.alternatives[0].gaps}
    assert (
        gaps["abnormal_operations_list"].op == "ne"
        and gaps["abnormal_operations_list"].need == "true"
    )
    registered = gaps["registration_date"]
    assert (registered.have, registered.need, registered.unit) == (
        "2026-03-01",
        "2025-11-24",
        "day",
    )
    assert registered.delta == "-97" and registered.mobility == "slow"
    assert registered.change is not None and "2027-03-01" in registered.change.en


def test_jinzhong_example_never_advises_shrinking_first() -> None:
    from incentives import load_profile

    example = Path(__file__).parent.parent / "examples" / "jinzhong-hightech.yaml"
    report = PolicySet().evaluate(load_profile(example), AS_OF)
    first = report.opportunities[0].alternatives[0]
    assert first.mobility == "actionable"
    small = next(o for o in report.opportunities if o.policy_id == "national.small-low-profit.cit")
    assert small.rank > 1 and small.alternatives[0].mobility == "slow"
    assert not any(g.fact == "industry_code" for o in report.opportunities
                   for w in o.alternatives for g in w.gaps)  # fmt: skip


def test_undetermined_policies_are_opportunities_ranked_after_the_certain(tmp_path: Path) -> None:
    # FIRM states no registration date: the big award rests on it, the small one does not
    big = policy(
        "open",
        "{all: [{fact: registration_date, le: -1年}, {fact: rd_intensity, ge: 3%}]}",
        "{grant: {amount: 50万元}, zh: 奖, en: award}",
    )
    small = policy("sure", "{fact: rd_intensity, ge: 3%}", "{grant: {amount: 5万元}, zh: 奖, en: award}")
    report = evaluate(tmp_path, FIRM, big, small)
    sure, open_ = report.opportunities
    assert (sure.policy_id, sure.certain, sure.status.value) == ("test.chance.sure", True, "ineligible")
    assert (open_.policy_id, open_.certain, open_.rank) == ("test.chance.open", False, 2)
    (way,) = open_.alternatives
    assert [g.fact for g in way.gaps] == ["rd_intensity"] and not way.certain
    (stated,) = way.supply
    assert (stated.fact, stated.have, stated.op, stated.need) == ("registration_date", None, "le", "2025-11-24")
    assert open_.amount == Decimal("500000")


def test_an_undetermined_any_is_certain_by_its_known_way(tmp_path: Path) -> None:
    when = "{any: [{fact: registration_date, le: -1年}, {fact: rd_intensity, ge: 3%}]}"
    report = evaluate(tmp_path, FIRM, policy("either", when))
    (chance,) = report.opportunities
    assert chance.status.value == "undetermined" and chance.certain
    assert [([g.fact for g in w.gaps], [g.fact for g in w.supply]) for w in chance.alternatives] == [
        (["rd_intensity"], []), ([], ["registration_date"]),
    ]  # fmt: skip


def test_a_policy_awaiting_judgement_asks_for_it(tmp_path: Path) -> None:
    judged = HEADER.replace(
        "policies:\n",
        "facts:\n  - {id: core_role, type: bool, judgement: true, profile_fact: core_role,"
        " zh: 核心作用, en: core role}\npolicies:\n",
    )
    write_policy(tmp_path, "chance.yaml", judged + policy("judged", "{fact: core_role, eq: true}"))
    report = PolicySet(tmp_path).evaluate(parse_profile(FIRM), AS_OF)
    (chance,) = report.opportunities
    assert chance.status.value == "needs_review" and not chance.certain
    (way,) = chance.alternatives
    assert [g.fact for g in way.review] == ["core_role"] and not way.gaps and not way.supply


def test_a_tax_year_preference_is_worth_what_its_tax_year_pays(tmp_path: Path) -> None:
    # the same award on R&D at 10%: an application reads the last fiscal year (2025), a
    # tax-year preference its tax year's figures (2024 here); each says which year
    firm = {**FIRM, "financials": {
        2024: {"revenue": "3000万元", "rd_expense": "30万元", "total_assets": "6000万元"},
        2025: {"revenue": "4000万元", "rd_expense": "80万元", "total_assets": "6000万元"},
    }}  # fmt: skip
    benefit = "{rate_of: {base: rd_expense, rate: 10%}, zh: 奖, en: award}"
    when = "{fact: total_assets, le: 5000万元}"
    write_policy(tmp_path, "app.yaml", HEADER + policy("app", when, benefit))
    yearly = HEADER.replace("id: test.chance\n", "id: test.yearly\n") + "attaches: tax_year\n"
    write_policy(tmp_path, "yearly.yaml", yearly.replace("policies:\n", "") + "policies:\n"
                 + policy("yearly", when, benefit).replace("test.chance.", "test.yearly."))  # fmt: skip
    report = PolicySet(tmp_path).evaluate(parse_profile(firm), AS_OF, tax_year=2024)
    chances = {o.policy_id: o for o in report.opportunities}
    app, yearly_ = chances["test.chance.app"], chances["test.yearly.yearly"]
    assert (app.amount, app.attaches, app.fiscal_year, app.tax_year) == (
        Decimal("80000"), "application", 2025, None,
    )  # fmt: skip
    assert (yearly_.amount, yearly_.attaches, yearly_.fiscal_year, yearly_.tax_year) == (
        Decimal("30000"), "tax_year", 2024, 2024,
    )  # fmt: skip


def test_an_amount_on_a_figure_every_way_changes_is_unknown(tmp_path: Path) -> None:
    # 10% of R&D, for firms with R&D up to 50万元 (FIRM has 80万元): the way lowers the figure
    # the amount is computed from, so today's 8万元 says nothing; a way around it keeps it
    benefit = "{rate_of: {base: rd_expense, rate: 10%}, zh: 奖, en: award}"
    capped = policy("capped", "{fact: rd_expense, le: 50万元}", benefit)
    either = policy("either", "{any: [{fact: rd_expense, le: 50万元}, {fact: tech_staff, ge: 10}]}", benefit)
    report = evaluate(tmp_path, FIRM, capped, either)
    chances = {o.policy_id.rsplit(".")[-1]: o for o in report.opportunities}
    assert chances["capped"].amount is None and chances["capped"].worth is None
    note = chances["capped"].note
    assert note is not None and "the amount depends on" in note.en and "R&D" in note.en
    assert chances["either"].amount == Decimal("80000") and chances["either"].note is None
