"""Fact values during one evaluation: the context that resolves each fact at most once, the
resolvers that compute a fact from the profile, and where each value came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..model.facts import (
    Certified,
    FactDef,
    FactType,
    IpCount,
    PointBand,
    Points,
    Records,
    SumYears,
    _duration,
    _holds,
)
from ..model.profile import CLASS_I_KINDS, CLASS_II_KINDS, Profile
from ..model.units import (
    EXPONENT_LIMIT,
    Unit,
    UnitError,
    format_quantity,
    parse_quantity,
    shift_date,
    shifted,
)

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

    __slots__ = ("_resolvers", "as_of", "facts", "last_year", "profile")

    def __init__(
        self,
        profile: Profile,
        as_of: date,
        resolvers: Mapping[str, Callable[[Context], Resolved]],
        facts: Mapping[str, FactDef] | None = None,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.as_of = as_of
        self.facts = facts or {}  # the definitions, for explanations of formulas
        self.last_year = as_of.year - 1  # the last completed fiscal (calendar) year
        self._resolvers = resolvers  # read only: shared by every context of a policy set

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


def _coerce(defn: FactDef, raw: Any, where: str) -> Resolved:
    """Normalise a profile value to the fact's type. Raises ValueError naming the field."""
    if raw is None:
        return Missing(frozenset({where}), review=defn.judgement)
    kind = defn.type
    if kind is FactType.QUANTITY:
        # Nearly every quantity a profile holds is already a Decimal (or an int): take it as it
        # is when `parse_quantity` would accept it, and let the full path word any refusal.
        number = raw if raw.__class__ is Decimal else Decimal(raw) if raw.__class__ is int else None
        if (
            number is not None
            and number.is_finite()
            and (not number or abs(number.adjusted()) < EXPONENT_LIMIT)
        ):
            return number
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


def profile_fact_defs(facts: Mapping[str, FactDef]) -> dict[str, FactDef]:
    """The facts a profile may state in its `facts` map, by the name it states them under."""
    return {d.profile_fact: d for d in facts.values() if d.profile_fact is not None}


def check_profile_facts(
    profile: Profile,
    facts: Mapping[str, FactDef],
    declared: Mapping[str, FactDef] | None = None,
) -> list[str]:
    """Problems with the profile's extra `facts` map under this catalogue, one per fact.
    `declared` is `profile_fact_defs(facts)` when the caller keeps it."""
    if not profile.facts:
        return []
    if declared is None:
        declared = profile_fact_defs(facts)
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
            top, bottom = ctx[numerator], ctx[denominator]
            if top.__class__ is Missing or bottom.__class__ is Missing:
                missing = _merge(top, bottom)
                assert missing is not None
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
    if kind == "points":
        assert defn.points is not None
        return _points(defn.points)
    if kind in ("sum_of", "max_of"):
        parts = tuple(defn.sum_of or defn.max_of or ())
        return _combine(parts, total=kind == "sum_of")
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
    line, span = spec.financial, spec.years

    def total(ctx: Context) -> Resolved:
        last = ctx.last_year
        first = last - span + 1
        registered = ctx.profile.registration_date
        # 实际经营期不满N年的按实际经营时间计算: years before registration do not count.
        if registered is not None:
            first = max(first, registered.year)
        financials = ctx.profile.financials or {}
        result = Decimal(0)
        lacking: list[str] = []
        for year in range(first, last + 1):
            record = financials.get(year)
            value = getattr(record, line) if record is not None else None
            if value is None:
                lacking.append(f"financials.{year}.{line}")
            else:
                result += value
        if lacking:
            return Missing(frozenset(lacking))
        if first > last:
            return Missing(frozenset({"registration_date (after the last fiscal year)"}))
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
        start = shifted(ctx.as_of, -amount, unit)
        hits = sum(
            1
            for r in compliance.records
            if r.kind in kinds and r.severity in severities and start < r.occurred <= ctx.as_of
        )
        return Decimal(hits)

    return count


def _points(spec: Points) -> Resolver:
    bands = [(band.bounds(), Decimal(band.points)) for band in spec.bands]

    def score(ctx: Context) -> Resolved:
        value = ctx.get(spec.by)
        if isinstance(value, Missing):
            return value
        assert isinstance(value, Decimal)
        return next((points for bounds, points in bands if _holds(bounds, value)), Decimal(0))

    return score


def _band(spec: Points, value: Decimal) -> PointBand | None:
    return next((band for band in spec.bands if _holds(band.bounds(), value)), None)


def _combine(parts: tuple[str, ...], total: bool) -> Resolver:
    """The sum (`total`) or the best of parts; unknown if any part is unknown, since the
    unknown part could change the result."""

    def combined(ctx: Context) -> Resolved:
        values = [ctx.get(part) for part in parts]
        missing = _merge(*values)
        if missing is not None:
            return missing
        numbers = [v for v in values if isinstance(v, Decimal)]
        return sum(numbers, Decimal(0)) if total else max(numbers)

    return combined


def origin(defn: FactDef, as_of: date, ctx: Context | None = None) -> str:
    """Where a fact's value comes from, for explanations: `financials.2025.revenue`. Given the
    evaluation context, formulas show their parts' values, the band that scored and, for
    `max_of`, which option was taken."""
    if ctx is not None and defn.source_kind in ("points", "sum_of", "max_of"):
        return _formula_text(defn, ctx)
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
    if kind == "points":
        assert defn.points is not None
        return f"points by bands of {defn.points.by}"
    if kind == "sum_of":
        return " + ".join(defn.sum_of or ())
    if kind == "max_of":
        return f"max({', '.join(defn.max_of or ())})"
    return f"facts.{defn.profile_fact}"


def _shown(ctx: Context, fact: str) -> str:
    value = ctx.get(fact)
    if isinstance(value, Missing):
        return "unknown"
    defn = ctx.facts.get(fact)
    if isinstance(value, Decimal) and defn is not None and defn.unit is not None:
        return format_quantity(value, defn.unit, "en")
    return str(value)


def _formula_text(defn: FactDef, ctx: Context) -> str:
    """`tech_sme_rd_points 50 = max(by_revenue 40, by_cost 50 ← chosen)`, recursively."""

    def part(fact: str) -> str:
        inner = ctx.facts.get(fact)
        text = f"{fact} {_shown(ctx, fact)}"
        if inner is not None and inner.source_kind in ("points", "sum_of", "max_of"):
            text += f" [{_formula_text(inner, ctx)}]"
        return text

    if defn.points is not None:
        by = defn.points.by
        value = ctx.get(by)
        if isinstance(value, Missing):
            return f"{by} unknown"
        assert isinstance(value, Decimal)
        band = _band(defn.points, value)
        where = "in no band → 0" if band is None else f"band {band.text()} → {band.points}"
        return f"{part(by)}: {where}"
    if defn.sum_of is not None:
        return " + ".join(part(p) for p in defn.sum_of)
    options = defn.max_of or []
    values = [ctx.get(p) for p in options]
    known = [v for v in values if isinstance(v, Decimal)]
    best = max(known) if len(known) == len(values) else None
    chosen = next((p for p, v in zip(options, values, strict=True) if v == best), None)
    shown = [part(p) + (" ← chosen" if p == chosen else "") for p in options]
    return f"best of: {'; '.join(shown)}"
