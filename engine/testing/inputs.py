"""Giving a fact a value, or raising it, through the profile inputs it is computed from (its
plan's source), and the profile inputs a policy reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..compile.facts import RECORD_KINDS, SEVERITIES, literal_values
from ..compile.plan import (
    AverageGrowthSource,
    Band,
    Basis,
    CagrSource,
    CertificatesSource,
    CertifiedSource,
    FactPlan,
    FieldSource,
    FinancialSource,
    GrowthSource,
    IndustryShareSource,
    IpCountSource,
    MaxOfSource,
    PointsSource,
    PolicyPlan,
    ProfileFactSource,
    ProjectSource,
    RatioSource,
    RecordsSource,
    SumOfSource,
    SumYearsSource,
    first_band,
)
from ..model.profile import FINANCIAL_PARTS, IntellectualProperty
from ..model.units import Unit
from ..reference.context import Context
from .scenarios import Data

_DAY = timedelta(days=1)
_MICRO = Decimal("0.000001")  # the finest amount a register holds


_ACQUISITION_ORDER = literal_values(IntellectualProperty, "acquisition")


def _first(values: Iterable[str], order: tuple[str, ...]) -> str:
    return min(values, key=lambda v: (order.index(v) if v in order else len(order), v))


def _set(data: Data, path: Iterable[str | int], value: Any) -> None:
    steps = list(path)
    node: dict[Any, Any] = data
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child
    node[steps[-1]] = value


def stated(defn: FactPlan, value: Any) -> Any:
    """A value of a fact as a profile's `facts` map states it: a share with its unit."""
    if defn.unit is Unit.RATIO and isinstance(value, Decimal):
        return f"{(value * 100).normalize():f}%"
    return value


def _positive(defn: FactPlan, helper: int) -> Decimal:
    if defn.unit is Unit.YUAN:
        return Decimal(helper) * 100
    if defn.unit is Unit.RATIO:
        return Decimal(helper % 10_000 + 1) / 1_000
    return Decimal(helper % 1_000 + 1)


# --- assign: a fact takes a value ---------------------------------------------------------------


