"""The fact catalogue's language: every fact a policy may name, with its type, unit and where it
comes from.

A fact is either read from the profile (a field, a financial line of a given fiscal year, a
profile-supplied extra fact) or derived by a formula over other facts (ratio, sum over the last
N fiscal years, growth, counts of IP, certificates valid on the evaluation date, records within
a period). Formulas are data, never Python in policy files.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .profile import FinancialYear
from .units import Unit, UnitError, parse_quantity

FACT_ID = r"^[a-z][a-z0-9_]*$"


class FactType(str, Enum):
    QUANTITY = "quantity"
    BOOL = "bool"
    DATE = "date"
    CODE = "code"
    CODES = "codes"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SumYears(_Spec):
    financial: str
    years: int = Field(ge=1, le=10)


class Growth(_Spec):
    financial: str


class IpCount(_Spec):
    classes: list[Literal["I", "II"]] = ["I", "II"]
    acquisition: list[Literal["self_developed", "transfer", "gift", "merger", "licence"]] | None = (
        None
    )
    main_product: bool | None = None


class Certified(_Spec):
    kind: str
    validity: str | None = Field(None, description="e.g. '3年' when certificates carry no expiry")


class Records(_Spec):
    kinds: list[str]
    severities: list[str]
    within: str = Field(description="period before the evaluation date, e.g. '1年'")


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

    def bounds(self) -> tuple[Decimal | None, ...]:
        """ge, gt, le, lt as exact numbers (3% → 0.03)."""
        return tuple(
            None if raw is None else parse_quantity(raw).value
            for raw in (self.ge, self.gt, self.le, self.lt)
        )

    def text(self) -> str:
        parts = [f"{symbol} {raw}" for symbol, raw in
                 (("≥", self.ge), (">", self.gt), ("≤", self.le), ("<", self.lt)) if raw is not None]  # fmt: skip
        return ", ".join(parts) or "any"


class Points(_Spec):
    """A score read off bands of another fact; the first band that holds gives the points, and a
    value in no band scores 0."""

    by: str
    bands: list[PointBand] = Field(min_length=1)


def _holds(bounds: tuple[Decimal | None, ...], value: Decimal) -> bool:
    ge, gt, le, lt = bounds
    return (
        (ge is None or value >= ge)
        and (gt is None or value > gt)
        and (le is None or value <= le)
        and (lt is None or value < lt)
    )


_SOURCES = ("field", "financial", "sum_years", "ratio", "growth", "ip_count", "certified",
            "records", "profile_fact", "points", "sum_of", "max_of")  # fmt: skip
_FINANCIAL_FIELDS = frozenset(FinancialYear.model_fields)


class FactDef(_Spec):
    """One declared fact. Exactly one of the source keys says where its value comes from."""

    id: str = Field(pattern=FACT_ID)
    type: FactType
    unit: Unit | None = None
    zh: str
    en: str
    judgement: bool = Field(
        False, description="needs an expert's judgement: when absent the verdict is needs_review"
    )
    note: str | None = None
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
    sum_of: list[str] | None = Field(None, min_length=2)
    max_of: list[str] | None = Field(
        None, min_length=2, description="the better of alternative options (e.g. scoring methods)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FactDef:
        given = [name for name in _SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a fact needs exactly one source among {', '.join(_SOURCES)}; got {given or 'none'}"
            )
        if (self.type is FactType.QUANTITY) != (self.unit is not None):
            raise ValueError("quantity facts need a unit and other types must not have one")
        for name in (self.financial, self.sum_years and self.sum_years.financial,
                     self.growth and self.growth.financial):  # fmt: skip
            if name is not None and name not in _FINANCIAL_FIELDS:
                raise ValueError(
                    f"unknown financial line {name!r}; known: {', '.join(sorted(_FINANCIAL_FIELDS))}"
                )
        if self.certified is not None and self.certified.validity is not None:
            _duration(self.certified.validity)
        if self.records is not None:
            _duration(self.records.within)
        if self.points is not None and self.unit is not Unit.POINT:
            raise ValueError("a points fact must have unit 'point'")
        if self.points is not None:
            for band in self.points.bands:
                for raw in (band.ge, band.gt, band.le, band.lt):
                    if raw is not None:
                        try:
                            parse_quantity(raw)
                        except UnitError as exc:
                            raise ValueError(str(exc)) from None
        return self

    @property
    def source_kind(self) -> str:
        return next(name for name in _SOURCES if getattr(self, name) is not None)


def _duration(text: str) -> tuple[int, Unit]:
    try:
        quantity = parse_quantity(text)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if not quantity.unit.is_duration or quantity.value != int(quantity.value):
        raise ValueError(f"{text!r} is not a whole number of years, months or days")
    return int(quantity.value), quantity.unit



def dependencies(defn: FactDef) -> tuple[str, ...]:
    """Other catalogue facts this one is computed from."""
    if defn.points is not None:
        return (defn.points.by,)
    return defn.ratio or tuple(defn.sum_of or defn.max_of or ())


def formula_problems(defn: FactDef, facts: Mapping[str, FactDef]) -> list[str]:
    """Problems of a formula fact with the facts it names (which must all exist): a points fact
    must band a quantity with bounds in that quantity's unit; sums and maxima must add like
    with like."""
    problems = []
    if defn.points is not None:
        by = facts[defn.points.by]
        if by.type is not FactType.QUANTITY or by.unit is None:
            return [f"fact {defn.id!r} scores {by.id!r}, which is not a quantity"]
        for index, band in enumerate(defn.points.bands):
            for raw in (band.ge, band.gt, band.le, band.lt):
                if raw is None:
                    continue
                unit = parse_quantity(raw).unit
                plain_ok = unit is Unit.NUMBER and by.unit not in (Unit.YUAN, Unit.RATIO)
                if unit is not by.unit and not plain_ok:
                    problems.append(
                        f"fact {defn.id!r} band {index}: bound {raw!r} is not in {by.unit.value} "
                        f"like the fact {by.id!r} it scores"
                    )
    for part in defn.sum_of or defn.max_of or ():
        other = facts[part]
        if other.type is not FactType.QUANTITY or other.unit is not defn.unit:
            wanted = defn.unit.value if defn.unit else defn.type.value
            problems.append(
                f"fact {defn.id!r} combines {part!r}, which is not a quantity in {wanted}"
            )
    return problems
