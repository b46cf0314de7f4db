"""The same measure twice: two policies that apply in overlapping zones over overlapping
periods with equivalent criteria and a benefit of the same kind on the same facts, neither sharing a stacking group with the other (a shared
group, exclusive or not, declares how they stack) nor linked by succession. An enterprise that
meets one meets the other and is paid twice: usually a clause encoded a second time (from a
summary table, a copied file, an edition left open)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import combinations

from ..compile.loader import LoadedSet
from ..compile.plan import Comparison, Node, Period, PolicyPlan
from .logic import positive

Shape = tuple[object, ...]


def shape(node: Node) -> Shape:
    """A form of a tree that equivalent spellings share: `not` pushed to the leaves, nested
    groups of one kind merged, children in a fixed order, wording left out."""
    return _shape(positive(node))


def _shape(node: Node) -> Shape:
    if isinstance(node, Comparison):
        return ("leaf", node.fact, node.op, repr(node.operand))
    parts: list[Shape] = []
    for child in node.children:
        part = _shape(child)
        parts.extend(part[1:] if part[0] == node.kind else [part])  # type: ignore[arg-type]
    if len(parts) == 1 and node.kind != "not":
        return parts[0]
    return (node.kind, *sorted(parts, key=repr))


def criteria_shape(plan: PolicyPlan) -> Shape:
    condition = sorted((shape(c.node) for c in plan.criteria if not c.exclusion), key=repr)
    exclusions = sorted((shape(c.node) for c in plan.criteria if c.exclusion), key=repr)
    return (tuple(condition), tuple(exclusions))


def _pays_for(plan: PolicyPlan) -> tuple[str, str | None, str | None]:
    """What a benefit is paid on: its kind and the facts it is computed from (amounts may differ
    in a copy, a mistyped amount included)."""
    return plan.benefit.kind, plan.benefit.base, plan.benefit.by


def _overlap(a: Period, b: Period) -> bool:
    return (a.start is None or b.until is None or a.start <= b.until) and (
        b.start is None or a.until is None or b.start <= a.until
    )


def _zones_meet(a: PolicyPlan, b: PolicyPlan) -> bool:
    return a.applies_in is None or b.applies_in is None or bool(a.applies_in & b.applies_in)


def _succession(loaded: LoadedSet) -> Mapping[str, set[str]]:
    """Each document id → the documents linked to it by succession, either way, transitively."""
    linked: dict[str, set[str]] = {doc.id: {doc.id} for _, doc in loaded.documents}
    for _, doc in loaded.documents:
        if doc.superseded_by in linked:
            union = linked[doc.id] | linked[doc.superseded_by]
            for member in union:
                linked[member] = union
    return linked


def duplicates(loaded: LoadedSet) -> Iterator[tuple[PolicyPlan, PolicyPlan]]:
    """(earlier, later) for each pair of policies that are the same measure twice."""
    linked = _succession(loaded)
    shapes = {plan.id: criteria_shape(plan) for plan in loaded.policies}
    for first, second in combinations(loaded.policies, 2):
        if shapes[first.id] != shapes[second.id] or not first.criteria:
            continue
        if first.stacking and second.stacking and first.stacking.group == second.stacking.group:
            continue
        if first.document != second.document and second.document in linked[first.document]:
            continue
        if _pays_for(first) != _pays_for(second):
            continue  # the same criteria for another base: another measure (expensed, capitalised)
        if _zones_meet(first, second) and _overlap(first.effective, second.effective):
            yield first, second


__all__ = ["criteria_shape", "duplicates", "shape"]
