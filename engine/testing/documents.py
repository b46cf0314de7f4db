"""Random policy documents for property tests, written as YAML and loaded by the real loader.

`fact_declarations` draws the facts a document declares, of every source kind (profile
fields, financial lines of earlier years, multi-year sums, ratios of like and unlike
quantities, growth, IP counts, certificates, compliance records, profile facts of every type,
some needing an expert's judgement, point scores, sums and maxima of scores, formulas over
judgement facts among them). `policy_documents` and `policy_sets` draw documents over the
catalogue and those facts: condition trees with every operator of every fact type, exclusions,
benefits of every kind with caps and tiers (amounts and rates), effective periods, zones,
exclusive and capped stacking groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from ..compile.facts import (
    CERTIFICATE_KINDS,
    PROFILE_FIELDS,
    RECORD_KINDS,
    SEVERITIES,
    Declared,
    plan_facts,
)
from ..compile.loader import declare_facts
from ..compile.plan import FactPlan, FactType, FieldSource
from ..errors import Problem
from ..model.facts import FactDef
from ..model.profile import AMOUNT_LINES, Profile
from ..model.units import Unit
from ..model.zones import NATIONAL
from .profiles import _INDUSTRIES, _RATINGS
from .scenarios import Data, Dumper, plain


def catalogue_facts() -> dict[str, FactPlan]:
    """The built-in fact catalogue, planned."""
    return planned([])


def planned(declarations: list[Data]) -> dict[str, FactPlan]:
    """The catalogue and these declarations (as a document writes them), planned: what a set
    whose documents declare them can name. Raises ValueError for declarations the loader
    refuses."""
    problems: list[Problem] = []
    declared = declare_facts([], problems)
    for index, data in enumerate(declarations):
        declared[data["id"]] = Declared(FactDef.model_validate(data), "generated", {},
                                        ("facts", index), "generated")  # fmt: skip
    facts = plan_facts(declared, problems)
    if problems:
        raise ValueError("; ".join(map(str, problems)))
    return facts


# --- values as an author writes them -----------------------------------------------------------

_SUFFIX = {
    Unit.YUAN: "万元", Unit.RATIO: "%", Unit.PERSON: "人", Unit.ITEM: "项", Unit.POINT: "分",
    Unit.TONNE: "吨", Unit.SQUARE_METRE: "平方米", Unit.YUAN_PER_TONNE: "元/吨",
    Unit.YUAN_PER_SQUARE_METRE: "元/平方米", Unit.YEAR: "年", Unit.MONTH: "个月", Unit.DAY: "天",
}  # fmt: skip
# Thresholds up to these, in the written unit (万元 for yuan, % for ratios); halves included.
_TOP = {Unit.YUAN: 30_000, Unit.RATIO: 100, Unit.POINT: 30}
# Codes of the profile fields that hold codes, by field; other code facts take _OTHER_CODES.
_CODES = {"industry_code": _INDUSTRIES, "compliance.tax_credit_rating": _RATINGS}
_OTHER_CODES = ["A1", "B2", "C3"]


def _written(number: int | Decimal, unit: Unit | None) -> Any:
    """A threshold as an author writes it: `120万元`, `12%`, `30人`; a plain number if unitless."""
    suffix = _SUFFIX.get(unit) if unit is not None else None
    return f"{number}{suffix}" if suffix else number


def _threshold_text(unit: Unit | None) -> st.SearchStrategy[Any]:
    top = _TOP.get(unit, 500) if unit is not None else 500
    low = -20 if unit is Unit.RATIO else 0  # growth rates fall too
    halves = st.integers(2 * low, 2 * top).map(lambda n: Decimal(n) / 2)
    return st.one_of(st.integers(low, top), halves).map(lambda n: _written(n, unit))


def _codes(defn: FactPlan, zones: list[str]) -> list[str]:
    """Codes to compare a code fact with: those its profile field can hold, if it reads one."""
    source = defn.source
    path = ".".join(source.path) if isinstance(source, FieldSource) else None
    return {"zone": zones, **_CODES}.get(path or "", _OTHER_CODES)


# --- conditions --------------------------------------------------------------------------------

OPERATORS = {
    FactType.QUANTITY: ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in"),
    FactType.DATE: ("eq", "lt", "le", "gt", "ge", "between", "within"),
    FactType.BOOL: ("eq", "ne"),
    FactType.CODE: ("eq", "ne", "in", "not_in", "prefix_in"),
    FactType.CODES: ("contains",),
}


def leaf_conditions(
    facts: Mapping[str, FactPlan],
    operators: Iterable[str] | None = None,
    zones: Iterable[str] = (NATIONAL, "shanxi", "taiyuan"),
) -> st.SearchStrategy[Data]:
    """Single comparisons of a fact with a value of the right type and unit, by every operator
    of its type (or only those in `operators`)."""
    allowed = None if operators is None else frozenset(operators)
    ops = {
        kind: [op for op in names if allowed is None or op in allowed]
        for kind, names in OPERATORS.items()
    }
    usable = sorted(d.id for d in facts.values() if ops[d.type])
    # Facts whose unknown may need an expert (judgement facts and formulas over them) are
    # drawn often: how review travels through formulas is where back ends diverge.
    judged = [name for name in usable if facts[name].may_need_review]
    names = st.one_of(st.sampled_from(usable), st.sampled_from(judged)) if judged else (
        st.sampled_from(usable))  # fmt: skip
    zone_list = sorted(zones)

    @st.composite
    def leaf(draw: st.DrawFn) -> Data:
        defn = facts[draw(names)]
        op = draw(st.sampled_from(ops[defn.type]))
        return {"fact": defn.id, op: draw(_operand(defn, op, zone_list))}

    return leaf()


def _operand(defn: FactPlan, op: str, zones: list[str]) -> st.SearchStrategy[Any]:
    if defn.type is FactType.BOOL:
        return st.booleans()
    if defn.type is FactType.DATE:
        return _date_operand(op)
    if defn.type is FactType.QUANTITY:
        one = _threshold_text(defn.unit)
        if op == "between":
            return st.tuples(st.integers(0, 300), st.integers(0, 300)).map(
                lambda pair: [_written(n, defn.unit) for n in sorted(pair)]
            )
        return st.lists(one, min_size=1, max_size=3) if op in ("in", "not_in") else one
    pool = st.sampled_from(_codes(defn, zones))
    if op == "prefix_in":  # prefixes, some lower-cased (the comparison ignores case)
        # an industry prefix is a section letter or a letter and 2-4 digits (never `F5`)
        industry = _codes(defn, zones) is _INDUSTRIES
        lengths = st.sampled_from((1, 3, 4) if industry else (1, 2, 3))
        prefix = st.tuples(pool, lengths, st.booleans()).map(
            lambda t: t[0][: t[1]].lower() if t[2] else t[0][: t[1]]
        )
        return st.lists(prefix, min_size=1, max_size=2)
    if op in ("in", "not_in"):
        return st.lists(pool, min_size=1, max_size=3, unique=True)
    return pool


def _date_operand(op: str) -> st.SearchStrategy[Any]:
    relative = st.builds(lambda n, unit: f"-{n}{unit}", st.integers(1, 5), st.sampled_from(["年", "个月"]))  # fmt: skip
    fixed = st.dates(date(2010, 1, 1), date(2030, 12, 31))
    if op == "within":
        return st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 5), st.sampled_from(["年", "个月"]))  # fmt: skip
    if op == "between":
        return st.one_of(
            st.tuples(fixed, fixed).map(lambda pair: sorted(pair)),
            st.tuples(st.integers(2, 10), st.integers(0, 1)).map(
                lambda t: [f"-{t[0]}年", f"-{t[1]}年" if t[1] else "-1个月"]
            ),
        )
    return st.one_of(fixed, relative)


def condition_trees(
    facts: Mapping[str, FactPlan], max_leaves: int = 6, operators: Iterable[str] | None = None
) -> st.SearchStrategy[Data]:
    """Random condition trees (`all`, `any`, `not` over leaf comparisons), as policy data."""
    return st.recursive(
        leaf_conditions(facts, operators),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
            children.map(lambda c: {"not": c}),
        ),
        max_leaves=max_leaves,
    )


# --- facts a document declares -----------------------------------------------------------------

_LINES = sorted(AMOUNT_LINES)


def _absent_is_unknown(path: str) -> bool:
    """Whether leaving a profile field out makes it unknown (its default is None)."""
    model: Any = Profile
    *parents, last = path.split(".")
    for step in parents:
        model = model.model_fields[step].annotation.__args__[0]  # `X | None` → X
    return model.model_fields[last].default is None


# Scalar profile fields a `field:` fact may read (not `synthetic`, which defaults to false).
_UNKNOWABLE = sorted(
    name for name, f in PROFILE_FIELDS.items() if f.type is not None and _absent_is_unknown(name)
)
_PROFILE_UNITS = [Unit.YUAN, Unit.RATIO, Unit.PERSON, Unit.ITEM, Unit.POINT, Unit.TONNE,
                  Unit.SQUARE_METRE, Unit.YEAR]  # fmt: skip


def _fact(fact_id: str, kind: FactType, unit: Unit | None, **source: Any) -> Data:
    data: Data = {"id": fact_id, "type": kind.value, "zh": fact_id, "en": fact_id, **source}
    if unit is not None:
        data["unit"] = unit.value
    return data


@st.composite
def _read_facts(draw: st.DrawFn) -> list[Data]:
    """Profile facts of every type (one of each judged by an expert), a profile field read
    under another name, and financial lines of earlier years."""
    facts = []
    for index, unit in enumerate(_PROFILE_UNITS):
        name = f"doc_q{index}"
        facts.append(_fact(name, FactType.QUANTITY, unit, profile_fact=name))
    for kind in (FactType.BOOL, FactType.DATE, FactType.CODE, FactType.CODES):
        name = f"doc_{kind.value}"
        facts.append(_fact(name, kind, None, profile_fact=name))
    facts.append({**_fact("doc_expert_points", FactType.QUANTITY, Unit.POINT,
                          profile_fact="doc_expert_points"), "judgement": True})  # fmt: skip
    facts.append({**_fact("doc_expert_flag", FactType.BOOL, None,
                          profile_fact="doc_expert_flag"), "judgement": True})  # fmt: skip
    path = draw(st.sampled_from(_UNKNOWABLE))
    field = PROFILE_FIELDS[path]
    assert field.type is not None
    facts.append({**_fact("doc_field", field.type, field.unit if field.type is FactType.QUANTITY
                          else None, field=path), "judgement": draw(st.booleans())})  # fmt: skip
    for index in range(draw(st.integers(1, 2))):
        line = draw(st.sampled_from(_LINES))
        facts.append(_fact(f"doc_line{index}", FactType.QUANTITY, Unit.YUAN, financial=line,
                           year=draw(st.integers(0, 2))))  # fmt: skip
    return facts


@st.composite
def _derived_facts(draw: st.DrawFn) -> list[Data]:
    """Formulas of every kind over the catalogue and the read facts above."""
    yuan = ["revenue", "rd_expense", "total_assets", "taxable_income", "doc_line0", "doc_q0"]
    facts = [
        _fact("doc_sum", FactType.QUANTITY, Unit.YUAN, sum_years={
            "financial": draw(st.sampled_from(_LINES)), "years": draw(st.integers(1, 4))}),
        _fact("doc_share", FactType.QUANTITY, Unit.RATIO,
              ratio=[draw(st.sampled_from(yuan)), draw(st.sampled_from(yuan))]),
        # unlike quantities (points per person, in the numerator's unit, never a share): a
        # judged numerator makes it judged too
        _fact("doc_per_head", FactType.QUANTITY, Unit.POINT,
              ratio=["doc_expert_points", draw(st.sampled_from(["employees", "doc_q2"]))]),
        _fact("doc_growth", FactType.QUANTITY, Unit.RATIO,
              growth={"financial": draw(st.sampled_from(_LINES))}),
        _fact("doc_ip", FactType.QUANTITY, Unit.ITEM, ip_count=draw(_ip_spec())),
        _fact("doc_cert", FactType.BOOL, None, certified={
            "kind": draw(st.sampled_from(CERTIFICATE_KINDS)),
            **draw(st.sampled_from([{}, {"validity": "1年"}, {"validity": "3年"}]))}),
        _fact("doc_records", FactType.QUANTITY, Unit.ITEM, records={
            "kinds": draw(st.lists(st.sampled_from(RECORD_KINDS), min_size=1, max_size=3, unique=True)),
            "severities": draw(st.lists(st.sampled_from(SEVERITIES), min_size=1, unique=True)),
            "within": draw(st.sampled_from(["1年", "6个月", "2年", "上一年及当年"]))}),
    ]  # fmt: skip
    scored = [("doc_share", Unit.RATIO), ("employees", Unit.PERSON), ("revenue", Unit.YUAN),
              ("doc_expert_points", Unit.POINT), ("doc_growth", Unit.RATIO)]  # fmt: skip
    for index, (by, unit) in enumerate(scored):
        facts.append(_fact(f"doc_points{index}", FactType.QUANTITY, Unit.POINT,
                           points={"by": by, "bands": draw(_point_bands(unit))}))  # fmt: skip
    facts += [
        _fact("doc_best", FactType.QUANTITY, Unit.POINT,
              max_of=["doc_points0", "doc_points3", "doc_q4"]),  # over a judged score
        _fact("doc_score", FactType.QUANTITY, Unit.POINT,
              sum_of=["doc_best", "doc_points1", "doc_points2", "doc_expert_points"]),
    ]  # fmt: skip
    return facts


def _ip_spec() -> st.SearchStrategy[Data]:
    return st.fixed_dictionaries(
        {"classes": st.sampled_from([["I"], ["II"], ["I", "II"]])},
        optional={
            "acquisition": st.lists(
                st.sampled_from(["self_developed", "transfer", "gift", "merger", "licence"]),
                min_size=1, max_size=3, unique=True,
            ),
            "main_product": st.booleans(),
        },
    )  # fmt: skip


@st.composite
def _point_bands(draw: st.DrawFn, unit: Unit) -> list[Data]:
    """Bands on a fact in `unit`, with every kind of bound and fractional points."""
    drawn = draw(st.lists(st.integers(-10, 60), min_size=1, max_size=3))
    cuts = sorted({c if unit is Unit.RATIO else abs(c) for c in drawn})
    bounds = [_written(Decimal(c) * (100 if unit is Unit.YUAN else 1), unit) for c in cuts]
    points = st.sampled_from([0, 1, 3, 5, "0.5", "10.5", 20])
    bands: list[Data] = []
    for low, high in itertools.pairwise([None, *bounds, None]):
        band: Data = {"points": draw(points)}
        if low is not None:
            band[draw(st.sampled_from(["ge", "gt"]))] = low
        if high is not None:
            band[draw(st.sampled_from(["le", "lt"]))] = high
        bands.append(band)
    return draw(st.permutations(bands))


@st.composite
def fact_declarations(draw: st.DrawFn) -> list[Data]:
    """The facts a document declares (as data): every source kind, over the catalogue and each
    other, expert judgement among the read facts and carried into ratios and scores."""
    return [*draw(_read_facts()), *draw(_derived_facts())]


# --- benefits and documents --------------------------------------------------------------------


@st.composite
def _benefit(draw: st.DrawFn, facts: Mapping[str, FactPlan]) -> Data:
    yuan = sorted(d.id for d in facts.values() if d.unit is Unit.YUAN)
    banded = sorted(d.id for d in facts.values() if d.unit in (
        Unit.YUAN, Unit.PERSON, Unit.RATIO, Unit.POINT))  # fmt: skip
    per_unit = sorted(d.id for d in facts.values() if d.unit in (Unit.TONNE, Unit.SQUARE_METRE))
    kinds = ["grant", "rate_of", "tiers", "tax_rate", "deduction", "service"]
    kind = draw(st.sampled_from(kinds + ["per_unit"] * bool(per_unit)))
    benefit: Data = {"zh": "随机生成的待遇", "en": "randomly generated benefit"}
    if kind == "service":
        return {**benefit, "service": True}
    if kind == "grant":
        benefit["grant"] = {"amount": draw(st.sampled_from(["1000元", "5.5万元", "20万元"]))}
    elif kind in ("rate_of", "deduction"):
        rate = draw(st.sampled_from(["1%", "12.5%", "30%", "100%", "200%"]))
        benefit[kind] = {"base": draw(st.sampled_from(yuan)), "rate": rate}
    elif kind == "tax_rate":
        reduced = draw(st.sampled_from(["0%", "5%", "15%", "20%"]))
        benefit["tax_rate"] = {"base": draw(st.sampled_from(yuan)), "rate": reduced}
        if draw(st.booleans()):  # progressive: a rate by part of the base (超额累进)
            del benefit["tax_rate"]["rate"]
            benefit["tax_rate"]["parts"] = [{"up_to": "100万元", "rate": "2.5%"},
                                            {"up_to": "300.005万元", "rate": reduced}]  # fmt: skip
    elif kind == "per_unit":
        quantity = facts[draw(st.sampled_from(per_unit))]
        rate = "333.33元/吨" if quantity.unit is Unit.TONNE else "12元/平方米"
        benefit["per_unit"] = {"quantity": quantity.id, "rate": rate}
    else:
        benefit["tiers"] = draw(_tiers(facts[draw(st.sampled_from(banded))], yuan))
    if draw(st.booleans()):
        benefit["cap"] = f"{draw(st.integers(0, 300))}万元"
    return benefit


@st.composite
def _tiers(draw: st.DrawFn, by: FactPlan, yuan: list[str]) -> Data:
    cuts = sorted(set(draw(st.lists(st.integers(1, 300), min_size=1, max_size=3))))
    bounds: list[Any] = [_written(c, by.unit) for c in cuts]
    amount = st.integers(0, 500).map(lambda n: f"{n}万元")
    bands: list[Data] = [{"lt": bounds[0], "amount": draw(amount)}]
    for low, high in itertools.pairwise(bounds):
        bands.append({"ge": low, "lt": high, "amount": draw(amount)})
    bands.append({"ge": bounds[-1], "amount": draw(amount)})
    tiers: Data = {"by": by.id, "bands": bands}
    if draw(st.booleans()):  # a band paying a rate of a base
        tiers["base"] = draw(st.sampled_from(yuan))
        middle = bands[len(bands) // 2]
        middle.pop("amount")
        middle["rate"] = draw(st.sampled_from(["5%", "12.5%"]))
    return tiers


_GROUPS: dict[str, Data] = {
    "random.exclusive": {"exclusive": True},
    "random.capped": {"exclusive": True, "cap": "80万元"},
    "random.shared": {"exclusive": False, "cap": "40万元"},
}


@st.composite
def policy_documents(
    draw: st.DrawFn,
    facts: Mapping[str, FactPlan],
    zones: Iterable[str],
    number: int = 0,
    declared: list[Data] | None = None,
    operators: Iterable[str] | None = None,
) -> Data:
    """One random policy document (as data) of 1-3 policies: random conditions, exclusions,
    benefits with caps, effective periods, zones and stacking groups; `declared` facts (as
    `fact_declarations` draws them) are written in its `facts`, and `facts` must include
    them. A policy declares a fact monotone only where that holds by construction (its amount
    is a rate of it and no condition reads it)."""
    zone_list = sorted(zones)
    ops = None if operators is None else list(operators)
    policies = [
        draw(_policy(facts, zone_list, f"random.doc{number}.p{index}", ops))
        for index in range(draw(st.integers(1, 3)))
    ]
    document: Data = {
        "id": f"random.doc{number}",
        "title": "随机生成的文件",
        "title_en": "randomly generated document",
        "issuer": "property test",
        "provenance": "illustrative",
        "zones": [draw(st.sampled_from(zone_list))],
        "policies": policies,
    }
    if declared:
        document["facts"] = declared
    return document


@st.composite
def _policy(
    draw: st.DrawFn,
    facts: Mapping[str, FactPlan],
    zones: list[str],
    policy_id: str,
    operators: list[str] | None,
) -> Data:
    policy: Data = {
        "id": policy_id,
        "title": "随机生成的政策",
        "title_en": "randomly generated policy",
        "benefit": draw(_benefit(facts)),
    }
    if draw(st.booleans()):
        policy["when"] = draw(condition_trees(facts, operators=operators))
    if draw(st.integers(0, 3)) == 0:
        policy["unless"] = [draw(leaf_conditions(facts, operators, zones))]
    if draw(st.integers(0, 3)) == 0:
        policy["zones"] = draw(st.lists(st.sampled_from(zones), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        start = draw(st.dates(date(2015, 1, 1), date(2030, 12, 31)))
        until = start + timedelta(days=draw(st.integers(0, 3000)))
        policy["effective"] = {"from": start, "until": until}
    attaches = draw(st.sampled_from([None, "application", "tax_year"]))
    if attaches is not None:
        policy["attaches"] = attaches
    group = draw(st.sampled_from([None, *_GROUPS]))
    if group is not None:
        policy["stacking"] = {"group": group, **_GROUPS[group]}
    base = (policy["benefit"].get("rate_of") or {}).get("base")
    if base is not None:
        read = _read_from([policy.get("when"), *policy.get("unless", [])])
        if not any(facts[base].profile_inputs & facts[f].profile_inputs for f in read):
            policy["monotone"] = [base]
    return policy


def _read_from(nodes: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, dict):
            if "fact" in node:
                found.add(node["fact"])
            found |= _read_from(v for k, v in node.items() if k in ("all", "any", "not"))
        elif isinstance(node, list):
            found |= _read_from(node)
    return found


def policy_sets(
    facts: Mapping[str, FactPlan] | None = None,
    zones: Iterable[str] = (NATIONAL, "shanxi", "taiyuan"),
    declare: bool = True,
    operators: Iterable[str] | None = None,
) -> st.SearchStrategy[list[Data]]:
    """Random policy sets: 1-3 documents over the built-in catalogue (or `facts`); with
    `declare`, the first document declares facts of every source kind (`fact_declarations`),
    which every document's conditions and benefits may name. `operators` restricts the
    comparisons drawn (a back end that lacks some)."""
    zone_list = list(zones)
    ops = None if operators is None else list(operators)

    @st.composite
    def build(draw: st.DrawFn) -> list[Data]:
        declared = draw(fact_declarations()) if declare and facts is None else []
        known = dict(facts) if facts is not None else planned(declared)
        count = draw(st.integers(1, 3))
        return [
            draw(policy_documents(known, zone_list, i, declared if i == 0 else None, ops))
            for i in range(count)
        ]

    return build()


def write_policy_set(documents: list[Data], directory: Path) -> Path:
    """Write documents as YAML files into `directory` (to load them with `PolicySet`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for document in documents:
        path = directory / f"{document['id']}.yaml"
        path.write_text(
            yaml.dump(plain(document), Dumper=Dumper, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return directory
