"""What a policy pays, with the calculation shown: the plan's benefit (`plan.BenefitPlan`)
compiled once into a function of the evaluation context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..compile.plan import BenefitPlan, Factor, FactPlan, SumOfSource, first_band
from ..model.units import Unit, format_money, format_quantity
from .context import Context, Missing
from .results import Step, Text


@dataclass(frozen=True, slots=True)
class Amount:
    value: Decimal | None
    steps: list[Step]
    missing: Missing | None = None


Compute = Callable[[Context], Amount]
_NOTHING = Amount(None, [])
_PER = {Unit.YUAN_PER_TONNE: Unit.TONNE, Unit.YUAN_PER_SQUARE_METRE: Unit.SQUARE_METRE}


def compile_amount(benefit: BenefitPlan, facts: Mapping[str, FactPlan]) -> Compute:
    if benefit.kind == "service":
        return lambda ctx: _NOTHING
    if benefit.kind == "grant":
        assert benefit.fixed is not None
        raw = _grant(benefit.fixed)
    elif benefit.kind == "tiers":
        raw = _tiers(benefit, facts)
    elif benefit.progressive:
        assert benefit.base is not None
        raw = _progressive(benefit, facts[benefit.base])
    else:
        assert benefit.base is not None and benefit.factor is not None
        base = facts[benefit.base]
        parts: list[FactPlan] = []
        if isinstance(base.source, SumOfSource) and base.unit is Unit.YUAN:  # parts shown in yuan
            parts = [facts[p] for p in base.source.parts]
        raw = _product(benefit, base, benefit.factor, parts)
    return _capped(raw, benefit.cap)


def _capped(raw: Compute, cap: Decimal | None) -> Compute:
    if cap is None:
        return raw
    step = Step(
        label=Text(zh=f"封顶 {format_money(cap, 'zh')}", en=f"capped at {format_money(cap, 'en')}"),
        amount=cap,
    )

    def capped(ctx: Context) -> Amount:
        amount = raw(ctx)
        if amount.value is None or amount.value <= cap:
            return amount
        return Amount(cap, [*amount.steps, step])

    return capped


def _grant(fixed: Decimal) -> Compute:
    steps = [Step(label=Text(zh="一次性定额", en="fixed amount"), amount=fixed)]
    return lambda ctx: Amount(fixed, steps)


def _pct(value: Decimal) -> str:
    return format_quantity(value, Unit.RATIO, "en")


def _describe(benefit: BenefitPlan, factor: Factor) -> Callable[[Decimal, str], str]:
    """How the step of `base × factor` reads, by kind."""
    rate = factor.rate
    if benefit.kind == "per_unit":
        per = _PER[factor.unit]
        return lambda value, lang: (
            f"{format_quantity(value, per, lang)} × {format_quantity(rate, factor.unit, lang)}"
        )
    if benefit.kind == "tax_rate":
        assert factor.standard is not None
        standard = factor.standard

        def reduced(value: Decimal, lang: str) -> str:
            left, right = ("（", "）") if lang == "zh" else ("(", ")")
            return f"{format_money(value, lang)} × {left}{_pct(standard)} − {_pct(rate)}{right}"

        return reduced
    if benefit.kind == "deduction":

        def deducted(value: Decimal, lang: str) -> str:
            word = "加计扣除" if lang == "zh" else "additional deduction"
            return f"{format_money(value, lang)} × {_pct(rate)} {word}"

        return deducted
    return lambda value, lang: f"{format_money(value, lang)} × {_pct(rate)}"


def _product(
    benefit: BenefitPlan, base: FactPlan, factor: Factor, parts: list[FactPlan]
) -> Compute:
    """base × factor, with the step described in both languages; a base that is a sum of facts
    (`sum_of`, e.g. the super-deduction's expensed R&D + amortisation) shows its parts first."""
    describe, times, by, multiplier = _describe(benefit, factor), benefit.times, base.id, factor.value

    def compute(ctx: Context) -> Amount:
        value = ctx.get(by)
        if isinstance(value, Missing):
            return Amount(None, [], value)
        assert isinstance(value, Decimal)
        result = times(value, multiplier)
        label = Text(zh=f"{base.zh} {describe(value, 'zh')}", en=f"{base.en} {describe(value, 'en')}")
        return Amount(result, [*_summed(ctx, base, parts, value), Step(label=label, amount=result)])

    return compute


def _summed(ctx: Context, base: FactPlan, parts: list[FactPlan], total: Decimal) -> list[Step]:
    """`base = part ¥a + part ¥b = ¥c`: the step that says what a summed base is made of."""
    if not parts:
        return []
    shown = [(p, ctx.get(p.id)) for p in parts]
    zh = " ＋ ".join(f"{p.zh} {format_money(v, 'zh')}" for p, v in shown if isinstance(v, Decimal))
    en = " + ".join(f"{p.en} {format_money(v, 'en')}" for p, v in shown if isinstance(v, Decimal))
    return [Step(label=Text(zh=f"{base.zh} ＝ {zh} ＝ {format_money(total, 'zh')}",
                            en=f"{base.en} = {en} = {format_money(total, 'en')}"))]  # fmt: skip


def _progressive(benefit: BenefitPlan, base: FactPlan) -> Compute:
    """A reduced rate by part of the base: one step per part, then the saving rounded once."""
    assert benefit.factor is not None and benefit.factor.standard is not None
    standard = _pct(benefit.factor.standard)

    def compute(ctx: Context) -> Amount:
        value = ctx.get(base.id)
        if isinstance(value, Missing):
            return Amount(None, [], value)
        assert isinstance(value, Decimal)
        steps = []
        for band, part in benefit.parts(value):
            rate = _pct(band.rate or Decimal(0))
            upper = format_money(band.high, "zh") if band.high is not None else "…"
            upper_en = format_money(band.high, "en") if band.high is not None else "…"
            steps.append(Step(label=Text(
                zh=f"{base.zh} {upper}以内部分 {format_money(part, 'zh')} × （{standard} − {rate}）",
                en=f"{base.en} up to {upper_en}: {format_money(part, 'en')} × ({standard} − {rate})",
            )))  # fmt: skip
        result = benefit.saving(value)
        total = Text(zh="合计节税", en="tax saved in total")
        return Amount(result, [*steps, Step(label=total, amount=result)])

    return compute


def _tiers(benefit: BenefitPlan, facts: Mapping[str, FactPlan]) -> Compute:
    assert benefit.by is not None
    by, bands = facts[benefit.by], benefit.bands
    base = None if benefit.base is None else facts[benefit.base]
    unit = by.unit
    assert unit is not None

    def compute(ctx: Context) -> Amount:
        value = ctx.get(by.id)
        if isinstance(value, Missing):
            return Amount(None, [], value)
        assert isinstance(value, Decimal)
        shown = Text(zh=format_quantity(value, unit, "zh"), en=format_quantity(value, unit, "en"))
        band = first_band(bands, value)
        if band is None:
            label = Text(
                zh=f"{by.zh} {shown.zh} 不在任何档位", en=f"{by.en} {shown.en} is in no tier"
            )
            return Amount(Decimal(0), [Step(label=label, amount=Decimal(0))])
        tier = Text(
            zh=f"{by.zh} {shown.zh} 属于档位 {band.text(unit, 'zh')}",
            en=f"{by.en} {shown.en} falls in tier {band.text(unit, 'en')}",
        )
        if band.amount is not None:
            return Amount(band.amount, [Step(label=tier, amount=band.amount)])
        assert base is not None and band.rate is not None
        base_value = ctx.get(base.id)
        if isinstance(base_value, Missing):
            return Amount(None, [Step(label=tier)], base_value)
        assert isinstance(base_value, Decimal)
        result = benefit.times(base_value, band.rate)
        label = Text(
            zh=f"{base.zh} {format_money(base_value, 'zh')} × {_pct(band.rate)}",
            en=f"{base.en} {format_money(base_value, 'en')} × {_pct(band.rate)}",
        )
        return Amount(result, [Step(label=tier), Step(label=label, amount=result)])

    return compute
