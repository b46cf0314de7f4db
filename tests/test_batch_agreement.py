"""The vectorised back end gives exactly the reference verdicts, amounts and missing facts, on
generated registers and random policy sets (hypothesis), and on the bundled library."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from conftest import HNTE_BASE, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, Profile, parse_profile
from incentives.engine.batch.columns import (
    ROW,
    from_micro,
    profile_to_row,
    rows_to_frame,
)
from incentives.engine.batch.vectorised import OUTPUT, VectorisedSet
from incentives.engine.model.facts import dependencies
from incentives.engine.reference.context import Missing
from incentives.engine.testing import evaluation_dates, threshold_profile_data, valid_data

AS_OF_CHOICES = [date(2026, 11, 24), date(2025, 1, 1), date(2024, 2, 29), date(2028, 6, 30)]
ZONES = ["jinzhong-dz", "guangling-etdz", "taiyuan", "linfen-etdz", "shanxi"]

# Extra facts every generated set declares: a zone-document's own facts.
EXTRA_FACTS = [
    {"id": "recycled_tonnes", "type": "quantity", "unit": "tonne",
     "profile_fact": "recycled_tonnes", "zh": "再生铝产量", "en": "recycled aluminium"},
    {"id": "product_tags", "type": "codes", "profile_fact": "product_tags",
     "zh": "产品标签", "en": "product tags"},
    {"id": "site_area", "type": "quantity", "unit": "m2", "profile_fact": "site_area",
     "zh": "厂房面积", "en": "site area"},
    {"id": "zone_certified", "type": "bool", "judgement": True, "profile_fact": "zone_certified",
     "zh": "园区认定", "en": "zone certified"},
    {"id": "revenue_2y", "type": "quantity", "unit": "yuan", "financial": "revenue", "year": 2,
     "zh": "前年收入", "en": "revenue two years back"},
    {"id": "assets_to_income", "type": "quantity", "unit": "ratio",
     "ratio": ["total_assets", "taxable_income"], "zh": "资产比所得", "en": "assets / income"},
    # Scores: bands on ratios (one with a signed denominator), counts and money, with every kind
    # of bound and fractional points; an expert's score (unknown → review) and a stated bonus
    # feed maxima and sums, nested, so unknown and judged parts travel through the formulas.
    {"id": "expert_points", "type": "quantity", "unit": "point", "judgement": True,
     "profile_fact": "expert_points", "zh": "专家评分", "en": "expert score"},
    {"id": "bonus_points", "type": "quantity", "unit": "point", "profile_fact": "bonus_points",
     "zh": "加分", "en": "bonus points"},
    {"id": "score_rd", "type": "quantity", "unit": "point", "zh": "研发得分", "en": "R&D score",
     "points": {"by": "rd_intensity", "bands": [{"ge": "5%", "points": 20},
                {"gt": "3%", "lt": "5%", "points": "10.5"}, {"le": "1%", "points": "0.5"}]}},
    {"id": "score_growth", "type": "quantity", "unit": "point", "zh": "成长得分", "en": "growth",
     "points": {"by": "revenue_growth", "bands": [{"ge": "10%", "points": 5},
                {"lt": "0%", "points": 1}, {"ge": "-10%", "points": 3}]}},
    {"id": "score_staff", "type": "quantity", "unit": "point", "zh": "规模得分", "en": "size",
     "points": {"by": "employees", "bands": [{"gt": 300, "points": 3},
                {"ge": 20, "le": 300, "points": 7}]}},
    {"id": "score_revenue", "type": "quantity", "unit": "point", "zh": "收入得分", "en": "revenue",
     "points": {"by": "revenue", "bands": [{"ge": "2000万元", "lt": "2亿元", "points": 10}]}},
    {"id": "score_expert", "type": "quantity", "unit": "point", "zh": "专家得分", "en": "expert",
     "points": {"by": "expert_points", "bands": [{"ge": 60, "points": 8}]}},
    {"id": "score_best", "type": "quantity", "unit": "point", "zh": "最优", "en": "best option",
     "max_of": ["score_rd", "score_growth", "bonus_points"]},
    {"id": "score_judged", "type": "quantity", "unit": "point", "zh": "评审", "en": "judged",
     "max_of": ["score_expert", "expert_points"]},
    {"id": "score_total", "type": "quantity", "unit": "point", "zh": "总分", "en": "total",
     "sum_of": ["score_best", "score_staff", "score_judged", "score_revenue"]},
]  # fmt: skip

YUAN_FACTS = ["revenue", "rd_expense", "taxable_income", "total_assets", "revenue_3y",
              "rd_expense_3y", "high_tech_revenue", "revenue_2y", "total_income"]  # fmt: skip
RATIO_FACTS = ["rd_intensity", "rd_intensity_3y", "tech_staff_share", "revenue_growth",
               "debt_ratio", "domestic_rd_share_3y", "high_tech_revenue_share",
               "assets_to_income"]  # fmt: skip
COUNT_FACTS = [("employees", ""), ("tech_staff", "人"), ("ip_owned", "项"), ("ip_class_i", ""),
               ("major_incidents_1y", ""), ("hnte_innovation_score", "分"),
               ("recycled_tonnes", "吨")]  # fmt: skip
SCORE_FACTS = ["score_rd", "score_growth", "score_staff", "score_expert", "score_best",
               "score_judged", "score_total", "expert_points"]  # fmt: skip
BOOL_FACTS = ["resident_enterprise", "restricted_industry", "hnte_valid", "tech_sme_valid",
              "abnormal_operations_list", "hnte_core_ip_role", "zone_certified"]  # fmt: skip

money = st.sampled_from(["0元", "50万元", "300万元", "2000万元", "5000万元", "2亿元"])
percent = st.sampled_from(["0%", "3%", "5%", "10%", "60%", "33.5%", "100%", "-10%"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    quantity_op = st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"])
    yuan = st.builds(
        lambda f, op, v: {"fact": f, op: v}, st.sampled_from(YUAN_FACTS), quantity_op, money
    )
    ratio = st.builds(
        lambda f, op, v: {"fact": f, op: v}, st.sampled_from(RATIO_FACTS), quantity_op, percent
    )
    ratio_between = st.builds(
        lambda f: {"fact": f, "between": ["3%", "60%"]}, st.sampled_from(RATIO_FACTS)
    )
    count = st.builds(
        lambda fu, op, n: {"fact": fu[0], op: f"{n}{fu[1]}"},
        st.sampled_from(COUNT_FACTS), quantity_op, st.sampled_from([0, 1, 2, 10, 70, 300]),
    )  # fmt: skip
    count_in = st.builds(
        lambda n: {"fact": "employees", "in": [n, 100]}, st.sampled_from([0, 20, 300])
    )
    boolean = st.builds(
        lambda f, op, v: {"fact": f, op: v}, st.sampled_from(BOOL_FACTS),
        st.sampled_from(["eq", "ne"]), st.booleans(),
    )  # fmt: skip
    day = st.builds(
        lambda op, v: {"fact": "registration_date", op: v},
        st.sampled_from(["le", "ge", "lt", "gt", "eq"]),
        st.sampled_from(["-1年", "-6个月", "-30天", date(2020, 1, 1)]),
    )
    within = st.builds(
        lambda v: {"fact": "registration_date", "within": v}, st.sampled_from(["3年", "18个月"])
    )
    # Thresholds at the points each score can take, so that a wrong band shows in the verdict.
    scores = st.builds(
        lambda f, op, v: {"fact": f, op: v},
        st.sampled_from(SCORE_FACTS), quantity_op,
        st.sampled_from([0, "0.5", 1, 3, 5, 7, 8, "10.5", "12.5", 15, 20, "25.5", 30]),
    )  # fmt: skip
    codes = st.one_of(
        st.builds(lambda v: {"fact": "tax_credit_rating", "in": v}, st.sampled_from([["A"], ["A", "B"]])),
        st.builds(lambda v: {"fact": "tax_credit_rating", "eq": v}, st.sampled_from(["A", "M"])),
        st.builds(lambda v: {"fact": "industry_code", "prefix_in": v}, st.sampled_from([["C39"], ["c3", "I65"]])),
        st.builds(lambda v: {"fact": "zone", "not_in": [v]}, st.sampled_from(ZONES)),
        st.builds(lambda v: {"fact": "product_tags", "contains": v}, st.sampled_from(["al", "cu"])),
    )  # fmt: skip
    return st.one_of(
        yuan, ratio, ratio_between, count, count_in, boolean, day, within, codes, scores, scores
    )


conditions = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)

_cap = st.one_of(st.none(), st.sampled_from(["20万元", "100万元"]))


def _benefit(kind: str, data: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"zh": "待遇", "en": "benefit"}
    if kind == "grant":
        d["grant"] = {"amount": data.draw(st.sampled_from(["20万元", "5.5万元", "1000元"]))}
    elif kind == "rate_of":
        d["rate_of"] = {
            "base": data.draw(st.sampled_from(YUAN_FACTS)),
            "rate": data.draw(percent.filter(lambda p: not p.startswith("-"))),
        }
    elif kind == "tax_rate":
        d["tax_rate"] = {
            "base": "taxable_income",
            "rate": data.draw(st.sampled_from(["15%", "5%"])),
        }
    elif kind == "deduction":
        d["deduction"] = {
            "base": data.draw(st.sampled_from(["rd_expense", "revenue_2y"])),
            "rate": "100%",
        }
    elif kind == "per_unit":
        unit = data.draw(
            st.sampled_from([("recycled_tonnes", "333.33元/吨"), ("site_area", "12元/平方米")])
        )
        d["per_unit"] = {"quantity": unit[0], "rate": unit[1]}
    elif kind == "tiers":
        by = data.draw(st.sampled_from(["rd_intensity", "revenue", "employees", "score_total"]))
        bounds = {
            "rd_intensity": ["3%", "5%"],
            "revenue": ["2000万元", "5000万元"],
            "employees": [20, 300],
            "score_total": ["10.5分", "25分"],
        }[by]
        d["tiers"] = {
            "by": by,
            "base": data.draw(st.sampled_from([None, "rd_expense", "taxable_income"])),
            "bands": [
                {"lt": bounds[0], "amount": "10万元"},
                {"ge": bounds[0], "le": bounds[1], "amount": "30万元"},
                {"gt": bounds[1], "amount": "50万元"},
            ],
        }
        if d["tiers"]["base"] is not None and data.draw(st.booleans()):
            d["tiers"]["bands"][1] = {"ge": bounds[0], "le": bounds[1], "rate": "12.5%"}
        if d["tiers"]["base"] is None:
            del d["tiers"]["base"]
    else:
        d["service"] = True
        return d
    cap = data.draw(_cap)
    if cap is not None:
        d["cap"] = cap
    return d


GROUPS = {
    "g.exclusive": {"group": "g.exclusive", "exclusive": True},
    "g.capped": {"group": "g.capped", "exclusive": False, "cap": "40万元"},
    "g.both": {"group": "g.both", "exclusive": True, "cap": "25万元"},
}


@st.composite
def policy_documents(draw: Any) -> dict[str, Any]:
    data = draw(st.data())
    policies = []
    for index in range(draw(st.integers(1, 6))):
        policy: dict[str, Any] = {
            "id": f"gen.policy.p{index}",
            "title": "生成的政策",
            "title_en": "generated policy",
            "benefit": _benefit(
                draw(
                    st.sampled_from(
                        [
                            "grant",
                            "rate_of",
                            "tax_rate",
                            "deduction",
                            "per_unit",
                            "tiers",
                            "service",
                        ]
                    )
                ),
                data,
            ),
        }
        if draw(st.booleans()):
            policy["when"] = draw(conditions)
        if draw(st.integers(0, 3)) == 0:
            policy["unless"] = [draw(conditions)]
        zones = draw(st.sampled_from([None, ["shanxi"], ["jinzhong-dz"], ["guangling", "taiyuan"]]))
        if zones is not None:
            policy["zones"] = zones
        if draw(st.integers(0, 4)) == 0:
            policy["effective"] = {"until": "2025-06-30"}
        group = draw(st.sampled_from([None, None, *GROUPS]))
        if group is not None and policy["benefit"].get("service") is None:
            policy["stacking"] = GROUPS[group]
        policies.append(policy)
    return {
        "id": "gen",
        "title": "生成的文件",
        "title_en": "generated document",
        "issuer": "测试",
        "provenance": "illustrative",
        "zones": ["national"],
        "facts": EXTRA_FACTS,
        "policies": policies,
    }


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


amounts = st.one_of(
    st.sampled_from([Decimal(0), Decimal("3000000"), Decimal("50000000"), Decimal("200000000")]),
    st.decimals(min_value=0, max_value=Decimal("300000000"), places=2),
)
days = st.dates(min_value=date(2012, 1, 1), max_value=date(2029, 12, 31))


@st.composite
def profile_data(draw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}

    def put(key: str, strategy: st.SearchStrategy[Any]) -> None:
        value = draw(_maybe(strategy))
        if value is not None:
            data[key] = value

    put("zone", st.sampled_from(ZONES))
    put("registration_date", days)
    put("industry_code", st.sampled_from(["C3976", "I6510", "C3216"]))
    put("resident_enterprise", st.booleans())
    put("restricted_industry", st.booleans())
    put(
        "employees",
        st.sampled_from([Decimal(0), Decimal(20), Decimal("85.5"), Decimal(300), Decimal(301)]),
    )
    put("tech_staff", st.sampled_from([Decimal(0), Decimal(2), Decimal(30)]))
    financials = {}
    # Runs of consecutive years too, so that growth, multi-year sums and the scores over them
    # are often known.
    years = st.one_of(
        st.lists(st.integers(2020, 2028), unique=True, max_size=4),
        st.integers(2020, 2025).map(lambda first: list(range(first, first + 4))),
    )
    for year in draw(years):
        lines = {}
        for line in ("revenue", "total_income", "rd_expense", "rd_expense_domestic",
                     "high_tech_revenue", "taxable_income", "total_assets", "total_liabilities"):  # fmt: skip
            value = draw(_maybe(amounts))
            if value is not None:
                lines[line] = -value if line == "taxable_income" and draw(st.booleans()) else value
        financials[year] = lines
    if financials or draw(st.booleans()):
        data["financials"] = financials
    put("intellectual_property", st.lists(st.fixed_dictionaries({
        "kind": st.sampled_from(["invention_patent", "utility_model", "trademark", "software_copyright"]),
        "count": st.integers(1, 3),
        "acquisition": st.sampled_from(["self_developed", "licence", "transfer"]),
        "main_product": _maybe(st.booleans()),
    }), max_size=3))  # fmt: skip
    put("certifications", st.lists(st.fixed_dictionaries({
        "kind": st.sampled_from(["hnte", "tech_sme"]),
        "issued": days,
    }, optional={"expires": st.dates(min_value=date(2029, 12, 31), max_value=date(2030, 1, 1))}),
        max_size=2))  # fmt: skip
    compliance = draw(_maybe(st.fixed_dictionaries({}, optional={
        "tax_credit_rating": st.sampled_from(["A", "B", "M"]),
        "abnormal_operations_list": st.booleans(),
        "records": st.lists(st.fixed_dictionaries({
            "occurred": days,
            "kind": st.sampled_from(["safety_accident", "tax_violation"]),
            "severity": st.sampled_from(["major", "general"]),
        }), max_size=2),
    })))  # fmt: skip
    if compliance is not None:
        data["compliance"] = compliance
    facts = draw(st.fixed_dictionaries({}, optional={
        "hnte_core_ip_role": st.booleans(),
        "hnte_innovation_score": st.sampled_from([60, 70, 71, "75分"]),
        "recycled_tonnes": st.sampled_from([0, 12, "1.5万吨", "0.5"]),
        "site_area": st.sampled_from(["2000平方米", 3]),
        "product_tags": st.lists(st.sampled_from(["al", "cu", "fe"]), max_size=2),
        "zone_certified": st.booleans(),
        "expert_points": st.sampled_from([0, "59.5", 60, "75分"]),
        "bonus_points": st.sampled_from([0, 4, "12.5分"]),
    }))  # fmt: skip
    data["facts"] = facts
    # fields drawn independently can state the impossible (more 科技人员 than 职工): those
    # become unknown, as the profile schema refuses them
    return valid_data(data)[0]


def _frame(policies: PolicySet, profiles: list[Profile]) -> pl.DataFrame:
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: i}) for i, p in enumerate(profiles)]
    return rows_to_frame(rows, policies.facts)


def assert_scores_agree(
    policies: PolicySet, profiles: list[Profile], as_of: date, vectorised: VectorisedSet
) -> None:
    """Every score fact (and what it is computed from) has the reference's value, or is unknown
    with the reference's need for review: verdicts alone rarely show a band taken wrongly."""
    ids = sorted(
        {
            fact_id
            for defn in policies.facts.values()
            if defn.source_kind in ("points", "sum_of", "max_of")
            for fact_id in (defn.id, *dependencies(defn))
        }
    )
    got = vectorised.fact_frame(_frame(policies, profiles), as_of, ids).to_dicts()
    for profile, row in zip(profiles, got, strict=True):
        context = policies.context(profile, as_of)
        for fact_id in ids:
            expected = context.get(fact_id)
            value, den = row[fact_id], row[f"{fact_id}.den"]
            if isinstance(expected, Missing):
                actual: Any = ("unknown", row[f"{fact_id}.review"])
                wanted: Any = ("unknown", expected.review)
            elif isinstance(expected, Decimal):
                actual = (
                    None
                    if value is None
                    else from_micro(value)
                    if den is None
                    else Decimal(value) / Decimal(den)
                )
                wanted = expected
            else:
                continue  # not a number: read by a score only through a number
            assert actual == wanted, f"{fact_id} on {profile!r}"  # fmt: skip


