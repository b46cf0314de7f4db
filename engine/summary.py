"""What a policy is, in a few fields: the stable shape that `incentives list` and `show`
print as JSON and the HTTP service returns from `/v1/policies` (one model for all three); and
what a fact is, for `incentives facts`: its labels, type, unit, where it comes from, how it
can change and, for a fact the profile states, an example of how to write it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from .compile.plan import READ_KINDS, FactPlan, FieldSource, PolicyPlan
from .model.facts import FactType
from .model.units import Unit
from .reference.context import origin
from .reference.results import Mobility, SourceInfo, Text


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


class FactSummary(BaseModel):
    id: str
    zh: str
    en: str
    type: str
    unit: str | None
    source: str  # field, financial, profile_fact, ratio, sum_years, …
    origin: str  # where its value comes from on `as_of` (`financials.2025.revenue`, `a ÷ b`)
    inputs: list[str]  # the profile fields it is read or derived from
    change: Mobility
    judgement: bool
    example: str | None  # how a profile writes it (None: derived, never written)
    note: str | None


_EXAMPLE_QUANTITY = {
    Unit.YUAN: "1200万元", Unit.RATIO: "3%", Unit.PERSON: "50", Unit.ITEM: "2", Unit.POINT: "70",
    Unit.TONNE: "1000吨", Unit.SQUARE_METRE: "5000平方米", Unit.YUAN_PER_TONNE: "200元/吨",
    Unit.YUAN_PER_SQUARE_METRE: "100元/平方米", Unit.YEAR: "3年", Unit.MONTH: "6个月",
    Unit.DAY: "30天", Unit.NUMBER: "3",
}  # fmt: skip
_EXAMPLE_CODE = {"zone": "jinzhong-dz", "industry_code": "C3976", "tax_credit_rating": "A"}
_EXAMPLE_OTHER = {FactType.BOOL: "true", FactType.DATE: "2024-12-02", FactType.CODE: "code",
                  FactType.CODES: "[code1, code2]"}  # fmt: skip


# What to give for a fact derived from the profile's structure: the structured input, not a fact.
_DERIVED_EXAMPLES = {
    "certificates": "certifications: [{{kind: {s.certificate}, issued: 2024-12-02}}]",
    "project": "projects: [{{name: 一期, {s.field}: …, applying: true}}]",
    "cagr": "financials.<year>.{s.line} for the last fiscal year and {s.years} years before",
    "average_growth": "financials.<year>.{s.line} for the last {s.years} fiscal years and the one before",
    "industry_share": "financials.2025.income_by_industry: {{C3976: 800万元, F5191: 200万元}}",
}


def _example(plan: FactPlan) -> str | None:
    """`employees: 50`, `financials.2025.revenue: 1200万元`, `facts.sme: true`; for a fact derived
    from a list or several years, the structured input (`certifications: [{kind: hnte, …}]`)."""
    derived = _DERIVED_EXAMPLES.get(plan.source.kind)
    if derived is not None:
        return derived.format(s=plan.source)
    if plan.source.kind not in READ_KINDS:
        return None
    if plan.unit is not None:
        value = _EXAMPLE_QUANTITY[plan.unit]
    elif isinstance(plan.source, FieldSource) and plan.source.path[-1] in _EXAMPLE_CODE:
        value = _EXAMPLE_CODE[plan.source.path[-1]]
    else:
        value = _EXAMPLE_OTHER[plan.type]
    return f"{origin(plan, _EXAMPLE_DAY.year - 1)}: {value}"


_EXAMPLE_DAY = date(2026, 1, 1)  # examples name the fiscal year 2025


def fact_summary(plan: FactPlan, as_of: date) -> FactSummary:
    """One fact as `incentives facts` lists it, its origin read for the evaluation date."""
    return FactSummary(
        id=plan.id,
        zh=plan.zh,
        en=plan.en,
        type=plan.type.value,
        unit=None if plan.unit is None else plan.unit.value,
        source=plan.source.kind,
        origin=origin(plan, as_of.year - 1),
        inputs=sorted(plan.profile_inputs),
        change=plan.change,
        judgement=plan.judgement,
        example=_example(plan),
        note=plan.note,
    )
