"""What a policy is, in a few fields: the stable shape that `incentives list` and `show`
print as JSON and the HTTP service returns from `/v1/policies` (one model for all three)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from .compile.plan import PolicyPlan
from .reference.results import SourceInfo, Text


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


def policy_summary(plan: PolicyPlan) -> PolicySummary:
    """The summary of one policy, read from its plan."""
    return PolicySummary(
        id=plan.id,
        title=plan.title,
        title_en=plan.title_en,
        zones=sorted(plan.zones),
        effective_from=plan.effective.start,
        effective_until=plan.effective.until,
        provenance=plan.source.provenance,
        source=plan.source,
        benefit_kind=plan.benefit.kind,
        benefit=Text(zh=plan.benefit.zh, en=plan.benefit.en),
    )