def assert_agree(
    policies: PolicySet, profiles: list[Profile], as_of: date, vectorised: VectorisedSet
) -> None:
    out = vectorised.evaluate(_frame(policies, profiles), as_of, profiles)
    got = {(r[ROW], r["policy_id"]): r for r in out.iter_rows(named=True)}
    assert len(got) == len(profiles) * len(policies)
    for index, profile in enumerate(profiles):
        report = policies.evaluate(profile, as_of)
        for result in report.results:
            row = got[(index, result.policy_id)]
            amount = None if row["amount"] is None else from_micro(row["amount"])
            actual = (row["status"], amount, row["amount_kind"], row["missing"], row["review"])
            expected = (
                result.status.value,
                result.amount,
                result.amount_kind,
                result.missing,
                result.review,
            )
            assert actual == expected, f"row {index}, {result.policy_id}, profile {profile!r}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    document=policy_documents(),
    profiles=st.lists(profile_data(), min_size=1, max_size=12),
    as_of=st.sampled_from(AS_OF_CHOICES),
)
def test_vectorised_agrees_with_reference_on_random_sets(
    tmp_path_factory: pytest.TempPathFactory,
    document: dict[str, Any],
    profiles: list[dict[str, Any]],
    as_of: date,
) -> None:
    directory: Path = tmp_path_factory.mktemp("policies")
    (directory / "gen.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    policies = PolicySet(directory)
    vectorised = VectorisedSet(policies)
    assert vectorised.fallback == {}  # every generated construct is translated
    parsed = [parse_profile(p) for p in profiles]
    assert_agree(policies, parsed, as_of, vectorised)
    assert_scores_agree(policies, parsed, as_of, vectorised)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.sampled_from(
            [
                {"employees": None},
                {"tech_staff": 5},
                {"financials__2025__revenue": "6000万元"},
                {"financials__2025__revenue": "2.5亿元"},
                {"financials__2024": None},
                {"facts__hnte_core_ip_role": None},
                {"facts__hnte_innovation_score": 70},
                {"registration_date": date(2025, 12, 1)},
                {"zone": None},
                {"compliance": None},
                {"certifications": [{"kind": "hnte", "issued": date(2024, 1, 5)}]},
                {"financials__2025__taxable_income": "200万元"},
                {"financials__2025__total_assets": "3000万元"},
                {"intellectual_property": None},
                {"resident_enterprise": False},
            ]
        ),
        max_size=4,
    ),
    as_of=st.sampled_from(AS_OF_CHOICES),
)
def test_vectorised_agrees_on_the_bundled_library(
    policies: PolicySet, changes: list[dict[str, Any]], as_of: date
) -> None:
    merged: dict[str, Any] = {}
    for change in changes:
        merged.update(change)
    profiles = [build(HNTE_BASE), build(HNTE_BASE, **merged), parse_profile({})]
    assert_agree(policies, profiles, as_of, VectorisedSet(policies))


