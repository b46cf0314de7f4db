"""Hypothesis properties of the evaluator: soundness of unknowns (filling in what a profile
left out never flips a decided verdict), and determinism on the generated sets and profiles
that soundness uses. Thread safety is in test_thread_safety.py, the loader on arbitrary YAML
in test_loader_fuzz.py."""

from __future__ import annotations

import copy
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from conftest import AS_OF, examples, load_documents
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import (
    PolicySet,
    Status,
    parse_profile,
)

# Examples per property test under the CI profile.
SOUND_BUNDLED, SOUND_RANDOM = examples(100), examples(40)
DETERMINISTIC_RANDOM, DETERMINISTIC_BUNDLED = examples(15), examples(40)

DECIDED = (Status.ELIGIBLE, Status.INELIGIBLE)
YEARS = range(2021, 2027)
FIN_LINES = ("revenue", "total_income", "main_business_revenue", "rd_expense",
             "rd_expense_domestic", "high_tech_revenue", "total_cost", "taxable_income",
             "tax_paid", "output_value", "fixed_asset_investment", "total_assets",
             "total_liabilities", "net_assets")  # fmt: skip
SIGNED_LINES = ("taxable_income", "net_assets")
ZONES = ("national", "shanxi", "taiyuan", "zgq", "jinzhong-dz", "guangling", "guangling-etdz")
# Thresholds of the bundled policies, so that generated figures land on their edges.
EDGES = [Decimal(v) for v in ("0", "3000000", "50000000", "50000001", "200000000", "200000001")]

money = st.one_of(
    st.sampled_from(EDGES),
    st.integers(0, 300_000_000).map(Decimal),
    st.decimals(0, 10_000_000, places=2, allow_nan=False, allow_infinity=False),
)
days = st.dates(date(2015, 1, 1), date(2027, 12, 31))


@st.composite
def full_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """A profile that states everything the built-in catalogue reads, consistently: no
    accounts before the registration year, no more S&T staff than employees."""
    registered = draw(st.dates(date(2015, 1, 1), date(2026, 6, 30)))
    employees = draw(st.integers(0, 600))
    financials: dict[int, dict[str, Decimal]] = {}
    for year in YEARS:
        if year < registered.year:
            continue
        line_values = {}
        for line in FIN_LINES:
            value = draw(money)
            if line in SIGNED_LINES and draw(st.booleans()):
                value = -value
            line_values[line] = value
        # parts within their wholes, as the profile schema requires
        for part, whole in (("rd_expense_domestic", "rd_expense"), ("main_business_revenue", "revenue")):
            if part in line_values and whole in line_values:
                line_values[part] = min(line_values[part], line_values[whole])
        financials[year] = line_values
    ip_item = st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["invention_patent", "utility_model", "software_copyright",
                                     "trademark", "plant_variety", "design_patent"]),
            "count": st.integers(1, 5),
            "acquisition": st.sampled_from(["self_developed", "transfer", "licence", "merger"]),
            "main_product": st.booleans(),
        }
    )
    record = st.fixed_dictionaries(
        {
            "occurred": days,
            "kind": st.sampled_from(["safety_accident", "quality_accident",
                                     "environmental_violation", "tax_violation"]),
            "severity": st.sampled_from(["major", "serious", "general"]),
        }
    )
    certificate = st.fixed_dictionaries(
        {"kind": st.sampled_from(["hnte", "tech_sme", "little_giant"]), "issued": days}
    )
    profile = {
        "zone": draw(st.sampled_from(ZONES)),
        "registration_date": registered,
        "industry_code": draw(st.sampled_from(["C3976", "I6513", "C3216", "F5191"])),
        "resident_enterprise": draw(st.booleans()),
        "audit_collection": draw(st.booleans()),
        "restricted_industry": draw(st.booleans()),
        "employees": employees,
        "tech_staff": draw(st.integers(0, employees)),
        "financials": financials,
        "certifications": draw(st.lists(certificate, max_size=3)),
        "intellectual_property": draw(st.lists(ip_item, max_size=3)),
        "compliance": {
            "tax_credit_rating": draw(st.sampled_from(["A", "B", "M", "C", "D"])),
            "records": draw(st.lists(record, max_size=3)),
            "abnormal_operations_list": draw(st.booleans()),
            "serious_dishonesty_list": draw(st.booleans()),
        },
        "facts": {
            "hnte_core_ip_role": draw(st.booleans()),
            "hnte_key_field": draw(st.booleans()),
            "hnte_innovation_score": draw(st.sampled_from([0, 60, 70, 71, 85, 100])),
        },
    }
    if draw(st.booleans()):
        _near_hnte(draw, profile)
    return profile


