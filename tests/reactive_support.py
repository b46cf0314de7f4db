"""Policy sets and enterprise updates for the reactive back end's agreement tests.

Random policy sets come from `engine.testing.policy_sets` (facts of every source kind declared
by the documents, judgement facts and formulas over them, every operator durable_rules is
given). The set near durable_rules' limits is built here, deterministically. Profile values sit
on and around the thresholds (equal, one unit off, a hair off in the 20th decimal, tiny and
huge numbers whose JSON needs an exponent), so that every comparison's boundary is exercised.
"""

from __future__ import annotations

from typing import Any

from incentives.engine.testing.documents import OPERATORS

# Every operator but `contains`: lists of codes have no durable_rules form here.
REACTIVE_OPERATORS = sorted({op for ops in OPERATORS.values() for op in ops} - {"contains"})

_LIMIT_LEAVES: list[dict[str, Any]] = [
    {"fact": "employees", "ge": 10},
    {"fact": "tech_staff_share", "lt": "20%"},
    {"fact": "revenue", "between": ["5000万元", "2亿元"]},
    {"fact": "registration_date", "le": "-1年"},
    {"fact": "tax_credit_rating", "in": ["A", "B"]},
    {"fact": "industry_code", "prefix_in": ["C39", "I65"]},
    {"fact": "hnte_key_field", "eq": True},
    {"fact": "hnte_innovation_score", "gt": 70},
]


def limits_document(policies: int, set_values: list[str], depth: int) -> dict[str, Any]:
    """A document of `policies` policies that fills several rulesets: an `in` and a `not_in`
    of `set_values`, a tree `depth` and/or groups deep and its negation, and many small trees."""
    deep: dict[str, Any] = {"fact": "employees", "ge": 10}
    for level in range(depth):  # alternating all/any: each level adds a group to T and to F
        other = {"fact": "revenue", "gt": f"{level}元"}
        deep = {"any" if level % 2 else "all": [deep, other]}
    whens: list[Any] = [
        {"fact": "employees", "in": set_values},
        {"fact": "employees", "not_in": set_values},
        deep,
        {"not": deep},
    ]
    for index in range(4, policies):
        leaves = [_LIMIT_LEAVES[(index + k) % len(_LIMIT_LEAVES)] for k in range(index % 3 + 1)]
        whens.append({("all", "any")[index % 2]: leaves} if len(leaves) > 1 else leaves[0])
    docs = []
    for index, when in enumerate(whens):
        docs.append({
            "id": f"test.limits.p{index}", "title": f"策略{index}", "title_en": f"policy {index}",
            "benefit": {"service": True, "zh": "服务", "en": "service"},
            "zones": [["national"], ["shanxi"], ["jinzhong-dz"]][index % 3] if index >= 4
            else ["national"],
            "when": when,
        })  # fmt: skip
    return {
        "id": "test.limits",
        "title": "极限",
        "title_en": "near the limits",
        "issuer": "test",
        "provenance": "illustrative",
        "zones": ["national"],
        "policies": docs,
    }


# --- enterprise updates -------------------------------------------------------------------------

FIELD_VALUES: dict[str, list[Any]] = {
    "zone": ["jinzhong-dz", "taiyuan", "guangling-etdz", "pingyao", "national"],
    "employees": [0, 9, 10, 11, 100, 299, 300, 301],
    "tech_staff": [0, 1, 10, 30, 31],
    "registration_date": ["2019-05-10", "2020-06-01", "2023-11-24", "2025-11-24", "2026-11-24"],
    "resident_enterprise": [True, False],
    "restricted_industry": [True, False],
    "industry_code": ["C3911", "I6510", "C4210", "A0111", "C39"],
    "financials.2025.revenue": [
        "0",
        "0.00001",
        "0.000010000000000000000001",
        "1",
        "5000万元",
        "50000000.000000000001",
        "49999999.99999999999",
        "2亿元",
        "1000000000000万元",
        "10000000000000000",
    ],
    "financials.2025.rd_expense": ["0", "1500000", "2500000", "3000000", "0.00001"],
    "financials.2025.total_assets": ["4000万元", "5000万元", "6000万元"],
    "compliance.tax_credit_rating": ["A", "B", "M"],
    "compliance.abnormal_operations_list": [True, False],
    "facts.hnte_key_field": [True, False],
    "facts.hnte_innovation_score": [60, 70, 71],
    "certifications": [
        [],
        [{"kind": "hnte", "issued": "2024-01-01"}],
        [{"kind": "hnte", "issued": "2022-12-20"}, {"kind": "hnte", "issued": "2026-01-15"}],
    ],
    # inputs of derived facts: the project applied for, income by industry, R&D staff
    "projects": [
        [{"name": "一期", "investment": "1亿元", "equipment_investment": "3000万元", "industrial": True}],
        [{"name": "一期", "investment": "1亿元"}, {"name": "二期", "investment": "3亿元"}],
        [],
    ],
    "financials.2025.income_by_industry": [{"C3976": "800万元", "F5191": "200万元"}, {"F5191": "1"}],
    "financials.2023.revenue": ["1000万元", "0"],
    "rd_staff": [0, 30],
}


def nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for step in reversed(path.split(".")):
        out = {step: out}
    return dict(out)
