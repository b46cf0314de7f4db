"""Static checks of a rule set that loads: mistakes the loader cannot refuse outright.

- tiers whose bands leave a gap or overlap at a boundary;
- `all` conditions with contradictory bounds on one fact (can never be true), and policies
  whose condition can never be true (unreachable);
- exclusive stacking groups with a single member (the exclusivity never applies);
- values of the wrong unit the loader lets through (stacking caps, monotone facts that are not
  quantities, percentages above 100% for a ratio);
- policies whose effective period lies entirely before the evaluation date;
- caps that can never bind (a fixed grant or every tier below the cap).

Every finding names the file, the line, the policy and a severity; `incentives validate`
exits 1 when any finding is an error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from ..compile.benefits import compile_band
from ..compile.conditions import (
    CLeaf,
    CNode,
    CompileError,
    DateBound,
)
from ..compile.loader import LoadedSet, load
from ..model.facts import FactDef, FactType
from ..model.language import AllOf, AnyOf
from ..model.units import (
    Unit,
    UnitError,
    format_quantity,
    parse_quantity,
)
from ..model.yamlio import Location, line_of
from ..reference.evaluate import CompiledPolicy

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    policy: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        policy = f" {self.policy}:" if self.policy else ""
        return f"{where}: {self.severity}:{policy} {self.message} [{self.code}]"


def lint(directory: Path | None, as_of: date) -> tuple[LoadedSet, list[Finding]]:
    """Load the set (raises PolicyError as the loader does) and return every finding, errors
    first, then by file and line."""
    loaded = load(directory)
    findings: list[Finding] = []
    superseded = {shown for shown, doc in loaded.documents if doc.superseded_by is not None}
    for cp in loaded.policies:
        at = _Locator(loaded, cp.id)
        findings += _tier_findings(cp, loaded.facts, at)
        findings += _condition_findings(cp, at)
        findings += _unit_findings(cp, loaded.facts, at)
        findings += _cap_findings(cp, at)
        # A superseded document is kept on purpose, for evaluations on dates before its end.
        expired = cp.effective.until is not None and cp.effective.until < as_of
        if expired and at.file not in superseded:
            path = ("effective",) if cp.policy.effective is None else (*at.base, "effective")
            findings.append(
                at.finding(
                    "warning", "expired",
                    f"its effective period ended on {cp.effective.until} (before {as_of}): it is "
                    "never in force from then on", path, absolute=cp.policy.effective is None,
                )
            )  # fmt: skip
    findings += _group_findings(loaded)
    findings += _points_findings(loaded)
    findings += _succession_findings(loaded)
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (order[f.severity], f.file or "", f.line or 0, f.code))
    return loaded, findings


class _Locator:
    """File, line and policy of a path inside one policy's document."""

    def __init__(self, loaded: LoadedSet, policy_id: str) -> None:
        self.file, index = loaded.locations.get(policy_id, ("", -1))
        self.lines: dict[Location, int] = loaded.lines.get(self.file, {})
        self.base: tuple[str | int, ...] = ("policies", index)
        self.policy = policy_id

    def finding(
        self,
        severity: Severity,
        code: str,
        message: str,
        path: tuple[str | int, ...] = (),
        absolute: bool = False,
    ) -> Finding:
        full = path if absolute or path[:2] == self.base else (*self.base, *path)
        return Finding(
            severity, code, message, self.policy, self.file or None, line_of(self.lines, full)
        )


# --- tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Band:
    low: Decimal | None
    low_in: bool
    high: Decimal | None
    high_in: bool

    def holds(self, value: Decimal) -> bool:
        above = self.low is None or value > self.low or (value == self.low and self.low_in)
        return above and (
            self.high is None or value < self.high or (value == self.high and self.high_in)
        )

    def within(self, other: _Band) -> bool:
        """Every value of this band is in `other`."""
        low_ok = other.low is None or (
            self.low is not None
            and (
                self.low > other.low
                or (self.low == other.low and (other.low_in or not self.low_in))
            )
        )
        high_ok = other.high is None or (
            self.high is not None
            and (
                self.high < other.high
                or (self.high == other.high and (other.high_in or not self.high_in))
            )
        )
        return low_ok and high_ok


