"""The fact catalogue: every fact a policy may name, with its type, unit and where it comes from.

A fact is either read from the profile (a field, a financial line of a given fiscal year, a
profile-supplied extra fact) or derived by a formula over other facts (ratio, sum over the last
N fiscal years, growth, counts of IP, certificates valid on the evaluation date, records within
a period). Formulas are data, never Python in policy files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .profile import CLASS_I_KINDS, CLASS_II_KINDS, FinancialYear, Profile
from .units import Unit, UnitError, parse_quantity, shift_date

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


_SOURCES = ("field", "financial", "sum_years", "ratio", "growth", "ip_count", "certified",
            "records", "profile_fact")  # fmt: skip
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


# ---------------------------------------------------------------------------------------------
# Values during evaluation


@dataclass(frozen=True, slots=True)
class Missing:
    """An unknown value: the profile inputs it lacked, and whether an expert must judge it."""

    inputs: frozenset[str]
    review: bool = False

    def __bool__(self) -> bool:
        return False


Value = Decimal | bool | date | str | frozenset[str]
Resolved = Value | Missing


class Context:
    """Per-evaluation state: one profile, one date, each derived fact computed at most once."""

    __slots__ = ("_cache", "_resolvers", "as_of", "last_year", "profile")

    def __init__(
        self, profile: Profile, as_of: date, resolvers: dict[str, Callable[[Context], Resolved]]
    ) -> None:
        self.profile = profile
        self.as_of = as_of
        self.last_year = as_of.year - 1  # the last completed fiscal (calendar) year
        self._resolvers = resolvers
        self._cache: dict[str, Resolved] = {}

    def get(self, fact: str) -> Resolved:
        try:
            return self._cache[fact]
        except KeyError:
            value = self._cache[fact] = self._resolvers[fact](self)
            return value


Resolver = Callable[[Context], Resolved]


def _coerce(defn: FactDef, raw: Any, where: str) -> Resolved:
    """Normalise a profile value to the fact's type. Raises ValueError naming the field."""
    if raw is None:
        return Missing(frozenset({where}), review=defn.judgement)
    kind = defn.type
    if kind is FactType.BOOL:
        if not isinstance(raw, bool):
            raise ValueError(f"{where}: expected true or false, got {raw!r}")
        return raw
    if kind is FactType.DATE:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise ValueError(f"{where}: expected a date (YYYY-MM-DD), got {raw!r}") from None
    if kind is FactType.CODE:
        if not isinstance(raw, str):
            raise ValueError(f"{where}: expected a text code, got {raw!r}")
        return raw
    if kind is FactType.CODES:
        if not isinstance(raw, list | tuple | frozenset | set) or not all(
            isinstance(x, str) for x in raw
        ):
            raise ValueError(f"{where}: expected a list of codes, got {raw!r}")
        return frozenset(raw)
    if isinstance(raw, bool):
        raise ValueError(f"{where}: expected a number, got {raw!r}")
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if quantity.unit not in (defn.unit, Unit.NUMBER):
        assert defn.unit is not None
        raise ValueError(f"{where}: expected a value in {defn.unit.value}, got {raw!r}")
    return quantity.value


def check_profile_facts(profile: Profile, facts: dict[str, FactDef]) -> list[str]:
    """Problems with the profile's extra `facts` map under this catalogue, one per fact."""
    declared = {d.profile_fact: d for d in facts.values() if d.profile_fact is not None}
    problems = []
    for name, raw in profile.facts.items():
        defn = declared.get(name)
        if defn is None:
            problems.append(f"facts.{name}: not declared in the fact catalogue of this policy set")
            continue
        try:
            _coerce(defn, raw, f"facts.{name}")
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def compile_resolver(defn: FactDef) -> Resolver:
    """Turn a declaration into a function of the evaluation context."""
    kind = defn.source_kind
    if kind == "field":
        path = defn.field
        assert path is not None
        steps = path.split(".")

        def read_field(ctx: Context) -> Resolved:
            value: Any = ctx.profile
            for step in steps:
                value = getattr(value, step, None)
                if value is None:
                    return Missing(frozenset({path}), review=defn.judgement)
            return _coerce(defn, value, path)

        return read_field
    if kind == "financial":
        assert defn.financial is not None
        line: str = defn.financial
        back = defn.year

        def read_financial(ctx: Context) -> Resolved:
            year = ctx.last_year - back
            record = (ctx.profile.financials or {}).get(year)
            value = getattr(record, line) if record is not None else None
            return _coerce(defn, value, f"financials.{year}.{line}")

        return read_financial
    if kind == "sum_years":
        spec = defn.sum_years
        assert spec is not None
        return _sum_years(spec)
    if kind == "ratio":
        assert defn.ratio is not None
        numerator, denominator = defn.ratio

        def ratio(ctx: Context) -> Resolved:
            top, bottom = ctx.get(numerator), ctx.get(denominator)
            missing = _merge(top, bottom)
            if missing is not None:
                return missing
            assert isinstance(top, Decimal) and isinstance(bottom, Decimal)
            if bottom == 0:
                return Missing(frozenset({f"{denominator} (is zero)"}))
            return top / bottom

        return ratio
    if kind == "growth":
        assert defn.growth is not None
        line = defn.growth.financial

        def growth(ctx: Context) -> Resolved:
            years = (ctx.last_year, ctx.last_year - 1)
            values = [_financial(ctx, year, line) for year in years]
            missing = _merge(*values)
            if missing is not None:
                return missing
            current, previous = values
            assert isinstance(current, Decimal) and isinstance(previous, Decimal)
            if previous == 0:
                return Missing(frozenset({f"financials.{years[1]}.{line} (is zero)"}))
            return (current - previous) / previous

        return growth
    if kind == "ip_count":
        assert defn.ip_count is not None
        return _ip_count(defn.ip_count)
    if kind == "certified":
        assert defn.certified is not None
        return _certified(defn.certified)
    if kind == "records":
        assert defn.records is not None
        return _records(defn.records)
    name = defn.profile_fact
    assert name is not None

    def read_extra(ctx: Context) -> Resolved:
        return _coerce(defn, ctx.profile.facts.get(name), f"facts.{name}")

    return read_extra


