"""Fact declarations → fact plans.

Each declaration's source is read once: its parameters parsed (durations, point bands, the IP
classes as kinds) and every name it uses checked against what a profile can hold (profile
fields, financial lines, certificate kinds, compliance-record kinds and severities), its type
and unit against what the source yields (a financial line is in yuan, a count in items, a ratio
of two like quantities is a ratio); then the graph: unknown facts, formulas that add unlike
things, cycles; then, in dependency order, what each fact depends on and whether an unknown
value of it may need an expert. Every problem names the file, the line and the field.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from ..errors import Problem
from ..model.facts import CHANGE_ORDER, Change, FactDef, FactType, PointBand, dependencies
from ..model.industry import INDUSTRY_LISTS
from ..model.profile import (
    AMOUNT_LINES,
    CLASS_I_KINDS,
    CLASS_II_KINDS,
    Certification,
    ComplianceRecord,
    IntellectualProperty,
    Profile,
    Project,
)
from ..model.units import Unit, UnitError, parse_quantity
from ..model.yamlio import Location, line_of
from .plan import (
    AverageGrowthSource,
    Band,
    CagrSource,
    CertificatesSource,
    CertifiedSource,
    Duration,
    FactPlan,
    FieldSource,
    FinancialSource,
    GrowthSource,
    IndustryShareSource,
    IpCountSource,
    MaxOfSource,
    PointsSource,
    ProfileFactSource,
    ProjectSource,
    RatioSource,
    RecordsSource,
    ReviewRule,
    Source,
    SumOfSource,
    SumYearsSource,
    Where,
)

# Periods in calendar years, as the documents write them: the current year and those before.
CALENDAR_PERIODS = {"当年": 1, "上一年及当年": 2}

class Declared:
    """A fact declaration and where it is written: `label` names the file in messages about
    the fact ("built-in catalogue"), `base` is its path in the file (`facts`, index)."""

    __slots__ = ("base", "defn", "file", "label", "lines")

    def __init__(
        self,
        defn: FactDef,
        file: str,
        lines: dict[Location, int],
        base: tuple[str | int, ...],
        label: str,
    ) -> None:
        self.defn, self.file, self.lines, self.base, self.label = defn, file, lines, base, label

    def where(self, *steps: str | int) -> Where:
        path = (*self.base, *steps)
        return Where(self.file, line_of(self.lines, path), path)

    def problem(self, message: str, *steps: str | int) -> Problem:
        where = self.where(*steps)
        return Problem(message, file=self.file, line=where.line, field=_dotted(where.path))


def _dotted(path: Iterable[str | int]) -> str:
    return ".".join(map(str, path))


def suggest(name: str, known: Iterable[str]) -> str:
    """` (did you mean a, b?)` when close names exist, else nothing."""
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# --- what a profile can hold --------------------------------------------------------------------


def literal_values(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values a profile schema's Literal field takes, in the schema's order."""
    args = [a for a in get_args(model.model_fields[name].annotation) if a is not type(None)]
    while len(args) == 1 and get_args(args[0]):  # `Literal[...] | None`
        args = list(get_args(args[0]))
    return tuple(a for a in args if isinstance(a, str))


CERTIFICATE_KINDS = literal_values(Certification, "kind")
RECORD_KINDS = literal_values(ComplianceRecord, "kind")
SEVERITIES = literal_values(ComplianceRecord, "severity")
FINANCIAL_LINES = AMOUNT_LINES  # the lines in yuan (income by industry is read as shares)
IP_KINDS = literal_values(IntellectualProperty, "kind")


class _Field:
    """A profile field a `field:` fact may read: a scalar of this type (and unit), or a list or
    mapping, which other sources read (`certified`, `ip_count`, `records`, `financial`, …)."""

    __slots__ = ("shape", "type", "unit")

    def __init__(self, kind: FactType | None, unit: Unit | None = None, shape: str = "scalar"):
        self.type = kind  # None: not a scalar
        self.unit = unit
        self.shape = shape