def _probes(bands: list[_Band]) -> list[Decimal]:
    """Values that tell apart every region the bands' bounds delimit: each bound, the midpoints
    between neighbouring bounds, and one value beyond each end."""
    bounds = sorted({b for band in bands for b in (band.low, band.high) if b is not None})
    if not bounds:
        return [Decimal(0)]
    mids = [(a + b) / 2 for a, b in itertools.pairwise(bounds)]
    return sorted([bounds[0] - 1, *bounds, *mids, bounds[-1] + 1])


def band_findings(bands: list[_Band], by: FactDef, what: str) -> list[tuple[str, str, int]]:
    """Problems of a banded table where the first band that holds applies: (code, message,
    index of the band). A gap (values between bands in no band), a band that earlier bands
    shadow completely, and two bands that share a boundary value (含/不含 slip) or overlap
    partly. A band nested in a later one is the usual cascade (`ge: 30%`, then `ge: 25%`)."""
    assert by.unit is not None
    unit = by.unit
    found: list[tuple[str, str, int]] = []
    probes = _probes(bands)
    covered = [any(b.holds(v) for b in bands) for v in probes]
    bounds = {b.low for b in bands} | {b.high for b in bands}
    k = 0
    while k < len(probes):  # each run of uncovered probes with covered probes on both sides
        if covered[k] or not any(covered[:k]):
            k += 1
            continue
        end = k
        while end < len(probes) and not covered[end]:
            end += 1
        if end == len(probes):
            break
        below, above = probes[k - 1], probes[end]
        shown = (
            f"exactly {format_quantity(probes[k], unit, 'en')}"
            if end == k + 1 and probes[k] in bounds
            else f"the values between {format_quantity(below, unit, 'en')} and "
            f"{format_quantity(above, unit, 'en')}"
        )
        index = next(i for i, b in enumerate(bands) if b.holds(above))
        found.append(
            (
                "tier-gap",
                f"{what} by {by.id}: a gap: {shown} {'is' if shown.startswith('exactly') else 'are'} in no band",
                index,
            )
        )
        k = end
    for j, later in enumerate(bands):
        inside = [v for v in probes if later.holds(v)]
        if inside and all(any(b.holds(v) for b in bands[:j]) for v in inside):
            found.append(("tier-shadowed",
                f"{what} by {by.id}: band {j + 1} never applies, earlier bands take all its values",
                j))  # fmt: skip
            continue
        for i, earlier in enumerate(bands[:j]):
            shared = [v for v in probes if earlier.holds(v) and later.holds(v)]
            if not shared or earlier.within(later):
                continue
            if len(shared) == 1:
                at = format_quantity(shared[0], unit, "en")
                message = (f"{what} by {by.id}: bands {i + 1} and {j + 1} both include {at}; "
                           f"band {i + 1}, listed first, takes it")  # fmt: skip
            else:
                message = (f"{what} by {by.id}: bands {i + 1} and {j + 1} overlap from "
                           f"{format_quantity(shared[0], unit, 'en')} to "
                           f"{format_quantity(shared[-1], unit, 'en')}; band {i + 1}, listed "
                           "first, takes those values")  # fmt: skip
            found.append(("tier-overlap", message, j))
    return found


def _tier_findings(cp: CompiledPolicy, facts: dict[str, FactDef], at: _Locator) -> list[Finding]:
    tiers = cp.policy.benefit.tiers
    if tiers is None or tiers.by not in facts:
        return []
    by = facts[tiers.by]
    path = ("benefit", "tiers", "bands")
    try:
        compiled = [compile_band(b, by, (*path, i)) for i, b in enumerate(tiers.bands)]
    except CompileError:  # pragma: no cover - the loader has refused these already
        return []
    bands = [_Band(b.low, b.low_inclusive, b.high, b.high_inclusive) for b in compiled]
    return [
        at.finding("error", code, message, (*path, index))
        for code, message, index in band_findings(bands, by, "tiers")
    ]


