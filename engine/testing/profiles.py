"""Profile data for property tests: general profiles over a policy set's schema and facts, and
profiles that concentrate on one policy's thresholds (read from its plan), with the scenarios
built from them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ..compile.facts import CERTIFICATE_KINDS, RECORD_KINDS, SEVERITIES, literal_values
from ..compile.plan import (
    CertifiedSource,
    Comparison,
    DateBound,
    Dates,
    FactPlan,
    FactType,
    PointsSource,
    PolicyPlan,
    RecordsSource,
)
from ..model.profile import (
    AMOUNT_LINES,
    IntellectualProperty,
)
from ..model.units import Unit
from ..policyset import PolicySet
from ..reference.conditions import leaf_test
from .inputs import assign, input_paths, stated
from .scenarios import Data, Scenario, delete_path, valid_data

# ---------------------------------------------------------------------------------------------
# Profile data: general


_IP_KINDS = literal_values(IntellectualProperty, "kind")
_ACQUISITIONS = literal_values(IntellectualProperty, "acquisition")
_RATINGS = ["A", "B", "M", "C", "D"]
_INDUSTRIES = ["C3976", "C4210", "C2710", "I6510", "M7320", "A0111", "F5191"]
# Codes for income by industry: manufacturing, the super-deduction's excluded industries, others.
_INCOME_INDUSTRIES = ["C3976", "C1610", "F5191", "H6110", "K7010", "L7211", "R9011", "I6510"]
_SIGNED_LINES = frozenset({"taxable_income", "net_assets"})

money = st.one_of(
    st.integers(0, 50_000).map(lambda wan: Decimal(wan) * 10_000),
    st.integers(0, 10**9).map(Decimal),
    st.integers(0, 10**11).map(lambda cents: Decimal(cents) / 100),
)
"""Amounts in Decimal yuan: round 万元 figures, whole yuan and cents, up to 10亿元."""


def quantities(unit: Unit | None) -> st.SearchStrategy[Decimal]:
    """Exact values of a fact in `unit`."""
    if unit is Unit.YUAN:
        return money
    if unit is Unit.RATIO:
        return st.integers(0, 20_000).map(lambda n: Decimal(n) / 10_000)
    if unit is Unit.POINT:
        return st.integers(0, 100).map(Decimal)
    return st.integers(0, 1_000).map(Decimal)


def dates_around(day: date, years: int = 12) -> st.SearchStrategy[date]:
    return st.dates(day - timedelta(days=366 * years), day + timedelta(days=366))


def _financial_year(lines: frozenset[str] | None = None) -> st.SearchStrategy[Data]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        line: (st.one_of(money, money.map(lambda v: -v)) if line in _SIGNED_LINES else money)
        for line in AMOUNT_LINES
        if lines is None or line in lines
    }
    if lines is None or "income_by_industry" in lines:
        optional["income_by_industry"] = st.dictionaries(
            st.sampled_from(_INCOME_INDUSTRIES), money, max_size=3
        )
    return st.fixed_dictionaries({}, optional=optional)


def _projects(as_of: date) -> st.SearchStrategy[list[Data]]:
    """Projects as a profile lists them: none, one, or several with or without `applying`."""
    months = st.integers(0, 48).map(Decimal)
    project = st.fixed_dictionaries(
        {"name": st.sampled_from(["一期", "二期", "技改"])},
        optional={
            "investment": money,
            "equipment_investment": money,
            "start": dates_around(as_of, 3),
            "applying": st.booleans(),
            "construction_months": months,
            "capacity_tonnes": st.integers(0, 10_000).map(Decimal),
            "industrial": st.booleans(),
            "standard_land": st.booleans(),
        },
    )
    return st.lists(project, max_size=3)


def _certificate_chain(as_of: date) -> st.SearchStrategy[list[Data]]:
    """Certificates of one kind, each issued about three years after the one before (a few
    weeks early to most of a year late), so that chains of recognitions occur."""
    kind = st.sampled_from(["hnte", "hnte", *CERTIFICATE_KINDS])
    gaps = st.lists(st.integers(1095 - 40, 1095 + 300), min_size=1, max_size=3)
    first = dates_around(as_of, 10)
    return st.builds(_chain, kind, first, gaps)


def _chain(kind: str, first: date, gaps: list[int]) -> list[Data]:
    days = [first]
    for gap in gaps:
        days.append(days[-1] + timedelta(days=gap))
    return [{"kind": kind, "issued": day} for day in days]


def _read_by(policy_set: PolicySet, policy_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """The financial lines and the profile facts a policy reads (directly or through formulas)."""
    plan = policy_set.get(policy_id)
    facts = policy_set.plan.facts
    inputs = {path for name in plan.depends_on | plan.reads for path in facts[name].profile_inputs}
    lines = frozenset(p.split(".", 1)[1] for p in inputs if p.startswith("financials."))
    named = frozenset(p.split(".", 1)[1] for p in inputs if p.startswith("facts."))
    return lines, named


@functools.lru_cache(maxsize=16)
def _code_values(policy_set: PolicySet) -> dict[str, list[str]]:
    """Every code a policy compares each code fact with, so generated codes can match."""
    found: dict[str, set[str]] = {}
    facts = policy_set.plan.facts
    for plan in policy_set.policies:
        for leaf, _ in plan.comparisons():
            if facts[leaf.fact].type in (FactType.CODE, FactType.CODES):
                found.setdefault(leaf.fact, set()).update(_flat(leaf.operand, str))
    return {fact: sorted(values) for fact, values in found.items()}


def _extra_fact(defn: FactPlan, codes: list[str], as_of: date) -> st.SearchStrategy[Any]:
    if defn.type is FactType.BOOL:
        return st.booleans()
    if defn.type is FactType.DATE:
        return dates_around(as_of)
    if defn.type is FactType.QUANTITY:
        return quantities(defn.unit).map(lambda value: stated(defn, value))
    pool = st.sampled_from([*codes, "X"])
    return pool if defn.type is FactType.CODE else st.lists(pool, max_size=3, unique=True)


def profile_data(
    policy_set: PolicySet, as_of: date, policy_id: str | None = None
) -> st.SearchStrategy[Data]:
    """Profiles in general, as data: any subset of the schema's fields, each field absent
    (unknown) or with a value of its type; financials for the four years before `as_of`. For
    one policy (`policy_id`), only the financial lines and stated facts it reads are drawn
    (the others cannot change its verdict, and drawing them is most of the cost)."""
    last = as_of.year - 1
    lines, named = _read_by(policy_set, policy_id) if policy_id is not None else (None, None)
    codes = _code_values(policy_set)
    certification = st.fixed_dictionaries(
        {"kind": st.sampled_from(CERTIFICATE_KINDS), "issued": dates_around(as_of, 5)},
        optional={"expires": dates_around(as_of, 3)},
    )
    ip = st.fixed_dictionaries(
        {"kind": st.sampled_from(_IP_KINDS), "count": st.integers(1, 5)},
        optional={
            "acquisition": st.sampled_from(_ACQUISITIONS),
            "main_product": st.booleans(),
            "granted": dates_around(as_of, 3),
        },
    )
    record = st.fixed_dictionaries(
        {
            "occurred": dates_around(as_of, 2),
            "kind": st.sampled_from(RECORD_KINDS),
            "severity": st.sampled_from(SEVERITIES),
        }
    )
    compliance = st.fixed_dictionaries(
        {},
        optional={
            "tax_credit_rating": st.sampled_from(_RATINGS),
            "records": st.lists(record, max_size=3),
            "abnormal_operations_list": st.booleans(),
            "serious_dishonesty_list": st.booleans(),
        },
    )
    extra = {
        defn.profile_fact: _extra_fact(defn, codes.get(defn.id, []), as_of)
        for defn in policy_set.plan.facts.values()
        if defn.profile_fact is not None and (named is None or defn.profile_fact in named)
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "zone": st.sampled_from(sorted(policy_set.zones)),
        "registration_date": dates_around(as_of, 15),
        "industry_code": st.sampled_from(_INDUSTRIES),
        "resident_enterprise": st.booleans(),
        "audit_collection": st.booleans(),
        "restricted_industry": st.booleans(),
        "employees": st.integers(0, 2_000).map(Decimal),
        "tech_staff": st.integers(0, 500).map(Decimal),
        "workforce": st.integers(0, 2_000).map(Decimal),
        "rd_staff": st.integers(0, 500).map(Decimal),
        "financials": st.dictionaries(
            st.integers(last - 3, last), _financial_year(lines), max_size=4
        ),
        "certifications": st.one_of(
            st.lists(certification, max_size=3), _certificate_chain(as_of)
        ),
        "intellectual_property": st.lists(ip, max_size=3),
        "compliance": compliance,
        "projects": _projects(as_of),
        "facts": st.fixed_dictionaries({}, optional=extra),
    }
    return st.fixed_dictionaries({"synthetic": st.just(True)}, optional=optional).map(
        lambda data: valid_data(data)[0]
    )


# ---------------------------------------------------------------------------------------------
# Profile data that concentrates on one policy's thresholds

_EPSILON = {
    Unit.YUAN: Decimal("0.01"),
    Unit.RATIO: Decimal("0.0001"),
    Unit.PERSON: Decimal(1),
    Unit.ITEM: Decimal(1),
    Unit.POINT: Decimal(1),
}
_STEPS = {
    Unit.YUAN: ["1", "100", "10000", "100000", "1000000", "10000000", "100000000"],
    Unit.RATIO: ["0.0001", "0.001", "0.01", "0.05", "0.1", "0.5", "1"],
}
_DAY = timedelta(days=1)


def _epsilon(unit: Unit | None) -> Decimal:
    return _EPSILON.get(unit, Decimal("0.01")) if unit is not None else Decimal("0.01")


def step_size(unit: Unit | None, step: int) -> Decimal:
    """The increase used for monotonicity, by unit: step 0..6 from tiny to large."""
    steps = _STEPS.get(unit, ["1", "2", "5", "10", "50", "100", "1000"])  # type: ignore[arg-type]
    return Decimal(steps[min(max(step, 0), len(steps) - 1)])


def _flat(value: Any, kind: type | tuple[type, ...]) -> list[Any]:
    if isinstance(value, tuple | frozenset | list):
        return [x for item in value for x in _flat(item, kind)]
    return [value] if isinstance(value, kind) else []


Target = tuple[str, Any]
"""A fact and a value to give it: a number, a date, a bool, a code; for certificates and
records also a date (issued / occurred on that day)."""


def targets(policy_set: PolicySet, policy_id: str, as_of: date) -> list[Target]:
    """Values just below, at and above every number the policy compares with or bands by (also
    inside formula facts), dates one day either side of each date bound, relative bounds
    resolved on `as_of`, both truth values, each listed code, and bases that put the amount
    exactly at its cap."""
    plan = policy_set.get(policy_id)
    facts = policy_set.plan.facts
    found: list[Target] = []
    for leaf, _ in plan.comparisons():
        defn = facts[leaf.fact]
        found.extend((leaf.fact, v) for v in _leaf_values(leaf, defn, as_of))
        found.extend(_formula_targets(defn, facts, as_of))
    benefit = plan.benefit
    if benefit.by is not None:
        by = facts[benefit.by]
        found.extend((by.id, v) for band in benefit.bands for v in _band_values(band, by))
    found.extend(_cap_targets(plan))
    for fact in plan.monotone:
        if fact in facts and facts[fact].type is FactType.QUANTITY:
            found.append((fact, Decimal(0)))
    for fact in benefit.reads:
        found.append((fact, Decimal(0)))
    return list(dict.fromkeys((f, v) for f, v in found if f in facts))


def _around(value: Decimal, unit: Unit | None) -> list[Decimal]:
    eps = _epsilon(unit)
    return [value - eps, value, value + eps]


def _band_values(band: Any, by: FactPlan) -> list[Decimal]:
    return [v for _, bound in band.bounds() for v in _around(bound, by.unit)]


def _leaf_values(leaf: Comparison, defn: FactPlan, as_of: date) -> list[Any]:
    operand = leaf.operand
    if defn.type is FactType.QUANTITY:
        return [v for x in _flat(operand, Decimal) for v in _around(x, defn.unit)]
    if defn.type is FactType.DATE:
        days = [bound.resolve(as_of) for bound in _flat(operand, DateBound)]
        if leaf.op == "within":
            days.append(as_of)
        # a bound may sit at the calendar's edge (`-3000年` resolves to 0001-01-01)
        return [
            d + delta
            for d in days
            for delta in (-_DAY, timedelta(0), _DAY)
            if date.min + _DAY <= d <= date.max - _DAY or not delta
        ]
    if defn.type is FactType.BOOL:
        return [True, False]
    codes = _flat(operand, str)
    if defn.type is FactType.CODES:  # tuples: targets are hashable
        return [(code,) for code in codes] + [()]
    return codes


def _formula_targets(defn: FactPlan, facts: Mapping[str, FactPlan], as_of: date) -> list[Target]:
    """Thresholds hidden in formula facts: certificate validity, record periods, point bands."""
    found: list[Target] = []
    source = defn.source
    if isinstance(source, CertifiedSource) and source.validity is not None:
        edge = source.validity.before(as_of)
        found += [(defn.id, edge + delta) for delta in (-_DAY, timedelta(0), _DAY)]
    if isinstance(source, RecordsSource):
        edge = source.within.before(as_of)
        found += [(defn.id, edge + delta) for delta in (timedelta(0), _DAY)] + [(defn.id, as_of)]
    if isinstance(source, PointsSource):
        by = facts[source.by]
        found += [(by.id, v) for band in source.bands for v in _band_values(band, by)]
    for dep in defn.inputs:
        found += _formula_targets(facts[dep], facts, as_of)
    return found


def _cap_targets(plan: PolicyPlan) -> list[Target]:
    """Bases that put a rated amount exactly at its cap, and a cent either side."""
    benefit, cap = plan.benefit, plan.benefit.cap
    if cap is None or benefit.base is None or benefit.factor is None or not benefit.factor.value:
        return []
    step = Decimal("0.01")  # a base in cents, as a register holds it
    at_cap = (cap / benefit.factor.value).quantize(step)
    return [(benefit.base, v) for v in (at_cap - step, at_cap, at_cap + step)]


def evaluation_dates(plan: PolicyPlan | None = None) -> st.SearchStrategy[date]:
    """Evaluation dates: the day before, on and after each edge of the effective period (for a
    tax-year preference, evaluated by default for the year before the date: the first and last
    day of the year after the tax year each edge falls in, and of the year after that), dates
    inside it, and any date from 2010 to 2035."""
    edges: list[date] = []
    if plan is not None:
        for edge in (plan.effective.start, plan.effective.until):
            if edge is None:
                continue
            edges += [edge - _DAY, edge, edge + _DAY]
            if plan.attaches == "tax_year":
                edges += [date(y, m, d) for y in (edge.year + 1, edge.year + 2)
                          for m, d in ((1, 1), (12, 31)) if y <= 2200]  # fmt: skip
    low, high = date(2010, 1, 1), date(2035, 12, 31)
    anywhere = st.dates(low, high)
    if plan is None or not edges:
        return anywhere
    start, until = plan.effective.start or low, plan.effective.until or high
    inside = st.dates(min(max(start, low), high), max(min(until, high), low))
    return st.one_of(st.sampled_from(edges), inside, inside, anywhere)


@st.composite
def threshold_profile_data(
    draw: st.DrawFn, policy_set: PolicySet, policy_id: str, as_of: date
) -> Data:
    """A general profile, then most of the policy's criteria pushed to a value just at, below
    or above their threshold (mostly on the passing side, exclusions mostly not applying, so
    that every verdict occurs), further targets (tier bounds, caps, formula edges) hit, and
    some of the inputs the policy reads removed (made unknown)."""
    data = draw(profile_data(policy_set, as_of, policy_id))
    plan = policy_set.get(policy_id)
    facts = policy_set.plan.facts
    basis = Dates.of(as_of).basis(plan.attaches)  # a tax-year preference's facts: its year's
    pushed: list[Target] = []
    for leaf, excluding in plan.comparisons():
        defn = facts[leaf.fact]
        values = _leaf_values(leaf, defn, basis.on)
        wanted = [v for v in values if _holds(leaf, defn, v, basis.on) is not excluding]
        mode = draw(st.sampled_from(["want", "want", "want", "any", "skip"]))
        pool = wanted if mode == "want" and wanted else values
        if pool and mode != "skip":
            pushed.append((leaf.fact, draw(st.sampled_from(pool))))
    found = targets(policy_set, policy_id, basis.on)
    # The criteria in any order, then the further targets, which no criterion then overrides.
    extra = draw(st.lists(st.sampled_from(found), max_size=min(len(found), 4))) if found else []
    for fact, value in [*draw(st.permutations(pushed)), *extra]:
        assign(data, facts[fact], value, facts, basis, draw(st.integers(1, 10**6)))
    inputs = sorted(input_paths(plan, facts, as_of), key=str)
    if inputs:
        for path in draw(st.lists(st.sampled_from(inputs), max_size=2, unique=True)):
            delete_path(data, [str(step) for step in path])
    if data.get("zone") not in policy_set.zones:  # a code pushed onto the zone, a prefix say
        data.pop("zone", None)
    return valid_data(data)[0]


def _holds(leaf: Comparison, defn: FactPlan, value: Any, as_of: date) -> bool:
    """Whether a value passes a criterion: the reference's own test of a known value (a
    generator choosing values, not an oracle)."""
    known = frozenset(value) if isinstance(value, list | tuple) else value
    return bool(leaf_test(leaf, defn)(known, as_of))


def scenarios(
    policy_set: PolicySet, policy_id: str | None = None, as_of: date | None = None
) -> st.SearchStrategy[Scenario]:
    """Scenarios for one policy (threshold-concentrated profiles, dates at its effective-period
    edges) or, without `policy_id`, for the whole set (general profiles)."""
    plan = None if policy_id is None else policy_set.get(policy_id)
    days = st.just(as_of) if as_of is not None else evaluation_dates(plan)

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        day = draw(days)
        if policy_id is None:
            data = draw(profile_data(policy_set, day))
        else:
            data = draw(threshold_profile_data(policy_set, policy_id, day))
        filler = draw(profile_data(policy_set, day, policy_id))
        return Scenario(data=data, as_of=day, filler=filler, step=draw(st.integers(0, 6)))

    return build()
