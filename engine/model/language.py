"""The policy language: pydantic models of documents, policies, condition trees and benefits.

A YAML document mirrors one real policy document (一个文件) and holds its measures (条款).
These models check structure; the loader then checks meaning against the fact catalogue
(unknown facts, wrong units, operators that do not fit a fact's type) and makes the plan
(`engine.compile.plan`) that every back end reads. The models are immutable in depth (frozen,
with tuples for sequences): a loaded document handed out cannot be changed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from .facts import FactDef, NonEmpty
from .units import Day, Unit, UnitError, parse_quantity

POLICY_ID = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+$"
ZONE_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Scalar = bool | int | Decimal | str | date


Attaches = Literal["application", "tax_year"]
ATTACHES_HELP = (
    "what the measure attaches to: an `application` (recognition, award, service) evaluated on "
    "the evaluation date, or a `tax_year` (纳税年度) preference evaluated for a tax year; default: "
    "the document's, else tax_year for tax_rate and deduction benefits and application otherwise"
)


class Provenance(str, Enum):
    VERIFIED = "verified"
    ILLUSTRATIVE = "illustrative"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Effective(_Model):
    start: Day | None = Field(None, alias="from")
    until: Day | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.start is not None and self.until is not None and self.until < self.start:
            raise ValueError(
                f"effective period ends ({self.until}) before it starts ({self.start})"
            )
        return self

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (
            self.until is None or day <= self.until
        )


class Source(_Model):
    """Where a policy comes from. Omitted fields are taken from the document."""

    document: str | None = None
    number: str | None = Field(None, description="文号, e.g. 国科发火〔2016〕32号")
    issuer: str | None = None
    article: str | None = Field(None, description="条款, e.g. 第十一条")
    url: str | None = None
    provenance: Provenance | None = None
    note: str | None = None


# --- condition trees -------------------------------------------------------------------------

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
OPERATORS = (*COMPARISONS, "between", "in", "not_in", "prefix_in", "contains", "within")


class _Node(_Model):
    label: str | None = Field(None, description="Chinese wording of the criterion")
    label_en: str | None = None
    article: str | None = Field(None, description="the article or item, e.g. 第十一条（四）")
    provenance: Provenance | None = None
    note: str | None = None


class AllOf(_Node):
    all: NonEmpty[Condition]


class AnyOf(_Node):
    any: NonEmpty[Condition]


class NotOf(_Node):
    not_: Condition = Field(alias="not")


class Leaf(_Node):
    """`fact` compared with a value by exactly one operator."""

    fact: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    lt: Scalar | None = None
    le: Scalar | None = None
    gt: Scalar | None = None
    ge: Scalar | None = None
    between: tuple[Scalar, Scalar] | None = None
    in_: NonEmpty[Scalar] | None = Field(None, alias="in")
    not_in: NonEmpty[Scalar] | None = None
    prefix_in: NonEmpty[str] | None = None
    contains: str | None = None
    within: str | None = Field(
        None, description="a date within this period before the evaluation date"
    )

    @model_validator(mode="after")
    def _one_operator(self) -> Leaf:
        given = self.operators()
        if len(given) != 1:
            raise ValueError(
                f"a comparison needs exactly one operator among {', '.join(OPERATORS)}; "
                f"got {', '.join(given) or 'none'}"
            )
        return self

    def operators(self) -> list[str]:
        return [op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None]

    @property
    def op(self) -> str:
        return self.operators()[0]

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


def _node_kind(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key in ("all", "any", "not"):
            if key in raw:
                return key
        return "leaf"
    if isinstance(raw, _Node):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}[type(raw)]
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(
        _node_kind,
        custom_error_type="condition",
        custom_error_message="a condition is a mapping: all / any / not, or a fact comparison",
    ),
]


# --- benefits --------------------------------------------------------------------------------


class Band(_Model):
    """One tier: bounds on the `by` fact (ge/gt below, le/lt above) and what it pays."""

    ge: Scalar | None = None
    gt: Scalar | None = None
    le: Scalar | None = None
    lt: Scalar | None = None
    amount: str | int | Decimal | None = None
    rate: str | int | Decimal | None = None

    @model_validator(mode="after")
    def _shape(self) -> Band:
        if self.ge is not None and self.gt is not None:
            raise ValueError("a band has at most one lower bound (ge or gt)")
        if self.le is not None and self.lt is not None:
            raise ValueError("a band has at most one upper bound (le or lt)")
        if (self.amount is None) == (self.rate is None):
            raise ValueError("a band pays either an amount or a rate of the base")
        return self


class Grant(_Model):
    amount: str | int | Decimal


class RateOf(_Model):
    base: str
    rate: str | int | Decimal


class Tiers(_Model):
    by: str
    base: str | None = Field(None, description="the fact that band rates apply to")
    bands: NonEmpty[Band]


class PerUnit(_Model):
    quantity: str
    rate: str | int | Decimal


class TaxPart(_Model):
    """One part of the base in a progressive reduced rate (超额累进): the base up to `up_to`
    (above the previous part's bound) is taxed at `rate`."""

    up_to: str | int | Decimal = Field(description="upper bound of this part, e.g. '100万元'")
    rate: str | int | Decimal


class TaxRate(_Model):
    base: str = Field(description="the taxable amount the reduced rate applies to")
    rate: str | int | Decimal | None = None
    parts: tuple[TaxPart, ...] | None = Field(
        None,
        description="instead of one rate: reduced rates by part of the base, each part up to "
        "its bound (the part above the last bound saves nothing)",
    )
    standard: str | int | Decimal = "25%"

    @model_validator(mode="after")
    def _rate_or_parts(self) -> TaxRate:
        if (self.rate is None) == (not self.parts):
            raise ValueError("a tax_rate needs either `rate` or a non-empty list of `parts`")
        return self


class Deduction(_Model):
    base: str
    rate: str | int | Decimal


BENEFIT_KINDS = ("grant", "rate_of", "tiers", "per_unit", "tax_rate", "deduction", "service")


class Benefit(_Model):
    """What the policy grants. Exactly one of the kinds, with an optional cap."""

    zh: str
    en: str
    grant: Grant | None = None
    rate_of: RateOf | None = None
    tiers: Tiers | None = None
    per_unit: PerUnit | None = None
    tax_rate: TaxRate | None = None
    deduction: Deduction | None = None
    service: bool | None = Field(None, description="non-monetary: fast-track, space, status")
    cap: str | int | Decimal | None = None
    provenance: Provenance | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Benefit:
        given = [k for k in BENEFIT_KINDS if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                f"a benefit needs exactly one kind among {', '.join(BENEFIT_KINDS)}; "
                f"got {', '.join(given) or 'none'}"
            )
        if self.cap is not None and given[0] == "service":
            raise ValueError("a non-monetary benefit cannot have a cap")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in BENEFIT_KINDS if getattr(self, k) not in (None, False))


