"""Shared fixtures and helpers: the bundled policy set (compiled once), policy sets written
inline (`inline_set`), profile builders, one policy's status, and the hypothesis profiles.

Hypothesis profiles (`INCENTIVES_HYPOTHESIS`; default `ci` where `CI` is set, else `dev`):

- `ci`: every property test runs the example count written beside it, sized for CI's budget;
- `dev`: a quarter of it (at least one), a quick inner loop;
- `thorough`: ten times as many, to search longer (`INCENTIVES_HYPOTHESIS_SCALE` sets another
  factor, e.g. 200 for an overnight run).

Tests never set `deadline` or the health checks of machine load themselves: the profile does
(the machine is shared, so no test has a deadline). A test states only its count, through
`examples(n)`, and `REUSES_FIXTURES` where it deliberately shares a function-scoped fixture
between examples.
"""

from __future__ import annotations

import copy
import itertools
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from incentives.engine import PolicySet, Profile, Status, parse_profile

# --- the compiled library's cache ---------------------------------------------------------------

# The suite keeps the compiled library's cache (`engine.compile.cache`) out of the user's own
# cache directory: one directory in the temporary directory, shared by the suite's processes and
# runs (an entry is keyed by its inputs). A test about the cache sets its own; a user who set
# INCENTIVES_CACHE_DIR gets that one.
os.environ.setdefault(
    "INCENTIVES_CACHE_DIR",
    os.path.join(tempfile.gettempdir(), f"incentives-tests-{getattr(os, 'getuid', lambda: 0)()}"),
)

# --- hypothesis profiles ----------------------------------------------------------------------

_SCALES = {"dev": 0.25, "ci": 1.0, "thorough": 10.0}
_LOAD = [HealthCheck.too_slow, HealthCheck.data_too_large]  # a busy machine, large documents
settings.register_profile("ci", deadline=None, suppress_health_check=_LOAD, print_blob=True)
settings.register_profile("dev", deadline=None, suppress_health_check=_LOAD)
settings.register_profile("thorough", deadline=None, suppress_health_check=_LOAD, print_blob=True)
HYPOTHESIS_PROFILE = os.environ.get("INCENTIVES_HYPOTHESIS") or (
    "ci" if os.environ.get("CI") else "dev"
)
if HYPOTHESIS_PROFILE not in _SCALES:
    raise pytest.UsageError(
        f"INCENTIVES_HYPOTHESIS={HYPOTHESIS_PROFILE!r}: use one of {', '.join(_SCALES)}"
    )
settings.load_profile(HYPOTHESIS_PROFILE)


def _scale() -> float:
    raw = os.environ.get("INCENTIVES_HYPOTHESIS_SCALE")
    if raw is None:
        return _SCALES[HYPOTHESIS_PROFILE]
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise pytest.UsageError(f"INCENTIVES_HYPOTHESIS_SCALE={raw!r}: use a positive number")
    return value


EXAMPLE_SCALE = _scale()


def examples(ci: int) -> int:
    """The example count of a property test that runs `ci` examples under the CI profile."""
    return max(1, round(ci * EXAMPLE_SCALE))


# For a test that shares a function-scoped fixture (its temporary directory) between its
# examples on purpose: the profile's settings plus that health check.
REUSES_FIXTURES = settings(suppress_health_check=[*_LOAD, HealthCheck.function_scoped_fixture])

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
    "workforce": 104,  # 从业人数: employees under contract plus dispatched workers
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


def status_of(
    policies: PolicySet, profile: Profile, policy_id: str, as_of: date = AS_OF
) -> Status:
    """The status of one policy for `profile` on `as_of`."""
    return policies.evaluate(profile, as_of, policy_ids=[policy_id]).results[0].status


# --- policy sets written inline -----------------------------------------------------------------


def write_policy(directory: Path, name: str, text: str) -> Path:
    """`text`, as indented in the test (it is dedented), as the file `name` of `directory`."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_documents(
    directory: Path, *documents: str | Mapping[str, Any], name: str = "doc.yaml"
) -> Path:
    """A policy directory of `documents`, each YAML text as written in the test or a mapping
    (dumped as YAML). One document is the file `name`; several are `name` numbered (`doc-1.yaml`,
    `doc-2.yaml`, …)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    for number, document in enumerate(documents, start=1):
        text = (
            document
            if isinstance(document, str)
            else yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False)
        )
        write_policy(directory, name if len(documents) == 1 else f"{stem}-{number}{suffix}", text)
    return directory


def load_documents(
    directory: Path, *documents: str | Mapping[str, Any], name: str = "doc.yaml"
) -> PolicySet:
    """The policy set of `documents` written into `directory` (see `write_documents`); for
    module-scoped fixtures and hypothesis tests, which cannot use `inline_set`."""
    return PolicySet(write_documents(directory, *documents, name=name))


InlineSet = Callable[..., PolicySet]


@pytest.fixture
def inline_set(tmp_path: Path) -> InlineSet:
    """`inline_set(text, ..., name="doc.yaml")`: the policy set of documents written in the test
    (see `write_documents`). Each call has a directory of its own under `tmp_path`
    (`policies`, `policies-2`, …), so a test may build several sets; a set that does not load
    raises `PolicyError` from the call."""
    calls = itertools.count(1)

    def load(*documents: str | Mapping[str, Any], name: str = "doc.yaml") -> PolicySet:
        number = next(calls)
        directory = tmp_path / ("policies" if number == 1 else f"policies-{number}")
        return load_documents(directory, *documents, name=name)

    return load


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
