"""Opportunities: the policies a company does not get today but could reach, each with every
way to pass (for an `any`, the alternatives: either … or …), a way being all the gaps that
must close together and the facts that must be stated (or judged by an expert) and meet their
criteria; what the policy would bring; and a ranking by value.

A way that needs a fixed fact to move (industry, zone, past incidents) is no way: a policy
with no other is not an opportunity, and its gaps stay in its result as reasons. A fact the
profile does not state is no move but something to supply: an undetermined policy (or one
awaiting expert judgement) is an opportunity too, *uncertain*, since the fact may turn out
not to meet its criterion; so is an ineligible one whose ways need a fact stated.

The ranking: certain opportunities (the best way suffices on what the profile states) before
uncertain ones; within each, ways of actionable changes (R&D spend, staff, IP, a certificate)
before those that need slow ones (the size of the business, years of operation), so "reduce
total assets by ¥18,000,000" is never the first suggestion; then by what the policy would
add to the total (unknown last); then by the cheapest way. A policy that stacking would pay
nothing more than what its group pays today is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..compile.plan import Attaches, StackingPlan
from ..model.facts import CHANGE_ORDER
from .conditions import CLeaf, CNode
from .context import Context, Missing
from .evaluate import CompiledPolicy
from .explain import gap, truths_of
from .logic import FALSE, TRUE, Truth
from .results import (
    Alternative,
    Gap,
    Mobility,
    Opportunity,
    PolicyResult,
    Status,
    Text,
    assemble_filled,
)

MAX_WAYS = 6  # ways kept at each node and per policy, cheapest first
# Ranking only: a deduction is worth the tax it saves at the standard rate of 25%
# (中华人民共和国企业所得税法 第四条); the amounts shown stay the deduction itself.
STANDARD_CIT_RATE = Decimal("0.25")

Flip = tuple[CLeaf, bool]  # a failing leaf, with whether it must become false
Way = tuple[Flip, ...]
_MOBILITY: tuple[Mobility, ...] = ("actionable", "slow", "fixed")
_NOTHING: list[Way] = [()]  # the one way that changes nothing (compared with, never handed out)


class Search:
    """The ways to pass the policies read on one context, each leaf's part of a way's cost
    and each node's truth computed once (ways share subtrees and leaves)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.truths = truths_of(ctx)
        self._leaves: dict[CLeaf, tuple[int, Decimal, Missing | None]] = {}
        self._keys: dict[Way, tuple[tuple[int, int, Decimal], int]] = {}

    def ways(self, node: CNode, want: Truth = TRUE) -> list[Way]:
        """The cheapest ways to make `node` `want`, each the leaves to flip together. A node
        that already is `want` needs nothing: the one empty way. A leaf that is unknown (its
        fact is not stated, or awaits judgement) is flipped by stating its fact."""
        if self.truths[node] is want:
            return [()]
        if isinstance(node, CLeaf):
            return [((node, want is FALSE),)]
        kind = node.node.kind
        if kind == "not":
            return self.ways(node.children[0], want.negate())
        truths = self.truths
        # (A child that already is `want` has the one empty way, which changes nothing when
        # combined: it is not asked.)
        if (kind == "all") == (want is TRUE):  # every child must change: combine their ways
            combined: list[Way] = [()]
            for child in node.children:
                if truths[child] is not want:
                    combined = self.together(combined, self.ways(child, want))
            return combined
        options = [self.ways(child, want) for child in node.children]
        return self.cheapest(way for option in options for way in option)  # any one child

    def policy_ways(self, cp: CompiledPolicy) -> list[Way]:
        """The ways to pass a policy: its condition true and every exclusion false."""
        combined: list[Way] = [()] if cp.when is None else self.ways(cp.when)
        for exclusion in cp.unless:
            combined = self.together(combined, self.ways(exclusion, FALSE))
        return combined

    def together(self, first: list[Way], second: list[Way]) -> list[Way]:
        """The cheapest ways that take one way of each list (lists `ways` gave: sorted, cheapest
        first, so that the one empty way, the usual answer of a criterion already met, leaves
        the other list as it is)."""
        if second == _NOTHING:
            return first
        if first == _NOTHING:
            return second
        return self.cheapest(_merge(a, b) for a in first for b in second)

    def leaf(self, leaf: CLeaf) -> tuple[int, Decimal, Missing | None]:
        """How hard flipping the leaf is (stating a fact is no move: whether it meets the
        criterion is what makes a way uncertain), how far its value is from the threshold
        (relative; 1 for what is not a number: a certificate to obtain counts as much as
        doubling a figure), and what the profile does not say of its fact."""
        known = self._leaves.get(leaf)
        if known is None:
            value, operand = self.ctx[leaf.fact_def.id], leaf.operand
            unknown = value if isinstance(value, Missing) else None
            rank = 0 if unknown is not None else CHANGE_ORDER[leaf.fact_def.change]
            distance = Decimal(1)
            if isinstance(value, Decimal) and isinstance(operand, Decimal) and operand:
                distance = abs(operand - value) / abs(operand)
            known = self._leaves[leaf] = (rank, distance, unknown)
        return known

    def cost(self, way: Way) -> tuple[int, int, Decimal]:
        """The hardest move, then how many moves, then how far they go."""
        return self._key(way)[0]

    def _key(self, way: Way) -> tuple[tuple[int, int, Decimal], int]:
        """The way's cost, then how many facts it states (of ways as cheap, the more certain
        first); kept, since ways are compared again at every node above."""
        known = self._keys.get(way)
        if known is None:
            hardest, distance, opened = 0, Decimal(0), 0
            for leaf, _ in way:
                rank, far, unknown = self.leaf(leaf)
                hardest = max(hardest, rank)
                distance += far
                opened += unknown is not None
            known = self._keys[way] = ((hardest, len(way), distance), opened)
        return known

    def cheapest(self, candidates: Iterable[Way]) -> list[Way]:
        """The cheapest ways; of ways as cheap, those that state fewer facts first."""
        ways = list(dict.fromkeys(candidates))
        if len(ways) == 1:  # the usual case at an `all` (a way of each child): nothing to rank
            return ways
        return sorted(ways, key=self._key)[:MAX_WAYS]

    def alternative(self, way: Way, made: dict[Flip, Gap]) -> Alternative:
        """A way as gaps (changes, facts to supply, facts to have judged); `made` keeps each
        flip's gap, since ways share flips."""
        ctx = self.ctx
        moves: list[Gap] = []
        supply: list[Gap] = []
        review: list[Gap] = []
        for flip in way:
            if flip not in made:
                made[flip] = gap(flip[0], flip[1], ctx, ctx.facts)
            unknown = self.leaf(flip[0])[2]
            (moves if unknown is None else review if unknown.review else supply).append(made[flip])
        moves.sort(key=lambda g: (CHANGE_ORDER[g.mobility], g.distance is None, g.distance or 0, g.fact))
        supply.sort(key=lambda g: g.fact)
        review.sort(key=lambda g: g.fact)
        return assemble_filled(Alternative, {
            "gaps": moves, "mobility": _MOBILITY[self.cost(way)[0]], "supply": supply,
            "review": review, "certain": not supply and not review,
        })  # fmt: skip