def test_the_bundled_library_is_vectorised_entirely(policies: PolicySet) -> None:
    fallback = VectorisedSet(policies).fallback
    assert fallback == {}, "\n".join(f"{pid}: {why}" for pid, why in fallback.items())


SCORED = ["national.tech-sme.evaluation", "national.sme-gradient-2022.innovative",
          "national.sme-gradient-2022.specialised", "national.sme-gradient-2026.tech-innovative",
          "national.sme-gradient-2026.specialised"]  # fmt: skip


@st.composite
def _scored_register(draw: Any, policies: PolicySet) -> tuple[date, list[Profile]]:
    """Profiles pushed onto the point bands, sums and thresholds of the score-based policies."""
    policy_id = draw(st.sampled_from(SCORED))
    as_of = draw(evaluation_dates(policies.get(policy_id)))
    data = draw(
        st.lists(threshold_profile_data(policies, policy_id, as_of), min_size=1, max_size=6)
    )
    return as_of, [parse_profile(d) for d in data]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_vectorised_agrees_on_score_thresholds(policies: PolicySet, data: st.DataObject) -> None:
    as_of, profiles = data.draw(_scored_register(policies))
    vectorised = VectorisedSet(policies)
    assert_agree(policies, profiles, as_of, vectorised)
    assert_scores_agree(policies, profiles, as_of, vectorised)


