"""`PolicySet.evaluate(..., gaps=False)`: the verdict path without the "what would it take"
analysis. Everything but `gaps` must be the same as in a default evaluation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, HNTE_BASE, build, examples
from hypothesis import given, settings

from incentives.engine import (
    PolicySet,
    Report,
    Status,
    load_profile,
    parse_profile,
)
from incentives.engine.reference.results import PolicyResult, Text, assemble
from incentives.engine.testing import Scenario, scenarios, threshold_profile_data

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HNTE = "national.hnte.certification"
EXAMPLES_PER_TEST = examples(40)  # under the CI profile
# Module level, not the session fixture: the strategies below need the set when collected.
_POLICIES = PolicySet()


def _without_gaps(report: Report) -> dict[str, Any]:
    data = report.model_dump(mode="json")
    del data["opportunities"]  # built from the gaps' analysis
    for result in data["results"]:
        del result["gaps"]
    return data


def assert_same_but_gaps(full: Report, fast: Report) -> None:
    assert all(result.gaps == [] for result in fast.results) and fast.opportunities == []
    assert _without_gaps(fast) == _without_gaps(full)


def test_examples_agree_and_only_gaps_are_left_out(policies: PolicySet) -> None:
    with_gaps = 0
    for path in sorted(EXAMPLES.iterdir()):
        profile = load_profile(path)
        for explain in (False, True):
            full = policies.evaluate(profile, AS_OF, explain=explain)
            fast = policies.evaluate(profile, AS_OF, explain=explain, gaps=False)
            assert_same_but_gaps(full, fast)
            with_gaps += sum(bool(r.gaps) for r in full.results)
    # The comparison means something only if the default reports do show gaps.
    assert with_gaps > 10


def test_exclusion_reason_is_kept_without_gaps(policies: PolicySet) -> None:
    # A major accident within the year: the HNTE exclusion applies.
    incident = {"occurred": date(2026, 6, 1), "kind": "safety_accident", "severity": "major"}
    profile = build(HNTE_BASE, compliance__records=[incident])
    fast = policies.evaluate(profile, AS_OF, gaps=False)
    full = policies.evaluate(profile, AS_OF)
    hnte = next(r for r in fast.results if r.policy_id == HNTE)
    assert hnte.status is Status.INELIGIBLE and hnte.reason is not None and hnte.gaps == []
    assert hnte.reason.en == "an exclusion applies"
    assert_same_but_gaps(full, fast)


def test_results_equal_their_validated_copies(policies: PolicySet) -> None:
    # Results are assembled without validation; validating their data again changes nothing.
    report = policies.evaluate(
        load_profile(EXAMPLES / "jinzhong-hightech.yaml"), AS_OF, explain=True
    )
    again = Report.model_validate(report.model_dump())
    assert again == report
    assert again.model_dump_json() == report.model_dump_json()
    first: PolicyResult = report.results[0]
    changed = first.model_copy(update={"amount": None})
    assert changed.amount is None and first.policy_id == changed.policy_id
    assert report.results[0].zones is not report.results[1].zones


@settings(max_examples=EXAMPLES_PER_TEST)
@given(scenario=scenarios(_POLICIES))
def test_library_agrees_on_random_profiles(scenario: Scenario) -> None:
    profile = scenario.profile
    full = _POLICIES.evaluate(profile, scenario.as_of)
    fast = _POLICIES.evaluate(profile, scenario.as_of, gaps=False)
    assert_same_but_gaps(full, fast)


@settings(max_examples=EXAMPLES_PER_TEST)
@given(data=threshold_profile_data(_POLICIES, HNTE, AS_OF))
def test_hnte_agrees_near_its_thresholds(data: dict[str, Any]) -> None:
    # Profiles on the edges of the HNTE criteria: many ineligible verdicts, so many gaps.
    profile = parse_profile(data)
    full = _POLICIES.evaluate(profile, AS_OF, policy_ids=[HNTE])
    fast = _POLICIES.evaluate(profile, AS_OF, policy_ids=[HNTE], gaps=False)
    assert_same_but_gaps(full, fast)


def test_assemble_takes_every_field_in_declared_order() -> None:
    assert assemble(Text, {"zh": "是", "en": "yes"}) == Text(zh="是", en="yes")
    # Serialisation follows the instance's field order, so a reordered dict is refused.
    with pytest.raises(ValueError, match="needs the fields zh, en"):
        assemble(Text, {"en": "yes", "zh": "是"})
    with pytest.raises(ValueError):
        assemble(Text, {"zh": "是"})


def test_context_resolves_each_fact_once(policies: PolicySet) -> None:
    ctx = policies.context(build(HNTE_BASE), AS_OF)
    assert ctx  # true even before anything is resolved
    intensity = ctx.get("rd_intensity_3y")
    assert intensity == Decimal(700) / Decimal(10000)
    assert ctx["rd_intensity_3y"] is intensity
    assert "revenue_3y" in ctx  # resolved on the way, as a part of the ratio
    with pytest.raises(KeyError):
        ctx.get("no_such_fact")
