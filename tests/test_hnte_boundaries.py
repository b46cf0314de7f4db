"""Every boundary of 高新技术企业认定管理办法 第十一条, on both sides.

The bundled policy `national.hnte.certification` is evaluated on AS_OF (2026-11-24), so the
last fiscal year is 2025 and the three years are 2023-2025. Each test moves one figure of a
profile that meets every condition exactly onto, and just past, the edge the text draws.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from conftest import AS_OF, status_of

from incentives.engine import PolicySet, Profile, Status

HNTE = "national.hnte.certification"
PRIOR_REVENUE = Decimal("30000000")  # 2023 and 2024 sales, 3000万元 each
PRIOR_RD = Decimal("1000000")  # 2023 and 2024 R&D, 100万元 each
YUAN = Decimal(1)


def verdict(policies: PolicySet, profile: Profile, as_of: date = AS_OF) -> Status:
    return status_of(policies, profile, HNTE, as_of)


def rd_band(revenue: Decimal, ratio: Decimal, domestic: Decimal = Decimal(1)) -> dict[str, Any]:
    """Changes giving latest-year sales `revenue` and a 3-year R&D/sales ratio of exactly `ratio`
    (the 2025 R&D makes up the rest of the 3-year total), with `domestic` of it spent in China."""
    total_rd = ratio * (revenue + 2 * PRIOR_REVENUE)
    rd_2025 = total_rd - 2 * PRIOR_RD
    assert rd_2025 >= 0
    changes: dict[str, Any] = {"financials__2025__revenue": revenue}
    for year, rd in ((2025, rd_2025), (2024, PRIOR_RD), (2023, PRIOR_RD)):
        changes[f"financials__{year}__rd_expense"] = rd
        changes[f"financials__{year}__rd_expense_domestic"] = rd * domestic
    for year in (2024, 2023):
        changes[f"financials__{year}__revenue"] = PRIOR_REVENUE
    return changes


def test_base_profile_is_eligible(policies: PolicySet, hnte_profile: Callable[..., Profile]) -> None:
    result = policies.evaluate(hnte_profile(), AS_OF, policy_ids=[HNTE]).results[0]
    assert result.status is Status.ELIGIBLE
    assert result.missing == [] and result.review == [] and result.gaps == []


# (五) R&D intensity by band of latest-year sales: ≤5000万元（含）→5%, 5000万–2亿元（含）→4%, >2亿元→3%.
@pytest.mark.parametrize(
    ("revenue", "ratio", "expected"),
    [
        (Decimal("50000000"), Decimal("0.05"), Status.ELIGIBLE),  # 5000万元 is in the first band
        (Decimal("50000000"), Decimal("0.0499"), Status.INELIGIBLE),
        (Decimal("50000000"), Decimal("0.04"), Status.INELIGIBLE),  # not the 4% band yet
        (Decimal("50000000") + YUAN, Decimal("0.04"), Status.ELIGIBLE),
        (Decimal("50000000") + YUAN, Decimal("0.0399"), Status.INELIGIBLE),
        (Decimal("200000000"), Decimal("0.04"), Status.ELIGIBLE),  # 2亿元 is in the second band
        (Decimal("200000000"), Decimal("0.0399"), Status.INELIGIBLE),
        (Decimal("200000000"), Decimal("0.03"), Status.INELIGIBLE),  # not the 3% band yet
        (Decimal("200000000") + YUAN, Decimal("0.03"), Status.ELIGIBLE),
        (Decimal("200000000") + YUAN, Decimal("0.0299"), Status.INELIGIBLE),
        (Decimal("1000000"), Decimal("0.05"), Status.ELIGIBLE),
    ],
)
def test_rd_intensity_bands(
    policies: PolicySet,
    hnte_profile: Callable[..., Profile],
    revenue: Decimal,
    ratio: Decimal,
    expected: Status,
) -> None:
    assert verdict(policies, hnte_profile(**rd_band(revenue, ratio))) is expected


def test_band_is_chosen_by_latest_year_not_three_year_sales(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    # 3-year sales are far above 2亿元 but the latest year is 4000万元: the 5% band applies.
    changes = rd_band(Decimal("40000000"), Decimal("0.045"))
    changes |= {"financials__2024__revenue": Decimal("300000000")}
    profile = hnte_profile(**changes)
    result = policies.evaluate(profile, AS_OF, policy_ids=[HNTE], explain=True).results[0]
    assert result.status is Status.INELIGIBLE
    assert any(g.fact == "rd_intensity_3y" for g in result.gaps)


@pytest.mark.parametrize(
    ("domestic", "expected"),
    [(Decimal("0.6"), Status.ELIGIBLE), (Decimal("0.5999"), Status.INELIGIBLE)],
)
def test_domestic_rd_share_at_least_60_percent(
    policies: PolicySet, hnte_profile: Callable[..., Profile], domestic: Decimal, expected: Status
) -> None:
    changes = rd_band(Decimal("40000000"), Decimal("0.06"), domestic)
    assert verdict(policies, hnte_profile(**changes)) is expected


# (四) 科技人员占比不低于10%
@pytest.mark.parametrize(
    ("tech_staff", "employees", "expected"),
    [
        (10, 100, Status.ELIGIBLE),
        ("99.9", 1000, Status.INELIGIBLE),
        (9, 100, Status.INELIGIBLE),
        (100, 100, Status.ELIGIBLE),
    ],
)
def test_tech_staff_share_at_least_10_percent(
    policies: PolicySet,
    hnte_profile: Callable[..., Profile],
    tech_staff: object,
    employees: int,
    expected: Status,
) -> None:
    profile = hnte_profile(tech_staff=tech_staff, employees=employees)
    assert verdict(policies, profile) is expected


def test_no_employees_leaves_the_share_unknown(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    # A zero denominator gives no ratio: never a division error, never a pass.
    result = policies.evaluate(
        hnte_profile(tech_staff=0, employees=0), AS_OF, policy_ids=[HNTE]
    ).results[0]
    assert result.status is Status.UNDETERMINED
    assert result.missing == ["tech_staff_share"]


# (六) 近一年高新技术产品（服务）收入占同期总收入比例不低于60%
@pytest.mark.parametrize(
    ("high_tech", "expected"),
    [("2400万元", Status.ELIGIBLE), ("23999999.99", Status.INELIGIBLE)],
)
def test_high_tech_revenue_share_at_least_60_percent(
    policies: PolicySet, hnte_profile: Callable[..., Profile], high_tech: str, expected: Status
) -> None:
    profile = hnte_profile(
        financials__2025__high_tech_revenue=high_tech, financials__2025__total_income="4000万元"
    )
    assert verdict(policies, profile) is expected


def test_high_tech_share_uses_the_latest_year_only(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    # An earlier year's figures do not matter (some demos wrongly use 3 years).
    profile = hnte_profile(
        financials__2024__high_tech_revenue="0元", financials__2024__total_income="9亿元"
    )
    assert verdict(policies, profile) is Status.ELIGIBLE


# (七) 创新能力评价 70分以上（不含70分）
@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (70, Status.INELIGIBLE),
        (Decimal("70.5"), Status.ELIGIBLE),
        (71, Status.ELIGIBLE),
        (69, Status.INELIGIBLE),
        (100, Status.ELIGIBLE),
    ],
)
def test_innovation_score_above_70_exclusive(
    policies: PolicySet, hnte_profile: Callable[..., Profile], score: object, expected: Status
) -> None:
    assert verdict(policies, hnte_profile(facts__hnte_innovation_score=score)) is expected


# (一) 注册成立一年以上, counted as one calendar year before the evaluation date.
@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        (date(2025, 11, 24), Status.ELIGIBLE),  # exactly one year before AS_OF
        (date(2025, 11, 25), Status.INELIGIBLE),  # one day short
        (date(2026, 11, 24), Status.INELIGIBLE),
    ],
)
def test_registered_one_year(
    policies: PolicySet, hnte_profile: Callable[..., Profile], registered: date, expected: Status
) -> None:
    # Registered in 2025, so only 2025 counts in the 3-year sums (实际经营期不满三年).
    changes: dict[str, Any] = {"registration_date": registered}
    assert verdict(policies, hnte_profile(**changes)) is expected


def test_registration_on_29_february(policies: PolicySet, hnte_profile: Callable[..., Profile]) -> None:
    # One year before 2025-02-28 is 2024-02-28, so a firm registered on 2024-02-29 is one day short.
    profile = hnte_profile(registration_date=date(2024, 2, 29))
    assert verdict(policies, profile, date(2025, 2, 28)) is Status.INELIGIBLE
    assert verdict(policies, profile, date(2025, 3, 1)) is not Status.INELIGIBLE


# (八) 申请认定前一年内未发生重大安全、重大质量事故或严重环境违法行为
@pytest.mark.parametrize(
    ("occurred", "kind", "severity", "expected"),
    [
        (date(2026, 11, 24), "safety_accident", "major", Status.INELIGIBLE),  # on the day
        (date(2025, 11, 25), "quality_accident", "major", Status.INELIGIBLE),  # last day inside
        (date(2025, 11, 24), "safety_accident", "major", Status.ELIGIBLE),  # a full year ago
        (date(2026, 3, 1), "environmental_violation", "serious", Status.INELIGIBLE),
        (date(2026, 3, 1), "environmental_violation", "general", Status.ELIGIBLE),
        (date(2026, 3, 1), "tax_violation", "serious", Status.ELIGIBLE),  # not a listed kind
        (date(2026, 11, 25), "safety_accident", "major", Status.ELIGIBLE),  # after the date
    ],
)
def test_incidents_within_one_year(
    policies: PolicySet,
    hnte_profile: Callable[..., Profile],
    occurred: date,
    kind: str,
    severity: str,
    expected: Status,
) -> None:
    record = {"occurred": occurred, "kind": kind, "severity": severity}
    result = policies.evaluate(
        hnte_profile(compliance__records=[record]), AS_OF, policy_ids=[HNTE]
    ).results[0]
    assert result.status is expected
    if expected is Status.INELIGIBLE:
        assert result.reason is not None and result.reason.en == "an exclusion applies"
        assert [g.fact for g in result.gaps] == ["major_incidents_1y"]


def test_unknown_incident_record_is_undetermined(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    result = policies.evaluate(
        hnte_profile(compliance=None), AS_OF, policy_ids=[HNTE]
    ).results[0]
    assert result.status is Status.UNDETERMINED
    assert result.missing == ["major_incidents_1y"]
    assert result.missing_inputs == ["compliance.records"]


# (二) 知识产权的所有权: licences and trademarks do not count.
@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"kind": "invention_patent", "acquisition": "licence"}], Status.INELIGIBLE),
        ([{"kind": "trademark", "count": 5}], Status.INELIGIBLE),
        ([], Status.INELIGIBLE),
        ([{"kind": "software_copyright", "acquisition": "transfer"}], Status.ELIGIBLE),
        ([{"kind": "utility_model", "acquisition": "merger"}], Status.ELIGIBLE),
    ],
)
def test_owned_ip(
    policies: PolicySet,
    hnte_profile: Callable[..., Profile],
    items: list[dict[str, Any]],
    expected: Status,
) -> None:
    assert verdict(policies, hnte_profile(intellectual_property=items)) is expected


def test_not_resident_enterprise(policies: PolicySet, hnte_profile: Callable[..., Profile]) -> None:
    assert verdict(policies, hnte_profile(resident_enterprise=False)) is Status.INELIGIBLE


@pytest.mark.parametrize("fact", ["hnte_core_ip_role", "hnte_key_field", "hnte_innovation_score"])
def test_expert_judgement_missing_needs_review(
    policies: PolicySet, hnte_profile: Callable[..., Profile], fact: str
) -> None:
    result = policies.evaluate(
        hnte_profile(**{f"facts__{fact}": None}), AS_OF, policy_ids=[HNTE]
    ).results[0]
    assert result.status is Status.NEEDS_REVIEW
    assert result.review == [fact]
    assert result.missing == []


def test_missing_data_outranks_review(policies: PolicySet, hnte_profile: Callable[..., Profile]) -> None:
    profile = hnte_profile(facts__hnte_key_field=None, tech_staff=None)
    result = policies.evaluate(profile, AS_OF, policy_ids=[HNTE]).results[0]
    assert result.status is Status.UNDETERMINED
    assert result.missing == ["tech_staff_share"]
    assert result.missing_inputs == ["tech_staff"]
    assert result.review == ["hnte_key_field"]


def test_a_failed_criterion_decides_despite_unknowns(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    # Kleene: all(false, unknown) is false, so a missing figure cannot rescue a failing one.
    profile = hnte_profile(facts__hnte_innovation_score=60, tech_staff=None, financials=None)
    result = policies.evaluate(profile, AS_OF, policy_ids=[HNTE]).results[0]
    assert result.status is Status.INELIGIBLE
    assert [g.fact for g in result.gaps] == ["hnte_innovation_score"]


def test_gaps_are_closest_first(policies: PolicySet, hnte_profile: Callable[..., Profile]) -> None:
    profile = hnte_profile(
        facts__hnte_innovation_score=69, tech_staff=5, financials__2025__high_tech_revenue="2300万元"
    )
    result = policies.evaluate(profile, AS_OF, policy_ids=[HNTE]).results[0]
    assert result.status is Status.INELIGIBLE
    assert {g.fact for g in result.gaps} == {
        "hnte_innovation_score",
        "tech_staff_share",
        "high_tech_revenue_share",
    }
    distances = [g.distance for g in result.gaps]
    assert all(d is not None for d in distances)
    assert distances == sorted(distances)  # type: ignore[type-var]
