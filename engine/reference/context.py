"""Fact values during one evaluation: the context that resolves each fact at most once, the
resolvers that compute a fact from the profile, and where each value came from."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ..compile.plan import (
    FORMULA_KINDS,
    AverageGrowthSource,
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
    ProfileFactSource,
    ProjectSource,
    RatioSource,
    RecordsSource,
    SumOfSource,
    SumYearsSource,
    first_band,
)
from ..model.facts import FactType
from ..model.industry import in_industries
from ..model.profile import Certification, Profile, Project
from ..model.units import (
    EXPONENT_LIMIT,
    Unit,
    UnitError,
    format_quantity,
    parse_quantity,
)
from .suggest import undeclared_fact

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


class Context(dict[str, Resolved]):
    """Per-evaluation state: one profile, one date, each derived fact computed at most once.

    The context is the map from fact id to value, filled in as facts are asked for:
    `ctx[fact]` (or `ctx.get(fact)`) resolves the fact the first time and remembers it. It is
    a dict so that asking again, which compiled conditions do all the time, is a lookup in C
    rather than a Python call. An unknown fact id raises KeyError.
    """

    __slots__ = ("_resolvers", "as_of", "basis", "facts", "first", "last_year", "memo", "profile")

    def __init__(
        self,
        profile: Profile,
        on: date | Basis,
        resolvers: Mapping[str, Callable[[Context], Resolved]],
        facts: Mapping[str, FactPlan] | None = None,
        first: Context | None = None,
    ) -> None:
        super().__init__()
        # The evaluation's first context, when this is another basis of the same evaluation
        # (a tax year's beside the application's): `resolvers` then read from it the facts
        # both bases give the same value (`sharing_resolvers`).
        self.first = first
        basis = on if isinstance(on, Basis) else Basis(on, on.year - 1)
        self.profile = profile
        self.basis = basis  # the day and fiscal year (`plan.Basis`): an application's or a tax year's
        self.as_of = basis.on  # the day certificates, records and date thresholds are read on
        self.facts = facts or {}  # the definitions, for explanations of formulas
        self.last_year = basis.fiscal_year  # the fiscal (calendar) year whose figures it reads
        self._resolvers = resolvers  # read only: shared by every context of a policy set
        # What explanations compute from the facts (a failing leaf's gap), kept for the rest
        # of one evaluation by whoever owns the context and never changes its facts
        # (`PolicySet.evaluate`); None: computed afresh each time.
        self.memo: dict[Any, Any] | None = None

    def __missing__(self, fact: str) -> Resolved:
        value = self[fact] = self._resolvers[fact](self)
        return value

    def get(self, fact: str, default: object = None, /) -> Resolved:
        """The fact's value (resolved if need be); `default` is accepted for the dict
        signature and never used, since every declared fact has a value or is Missing."""
        return self[fact]

    def __bool__(self) -> bool:
        # A context is never "empty" in the sense of false, even before any fact is resolved.
        return True


Resolver = Callable[[Context], Resolved]


class Declared(Protocol):
    """What coercion needs of a fact: a declaration (`FactDef`) or its plan (`FactPlan`)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> FactType: ...
    @property
    def unit(self) -> Unit | None: ...
    @property
    def judgement(self) -> bool: ...


# --- coercion: the one place a value from outside becomes a fact's value ---------------------


def _coerce(defn: Declared, raw: Any, where: str) -> Resolved:
    """Normalise a value from a profile (a field, a `facts` entry, a register cell, a `watch`
    update) to the fact's type. Raises ValueError naming the field and how to write it."""
    if raw is None:
        return Missing(frozenset({where}), review=defn.judgement)
    kind = defn.type
    if kind is FactType.QUANTITY:
        return _quantity(defn, raw, where)
    return _COERCE[kind](raw, where)


