"""What the service says about the policies themselves (`GET /v1/policies`, `/v1/zones`, …):
a thin adapter over the policy set, in the same shape as `incentives list --format json` and
`incentives show --format json` (a test holds the two to it).

The summaries are the engine's (`engine.summary`), read from each policy's plan; which
policies apply in a zone is the policy set's answer (`PolicySet.policies_in`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engine import InputError, PolicySet
from ..engine.compile.plan import PolicyPlan
from ..engine.model.language import Policy
from ..engine.summary import PolicySummary, policy_summary
from .problems import ServiceProblem

__all__ = ["PolicyDetail", "PolicySummary", "detail", "known_policy", "listing", "summary"]


class PolicyDetail(PolicySummary):
    definition: Policy = Field(description="the policy as written in its document")


def summary(policy_set: PolicySet, policy_id: str) -> PolicySummary:
    return policy_summary(known_policy(policy_set, policy_id))


def detail(policy_set: PolicySet, policy_id: str) -> dict[str, Any]:
    """The policy's summary and its definition as written (fields not given left out), as
    `incentives show --format json` prints them."""
    data = summary(policy_set, policy_id).model_dump(mode="json")
    data["definition"] = policy_set.definition(policy_id).model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def known_policy(policy_set: PolicySet, policy_id: str) -> PolicyPlan:
    """The policy, or 404 with the ids it might have meant."""
    try:
        return policy_set.get(policy_id)
    except InputError as exc:
        raise ServiceProblem(404, "unknown-policy", exc.render()) from None


def listing(policy_set: PolicySet, zone: str | None) -> list[PolicySummary]:
    """Every policy, or those that apply in `zone` (national ones included)."""
    if zone is None:
        return [policy_summary(p) for p in policy_set.policies]
    try:
        return [policy_summary(p) for p in policy_set.policies_in(zone)]
    except InputError as exc:
        raise ServiceProblem(400, "invalid-parameter", exc.render()) from None
