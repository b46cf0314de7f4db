"""What a policy can pay, read statically from its plan: over the enterprises its condition
admits, the least and the most it pays, where a banded benefit pays nothing, where a higher
band pays less than the band below, and where a condition caps a fact declared `monotone`.

"Admitted" is what every route of the condition requires of one fact (the bounds written at
the top of the condition, together with the fact's own range): an `any` decides nothing here,
so the findings below are certain for the enterprises the condition admits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..compile.plan import Band, BenefitPlan, Comparison, FactPlan, Node, PolicyPlan, first_band
from ..model.units import Unit
from .logic import Range, conjuncts, natural_range, positive

WHOLE = (Unit.PERSON, Unit.ITEM)  # counted one by one: no value lies between 2 and 3
_STEP = Decimal("0.000001")  # "just beside" a bound of a continuous quantity


def required(plan: PolicyPlan) -> Iterator[Comparison]:
    """The leaves every route of the condition requires (exclusions aside)."""
    for criterion in plan.criteria:
        if criterion.exclusion:
            continue
        node: Node = positive(criterion.node)
        if isinstance(node, Comparison):
            yield node
        elif node.kind == "all":
            yield from conjuncts(node)


def admitted(plan: PolicyPlan, fact: FactPlan, facts: Mapping[str, FactPlan]) -> Range:
    """The values of a quantity fact the condition admits (its own range included)."""
    rng = Range()
    low, high = natural_range(fact, facts)
    if low is not None:
        rng.add("ge", low)
    if high is not None:
        rng.add("le", high)
    for leaf in required(plan):
        if leaf.fact == fact.id and isinstance(_first(leaf.operand), Decimal):
            rng.add(leaf.op, leaf.operand)
    return rng


def bounded(plan: PolicyPlan, fact: str) -> bool:
    """Whether the condition says anything at all about `fact`."""
    return any(leaf.fact == fact for leaf, exclusion in plan.comparisons() if not exclusion)


def _first(operand: object) -> object:
    return operand[0] if isinstance(operand, tuple) and operand else operand


def probes(bounds: list[Decimal], unit: Unit | None) -> list[Decimal]:
    """Values that tell apart every region the bounds delimit: each bound, a value just below and
    just above it, and one between each pair (whole numbers for counts)."""
    if not bounds:
        return [Decimal(0)]
    step = Decimal(1) if unit in WHOLE else _STEP
    values = {v for b in bounds for v in (b - step, b, b + step)}
    ordered = sorted(set(bounds))
    values |= {(a + b) / 2 for a, b in itertools.pairwise(ordered)}
    if unit in WHOLE:
        values = {v for v in values if v == v.to_integral_value()}
    return sorted(values)


def within(rng: Range, value: Decimal) -> bool:
    probe = Range(rng.low, rng.low_in, rng.high, rng.high_in)
    probe.add("eq", value)
    return not probe.empty()


# --- what one band pays ----------------------------------------------------------------------


def band_pays(benefit: BenefitPlan, band: Band | None, value: Decimal) -> Decimal | None:
    """What `band` pays at `value` of the banded fact, for comparison between bands: its
    amount, or its rate times the value when the base is the banded fact (a rate alone when it
    is another fact: a higher rate then pays more for the same base). None: no band."""
    if band is None:
        return None
    if band.amount is not None:
        return band.amount
    rate = band.rate or Decimal(0)
    return rate * value if benefit.base == benefit.by else rate


@dataclass(frozen=True)
class Fall:
    """At `value` the band `higher` (at or above it) pays less than `lower` pays just below."""

    value: Decimal
    lower: int
    higher: int
    before: Decimal
    after: Decimal


def falls(benefit: BenefitPlan, unit: Unit | None, rng: Range) -> list[Fall]:
    """Each bound where moving up into the next band lowers what the benefit pays."""
    bands = benefit.bands
    step = Decimal(1) if unit in WHOLE else _STEP
    bounds = sorted({b for band in bands for b in (band.low, band.high) if b is not None})
    found = []
    for bound in bounds:
        for below, above in ((bound - step, bound), (bound, bound + step)):
            if not (within(rng, below) and within(rng, above)):
                continue
            left, right = first_band(bands, below), first_band(bands, above)
            before, after = band_pays(benefit, left, above), band_pays(benefit, right, above)
            if left is None or right is None or left is right or before is None or after is None:
                continue
            if after < before:
                found.append(Fall(above, bands.index(left), bands.index(right), before, after))
    return found


def admitted_probes(bands: tuple[Band, ...], unit: Unit | None, rng: Range) -> list[Decimal]:
    """The probes of the bands' bounds and the range's own that the range admits."""
    bounds = sorted({b for band in bands for b in (band.low, band.high) if b is not None})
    edges = [v for v in (rng.low, rng.high) if isinstance(v, Decimal)]
    return [v for v in probes(bounds + edges, unit) if within(rng, v)]


def unpaid(benefit: BenefitPlan, unit: Unit | None, rng: Range) -> list[Decimal]:
    """Admitted values of the banded fact, below the lowest band or above the highest, that no
    band holds (values between bands are tier gaps, reported as such)."""
    bands = benefit.bands
    values = admitted_probes(bands, unit, rng)
    covered = [first_band(bands, v) is not None for v in values]
    if not any(covered):
        return values
    first = covered.index(True)
    last = len(covered) - 1 - covered[::-1].index(True)
    return [v for i, v in enumerate(values) if not covered[i] and (i < first or i > last)]


def nearest_band(bands: tuple[Band, ...], value: Decimal) -> int:
    """The index of the band that starts lowest when `value` lies below every band, else of the
    band that ends highest."""
    far = Decimal("Infinity")
    lows = [b.low if b.low is not None else -far for b in bands]
    lowest = lows.index(min(lows))
    if value < lows[lowest]:
        return lowest
    highs = [b.high if b.high is not None else far for b in bands]
    return highs.index(max(highs))


# --- least and most paid ---------------------------------------------------------------------


def paid_range(
    plan: PolicyPlan, facts: Mapping[str, FactPlan]
) -> tuple[Decimal | None, Decimal | None]:
    """The least and the most the benefit pays an admitted enterprise, before the cap
    (None: no bound known)."""
    benefit = plan.benefit
    if benefit.fixed is not None:
        return benefit.fixed, benefit.fixed
    if benefit.kind == "tiers" and benefit.by is not None:
        return _tier_range(plan, benefit, facts)
    if benefit.base is None or benefit.factor is None or benefit.factor.unit is not Unit.RATIO:
        return None, None
    rng = admitted(plan, facts[benefit.base], facts)
    factor = benefit.factor.value
    low = benefit.times(rng.low, factor) if isinstance(rng.low, Decimal) else None
    high = benefit.times(rng.high, factor) if isinstance(rng.high, Decimal) else None
    return low, high


def _tier_range(
    plan: PolicyPlan, benefit: BenefitPlan, facts: Mapping[str, FactPlan]
) -> tuple[Decimal | None, Decimal | None]:
    if benefit.by is None or any(b.amount is None for b in benefit.bands):
        return None, None  # rate bands: what they pay depends on the base as well
    by = facts[benefit.by]
    held = [first_band(benefit.bands, v)
            for v in admitted_probes(benefit.bands, by.unit, admitted(plan, by, facts))]  # fmt: skip
    paid = [band.amount or Decimal(0) if band else Decimal(0) for band in held]
    return (min(paid), max(paid)) if paid else (None, None)


# --- monotone facts capped by the condition --------------------------------------------------


def capping(plan: PolicyPlan) -> Iterator[Comparison]:
    """Leaves every route requires that set an upper bound on a fact declared monotone: more of
    that fact would end the eligibility."""
    for leaf in required(plan):
        if leaf.fact in plan.monotone and leaf.op in ("le", "lt", "between"):
            yield leaf


__all__ = [
    "WHOLE",
    "Fall",
    "admitted",
    "band_pays",
    "bounded",
    "capping",
    "falls",
    "nearest_band",
    "paid_range",
    "probes",
    "required",
    "unpaid",
    "within",
]