def _points_findings(loaded: LoadedSet) -> list[Finding]:
    """The same checks for scoring facts declared with point bands (`points: {by, bands}`)."""
    found = []
    declared = {
        fact.id: (shown, index)
        for shown, doc in loaded.documents
        for index, fact in enumerate(doc.facts)
    }
    for defn in loaded.facts.values():
        spec = getattr(defn, "points", None)  # a formula kind some catalogues declare
        if spec is None or spec.by not in loaded.facts:
            continue
        by = loaded.facts[spec.by]
        if by.unit is None:
            continue
        try:
            bands = [_Band(*_point_bounds(band)) for band in spec.bands]
        except UnitError:  # pragma: no cover - the loader has refused these already
            continue
        file, index = declared.get(defn.id, ("engine/model/catalogue.yaml", -1))
        lines = loaded.lines.get(file, {})
        for code, message, band in band_findings(bands, by, f"points of {defn.id}"):
            line = line_of(lines, ("facts", index, "points", "bands", band)) if lines else None
            found.append(Finding("error", code, message, None, file, line))
    return found


def _point_bounds(band: Any) -> tuple[Decimal | None, bool, Decimal | None, bool]:
    def value(raw: Any) -> Decimal | None:
        return None if raw is None else parse_quantity(raw).value

    low = value(band.ge) if band.ge is not None else value(band.gt)
    high = value(band.le) if band.le is not None else value(band.lt)
    return low, band.ge is not None, high, band.le is not None


# --- conditions that can never be true -------------------------------------------------------


@dataclass
class _Range:
    """What an `all` allows for one fact: bounds, allowed values, excluded values."""

    low: Any = None
    low_in: bool = True
    high: Any = None
    high_in: bool = True
    allowed: frozenset[Any] | None = None
    excluded: frozenset[Any] = frozenset()

    def add(self, op: str, value: Any) -> None:
        if op in ("ge", "gt") and (self.low is None or value > self.low or (
                value == self.low and op == "gt")):  # fmt: skip
            self.low, self.low_in = value, op == "ge"
        elif op in ("le", "lt") and (self.high is None or value < self.high or (
                value == self.high and op == "lt")):  # fmt: skip
            self.high, self.high_in = value, op == "le"
        elif op == "between":
            self.add("ge", value[0])
            self.add("le", value[1])
        elif op in ("eq", "in"):
            values = frozenset(value) if op == "in" else frozenset({value})
            self.allowed = values if self.allowed is None else self.allowed & values
        elif op in ("ne", "not_in"):
            self.excluded |= frozenset(value) if op == "not_in" else frozenset({value})

    def empty(self) -> bool:
        if (
            self.low is not None
            and self.high is not None
            and (
                self.low > self.high
                or (self.low == self.high and not (self.low_in and self.high_in))
            )
        ):
            return True
        if self.allowed is None:
            return False
        return not any(self._admits(v) for v in self.allowed)

    def _admits(self, value: Any) -> bool:
        if value in self.excluded:
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self.low_in)):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_in))
        )


_REFERENCE = date(2024, 6, 15)  # relative date bounds keep their order on any evaluation date


def _key(leaf: CLeaf) -> tuple[str, bool] | None:
    """Leaves whose operands can be compared: (fact, relative dates?)."""
    if leaf.op in ("prefix_in", "contains", "within"):
        return None
    bounds = [x for x in _flat(leaf.operand) if isinstance(x, DateBound)]
    if not bounds:
        return (leaf.fact_def.id, False)
    relative = {b.fixed is None for b in bounds}
    return None if len(relative) > 1 else (leaf.fact_def.id, relative.pop())


