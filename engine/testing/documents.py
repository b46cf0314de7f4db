"""Random policy documents for property tests, written as YAML and loaded by the real loader:
condition trees over the facts of a plan, benefits of every kind with caps, effective periods,
exclusive and capped stacking groups."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from ..compile.facts import plan_facts
from ..compile.loader import declare_facts
from ..compile.plan import FactPlan, FactType
from ..errors import Problem
from ..model.units import Unit
from ..model.zones import NATIONAL
from .profiles import _RATINGS
from .scenarios import Data, Dumper, plain


def catalogue_facts() -> dict[str, FactPlan]:
    """The built-in fact catalogue, planned."""
    problems: list[Problem] = []
    facts = plan_facts(declare_facts([], problems), problems)
    assert not problems, problems
    return facts


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


def leaf_conditions(facts: Mapping[str, FactPlan]) -> st.SearchStrategy[Data]:
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


def condition_trees(facts: Mapping[str, FactPlan], max_leaves: int = 6) -> st.SearchStrategy[Data]:
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


def _footprint(name: str, facts: Mapping[str, FactPlan]) -> frozenset[str]:
    """The profile inputs a fact reads (to declare monotonicity only where it holds)."""
    return facts[name].profile_inputs


@st.composite
def _benefit(draw: st.DrawFn, facts: Mapping[str, FactPlan]) -> Data:
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
    draw: st.DrawFn, facts: Mapping[str, FactPlan], zones: Iterable[str], number: int = 0
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
    facts: Mapping[str, FactPlan] | None = None,
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
            yaml.dump(plain(document), Dumper=Dumper, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return directory
