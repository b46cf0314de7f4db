"""A share stated without its unit is refused, with the fix in the message: `30` could mean 30%
or 3000%, so it is never guessed (the policy loader refuses such a threshold the same way).
The one coercion that does it is the one every input goes through."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import AS_OF

from incentives.engine import PolicySet, ProfileError, parse_profile
from incentives.engine.reference.context import _coerce


@pytest.mark.parametrize(
    ("raw", "fix"),
    [
        (30, "write '30%'"),
        ("30", "write '30%'"),
        ("0.3", "write '30%' for 30 per cent (or '0.3%' for 0.3 per cent)"),
        (0, "write '0%'"),
    ],
)
def test_a_share_without_its_unit_is_refused(policies: PolicySet, raw: object, fix: str) -> None:
    profile = parse_profile({"facts": {"market_share": raw}})
    with pytest.raises(ProfileError) as info:
        policies.evaluate(profile, AS_OF)
    (problem,) = info.value.problems
    assert "facts.market_share" in str(problem) and "has no unit" in str(problem)
    assert fix in str(problem)


@pytest.mark.parametrize("raw", ["30%", "30％", "300‰"])
def test_a_share_with_its_unit_is_read_exactly(policies: PolicySet, raw: str) -> None:
    profile = parse_profile({"facts": {"market_share": raw}})
    assert policies.context(profile, AS_OF).get("market_share") == Decimal("0.3")


def test_the_shared_coercion_refuses_it_for_every_caller(policies: PolicySet) -> None:
    share = policies.plan.facts["market_share"]
    with pytest.raises(ValueError, match=r"row 3 facts.market_share: 30 has no unit.*'30%'"):
        _coerce(share, 30, "row 3 facts.market_share")
    counted = policies.plan.facts["employees"]  # other quantities still take plain numbers
    assert _coerce(counted, 30, "employees") == 30
