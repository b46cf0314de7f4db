"""The bundled library as a whole: versions by date, stacking, provenance marks, example profiles."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, build, status_of

from incentives.cli.main import main
from incentives.engine import PolicySet, Status, load_profile
from incentives.engine.compile.loader import bundled_policies

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_as_of_picks_the_2022_or_the_2026_gradient_rules(policies: PolicySet) -> None:
    profile = build(
        {
            "financials": {
                2025: {
                    "revenue": "3000万元",
                    "main_business_revenue": "2900万元",
                    "rd_expense": "150万元",
                },
                2024: {
                    "revenue": "2500万元",
                    "main_business_revenue": "2400万元",
                    "rd_expense": "120万元",
                },
            },
            "certifications": [{"kind": "innovative_sme", "issued": date(2025, 5, 1)}],
            "facts": {
                "sme": True,
                "niche_market_years": 2,
                "specialised_score_2022": 62,
                "specialised_score_2026": 62,
                "equity_financing_2y": 0,
                "class_i_ip_applied": 1,
                "market_position_ahead": True,
            },
        },
        financials__2025__total_assets="3000万元",
        financials__2025__total_liabilities="1200万元",
    )
    # Two years in the niche: enough under 63号, not under 2号 (three years).
    assert (
        status_of(policies, profile, "national.sme-gradient-2022.specialised", date(2026, 3, 31))
        is Status.ELIGIBLE
    )
    assert (
        status_of(policies, profile, "national.sme-gradient-2026.specialised", date(2026, 3, 31))
        is Status.NOT_IN_FORCE
    )
    assert (
        status_of(policies, profile, "national.sme-gradient-2022.specialised", date(2026, 4, 1))
        is Status.NOT_IN_FORCE
    )
    assert (
        status_of(policies, profile, "national.sme-gradient-2026.specialised", date(2026, 4, 1))
        is Status.INELIGIBLE
    )


def test_hnte_rate_and_small_low_profit_rate_are_not_both_counted(policies: PolicySet) -> None:
    profile = build(
        {
            "restricted_industry": False,
            "workforce": 50,
            "financials": {2025: {"taxable_income": "200万元", "total_assets": "3000万元"}},
            "certifications": [{"kind": "hnte", "issued": date(2025, 3, 1)}],
        }
    )
    report = policies.evaluate(
        profile, AS_OF, policy_ids=["national.hnte.tax-rate", "national.small-low-profit.cit"]
    )
    hnte, small = report.results
    assert (hnte.amount_alone, small.amount_alone) == (20_0000, 40_0000)  # 200万 × 10% / × 20%
    assert (hnte.amount, small.amount) == (0, 40_0000)
    assert hnte.stacking is not None and "national.small-low-profit.cit" in hnte.stacking.en
    assert report.totals.tax_saving == 40_0000


def test_illustrative_measures_are_marked_and_explained(policies: PolicySet) -> None:
    # Local measures whose amounts and rules we found in a source; every other local
    # one assumes something (an amount, a ratio, 就高, or a contested attribution).
    verified_local = {
        "shanxi.taiyuan.specialised-match",
        "shanxi.hnte-award-2023-2024.first-2023-base",
        "shanxi.hnte-award-2023-2024.first-2023-increase",
        "shanxi.hnte-award-2023-2024.first-2024",
        "shanxi.industry-chain-incentives.chain-leader",
        "shanxi.industry-chain-incentives.supply-rate",
    }
    for policy in policies.policies:
        source = policy.source
        assert source.article, f"{policy.id} cites no article"
        if policy.id.startswith("shanxi."):
            wanted = "verified" if policy.id in verified_local else "illustrative"
            assert source.provenance == wanted, policy.id
    for _, document in policies.documents:
        if document.provenance.value == "illustrative":
            assert document.note and "ILLUSTRATIVE" in document.note, document.id
    refund = policies.get("national.resource-recycling-vat.refund-recycled-metal")
    assert refund.source.provenance == "illustrative"
    assert refund.source.note is not None and "UNVERIFIED" in refund.source.note


def test_list_shows_every_bundled_policy_with_zone_dates_provenance_and_kind() -> None:
    result = CliRunner().invoke(main, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = {row["id"]: row for row in json.loads(result.output)}
    assert len(listed) == len(PolicySet(bundled_policies()))
    gaoping = listed["shanxi.gaoping.platform-landlord.factory"]
    assert (gaoping["zones"], gaoping["provenance"], gaoping["benefit_kind"]) == (
        ["gaoping"],
        "illustrative",
        "service",
    )
    new_rules = listed["national.sme-gradient-2026.little-giant"]
    assert (new_rules["effective_from"], new_rules["provenance"]) == ("2026-04-01", "verified")
    assert listed["national.sme-gradient-2022.innovative"]["effective_until"] == "2026-03-31"


@pytest.mark.parametrize(
    ("example", "zone", "expected"),
    [
        (
            "guangling-recycled-aluminium.yaml",
            "guangling-etdz",
            {"national.rd-super-deduction.rate-100": "eligible"},
        ),
        (
            "jinzhong-hightech.yaml",
            "jinzhong-dz",
            # 科小: the example does not say whether its accounts are sound (会计核算健全).
            {"national.hnte.tax-rate": "eligible", "national.tech-sme.evaluation": "undetermined"},
        ),
        (
            "gaoping-led.yaml",
            "gaoping",
            {
                "shanxi.gaoping.platform-landlord.factory": "eligible",
                "shanxi.gaoping.platform-landlord.equity": "ineligible",
            },
        ),
        (
            "ying-county-ceramics.yaml",
            "ying-county",
            {"shanxi.ying-county.bangkok-showroom.place": "eligible"},
        ),
        (
            "pingyao-meat.yaml",
            "pingyao",
            {
                "shanxi.pingyao.project-services.one-stop": "eligible",
                "shanxi.pingyao.project-services.food-liaison": "eligible",
            },
        ),
    ],
)
def test_seed_zone_examples(
    policies: PolicySet, example: str, zone: str, expected: dict[str, str]
) -> None:
    profile = load_profile(EXAMPLES / example)
    assert profile.synthetic and profile.zone == zone
    report = policies.evaluate(profile, AS_OF)
    statuses = {r.policy_id: r.status.value for r in report.results}
    assert {pid: statuses[pid] for pid in expected} == expected
    # Only the zone's own local measures (and national ones) can apply.
    for result in report.results:
        if result.policy_id.startswith("shanxi.") and result.status is not Status.NOT_IN_FORCE:
            assert zone in result.zones or any(z in ("zgq", "shanxi") for z in result.zones)
