"""Compile benefits into amount functions: what a policy pays, with the calculation shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..model.facts import FactDef, FactType
from ..model.language import Band, Benefit
from ..model.units import (
    Unit,
    UnitError,
    format_money,
    format_quantity,
    parse_quantity,
)
from ..reference.context import Context, Missing
from ..reference.results import AmountKind, Step, Text
from .conditions import CompileError, Path

CENT = Decimal("0.01")
_PER_UNIT = {Unit.YUAN_PER_TONNE: Unit.TONNE, Unit.YUAN_PER_SQUARE_METRE: Unit.SQUARE_METRE}


@dataclass(frozen=True)
class Amount:
    value: Decimal | None
    steps: list[Step]
    missing: Missing | None = None


@dataclass(frozen=True)
class CompiledBenefit:
    benefit: Benefit
    kind: AmountKind
    cap: Decimal | None
    facts: tuple[str, ...]
    compute: Callable[[Context], Amount]


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


def _fact(facts: dict[str, FactDef], name: str, units: tuple[Unit, ...], path: Path) -> FactDef:
    defn = facts.get(name)
    if defn is None:
        raise CompileError(f"unknown fact {name!r}", path)
    if defn.type is not FactType.QUANTITY or defn.unit not in units:
        wanted = " or ".join(u.value for u in units)
        raise CompileError(f"unit mismatch: fact {name!r} must be a quantity in {wanted}", path)
    return defn


def _money(value: Decimal) -> Text:
    return Text(zh=format_money(value, "zh"), en=format_money(value, "en"))


def _pct(value: Decimal) -> str:
    return format_quantity(value, Unit.RATIO, "en")


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def compile_benefit(benefit: Benefit, facts: dict[str, FactDef], path: Path) -> CompiledBenefit:
    cap = None if benefit.cap is None else _quantity(benefit.cap, Unit.YUAN, (*path, "cap"), "cap")
    kind = benefit.kind
    if kind == "service":
        return CompiledBenefit(benefit, "none", None, (), lambda ctx: Amount(None, []))
    base: FactDef | None = None
    if kind == "grant":
        assert benefit.grant is not None
        fixed = _quantity(benefit.grant.amount, Unit.YUAN, (*path, "grant", "amount"), "amount")
        raw = _grant(fixed)
        used: tuple[str, ...] = ()
        amount_kind: AmountKind = "cash"
    elif kind == "rate_of":
        spec = benefit.rate_of
        assert spec is not None
        base = _fact(facts, spec.base, (Unit.YUAN,), (*path, "rate_of", "base"))
        rate = _quantity(spec.rate, Unit.RATIO, (*path, "rate_of", "rate"), "rate")
        raw, used, amount_kind = _rate(base, rate), (base.id,), "cash"
    elif kind == "per_unit":
        spec_u = benefit.per_unit
        assert spec_u is not None
        try:
            rate_q = parse_quantity(spec_u.rate)
        except UnitError as exc:
            raise CompileError(str(exc), (*path, "per_unit", "rate")) from None
        if rate_q.unit not in _PER_UNIT:
            raise CompileError(
                f"unit mismatch: a per-unit rate is in yuan per tonne or per m² (e.g. '500元/吨'), "
                f"got {spec_u.rate!r}",
                (*path, "per_unit", "rate"),
            )
        base = _fact(
            facts, spec_u.quantity, (_PER_UNIT[rate_q.unit],), (*path, "per_unit", "quantity")
        )
        raw, used, amount_kind = _per_unit(base, rate_q.value, rate_q.unit), (base.id,), "cash"
    elif kind == "tax_rate":
        spec_t = benefit.tax_rate
        assert spec_t is not None
        base = _fact(facts, spec_t.base, (Unit.YUAN,), (*path, "tax_rate", "base"))
        rate = _quantity(spec_t.rate, Unit.RATIO, (*path, "tax_rate", "rate"), "rate")
        standard = _quantity(
            spec_t.standard, Unit.RATIO, (*path, "tax_rate", "standard"), "standard"
        )
        if rate > standard:
            raise CompileError(
                f"reduced rate {spec_t.rate} is above the standard rate", (*path, "tax_rate")
            )
        raw, used, amount_kind = _tax_rate(base, rate, standard), (base.id,), "tax_saving"
    elif kind == "deduction":
        spec_d = benefit.deduction
        assert spec_d is not None
        base = _fact(facts, spec_d.base, (Unit.YUAN,), (*path, "deduction", "base"))
        rate = _quantity(spec_d.rate, Unit.RATIO, (*path, "deduction", "rate"), "rate")
        raw, used, amount_kind = _deduction(base, rate), (base.id,), "deduction"
    else:
        assert benefit.tiers is not None
        raw, used = _tiers(benefit, facts, (*path, "tiers"))
        amount_kind = "cash"
    return CompiledBenefit(benefit, amount_kind, cap, used, _capped(raw, cap))


def _capped(raw: Callable[[Context], Amount], cap: Decimal | None) -> Callable[[Context], Amount]:
    if cap is None:
        return raw

    def capped(ctx: Context) -> Amount:
        amount = raw(ctx)
        if amount.value is None or amount.value <= cap:
            return amount
        step = Step(
            label=Text(
                zh=f"封顶 {format_money(cap, 'zh')}", en=f"capped at {format_money(cap, 'en')}"
            ),
            amount=cap,
        )
        return Amount(cap, [*amount.steps, step])

    return capped


def _grant(fixed: Decimal) -> Callable[[Context], Amount]:
    steps = [Step(label=Text(zh="一次性定额", en="fixed amount"), amount=fixed)]
    return lambda ctx: Amount(fixed, steps)


def _base_value(ctx: Context, base: FactDef) -> Decimal | Missing:
    value = ctx.get(base.id)
    if isinstance(value, Missing):
        return value
    assert isinstance(value, Decimal)
    return value


def _product(
    base: FactDef, factor: Decimal, describe: Callable[[Decimal, str], str]
) -> Callable[[Context], Amount]:
    """base × factor (a negative base pays nothing), with the step described in both languages."""

    def compute(ctx: Context) -> Amount:
        value = _base_value(ctx, base)
        if isinstance(value, Missing):
            return Amount(None, [], value)
        result = _round(max(value, Decimal(0)) * factor)
        label = Text(
            zh=f"{base.zh} {describe(value, 'zh')}", en=f"{base.en} {describe(value, 'en')}"
        )
        return Amount(result, [Step(label=label, amount=result)])

    return compute


def _rate(base: FactDef, rate: Decimal) -> Callable[[Context], Amount]:
    return _product(base, rate, lambda value, lang: f"{format_money(value, lang)} × {_pct(rate)}")


def _per_unit(base: FactDef, rate: Decimal, unit: Unit) -> Callable[[Context], Amount]:
    per = _PER_UNIT[unit]
    return _product(
        base,
        rate,
        lambda value, lang: (
            f"{format_quantity(value, per, lang)} × {format_quantity(rate, unit, lang)}"
        ),
    )


def _tax_rate(base: FactDef, rate: Decimal, standard: Decimal) -> Callable[[Context], Amount]:
    def describe(value: Decimal, lang: str) -> str:
        left, right = ("（", "）") if lang == "zh" else ("(", ")")
        return f"{format_money(value, lang)} × {left}{_pct(standard)} − {_pct(rate)}{right}"

    return _product(base, standard - rate, describe)


def _deduction(base: FactDef, rate: Decimal) -> Callable[[Context], Amount]:
    def describe(value: Decimal, lang: str) -> str:
        word = "加计扣除" if lang == "zh" else "additional deduction"
        return f"{format_money(value, lang)} × {_pct(rate)} {word}"

    return _product(base, rate, describe)


@dataclass(frozen=True)
class _CompiledBand:
    low: Decimal | None
    low_inclusive: bool
    high: Decimal | None
    high_inclusive: bool
    amount: Decimal | None
    rate: Decimal | None

    def holds(self, value: Decimal) -> bool:
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_inclusive)
        ):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_inclusive))
        )

    def text(self, by: FactDef, lang: str) -> str:
        assert by.unit is not None
        parts = []
        if self.low is not None:
            parts.append(
                f"{'≥' if self.low_inclusive else '>'} {format_quantity(self.low, by.unit, lang)}"
            )
        if self.high is not None:
            parts.append(
                f"{'≤' if self.high_inclusive else '<'} {format_quantity(self.high, by.unit, lang)}"
            )
        return ", ".join(parts) or ("全部" if lang == "zh" else "any")


def compile_band(band: Band, by: FactDef, path: Path) -> _CompiledBand:
    assert by.unit is not None
    unit = by.unit

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

    low_raw = band.ge if band.ge is not None else band.gt
    high_raw = band.le if band.le is not None else band.lt
    low = None if low_raw is None else bound(low_raw, "ge" if band.ge is not None else "gt")
    high = None if high_raw is None else bound(high_raw, "le" if band.le is not None else "lt")
    if low is not None and high is not None and low > high:
        raise CompileError(f"tier lower bound {low_raw} is above its upper bound {high_raw}", path)
    amount = (
        None
        if band.amount is None
        else _quantity(band.amount, Unit.YUAN, (*path, "amount"), "amount")
    )
    rate = None if band.rate is None else _quantity(band.rate, Unit.RATIO, (*path, "rate"), "rate")
    return _CompiledBand(low, band.ge is not None, high, band.le is not None, amount, rate)


def _tiers(
    benefit: Benefit, facts: dict[str, FactDef], path: Path
) -> tuple[Callable[[Context], Amount], tuple[str, ...]]:
    spec = benefit.tiers
    assert spec is not None
    by = facts.get(spec.by)
    if by is None or by.type is not FactType.QUANTITY:
        raise CompileError(
            f"tiers need a quantity fact to band by; {spec.by!r} is not one", (*path, "by")
        )
    bands = [compile_band(b, by, (*path, "bands", i)) for i, b in enumerate(spec.bands)]
    base = None if spec.base is None else _fact(facts, spec.base, (Unit.YUAN,), (*path, "base"))
    if any(b.rate is not None for b in bands) and base is None:
        raise CompileError("tiers that pay a rate need a `base` fact", path)
    used = (by.id,) if base is None else (by.id, base.id)

    def compute(ctx: Context) -> Amount:
        value = ctx.get(by.id)
        if isinstance(value, Missing):
            return Amount(None, [], value)
        assert isinstance(value, Decimal) and by.unit is not None
        shown = Text(
            zh=format_quantity(value, by.unit, "zh"), en=format_quantity(value, by.unit, "en")
        )
        band = next((b for b in bands if b.holds(value)), None)
        if band is None:
            label = Text(
                zh=f"{by.zh} {shown.zh} 不在任何档位", en=f"{by.en} {shown.en} is in no tier"
            )
            return Amount(Decimal(0), [Step(label=label, amount=Decimal(0))])
        tier = Text(
            zh=f"{by.zh} {shown.zh} 属于档位 {band.text(by, 'zh')}",
            en=f"{by.en} {shown.en} falls in tier {band.text(by, 'en')}",
        )
        if band.amount is not None:
            return Amount(band.amount, [Step(label=tier, amount=band.amount)])
        assert base is not None and band.rate is not None
        base_value = _base_value(ctx, base)
        if isinstance(base_value, Missing):
            return Amount(None, [Step(label=tier)], base_value)
        result = _round(max(base_value, Decimal(0)) * band.rate)
        label = Text(
            zh=f"{base.zh} {format_money(base_value, 'zh')} × {_pct(band.rate)}",
            en=f"{base.en} {format_money(base_value, 'en')} × {_pct(band.rate)}",
        )
        return Amount(result, [Step(label=tier), Step(label=label, amount=result)])

    return compute, used