def test_unsupported_constructs_fall_back_to_the_reference(tmp_path: Path) -> None:
    """A sum of ratios is not translated (its exact denominators grow as products): that policy
    and the other member of its stacking group are evaluated row by row, with the same results."""
    facts = [
        {"id": "ratio_sum", "type": "quantity", "unit": "ratio", "zh": "比例之和", "en": "sum",
         "sum_of": ["rd_intensity", "debt_ratio"]},
    ]  # fmt: skip
    group = {"group": "g", "exclusive": True}
    grant = {"zh": "奖励", "en": "grant", "grant": {"amount": "10万元"}}
    document = {
        "id": "odd", "title": "测试", "title_en": "test", "issuer": "测试",
        "provenance": "illustrative", "zones": ["national"], "facts": facts,
        "policies": [
            {"id": "odd.sum", "title": "和", "title_en": "sum", "benefit": grant,
             "when": {"fact": "ratio_sum", "ge": "60%"}, "stacking": group},
            {"id": "odd.peer", "title": "同组", "title_en": "peer",
             "benefit": {**grant, "grant": {"amount": "20万元"}},
             "when": {"fact": "employees", "ge": 10}, "stacking": group},
            {"id": "odd.plain", "title": "其他", "title_en": "other", "benefit": grant},
        ],
    }  # fmt: skip
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    policies = PolicySet(tmp_path)
    vectorised = VectorisedSet(policies)
    assert set(vectorised.fallback) == {"odd.sum", "odd.peer"}
    assert "ratio_sum" in vectorised.fallback["odd.sum"]
    assert "shares stacking group" in vectorised.fallback["odd.peer"]
    profiles = [build(HNTE_BASE), build(HNTE_BASE, employees=5, tech_staff=1), parse_profile({})]
    assert_agree(policies, profiles, date(2026, 11, 24), vectorised)
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: i}) for i, p in enumerate(profiles)]
    with pytest.raises(ValueError, match="need profiles"):
        vectorised.evaluate(rows_to_frame(rows, policies.facts), date(2026, 11, 24))