def _merge(a: Way, b: Way) -> Way:
    return a + tuple(flip for flip in b if flip not in a)


def _worth(
    cp: CompiledPolicy,
    amount: Decimal | None,
    results: list[PolicyResult],
    compiled: Mapping[str, CompiledPolicy],
) -> tuple[Decimal | None, Text | None]:
    """What the policy would add to the report's total after stacking, and why it is less
    than its amount when it is."""
    if amount is None:
        return None, None
    kind = cp.plan.benefit.amount_kind
    worth = amount * STANDARD_CIT_RATE if kind == "deduction" else amount
    stacking = cp.stacking
    if stacking is None:
        return worth, None
    paid = [
        r.amount or Decimal(0)
        for r in results
        if r.status is Status.ELIGIBLE
        and (theirs := compiled[r.policy_id].stacking) is not None
        and theirs.group == stacking.group
    ]
    return _stacked(stacking, worth, paid)


def _moved(ways: list[Way], reads: tuple[str, ...], ctx: Context) -> Text | None:
    """Why the amount is unknown when every way changes a figure the amount is computed from
    (to become a small low-profit enterprise, taxable income must fall, and the tax saved
    with it): the figures it reads, in words; None when some way leaves them as they are."""
    facts = ctx.facts
    read = {fact: facts[fact].depends_on | {fact} for fact in reads}
    touched: dict[str, None] = {}
    for way in ways:
        hit = [f for f, needs in read.items() if any(leaf.fact_def.id in needs for leaf, _ in way)]
        if not hit:
            return None
        touched.update(dict.fromkeys(hit))
    zh = "、".join(facts[f].zh for f in touched)
    en = ", ".join(facts[f].en for f in touched)
    return Text(zh=f"金额取决于{zh}，而达到条件须改变它", en=f"the amount depends on {en}, which reaching it changes")