_VALIDATOR_UNITS = {"_money": Unit.YUAN, "_number": Unit.PERSON, "_tonne": Unit.TONNE,
                    "_month": Unit.MONTH}  # fmt: skip


def _field_kind(annotation: Any) -> _Field | type[BaseModel]:
    while get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    unit = Unit.NUMBER
    if get_origin(annotation) is typing.Annotated:
        annotation, *extra = get_args(annotation)
        for meta in extra:
            func = getattr(meta, "func", None)
            unit = _VALIDATOR_UNITS.get(getattr(func, "__name__", ""), unit)
    origin = get_origin(annotation)
    if origin is typing.Literal:
        return _Field(FactType.CODE)
    if origin in (list, dict):
        return _Field(None, shape="list" if origin is list else "mapping")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    scalar = {bool: FactType.BOOL, date: FactType.DATE, str: FactType.CODE}
    if annotation in scalar:
        return _Field(scalar[annotation])
    return _Field(FactType.QUANTITY, unit)


def _profile_fields(model: type[BaseModel], prefix: str = "") -> dict[str, _Field]:
    found: dict[str, _Field] = {}
    for name, info in model.model_fields.items():
        kind = _field_kind(info.annotation)
        if isinstance(kind, _Field):
            found[prefix + name] = kind
        else:
            found[prefix + name] = _Field(None, shape="mapping")
            found.update(_profile_fields(kind, f"{prefix}{name}."))
    return found


PROFILE_FIELDS = _profile_fields(Profile)
PROJECT_FIELDS = {
    name: kind
    for name, kind in _profile_fields(Project).items()
    if kind.type in (FactType.QUANTITY, FactType.BOOL, FactType.DATE) and name != "applying"
}


# --- sources -------------------------------------------------------------------------------------


class _Refused(Exception):
    """A source that cannot be planned; the problems are already reported."""