class _Assign:
    """Changes profile data so that one fact takes a value on one evaluation date."""

    def __init__(self, data: Data, facts: Mapping[str, FactPlan], on: Basis, helper: int):
        self.data, self.facts, self.helper = data, facts, helper
        self.as_of, self.last = on.on, on.fiscal_year

    def __call__(self, defn: FactPlan, value: Any) -> None:
        kind = defn.source.kind
        numeric = ("sum_years", "ratio", "growth", "ip_count", "sum_of", "max_of", "cagr",
                   "average_growth", "industry_share")  # fmt: skip
        if kind in numeric and not isinstance(value, Decimal):
            return
        if kind == "profile_fact":
            value = stated(defn, sorted(value) if isinstance(value, list | tuple) else value)
        getattr(self, kind)(defn.source, value)

    def field(self, source: FieldSource, value: Any) -> None:
        _set(self.data, source.path, value)

    def financial(self, source: FinancialSource, value: Any) -> None:
        _set(self.data, ("financials", self.last - source.years_back, source.line), value)

    def profile_fact(self, source: ProfileFactSource, value: Any) -> None:
        _set(self.data, ("facts", source.name), value)

    def sum_years(self, source: SumYearsSource, value: Decimal) -> None:
        for back in range(source.years):
            share = value if back == 0 else Decimal(0)
            _set(self.data, ("financials", self.last - back, source.line), share)

    def ratio(self, source: RatioSource, value: Decimal) -> None:
        top, bottom = self.facts.get(source.numerator), self.facts.get(source.denominator)
        if top is not None and bottom is not None:
            denominator = _positive(bottom, self.helper)
            self(bottom, denominator)
            self(top, value * denominator)

    def growth(self, source: GrowthSource, value: Decimal) -> None:
        previous = Decimal(self.helper) * 100
        _set(self.data, ("financials", self.last - 1, source.line), previous)
        _set(self.data, ("financials", self.last, source.line), previous * (1 + value))

    def ip_count(self, source: IpCountSource, value: Decimal) -> None:
        _assign_ip(self.data, source, value, self.last)

    def cagr(self, source: CagrSource, value: Decimal) -> None:
        """The years before the last are set from it (kept when it is given, as other criteria
        may need it): the first exactly when the last is not given, else to the micro-yuan."""
        if value <= -1:
            return
        last = self._amount(source.line)
        factor = (1 + value) ** source.years
        if last is None:
            first = Decimal(self.helper) * 10_000  # (1 + a rate of 4 decimals)^2 stays in fen
            last = first * factor
        else:
            first = (last / factor).quantize(_MICRO)
        self._year_line(self.last - source.years, source.line, first)
        self._year_line(self.last, source.line, last)

    def average_growth(self, source: AverageGrowthSource, value: Decimal) -> None:
        """Every year grows by `value`, back from the last year's amount (kept when given)."""
        if value <= -1:
            return
        amount = self._amount(source.line) or Decimal(self.helper) * 10_000 * (1 + value) ** source.years
        for year in range(self.last, self.last - source.years - 1, -1):
            self._year_line(year, source.line, amount)
            amount = (amount / (1 + value)).quantize(_MICRO)

    def _year_line(self, year: int, line: str, amount: Decimal) -> None:
        """A year's line set, and its whole raised to it if stated smaller (a part is never
        above its whole: `FINANCIAL_PARTS`)."""
        _set(self.data, ("financials", year, line), amount)
        whole = FINANCIAL_PARTS.get(line, (None,))[0]
        record = self.data["financials"][year]
        if whole is not None and isinstance(record.get(whole), Decimal | int) and record[whole] < amount:
            record[whole] = amount

    def _amount(self, line: str) -> Decimal | None:
        """The last year's amount of a line when the data gives a positive one."""
        year = (self.data.get("financials") or {}).get(self.last) or {}
        raw = year.get(line) if isinstance(year, dict) else None
        return Decimal(raw) if isinstance(raw, Decimal | int) and raw > 0 else None

    def industry_share(self, source: IndustryShareSource, value: Decimal) -> None:
        inside = next((INDUSTRY_EXAMPLES[p] for p in source.prefixes if p in INDUSTRY_EXAMPLES), None)
        if inside is None or not 0 <= value <= 1:
            return
        total = Decimal(self.helper) * 10_000
        income = {inside: value * total}
        if value < 1:
            income[_OUTSIDE] = (1 - value) * total
        _set(self.data, ("financials", self.last, "income_by_industry"), income)

    def project(self, source: ProjectSource, value: Any) -> None:
        _applied(self.data)[source.field] = value

    def certificates(self, source: CertificatesSource, value: Any) -> None:
        """The kind's certificates replaced by a history that gives the value: issued on the
        date, one (first) or two, or a chain of three-yearly recognitions ending yesterday."""
        kind, latest = source.certificate, self.as_of - _DAY
        if isinstance(value, date):
            days = [value]
        elif isinstance(value, bool):
            days = [latest] if value else [_years_before(latest, 3), latest]
        elif isinstance(value, Decimal) and value == int(value):
            days = [_years_before(latest, 3 * back) for back in range(min(int(value), 5))][::-1]
        else:
            return
        others = [c for c in self.data.get("certifications") or [] if c.get("kind") != kind]
        self.data["certifications"] = [*others, *({"kind": kind, "issued": d} for d in days)]

    def records(self, source: RecordsSource, value: Any) -> None:
        day = value if isinstance(value, date) else self.as_of
        count = 1 if isinstance(value, date) else int(max(min(value, 5), 0))
        record = {"occurred": day, "kind": _first(source.kinds, RECORD_KINDS),
                  "severity": _first(source.severities, SEVERITIES)}  # fmt: skip
        _set(self.data, ("compliance", "records"), [dict(record) for _ in range(count)])

    def certified(self, source: CertifiedSource, value: Any) -> None:
        if isinstance(value, date):
            self.data["certifications"] = [{"kind": source.certificate, "issued": value}]
        elif value is True:
            self.data["certifications"] = [{"kind": source.certificate, "issued": self.as_of - _DAY}]
        elif value is False:
            self.data["certifications"] = []

    def points(self, source: PointsSource, value: Any) -> None:
        """A score is reached through its `by` fact: a value in the band that scores the least
        at or above `value` (and that no earlier band takes)."""
        by = self.facts.get(source.by)
        if by is None or not isinstance(value, Decimal):
            return
        scoring = sorted((b for b in source.bands if (b.amount or 0) >= value),
                         key=lambda b: b.amount or 0)  # fmt: skip
        step = Decimal(1) if by.unit in (Unit.PERSON, Unit.ITEM, Unit.POINT) else Decimal("0.0001")
        for band in scoring:
            for candidate in _inside(band, step):
                if first_band(source.bands, candidate) is band:
                    self(by, candidate)
                    return

    def sum_of(self, source: SumOfSource, value: Decimal) -> None:
        for index, part in enumerate(source.parts):
            if part in self.facts:
                self(self.facts[part], value if index == 0 else Decimal(0))

    def max_of(self, source: MaxOfSource, value: Decimal) -> None:
        for part in source.parts:
            if part in self.facts:
                self(self.facts[part], value)


