"""What the service says about the policies themselves (`GET /v1/policies`, `/v1/zones`, …):
a thin adapter over the policy set, in the same shape as `incentives list --format json` and
`incentives show --format json` (a test holds the two to it).

(The policy set hands out its compiled policies; once it offers plain "plan" data for each
policy, this adapter should read that instead.)
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..engine import InputError, PolicySet
from ..engine.model.language import Policy
from ..engine.model.zones import NATIONAL, Zones
from ..engine.reference.evaluate import CompiledPolicy
from ..engine.reference.results import SourceInfo, Text
from .problems import ServiceProblem


class PolicySummary(BaseModel):
    id: str
    title: str
    title_en: str
    zones: list[str]
    effective_from: date | None
    effective_until: date | None
    provenance: Literal["verified", "illustrative"]
    source: SourceInfo
    benefit_kind: str
    benefit: Text


class PolicyDetail(PolicySummary):
    definition: Policy = Field(description="the policy as written in its document")


def summary(policy_set: PolicySet, policy_id: str) -> PolicySummary:
    cp = known_policy(policy_set, policy_id)
    p = cp.policy
    return PolicySummary(
        id=p.id,
        title=p.title,
        title_en=p.title_en,
        zones=sorted(cp.zones),
        effective_from=cp.effective.start,
        effective_until=cp.effective.until,
        provenance=cp.source.provenance,
        source=cp.source,
        benefit_kind=p.benefit.kind,
        benefit=Text(zh=p.benefit.zh, en=p.benefit.en),
    )


def detail(policy_set: PolicySet, policy_id: str) -> dict[str, Any]:
    """The policy's summary and its definition as written (fields not given left out), as
    `incentives show --format json` prints them."""
    cp = known_policy(policy_set, policy_id)
    data = summary(policy_set, policy_id).model_dump(mode="json")
    data["definition"] = cp.policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def known_policy(policy_set: PolicySet, policy_id: str) -> CompiledPolicy:
    """The policy, or 404 with the ids it might have meant."""
    try:
        return policy_set.get(policy_id)
    except InputError as exc:
        raise ServiceProblem(404, "unknown-policy", exc.render()) from None


def listing(policy_set: PolicySet, zone: str | None) -> list[PolicySummary]:
    """Every policy, or those that apply in `zone` (national ones included)."""
    ids = [p.id for p in policy_set.policies]
    if zone is not None:
        if zone not in policy_set.zones:
            known = ", ".join(sorted(policy_set.zones))
            raise ServiceProblem(
                400, "invalid-parameter", f"unknown zone {zone!r}; known zones: {known}"
            )
        # (as `incentives list --zone` chooses; both should ask the engine once it can say)
        chain = Zones(dict(policy_set.zones)).chain(zone)
        ids = [p.id for p in policy_set.policies
               if NATIONAL in p.zones or not p.zones.isdisjoint(chain)]  # fmt: skip
    return [summary(policy_set, pid) for pid in ids]