def _flat(value: Any) -> list[Any]:
    if isinstance(value, tuple | frozenset):
        return [x for item in value for x in _flat(item)]
    return [value]


def _plain(value: Any) -> Any:
    if isinstance(value, DateBound):
        return value.resolve(_REFERENCE)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_plain(v) for v in value)
    return value


def _conjuncts(node: CNode) -> Iterator[CLeaf]:
    """The leaves an `all` requires together: its leaves and those of nested `all`s."""
    for child in node.children:
        if isinstance(child, CLeaf):
            yield child
        elif isinstance(child.node, AllOf):
            yield from _conjuncts(child)


def _impossible(node: CNode, at: _Locator, found: list[Finding]) -> bool:
    """Whether `node` can never be true; reports each `all` whose bounds contradict."""
    if isinstance(node, CLeaf):
        return False
    children = [_impossible(child, at, found) for child in node.children]
    if isinstance(node.node, AnyOf):
        return all(children)
    if not isinstance(node.node, AllOf):
        return False  # `not`: a tautology inside is not detected
    ranges: dict[tuple[str, bool], _Range] = {}
    clash: list[str] = []
    by_fact: dict[tuple[str, bool], list[CLeaf]] = {}
    for leaf in _conjuncts(node):
        key = _key(leaf)
        if key is None:
            continue
        by_fact.setdefault(key, []).append(leaf)
        ranges.setdefault(key, _Range()).add(leaf.op, _plain(leaf.operand))
    for key, rng in ranges.items():
        if rng.empty():
            clash.append(" and ".join(_leaf_text(leaf) for leaf in by_fact[key]))
    for text in clash:
        found.append(at.finding("error", "never-true",
            f"this condition can never be true: {text} cannot all hold", node.path))  # fmt: skip
    return bool(clash) or any(children)


def _leaf_text(leaf: CLeaf) -> str:
    from ..reference.explain import threshold_text

    relative = [b for b in _flat(leaf.operand) if isinstance(b, DateBound) and b.fixed is None]
    if relative:  # no evaluation date to resolve them on: show them as written
        return f"{leaf.fact_def.id} {leaf.op} {' / '.join(b.text() for b in relative)}"
    return f"{leaf.fact_def.id} {threshold_text(leaf, _REFERENCE).en}"


def _condition_findings(cp: CompiledPolicy, at: _Locator) -> list[Finding]:
    found: list[Finding] = []
    for exclusion in cp.unless:
        _impossible(exclusion, at, found)
    if cp.when is not None and _impossible(cp.when, at, found):
        found.append(at.finding("error", "unreachable",
            "the policy can never be eligible: its condition can never be true", ()))  # fmt: skip
    return found


# --- units the loader lets through -----------------------------------------------------------


def _unit_findings(cp: CompiledPolicy, facts: dict[str, FactDef], at: _Locator) -> list[Finding]:
    found = []
    stacking = cp.policy.stacking
    if stacking is not None and stacking.cap is not None:
        path = ("stacking", "cap")
        try:
            unit = parse_quantity(stacking.cap).unit
        except UnitError as exc:
            found.append(at.finding("error", "unit", f"stacking cap: {exc}", path))
        else:
            if unit is Unit.NUMBER:
                found.append(at.finding("warning", "unit",
                    f"stacking cap {stacking.cap!r} has no unit; write it in yuan, e.g. "
                    "'50万元'", path))  # fmt: skip
            elif unit is not Unit.YUAN:
                found.append(at.finding("error", "unit",
                    f"stacking cap {stacking.cap!r} is in {unit.value}; a group's cap is an "
                    "amount in yuan, e.g. '50万元'", path))  # fmt: skip
    for index, name in enumerate(cp.policy.monotone):
        defn = facts.get(name)
        if defn is not None and defn.type is not FactType.QUANTITY:
            found.append(at.finding("error", "unit",
                f"monotone fact {name!r} is {defn.type.value}, not a quantity: 'more' of it has "
                "no meaning", ("monotone", index)))  # fmt: skip
    roots = ([cp.when] if cp.when is not None else []) + list(cp.unless)
    for root in roots:
        for leaf in _leaves(root):
            if leaf.fact_def.unit is not Unit.RATIO or leaf.op in ("ne", "not_in"):
                continue
            big = [v for v in _flat(leaf.operand) if isinstance(v, Decimal) and v > 1]
            if big and leaf.fact_def.growth is None:
                found.append(at.finding("warning", "unit",
                    f"{leaf.fact_def.id} is a share, compared with "
                    f"{format_quantity(big[0], Unit.RATIO, 'en')}; a percentage above 100% is "
                    "probably a slip", leaf.path))  # fmt: skip
    return found