def _quantity(defn: Declared, raw: Any, where: str) -> Decimal:
    # Nearly every quantity a profile holds is already a Decimal (or an int): take it as it
    # is when `parse_quantity` would accept it, and let the full path word any refusal. A
    # share is never taken without its unit: `30` could mean 30% or 3000%.
    number = raw if raw.__class__ is Decimal else Decimal(raw) if raw.__class__ is int else None
    if (
        number is not None
        and defn.unit is not Unit.RATIO
        and number.is_finite()
        and (not number or abs(number.adjusted()) < EXPONENT_LIMIT)
    ):
        return number
    if isinstance(raw, bool):
        raise ValueError(f"{where}: expected a number, got {raw!r}")
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise ValueError(f"{where}: {exc}") from None
    assert defn.unit is not None
    if quantity.unit is Unit.NUMBER and defn.unit is Unit.RATIO:
        raise ValueError(f"{where}: {raw} has no unit, but {defn.id} is a share: "
                         f"{_percent_hint(quantity.value)}")  # fmt: skip
    if quantity.unit not in (defn.unit, Unit.NUMBER):
        raise ValueError(f"{where}: expected a value in {defn.unit.value}, got {raw!r}")
    return quantity.value


def _percent_hint(value: Decimal) -> str:
    written = f"{value.normalize():f}"
    if value and abs(value) <= 1:
        hundred = f"{(value * 100).normalize():f}"
        return f"write '{hundred}%' for {hundred} per cent (or '{written}%' for {written} per cent)"
    return f"write '{written}%'"


def _bool(raw: Any, where: str) -> Resolved:
    if not isinstance(raw, bool):
        raise ValueError(f"{where}: expected true or false, got {raw!r}")
    return raw


def _date(raw: Any, where: str) -> Resolved:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"{where}: expected a date (YYYY-MM-DD), got {raw!r}") from None


def _code(raw: Any, where: str) -> Resolved:
    if not isinstance(raw, str):
        raise ValueError(f"{where}: expected a text code, got {raw!r}")
    return raw


def _codes(raw: Any, where: str) -> Resolved:
    if not isinstance(raw, list | tuple | frozenset | set) or not all(
        isinstance(x, str) for x in raw
    ):
        raise ValueError(f"{where}: expected a list of codes, got {raw!r}")
    return frozenset(raw)


_COERCE: dict[FactType, Callable[[Any, str], Resolved]] = {
    FactType.BOOL: _bool,
    FactType.DATE: _date,
    FactType.CODE: _code,
    FactType.CODES: _codes,
}


Coerce = Callable[[Any, str], Resolved]


def coercer(defn: Declared) -> Coerce:
    """`_coerce` of this fact, as a function of the raw value and where it came from: the
    value as it is when it already has the fact's type (what a validated profile nearly
    always holds), anything else through `_coerce`, which words any refusal. Made once per
    fact, so that reading a fact costs one call rather than a dispatch on its type."""
    kind = defn.type

    def coerce(raw: Any, where: str) -> Resolved:
        return _coerce(defn, raw, where)

    if kind is FactType.QUANTITY:
        if defn.unit is Unit.RATIO:  # a share is never taken without its unit
            return coerce

        def quantity(raw: Any, where: str) -> Resolved:
            given = raw.__class__
            if given is Decimal or given is int:  # `_quantity`'s own fast path, without its calls
                number: Decimal = raw if given is Decimal else counted(raw)
                if number.is_finite() and (
                    not number or -EXPONENT_LIMIT < number.adjusted() < EXPONENT_LIMIT
                ):
                    return number
            return _coerce(defn, raw, where)

        return quantity
    exact = _EXACT.get(kind)
    if exact is None:
        return coerce

    def typed(raw: Any, where: str) -> Resolved:
        value: Resolved = raw  # (before the test, which would narrow `raw` to an object)
        if raw.__class__ is exact:
            return value
        return _coerce(defn, raw, where)

    return typed


# The Decimals of the counts a profile states most (staff, items, records), made once:
# `Decimal(n)` costs more than the comparison that reads it.
_COUNTS = tuple(Decimal(n) for n in range(1024))


