"""A seeded synthetic register of enterprises with realistic distributions (flat rows).

Sizes follow rough shapes of a Chinese provincial register: revenue log-normal around ¥20M
(wide spread), R&D intensity mostly 0–8%, staff log-normal around 60, ~30% of firms holding IP,
~15% an HNTE certificate, a few compliance records; each field is absent (unknown) with a small
probability, as in real registers. Every row is valid and synthetic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from incentives.engine.batch.columns import SCALE

ZONES = [
    "jinzhong-dz",
    "guangling-etdz",
    "taiyuan",
    "linfen-etdz",
    "gaoping",
    "pingyao",
    "changzhi",
]
IP_KINDS = ["invention_patent", "utility_model", "software_copyright", "design_patent", "trademark"]


def _yuan(rng: random.Random, median: float, sigma: float) -> int:
    """A log-normal amount in whole yuan, as millionths."""
    return int(rng.lognormvariate(math.log(median), sigma)) * SCALE


def flat_row(rng: random.Random, number: int, last_year: int) -> dict[str, Any]:
    def maybe(value: Any, p_unknown: float = 0.05) -> Any:
        return None if rng.random() < p_unknown else value

    employees = max(1, int(rng.lognormvariate(math.log(60), 1.0)))
    row: dict[str, Any] = {
        "row": number,
        "credit_code": None,
        "zone": maybe(rng.choice(ZONES), 0.02),
        "registration_date": maybe(date(2000, 1, 1) + timedelta(days=rng.randrange(9500))),
        "resident_enterprise": maybe(rng.random() < 0.97),
        "restricted_industry": maybe(rng.random() < 0.03),
        "employees": maybe(employees * SCALE),
        "tech_staff": maybe(int(employees * rng.uniform(0, 0.4)) * SCALE),
    }
    revenue = _yuan(rng, 2e7, 1.3)
    for back in range(3):
        year = last_year - back
        rev = int(revenue * rng.uniform(0.7, 1.1) ** back) // SCALE * SCALE
        rd = int(rev * rng.uniform(0, 0.09)) // SCALE * SCALE
        row[f"financials.{year}.revenue"] = maybe(rev)
        row[f"financials.{year}.rd_expense"] = maybe(rd)
        row[f"financials.{year}.rd_expense_domestic"] = maybe(
            int(rd * rng.uniform(0.5, 1)) // SCALE * SCALE
        )
        if back == 0:
            row[f"financials.{year}.total_income"] = maybe(int(rev * 1.02) // SCALE * SCALE)
            row[f"financials.{year}.high_tech_revenue"] = maybe(
                int(rev * rng.uniform(0, 1)) // SCALE * SCALE
            )
            row[f"financials.{year}.taxable_income"] = maybe(
                int(rev * rng.uniform(-0.05, 0.15)) // SCALE * SCALE
            )
            row[f"financials.{year}.total_assets"] = maybe(
                int(rev * rng.uniform(0.5, 3)) // SCALE * SCALE
            )
    row["intellectual_property"] = maybe(
        [
            {"kind": rng.choice(IP_KINDS), "count": rng.randint(1, 5), "acquisition": "self_developed",
             "main_product": rng.random() < 0.8, "granted": None}
            for _ in range(rng.choice([0, 0, 1, 2, 3]))
        ], 0.1)  # fmt: skip
    certs = []
    if rng.random() < 0.15:
        certs.append({"kind": "hnte", "issued": date(last_year - rng.randrange(5), 11, 20),
                      "expires": None, "number": None})  # fmt: skip
    row["certifications"] = maybe(certs, 0.1)
    records = []
    if rng.random() < 0.05:
        records.append({"occurred": date(last_year, rng.randint(1, 12), 1), "kind": "safety_accident",
                        "severity": rng.choice(["major", "general"]), "description": None})  # fmt: skip
    row["compliance.records"] = maybe(records, 0.1)
    facts: dict[str, Any] = {}
    if rng.random() < 0.7:
        row["facts.hnte_core_ip_role"] = rng.random() < 0.7
        row["facts.hnte_key_field"] = rng.random() < 0.6
        row["facts.hnte_innovation_score"] = rng.randint(40, 95) * SCALE
    del facts
    return row


def rows(n: int, seed: int, last_year: int) -> Iterator[dict[str, Any]]:
    """The register's rows one at a time (to build large frames in chunks)."""
    rng = random.Random(seed)
    for i in range(n):
        yield flat_row(rng, i + 1, last_year)


def register(n: int, seed: int, last_year: int) -> list[dict[str, Any]]:
    return list(rows(n, seed, last_year))


def to_profile_data(row: dict[str, Any]) -> dict[str, Any]:
    """The nested profile of a flat row (for the reference evaluator and the hand-written one)."""
    data: dict[str, Any] = {"facts": {}}
    for key, value in row.items():
        if value is None or key in ("row", "credit_code"):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value) / SCALE
        parts = key.split(".")
        if parts[0] == "financials":
            data.setdefault("financials", {}).setdefault(int(parts[1]), {})[parts[2]] = value
        elif parts[0] == "facts":
            data["facts"][parts[1]] = value
        elif parts[0] == "compliance":
            data.setdefault("compliance", {})[parts[1]] = value
        else:
            data[key] = value
    return data