def _near_hnte(draw: st.DrawFn, profile: dict[str, Any]) -> None:
    """Make a profile meet every HNTE condition but up to two, which are put on their edges,
    so that eligible, ineligible and unknown verdicts all occur."""
    edges = draw(st.sets(st.sampled_from(["registered", "resident", "ip", "staff", "score",
                                          "incident", "ratio", "domestic", "high_tech"]),
                         max_size=2))  # fmt: skip

    def pick(edge: str, passing: Any, on_edge: st.SearchStrategy[Any]) -> Any:
        return draw(on_edge) if edge in edges else passing

    registered = pick("registered", date(2018, 3, 1),
                      st.dates(date(2025, 1, 1), date(2026, 12, 31)))  # fmt: skip
    profile["registration_date"] = registered
    profile["resident_enterprise"] = pick("resident", True, st.booleans())
    employees = draw(st.integers(10, 600))
    profile["employees"] = employees
    staff = pick("staff", 1, st.integers(-1, 1))
    profile["tech_staff"] = max(0, min(employees, employees // 10 + staff))
    profile["facts"] = {
        "hnte_core_ip_role": True,
        "hnte_key_field": True,
        "hnte_innovation_score": pick("score", 85, st.sampled_from([70, 71])),
    }
    acquisition = pick("ip", "self_developed", st.sampled_from(["transfer", "licence"]))
    profile["intellectual_property"] = [{"kind": "invention_patent", "acquisition": acquisition}]
    incident = {"occurred": date(2026, 6, 1), "kind": "safety_accident", "severity": "major"}
    profile["compliance"]["records"] = pick("incident", [], st.just([incident]))
    ratio = pick("ratio", Decimal("0.07"),
                 st.sampled_from([Decimal(r) for r in ("0.0299", "0.03", "0.04", "0.05")]))  # fmt: skip
    domestic = pick("domestic", Decimal(1), st.sampled_from([Decimal("0.59"), Decimal("0.6")]))
    high_tech = pick("high_tech", Decimal("0.9"), st.sampled_from([Decimal("0.59"), Decimal("0.6")]))
    financials = {}
    for year in YEARS:
        if year < registered.year:
            continue
        revenue = draw(st.sampled_from(EDGES[1:]))
        financials[year] = {
            "revenue": revenue,
            "total_income": revenue,
            "rd_expense": revenue * ratio,
            "rd_expense_domestic": revenue * ratio * domestic,
            "high_tech_revenue": revenue * high_tech,
            "taxable_income": draw(money),
            "total_assets": draw(money),
        }
    profile["financials"] = financials


def droppable(profile: dict[str, Any]) -> list[tuple[str | int, ...]]:
    """Every path that can be left out: a field, one financial line, one extra fact, a whole
    list. (Leaving out one item of a list would state something false, not something unknown.)"""
    paths: list[tuple[str | int, ...]] = [(key,) for key in profile]
    for year, lines in profile["financials"].items():
        paths.append(("financials", year))
        paths.extend(("financials", year, line) for line in lines)
    paths.extend(("compliance", key) for key in profile["compliance"])
    paths.extend(("facts", key) for key in profile["facts"])
    return paths


@st.composite
def full_and_partial(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    full = draw(full_profiles())
    # Each path is dropped with one chance in `odds`: some partial profiles miss a little,
    # some miss most of what they could state.
    odds = draw(st.sampled_from([2, 4, 10]))
    dropped = [path for path in droppable(full) if draw(st.integers(1, odds)) == 1]
    partial = copy.deepcopy(full)
    for path in dropped:
        node: Any = partial
        for step in path[:-1]:
            node = node.get(step, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return full, partial


def assert_sound(policy_set: PolicySet, full: dict[str, Any], partial: dict[str, Any],
                 as_of: date) -> None:  # fmt: skip
    complete = policy_set.evaluate(parse_profile(full), as_of)
    known = policy_set.evaluate(parse_profile(partial), as_of)
    for whole, part in zip(complete.results, known.results, strict=True):
        if part.status in DECIDED:
            assert whole.status is part.status, (whole.policy_id, part.missing_inputs)
        if part.status is Status.NOT_IN_FORCE and whole.status is not Status.NOT_IN_FORCE:
            # only the zone may be unknown in the partial profile: out of force stays out
            raise AssertionError(f"{whole.policy_id}: not in force only when the zone is known")


as_of_dates = st.sampled_from([AS_OF, date(2025, 12, 31), date(2026, 1, 1), date(2027, 12, 31),
                               date(2028, 1, 1), date(2024, 6, 30)])  # fmt: skip


@settings(max_examples=SOUND_BUNDLED)
@given(pair=full_and_partial(), as_of=as_of_dates)
def test_soundness_bundled_policies(
    policies: PolicySet, pair: tuple[dict[str, Any], dict[str, Any]], as_of: date
) -> None:
    assert_sound(policies, *pair, as_of)


# --- random small policy sets -----------------------------------------------------------------

# Facts of every type with thresholds in their own unit.
LEAF_SPECS: list[tuple[str, list[str], st.SearchStrategy[Any]]] = [
    ("employees", ["eq", "ne", "lt", "le", "gt", "ge"], st.integers(0, 600)),
    ("revenue", ["lt", "le", "gt", "ge"], st.sampled_from(["0元", "5000万元", "2亿元", "300万元"])),
    ("taxable_income", ["le", "gt"], st.sampled_from(["-1万元", "0元", "300万元"])),
    ("tech_staff_share", ["ge", "lt"], st.sampled_from(["10%", "30%", "0%", "100%"])),
    ("rd_intensity_3y", ["ge", "gt"], st.sampled_from(["3%", "4%", "5%"])),
    ("revenue_growth", ["ge", "lt"], st.sampled_from(["-10%", "0%", "15%"])),
    ("resident_enterprise", ["eq", "ne"], st.booleans()),
    ("restricted_industry", ["eq"], st.booleans()),
    ("registration_date", ["le", "ge"], st.sampled_from(["-1年", "-3年", "-6个月", "-30天"])),
    ("registration_date", ["within"], st.sampled_from(["1年", "2年", "18个月"])),
    ("hnte_valid", ["eq"], st.booleans()),
    ("major_incidents_1y", ["gt", "eq"], st.integers(0, 2)),
    ("ip_owned", ["ge"], st.integers(0, 4)),
    ("hnte_innovation_score", ["gt", "ge"], st.sampled_from([60, 70, 80])),
    ("hnte_key_field", ["eq"], st.booleans()),
    ("tax_credit_rating", ["in", "not_in"], st.just(["A", "B"])),
    ("industry_code", ["prefix_in"], st.just(["C", "I65"])),
]


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    fact, ops, values = draw(st.sampled_from(LEAF_SPECS))
    return {"fact": fact, draw(st.sampled_from(ops)): draw(values)}


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=8,
)


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    policies = []
    for index in range(draw(st.integers(1, 4))):
        policy: dict[str, Any] = {
            "id": f"gen.doc.p{index}",
            "title": f"策略{index}",
            "title_en": f"policy {index}",
            "when": draw(conditions),
            "unless": draw(st.lists(conditions, max_size=1)),
            "benefit": {"grant": {"amount": f"{draw(st.integers(1, 50))}万元"}, "zh": "奖", "en": "award"},
            "stacking": draw(st.sampled_from([None, {"group": "g"}, {"group": "h", "exclusive": False, "cap": "30万元"}])),
        }  # fmt: skip
        if draw(st.booleans()):
            policy["zones"] = [draw(st.sampled_from(["jinzhong-dz", "zgq", "guangling"]))]
        policies.append({k: v for k, v in policy.items() if v is not None})
    return {
        "id": "gen.doc",
        "title": "生成",
        "title_en": "generated",
        "issuer": "测试",
        "provenance": "illustrative",
        "zones": ["national"],
        "policies": policies,
    }


def load_generated(document: dict[str, Any]) -> PolicySet:
    with tempfile.TemporaryDirectory() as directory:
        return load_documents(Path(directory), document, name="generated.yaml")


@settings(max_examples=SOUND_RANDOM)
@given(document=policy_documents(), pair=full_and_partial(), as_of=as_of_dates)
def test_soundness_random_policy_sets(
    document: dict[str, Any], pair: tuple[dict[str, Any], dict[str, Any]], as_of: date
) -> None:
    assert_sound(load_generated(document), *pair, as_of)


@settings(max_examples=DETERMINISTIC_RANDOM)
@given(document=policy_documents(), profile=full_profiles())
def test_random_policy_sets_are_deterministic(
    document: dict[str, Any], profile: dict[str, Any]
) -> None:
    first = load_generated(document).evaluate(parse_profile(profile), AS_OF, explain=True)
    again = load_generated(document).evaluate(parse_profile(profile), AS_OF, explain=True)
    assert first.model_dump(mode="json") == again.model_dump(mode="json")
    # the report is JSON-ready and agrees with itself
    assert first.total == sum(
        (r.amount for r in first.results if r.status is Status.ELIGIBLE and r.amount), Decimal(0)
    )
    for result in first.results:
        assert result.amount is None or result.amount >= 0
        if result.amount_alone is not None and result.amount is not None:
            assert result.amount <= result.amount_alone


@settings(max_examples=DETERMINISTIC_BUNDLED)
@given(profile=full_profiles(), as_of=as_of_dates)
def test_bundled_evaluation_is_deterministic(
    policies: PolicySet, profile: dict[str, Any], as_of: date
) -> None:
    parsed = parse_profile(profile)
    first = policies.evaluate(parsed, as_of, explain=True).model_dump(mode="json")
    assert policies.evaluate(parsed, as_of, explain=True).model_dump(mode="json") == first
    # the explanation agrees with the verdict
    for result in first["results"]:
        if result["status"] in ("eligible", "ineligible"):
            want = "true" if result["status"] == "eligible" else "false"
            assert result["trace"]["outcome"] == want