class _Reader:
    """Reads one declaration's source, reporting each problem with its field."""

    __slots__ = ("at", "problems")

    def __init__(self, at: Declared, problems: list[Problem]) -> None:
        self.at, self.problems = at, problems

    @property
    def defn(self) -> FactDef:
        return self.at.defn

    def fail(self, message: str, *steps: str | int) -> None:
        self.problems.append(self.at.problem(message, *steps))

    def expect(self, kind: FactType, units: tuple[Unit, ...], what: str) -> None:
        """The declared type and unit must be what the source yields."""
        defn = self.defn
        if defn.type is kind and (not units or defn.unit in units):
            return
        wanted = kind.value + (f" in {' or '.join(u.value for u in units)}" if units else "")
        got = defn.type.value + (f" in {defn.unit.value}" if defn.unit else "")
        self.fail(
            f"fact {defn.id!r} is declared {got}, but {what} is a {wanted}: declare "
            f"type: {kind.value}" + (f", unit: {units[0].value}" if units else ""),
            "unit" if defn.type is kind else "type",
        )

    def duration(self, raw: str, *steps: str | int) -> Duration:
        if raw in CALENDAR_PERIODS:
            return Duration(CALENDAR_PERIODS[raw], Unit.YEAR, calendar=True)
        try:
            quantity = parse_quantity(raw)
        except UnitError as exc:
            self.fail(str(exc), *steps)
            raise _Refused from None
        if not quantity.unit.is_duration or quantity.value != int(quantity.value):
            self.fail(f"{raw!r} is not a whole number of years, months or days", *steps)
            raise _Refused
        return Duration(int(quantity.value), quantity.unit)

    def financial_line(self, line: str, *steps: str | int) -> str:
        if line not in FINANCIAL_LINES:
            self.fail(
                f"unknown financial line {line!r}{suggest(line, FINANCIAL_LINES)}; known: "
                f"{', '.join(sorted(FINANCIAL_LINES))}",
                *steps,
            )
            raise _Refused
        return line

    def name(self, name: str, known: tuple[str, ...], what: str, *steps: str | int) -> bool:
        if name in known:
            return True
        self.fail(f"unknown {what} {name!r}{suggest(name, known)}; known: {', '.join(known)}",
                  *steps)  # fmt: skip
        return False

    # One method per source kind, each returning the parsed source.

    def field(self) -> Source:
        path = str(self.defn.field)
        found = PROFILE_FIELDS.get(path)
        if found is None:
            scalars = [name for name, f in PROFILE_FIELDS.items() if f.type is not None]
            self.fail(f"unknown profile field {path!r}{suggest(path, scalars)}", "field")
            raise _Refused
        if found.type is None:
            self.fail(
                f"profile field {path!r} is a {found.shape}, not a single value: read it with "
                "financial, sum_years, growth, ip_count, certified or records",
                "field",
            )
            raise _Refused
        self.expect(found.type, (found.unit,) if found.unit else (), f"profile field {path!r}")
        return FieldSource(tuple(path.split(".")))

    def financial(self) -> Source:
        line = self.financial_line(str(self.defn.financial), "financial")
        self.expect(FactType.QUANTITY, (Unit.YUAN,), f"financial line {line!r}")
        return FinancialSource(line, self.defn.year)

    def sum_years(self) -> Source:
        spec = self.defn.sum_years
        assert spec is not None
        line = self.financial_line(spec.financial, "sum_years", "financial")
        self.expect(FactType.QUANTITY, (Unit.YUAN,), f"a sum of financial line {line!r}")
        return SumYearsSource(line, spec.years)

    def growth(self) -> Source:
        spec = self.defn.growth
        assert spec is not None
        line = self.financial_line(spec.financial, "growth", "financial")
        self.expect(FactType.QUANTITY, (Unit.RATIO,), "a growth rate")
        return GrowthSource(line)

    def ratio(self) -> Source:
        assert self.defn.ratio is not None
        numerator, denominator = self.defn.ratio
        if self.defn.type is not FactType.QUANTITY:
            self.expect(FactType.QUANTITY, (), "a ratio")
        return RatioSource(numerator, denominator)

    def ip_count(self) -> Source:
        spec = self.defn.ip_count
        assert spec is not None
        self.expect(FactType.QUANTITY, (Unit.ITEM,), "a count of intellectual property")
        kinds = frozenset().union(
            *(CLASS_I_KINDS if c == "I" else CLASS_II_KINDS for c in spec.classes)
        )
        if spec.kinds is not None:
            named = [self.name(kind, IP_KINDS, "IP kind", "ip_count", "kinds", index)
                     for index, kind in enumerate(spec.kinds)]  # fmt: skip
            if not all(named):
                raise _Refused
            kinds = frozenset(spec.kinds)
        acquisitions = None if spec.acquisition is None else frozenset(spec.acquisition)
        return IpCountSource(
            tuple(spec.classes), kinds, acquisitions, spec.main_product, spec.granted_years
        )

    def certified(self) -> Source:
        spec = self.defn.certified
        assert spec is not None
        if not self.name(spec.kind, CERTIFICATE_KINDS, "certificate kind", "certified", "kind"):
            raise _Refused
        self.expect(FactType.BOOL, (), "whether a certificate is valid")
        validity = (
            None
            if spec.validity is None
            else self.duration(spec.validity, "certified", "validity")
        )
        return CertifiedSource(spec.kind, validity)

    def certificates(self) -> Source:
        spec = self.defn.certificates
        assert spec is not None
        if not self.name(spec.kind, CERTIFICATE_KINDS, "certificate kind", "certificates", "kind"):
            raise _Refused
        yields = {"latest_issued": (FactType.DATE, (), "the latest certificate's issue date"),
                  "first": (FactType.BOOL, (), "whether the latest certificate is the first"),
                  "consecutive": (FactType.QUANTITY, (Unit.ITEM,), "a count of certificates")}
        self.expect(*yields[spec.measure])  # fmt: skip
        validity = (
            None
            if spec.validity is None
            else self.duration(spec.validity, "certificates", "validity")
        )
        grace = self.duration(spec.grace, "certificates", "grace")
        if spec.measure == "consecutive" and validity is None:
            self.fail("a chain of certificates needs their validity ('3年') for those that "
                      "state no expiry", "certificates", "validity")  # fmt: skip
            raise _Refused
        return CertificatesSource(spec.kind, spec.measure, validity, grace)

    def project(self) -> Source:
        name = str(self.defn.project)
        found = PROJECT_FIELDS.get(name)
        if found is None:
            self.fail(f"unknown project field {name!r}{suggest(name, PROJECT_FIELDS)}; known: "
                      f"{', '.join(PROJECT_FIELDS)}", "project")  # fmt: skip
            raise _Refused
        assert found.type is not None
        self.expect(found.type, (found.unit,) if found.unit else (), f"project field {name!r}")
        return ProjectSource(name)

    def cagr(self) -> Source:
        spec = self.defn.cagr
        assert spec is not None
        line = self.financial_line(spec.financial, "cagr", "financial")
        self.expect(FactType.QUANTITY, (Unit.RATIO,), "a compound growth rate")
        return CagrSource(line, spec.years)

    def average_growth(self) -> Source:
        spec = self.defn.average_growth
        assert spec is not None
        line = self.financial_line(spec.financial, "average_growth", "financial")
        self.expect(FactType.QUANTITY, (Unit.RATIO,), "an average growth rate")
        return AverageGrowthSource(line, spec.years)

    def industry_share(self) -> Source:
        spec = self.defn.industry_share
        assert spec is not None
        known = tuple(INDUSTRY_LISTS)
        if not self.name(spec.industries, known, "industry list", "industry_share", "industries"):
            raise _Refused
        self.expect(FactType.QUANTITY, (Unit.RATIO,), "a share of income")
        return IndustryShareSource(spec.industries, INDUSTRY_LISTS[spec.industries])

    def records(self) -> Source:
        spec = self.defn.records
        assert spec is not None
        checks = (("kinds", spec.kinds, RECORD_KINDS, "compliance-record kind"),
                  ("severities", spec.severities, SEVERITIES, "severity"))  # fmt: skip
        named = [
            self.name(name, allowed, what, "records", key, index)
            for key, given, allowed, what in checks
            for index, name in enumerate(given)
        ]
        self.expect(FactType.QUANTITY, (Unit.ITEM,), "a count of compliance records")
        within = self.duration(spec.within, "records", "within")
        if not all(named):
            raise _Refused
        return RecordsSource(frozenset(spec.kinds), frozenset(spec.severities), within)

    def profile_fact(self) -> Source:
        return ProfileFactSource(str(self.defn.profile_fact))

    def points(self) -> Source:
        spec = self.defn.points
        assert spec is not None
        if self.defn.unit is not Unit.POINT:
            self.fail("a points fact must have unit 'point'", "unit")
            raise _Refused
        bands = tuple(self._point_band(band, i) for i, band in enumerate(spec.bands))
        return PointsSource(spec.by, bands)

    def _point_band(self, band: PointBand, index: int) -> Band:
        bounds: list[Decimal | None] = []
        for key in ("ge", "gt", "le", "lt"):
            raw = getattr(band, key)
            try:
                bounds.append(None if raw is None else parse_quantity(raw).value)
            except UnitError as exc:
                self.fail(str(exc), "points", "bands", index, key)
                raise _Refused from None
        ge, gt, le, lt = bounds
        return Band(
            low=ge if ge is not None else gt,
            low_inclusive=band.ge is not None,
            high=le if le is not None else lt,
            high_inclusive=band.le is not None,
            amount=Decimal(band.points),
            written=band.text(),
            where=self.at.where("points", "bands", index),
        )

    def sum_of(self) -> Source:
        return SumOfSource(tuple(self.defn.sum_of or ()))

    def max_of(self) -> Source:
        return MaxOfSource(tuple(self.defn.max_of or ()))