def _merge(*values: Resolved) -> Missing | None:
    gaps = [v for v in values if isinstance(v, Missing)]
    if not gaps:
        return None
    return Missing(frozenset().union(*(g.inputs for g in gaps)), review=all(g.review for g in gaps))


def _financial(ctx: Context, year: int, line: str) -> Resolved:
    record = (ctx.profile.financials or {}).get(year)
    value = getattr(record, line) if record is not None else None
    if value is None:
        return Missing(frozenset({f"financials.{year}.{line}"}))
    assert isinstance(value, Decimal)
    return value


def _sum_years(spec: SumYears) -> Resolver:
    def total(ctx: Context) -> Resolved:
        first = ctx.last_year - spec.years + 1
        registered = ctx.profile.registration_date
        # 实际经营期不满N年的按实际经营时间计算: years before registration do not count.
        if registered is not None:
            first = max(first, registered.year)
        years = range(first, ctx.last_year + 1)
        values = [_financial(ctx, year, spec.financial) for year in years]
        missing = _merge(*values)
        if missing is not None:
            return missing
        if not values:
            return Missing(frozenset({"registration_date (after the last fiscal year)"}))
        result = Decimal(0)
        for value in values:
            assert isinstance(value, Decimal)
            result += value
        return result

    return total


def _ip_count(spec: IpCount) -> Resolver:
    kinds = frozenset().union(
        *(CLASS_I_KINDS if c == "I" else CLASS_II_KINDS for c in spec.classes)
    )
    acquisitions = None if spec.acquisition is None else frozenset(spec.acquisition)

    def count(ctx: Context) -> Resolved:
        items = ctx.profile.intellectual_property
        if items is None:
            return Missing(frozenset({"intellectual_property"}))
        total = 0
        for item in items:
            if item.kind not in kinds:
                continue
            if acquisitions is not None and item.acquisition not in acquisitions:
                continue
            if spec.main_product is not None:
                if item.main_product is None:
                    return Missing(frozenset({"intellectual_property[].main_product"}))
                if item.main_product is not spec.main_product:
                    continue
            total += item.count
        return Decimal(total)

    return count


def _certified(spec: Certified) -> Resolver:
    validity = None if spec.validity is None else _duration(spec.validity)

    def valid(ctx: Context) -> Resolved:
        certificates = ctx.profile.certifications
        if certificates is None:
            return Missing(frozenset({"certifications"}))
        for cert in certificates:
            if cert.kind != spec.kind or cert.issued > ctx.as_of:
                continue
            if cert.expires is not None:
                if cert.expires >= ctx.as_of:
                    return True
            elif validity is None or shift_date(cert.issued, *validity) > ctx.as_of:
                return True
        return False

    return valid


def _records(spec: Records) -> Resolver:
    amount, unit = _duration(spec.within)
    kinds, severities = frozenset(spec.kinds), frozenset(spec.severities)

    def count(ctx: Context) -> Resolved:
        compliance = ctx.profile.compliance
        if compliance is None or compliance.records is None:
            return Missing(frozenset({"compliance.records"}))
        start = shift_date(ctx.as_of, -amount, unit)
        hits = sum(
            1
            for r in compliance.records
            if r.kind in kinds and r.severity in severities and start < r.occurred <= ctx.as_of
        )
        return Decimal(hits)

    return count


def dependencies(defn: FactDef) -> tuple[str, ...]:
    """Other catalogue facts this one is computed from."""
    return defn.ratio or ()


def origin(defn: FactDef, as_of: date) -> str:
    """Where a fact's value comes from, for explanations: `financials.2025.revenue`."""
    last = as_of.year - 1
    kind = defn.source_kind
    if kind == "field":
        return str(defn.field)
    if kind == "financial":
        return f"financials.{last - defn.year}.{defn.financial}"
    if kind == "sum_years":
        assert defn.sum_years is not None
        spec = defn.sum_years
        return f"Σ financials.{last - spec.years + 1}..{last}.{spec.financial}"
    if kind == "ratio":
        assert defn.ratio is not None
        return f"{defn.ratio[0]} ÷ {defn.ratio[1]}"
    if kind == "growth":
        assert defn.growth is not None
        line = defn.growth.financial
        return f"financials.{last}.{line} ÷ financials.{last - 1}.{line} − 1"
    if kind == "ip_count":
        return "intellectual_property"
    if kind == "certified":
        assert defn.certified is not None
        return f"certifications[{defn.certified.kind}]"
    if kind == "records":
        return "compliance.records"
    return f"facts.{defn.profile_fact}"
