"""The evaluated tree's leaves and the gaps of facts other than ratios are kept by value
across evaluations (`explain._traced`, `explain._kept_gap`): a kept one must read exactly as
one made afresh, whatever was evaluated before it."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import AS_OF, HNTE_BASE, build

from incentives.engine import PolicySet, Profile
from incentives.engine.reference import explain

HNTE = "national.hnte.certification"


def _profiles() -> list[Profile]:
    """Profiles that repeat values (so that leaves are kept and found again), the same number
    written two ways (`4000万元`, `40000000.00`: one value, two texts), and unknowns of both
    kinds (data to supply, a judgement awaited); and one ratio of two pairs of figures (whose
    gaps differ)."""
    return [
        build(HNTE_BASE),
        build(HNTE_BASE, financials__2025__revenue="40000000.00", employees=300),
        build(HNTE_BASE, employees=None, facts__hnte_key_field=None),
        build(HNTE_BASE, resident_enterprise=False, tech_staff=5),
        build(HNTE_BASE, financials__2025__revenue="4000万元", employees=300),
        build(HNTE_BASE, registration_date=AS_OF.replace(year=2026, month=1)),
        build(HNTE_BASE, facts__hnte_innovation_score=60, resident_enterprise=False),
        build(HNTE_BASE, facts__hnte_innovation_score=60),
        build(HNTE_BASE, tech_staff=10, employees=200),  # 5%, as 5 of 100 above
        build(HNTE_BASE),
    ]


def _dumps(policies: PolicySet, profiles: list[Profile]) -> list[object]:
    return [policies.evaluate(p, AS_OF, explain=True).model_dump(mode="json") for p in profiles]


def test_kept_leaves_and_gaps_read_as_made_afresh(
    policies: PolicySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = _profiles()
    _dumps(policies, profiles[::-1])  # leaves kept from other profiles first
    kept = _dumps(policies, profiles)
    monkeypatch.setattr(explain, "LEAF_VALUES_KEPT", 0)  # a set that keeps none
    monkeypatch.setattr(explain, "GAP_VALUES_KEPT", 0)
    assert kept == _dumps(PolicySet(), profiles)
    values = {
        leaf["value"]
        for report in kept[1::3]
        for result in report["results"]  # type: ignore[index]
        if result["policy_id"] == HNTE
        for leaf in _leaves(result["trace"])
        if leaf["fact"] == "revenue"
    }
    assert {"40000000", "40000000.00"} <= values  # one number, each written as given


def _leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if not node["children"]:
        return [node]
    return [leaf for child in node["children"] for leaf in _leaves(child)]