def _source(reader: _Reader) -> Source | None:
    read: Callable[[], Source] = getattr(reader, reader.defn.source_kind)
    try:
        return read()
    except _Refused:
        return None


# --- the graph -----------------------------------------------------------------------------------


def _graph_problems(declared: Mapping[str, Declared], read: Iterable[str]) -> list[Problem]:
    """Unknown facts, formulas over unlike facts (of the facts whose source could be `read`),
    and cycles."""
    facts = {name: d.defn for name, d in declared.items()}
    problems = [
        declared[name].problem(f"fact {name!r} is computed from unknown fact {dep!r}"
                               f"{suggest(dep, facts)}", "id")
        for name, defn in facts.items()
        for dep in dependencies(defn)
        if dep not in facts
    ]  # fmt: skip
    if problems:
        return problems
    for name in read:
        defn = facts[name]
        problems += [
            declared[name].problem(text, *steps) for text, steps in _formula_problems(defn, facts)
        ]
        problems += _ratio_problems(declared[name], facts)
    problems += _cycles(declared)
    return problems


Steps = tuple[str | int, ...]  # where in a declaration a problem is written


def _formula_problems(defn: FactDef, facts: Mapping[str, FactDef]) -> list[tuple[str, Steps]]:
    """A points fact bands a quantity, with bounds in that quantity's unit (plain numbers for
    counts); sums and maxima add like with like."""
    if defn.points is not None:
        return _points_problems(defn, facts[defn.points.by])
    wanted = defn.unit.value if defn.unit else defn.type.value
    return [
        (f"fact {defn.id!r} combines {part!r}, which is not a quantity in {wanted}", ("id",))
        for part in defn.sum_of or defn.max_of or ()
        if facts[part].type is not FactType.QUANTITY or facts[part].unit is not defn.unit
    ]


