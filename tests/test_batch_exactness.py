"""Near the limits of its exact integer arithmetic the vectorised back end never gives another
verdict than the reference: what could leave Int128, or where the reference's 28-digit
quotient could decide a ratio comparison otherwise, is evaluated by the reference instead
(`VectorisedSet.fallback`), and a register value it cannot hold is a bad row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from batch_support import assert_agree, fits_a_register
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, parse_profile
from incentives.engine.batch.columns import LIMIT
from incentives.engine.batch.vectorised import VectorisedSet
from incentives.engine.testing import write_policy_set

AS_OF = date(2026, 11, 24)
EXAMPLES = examples(40)
TOP = Decimal(LIMIT) - Decimal("0.000001")  # the largest amount a register holds


def _decimal(places: int, top: Decimal) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=-top, max_value=top, places=places, allow_nan=False)


# Thresholds and rates with up to 17 decimal places (the most a policy may write): some need more than Int128 or more than
# the reference's 28 digits once multiplied by a value near the limit.
wide = st.integers(0, 17).flatmap(lambda places: _decimal(places, Decimal(10) ** 15))
share = st.integers(0, 17).flatmap(lambda places: _decimal(places, Decimal(5)))
rate = st.integers(0, 17).flatmap(lambda places: _decimal(places, Decimal(3)).map(abs))


def _text(value: Decimal, suffix: str) -> str:
    return f"{value:f}{suffix}"


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    leaves = [
        {"fact": "revenue", draw(st.sampled_from(["ge", "lt", "eq"])): _text(draw(wide), "元")},
        {"fact": "taxable_income", "gt": _text(draw(wide), "元")},
        {"fact": "rd_intensity", draw(st.sampled_from(["ge", "le"])): _text(draw(share) * 100, "%")},
        {"fact": "debt_ratio", "between": sorted([_text(draw(share) * 100, "%") for _ in "ab"],
                                                 key=lambda t: Decimal(t[:-1]))},
        {"fact": "revenue_growth", "gt": _text(draw(share) * 100, "%")},
        {"fact": "ip_owned", "ge": draw(st.sampled_from(["1", "2", "100000000000000000"]))},
    ]  # fmt: skip
    policies = [
        {"id": f"x.p{i}", "title": "t", "title_en": "t", "when": leaf,
         "benefit": {"zh": "奖", "en": "award",
                     "rate_of": {"base": "revenue", "rate": _text(draw(rate) * 100, "%")}}}
        for i, leaf in enumerate(leaves)
    ]  # fmt: skip
    cap = _text(draw(st.decimals(0, Decimal(10) ** 16, places=2)), "元")
    policies.append({
        "id": "x.tiers", "title": "t", "title_en": "t",
        "benefit": {"zh": "奖", "en": "award", "cap": cap, "tiers": {
            "by": "revenue", "base": "taxable_income",
            "bands": [{"lt": _text(draw(wide), "元"), "rate": _text(draw(rate) * 100, "%")},
                      {"ge": "0元", "amount": "10万元"}]}},
    })  # fmt: skip
    return {"id": "x", "title": "t", "title_en": "t", "issuer": "t",
            "provenance": "illustrative", "zones": ["national"], "policies": policies}  # fmt: skip


amount = st.one_of(
    st.sampled_from([TOP, -TOP, Decimal("0.000001"), Decimal(0), Decimal(10) ** 14]),
    _decimal(6, TOP),
)
count = st.sampled_from([1, 2**31, 2**62, 2**63 - 1])


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    year = {line: draw(amount).copy_abs() for line in ("revenue", "rd_expense", "total_assets",
                                                          "total_liabilities")}  # fmt: skip
    year["taxable_income"] = draw(amount)
    before = {"revenue": draw(amount).copy_abs()}
    items = draw(st.lists(count, max_size=3))
    return {
        "financials": {2025: year, 2024: before},
        "intellectual_property": [{"kind": "invention_patent", "count": n} for n in items],
    }


@settings(max_examples=EXAMPLES)
@given(document=documents(), data=st.lists(profiles(), min_size=1, max_size=4))
def test_no_other_verdict_near_the_limits(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], data: list[Any]
) -> None:
    policies = PolicySet(write_policy_set([document], tmp_path_factory.mktemp("limits")))
    vectorised = VectorisedSet(policies)
    for reason in vectorised.fallback.values():
        assert "exact integer range" in reason or "precision" in reason or "group" in reason
    register = [p for p in map(parse_profile, data) if fits_a_register(p, policies)]
    if register:
        assert_agree(policies, register, AS_OF, vectorised)


def test_ip_counts_are_summed_without_wrapping_around(tmp_path: Path) -> None:
    """Two items of 2^62 each: summed in Int64 the count wrapped to -2^63 (ineligible)."""
    document = {
        "id": "x", "title": "t", "title_en": "t", "issuer": "t", "provenance": "illustrative",
        "zones": ["national"],
        "policies": [{"id": "x.ip", "title": "t", "title_en": "t",
                      "when": {"fact": "ip_owned", "ge": 2},
                      "benefit": {"service": True, "zh": "服务", "en": "service"}}],
    }  # fmt: skip
    policies = PolicySet(write_policy_set([document], tmp_path))
    firm = parse_profile(
        {"intellectual_property": [{"kind": "invention_patent", "count": 2**62}] * 2}
    )
    assert policies.evaluate(firm, AS_OF).results[0].status.value == "eligible"
    vectorised = VectorisedSet(policies)
    assert vectorised.fallback == {}
    assert_agree(policies, [firm], AS_OF, vectorised)


def test_a_threshold_beyond_the_exact_range_falls_back(tmp_path: Path) -> None:
    document = {
        "id": "x", "title": "t", "title_en": "t", "issuer": "t", "provenance": "illustrative",
        "zones": ["national"],
        "policies": [{"id": "x.fine", "title": "t", "title_en": "t",
                      "when": {"fact": "revenue", "ge": "123456789.1234567890123456789元"},
                      "benefit": {"service": True, "zh": "服务", "en": "service"}},
                     {"id": "x.share", "title": "t", "title_en": "t",
                      "when": {"fact": "rd_intensity", "ge": "3.00000001%"},
                      "benefit": {"service": True, "zh": "服务", "en": "service"}}],
    }  # fmt: skip
    policies = PolicySet(write_policy_set([document], tmp_path))
    vectorised = VectorisedSet(policies)
    assert "exact integer range" in vectorised.fallback["x.fine"]
    assert "28-digit quotient" in vectorised.fallback["x.share"]
    firm = parse_profile({"financials": {2025: {"revenue": TOP, "rd_expense": Decimal("30000000000000.000001")}}})
    assert_agree(policies, [firm], AS_OF, vectorised)
