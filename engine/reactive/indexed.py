"""The reactive session's default back end: each enterprise keeps its evaluation context (the
facts computed so far), and an update re-evaluates only the policies that read a fact it
changed.

The plan says which facts read which profile inputs (`FactPlan.profile_inputs`, through every
formula) and which facts each policy's criteria read (`PolicyPlan.comparisons`, and what those
facts are computed from: `FactPlan.depends_on`); an update's changed inputs
(`changes.changed_inputs`) thus name the facts to forget from the context and the policies to
ask again. A verdict reads nothing of the facts but the truth of each leaf (and, for an
unknown value, whether it awaits an expert), so a policy whose leaves reading a forgotten fact
are all as true with the new values as with the old is not asked again (`same_truths`): most
updates move a number without crossing a threshold. The verdicts are the reference evaluator's
(`PolicySet.verdict`), so they are the same as a whole evaluation's by construction; the
agreement tests check it after every update.
Equal unknown facts of all enterprises are kept as one object (`SharedUnknowns`): most of a
kept context's facts are unknown, for the same few reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..compile.plan import Attaches, Dates, FactPlan, PolicyPlan
from ..model.profile import Profile
from ..policyset import PolicySet
from ..reference.conditions import Test, leaf_test
from ..reference.context import Context, Missing, Resolved, direct_field
from ..reference.results import Status

Contexts = Mapping[Attaches, Context]  # one per basis: the evaluation date's, the tax year's
Affected = tuple[tuple[str, ...], tuple[str, ...]]  # facts to forget, policies to ask again
Forgotten = dict[Attaches, dict[str, Resolved]]  # per basis: the values of the facts forgotten
# The tests of a policy's leaves that read one fact, and whether a verdict reads that fact only
# through the context (not straight from the profile: `context.direct_field`).
FactTests = tuple[str, tuple[Test, ...], bool]
# A policy to ask again after an update: its id, the basis it is evaluated on, and the tests of
# its leaves that read a forgotten fact, by fact (None: ask it whatever the facts' values).
Recheck = tuple[str, Attaches, tuple[FactTests, ...] | None]
Found = tuple[Affected, tuple[Recheck, ...]]
_AFFECTED_KEPT = 4096
_UNRESOLVED: Any = object()
_UNKNOWNS_KEPT = 65536


class InputIndex:
    """For each profile input, the facts computed from it and the policies whose verdict reads
    those: through their criteria (a verdict does not read the benefit's facts)."""

    def __init__(self, policies: PolicySet) -> None:
        plan = policies.plan
        facts: dict[str, set[str]] = {}
        for fact in plan.facts.values():
            for name in fact.profile_inputs:
                facts.setdefault(name, set()).add(fact.id)
        deciders: dict[str, list[str]] = {}  # fact → the policies whose criteria read it
        for policy in plan.policies:
            read = {leaf.fact for leaf, _ in policy.comparisons()}
            for name in read.union(*(plan.facts[f].depends_on for f in read)):
                deciders.setdefault(name, []).append(policy.id)
        order = {p.id: i for i, p in enumerate(plan.policies)}
        self.facts = {name: frozenset(ids) for name, ids in facts.items()}
        self.policies = {
            name: tuple(sorted({p for f in ids for p in deciders.get(f, ())}, key=order.__getitem__))
            for name, ids in facts.items()
        }
        self.everything = tuple(p.id for p in plan.policies)
        self.basis = {p.id: p.attaches for p in plan.policies}
        self.tests = {policy.id: _leaf_tests(policy, plan.facts) for policy in plan.policies}
        self.direct = _read_directly(plan.facts)
        # `affected` and `rechecks` by the inputs and prefixes asked for: updates change the
        # same few fields over and over. Bounded: cleared when full.
        self._found: dict[tuple[frozenset[str], frozenset[str]], Found] = {}

    def affected(self, inputs: Iterable[str], prefixes: Iterable[str]) -> Affected:
        """The facts to compute again and the policies to evaluate again."""
        return self.found(inputs, prefixes)[0]

    def found(self, inputs: Iterable[str], prefixes: Iterable[str]) -> Found:
        """What `affected` says, and the policies it names, each with the tests of its leaves
        that read a fact it forgets (no tests when the zone changed: it decides whether a
        policy is in force at all)."""
        key = (frozenset(inputs), frozenset(prefixes))
        found = self._found.get(key)
        if found is None:
            if len(self._found) >= _AFFECTED_KEPT:
                self._found.clear()
            found = self._found[key] = self._find(*key)
        return found

    def _find(self, inputs: frozenset[str], prefixes: frozenset[str]) -> Found:
        names = set(inputs)
        for prefix in prefixes:
            names.update(n for n in self.facts if n.startswith(prefix))
        facts: set[str] = set()
        policies: set[str] = set()
        for name in names:
            facts |= self.facts.get(name, frozenset())
            policies.update(self.policies.get(name, ()))
        zone = "zone" in names
        if zone:  # where a policy applies decides whether it is in force
            policies.update(self.everything)
        rechecks = tuple(
            (pid, self.basis[pid], None if zone else tuple(
                (fact, tests, fact not in self.direct)
                for fact, tests in self.tests[pid].items() if fact in facts
            ))
            for pid in policies
        )  # fmt: skip
        return (tuple(facts), tuple(policies)), rechecks

    def refresh(
        self, contexts: Contexts, profile: Profile, inputs: set[str], prefixes: set[str]
    ) -> Affected:
        """Point `ctx` at the changed `profile`, forget the facts computed from the changed
        inputs; those facts, and the policies to evaluate again."""
        found = self.affected(inputs, prefixes)
        forget(contexts, profile, found[0])
        return found


def _read_directly(facts: Mapping[str, FactPlan]) -> frozenset[str]:
    """The facts a leaf may read straight from the profile (`context.direct_field`): absent
    from a context even when a verdict read them."""
    return frozenset(f for f, d in facts.items() if direct_field(d) is not None)


def _leaf_tests(policy: PolicyPlan, facts: Mapping[str, FactPlan]) -> dict[str, tuple[Test, ...]]:
    """A policy's leaf tests by the fact they read (criteria and exclusions): the truth of a
    leaf is its test of the fact's value, or unknown for an unknown value."""
    tests: dict[str, list[Test]] = {}
    for leaf, _ in policy.comparisons():
        tests.setdefault(leaf.fact, []).append(leaf_test(leaf, facts[leaf.fact]))
    return {fact: tuple(found) for fact, found in tests.items()}


def forget(contexts: Contexts, profile: Profile, facts: Iterable[str]) -> Forgotten:
    """Point the contexts at the changed `profile` and forget `facts` from them; the values
    they had resolved, per basis."""
    out: Forgotten = {}
    for basis, ctx in contexts.items():
        ctx.profile = profile
        gone = out[basis] = {}
        for fact in facts:
            value = ctx.pop(fact, _UNRESOLVED)
            if value is not _UNRESOLVED:
                gone[fact] = value
    return out


def same_truths(
    ctx: Context, before: Mapping[str, Resolved], tests: Iterable[FactTests]
) -> bool:
    """Whether every leaf of `tests` is as true with the facts' values `before` as with the
    context's: then a verdict, which reads nothing else of the facts (the truth of each leaf,
    and for an unknown value whether it awaits an expert), is what it was.

    A fact read only through the context that was not resolved before was read by no verdict
    since it was last forgotten: the policy's last evaluation stopped short of its leaves (an
    `all` already false, an `any` already true), and with every leaf it did read as true as
    it was, it stops at the same place again. Such a fact is passed over and stays unresolved;
    every fact the evaluation read is resolved again here, so this holds at the next update.
    A fact a leaf may read from the profile directly is not known to be unread: False."""
    as_of = ctx.as_of
    for fact, leaf_tests, through_context in tests:
        old = before.get(fact, _UNRESOLVED)
        if old is _UNRESOLVED:
            if through_context:
                continue
            return False
        new = ctx[fact]
        if isinstance(old, Missing) or isinstance(new, Missing):
            if not (isinstance(old, Missing) and isinstance(new, Missing)):
                return False
            if old.review is not new.review:
                return False
            continue
        for test in leaf_tests:
            if bool(test(old, as_of)) is not bool(test(new, as_of)):
                return False
    return True


class SharedUnknowns:
    """One `Missing` object for all equal unknowns that kept contexts hold. An unknown is
    immutable and compared by value, so sharing it changes nothing but memory: most facts of
    most enterprises are unknown for the same few reasons, and each resolution makes a new
    object (with its set of inputs). Bounded: cleared when full (the objects shared so far
    stay valid)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[Missing, Missing] = {}

    def share(self, contexts: Contexts, facts: Iterable[str] | None = None) -> None:
        """Replace the unknowns among the `facts` resolved in `contexts` (None: all) by the
        shared equal ones."""
        kept = self._kept
        if len(kept) >= _UNKNOWNS_KEPT:
            kept.clear()
        for ctx in contexts.values():
            for fact in list(ctx) if facts is None else facts:
                value = dict.get(ctx, fact)  # not resolved here if nothing asked for it
                if isinstance(value, Missing):
                    ctx[fact] = kept.setdefault(value, value)


class IndexedVerdicts:
    """Verdicts of every policy for one enterprise at a time, from a context kept with it."""

    def __init__(self, policies: PolicySet, as_of: date, tax_year: int | None = None) -> None:
        self.policies = policies
        self.as_of = as_of
        self.dates = Dates.of(as_of, tax_year)
        self.index = InputIndex(policies)
        self.policy_ids = list(self.index.everything)
        self.unknowns = SharedUnknowns()
        _, self.baseline = self.start(Profile())

    def start(self, profile: Profile) -> tuple[Contexts, dict[str, Status]]:
        """A new enterprise's contexts and verdicts."""
        contexts = self.policies.contexts(profile, self.dates)
        verdicts = {pid: self.policies.verdict(contexts, pid) for pid in self.policy_ids}
        self.unknowns.share(contexts)
        return contexts, verdicts

    def change(
        self,
        contexts: Contexts,
        verdicts: dict[str, Status],
        profile: Profile,
        inputs: set[str],
        prefixes: set[str],
    ) -> dict[str, Status]:
        """The verdicts after the enterprise's profile became `profile` by changing `inputs`
        (and everything under `prefixes`); the contexts forget the facts computed from them.
        `verdicts` itself when none changed (it is never changed in place)."""
        (facts, _), rechecks = self.index.found(inputs, prefixes)
        before = forget(contexts, profile, facts)
        now = verdicts  # copied only if a verdict changed: most updates change none
        for pid, basis, tests in rechecks:
            if tests is not None and same_truths(contexts[basis], before[basis], tests):
                continue  # every leaf reading a changed fact is as true as it was
            status = self.policies.verdict(contexts, pid)
            if status is not now[pid]:
                if now is verdicts:
                    now = dict(verdicts)
                now[pid] = status
        self.unknowns.share(contexts, facts)
        return now

    def drop(self, state: Contexts, quiet: bool = False) -> None:
        """Nothing to free: the context goes with the enterprise."""

    def close(self) -> None:
        """Nothing to free."""
