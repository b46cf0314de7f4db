"""The fact catalogue's language: every fact a policy may name, with its type, unit and where it
comes from.

A fact is either read from the profile (a field, a financial line of a given fiscal year, a
profile-supplied extra fact) or derived by a formula over the profile's structured data or
other facts (ratio, sum over the last N fiscal years, growth, compound or average growth,
counts of IP, certificates valid on the evaluation date and the history of a certificate kind,
a field of the project applied for, the share of income from a list of industries, records
within a period). Formulas are data, never Python in policy files.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .units import Unit

FACT_ID = r"^[a-z][a-z0-9_]*$"


def _at_least_one(value: Any) -> Any:
    """Checked before the items, so that a list whose only item is invalid reports that item
    alone (pydantic checks a tuple's length after dropping invalid items)."""
    if isinstance(value, list | tuple) and not value:
        raise ValueError("should have at least 1 item, not 0")
    return value


T = TypeVar("T")
# A sequence of one item or more, immutable once read.
NonEmpty = Annotated[
    tuple[T, ...], BeforeValidator(_at_least_one), Field(json_schema_extra={"minItems": 1})
]


class FactType(str, Enum):
    QUANTITY = "quantity"
    BOOL = "bool"
    DATE = "date"
    CODE = "code"
    CODES = "codes"


Change = Literal["actionable", "slow", "fixed"]
"""How a company can move a fact: `actionable`, by a decision it can take this year (R&D spend,
staff hired, IP applied for, a certificate obtained); `slow`, only over years (years of
operation, the size of the business, past figures); `fixed`, not by its own action (industry,
zone, past incidents). A gap on a fixed fact is a reason, never advice."""
CHANGE_ORDER: dict[str, int] = {"actionable": 0, "slow": 1, "fixed": 2}


class _Spec(BaseModel):
    # Built on first use: a set from the compiled library's cache (`compile.cache`) has its
    # declarations already, and validates none.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class SumYears(_Spec):
    financial: str
    years: int = Field(ge=1, le=10)


class Growth(_Spec):
    financial: str


class IpCount(_Spec):
    classes: tuple[Literal["I", "II"], ...] = ("I", "II")
    kinds: tuple[str, ...] | None = Field(
        None, min_length=1, description="IP kinds counted instead of whole classes"
    )
    granted_years: int | None = Field(
        None, ge=1, le=10, description="only items granted in the last N fiscal years"
    )
    acquisition: tuple[Literal["self_developed", "transfer", "gift", "merger", "licence"], ...] | None = (
        None
    )
    main_product: bool | None = None


class Certified(_Spec):
    kind: str
    validity: str | None = Field(None, description="e.g. '3年' when certificates carry no expiry")


class Certificates(_Spec):
    """What the history of a certificate kind says (every certificate the enterprise has held
    is listed in `certifications`): the issue date of the latest issued by the evaluation date
    (`latest_issued`), whether it is the only one (`first`), or how many certificates end in an
    unbroken chain with the latest (`consecutive`: each issued at most `grace` after the one
    before ended, its expiry or, without one, `validity` after issue)."""

    kind: str
    measure: Literal["latest_issued", "first", "consecutive"]
    validity: str | None = Field(None, description="e.g. '3年' when certificates carry no expiry")
    grace: str = Field("0天", description="how long after the previous one ended a certificate "
                       "may be issued and still continue it (consecutive)")


class Cagr(_Spec):
    """Compound yearly growth of a financial line over `years` years: (last ÷ the year `years`
    before)^(1/years) − 1."""

    financial: str
    years: int = Field(ge=1, le=10)


class AverageGrowth(_Spec):
    """The mean of the yearly growth rates of a financial line over the last `years` years."""

    financial: str
    years: int = Field(ge=1, le=10)


class IndustryShare(_Spec):
    """The share of a year's income (`financials.<year>.income_by_industry`) from a named list
    of industries (`model.industry.INDUSTRY_LISTS`)."""

    industries: str


class Records(_Spec):
    kinds: tuple[str, ...]
    severities: tuple[str, ...]
    within: str = Field(
        description="period before the evaluation date, e.g. '1年', '6个月'; or calendar years: "
        "'当年' (since 1 January), '上一年及当年' (since 1 January of the year before)"
    )


Bound = str | int | Decimal


class PointBand(_Spec):
    """One scoring band: bounds on the `by` fact (ge/gt below, le/lt above) and its points."""

    ge: Bound | None = None
    gt: Bound | None = None
    le: Bound | None = None
    lt: Bound | None = None
    points: int | Decimal = Field(ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> PointBand:
        if self.ge is not None and self.gt is not None:
            raise ValueError("a band has at most one lower bound (ge or gt)")
        if self.le is not None and self.lt is not None:
            raise ValueError("a band has at most one upper bound (le or lt)")
        return self

    def text(self) -> str:
        parts = [f"{symbol} {raw}" for symbol, raw in
                 (("≥", self.ge), (">", self.gt), ("≤", self.le), ("<", self.lt)) if raw is not None]  # fmt: skip
        return ", ".join(parts) or "any"


class Points(_Spec):
    """A score read off bands of another fact; the first band that holds gives the points, and a
    value in no band scores 0."""

    by: str
    bands: NonEmpty[PointBand]


_SOURCES = ("field", "financial", "sum_years", "ratio", "growth", "ip_count", "certified",
            "records", "profile_fact", "points", "sum_of", "max_of", "certificates", "project",
            "cagr", "average_growth", "industry_share")  # fmt: skip


class FactDef(_Spec):
    """One declared fact. Exactly one of the source keys says where its value comes from.

    This model checks the shape; what the names mean (profile fields, financial lines,
    certificate and record kinds), whether type and unit fit the source, and the periods and
    bands are checked when the set is loaded (`engine.compile.facts`), with file and line."""

    id: str = Field(pattern=FACT_ID)
    type: FactType
    unit: Unit | None = None
    zh: str
    en: str
    judgement: bool = Field(
        False, description="needs an expert's judgement: when absent the verdict is needs_review"
    )
    change: Change | None = Field(
        None,
        description="actionable, slow or fixed (see Change); default: a formula's easiest "
        "input, else actionable",
    )
    note: str | None = None
    values: tuple[str, ...] | None = Field(
        None,
        min_length=1,
        description="code facts: every value the fact can take, so a rule naming another is a typo",
    )
    field: str | None = None
    financial: str | None = None
    year: int = Field(0, ge=0, le=10, description="0 = last fiscal year, 1 = the year before")
    sum_years: SumYears | None = None
    ratio: tuple[str, str] | None = None
    growth: Growth | None = None
    ip_count: IpCount | None = None
    certified: Certified | None = None
    records: Records | None = None
    profile_fact: str | None = None
    points: Points | None = None
    sum_of: tuple[str, ...] | None = Field(None, min_length=2)
    max_of: tuple[str, ...] | None = Field(
        None, min_length=2, description="the better of alternative options (e.g. scoring methods)"
    )
    certificates: Certificates | None = None
    project: str | None = Field(None, description="a field of the project applied for")
    cagr: Cagr | None = None
    average_growth: AverageGrowth | None = None
    industry_share: IndustryShare | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FactDef:
        given = [name for name in _SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a fact needs exactly one source among {', '.join(_SOURCES)}; got {given or 'none'}"
            )
        if (self.type is FactType.QUANTITY) != (self.unit is not None):
            raise ValueError("quantity facts need a unit and other types must not have one")
        if self.values is not None and self.type not in (FactType.CODE, FactType.CODES):
            raise ValueError("only code facts declare `values`")
        return self

    @property
    def source_kind(self) -> str:
        return next(name for name in _SOURCES if getattr(self, name) is not None)


def dependencies(defn: FactDef) -> tuple[str, ...]:
    """Other catalogue facts this one is computed from."""
    if defn.points is not None:
        return (defn.points.by,)
    return defn.ratio or tuple(defn.sum_of or defn.max_of or ())
