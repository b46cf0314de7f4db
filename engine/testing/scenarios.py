"""Scenarios and their data: a generated case (a profile as data, an evaluation date, a filler
profile, a step size), the failure an invariant raises, and the plain-data helpers around them
(YAML a person can run `incentives check` on, data made valid, unknowns filled in)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import yaml

from ..errors import ProfileError
from ..model.profile import (
    FINANCIAL_PARTS,
    FINANCIAL_SHARES,
    PROFILE_PARTS,
    Profile,
    parse_profile,
)

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
        plain(data), Dumper=Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False
    )


class Dumper(yaml.SafeDumper):
    pass


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value.normalize(), "f"))


Dumper.add_representer(Decimal, _represent_decimal)


def plain(value: Any) -> Any:
    """Data as YAML or JSON holds it: sets sorted into lists, tuples as lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [plain(v) for v in items]
    return value


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
                delete_path(data, name.split("."))
    return data, parse_profile(data)


def delete_path(data: Data, steps: list[str]) -> None:
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


_Whole = tuple[tuple[str, ...], str]  # parts that together are at most the whole
_PROFILE_WHOLES: list[_Whole] = [((part,), whole) for part, (whole, _) in PROFILE_PARTS.items()]
_LINE_WHOLES: list[_Whole] = [
    *(((part,), whole) for part, (whole, _) in FINANCIAL_PARTS.items()),
    *((parts, whole) for whole, (parts, _) in FINANCIAL_SHARES.items()),
]


def fill_in(data: Data, filler: Data) -> Data:
    """`data` with every field it lacks taken from `filler` (what is known stays). A filled-in
    registration date is kept consistent with the profile: not after its first fiscal year
    with figures (a firm has no accounts for years before it existed)."""
    merged = _merge(data, filler)
    years = [y for y, line in (data.get("financials") or {}).items() if line]
    if "registration_date" not in data and "registration_date" in merged and years:
        merged["registration_date"] = min(merged["registration_date"], date(min(years), 1, 1))
    _drop_filled_conflicts(data, merged, _PROFILE_WHOLES)
    for year, line in (merged.get("financials") or {}).items():
        known = (data.get("financials") or {}).get(year)
        if isinstance(line, dict):
            _drop_filled_conflicts(known if isinstance(known, dict) else {}, line, _LINE_WHOLES)
    return merged


def _drop_filled_conflicts(known: Data, merged: Data, wholes: list[_Whole]) -> None:
    """Parts stated above their whole (`PROFILE_PARTS`, `FINANCIAL_PARTS`, `FINANCIAL_SHARES`)
    because one side was filled in: the filled-in side is left out again (it stays unknown),
    so that what was known is never made invalid by what was filled in."""
    for parts, whole in wholes:
        total, stated = merged.get(whole), [merged.get(part) for part in parts]
        amounts = [v for v in stated if isinstance(v, Decimal | int) and not isinstance(v, bool)]
        if isinstance(total, Decimal | int) and len(amounts) == len(parts) and sum(amounts) > total:
            for name in (whole, *parts):
                if name not in known:
                    merged.pop(name, None)


def _merge(data: Data, filler: Data) -> Data:
    merged = copy.deepcopy(data)
    for key, value in filler.items():
        if key not in merged:
            merged[key] = copy.deepcopy(value)
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
    return merged
