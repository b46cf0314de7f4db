"""Tax years (issue 13): what a policy attaches to, the tax year asked for and its default,
certificates by tax year, versioned national rules, progressive parts, the calendar-year
window of 科小, and zones as places. Every back end and entry point (library, CLI, service,
vectorised, reactive) is asked the same question."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from batch_support import assert_agree
from click.testing import CliRunner
from conftest import HNTE_BASE, build

from incentives.cli.main import main
from incentives.engine import InputError, PolicySet, Status, parse_profile
from incentives.engine.batch.vectorised import VectorisedSet
from incentives.engine.model.zones import Zone, Zones
from incentives.engine.reactive import ReactiveSession, unavailable_reason

HNTE_RATE = "national.hnte.tax-rate"
SMALL = "national.small-low-profit.cit"
SMALL_2022 = "national.small-low-profit.cit-2022"
RD_75, RD_100 = "national.rd-super-deduction.rate-75", "national.rd-super-deduction.rate-100"

SMALL_FIRM = {
    "restricted_industry": False,
    "workforce": 80,
    "resident_enterprise": True,
    "audit_collection": True,
    "industry_code": "I6511",  # software development
    "financials": {
        2022: {"taxable_income": "80万元", "total_assets": "3000万元", "rd_expense": "100万元",
               "rd_expensed": "100万元", "rd_amortisation": "0"},
        2027: {"taxable_income": "200万元", "total_assets": "3000万元"},
    },
}


def result(policies: PolicySet, data: dict[str, Any], day: date, policy: str, **kw: Any) -> Any:
    return policies.evaluate(parse_profile(data), day, policy_ids=[policy], **kw).results[0]


def test_the_three_examples_of_the_issue(policies: PolicySet) -> None:
    # 1. A certificate issued on 2026-03-01, checked on 2026-06-30: FY2025 was not an HNTE year.
    firm = {**HNTE_BASE, "certifications": [{"kind": "hnte", "issued": date(2026, 3, 1)}]}
    shown = result(policies, firm, date(2026, 6, 30), HNTE_RATE)
    assert (shown.status, shown.amount, shown.tax_year) == (Status.INELIGIBLE, None, 2025)
    # 2. Checked on 2028-03-01 (the FY2027 settlement): 小型微利 is in force, 200万元 × 20% saved.
    settled = result(policies, SMALL_FIRM, date(2028, 3, 1), SMALL)
    assert (settled.status, settled.amount) == (Status.ELIGIBLE, Decimal("400000.00"))
    # 3. Checked on 2023-06-30: FY2022 R&D at 75%, 80万元 of income at the 12.5% rule.
    report = policies.evaluate(parse_profile(SMALL_FIRM), date(2023, 6, 30))
    by_id = {r.policy_id: r for r in report.results}
    assert by_id[RD_100].status is Status.NOT_IN_FORCE
    assert (by_id[RD_75].status, by_id[RD_75].amount) == (Status.ELIGIBLE, Decimal("750000.00"))
    assert by_id[SMALL].status is Status.NOT_IN_FORCE
    assert by_id[SMALL_2022].amount == Decimal("180000.00")  # 80万 × 25% − 80万 × 12.5% × 20%
    assert report.tax_year == 2022


def test_each_result_says_what_it_was_evaluated_for(policies: PolicySet) -> None:
    report = policies.evaluate(build(HNTE_BASE), date(2026, 11, 24), tax_year=2024)
    for r in report.results:
        if r.attaches == "tax_year":
            assert (r.evaluated_on, r.fiscal_year, r.tax_year) == (date(2024, 12, 31), 2024, 2024)
        else:
            assert (r.evaluated_on, r.fiscal_year, r.tax_year) == (date(2026, 11, 24), 2025, None)
    kinds = {r.policy_id: r.attaches for r in report.results}
    assert kinds[HNTE_RATE] == kinds[SMALL] == kinds[RD_100] == "tax_year"
    assert kinds["national.hnte.certification"] == "application"
    assert kinds["national.vat-transition-2026.small-scale-threshold"] == "application"


def test_a_tax_year_outside_the_fiscal_years_is_refused(policies: PolicySet) -> None:
    with pytest.raises(InputError, match="tax year 1800"):
        policies.evaluate(parse_profile({}), date(2026, 1, 1), tax_year=1800)


@pytest.mark.parametrize(
    ("income", "saved"),
    [
        ("0元", "0.00"),
        ("99.99万元", "224977.50"),
        ("100万元", "225000.00"),
        ("100.01万元", "225020.00"),
        ("123456.78", "27777.78"),  # 22.5%: 27777.7755 → half up
        ("300万元", "625000.00"),
    ],
)
def test_progressive_parts_agree_across_back_ends(
    policies: PolicySet, income: str, saved: str
) -> None:
    data = {**SMALL_FIRM, "financials": {2022: {"taxable_income": income, "total_assets": "1万元"}}}
    got = result(policies, data, date(2023, 6, 30), SMALL_2022)
    assert got.amount == Decimal(saved)
    assert_agree(policies, [parse_profile(data)], date(2023, 6, 30), VectorisedSet(policies))


def test_vectorised_and_reference_agree_on_another_tax_year(policies: PolicySet) -> None:
    profiles = [
        build(HNTE_BASE, certifications=[{"kind": "hnte", "issued": date(2023, 6, 1)}]),
        parse_profile(SMALL_FIRM),
        parse_profile({}),
    ]
    for tax_year in (2022, 2023, 2026, 2027):
        assert_agree(policies, profiles, date(2026, 11, 24), VectorisedSet(policies), tax_year)


@pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)
def test_reactive_session_evaluates_the_tax_year_asked_for(policies: PolicySet) -> None:
    day = date(2026, 6, 30)
    firm = {**HNTE_BASE, "certifications": [{"kind": "hnte", "issued": date(2026, 3, 1)}]}
    for tax_year in (None, 2026):
        with ReactiveSession(policies, day, tax_year=tax_year) as session:
            session.set_profile("E1", json.loads(json.dumps(firm, default=str)))
            expected = {
                r.policy_id: r.status
                for r in policies.evaluate(session.profile("E1"), day, tax_year=tax_year).results
            }
            assert session.verdicts("E1") == expected
            rate = Status.ELIGIBLE if tax_year == 2026 else Status.INELIGIBLE
            assert expected[HNTE_RATE] is rate


def test_check_takes_a_tax_year(tmp_path: Path) -> None:
    profile = tmp_path / "firm.json"
    profile.write_text(json.dumps(SMALL_FIRM), encoding="utf-8")
    run = CliRunner().invoke(
        main, ["check", str(profile), "--as-of", "2023-06-30", "--tax-year", "2027",
               "--format", "json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert report["tax_year"] == 2027
    small = next(r for r in report["results"] if r["policy_id"] == SMALL)
    assert (small["status"], small["amount"], small["tax_year"]) == ("eligible", "400000.00", 2027)
    bad = CliRunner().invoke(main, ["check", str(profile), "--tax-year", "twenty"])
    assert bad.exit_code == 2 and "--tax-year" in bad.output


def test_the_service_takes_a_tax_year(service: Any) -> None:
    body = json.dumps(SMALL_FIRM).encode()
    with service.client() as http:
        answer = http.post("/v1/check?as_of=2023-06-30&tax_year=2027", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["tax_year"] == 2027
        refused = http.post("/v1/check?tax_year=99999", content=body,
                            headers={"content-type": "application/json"})  # fmt: skip
        assert refused.status_code in (400, 422)
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_tech_sme_window_is_the_previous_and_current_calendar_years(policies: PolicySet) -> None:
    def incidents(day: date, occurred: date) -> object:
        record = {"occurred": occurred, "kind": "safety_accident", "severity": "major"}
        profile = parse_profile({"compliance": {"records": [record]}})
        return policies.context(profile, day)["tech_sme_incidents"]

    assert incidents(date(2026, 1, 1), date(2025, 1, 1)) == 1
    assert incidents(date(2026, 1, 1), date(2024, 12, 31)) == 0
    assert incidents(date(2026, 12, 31), date(2024, 12, 31)) == 0  # not a rolling 24 months
    assert incidents(date(2026, 6, 1), date(2026, 6, 2)) == 0  # after the evaluation date


def test_a_zone_with_several_parents_is_in_each(policies: PolicySet) -> None:
    park = policies.evaluate(parse_profile({"zone": "zgq-xuefu"}), date(2026, 6, 1))
    assert park.zones_applied == ["zgq-xuefu", "zgq", "taiyuan", "shanxi", "national"]
    statuses = {r.policy_id: r.status for r in park.results}
    assert statuses["shanxi.taiyuan.hnte-award"] is not Status.NOT_IN_FORCE
    assert statuses["shanxi.zgq.innovation-support.national-little-giant"] is not Status.NOT_IN_FORCE
    coarse = policies.evaluate(parse_profile({"zone": "zgq"}), date(2026, 6, 1))
    award = next(r for r in coarse.results if r.policy_id == "shanxi.taiyuan.hnte-award")
    assert award.status is Status.NOT_IN_FORCE and award.reason is not None
    assert "zgq-xuefu" in award.reason.en and "give that zone" in award.reason.en
    elsewhere = next(r for r in coarse.results if r.policy_id.startswith("shanxi.pingyao"))
    assert elsewhere.reason is not None and "zgq" not in elsewhere.reason.en


def test_zone_parents_are_checked() -> None:
    def zones(*items: dict[str, Any]) -> Zones:
        made = [Zone(zh="z", en="z", **item) for item in items]
        return Zones({z.id: z for z in made})

    assert zones({"id": "a", "parent": ["b", "c"]}, {"id": "b"}).problems() == [
        "zone 'a' has unknown parent 'c'"
    ]
    looped = zones({"id": "a", "parent": ["b"]}, {"id": "b", "parent": ["c", "a"]}, {"id": "c"})
    assert "zone 'a' is its own ancestor" in looped.problems()
    assert looped.chain("a") == ("a", "b", "c")  # ends, each zone once