def _points_problems(defn: FactDef, by: FactDef) -> list[tuple[str, Steps]]:
    assert defn.points is not None
    if by.type is not FactType.QUANTITY or by.unit is None:
        return [(f"fact {defn.id!r} scores {by.id!r}, which is not a quantity", ("points", "by"))]
    plain_ok = by.unit not in (Unit.YUAN, Unit.RATIO)
    return [
        (
            f"fact {defn.id!r} band {index + 1}: bound {raw!r} is not in {by.unit.value} like the "
            f"fact {by.id!r} it scores"
            + (f"; write {raw}% for a percentage" if by.unit is Unit.RATIO else ""),
            ("points", "bands", index, op),
        )
        for index, band in enumerate(defn.points.bands)
        for op, raw in (("ge", band.ge), ("gt", band.gt), ("le", band.le), ("lt", band.lt))
        if raw is not None
        and (unit := parse_quantity(raw).unit) is not by.unit
        and not (unit is Unit.NUMBER and plain_ok)
    ]


def _ratio_problems(at: Declared, facts: Mapping[str, FactDef]) -> list[Problem]:
    """A ratio divides two quantities; of two quantities in one unit it is a ratio (a share,
    written in %), and only then: of unlike ones (yuan per person) it is declared in the unit of
    the numerator, never as a share."""
    defn = at.defn
    if defn.ratio is None:
        return []
    parts = [facts[name] for name in defn.ratio]
    found = [
        at.problem(f"fact {defn.id!r} divides {part.id!r}, which is a {part.type.value}, not a "
                   "quantity", "ratio", index)
        for index, part in enumerate(parts)
        if part.type is not FactType.QUANTITY
    ]  # fmt: skip
    same = parts[0].unit is parts[1].unit
    if not found and not same and defn.unit is Unit.RATIO:
        units = " and ".join(part.unit.value if part.unit else "?" for part in parts)
        message = (
            f"fact {defn.id!r} is declared a ratio (a share, in %) but divides quantities in "
            f"{units}: a share divides like by like (R&D expense by revenue, staff by staff)"
        )
        found.append(at.problem(message, "ratio"))
    if not found and same and defn.unit is not Unit.RATIO and defn.type is FactType.QUANTITY:
        unit = parts[0].unit.value if parts[0].unit else "?"
        message = (
            f"fact {defn.id!r} divides two quantities in {unit}, which gives a ratio: "
            "declare unit: ratio (and compare it with percentages such as '10%')"
        )
        found.append(at.problem(message, "unit"))
    return found