def test_results_come_by_row_then_in_the_sets_policy_order(policies: PolicySet) -> None:
    profiles = [build(HNTE_BASE), parse_profile({}), build(HNTE_BASE, employees=None)]
    numbers = [30, 10, 20]  # a register need not arrive sorted
    pairs = zip(profiles, numbers, strict=True)
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: r}) for p, r in pairs]
    vectorised = VectorisedSet(policies)
    as_of = date(2026, 11, 24)
    out = vectorised.evaluate(rows_to_frame(rows, policies.facts), as_of)
    order = [cp.id for cp in policies.policies]
    assert out[ROW].to_list() == [r for r in sorted(numbers) for _ in order]
    assert out["policy_id"].to_list() == order * len(profiles)
    by_number = dict(zip(numbers, profiles, strict=True))
    for row in out.iter_rows(named=True):
        report = policies.evaluate(by_number[row[ROW]], as_of, policy_ids=[row["policy_id"]])
        assert row["status"] == report.results[0].status.value
    empty = vectorised.evaluate(rows_to_frame([], policies.facts), as_of)
    assert empty.height == 0 and empty.schema == OUTPUT


def test_stacking_pays_the_higher_member_once(policies: PolicySet) -> None:
    """HNTE 15% and small low-profit 5% are one exclusive group: only the higher one pays."""
    profile = build(
        HNTE_BASE,
        certifications=[{"kind": "hnte", "issued": date(2024, 12, 2)}],
        financials__2025__taxable_income="200万元",
        financials__2025__total_assets="3000万元",
    )
    as_of = date(2026, 11, 24)
    rows = [dict(profile_to_row(profile, policies.facts), row=1)]
    out = VectorisedSet(policies).evaluate(rows_to_frame(rows, policies.facts), as_of, [profile])
    amounts = {r["policy_id"]: r["amount"] for r in out.iter_rows(named=True)}
    # 200万 × (25% − 5%) = 40万 beats 200万 × (25% − 15%) = 20万, which is set to zero.
    assert from_micro(amounts["national.small-low-profit.cit"]) == Decimal("400000")
    assert from_micro(amounts["national.hnte.tax-rate"]) == 0
