"""Benefits → `plan.BenefitPlan`: every amount, rate and bound read once in its unit and checked
against the facts it names (a base in yuan, a per-unit rate against the quantity it multiplies,
tier bounds in the unit of the fact they band)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..model.facts import FactType
from ..model.language import Band as SourceBand
from ..model.language import Benefit
from ..model.units import Unit, UnitError, parse_quantity
from .conditions import CompileError, Facts, Placer, fact_plan
from .plan import AmountKind, Band, BenefitPlan, Factor, FactPlan, Path

PER_UNIT = {Unit.YUAN_PER_TONNE: Unit.TONNE, Unit.YUAN_PER_SQUARE_METRE: Unit.SQUARE_METRE}


def _quantity(raw: Any, unit: Unit, path: Path, what: str) -> Decimal:
    try:
        quantity = parse_quantity(raw)
    except UnitError as exc:
        raise CompileError(str(exc), path) from None
    if quantity.unit is not unit:
        example = {Unit.YUAN: "'20万元'", Unit.RATIO: "'15%'"}.get(unit, unit.value)
        raise CompileError(
            f"unit mismatch: {what} must be in {unit.value} (e.g. {example}), got {raw!r}", path
        )
    if quantity.value < 0:
        raise CompileError(f"{what} cannot be negative: {raw!r}", path)
    return quantity.value


def _fact(facts: Facts, name: str, units: tuple[Unit, ...], path: Path) -> str:
    defn = fact_plan(facts, name, path)
    if defn is None:
        raise CompileError(f"unknown fact {name!r}", path)
    if defn.type is not FactType.QUANTITY or defn.unit not in units:
        wanted = " or ".join(u.value for u in units)
        raise CompileError(f"unit mismatch: fact {name!r} must be a quantity in {wanted}", path)
    return name


Parts = dict[str, Any]  # keyword arguments of BenefitPlan that depend on the kind
_KIND: dict[str, AmountKind] = {"tax_rate": "tax_saving", "deduction": "deduction"}


def plan_benefit(
    benefit: Benefit, facts: Facts, path: Path, at: Placer
) -> BenefitPlan:
    kind = benefit.kind
    cap = None if benefit.cap is None else _quantity(benefit.cap, Unit.YUAN, (*path, "cap"), "cap")
    common: Parts = {
        "kind": kind,
        "zh": benefit.zh,
        "en": benefit.en,
        "provenance": None if benefit.provenance is None else benefit.provenance.value,
        "note": benefit.note,
        "where": at(path),
    }
    if kind == "service":
        return BenefitPlan(amount_kind="none", **common)
    parts = _PARTS[kind](benefit, facts, (*path, kind), at)
    return BenefitPlan(amount_kind=_KIND.get(kind, "cash"), cap=cap, **common, **parts)


def _grant(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    assert benefit.grant is not None
    return {"fixed": _quantity(benefit.grant.amount, Unit.YUAN, (*path, "amount"), "amount")}


def _rated(base: str, rate: Decimal) -> Parts:
    return {"base": base, "factor": Factor(rate, rate), "reads": (base,)}


def _rate_of(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    spec = benefit.rate_of
    assert spec is not None
    base = _fact(facts, spec.base, (Unit.YUAN,), (*path, "base"))
    return _rated(base, _quantity(spec.rate, Unit.RATIO, (*path, "rate"), "rate"))


def _deduction(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    spec = benefit.deduction
    assert spec is not None
    base = _fact(facts, spec.base, (Unit.YUAN,), (*path, "base"))
    return _rated(base, _quantity(spec.rate, Unit.RATIO, (*path, "rate"), "rate"))


def _tax_rate(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    spec = benefit.tax_rate
    assert spec is not None
    base = _fact(facts, spec.base, (Unit.YUAN,), (*path, "base"))
    standard = _quantity(spec.standard, Unit.RATIO, (*path, "standard"), "standard")
    bands = () if spec.parts is None else _tax_parts(spec, standard, (*path, "parts"), at)
    if spec.rate is not None:
        rate = _quantity(spec.rate, Unit.RATIO, (*path, "rate"), "rate")
        if rate > standard:
            raise CompileError(f"reduced rate {spec.rate} is above the standard rate", path)
    else:
        assert bands and bands[0].rate is not None
        rate = bands[0].rate
    return {"base": base, "factor": Factor(standard - rate, rate, standard=standard),
            "bands": bands, "reads": (base,)}  # fmt: skip


def _tax_parts(spec: Any, standard: Decimal, path: Path, at: Placer) -> tuple[Band, ...]:
    """Progressive parts as bands of the base: (previous bound, up_to], each with its rate."""
    bands: list[Band] = []
    low: Decimal | None = None
    for i, part in enumerate(spec.parts):
        here = (*path, i)
        high = _quantity(part.up_to, Unit.YUAN, (*here, "up_to"), "up_to")
        rate = _quantity(part.rate, Unit.RATIO, (*here, "rate"), "rate")
        if rate > standard:
            raise CompileError(f"reduced rate {part.rate} is above the standard rate", here)
        if low is not None and high <= low:
            raise CompileError(f"part bound {part.up_to} is not above the previous one", here)
        bands.append(Band(low, False, high, True, rate=rate, written=f"≤ {part.up_to}",
                          where=at(here)))  # fmt: skip
        low = high
    return tuple(bands)


def _per_unit(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    spec = benefit.per_unit
    assert spec is not None
    try:
        rate = parse_quantity(spec.rate)
    except UnitError as exc:
        raise CompileError(str(exc), (*path, "rate")) from None
    if rate.unit not in PER_UNIT:
        raise CompileError(
            f"unit mismatch: a per-unit rate is in yuan per tonne or per m² (e.g. '500元/吨'), "
            f"got {spec.rate!r}",
            (*path, "rate"),
        )
    base = _fact(facts, spec.quantity, (PER_UNIT[rate.unit],), (*path, "quantity"))
    return {"base": base, "factor": Factor(rate.value, rate.value, rate.unit), "reads": (base,)}


def _tiers(benefit: Benefit, facts: Facts, path: Path, at: Placer) -> Parts:
    spec = benefit.tiers
    assert spec is not None
    by = fact_plan(facts, spec.by, (*path, "by"))
    if by is None or by.type is not FactType.QUANTITY:
        raise CompileError(
            f"tiers need a quantity fact to band by; {spec.by!r} is not one", (*path, "by")
        )
    bands = tuple(
        tier_band(band, by, (*path, "bands", i), at) for i, band in enumerate(spec.bands)
    )
    base = None if spec.base is None else _fact(facts, spec.base, (Unit.YUAN,), (*path, "base"))
    if any(b.rate is not None for b in bands) and base is None:
        raise CompileError("tiers that pay a rate need a `base` fact", path)
    reads = (by.id,) if base is None else (by.id, base)
    return {"by": by.id, "bands": bands, "base": base, "reads": reads}


def tier_band(band: SourceBand, by: FactPlan, path: Path, at: Placer) -> Band:
    """One tier as a `plan.Band`, its bounds in the unit of the fact it bands."""
    unit = by.unit
    assert unit is not None

    def bound(raw: Any, key: str) -> Decimal:
        try:
            quantity = parse_quantity(raw)
        except UnitError as exc:
            raise CompileError(str(exc), (*path, key)) from None
        if quantity.unit is not unit and not (
            quantity.unit is Unit.NUMBER and unit not in (Unit.YUAN, Unit.RATIO)
        ):
            raise CompileError(
                f"unit mismatch: tier bound {raw!r} must be in {unit.value} like the fact {by.id!r}",
                (*path, key),
            )
        return quantity.value

    low_key, high_key = ("ge" if band.ge is not None else "gt"), ("le" if band.le is not None else "lt")
    low_raw, high_raw = getattr(band, low_key), getattr(band, high_key)
    low = None if low_raw is None else bound(low_raw, low_key)
    high = None if high_raw is None else bound(high_raw, high_key)
    if low is not None and high is not None and low > high:
        raise CompileError(f"tier lower bound {low_raw} is above its upper bound {high_raw}", path)
    amount = (
        None if band.amount is None
        else _quantity(band.amount, Unit.YUAN, (*path, "amount"), "amount")
    )  # fmt: skip
    rate = None if band.rate is None else _quantity(band.rate, Unit.RATIO, (*path, "rate"), "rate")
    return Band(low, band.ge is not None, high, band.le is not None, amount, rate, where=at(path))


_PARTS: dict[str, Callable[[Benefit, Facts, Path, Placer], Parts]] = {
    "grant": _grant,
    "rate_of": _rate_of,
    "deduction": _deduction,
    "tax_rate": _tax_rate,
    "per_unit": _per_unit,
    "tiers": _tiers,
}