def _inside(band: Band, step: Decimal) -> list[Decimal]:
    """Values inside a band next to its bounds (0 for a band without bounds)."""
    inside = []
    if band.low is not None:
        inside.append(band.low if band.low_inclusive else band.low + step)
    if band.high is not None:
        inside.append(band.high if band.high_inclusive else band.high - step)
    return inside or [Decimal(0)]


def assign(
    data: Data,
    defn: FactPlan,
    value: Any,
    facts: Mapping[str, FactPlan],
    as_of: date | Basis,
    helper: int = 1,
) -> None:
    """Change the profile data so that fact `defn` takes `value` on `as_of` (a day: an
    application's basis, that day and the fiscal year before it; or a `Basis`, e.g. a tax
    year's) as far as its formula allows; `helper` picks free choices such as a ratio's
    denominator."""
    on = as_of if isinstance(as_of, Basis) else Basis(as_of, as_of.year - 1)
    _Assign(data, facts, on, helper)(defn, value)


# A code under each prefix of `model.industry.INDUSTRY_LISTS`, and one under none of them.
INDUSTRY_EXAMPLES = {"C16": "C1610", "H": "H6110", "F": "F5191", "K": "K7010", "L": "L7211",
                     "R90": "R9011", "C": "C3976"}  # fmt: skip
_OUTSIDE = "I6510"


def _years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years, day=min(day.day, 28))


def _applied(data: Data) -> Data:
    """The project a policy about "the project" reads (`context._applied_project`), made so:
    the one marked applying or the only one; else the first, then marked."""
    projects = data.get("projects")
    if not isinstance(projects, list) or not projects:
        projects = data["projects"] = [{"name": "项目"}]
    marked: list[Data] = [p for p in projects if p.get("applying")]
    if len(marked) == 1:
        return marked[0]
    first: Data = projects[0]
    if not marked and len(projects) == 1:
        return first
    for project in projects:
        project.pop("applying", None)
    first["applying"] = True
    return first


def _assign_ip(data: Data, spec: IpCountSource, value: Decimal, last_year: int) -> None:
    if value < 0 or value != int(value):
        return
    item: Data = {"kind": sorted(spec.kinds)[0], "count": int(value)}
    if spec.granted_years is not None:
        item["granted"] = date(last_year, 6, 30)
    if spec.acquisitions is not None:
        item["acquisition"] = _first(spec.acquisitions, _ACQUISITION_ORDER)
    if spec.main_product is not None:
        item["main_product"] = spec.main_product
    data["intellectual_property"] = [item] if value > 0 else []


# --- the profile inputs a policy reads ---------------------------------------------------------

_PATHS: dict[str, Callable[[Any, int], tuple[str | int, ...]]] = {
    "field": lambda s, last: s.path,
    "financial": lambda s, last: ("financials", last - s.years_back, s.line),
    "profile_fact": lambda s, last: ("facts", s.name),
    "sum_years": lambda s, last: ("financials", last, s.line),
    "growth": lambda s, last: ("financials", last - 1, s.line),
    "ip_count": lambda s, last: ("intellectual_property",),
    "certified": lambda s, last: ("certifications",),
    "records": lambda s, last: ("compliance", "records"),
    "certificates": lambda s, last: ("certifications",),
    "project": lambda s, last: ("projects",),
    "cagr": lambda s, last: ("financials", last - s.years, s.line),
    "average_growth": lambda s, last: ("financials", last - 1, s.line),
    "industry_share": lambda s, last: ("financials", last, "income_by_industry"),
}


