"""Property testing of rule sets: hypothesis strategies derived from the schemas, and the
built-in invariants every policy must satisfy.

Needs the `testing` extra (`pip install 'incentives[testing]'`); nothing else in `engine`
imports this module. A pytest user checks a rule set in a few lines:

    from hypothesis import given
    from incentives import PolicySet
    from incentives.engine.testing import check_all, scenarios

    POLICIES = PolicySet("my/policies")

    @given(scenarios(POLICIES, "my.zone.policy-id"))
    def test_my_policy(scenario):
        check_all(POLICIES, "my.zone.policy-id", scenario)

A *scenario* is a profile (as data, the way `incentives check` reads it), an evaluation date,
a second random profile used to fill in unknown facts (soundness), and a step size (monotonicity).
Every invariant is a plain function `check_x(policy_set, policy_id, scenario)` that raises
`InvariantFailure`; `INVARIANTS` maps their names to them.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias, get_args

import yaml
from hypothesis import strategies as st

from ..compile.conditions import CLeaf, DateBound, leaves
from ..errors import ProfileError
from ..model.facts import FactDef, FactType, dependencies
from ..model.profile import (
    CLASS_I_KINDS,
    CLASS_II_KINDS,
    Certification,
    ComplianceRecord,
    FinancialYear,
    IntellectualProperty,
    Profile,
    parse_profile,
)
from ..model.units import Unit, parse_quantity, shift_date
from ..model.yamlio import load_yaml
from ..model.zones import NATIONAL, Zones
from ..policyset import PolicySet
from ..reference.context import Context
from ..reference.evaluate import CompiledPolicy
from ..reference.results import PolicyResult, Report, Status, Trace

Data = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Scenarios and failures


@dataclass(frozen=True)
class Scenario:
    """One generated case: the profile as data, the evaluation date, a filler profile whose
    values fill in what the profile leaves unknown, and a step size for monotonicity."""

    data: Data
    as_of: date
    filler: Data
    step: int = 0

    @property
    def profile(self) -> Profile:
        return parse_profile(self.data)


class InvariantFailure(AssertionError):
    """A broken invariant, with the policy and the profile that shows it."""

    def __init__(self, invariant: str, policy_id: str, message: str) -> None:
        super().__init__(f"{invariant} [{policy_id}]: {message}")
        self.invariant = invariant
        self.policy_id = policy_id
        self.message = message
        self.during = invariant  # for `no-crash`: the invariant being checked


def profile_yaml(data: Data, comment: str = "") -> str:
    """The profile as YAML that `incentives check` accepts (amounts exact, dates as dates)."""
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + yaml.dump(
        _plain(data), Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False
    )


class _Dumper(yaml.SafeDumper):
    pass


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value.normalize(), "f"))


_Dumper.add_representer(Decimal, _represent_decimal)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [_plain(v) for v in items]
    return value


# ---------------------------------------------------------------------------------------------
# Profile data: general


def _literals(model: Any, name: str) -> list[str]:
    annotation = model.model_fields[name].annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    while len(args) == 1 and get_args(args[0]):
        args = list(get_args(args[0]))
    return [a for a in args if isinstance(a, str)]


_CERT_KINDS = _literals(Certification, "kind")
_IP_KINDS = _literals(IntellectualProperty, "kind")
_ACQUISITIONS = _literals(IntellectualProperty, "acquisition")
_RECORD_KINDS = _literals(ComplianceRecord, "kind")
_SEVERITIES = _literals(ComplianceRecord, "severity")
_RATINGS = ["A", "B", "M", "C", "D"]
_INDUSTRIES = ["C3976", "C4210", "C2710", "I6510", "M7320", "A0111", "F5191"]
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


def _financial_year() -> st.SearchStrategy[Data]:
    optional = {
        line: (st.one_of(money, money.map(lambda v: -v)) if line in _SIGNED_LINES else money)
        for line in FinancialYear.model_fields
    }
    return st.fixed_dictionaries({}, optional=optional)


@functools.lru_cache(maxsize=16)
def _code_values(policy_set: PolicySet) -> dict[str, list[str]]:
    """Every code a policy compares each code fact with, so generated codes can match."""
    found: dict[str, set[str]] = {}
    for cp in policy_set.policies:
        for leaf in _policy_leaves(cp):
            if leaf.fact_def.type in (FactType.CODE, FactType.CODES):
                found.setdefault(leaf.fact_def.id, set()).update(_flat(leaf.operand, str))
    return {fact: sorted(values) for fact, values in found.items()}


def _extra_fact(defn: FactDef, codes: list[str], as_of: date) -> st.SearchStrategy[Any]:
    if defn.type is FactType.BOOL:
        return st.booleans()
    if defn.type is FactType.DATE:
        return dates_around(as_of)
    if defn.type is FactType.QUANTITY:
        return quantities(defn.unit)
    pool = st.sampled_from([*codes, "X"])
    return pool if defn.type is FactType.CODE else st.lists(pool, max_size=3, unique=True)


def profile_data(policy_set: PolicySet, as_of: date) -> st.SearchStrategy[Data]:
    """Profiles in general, as data: any subset of the schema's fields, each field absent
    (unknown) or with a value of its type; financials for the four years before `as_of`."""
    last = as_of.year - 1
    codes = _code_values(policy_set)
    certification = st.fixed_dictionaries(
        {"kind": st.sampled_from(_CERT_KINDS), "issued": dates_around(as_of, 5)}
    )
    ip = st.fixed_dictionaries(
        {"kind": st.sampled_from(_IP_KINDS), "count": st.integers(1, 5)},
        optional={
            "acquisition": st.sampled_from(_ACQUISITIONS),
            "main_product": st.booleans(),
        },
    )
    record = st.fixed_dictionaries(
        {
            "occurred": dates_around(as_of, 2),
            "kind": st.sampled_from(_RECORD_KINDS),
            "severity": st.sampled_from(_SEVERITIES),
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
        for defn in policy_set.facts.values()
        if defn.profile_fact is not None
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
        "financials": st.dictionaries(st.integers(last - 3, last), _financial_year(), max_size=4),
        "certifications": st.lists(certification, max_size=3),
        "intellectual_property": st.lists(ip, max_size=3),
        "compliance": compliance,
        "facts": st.fixed_dictionaries({}, optional=extra),
    }
    return st.fixed_dictionaries({"synthetic": st.just(True)}, optional=optional).map(
        lambda data: valid_data(data)[0]
    )


def valid_data(data: Data) -> tuple[Data, Profile]:
    """The data with every field the profile schema refuses removed (it becomes unknown)."""
    data = copy.deepcopy(data)
    for _ in range(8):
        try:
            return data, parse_profile(data)
        except ProfileError as exc:
            fields = [p.field for p in exc.problems if p.field and p.field != "(profile)"]
            if not fields:
                raise
            for name in fields:
                _delete(data, name.split("."))
    return data, parse_profile(data)


def _delete(data: Data, steps: list[str]) -> None:
    node: Any = data
    parent: Any = None
    key: Any = None
    for step in steps:
        found = _child_key(node, step)
        if found is None:
            break
        parent, key, node = node, found, node[found]
    if parent is not None:
        del parent[key]


def _child_key(node: Any, step: str) -> Any:
    if isinstance(node, dict):
        for key in (step, int(step) if step.lstrip("-").isdigit() else None):
            if key is not None and key in node:
                return key
    if isinstance(node, list) and step.isdigit() and int(step) < len(node):
        return int(step)
    return None


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


def _policy_leaves(cp: CompiledPolicy) -> list[CLeaf]:
    roots = ([cp.when] if cp.when is not None else []) + list(cp.unless)
    return [leaf for root in roots for leaf in leaves(root)]


Target = tuple[str, Any]
"""A fact and a value to give it: a number, a date, a bool, a code; for certificates and
records also a date (issued / occurred on that day)."""


def targets(policy_set: PolicySet, policy_id: str, as_of: date) -> list[Target]:
    """Values just below, at and above every number the policy compares with or bands by (also
    inside formula facts), dates one day either side of each date bound, relative bounds
    resolved on `as_of`, both truth values, each listed code, and bases that put the amount
    exactly at its cap."""
    cp = policy_set.get(policy_id)
    facts = policy_set.facts
    found: list[Target] = []
    for leaf in _policy_leaves(cp):
        found.extend((leaf.fact_def.id, v) for v in _leaf_values(leaf, as_of))
        found.extend(_formula_targets(leaf.fact_def, facts, as_of))
    benefit = cp.policy.benefit
    if benefit.tiers is not None and benefit.tiers.by in facts:
        by = facts[benefit.tiers.by]
        for band in benefit.tiers.bands:
            for raw in (band.ge, band.gt, band.le, band.lt):
                if raw is not None:
                    found.extend((by.id, v) for v in _around(parse_quantity(raw).value, by.unit))
    found.extend(_cap_targets(cp))
    for fact in cp.policy.monotone:
        if fact in facts and facts[fact].type is FactType.QUANTITY:
            found.append((fact, Decimal(0)))
    for fact in cp.benefit.facts:
        found.append((fact, Decimal(0)))
    return list(dict.fromkeys((f, v) for f, v in found if f in facts))


def _around(value: Decimal, unit: Unit | None) -> list[Decimal]:
    eps = _epsilon(unit)
    return [value - eps, value, value + eps]


def _leaf_values(leaf: CLeaf, as_of: date) -> list[Any]:
    defn = leaf.fact_def
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
    if defn.type is FactType.CODES:
        return [[code] for code in codes] + [[]]
    return codes


def _formula_targets(defn: FactDef, facts: Mapping[str, FactDef], as_of: date) -> list[Target]:
    """Thresholds hidden in formula facts: certificate validity, record periods, point bands."""
    found: list[Target] = []
    if defn.certified is not None and defn.certified.validity is not None:
        amount, unit = _duration(defn.certified.validity)
        edge = shift_date(as_of, -amount, unit)
        found += [(defn.id, edge + delta) for delta in (-_DAY, timedelta(0), _DAY)]
    if defn.records is not None:
        amount, unit = _duration(defn.records.within)
        edge = shift_date(as_of, -amount, unit)
        found += [(defn.id, edge + delta) for delta in (timedelta(0), _DAY)] + [(defn.id, as_of)]
    points = getattr(defn, "points", None)  # a formula kind some catalogues declare
    if points is not None and points.by in facts:
        by = facts[points.by]
        for band in points.bands:
            for raw in (band.ge, band.gt, band.le, band.lt):
                if raw is not None:
                    found += [(by.id, v) for v in _around(parse_quantity(raw).value, by.unit)]
    for dep in dependencies(defn):
        if dep in facts:
            found += _formula_targets(facts[dep], facts, as_of)
    return found


def _duration(text: str) -> tuple[int, Unit]:
    quantity = parse_quantity(text)
    return int(quantity.value), quantity.unit


def _cap_targets(cp: CompiledPolicy) -> list[Target]:
    benefit, cap = cp.policy.benefit, cp.benefit.cap
    if cap is None:
        return []
    spec: Any = benefit.rate_of or benefit.deduction or benefit.per_unit
    base = None if spec is None else getattr(spec, "base", None) or getattr(spec, "quantity", None)
    rate = None if spec is None else parse_quantity(spec.rate).value
    if benefit.tax_rate is not None:
        base = benefit.tax_rate.base
        rate = (
            parse_quantity(benefit.tax_rate.standard).value
            - parse_quantity(benefit.tax_rate.rate).value
        )
    if base is None or not rate:
        return []
    at_cap = cap / rate
    return [(base, v) for v in (at_cap - Decimal("0.01"), at_cap, at_cap + Decimal("0.01"))]


def evaluation_dates(cp: CompiledPolicy | None = None) -> st.SearchStrategy[date]:
    """Evaluation dates: the day before, on and after each edge of the effective period, dates
    inside it, and any date from 2010 to 2035."""
    edges: list[date] = []
    if cp is not None:
        for edge in (cp.effective.start, cp.effective.until):
            if edge is not None:
                edges += [edge - _DAY, edge, edge + _DAY]
    low, high = date(2010, 1, 1), date(2035, 12, 31)
    anywhere = st.dates(low, high)
    if cp is None or not edges:
        return anywhere
    start, until = cp.effective.start or low, cp.effective.until or high
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
    data = draw(profile_data(policy_set, as_of))
    cp = policy_set.get(policy_id)
    facts = policy_set.facts
    plan: list[Target] = []
    roots = [(cp.when, True)] if cp.when is not None else []
    roots += [(node, False) for node in cp.unless]
    for root, want in roots:
        for leaf in leaves(root):
            values = _leaf_values(leaf, as_of)
            wanted = [v for v in values if _holds(leaf, v, as_of) is want]
            mode = draw(st.sampled_from(["want", "want", "want", "any", "skip"]))
            pool = wanted if mode == "want" and wanted else values
            if pool and mode != "skip":
                plan.append((leaf.fact_def.id, draw(st.sampled_from(pool))))
    found = targets(policy_set, policy_id, as_of)
    if found:
        plan += draw(st.lists(st.sampled_from(found), max_size=min(len(found), 4)))
    for fact, value in draw(st.permutations(plan)):
        assign(data, facts[fact], value, facts, as_of, draw(st.integers(1, 10**6)))
    inputs = sorted(_input_paths(cp, facts, as_of), key=str)
    if inputs:
        for path in draw(st.lists(st.sampled_from(inputs), max_size=2, unique=True)):
            _delete(data, [str(step) for step in path])
    return valid_data(data)[0]


def _holds(leaf: CLeaf, value: Any, as_of: date) -> bool:
    return bool(leaf.test(frozenset(value) if isinstance(value, list) else value, as_of))


def scenarios(
    policy_set: PolicySet, policy_id: str | None = None, as_of: date | None = None
) -> st.SearchStrategy[Scenario]:
    """Scenarios for one policy (threshold-concentrated profiles, dates at its effective-period
    edges) or, without `policy_id`, for the whole set (general profiles)."""
    cp = None if policy_id is None else policy_set.get(policy_id)
    days = st.just(as_of) if as_of is not None else evaluation_dates(cp)

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        day = draw(days)
        if policy_id is None:
            data = draw(profile_data(policy_set, day))
        else:
            data = draw(threshold_profile_data(policy_set, policy_id, day))
        filler = draw(profile_data(policy_set, day))
        return Scenario(data=data, as_of=day, filler=filler, step=draw(st.integers(0, 6)))

    return build()


# ---------------------------------------------------------------------------------------------
# Giving a fact a value through the profile inputs it is computed from


def _set(data: Data, path: Iterable[str | int], value: Any) -> None:
    steps = list(path)
    node: dict[Any, Any] = data
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child
    node[steps[-1]] = value


def _positive(defn: FactDef, helper: int) -> Decimal:
    if defn.unit is Unit.YUAN:
        return Decimal(helper) * 100
    if defn.unit is Unit.RATIO:
        return Decimal(helper % 10_000 + 1) / 1_000
    return Decimal(helper % 1_000 + 1)


def assign(
    data: Data,
    defn: FactDef,
    value: Any,
    facts: Mapping[str, FactDef],
    as_of: date,
    helper: int = 1,
) -> None:
    """Change the profile data so that fact `defn` takes `value` on `as_of` (as far as its
    formula allows; `helper` picks free choices such as a ratio's denominator)."""
    last = as_of.year - 1
    kind = defn.source_kind
    if kind == "field" and defn.field is not None:
        _set(data, defn.field.split("."), value)
    elif kind == "financial" and defn.financial is not None:
        _set(data, ("financials", last - defn.year, defn.financial), value)
    elif kind == "profile_fact" and defn.profile_fact is not None:
        _set(
            data, ("facts", defn.profile_fact), sorted(value) if isinstance(value, list) else value
        )
    elif kind == "sum_years" and defn.sum_years is not None and isinstance(value, Decimal):
        for back in range(defn.sum_years.years):
            share = value if back == 0 else Decimal(0)
            _set(data, ("financials", last - back, defn.sum_years.financial), share)
    elif kind == "ratio" and defn.ratio is not None and isinstance(value, Decimal):
        top, bottom = (facts.get(name) for name in defn.ratio)
        if top is not None and bottom is not None:
            denominator = _positive(bottom, helper)
            assign(data, bottom, denominator, facts, as_of, helper)
            assign(data, top, value * denominator, facts, as_of, helper)
    elif kind == "growth" and defn.growth is not None and isinstance(value, Decimal):
        previous = Decimal(helper) * 100
        _set(data, ("financials", last - 1, defn.growth.financial), previous)
        _set(data, ("financials", last, defn.growth.financial), previous * (1 + value))
    elif kind == "ip_count" and defn.ip_count is not None and isinstance(value, Decimal):
        _assign_ip(data, defn, value)
    elif kind == "records" and defn.records is not None:
        spec = defn.records
        day = value if isinstance(value, date) else as_of
        count = 1 if isinstance(value, date) else int(max(min(value, 5), 0))
        record = {"occurred": day, "kind": spec.kinds[0], "severity": spec.severities[0]}
        _set(data, ("compliance", "records"), [dict(record) for _ in range(count)])
    elif kind == "certified" and defn.certified is not None:
        if isinstance(value, date):
            data["certifications"] = [{"kind": defn.certified.kind, "issued": value}]
        elif value is True:
            data["certifications"] = [{"kind": defn.certified.kind, "issued": as_of - _DAY}]
        elif value is False:
            data["certifications"] = []
    else:
        parts = getattr(defn, "sum_of", None) or getattr(defn, "max_of", None)
        if parts and isinstance(value, Decimal):
            for index, part in enumerate(parts):
                share = value if index == 0 or kind == "max_of" else Decimal(0)
                if part in facts:
                    assign(data, facts[part], share, facts, as_of, helper)


def _assign_ip(data: Data, defn: FactDef, value: Decimal) -> None:
    spec = defn.ip_count
    assert spec is not None
    if value < 0 or value != int(value):
        return
    kinds = sorted(CLASS_I_KINDS if "I" in spec.classes else CLASS_II_KINDS)
    item: Data = {"kind": kinds[0], "count": int(value)}
    if spec.acquisition is not None:
        item["acquisition"] = spec.acquisition[0]
    if spec.main_product is not None:
        item["main_product"] = spec.main_product
    data["intellectual_property"] = [item] if value > 0 else []


def _input_paths(
    cp: CompiledPolicy, facts: Mapping[str, FactDef], as_of: date
) -> set[tuple[str | int, ...]]:
    """The profile fields a policy reads (to remove some and make them unknown)."""
    names = {leaf.fact_def.id for leaf in _policy_leaves(cp)} | set(cp.benefit.facts)
    paths: set[tuple[str | int, ...]] = set()
    last = as_of.year - 1
    seen: set[str] = set()
    while names:
        name = names.pop()
        if name in seen or name not in facts:
            continue
        seen.add(name)
        defn = facts[name]
        names.update(dependencies(defn))
        names.update(getattr(defn, "sum_of", None) or getattr(defn, "max_of", None) or ())
        if defn.field is not None:
            paths.add(tuple(defn.field.split(".")))
        elif defn.financial is not None:
            paths.add(("financials", last - defn.year, defn.financial))
        elif defn.profile_fact is not None:
            paths.add(("facts", defn.profile_fact))
        elif defn.sum_years is not None:
            paths.add(("financials", last, defn.sum_years.financial))
        elif defn.growth is not None:
            paths.add(("financials", last - 1, defn.growth.financial))
        elif defn.ip_count is not None:
            paths.add(("intellectual_property",))
        elif defn.certified is not None:
            paths.add(("certifications",))
        elif defn.records is not None:
            paths.add(("compliance", "records"))
    return paths


def _bump(
    data: Data, defn: FactDef, delta: Decimal, ctx: Context, facts: Mapping[str, FactDef]
) -> bool:
    """Increase fact `defn` by about `delta` through its inputs; False if it cannot be done."""
    last = ctx.as_of.year - 1
    current = ctx.get(defn.id)
    if not isinstance(current, Decimal):
        return False
    kind = defn.source_kind
    if kind == "field" and defn.field is not None:
        _set(data, defn.field.split("."), current + delta)
    elif kind == "financial" and defn.financial is not None:
        _set(data, ("financials", last - defn.year, defn.financial), current + delta)
    elif kind == "profile_fact" and defn.profile_fact is not None:
        _set(data, ("facts", defn.profile_fact), current + delta)
    elif kind == "sum_years" and defn.sum_years is not None:
        line = defn.sum_years.financial
        year = data.get("financials", {}).get(last, {})
        if not isinstance(year.get(line), Decimal | int):
            return False
        _set(data, ("financials", last, line), Decimal(year[line]) + delta)
    elif kind == "ratio" and defn.ratio is not None:
        bottom = ctx.get(defn.ratio[1])
        if not isinstance(bottom, Decimal) or bottom <= 0:
            return False
        return _bump(data, facts[defn.ratio[0]], delta * bottom, ctx, facts)
    elif kind == "growth" and defn.growth is not None:
        line = defn.growth.financial
        previous, now = (data.get("financials", {}).get(y, {}).get(line) for y in (last - 1, last))
        if previous is None or now is None:
            return False
        _set(data, ("financials", last, line), Decimal(now) + delta * Decimal(previous))
    elif kind == "ip_count" and defn.ip_count is not None:
        extra: Data = {}
        _assign_ip(extra, defn, max(Decimal(int(delta)), Decimal(1)))
        data["intellectual_property"] = [*data.get("intellectual_property", []), *extra.get(
            "intellectual_property", [])]  # fmt: skip
    elif getattr(defn, "sum_of", None) or getattr(defn, "max_of", None):
        parts = getattr(defn, "sum_of", None) or []
        chosen = parts[:1] if parts else list(getattr(defn, "max_of", None) or [])
        return all(_bump(data, facts[p], delta, ctx, facts) for p in chosen if p in facts)
    else:
        return False
    return True


def fill_in(data: Data, filler: Data) -> Data:
    """`data` with every field it lacks taken from `filler` (what is known stays). A filled-in
    registration date is kept consistent with the profile: not after its first fiscal year
    with figures (a firm has no accounts for years before it existed)."""
    merged = _merge(data, filler)
    years = [y for y, line in (data.get("financials") or {}).items() if line]
    if "registration_date" not in data and "registration_date" in merged and years:
        merged["registration_date"] = min(merged["registration_date"], date(min(years), 1, 1))
    return merged


def _merge(data: Data, filler: Data) -> Data:
    merged = copy.deepcopy(data)
    for key, value in filler.items():
        if key not in merged:
            merged[key] = copy.deepcopy(value)
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
    return merged


# ---------------------------------------------------------------------------------------------
# Invariants


def _result(report: Report, policy_id: str) -> PolicyResult:
    return next(r for r in report.results if r.policy_id == policy_id)


def _evaluate(
    policy_set: PolicySet, data: Data, as_of: date, explain: bool = False, gaps: bool = False
) -> Report:
    return policy_set.evaluate(parse_profile(data), as_of, explain=explain, gaps=gaps)


def check_determinism(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """Same inputs, same date → same report; and a policy evaluated alone gets the verdict and
    amount (before stacking) it gets among the whole set."""
    first = _evaluate(policy_set, scenario.data, scenario.as_of, explain=True, gaps=True)
    second = _evaluate(
        policy_set, copy.deepcopy(scenario.data), scenario.as_of, explain=True, gaps=True
    )
    if first.to_json_dict() != second.to_json_dict():
        raise InvariantFailure("determinism", policy_id, "two evaluations gave different reports")
    alone = policy_set.evaluate(
        scenario.profile, scenario.as_of, policy_ids=[policy_id], gaps=False
    )
    a, b = alone.results[0], _result(first, policy_id)
    if (a.status, a.amount_alone, a.missing, a.review) != (
        b.status,
        b.amount_alone,
        b.missing,
        b.review,
    ):
        raise InvariantFailure(
            "determinism",
            policy_id,
            f"alone: {a.status.value} {a.amount_alone}; in the set: {b.status.value} {b.amount_alone}",
        )


def check_soundness(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """A decided verdict (eligible / ineligible) never changes when unknown facts are filled
    in, and a known amount stays the same. (Ineligible may become not_in_force when the zone
    becomes known and lies outside the policy's zones: both decide that nothing is due.)"""
    before = _result(_evaluate(policy_set, scenario.data, scenario.as_of), policy_id)
    if before.status not in (Status.ELIGIBLE, Status.INELIGIBLE):
        return
    filled, _ = valid_data(fill_in(scenario.data, scenario.filler))
    after = _result(_evaluate(policy_set, filled, scenario.as_of), policy_id)
    added = sorted(k for k in _leaf_keys(filled) if k not in _leaf_keys(scenario.data))
    shown = ", ".join(added[:8]) + (" …" if len(added) > 8 else "")
    zone_filled = "zone" not in scenario.data and "zone" in filled
    refined = before.status is Status.INELIGIBLE and after.status is Status.NOT_IN_FORCE
    if after.status is not before.status and not (refined and zone_filled):
        raise InvariantFailure(
            "soundness",
            policy_id,
            f"{before.status.value} became {after.status.value} once these unknown fields were "
            f"filled in: {shown}",
        )
    if before.amount_alone is not None and after.amount_alone != before.amount_alone:
        raise InvariantFailure(
            "soundness",
            policy_id,
            f"the amount {before.amount_alone} became {after.amount_alone} once these unknown "
            f"fields were filled in: {shown}",
        )


def _leaf_keys(data: Any, prefix: str = "") -> set[str]:
    if isinstance(data, dict) and data:
        return {k for key, v in data.items() for k in _leaf_keys(v, f"{prefix}{key}.")}
    return {prefix.rstrip(".")}


_TRUTH = {"false": 0, "unknown": 1, "review": 1, "true": 2}
_EXPECTED_ROOT = {
    Status.ELIGIBLE: {"true"},
    Status.INELIGIBLE: {"false"},
    Status.UNDETERMINED: {"unknown", "review"},
    Status.NEEDS_REVIEW: {"review"},
}


def check_explanation(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """The evaluated tree agrees with the verdict: its root outcome is the verdict, every node is
    the Kleene combination of its children, a leaf is unknown exactly when its value is, and
    the failing, missing and review facts named in the result appear in the tree as such."""
    result = _result(
        _evaluate(policy_set, scenario.data, scenario.as_of, explain=True, gaps=True), policy_id
    )
    if result.status is Status.NOT_IN_FORCE:
        if result.trace is not None:
            raise InvariantFailure("explanation", policy_id, "not in force, yet has a trace")
        return
    fail = _failer("explanation", policy_id)
    tree = result.trace
    if tree is None:
        fail("no trace although an explanation was asked for")
        return
    if tree.outcome not in _EXPECTED_ROOT[result.status]:
        fail(f"verdict {result.status.value} but the explanation's outcome is {tree.outcome}")
    parts = [2 - _TRUTH[c.outcome] if c.exclusion else _TRUTH[c.outcome] for c in tree.children]
    combined = min(parts, default=2)
    root = _TRUTH[tree.outcome]
    zone_unknown = "zone" in result.missing
    # Without the zone nothing is decided, whatever the criteria combine to.
    if root != combined and not (zone_unknown and root == 1):
        fail(f"the verdict's tree is {tree.outcome} but its criteria combine to {combined}")
    for child in tree.children:
        _check_trace(child, fail)
    by_outcome: dict[str, set[str]] = {}
    for node in _trace_leaves(tree):
        if node.fact is not None:
            by_outcome.setdefault(node.outcome, set()).add(node.fact)
    if result.status is Status.INELIGIBLE:
        if not result.gaps:
            fail("ineligible, yet no failing criterion is named")
        named = {g.fact for g in result.gaps} - by_outcome.get("false", set()) - by_outcome.get(
            "true", set())  # fmt: skip
        if named:
            fail(f"gaps name {sorted(named)}, which are not decided criteria in the tree")
    if result.status is Status.UNDETERMINED:
        named = set(result.missing) - by_outcome.get("unknown", set()) - {"zone"}
        if not result.missing or named:
            fail(f"undetermined, but missing facts {result.missing} are not unknown in the tree")
    if result.status is Status.NEEDS_REVIEW:
        named = set(result.review) - by_outcome.get("review", set())
        if not result.review or named:
            fail(f"needs review, but {result.review} are not awaiting review in the tree")


def _failer(invariant: str, policy_id: str) -> Callable[[str], None]:
    def fail(message: str) -> None:
        raise InvariantFailure(invariant, policy_id, message)

    return fail


def _trace_leaves(node: Trace) -> list[Trace]:
    if node.kind == "leaf":
        return [node]
    return [leaf for child in node.children for leaf in _trace_leaves(child)]


def _check_trace(node: Trace, fail: Callable[[str], None]) -> None:
    truth = _TRUTH[node.outcome]
    if node.kind == "leaf":
        if (node.value is None) != (truth == 1):
            fail(f"criterion on {node.fact}: value {node.value!r} but outcome {node.outcome}")
        return
    values = [_TRUTH[c.outcome] for c in node.children]
    expected = (
        min(values) if node.kind == "all" else max(values) if node.kind == "any" else 2 - values[0]
    )
    if truth != expected:
        fail(f"an '{node.kind}' node is {node.outcome} but its parts combine to {expected}")
    for child in node.children:
        _check_trace(child, fail)


def check_amounts(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """Amounts are never negative, never above the policy's cap, only paid when eligible, and
    a stacking group never pays more than its cap."""
    report = _evaluate(policy_set, scenario.data, scenario.as_of)
    check_report_amounts(policy_set, report, policy_id)


def check_report_amounts(policy_set: PolicySet, report: Report, policy_id: str) -> None:
    """The amount checks of `check_amounts`, on a report already computed."""
    fail = _failer("amounts", policy_id)
    result = _result(report, policy_id)
    cp = policy_set.get(policy_id)
    if result.status is not Status.ELIGIBLE:
        if result.amount is not None or result.amount_alone is not None:
            fail(f"{result.status.value}, yet an amount of {result.amount} is shown")
        return
    for name, value in (("amount", result.amount), ("amount before stacking", result.amount_alone)):
        if value is not None and value < 0:
            fail(f"{name} {value} is negative")
        if value is not None and cp.benefit.cap is not None and value > cp.benefit.cap:
            fail(f"{name} {value} is above the cap {cp.benefit.cap}")
    if (result.amount is None) != (result.amount_alone is None) or (
        result.amount is not None
        and result.amount_alone is not None
        and result.amount > result.amount_alone
    ):
        fail(f"after stacking {result.amount} exceeds the amount alone {result.amount_alone}")
    stacking = cp.stacking
    if stacking is not None and stacking.cap is not None:
        cap = parse_quantity(stacking.cap).value
        paid = _group_paid(policy_set, report, stacking.group)
        total = sum((r.amount or Decimal(0) for r in paid), Decimal(0))
        if total > cap:
            fail(f"group {stacking.group} pays {total} in total, above its cap {cap}")


def _group_paid(policy_set: PolicySet, report: Report, group: str) -> list[PolicyResult]:
    return [
        r
        for r in report.results
        if r.status is Status.ELIGIBLE
        and (s := policy_set.get(r.policy_id).stacking) is not None
        and s.group == group
    ]


def check_stacking(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """An exclusive group pays at most one member: the one that pays most (就高)."""
    report = _evaluate(policy_set, scenario.data, scenario.as_of)
    check_report_stacking(policy_set, report, policy_id)


def check_report_stacking(policy_set: PolicySet, report: Report, policy_id: str) -> None:
    """The checks of `check_stacking`, on a report already computed."""
    stacking = policy_set.get(policy_id).stacking
    if stacking is None or not stacking.exclusive:
        return
    members = _group_paid(policy_set, report, stacking.group)
    paid = [r for r in members if r.amount is not None and r.amount > 0]
    fail = _failer("stacking", policy_id)
    if len(paid) > 1:
        fail(
            f"exclusive group {stacking.group} pays {len(paid)} members: "
            + ", ".join(f"{r.policy_id} {r.amount}" for r in paid)
        )
    best = max((r.amount_alone or Decimal(0) for r in members), default=Decimal(0))
    capped = stacking.cap is not None and parse_quantity(stacking.cap).value == 0
    if best > 0 and not capped and (not paid or paid[0].amount_alone != best):
        fail(f"exclusive group {stacking.group} does not pay its highest member ({best})")


def check_monotone(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """For each fact the policy declares monotone: raising it (through the profile inputs it
    is computed from) never lowers what the policy pays, ineligible counting as zero."""
    cp = policy_set.get(policy_id)
    if not cp.policy.monotone:
        return
    profile = scenario.profile
    before = _result(policy_set.evaluate(profile, scenario.as_of, gaps=False), policy_id)
    award = _award(before)
    if award is None:
        return
    facts = policy_set.facts
    ctx = policy_set.context(profile, scenario.as_of)
    for fact in cp.policy.monotone:
        defn = facts[fact]
        if defn.type is not FactType.QUANTITY:
            continue
        data = copy.deepcopy(scenario.data)
        if not _bump(data, defn, step_size(defn.unit, scenario.step), ctx, facts):
            continue
        try:
            raised = parse_profile(data)
        except ProfileError:
            continue
        new_ctx = policy_set.context(raised, scenario.as_of)
        old_value, new_value = ctx.get(fact), new_ctx.get(fact)
        if not (isinstance(old_value, Decimal) and isinstance(new_value, Decimal)):
            continue
        if new_value <= old_value:
            continue
        after = _result(policy_set.evaluate(raised, scenario.as_of, gaps=False), policy_id)
        new_award = _award(after)
        if new_award is not None and new_award < award:
            raise InvariantFailure(
                "monotone",
                policy_id,
                f"raising {fact} from {old_value} to {new_value} lowers the award from "
                f"{award} ({before.status.value}) to {new_award} ({after.status.value})",
            )


def _award(result: PolicyResult) -> Decimal | None:
    if result.status is Status.INELIGIBLE:
        return Decimal(0)
    if result.status is Status.ELIGIBLE and result.amount_kind != "none":
        return result.amount_alone
    return None


def check_in_force(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
    """`not_in_force` exactly when the date is outside the effective period or the (known)
    zone is outside the policy's zones."""
    cp = policy_set.get(policy_id)
    profile = scenario.profile
    result = _result(policy_set.evaluate(profile, scenario.as_of, gaps=False), policy_id)
    outside_dates = not cp.effective.covers(scenario.as_of)
    outside_zone = False
    if profile.zone is not None and NATIONAL not in cp.zones:
        chain = Zones(dict(policy_set.zones)).chain(profile.zone)
        outside_zone = cp.zones.isdisjoint(chain)
    expected = outside_dates or outside_zone
    if (result.status is Status.NOT_IN_FORCE) != expected:
        start, until = cp.effective.start or "…", cp.effective.until or "…"
        raise InvariantFailure(
            "in-force",
            policy_id,
            f"status {result.status.value} on {scenario.as_of} for effective period "
            f"{start} to {until}, zones {sorted(cp.zones)}, profile zone {profile.zone}",
        )


Invariant = Callable[[PolicySet, str, Scenario], None]

INVARIANTS: dict[str, Invariant] = {
    "determinism": check_determinism,
    "soundness": check_soundness,
    "explanation": check_explanation,
    "amounts": check_amounts,
    "stacking": check_stacking,
    "monotone": check_monotone,
    "in-force": check_in_force,
}


Invariants: TypeAlias = Iterable[str] | Mapping[str, Invariant]


def _checks(invariants: Invariants | None) -> dict[str, Invariant]:
    """Built-in invariants by name, or a mapping of names to checks (built-in or your own)."""
    if invariants is None:
        return dict(INVARIANTS)
    if isinstance(invariants, Mapping):
        return dict(invariants)
    return {name: INVARIANTS[name] for name in invariants}


def check_all(
    policy_set: PolicySet,
    policy_id: str,
    scenario: Scenario,
    invariants: Invariants | None = None,
) -> None:
    """Run every invariant (or those given) on one scenario; the first failure is raised."""
    for check in _checks(invariants).values():
        check(policy_set, policy_id, scenario)


@dataclass(frozen=True)
class Counterexample:
    """A broken invariant found by `find_counterexamples`, with its shrunk scenario."""

    invariant: str
    policy_id: str
    message: str
    scenario: Scenario


def find_counterexamples(
    policy_set: PolicySet,
    policy_id: str,
    examples: int = 100,
    seed: int = 0,
    invariants: Invariants | None = None,
) -> list[Counterexample]:
    """Search for scenarios that break the invariants of one policy; return one shrunk
    counterexample per broken invariant (same `seed`, same result). `invariants` are names of
    built-in ones or a mapping of names to checks, so a policy's own rules can be searched too.
    An exception escaping a check (the engine's or the check's own) is reported as the
    invariant `no-crash`."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as seeded

    strategy = scenarios(policy_set, policy_id)
    config = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    searching = settings(config, phases=[Phase.explicit, Phase.generate])

    def first_failure(names: list[str], shrink: bool) -> tuple[InvariantFailure, Scenario] | None:
        failures: list[tuple[InvariantFailure, Scenario]] = []

        def body(scenario: Scenario) -> None:
            for name in names:
                try:
                    checks[name](policy_set, policy_id, scenario)
                except InvariantFailure as exc:
                    failures.append((exc, scenario))
                    raise
                except Exception as exc:  # a crash of the engine is a finding too
                    failure = InvariantFailure(
                        "no-crash",
                        policy_id,
                        f"{type(exc).__name__}: {exc} (while checking {name})",
                    )
                    failure.during = name
                    failures.append((failure, scenario))
                    raise failure from exc

        test = seeded(seed)((config if shrink else searching)(given(strategy)(body)))
        try:
            test()
        except Exception:
            if not failures:
                raise
            return failures[-1]  # the last run is hypothesis's replay of the shrunk example
        return None

    checks = _checks(invariants)
    remaining = list(checks)
    found: list[Counterexample] = []
    while remaining:
        # Search with every invariant, then shrink with only the one that broke (much faster).
        hit = first_failure(remaining, shrink=False)
        if hit is None:
            break
        broken = hit[0].invariant
        only = broken if broken in remaining else hit[0].during
        shrunk = first_failure([only], shrink=True) or hit
        failure, scenario = shrunk
        found.append(Counterexample(failure.invariant, policy_id, failure.message, scenario))
        if broken not in remaining:
            break
        remaining.remove(broken)
    return found


# ---------------------------------------------------------------------------------------------
# Random condition trees and random policy sets (written as YAML, loaded by the real loader)


def catalogue_facts() -> dict[str, FactDef]:
    """The built-in fact catalogue."""
    text = resources.files("incentives.engine.model").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    data, _ = load_yaml(text)
    return {d["id"]: FactDef.model_validate(d) for d in data["facts"]}


_SUFFIX = {
    Unit.YUAN: "万元", Unit.RATIO: "%", Unit.PERSON: "人", Unit.ITEM: "项", Unit.POINT: "分",
    Unit.TONNE: "吨", Unit.SQUARE_METRE: "平方米", Unit.YUAN_PER_TONNE: "元/吨",
    Unit.YUAN_PER_SQUARE_METRE: "元/平方米", Unit.YEAR: "年", Unit.MONTH: "个月", Unit.DAY: "天",
}  # fmt: skip


def _written(number: int, unit: Unit | None) -> Any:
    """A threshold as an author writes it: `120万元`, `12%`, `30人`; a plain number if unitless."""
    suffix = _SUFFIX.get(unit) if unit is not None else None
    return f"{number}{suffix}" if suffix else number


def _threshold_text(unit: Unit | None) -> st.SearchStrategy[Any]:
    top = {Unit.YUAN: 30_000, Unit.RATIO: 100}.get(unit, 500) if unit is not None else 500
    return st.integers(0, top).map(lambda n: _written(n, unit))


def leaf_conditions(facts: Mapping[str, FactDef]) -> st.SearchStrategy[Data]:
    """Single comparisons of a catalogue fact with a value of the right type and unit."""
    usable = sorted(
        d.id
        for d in facts.values()
        if d.type in (FactType.QUANTITY, FactType.BOOL, FactType.DATE)
        or d.id == "tax_credit_rating"
    )

    @st.composite
    def leaf(draw: st.DrawFn) -> Data:
        defn = facts[draw(st.sampled_from(usable))]
        if defn.type is FactType.BOOL:
            return {"fact": defn.id, draw(st.sampled_from(["eq", "ne"])): draw(st.booleans())}
        if defn.type is FactType.CODE:
            op = draw(st.sampled_from(["eq", "ne", "in", "not_in"]))
            if op in ("in", "not_in"):
                return {"fact": defn.id, op: draw(st.lists(st.sampled_from(_RATINGS), min_size=1, max_size=3, unique=True))}  # fmt: skip
            return {"fact": defn.id, op: draw(st.sampled_from(_RATINGS))}
        if defn.type is FactType.DATE:
            op = draw(st.sampled_from(["le", "lt", "ge", "gt", "within"]))
            years = draw(st.integers(1, 5))
            if op == "within":
                return {"fact": defn.id, "within": f"{years}年"}
            fixed = draw(st.one_of(st.none(), st.dates(date(2010, 1, 1), date(2030, 12, 31))))
            return {"fact": defn.id, op: fixed if fixed is not None else f"-{years}年"}
        value = _threshold_text(defn.unit)
        op = draw(st.sampled_from(["lt", "le", "gt", "ge", "eq", "ne", "between"]))
        if op == "between":
            low, high = sorted((draw(st.integers(0, 300)), draw(st.integers(0, 300))))
            return {
                "fact": defn.id,
                "between": [_written(low, defn.unit), _written(high, defn.unit)],
            }
        return {"fact": defn.id, op: draw(value)}

    return leaf()


def condition_trees(facts: Mapping[str, FactDef], max_leaves: int = 6) -> st.SearchStrategy[Data]:
    """Random condition trees (`all`, `any`, `not` over leaf comparisons), as policy data."""
    return st.recursive(
        leaf_conditions(facts),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
            children.map(lambda c: {"not": c}),
        ),
        max_leaves=max_leaves,
    )


def _footprint(name: str, facts: Mapping[str, FactDef]) -> set[str]:
    """The profile inputs a fact reads (to declare monotonicity only where it holds)."""
    defn = facts[name]
    parts = [*dependencies(defn), *(getattr(defn, "sum_of", None) or ())]
    parts += getattr(defn, "max_of", None) or ()
    if parts:
        return set().union(*(_footprint(p, facts) for p in parts if p in facts))
    line = defn.financial or (defn.sum_years and defn.sum_years.financial) or (
        defn.growth and defn.growth.financial)  # fmt: skip
    if line:
        extra = {"registration_date"} if defn.sum_years else set()
        return {f"financials.{line}", *extra}
    return {defn.field or defn.profile_fact or defn.source_kind}


@st.composite
def _benefit(draw: st.DrawFn, facts: Mapping[str, FactDef]) -> Data:
    yuan = sorted(d.id for d in facts.values() if d.unit is Unit.YUAN)
    banded = sorted(d.id for d in facts.values() if d.unit in (Unit.YUAN, Unit.PERSON, Unit.RATIO))
    kind = draw(st.sampled_from(["grant", "rate_of", "tiers", "tax_rate", "deduction", "service"]))
    benefit: Data = {"zh": "随机生成的待遇", "en": "randomly generated benefit"}
    if kind == "service":
        return {**benefit, "service": True}
    if kind == "grant":
        benefit["grant"] = {"amount": f"{draw(st.integers(1, 500))}万元"}
    elif kind in ("rate_of", "deduction"):
        rate = f"{draw(st.integers(1, 200))}%"
        benefit[kind] = {"base": draw(st.sampled_from(yuan)), "rate": rate}
    elif kind == "tax_rate":
        reduced = draw(st.integers(0, 24))
        benefit["tax_rate"] = {"base": draw(st.sampled_from(yuan)), "rate": f"{reduced}%"}
    else:
        by = facts[draw(st.sampled_from(banded))]
        cuts = sorted(set(draw(st.lists(st.integers(1, 300), min_size=1, max_size=3))))
        bounds: list[Any] = [_written(c, by.unit) for c in cuts]
        bands: list[Data] = [{"lt": bounds[0], "amount": f"{draw(st.integers(0, 50))}万元"}]
        for low, high in itertools.pairwise(bounds):
            bands.append({"ge": low, "lt": high, "amount": f"{draw(st.integers(0, 500))}万元"})
        bands.append({"ge": bounds[-1], "amount": f"{draw(st.integers(0, 500))}万元"})
        benefit["tiers"] = {"by": by.id, "bands": bands}
    if draw(st.booleans()):
        benefit["cap"] = f"{draw(st.integers(0, 300))}万元"
    return benefit


@st.composite
def policy_documents(
    draw: st.DrawFn, facts: Mapping[str, FactDef], zones: Iterable[str], number: int = 0
) -> Data:
    """One random policy document (as data) of 1-3 policies: random conditions, exclusions,
    benefits with caps, effective periods and exclusive stacking groups; a policy declares a
    fact monotone only where that holds by construction (its amount is a rate of it and no
    condition reads it)."""
    zone_list = sorted(zones)
    policies = []
    for index in range(draw(st.integers(1, 3))):
        policy: Data = {
            "id": f"random.doc{number}.p{index}",
            "title": "随机生成的政策",
            "title_en": "randomly generated policy",
            "benefit": draw(_benefit(facts)),
        }
        if draw(st.booleans()):
            policy["when"] = draw(condition_trees(facts))
        if draw(st.integers(0, 3)) == 0:
            policy["unless"] = [draw(leaf_conditions(facts))]
        if draw(st.booleans()):
            start = draw(st.dates(date(2015, 1, 1), date(2030, 12, 31)))
            until = start + timedelta(days=draw(st.integers(0, 3000)))
            policy["effective"] = {"from": start, "until": until}
        group = draw(st.sampled_from([None, "random.exclusive", "random.capped"]))
        if group == "random.exclusive":
            policy["stacking"] = {"group": group, "exclusive": True}
        elif group is not None:
            policy["stacking"] = {"group": group, "exclusive": True, "cap": "80万元"}
        base = (policy["benefit"].get("rate_of") or {}).get("base")
        if base is not None:
            read = _read_facts([policy.get("when"), *policy.get("unless", [])])
            if not any(_footprint(base, facts) & _footprint(f, facts) for f in read):
                policy["monotone"] = [base]
        policies.append(policy)
    return {
        "id": f"random.doc{number}",
        "title": "随机生成的文件",
        "title_en": "randomly generated document",
        "issuer": "property test",
        "provenance": "illustrative",
        "zones": [draw(st.sampled_from(zone_list))],
        "policies": policies,
    }


def _read_facts(nodes: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, dict):
            if "fact" in node:
                found.add(node["fact"])
            found |= _read_facts(v for k, v in node.items() if k in ("all", "any", "not"))
        elif isinstance(node, list):
            found |= _read_facts(node)
    return found


def policy_sets(
    facts: Mapping[str, FactDef] | None = None,
    zones: Iterable[str] = (NATIONAL, "shanxi", "taiyuan"),
) -> st.SearchStrategy[list[Data]]:
    """Random policy sets: 1-3 documents over the built-in catalogue (or `facts`)."""
    known = dict(facts) if facts is not None else catalogue_facts()
    zone_list = list(zones)
    return st.integers(1, 3).flatmap(
        lambda n: st.tuples(*(policy_documents(known, zone_list, i) for i in range(n))).map(list)
    )


def write_policy_set(documents: list[Data], directory: Path) -> Path:
    """Write documents as YAML files into `directory` (to load them with `PolicySet`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for document in documents:
        path = directory / f"{document['id']}.yaml"
        path.write_text(
            yaml.dump(_plain(document), Dumper=_Dumper, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return directory


__all__ = [
    "INVARIANTS",
    "Counterexample",
    "InvariantFailure",
    "Scenario",
    "assign",
    "catalogue_facts",
    "check_all",
    "check_amounts",
    "check_determinism",
    "check_explanation",
    "check_in_force",
    "check_monotone",
    "check_report_amounts",
    "check_report_stacking",
    "check_soundness",
    "check_stacking",
    "condition_trees",
    "evaluation_dates",
    "fill_in",
    "find_counterexamples",
    "leaf_conditions",
    "money",
    "policy_documents",
    "policy_sets",
    "profile_data",
    "profile_yaml",
    "quantities",
    "scenarios",
    "targets",
    "threshold_profile_data",
    "valid_data",
    "write_policy_set",
]
