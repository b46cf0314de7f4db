"""Date handling: effective periods, the fiscal year `as_of` selects, certificate validity,
multi-year sums that start at registration, and periods counted back from the evaluation date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from conftest import AS_OF, HNTE_BASE, InlineSet, build, status_of

from incentives.engine import (
    PolicySet,
    Profile,
    Status,
    parse_profile,
)

SMALL = "national.small-low-profit.cit"
HNTE_RATE = "national.hnte.tax-rate"

SMALL_FIRM = {
    "restricted_industry": False,
    "workforce": 50,
    "financials": {
        year: {"taxable_income": "100万元", "total_assets": "2000万元"} for year in range(2021, 2031)
    },
}


@pytest.mark.parametrize(
    ("tax_year", "expected"),
    [
        (2022, Status.NOT_IN_FORCE),
        (2023, Status.ELIGIBLE),
        (2027, Status.ELIGIBLE),  # 执行至2027年12月31日: tax year 2027 is the last one covered
        (2028, Status.NOT_IN_FORCE),
    ],
)
def test_small_low_profit_in_force_for_tax_years_2023_to_2027(
    policies: PolicySet, tax_year: int, expected: Status
) -> None:
    as_of = date(tax_year + 1, 3, 1)  # the settlement season: the default tax year
    for asked in (None, tax_year):
        report = policies.evaluate(parse_profile(SMALL_FIRM), as_of, tax_year=asked,
                                   policy_ids=[SMALL])  # fmt: skip
        result = report.results[0]
        assert report.tax_year == tax_year
        assert (result.status, result.tax_year, result.evaluated_on) == (
            expected, tax_year, date(tax_year, 12, 31)
        )
        assert result.effective_until == date(2027, 12, 31)
        if expected is Status.NOT_IN_FORCE:
            assert result.amount is None and result.reason is not None
            assert "2027-12-31" in result.reason.en and "tax year" in result.reason.en
        else:
            # 100万元 taxed at an effective 5% instead of 25%: 20万元 saved.
            assert result.amount == Decimal("200000")


def test_a_tax_year_is_asked_for_apart_from_the_evaluation_date(policies: PolicySet) -> None:
    """Checked on 2028-03-01 (the FY2027 settlement) the preference is in force; asked for
    tax year 2028 on the same day it is not; an application on that day is evaluated on it."""
    firm = parse_profile(SMALL_FIRM)
    day = date(2028, 3, 1)
    assert status_of(policies, firm, SMALL, day) is Status.ELIGIBLE
    later = policies.evaluate(firm, day, tax_year=2028, policy_ids=[SMALL, "national.hnte.certification"])
    small, hnte = later.results
    assert small.status is Status.NOT_IN_FORCE and small.tax_year == 2028
    assert (hnte.attaches, hnte.evaluated_on, hnte.fiscal_year, hnte.tax_year) == (
        "application", day, 2027, None
    )


def test_not_in_force_takes_precedence_over_missing_data(policies: PolicySet) -> None:
    result = policies.evaluate(parse_profile({}), date(2029, 1, 1), policy_ids=[SMALL]).results[0]
    assert result.status is Status.NOT_IN_FORCE
    assert result.missing == []


def _window_set(inline_set: InlineSet) -> PolicySet:
    return inline_set(
        """\
        id: test.window
        title: 测试文件
        title_en: Test document
        issuer: 测试
        provenance: illustrative
        effective: {from: 2025-03-01, until: 2025-06-30}
        zones: [national]
        policies:
          - id: test.window.doc
            title: 文件有效期
            title_en: document period
            benefit: {grant: {amount: 1万元}, zh: 奖励, en: award}
          - id: test.window.own
            title: 条款自有有效期
            title_en: own period narrows the document's start
            effective: {from: 2025-04-01}
            benefit: {grant: {amount: 2万元}, zh: 奖励, en: award}
        """,
        name="window.yaml",
    )


@pytest.mark.parametrize(
    ("as_of", "doc", "own"),
    [
        (date(2025, 2, 28), Status.NOT_IN_FORCE, Status.NOT_IN_FORCE),
        (date(2025, 3, 1), Status.ELIGIBLE, Status.NOT_IN_FORCE),
        (date(2025, 3, 31), Status.ELIGIBLE, Status.NOT_IN_FORCE),
        (date(2025, 4, 1), Status.ELIGIBLE, Status.ELIGIBLE),
        (date(2025, 6, 30), Status.ELIGIBLE, Status.ELIGIBLE),  # the policy keeps the doc's end
        (date(2025, 7, 1), Status.NOT_IN_FORCE, Status.NOT_IN_FORCE),
    ],
)
def test_effective_period_edges(
    inline_set: InlineSet, as_of: date, doc: Status, own: Status
) -> None:
    report = _window_set(inline_set).evaluate(parse_profile({}), as_of)
    assert [r.status for r in report.results] == [doc, own]
    assert report.total == sum(
        (r.amount for r in report.results if r.amount is not None), Decimal(0)
    )


@pytest.mark.parametrize(
    ("as_of", "last_year"),
    [(date(2026, 1, 1), 2025), (date(2025, 12, 31), 2024), (date(2026, 12, 31), 2025)],
)
def test_last_fiscal_year_follows_as_of(
    policies: PolicySet, as_of: date, last_year: int
) -> None:
    profile = parse_profile({"financials": {2025: {"revenue": "1亿元"}}})
    ctx = policies.context(profile, as_of)
    assert ctx.last_year == last_year
    value = ctx.get("revenue")
    if last_year == 2025:
        assert value == Decimal("100000000")
    else:
        assert not value and f"financials.{last_year}.revenue" in value.inputs  # type: ignore[union-attr]


def test_small_low_profit_reads_the_last_fiscal_year(policies: PolicySet) -> None:
    # 2024 was small and profitable, 2025 was not: the verdict changes with the new year.
    profile = parse_profile(
        {
            "restricted_industry": False,
            "workforce": 50,
            "financials": {
                2024: {"taxable_income": "100万元", "total_assets": "2000万元"},
                2025: {"taxable_income": "400万元", "total_assets": "2000万元"},
            },
        }
    )
    assert status_of(policies, profile, SMALL, date(2025, 12, 31)) is Status.ELIGIBLE
    assert status_of(policies, profile, SMALL, date(2026, 1, 1)) is Status.INELIGIBLE


def _with_certificate(**certificate: object) -> Profile:
    return build(HNTE_BASE, certifications=[{"kind": "hnte", **certificate}])


def valid_on(policies: PolicySet, profile: Profile, day: date) -> object:
    """`hnte_valid` on a day: the certificate fact as an application reads it."""
    return policies.context(profile, day)["hnte_valid"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 11, 23), False),  # before the certificate is issued
        (date(2023, 11, 24), True),  # the issue date
        (date(2026, 11, 23), True),  # last day of the three years
        (date(2026, 11, 24), False),  # the third anniversary starts a new period
    ],
)
def test_hnte_certificate_valid_three_years(day: date, expected: bool, policies: PolicySet) -> None:
    profile = _with_certificate(issued=date(2023, 11, 24))
    assert valid_on(policies, profile, day) is expected


@pytest.mark.parametrize(
    ("tax_year", "expected"),
    [
        (2022, Status.INELIGIBLE),  # issued in 2023
        (2023, Status.ELIGIBLE),  # the year of issue counts whole (2017年第24号)
        (2025, Status.ELIGIBLE),
        (2026, Status.INELIGIBLE),  # it lapses on 2026-11-24: 期满当年 without a new one
    ],
)
def test_hnte_rate_counts_certificates_by_tax_year(
    tax_year: int, expected: Status, policies: PolicySet
) -> None:
    profile = build(HNTE_BASE, certifications=[{"kind": "hnte", "issued": date(2023, 11, 24)}],
                    **{f"financials__{tax_year}__taxable_income": "500万元"})  # fmt: skip
    result = policies.evaluate(profile, date(2027, 1, 5), tax_year=tax_year,
                               policy_ids=[HNTE_RATE]).results[0]  # fmt: skip
    assert (result.status, result.fiscal_year) == (expected, tax_year)


def test_explicit_expiry_is_inclusive(policies: PolicySet) -> None:
    profile = _with_certificate(issued=date(2024, 1, 10), expires=date(2025, 6, 30))
    assert valid_on(policies, profile, date(2025, 6, 30)) is True
    assert valid_on(policies, profile, date(2025, 7, 1)) is False
    assert status_of(policies, profile, HNTE_RATE, date(2025, 3, 1)) is Status.ELIGIBLE  # FY2024
    assert status_of(policies, profile, HNTE_RATE, date(2026, 3, 1)) is Status.INELIGIBLE  # FY2025


def test_renewed_certificate_counts(policies: PolicySet) -> None:
    profile = build(
        HNTE_BASE,
        certifications=[
            {"kind": "hnte", "issued": date(2020, 12, 1)},
            {"kind": "tech_sme", "issued": date(2026, 5, 1)},
            {"kind": "hnte", "issued": date(2023, 12, 1)},
        ],
    )
    assert status_of(policies, profile, HNTE_RATE, AS_OF) is Status.ELIGIBLE
    assert valid_on(policies, profile, date(2026, 12, 1)) is False
    assert status_of(policies, profile, HNTE_RATE, date(2027, 3, 1)) is Status.INELIGIBLE  # FY2026


def test_hnte_rate_saves_ten_points_of_taxable_income(policies: PolicySet) -> None:
    profile = _with_certificate(issued=date(2024, 12, 2))
    result = policies.evaluate(profile, AS_OF, policy_ids=[HNTE_RATE]).results[0]
    assert result.status is Status.ELIGIBLE
    assert result.amount == Decimal("500000")  # 500万元 × (25% − 15%)
    assert result.amount_kind == "tax_saving"
    assert result.calculation[-1].amount == Decimal("500000")


@pytest.mark.parametrize(
    ("registered", "years"),
    [
        (date(2019, 5, 10), (2023, 2024, 2025)),
        (date(2024, 3, 1), (2024, 2025)),  # 实际经营期不满三年的按实际经营时间计算
        (date(2025, 12, 31), (2025,)),
    ],
)
def test_three_year_sums_start_at_registration(
    policies: PolicySet, hnte_profile: Callable[..., Profile], registered: date, years: tuple[int, ...]
) -> None:
    revenue = {2022: 7, 2023: 1, 2024: 2, 2025: 4}
    changes = {f"financials__{y}__revenue": f"{v}万元" for y, v in revenue.items()}
    ctx = policies.context(hnte_profile(registration_date=registered, **changes), AS_OF)
    assert ctx.get("revenue_3y") == sum(Decimal(revenue[y]) * 10000 for y in years)


def test_a_missing_year_since_registration_is_reported(
    policies: PolicySet, hnte_profile: Callable[..., Profile]
) -> None:
    ctx = policies.context(hnte_profile(financials__2023=None), AS_OF)
    value = ctx.get("rd_expense_3y")
    assert not value
    assert "financials.2023.rd_expense" in value.inputs  # type: ignore[union-attr]
    # ...but not if the firm did not exist in 2023.
    ctx = policies.context(
        hnte_profile(financials__2023=None, registration_date=date(2024, 1, 2)), AS_OF
    )
    assert ctx.get("rd_expense_3y") == Decimal("5000000")


def test_registered_after_the_last_fiscal_year(policies: PolicySet) -> None:
    ctx = policies.context(parse_profile({"registration_date": date(2026, 2, 1)}), AS_OF)
    assert not ctx.get("revenue_3y")


def _relative_date_set(inline_set: InlineSet) -> PolicySet:
    return inline_set(
        """\
        id: test.young
        title: 测试
        title_en: test
        issuer: 测试
        provenance: illustrative
        zones: [national]
        policies:
          - id: test.young.firm
            title: 新设企业
            title_en: newly registered firm
            when: {fact: registration_date, within: 6个月}
            benefit: {service: true, zh: 服务, en: service}
          - id: test.young.fixed
            title: 固定日期之前注册
            title_en: registered before a fixed date
            when: {fact: registration_date, lt: 2020-01-01}
            benefit: {service: true, zh: 服务, en: service}
          - id: test.young.between
            title: 区间
            title_en: registered within a window
            when: {fact: registration_date, between: [2024-01-01, 2024-12-31]}
            benefit: {service: true, zh: 服务, en: service}
        """,
        name="young.yaml",
    )


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        (date(2026, 5, 24), [Status.INELIGIBLE, Status.INELIGIBLE, Status.INELIGIBLE]),
        (date(2026, 5, 25), [Status.ELIGIBLE, Status.INELIGIBLE, Status.INELIGIBLE]),
        (date(2026, 11, 25), [Status.INELIGIBLE, Status.INELIGIBLE, Status.INELIGIBLE]),
        (date(2019, 12, 31), [Status.INELIGIBLE, Status.ELIGIBLE, Status.INELIGIBLE]),
        (date(2024, 1, 1), [Status.INELIGIBLE, Status.INELIGIBLE, Status.ELIGIBLE]),
        (date(2024, 12, 31), [Status.INELIGIBLE, Status.INELIGIBLE, Status.ELIGIBLE]),
    ],
)
def test_date_operators(
    inline_set: InlineSet, registered: date, expected: list[Status]
) -> None:
    report = _relative_date_set(inline_set).evaluate(
        parse_profile({"registration_date": registered}), AS_OF
    )
    assert [r.status for r in report.results] == expected