def input_paths(
    plan: PolicyPlan, facts: Mapping[str, FactPlan], as_of: date
) -> set[tuple[str | int, ...]]:
    """The profile fields a policy reads (to remove some and make them unknown)."""
    last = as_of.year - 1
    return {
        _PATHS[defn.source.kind](defn.source, last)
        for name in plan.depends_on
        if (defn := facts[name]).source.kind in _PATHS
    }


# --- bump: a fact grows by about a step --------------------------------------------------------


class _Bump:
    """Increases a fact by about `delta` through its inputs; False if it cannot be done."""

    def __init__(self, data: Data, ctx: Context, facts: Mapping[str, FactPlan]):
        self.data, self.ctx, self.facts = data, ctx, facts
        self.last = ctx.as_of.year - 1

    def __call__(self, defn: FactPlan, delta: Decimal) -> bool:
        current = self.ctx.get(defn.id)
        if not isinstance(current, Decimal):
            return False
        if isinstance(defn.source, ProfileFactSource):
            _set(self.data, ("facts", defn.source.name), stated(defn, current + delta))
            return True
        step: Callable[[Any, Decimal, Decimal], bool] | None = getattr(
            self, defn.source.kind, None
        )
        return step is not None and step(defn.source, current, delta)

    def field(self, source: FieldSource, current: Decimal, delta: Decimal) -> bool:
        _set(self.data, source.path, current + delta)
        return True

    def financial(self, source: FinancialSource, current: Decimal, delta: Decimal) -> bool:
        _set(self.data, ("financials", self.last - source.years_back, source.line), current + delta)
        return True

    def sum_years(self, source: SumYearsSource, current: Decimal, delta: Decimal) -> bool:
        year = self.data.get("financials", {}).get(self.last, {})
        if not isinstance(year.get(source.line), Decimal | int):
            return False
        _set(self.data, ("financials", self.last, source.line), Decimal(year[source.line]) + delta)
        return True

    def ratio(self, source: RatioSource, current: Decimal, delta: Decimal) -> bool:
        bottom = self.ctx.get(source.denominator)
        if not isinstance(bottom, Decimal) or bottom <= 0:
            return False
        return self(self.facts[source.numerator], delta * bottom)

    def growth(self, source: GrowthSource, current: Decimal, delta: Decimal) -> bool:
        financials = self.data.get("financials", {})
        previous, now = (financials.get(y, {}).get(source.line) for y in (self.last - 1, self.last))
        if previous is None or now is None:
            return False
        _set(self.data, ("financials", self.last, source.line), Decimal(now) + delta * Decimal(previous))
        return True

    def ip_count(self, source: IpCountSource, current: Decimal, delta: Decimal) -> bool:
        extra: Data = {}
        _assign_ip(extra, source, max(Decimal(int(delta)), Decimal(1)), self.last)
        self.data["intellectual_property"] = [
            *self.data.get("intellectual_property", []), *extra.get("intellectual_property", [])
        ]
        return True

    def project(self, source: ProjectSource, current: Decimal, delta: Decimal) -> bool:
        _applied(self.data)[source.field] = current + delta
        return True

    def sum_of(self, source: SumOfSource, current: Decimal, delta: Decimal) -> bool:
        return all(self(self.facts[p], delta) for p in source.parts[:1] if p in self.facts)

    def max_of(self, source: MaxOfSource, current: Decimal, delta: Decimal) -> bool:
        return all(self(self.facts[p], delta) for p in source.parts if p in self.facts)


def bump(
    data: Data, defn: FactPlan, delta: Decimal, ctx: Context, facts: Mapping[str, FactPlan]
) -> bool:
    """Increase fact `defn` by about `delta` through its inputs; False if it cannot be done."""
    return _Bump(data, ctx, facts)(defn, delta)