def _stacked(
    stacking: StackingPlan, worth: Decimal, paid: list[Decimal]
) -> tuple[Decimal, Text | None]:
    added = worth
    if stacking.exclusive and paid:
        added = max(Decimal(0), worth - max(paid))
    if stacking.cap is not None:
        added = max(Decimal(0), min(added, stacking.cap - sum(paid, Decimal(0))))
    if added == worth:
        return worth, None
    return added, Text(
        zh=f"与已享受的同组（{stacking.group}）政策不可全额叠加，仅增加差额",
        en=f"stacks with what group {stacking.group} already pays only up to the difference",
    )


_OPEN = (Status.INELIGIBLE, Status.UNDETERMINED, Status.NEEDS_REVIEW)


Key = tuple[bool, int, bool, Decimal, tuple[int, int, Decimal]]


def find_opportunities(
    compiled: Mapping[str, CompiledPolicy],
    results: list[PolicyResult],
    contexts: Mapping[Attaches, Context],
) -> list[Opportunity]:
    """The opportunities among the ineligible, undetermined and awaiting-review results,
    ranked (see the module). Each policy is read on its own basis (`contexts`: the evaluation
    date's, the tax year's), and its amount is on that basis's figures."""
    found: list[tuple[Key, dict[str, Any]]] = []
    searches: dict[Attaches, Search] = {}
    for result in results:
        if result.status not in _OPEN or "zone" in result.missing:
            continue  # (a profile without a zone is told to state it, not what a zone offers)
        cp = compiled[result.policy_id]
        attaches = cp.plan.attaches
        if attaches not in searches:
            searches[attaches] = Search(contexts[attaches])
        chance = _opportunity(cp, result, searches[attaches], results, compiled)
        if chance is not None:
            found.append(chance)
    found.sort(key=lambda item: item[0])
    ranked = []
    for rank, (_, values) in enumerate(found, 1):
        values["rank"] = rank
        ranked.append(assemble_filled(Opportunity, values))
    return ranked


def _opportunity(
    cp: CompiledPolicy,
    result: PolicyResult,
    search: Search,
    results: list[PolicyResult],
    compiled: Mapping[str, CompiledPolicy],
) -> tuple[Key, dict[str, Any]] | None:
    """The policy's opportunity (its fields, in `Opportunity`'s order, ranked by the caller)
    with its ranking key, or None: no way without a fixed fact, or nothing more to gain after
    stacking."""
    ctx = search.ctx
    reachable = [w for w in search.policy_ways(cp) if w and search.cost(w)[0] < 2]
    if not reachable:
        return None
    benefit = cp.plan.benefit
    amount = None if benefit.amount_kind == "none" else cp.compute(ctx).value
    moved = None if amount is None else _moved(reachable, benefit.reads, ctx)
    if moved is not None:
        amount = None  # today's figures say nothing of the figures after the change
    worth, note = _worth(cp, amount, results, compiled)
    note = note or moved
    if worth is not None:
        worth = benefit.rounding.apply(worth)
        if not worth and amount:
            return None  # stacking would pay it nothing more than today: no opportunity
    made: dict[Flip, Gap] = {}
    alternatives = [search.alternative(w, made) for w in reachable]
    certain = alternatives[0].certain
    opportunity = {
        "rank": 0,
        "policy_id": cp.id,
        "title": result.title,
        "benefit": result.benefit,
        "amount": amount,
        "amount_kind": benefit.amount_kind,
        "worth": worth,
        "alternatives": alternatives,
        "provenance": cp.source.provenance,
        "note": note,
        "status": result.status,
        "certain": certain,
        "attaches": cp.plan.attaches,
        "fiscal_year": result.fiscal_year if benefit.reads else None,
        "tax_year": result.tax_year,
    }
    cost = search.cost(reachable[0])
    value = Decimal(0) if worth is None else -worth
    return (not certain, cost[0], worth is None, value, cost), opportunity
