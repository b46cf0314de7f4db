"""Why one enterprise's verdict on a policy changed between two sets: the reference
evaluator's explanation under each (`PolicySet.explain`), side by side, and the criteria whose
evaluated line differs (a threshold moved, a value now passes, a criterion added or removed)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import InputError
from ..model.profile import Profile
from ..policyset import PolicySet
from ..reference.results import PolicyResult, Trace


@dataclass(frozen=True)
class SideBySide:
    policy_id: str
    base: PolicyResult | None  # None: the set has no such policy
    candidate: PolicyResult | None
    changed: tuple[tuple[str | None, str | None], ...]  # (base line, candidate line)

    def to_json(self) -> dict[str, Any]:
        def side(result: PolicyResult | None) -> dict[str, Any] | None:
            if result is None:
                return None
            return result.model_dump(
                mode="json", include={"status", "amount", "amount_kind", "reason", "trace",
                                      "missing", "review"},
            )  # fmt: skip

        return {
            "base": side(self.base),
            "candidate": side(self.candidate),
            "changed": [{"base": old, "candidate": new} for old, new in self.changed],
        }


def explain_transition(
    base: PolicySet,
    candidate: PolicySet,
    profile: Profile,
    policy_id: str,
    as_of: date,
    tax_year: int | None = None,
) -> SideBySide:
    old = _explained(base, profile, policy_id, as_of, tax_year)
    new = _explained(candidate, profile, policy_id, as_of, tax_year)
    before, after = list(_lines(old)), list(_lines(new))
    changed: list[tuple[str | None, str | None]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        olds, news = before[i1:i2], after[j1:j2]
        for k in range(max(len(olds), len(news))):
            was = olds[k] if k < len(olds) else None
            now = news[k] if k < len(news) else None
            if (was is not None and not was[1]) or (now is not None and not now[1]):
                # a criterion or the verdict changed (not only the groups that follow them)
                changed.append((None if was is None else was[0], None if now is None else now[0]))
    return SideBySide(policy_id, old, new, tuple(changed))


def _explained(
    policy_set: PolicySet, profile: Profile, policy_id: str, as_of: date, tax_year: int | None
) -> PolicyResult | None:
    if policy_id not in {p.id for p in policy_set.policies}:
        return None
    try:
        return policy_set.explain(profile, policy_id, as_of, tax_year=tax_year)
    except InputError:  # the profile does not fit this set (a fact it does not declare)
        return None


def criterion_lines(result: PolicyResult | None) -> Iterator[str]:
    """The verdict and each evaluated criterion as one line: what it tests, the value, the
    outcome (English)."""
    return (text for text, _ in _lines(result))


def _lines(result: PolicyResult | None) -> Iterator[tuple[str, bool]]:
    """`criterion_lines`, each with whether it is an `all`/`any`/`not` (which only follows
    its children)."""
    if result is None:
        yield "no such policy", False
        return
    amount = "" if result.amount is None else f" {result.amount} ({result.amount_kind})"
    yield f"verdict {result.status.value}{amount}", False
    if result.reason is not None:
        yield f"reason: {result.reason.en}", False
    if result.trace is not None:
        yield from _trace_lines(result.trace, 0)


def _trace_lines(node: Trace, depth: int) -> Iterator[tuple[str, bool]]:
    for child in node.children:
        mark = "unless " if child.exclusion else ""
        if child.kind == "leaf":
            label = child.label.en if child.label is not None else child.fact
            value = child.value_text.en if child.value_text is not None else "?"
            threshold = child.threshold.en if child.threshold is not None else ""
            line = f"{mark}{label}: {child.fact} {value}, needs {threshold} → {child.outcome}"
            yield f"{'  ' * depth}{line}", False
        else:
            label = f" ({child.label.en})" if child.label is not None else ""
            yield f"{'  ' * depth}{mark}{child.kind}{label} → {child.outcome}", True
            yield from _trace_lines(child, depth + 1)