class Stacking(_Model):
    """同一事项不重复享受: members of an exclusive group pay only the highest; a cap limits the
    group's total per enterprise and year."""

    group: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-_]*$")
    exclusive: bool = True
    cap: str | int | Decimal | None = None

    @model_validator(mode="after")
    def _cap_in_yuan(self) -> Stacking:
        # Checked here, at load time: evaluation parses the cap and must not meet bad text.
        if self.cap is not None:
            try:
                quantity = parse_quantity(self.cap)
            except UnitError as exc:
                raise ValueError(str(exc)) from None
            if quantity.unit is not Unit.YUAN or quantity.value < 0:
                raise ValueError(
                    f"a group cap is an amount in yuan such as '50万元', got {self.cap!r}"
                )
        return self


class Requirement(_Model):
    zh: str
    en: str | None = None


class Policy(_Model):
    id: str = Field(pattern=POLICY_ID)
    title: str
    title_en: str
    source: Source = Source()
    effective: Effective | None = None
    zones: tuple[str, ...] | None = None
    when: Condition | None = None
    unless: tuple[Condition, ...] = ()
    benefit: Benefit
    stacking: Stacking | None = None
    requires: tuple[Requirement, ...] = ()
    attaches: Attaches | None = Field(None, description=ATTACHES_HELP)
    monotone: tuple[str, ...] = Field(
        (), description="facts that, when larger, never lower the amount"
    )
    note: str | None = None


class Document(_Model):
    """One real policy document with its measures."""

    id: str = Field(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")
    title: str
    title_en: str
    number: str | None = None
    issuer: str
    published: Day | None = None
    url: str | None = None
    provenance: Provenance
    effective: Effective = Effective()
    superseded_by: str | None = Field(
        None,
        description="id of the document that replaces this one; this document then needs an "
        "effective end date and stays in the set for evaluations on earlier dates",
    )
    zones: NonEmpty[str]
    attaches: Attaches | None = Field(None, description=ATTACHES_HELP)
    note: str | None = None
    facts: tuple[FactDef, ...] = ()
    policies: NonEmpty[Policy]


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
Policy.model_rebuild()