def counted(number: int) -> Decimal:
    """`Decimal(number)`, shared for the small counts (Decimals are immutable)."""
    return _COUNTS[number] if 0 <= number < 1024 else Decimal(number)


# The type a fact's value already has when `_coerce` would return it as it is.
_EXACT: dict[FactType, type] = {FactType.BOOL: bool, FactType.DATE: date, FactType.CODE: str}


def direct_field(defn: FactPlan) -> tuple[str, type] | None:
    """For a fact that is a top-level profile field of a type `_coerce` returns as it is (a
    flag, a date, a code): the field's name and that type, so that a reader may take a value
    of that type straight from the profile, as its resolver (`_read_field`) would, and
    anything else (a value of another type, to coerce or refuse) from the context. None for
    every other fact."""
    source, exact = defn.source, _EXACT.get(defn.type)
    if exact is None or not isinstance(source, FieldSource) or len(source.path) != 1:
        return None
    return source.path[0], exact


def profile_fact_defs(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a profile may state in its `facts` map, by the name it states them under."""
    return {d.profile_fact: d for d in facts.values() if d.profile_fact is not None}


def check_profile_facts(
    profile: Profile,
    facts: Mapping[str, Any],
    declared: Mapping[str, Any] | None = None,
) -> list[str]:
    """Problems with the profile's extra `facts` map under this catalogue, one per fact.
    `declared` is `profile_fact_defs(facts)` when the caller keeps it."""
    return checked_profile_facts(profile, facts, declared)[0]


# How a profile's `facts` entry is read: its fact's id, its coercion (`coercer`) and where a
# refusal says it is (`facts.<name>`).
ExtraReader = tuple[str, Coerce, str]


def profile_fact_readers(declared: Mapping[str, Any]) -> dict[str, ExtraReader]:
    """Each fact a profile may state (`profile_fact_defs`) with how it is read, by name:
    made once by whoever checks many profiles against one catalogue."""
    return {name: (d.id, coercer(d), f"facts.{name}") for name, d in declared.items()}


def checked_profile_facts(
    profile: Profile,
    facts: Mapping[str, Any],
    declared: Mapping[str, Any] | None = None,
    readers: Mapping[str, ExtraReader] | None = None,
) -> tuple[list[str], dict[str, Resolved]]:
    """`check_profile_facts`, and the value of each fact the profile states well, by fact id:
    what its context would resolve it to (`_read_extra`), so that an evaluation that checked
    the facts need not read them again. `readers` is `profile_fact_readers(declared)` when
    the caller keeps it."""
    if not profile.facts:
        return [], {}
    if declared is None:
        declared = profile_fact_defs(facts)
    if readers is None:
        readers = profile_fact_readers(declared)
    try:  # every fact declared and well stated, the usual case: no problem to collect
        return [], {
            (known := readers[name])[0]: known[1](raw, known[2])
            for name, raw in profile.facts.items()
        }
    except (KeyError, ValueError):
        pass  # the loop below finds every problem (and raises what it raised before)
    problems = []
    values: dict[str, Resolved] = {}
    for name, raw in profile.facts.items():
        reader = readers.get(name)
        if reader is None:
            problems.append(undeclared_fact(name, declared, facts))
            continue
        fact, coerce, where = reader
        try:
            values[fact] = coerce(raw, where)
        except ValueError as exc:
            problems.append(str(exc))
    return problems, values


# --- resolvers: a fact's plan as a function of the context -----------------------------------

def compile_resolver(defn: FactPlan) -> Resolver:
    """Turn a fact's plan into a function of the evaluation context."""
    return _RESOLVERS[defn.source.kind](defn)


def _merge(*values: Resolved) -> Missing | None:
    """The unknown that unknown parts make: it needs an expert only if every unknown part does
    (`plan.ReviewRule` "parts")."""
    gaps = [v for v in values if isinstance(v, Missing)]
    if not gaps:
        return None
    return Missing(frozenset().union(*(g.inputs for g in gaps)), review=all(g.review for g in gaps))


def _read_field(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, FieldSource)
    steps, path = source.path, ".".join(source.path)

    coerce = coercer(defn)
    absent = Missing(frozenset({path}), review=defn.judgement)  # immutable: every read shares it
    if len(steps) == 1:
        (name,) = steps

        def read_top(ctx: Context) -> Resolved:
            value = getattr(ctx.profile, name, None)
            return absent if value is None else coerce(value, path)

        return read_top

    def read_field(ctx: Context) -> Resolved:
        value: Any = ctx.profile
        for step in steps:
            value = getattr(value, step, None)
            if value is None:
                return absent
        return coerce(value, path)

    return read_field


_YEARS_WORDED = 64  # years whose `financials.<year>.<line>` a resolver keeps


def _read_financial(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, FinancialSource)
    line, back = source.line, source.years_back

    coerce = coercer(defn)
    # Where the value of each year comes from, worded once (a few years are ever read).
    wheres: dict[int, str] = {}

    def read_financial(ctx: Context) -> Resolved:
        year = ctx.last_year - back
        financials = ctx.profile.financials
        record = None if financials is None else financials.get(year)
        value = None if record is None else getattr(record, line)
        where = wheres.get(year)
        if where is None:
            where = f"financials.{year}.{line}"
            if len(wheres) < _YEARS_WORDED:
                wheres[year] = where
        return coerce(value, where)

    return read_financial


def _read_extra(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, ProfileFactSource)
    name = source.name
    coerce, where = coercer(defn), f"facts.{name}"

    def read_extra(ctx: Context) -> Resolved:
        return coerce(ctx.profile.facts.get(name), where)

    return read_extra


def _ratio(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, RatioSource)
    numerator, denominator = source.numerator, source.denominator

    def ratio(ctx: Context) -> Resolved:
        # (Any: each is a Decimal once it is not Missing, a test mypy cannot follow.)
        top: Any = ctx[numerator]
        bottom: Any = ctx[denominator]
        if top.__class__ is Missing or bottom.__class__ is Missing:
            missing = _merge(top, bottom)
            assert missing is not None
            return missing
        if bottom == 0:
            return Missing(frozenset({f"{denominator} (is zero)"}))
        quotient: Decimal = top / bottom
        return quotient  # rounded to 28 significant digits (the decimal module's default)

    return ratio


def _growth(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, GrowthSource)
    line = source.line

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


def _financial(ctx: Context, year: int, line: str) -> Resolved:
    record = (ctx.profile.financials or {}).get(year)
    value = getattr(record, line) if record is not None else None
    if value is None:
        return Missing(frozenset({f"financials.{year}.{line}"}))
    assert isinstance(value, Decimal)
    return value


_NOTHING = Decimal(0)  # the sum of no years so far (immutable: shared)


def _sum_years(defn: FactPlan) -> Resolver:
    source = defn.source
    assert isinstance(source, SumYearsSource)
    line, span = source.line, source.years

    def total(ctx: Context) -> Resolved:
        last = ctx.last_year
        first = last - span + 1
        profile = ctx.profile
        registered = profile.registration_date
        # 实际经营期不满N年的按实际经营时间计算: years before registration do not count.
        if registered is not None and registered.year > first:
            first = registered.year
        financials = profile.financials or {}
        result = _NOTHING
        lacking: list[str] | None = None
        for year in range(first, last + 1):
            record = financials.get(year)
            value = None if record is None else getattr(record, line)
            if value is not None:
                result += value
            elif lacking is None:
                lacking = [f"financials.{year}.{line}"]
            else:
                lacking.append(f"financials.{year}.{line}")
        if lacking:
            return Missing(frozenset(lacking))
        if first > last:
            return Missing(frozenset({"registration_date (after the last fiscal year)"}))
        return result

    return total


def _ip_count(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, IpCountSource)
    kinds, acquisitions, main_product = spec.kinds, spec.acquisitions, spec.main_product
    granted_years = spec.granted_years

    def count(ctx: Context) -> Resolved:
        items = ctx.profile.intellectual_property
        if items is None:
            return Missing(frozenset({"intellectual_property"}))
        first = ctx.last_year - (granted_years or 1) + 1
        total = 0
        for item in items:
            if item.kind not in kinds:
                continue
            if acquisitions is not None and item.acquisition not in acquisitions:
                continue
            if granted_years is not None:
                if item.granted is None:
                    return Missing(frozenset({"intellectual_property[].granted"}))
                if not first <= item.granted.year <= ctx.last_year:
                    continue
            if main_product is not None:
                if item.main_product is None:
                    return Missing(frozenset({"intellectual_property[].main_product"}))
                if item.main_product is not main_product:
                    continue
            total += item.count
        return counted(total)

    return count


def _certified(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, CertifiedSource)
    kind, validity = spec.certificate, spec.validity

    def valid(ctx: Context) -> Resolved:
        certificates = ctx.profile.certifications
        if certificates is None:
            return Missing(frozenset({"certifications"}))
        for cert in certificates:
            if cert.kind != kind or cert.issued > ctx.as_of:
                continue
            if cert.expires is not None:
                if cert.expires >= ctx.as_of:
                    return True
            elif validity is None or validity.after(cert.issued) > ctx.as_of:
                return True
        return False

    return valid


# --- facts derived from the profile's structured lists ------------------------------------
#
# A derived fact is unknown only when the structured data it reads is: the Missing input then
# names that data (`certifications`, `projects[].applying`), so that a gap points at what to add.


def _history(
    certificates: list[Certification], spec: CertificatesSource, on: date
) -> list[Certification]:
    """The certificates of one kind issued by `on`, oldest first, one per issue date (of two
    issued on one day, the one that ends later)."""
    held = [c for c in certificates if c.kind == spec.certificate and c.issued <= on]
    held.sort(key=lambda c: (c.issued, spec.end(c.issued, c.expires) or date.max))
    by_day = {c.issued: c for c in held}  # the last of a day's certificates stays
    return list(by_day.values())


def _chain_length(spec: CertificatesSource, history: list[Certification]) -> int:
    """How many certificates end in an unbroken chain with the last: each issued at most
    `spec.grace` after the previous one ended (`CertificatesSource.end`)."""
    count = 1
    for before, after in zip(reversed(history[:-1]), reversed(history[1:]), strict=True):
        end = spec.end(before.issued, before.expires)
        if end is not None and after.issued > spec.grace.after(end):
            break
        count += 1
    return count


def _certificates(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, CertificatesSource)
    kind, measure = spec.certificate, spec.measure  # the kind, for the Missing input

    def history(ctx: Context) -> Resolved:
        certificates = ctx.profile.certifications
        if certificates is None:
            return Missing(frozenset({"certifications"}))
        held = _history(certificates, spec, ctx.as_of)
        if measure == "consecutive":
            return Decimal(_chain_length(spec, held) if held else 0)
        if not held:
            return Missing(frozenset({f"certifications (a {kind} certificate issued by "
                                      f"{ctx.as_of.isoformat()})"}))  # fmt: skip
        return held[-1].issued if measure == "latest_issued" else len(held) == 1

    return history


def _applied_project(projects: list[Project] | None) -> tuple[int, Project] | str:
    """The project an application is about, with its index: the one marked `applying: true`,
    or the only one listed; otherwise the profile input to fix, as a Missing input names it."""
    if not projects:
        return "projects" if projects is None else "projects (none listed)"
    marked = [(i, p) for i, p in enumerate(projects) if p.applying]
    if len(marked) == 1:
        return marked[0]
    if not marked and len(projects) == 1:
        return 0, projects[0]
    if marked:
        return f"projects[].applying ({len(marked)} projects marked; mark only the one applied for)"
    return (f"projects[].applying ({len(projects)} projects listed; mark the one applied for "
            "with applying: true)")  # fmt: skip


def _project(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, ProjectSource)
    name = spec.field

    def read_project(ctx: Context) -> Resolved:
        found = _applied_project(ctx.profile.projects)
        if isinstance(found, str):
            return Missing(frozenset({found}))
        index, project = found
        return _coerce(defn, getattr(project, name), f"projects[{index}].{name}")

    return read_project


def _cagr(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, CagrSource)
    line, span = spec.line, spec.years

    def cagr(ctx: Context) -> Resolved:
        years = (ctx.last_year, ctx.last_year - span)
        values = [_financial(ctx, year, line) for year in years]
        missing = _merge(*values)
        if missing is not None:
            return missing
        last, first = values
        assert isinstance(last, Decimal) and isinstance(first, Decimal)
        if first <= 0 or last < 0:
            what = "is zero" if first == 0 else "is negative"
            year = years[1] if first <= 0 else years[0]
            return Missing(frozenset({f"financials.{year}.{line} ({what})"}))
        factor = last / first
        if span <= 2:  # a square root is correctly rounded, as the batch back end assumes
            return (factor if span == 1 else factor.sqrt()) - 1
        return factor ** (Decimal(1) / span) - 1

    return cagr


def mean_growth(values: Sequence[Decimal]) -> Decimal | int:
    """The mean of the yearly growth rates of consecutive yearly values (oldest first), or the
    index of a value that is zero, from which no growth can be computed. The batch back end
    calls this too, so that both round alike."""
    rates = []
    for index, (before, after) in enumerate(itertools.pairwise(values)):
        if before == 0:
            return index
        rates.append((after - before) / before)
    return sum(rates, Decimal(0)) / len(rates)


def _average_growth(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, AverageGrowthSource)
    line, span = spec.line, spec.years

    def average(ctx: Context) -> Resolved:
        first = ctx.last_year - span
        values = [_financial(ctx, year, line) for year in range(first, ctx.last_year + 1)]
        missing = _merge(*values)
        if missing is not None:
            return missing
        mean = mean_growth([v for v in values if isinstance(v, Decimal)])
        if isinstance(mean, int):
            return Missing(frozenset({f"financials.{first + mean}.{line} (is zero)"}))
        return mean

    return average


def _industry_share(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, IndustryShareSource)
    prefixes = spec.prefixes

    def share(ctx: Context) -> Resolved:
        where = f"financials.{ctx.last_year}.income_by_industry"
        record = (ctx.profile.financials or {}).get(ctx.last_year)
        income = record.income_by_industry if record is not None else None
        if income is None:
            # The registered industry can only rule the list out: a firm registered outside it
            # is presumed to earn nothing from it; inside it, its income by industry decides.
            registered = ctx.profile.industry_code
            if registered is not None and not in_industries(registered, prefixes):
                return Decimal(0)
            return Missing(frozenset({where}))
        total = sum(income.values(), Decimal(0))
        if total == 0:
            return Missing(frozenset({f"{where} (is zero)"}))
        part = sum((v for k, v in income.items() if in_industries(k, prefixes)), Decimal(0))
        return part / total

    return share


_NO_RECORDS = Decimal(0)  # the count of an empty list of records (immutable: shared)


def _records(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, RecordsSource)
    kinds, severities, within = spec.kinds, spec.severities, spec.within

    def count(ctx: Context) -> Resolved:
        compliance = ctx.profile.compliance
        records = None if compliance is None else compliance.records
        if records is None:
            return Missing(frozenset({"compliance.records"}))
        if not records:  # most profiles: nothing to count
            return _NO_RECORDS
        on = ctx.as_of
        start = within.before(on)
        hits = 0
        for r in records:
            if r.kind in kinds and r.severity in severities and start < r.occurred <= on:
                hits += 1
        return counted(hits)

    return count


def _points(defn: FactPlan) -> Resolver:
    spec = defn.source
    assert isinstance(spec, PointsSource)
    by, bands = spec.by, spec.bands

    def score(ctx: Context) -> Resolved:
        value = ctx.get(by)
        if isinstance(value, Missing):
            return value
        assert isinstance(value, Decimal)
        band = first_band(bands, value)
        return Decimal(0) if band is None or band.amount is None else band.amount

    return score


def _combine(defn: FactPlan) -> Resolver:
    """The sum or the best of parts; unknown if any part is unknown, since the unknown part
    could change the result."""
    spec = defn.source
    assert isinstance(spec, SumOfSource | MaxOfSource)
    parts, total = spec.parts, isinstance(spec, SumOfSource)

    def combined(ctx: Context) -> Resolved:
        values = [ctx.get(part) for part in parts]
        missing = _merge(*values)
        if missing is not None:
            return missing
        numbers = [v for v in values if isinstance(v, Decimal)]
        return sum(numbers, Decimal(0)) if total else max(numbers)

    return combined


_RESOLVERS: dict[str, Callable[[FactPlan], Resolver]] = {
    "field": _read_field,
    "financial": _read_financial,
    "profile_fact": _read_extra,
    "sum_years": _sum_years,
    "ratio": _ratio,
    "growth": _growth,
    "ip_count": _ip_count,
    "certified": _certified,
    "records": _records,
    "points": _points,
    "sum_of": _combine,
    "max_of": _combine,
    "certificates": _certificates,
    "project": _project,
    "cagr": _cagr,
    "average_growth": _average_growth,
    "industry_share": _industry_share,
}


# --- what of the basis a fact reads, and sharing between the contexts of one evaluation ------

_DAY, _YEAR = frozenset({"on"}), frozenset({"fiscal_year"})
# What of the evaluation's basis (`plan.Basis`: the day `on`, the `fiscal_year` read as the
# last) each kind of source reads; formulas of other facts (`_OF_INPUTS`) read what their
# inputs read. A kind not listed here is taken to read both, so it is never shared.
BASIS_READS: dict[str, frozenset[str]] = {
    "field": frozenset(),
    "profile_fact": frozenset(),
    "ip_count": frozenset(),
    "financial": _YEAR,
    "sum_years": _YEAR,
    "growth": _YEAR,
    "certified": _DAY,
    "records": _DAY,
}
_OF_INPUTS = frozenset({"ratio", "points", "sum_of", "max_of"})
BASIS_PARTS = _DAY | _YEAR


def basis_reads(facts: Mapping[str, FactPlan]) -> dict[str, frozenset[str]]:
    """Each fact's parts of the basis (`on`, `fiscal_year`) that its value depends on."""
    reads: dict[str, frozenset[str]] = {}
    for defn in sorted(facts.values(), key=lambda d: d.depth):  # inputs before their facts
        kind = defn.source.kind
        if kind in _OF_INPUTS:
            reads[defn.id] = frozenset().union(*(reads[i] for i in defn.inputs))
        else:
            reads[defn.id] = BASIS_READS.get(kind, BASIS_PARTS)
    return reads


def sharing_resolvers(
    resolvers: Mapping[str, Resolver], reads: Mapping[str, frozenset[str]], agree: frozenset[str]
) -> dict[str, Resolver]:
    """The resolvers of a second context of one evaluation whose basis agrees with the first
    context's on `agree` (parts of `BASIS_PARTS`): a fact that reads only those has the same
    value in both, so it is resolved once, in the first (`Context.first`)."""

    def from_first(fact: str) -> Resolver:
        def shared(ctx: Context) -> Resolved:
            assert ctx.first is not None
            return ctx.first[fact]

        return shared

    return {f: from_first(f) if reads[f] <= agree else r for f, r in resolvers.items()}


# --- where a value comes from, for explanations ----------------------------------------------

_ORIGINS: dict[str, Callable[[Any, int], str]] = {
    "field": lambda s, last: ".".join(s.path),
    "financial": lambda s, last: f"financials.{last - s.years_back}.{s.line}",
    "sum_years": lambda s, last: f"Σ financials.{last - s.years + 1}..{last}.{s.line}",
    "ratio": lambda s, last: f"{s.numerator} ÷ {s.denominator}",
    "growth": lambda s, last: f"financials.{last}.{s.line} ÷ financials.{last - 1}.{s.line} − 1",
    "ip_count": lambda s, last: "intellectual_property",
    "certified": lambda s, last: f"certifications[{s.certificate}]",
    "records": lambda s, last: "compliance.records",
    "profile_fact": lambda s, last: f"facts.{s.name}",
    "points": lambda s, last: f"points by bands of {s.by}",
    "sum_of": lambda s, last: " + ".join(s.parts),
    "max_of": lambda s, last: f"max({', '.join(s.parts)})",
    "certificates": lambda s, last: f"certifications[{s.certificate}] ({s.measure})",
    "project": lambda s, last: f"projects[applying].{s.field}",
    "cagr": lambda s, last: f"(financials.{last}.{s.line} ÷ financials.{last - s.years}."
    f"{s.line})^(1/{s.years}) − 1",
    "average_growth": lambda s, last: f"mean yearly growth of financials.{last - s.years}.."
    f"{last}.{s.line}",
    "industry_share": lambda s, last: f"financials.{last}.income_by_industry[{s.name}] ÷ "
    f"financials.{last}.income_by_industry",
}


def origin(defn: FactPlan, last_year: int, ctx: Context | None = None) -> str:
    """Where a fact's value comes from, for explanations: `financials.2025.revenue` (2025 the
    fiscal year read as the last). Given the evaluation context, formulas show their parts'
    values, the band that scored and, for `max_of`, which option was taken."""
    kind = defn.source.kind
    if ctx is not None and kind in FORMULA_KINDS:
        return _formula_text(defn, ctx)
    if ctx is not None and kind in SAYS_WHY:
        value = ctx.get(defn.id)
        if isinstance(value, Missing):  # what to give: `projects[].applying (2 projects …)`
            return "; ".join(sorted(value.inputs))
    return _ORIGINS[kind](defn.source, last_year)


# Derived facts whose unknown value says what to give (which project, which certificate).
SAYS_WHY = frozenset({"certificates", "project", "cagr", "average_growth", "industry_share"})


def _shown(ctx: Context, fact: str) -> str:
    value = ctx.get(fact)
    if isinstance(value, Missing):
        return "unknown"
    defn = ctx.facts.get(fact)
    if isinstance(value, Decimal) and defn is not None and defn.unit is not None:
        return format_quantity(value, defn.unit, "en")
    return str(value)


def _part(ctx: Context, fact: str) -> str:
    inner = ctx.facts.get(fact)
    text = f"{fact} {_shown(ctx, fact)}"
    if inner is not None and inner.source.kind in FORMULA_KINDS:
        text += f" [{_formula_text(inner, ctx)}]"
    return text


def _formula_text(defn: FactPlan, ctx: Context) -> str:
    """`tech_sme_rd_points 50 = max(by_revenue 40, by_cost 50 ← chosen)`, recursively."""
    source = defn.source
    if isinstance(source, PointsSource):
        return _points_text(source, ctx)
    assert isinstance(source, SumOfSource | MaxOfSource)
    if isinstance(source, SumOfSource):
        return " + ".join(_part(ctx, p) for p in source.parts)
    values = [ctx.get(p) for p in source.parts]
    known = [v for v in values if isinstance(v, Decimal)]
    best = max(known) if len(known) == len(values) else None
    chosen = next((p for p, v in zip(source.parts, values, strict=True) if v == best), None)
    shown = [_part(ctx, p) + (" ← chosen" if p == chosen else "") for p in source.parts]
    return f"best of: {'; '.join(shown)}"


def _points_text(source: PointsSource, ctx: Context) -> str:
    """`rd_intensity 4.5%: band ≥ 4% → 30`."""
    value = ctx.get(source.by)
    if isinstance(value, Missing):
        return f"{source.by} unknown"
    assert isinstance(value, Decimal)
    band = first_band(source.bands, value)
    where = "in no band → 0" if band is None else f"band {band.written} → {band.amount}"
    return f"{_part(ctx, source.by)}: {where}"
