"""A PolicySet and everything it hands out are immutable in depth: nothing a caller does to a
result, a plan, a document or a fact can change a later evaluation."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from conftest import AS_OF, HNTE_BASE, build
from pydantic import ValidationError

from incentives.engine import PolicySet, Profile

HNTE = "national.hnte.certification"


def _profile() -> Profile:
    """Some policies undetermined, some ineligible, some eligible with a calculation."""
    certificate = [{"kind": "hnte", "issued": date(2025, 3, 1)}]
    return build(HNTE_BASE, employees=None, certifications=certificate)


def _report(policies: PolicySet) -> dict[str, Any]:
    return policies.evaluate(_profile(), AS_OF, explain=True).model_dump(mode="json")


def test_changing_a_report_changes_no_later_one(policies: PolicySet) -> None:
    before = _report(policies)
    report = policies.evaluate(_profile(), AS_OF, explain=True)
    result = next(r for r in report.results if r.calculation)
    with pytest.raises(ValidationError):
        result.amount = None  # type: ignore[misc]
    for changed in report.results:  # every list a result holds is its own
        for name in ("zones", "calculation", "missing", "missing_inputs", "review", "gaps",
                     "requires"):  # fmt: skip
            getattr(changed, name).clear()
        if changed.trace is not None:
            changed.trace.children.clear()
    report.results.reverse()
    assert _report(policies) == before


def test_plans_and_what_they_hold_are_frozen(policies: PolicySet) -> None:
    before = _report(policies)
    plan = policies.get(HNTE)
    assert policies.policies[0] is policies.plan.policies[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.effective = plan.effective  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.criteria[0].node.children[0].operand = 0  # type: ignore[union-attr, misc]
    tiers = next(p for p in policies.policies if p.benefit.bands)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiers.benefit.bands[0].amount = 0  # type: ignore[misc]
    assert isinstance(plan.criteria, tuple) and isinstance(plan.zones, frozenset)
    with pytest.raises(TypeError):
        policies.plan.facts["revenue"] = policies.plan.facts["employees"]  # type: ignore[index]
    with pytest.raises(TypeError):
        policies.plan.readers["revenue"] = ()  # type: ignore[index]
    assert _report(policies) == before


def test_documents_facts_and_zones_are_frozen(policies: PolicySet) -> None:
    before = _report(policies)
    _, document = policies.documents[0]
    assert isinstance(document.policies, tuple) and isinstance(document.zones, tuple)
    with pytest.raises(ValidationError):
        document.policies[0].benefit = document.policies[0].benefit  # type: ignore[misc]
    definition = policies.definition(HNTE)
    assert isinstance(definition.unless, tuple)
    with pytest.raises(TypeError):
        policies.facts["revenue"] = policies.facts["employees"]  # type: ignore[index]
    assert isinstance(policies.facts["tech_sme_score"].sum_of, tuple)
    with pytest.raises(TypeError):
        policies.zones["taiyuan"] = policies.zones["national"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        policies.directory = None
    assert _report(policies) == before
