"""Random policy sets and enterprise updates for the reactive back end's agreement tests.

Facts, thresholds and profile values are chosen to sit on and around each other (equal, one
unit off, a hair off in the 20th decimal, tiny and huge numbers whose JSON needs an exponent),
so that every comparison's boundary is exercised.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import yaml

QUANTITY_LEAVES: dict[str, list[Any]] = {
    "employees": [10, 100, 300],
    "tech_staff_share": ["0.001%", "10%", "20%"],
    "revenue": ["0.00001元", "5000万元", "2亿元", "1000000000000万元"],
    "rd_intensity": ["3%", "5%"],
    "total_assets": ["5000万元"],
    "hnte_innovation_score": [70],  # an expert's judgement: absent → needs review
}
BOOL_LEAVES = ["resident_enterprise", "restricted_industry", "hnte_key_field",
               "abnormal_operations_list", "hnte_valid"]  # fmt: skip
CODE_VALUES = {
    "industry_code": ["C3911", "I6510", "C4210", "A0111"],
    "tax_credit_rating": ["A", "B", "M"],
}
PREFIXES = ["C39", "I65", "C", "A01"]
ZONE_SETS = [["national"], ["national"], ["jinzhong-dz"], ["shanxi"], ["guangling"]]


def _leaf(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["quantity", "quantity", "date", "bool", "code"])
    if kind == "quantity":
        fact = rng.choice(list(QUANTITY_LEAVES))
        bounds = QUANTITY_LEAVES[fact]
        op = rng.choice(["eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in"])
        if op == "between":
            low, high = sorted(rng.sample(range(len(bounds)), 2)) if len(bounds) > 1 else (0, 0)
            return {"fact": fact, "between": [bounds[low], bounds[high]]}
        if op in ("in", "not_in"):
            return {"fact": fact, op: rng.sample(bounds, rng.randint(1, len(bounds)))}
        return {"fact": fact, op: rng.choice(bounds)}
    if kind == "date":
        return rng.choice(
            [
                {"fact": "registration_date", "le": "-1年"},
                {"fact": "registration_date", "within": "3年"},
                {"fact": "registration_date", "gt": date(2020, 6, 1)},
                {"fact": "registration_date", "between": ["-10年", "-2年"]},
            ]
        )
    if kind == "bool":
        return {"fact": rng.choice(BOOL_LEAVES), rng.choice(["eq", "ne"]): rng.random() < 0.5}
    fact = rng.choice(list(CODE_VALUES))
    op = rng.choice(["eq", "ne", "in", "not_in"] + ["prefix_in"] * (fact == "industry_code"))
    if op == "prefix_in":
        return {"fact": fact, "prefix_in": rng.sample(PREFIXES, rng.randint(1, 2))}
    values = CODE_VALUES[fact]
    if op in ("in", "not_in"):
        return {"fact": fact, op: rng.sample(values, rng.randint(1, 2))}
    return {"fact": fact, op: rng.choice(values)}


def random_tree(rng: random.Random, depth: int = 3) -> dict[str, Any]:
    if depth == 0 or rng.random() < 0.35:
        return _leaf(rng)
    kind = rng.choice(["all", "any", "not"])
    if kind == "not":
        return {"not": random_tree(rng, depth - 1)}
    return {kind: [random_tree(rng, depth - 1) for _ in range(rng.randint(1, 3))]}


def random_document(rng: random.Random, policies: int, name: str = "random") -> dict[str, Any]:
    docs = []
    for index in range(policies):
        policy: dict[str, Any] = {
            "id": f"test.{name}.p{index}",
            "title": f"策略{index}",
            "title_en": f"policy {index}",
            "benefit": {"service": True, "zh": "服务", "en": "service"},
            "zones": rng.choice(ZONE_SETS),
        }
        if rng.random() < 0.9:
            policy["when"] = random_tree(rng)
        if rng.random() < 0.3:
            policy["unless"] = [random_tree(rng, 1)]
        if rng.random() < 0.1:
            policy["effective"] = {"until": date(2020, 12, 31)}
        docs.append(policy)
    return {
        "id": f"test.{name}",
        "title": "随机政策",
        "title_en": "random policies",
        "issuer": "test",
        "provenance": "illustrative",
        "zones": ["national"],
        "policies": docs,
    }


def write_set(directory: Path, documents: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for doc in documents:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        (directory / f"{doc['id']}.yaml").write_text(text, encoding="utf-8")
    return directory


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
    "certifications": [[], [{"kind": "hnte", "issued": "2024-01-01"}]],
}


def nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for step in reversed(path.split(".")):
        out = {step: out}
    return dict(out)