def _leaves(node: CNode) -> list[CLeaf]:
    if isinstance(node, CLeaf):
        return [node]
    return [leaf for child in node.children for leaf in _leaves(child)]


# --- caps that never bind --------------------------------------------------------------------


def _cap_findings(cp: CompiledPolicy, at: _Locator) -> list[Finding]:
    benefit, cap = cp.policy.benefit, cp.benefit.cap
    if cap is None:
        return []
    amounts: list[Decimal] = []
    if benefit.grant is not None:
        amounts = [parse_quantity(benefit.grant.amount).value]
    elif benefit.tiers is not None and all(b.rate is None for b in benefit.tiers.bands):
        amounts = [parse_quantity(b.amount).value for b in benefit.tiers.bands if b.amount]
    if amounts and max(amounts) <= cap:
        return [at.finding("warning", "cap-unused",
            f"the cap {format_quantity(cap, Unit.YUAN, 'en')} is never applied: the benefit pays "
            f"at most {format_quantity(max(amounts), Unit.YUAN, 'en')}", ("benefit", "cap"))]  # fmt: skip
    return []


# --- stacking groups -------------------------------------------------------------------------


def _group_findings(loaded: LoadedSet) -> list[Finding]:
    members: dict[str, list[CompiledPolicy]] = {}
    for cp in loaded.policies:
        if cp.stacking is not None and cp.stacking.exclusive:
            members.setdefault(cp.stacking.group, []).append(cp)
    found = []
    for group, policies in sorted(members.items()):
        if len(policies) == 1:
            at = _Locator(loaded, policies[0].id)
            found.append(at.finding("warning", "lonely-group",
                f"exclusive group {group!r} has only this member: exclusivity never applies "
                "(a misspelt group name?)", ("stacking", "group")))  # fmt: skip
    return found


# --- succession ------------------------------------------------------------------------------


def _succession_findings(loaded: LoadedSet) -> list[Finding]:
    """A superseded document should hand over the day after its end: a gap leaves enterprises
    with no rules, an overlap applies old and new rules together."""
    by_id = {doc.id: doc for _, doc in loaded.documents}
    found = []
    for shown, doc in loaded.documents:
        successor = by_id.get(doc.superseded_by or "")
        if successor is None or doc.effective.until is None:
            continue  # the loader refuses both
        end, start = doc.effective.until, successor.effective.start
        # nothing can start after the calendar's last day
        handover = None if end == date.max else end + timedelta(days=1)
        if start is not None and start == handover:
            continue
        if start is None or handover is None or start < handover:
            problem = f"overlaps {successor.id}, which is in force from {start or 'the start'}"
        else:
            problem = f"leaves a gap before {successor.id}, which starts on {start}"
        found.append(
            Finding(
                "warning", "succession",
                f"document ends on {end} and {problem}"
                + (f"; the successor should start on {handover}" if handover else ""),
                None, shown, line_of(loaded.lines.get(shown, {}), ("superseded_by",)),
            )
        )  # fmt: skip
    return found


__all__ = ["Finding", "lint"]
