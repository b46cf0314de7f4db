"""Shared fixtures: the bundled policy set (compiled once) and profile builders."""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from incentives.engine import PolicySet, Profile, parse_profile

AS_OF = date(2026, 11, 24)

# A profile that meets every HNTE condition of 第十一条 on AS_OF (last fiscal year 2025).
HNTE_BASE: dict[str, Any] = {
    "credit_code": "91140171MA0K000214",
    "name": "测试企业",
    "synthetic": True,
    "zone": "jinzhong-dz",
    "registration_date": date(2019, 5, 10),
    "resident_enterprise": True,
    "restricted_industry": False,
    "employees": 100,
    "tech_staff": 20,
    "financials": {
        2025: {
            "revenue": "4000万元",
            "total_income": "4000万元",
            "rd_expense": "300万元",
            "rd_expense_domestic": "300万元",
            "high_tech_revenue": "3000万元",
            "taxable_income": "500万元",
            "total_assets": "8000万元",
        },
        2024: {"revenue": "3000万元", "rd_expense": "200万元", "rd_expense_domestic": "200万元"},
        2023: {"revenue": "3000万元", "rd_expense": "200万元", "rd_expense_domestic": "200万元"},
    },
    "intellectual_property": [{"kind": "invention_patent", "count": 1, "main_product": True}],
    "compliance": {"records": []},
    "certifications": [],
    "facts": {"hnte_core_ip_role": True, "hnte_key_field": True, "hnte_innovation_score": 75},
}


@pytest.fixture(scope="session")
def policies() -> PolicySet:
    return PolicySet()


def build(base: dict[str, Any], **changes: Any) -> Profile:
    """A copy of `base` with dotted-path changes; a value of None removes the field."""
    data = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for step in parents:
            key: Any = int(step) if step.isdigit() else step
            node = node.setdefault(key, {})
        key = int(last) if last.isdigit() else last
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return parse_profile(data)


@pytest.fixture
def hnte_profile() -> Callable[..., Profile]:
    return lambda **changes: build(HNTE_BASE, **changes)


def write_policy(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real HTTP service on the bundled library, one per test session (`tests/
    service_support.py`); skipped where the serve extra is not installed, except under CI."""
    from service_support import needed, start

    needed("fastapi")

    log = tmp_path_factory.mktemp("service") / "server.log"
    server = start(log)
    yield server
    server.stop()