def _cycles(declared: Mapping[str, Declared]) -> list[Problem]:
    problems: list[Problem] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            problems.append(
                declared[name].problem(
                    f"facts depend on each other in a cycle: {' → '.join([*trail, name])}", "id"
                )
            )
            return
        state[name] = 1
        for dep in dependencies(declared[name].defn):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in declared:
        visit(name, [])
    return problems


_INPUTS: dict[str, Callable[[Any], frozenset[str]]] = {
    "field": lambda s: frozenset({".".join(s.path)}),
    "financial": lambda s: frozenset({f"financials.{s.line}"}),
    "sum_years": lambda s: frozenset({f"financials.{s.line}", "registration_date"}),
    "growth": lambda s: frozenset({f"financials.{s.line}"}),
    "ip_count": lambda s: frozenset({"intellectual_property"}),
    "certified": lambda s: frozenset({"certifications"}),
    "records": lambda s: frozenset({"compliance.records"}),
    "profile_fact": lambda s: frozenset({f"facts.{s.name}"}),
    "certificates": lambda s: frozenset({"certifications"}),
    "project": lambda s: frozenset({"projects"}),
    "cagr": lambda s: frozenset({f"financials.{s.line}"}),
    "average_growth": lambda s: frozenset({f"financials.{s.line}"}),
    "industry_share": lambda s: frozenset({"financials.income_by_industry", "industry_code"}),
}
_REVIEW: dict[str, ReviewRule] = {
    "field": "judgement", "financial": "judgement", "profile_fact": "judgement",
    "ratio": "parts", "points": "parts", "sum_of": "parts", "max_of": "parts",
}  # fmt: skip


def _plan(at: Declared, source: Source, done: Mapping[str, FactPlan]) -> FactPlan:
    defn = at.defn
    inputs = dependencies(defn)
    parts = [done[name] for name in inputs]
    review = _REVIEW.get(source.kind, "never")
    may = defn.judgement if review == "judgement" else any(p.may_need_review for p in parts)
    own = _INPUTS.get(source.kind)
    return FactPlan(
        id=defn.id,
        type=defn.type,
        unit=defn.unit,
        zh=defn.zh,
        en=defn.en,
        source=source,
        judgement=defn.judgement,
        inputs=inputs,
        depends_on=frozenset(inputs).union(*(p.depends_on for p in parts)),
        profile_inputs=(own(source) if own else frozenset()).union(
            *(p.profile_inputs for p in parts)
        ),
        review=review,
        may_need_review=review != "never" and may,
        depth=1 + max((p.depth for p in parts), default=-1),
        change=defn.change or _easiest(p.change for p in parts),
        values=None if defn.values is None else frozenset(defn.values),
        note=defn.note,
        where=at.where(),
    )


def _easiest(changes: Iterable[Change]) -> Change:
    """A formula moves as its most movable input does (R&D intensity, by R&D spend)."""
    return min(changes, key=CHANGE_ORDER.__getitem__, default="actionable")


def plan_facts(declared: Mapping[str, Declared], problems: list[Problem]) -> dict[str, FactPlan]:
    """Every fact's plan, in the declarations' order; problems are appended (a set with any
    problem must not be used, and the plans of refused facts are left out)."""
    sources: dict[str, Source] = {}
    before = len(problems)
    for name, at in declared.items():
        source = _source(_Reader(at, problems))
        if source is not None:
            sources[name] = source
    problems += _graph_problems(declared, sources)
    if len(problems) > before:
        return {}
    done: dict[str, FactPlan] = {}

    def build(name: str) -> FactPlan:
        if name not in done:
            for dep in dependencies(declared[name].defn):
                build(dep)
            done[name] = _plan(declared[name], sources[name], done)
        return done[name]

    return {name: build(name) for name in declared}
