"""`PolicySet`: an immutable, compiled set of policies. Load once, evaluate many profiles.

Loading makes the set's plan (`engine.compile.plan`), which the set hands out (`policies`,
`plan`) and every back end reads; the reference evaluator's closures are compiled from it and
kept inside. Immutable in depth: the plan is frozen data, documents and fact declarations are
frozen models with tuples, zones and mappings are read-only, and every result is built afresh,
so nothing a caller holds can change a later evaluation. Thread-safe by construction: each
evaluation keeps its state in a fresh `Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .compile.cache import load_set
from .compile.loaded import LoadedSet
from .compile.plan import (
    ATTACHES,
    Attaches,
    Basis,
    Dates,
    FactPlan,
    PolicyPlan,
    SetPlan,
    StackingPlan,
)
from .errors import InputError, Problem, ProfileError
from .model.plausibility import profile_warnings
from .model.profile import FISCAL_YEARS, Profile, profile_problem
from .model.zones import Zone, Zones
from .reference.context import (
    BASIS_PARTS,
    Context,
    ExtraReader,
    Resolved,
    Resolver,
    basis_reads,
    checked_profile_facts,
    compile_resolver,
    profile_fact_defs,
    profile_fact_readers,
    sharing_resolvers,
)
from .reference.evaluate import (
    CompiledPolicy,
    apply_stacking,
    compile_policy,
    default_as_of,
    evaluate_policy,
    verdict,
)
from .reference.opportunities import find_opportunities
from .reference.results import (
    Later,
    Notice,
    PolicyResult,
    ProfileRef,
    Report,
    Status,
    Totals,
    assemble,
    assemble_filled,
    assemble_later,
)

if TYPE_CHECKING:
    from .model.facts import FactDef
    from .model.language import Document, Policy


class PolicySet:
    """Policies loaded from a directory (default: the bundled library) and compiled once."""

    __slots__ = (
        "_by_id",
        "_chains",
        "_compiled",
        "_facts",
        "_frozen",
        "_loaded",
        "_plan",
        "_profile_facts",
        "_readers",
        "_resolvers",
        "_sharing",
        "_stacking",
        "_zones",
        "directory",
    )

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = None if directory is None else Path(directory)
        # The bundled library comes from the compiled library's cache when it can
        # (`compile.cache`); its documents are read from it only when asked for.
        loaded = load_set(self.directory)
        self._loaded: LoadedSet = loaded
        self._facts: Mapping[str, FactDef] = loaded.facts
        self._zones: Zones = loaded.zones
        self._plan: SetPlan = loaded.plan
        facts = self._plan.facts
        self._by_id: Mapping[str, PolicyPlan] = MappingProxyType(
            {p.id: p for p in self._plan.policies}
        )
        # The reference evaluator's closures, compiled from the plan; a plain dict, never
        # handed out and never changed.
        below = self._zones.below()
        # Each zone's chain (`zones_of`), which every evaluation of a profile in a zone reads.
        self._chains: dict[str, tuple[str, ...]] = {
            zone: self._zones.chain(zone) for zone in self._zones.by_id
        }
        self._compiled: dict[str, CompiledPolicy] = {
            p.id: compile_policy(p, facts, below) for p in self._plan.policies
        }
        self._stacking: Mapping[str, StackingPlan | None] = MappingProxyType(
            {p.id: p.stacking for p in self._plan.policies}
        )
        # A plain dict, never exposed and never changed after this: every Context reads it
        # without a copy (a read-only proxy would cost a lookup on each fact resolved).
        self._resolvers: dict[str, Resolver] = {
            name: compile_resolver(defn) for name, defn in facts.items()
        }
        # The resolvers of a tax year's context beside the application's, by the parts of
        # their bases that agree (`context.sharing_resolvers`). Plain dicts, as `_resolvers`.
        reads = basis_reads(facts)
        self._sharing: dict[frozenset[str], dict[str, Resolver]] = {
            agree: sharing_resolvers(self._resolvers, reads, agree)
            for agree in (frozenset(), *(frozenset({p}) for p in BASIS_PARTS), BASIS_PARTS)
        }
        self._profile_facts: Mapping[str, FactPlan] = MappingProxyType(profile_fact_defs(facts))
        self._readers: dict[str, ExtraReader] = profile_fact_readers(self._profile_facts)
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("a PolicySet is immutable; load a new one instead")
        object.__setattr__(self, name, value)

    # --- inspection ---------------------------------------------------------------------------

    @property
    def plan(self) -> SetPlan:
        """The whole set as the plan every back end reads."""
        return self._plan

    @property
    def policies(self) -> tuple[PolicyPlan, ...]:
        """The policies' plans, in the set's order."""
        return self._plan.policies

    @property
    def documents(self) -> tuple[tuple[str, Document], ...]:
        """Each document as written, with its file."""
        return self._loaded.documents

    @property
    def facts(self) -> Mapping[str, FactDef]:
        """Every fact's declaration as written (the catalogue's and the documents'); their
        plans are `plan.facts`."""
        return self._facts

    @property
    def zones(self) -> Mapping[str, Zone]:
        return MappingProxyType(self._zones.by_id)

    def definition(self, policy_id: str) -> Policy:
        """The policy as written in its document."""
        plan = self.get(policy_id)
        document = next(doc for shown, doc in self.documents if shown == plan.where.file)
        return next(p for p in document.policies if p.id == policy_id)

    def get(self, policy_id: str) -> PolicyPlan:
        try:
            return self._by_id[policy_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(policy_id, list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(f"no policy with id {policy_id!r} in this policy set{hint}") from None

    def policies_in(self, zone: str) -> tuple[PolicyPlan, ...]:
        """The policies that apply to an enterprise in `zone`: national ones, and those of the
        zone or of a zone that contains it (the plan's `applies_to`, which evaluation reads)."""
        if zone not in self._zones.by_id:
            known = ", ".join(sorted(self._zones.by_id))
            raise InputError(f"unknown zone {zone!r}; known zones: {known}")
        return tuple(p for p in self._plan.policies if p.applies_to(zone))

    def __len__(self) -> int:
        return len(self._plan.policies)

    # --- evaluation ---------------------------------------------------------------------------

    def check_profile(self, profile: Profile) -> None:
        """Raise ProfileError if the profile names zones or extra facts this set does not know."""
        self._checked(profile)

    def _checked(self, profile: Profile) -> dict[str, Resolved]:
        """`check_profile`, giving the values of the extra facts it checked, by fact id."""
        texts, values = checked_profile_facts(
            profile, self._plan.facts, self._profile_facts, self._readers
        )
        zone = profile.zone
        if not texts and (zone is None or zone in self._zones.by_id):
            return values
        problems = [profile_problem(profile, text) for text in texts]
        if zone is not None and zone not in self._zones.by_id:
            known = ", ".join(sorted(self._zones.by_id))
            problems.append(
                profile_problem(profile, f"unknown zone {profile.zone!r}; known zones: {known}", "zone")
            )
        if problems:
            raise ProfileError(
                f"profile {profile.name or ''} does not fit this policy set".replace("  ", " "),
                problems,
            )
        return values

    def context(self, profile: Profile, on: date | Basis) -> Context:
        """A fresh evaluation context: on a day (an application's basis: that day and the
        fiscal year before it), or on a `Basis` (`Dates.basis`, e.g. a tax year's)."""
        return Context(profile, on, self._resolvers, self._plan.facts)

    def contexts(self, profile: Profile, dates: Dates) -> dict[Attaches, Context]:
        """One context per kind of attachment (`plan.Attaches`): the evaluation date's for
        applications, the tax year's for tax-year preferences. A fact whose value is the same
        on both bases (read from the profile alone, or from the same fiscal year) is resolved
        once, in the first. A caller that changes the profile of one changes both's and
        forgets the facts it changed in both (as reactive sessions do)."""
        return self._contexts(profile, _bases(dates.as_of, dates.tax_year))

    def _contexts(self, profile: Profile, bases: _Bases) -> dict[Attaches, Context]:
        """Both bases' contexts, the other reading from the first what both share; without
        memos, for a caller that changes their facts (`evaluate` has its own,
        `_evaluation_contexts`)."""
        _, (first_kind, first_basis), (other_kind, other_basis), agree = bases
        facts = self._plan.facts
        first = Context(profile, first_basis, self._resolvers, facts)
        other = Context(profile, other_basis, self._sharing[agree], facts, first)
        return {first_kind: first, other_kind: other}

    def _evaluation_contexts(self, profile: Profile, bases: _Bases) -> _Contexts:
        """`_contexts` with their memos, for `evaluate`, which never changes their facts: the
        other basis's context made only when a policy of that kind asks for it (a report of a
        few policies often reads one)."""
        _, (first_kind, first_basis), (other_kind, other_basis), agree = bases
        first = Context(profile, first_basis, self._resolvers, self._plan.facts)
        first.memo = {}
        contexts = _Contexts({first_kind: first})
        contexts.other = (other_kind, other_basis, self._sharing[agree])
        return contexts

    def zones_of(self, zone: str | None) -> tuple[str, ...]:
        """The zones a profile in `zone` is placed in: the zone and every zone containing it
        (through each of its parents), innermost first; none for an unknown zone."""
        return () if zone is None else self._chain(zone)

    def _chain(self, zone: str) -> tuple[str, ...]:
        """`Zones.chain` of the zone: the set's zones' made once, when it was loaded."""
        chain = self._chains.get(zone)
        return self._zones.chain(zone) if chain is None else chain

    def verdict(self, contexts: Mapping[Attaches, Context], policy_id: str) -> Status:
        """One policy's status for the contexts' profile (in its zone), as `evaluate` gives
        it, without building a result: for callers that keep contexts (one per basis,
        `contexts`) and ask again when facts change (reactive sessions)."""
        cp = self._compiled[policy_id]
        ctx = contexts[cp.plan.attaches]
        return verdict(cp, ctx, ctx.profile.zone)

    def evaluate(
        self,
        profile: Profile,
        as_of: date | None = None,
        *,
        zone: str | None = None,
        tax_year: int | None = None,
        policy_ids: Iterable[str] | None = None,
        explain: bool = False,
        gaps: bool = True,
    ) -> Report:
        """Evaluate every policy (or those named) for one profile on one date.

        Applications are evaluated on `as_of` (default today) with the fiscal year before it;
        tax-year preferences for `tax_year` (default: the year before `as_of`, the last tax
        year that has ended), on its 31 December with that year's figures (`plan.Dates`).
        Each result says which (`attaches`, `evaluated_on`, `fiscal_year`, `tax_year`).

        `zone` overrides the profile's zone. Verdicts, amounts (after stacking), missing facts
        and facts awaiting review are always present.

        `gaps`: for each ineligible policy, the failing criteria with what it would take to pass
        them, closest first (`PolicyResult.gaps`). They cost more than the verdict itself
        (wording in two languages, distances), so callers that never show them (screening,
        reactive sessions, agreement checks) pass `gaps=False` and get empty `gaps`; nothing
        else in the report changes.

        With `gaps`, the report also ranks the opportunities (`Report.opportunities`,
        `reference.opportunities`): the ineligible policies the company could reach, every way
        to pass them, and what each would bring.

        `explain`: add the evaluated condition tree of each policy (`PolicyResult.trace`).

        `policy_ids`: only these policies' results. Their amounts are still those of the whole
        set, after stacking: the other members of their stacking groups are evaluated too (and
        left out of the report), so that `explain` of one policy pays what `check` pays.
        """
        day = as_of or default_as_of()
        if tax_year is not None and not FISCAL_YEARS[0] <= tax_year <= FISCAL_YEARS[1]:
            raise InputError(f"tax year {tax_year} is outside {FISCAL_YEARS[0]}–{FISCAL_YEARS[1]}")
        if zone is not None:
            profile = profile.model_copy(update={"zone": zone})
        stated = self._checked(profile)
        bases = _bases(day, tax_year)
        ctx = self._evaluation_contexts(profile, bases)
        if stated:
            # The extra facts as the check read them: the first context (which the other
            # reads facts of the profile alone from) need not read them again.
            ctx[bases[1][0]].update(stated)
        zone_id = profile.zone
        if policy_ids is None:
            results = [
                evaluate_policy(cp, ctx[cp.plan.attaches], zone_id, explain, gaps)
                for cp in self._compiled.values()
            ]
            results = apply_stacking(results, self._stacking)
        else:
            by_id = self._by_id  # (`get` words the refusal of an unknown id)
            ids = [pid if pid in by_id else self.get(pid).id for pid in policy_ids]
            results = self._some(ctx, zone_id, ids, explain, gaps)
        profile_ref = assemble_filled(
            ProfileRef,
            {
                "credit_code": profile.credit_code,
                "name": profile.name,
                "zone": profile.zone,
                "synthetic": profile.synthetic,
            },
        )
        total, totals = _totals(results)
        # The warnings and opportunities are computed when the report is read
        # (`results.assemble_later`): screening, sessions and agreement checks never read them.
        return assemble_later(
            Report,
            {
                "as_of": day,
                "tax_year": bases[0].tax_year,
                "zones_applied": [] if zone_id is None else [*self._chain(zone_id)],
                "profile": profile_ref,
                "results": results,
                "total": total,
                "totals": totals,
                "warnings": Later(partial(_warnings, profile, day)),
                "opportunities": (
                    # A copy of the list: what a caller does to the report's cannot change them.
                    Later(partial(find_opportunities, self._compiled, [*results], ctx))
                    if gaps
                    else []
                ),
            },
        )

    def _some(
        self, ctx: Mapping[Attaches, Context], zone: str | None, ids: list[str], explain: bool,
        gaps: bool,
    ) -> list[PolicyResult]:  # fmt: skip
        """The named policies' results, stacked with the other members of their groups."""
        compiled, stacking = self._compiled, self._stacking
        results = [
            evaluate_policy(compiled[pid], ctx[compiled[pid].plan.attaches], zone, explain, gaps)
            for pid in ids
        ]
        grouped = [s.group for pid in ids if (s := stacking[pid]) is not None]
        if not grouped:
            return results
        named = set(ids)
        groups = self._plan.groups
        peers = dict.fromkeys(m for g in grouped for m in groups[g].members if m not in named)
        results += [
            evaluate_policy(compiled[pid], ctx[compiled[pid].plan.attaches], zone, False, False)
            for pid in peers
        ]
        return apply_stacking(results, stacking)[: len(ids)]

    def explain(
        self, profile: Profile, policy_id: str, as_of: date | None = None,
        tax_year: int | None = None,
    ) -> PolicyResult:  # fmt: skip
        report = self.evaluate(profile, as_of, tax_year=tax_year, policy_ids=[policy_id], explain=True)
        return report.results[0]


_Bases = tuple[Dates, tuple[Attaches, Basis], tuple[Attaches, Basis], frozenset[str]]


class _Contexts(dict[Attaches, Context]):
    """An evaluation's contexts by kind of attachment (`PolicySet._evaluation_contexts`): the
    first basis's made at once, the other's (`other`: its kind, basis and resolvers) the first
    time it is asked for, reading from the first what both share, as `PolicySet._contexts`
    makes it. Two threads asking at once may each make one; they resolve the same values."""

    __slots__ = ("other",)
    other: tuple[Attaches, Basis, dict[str, Resolver]]

    def __missing__(self, kind: Attaches) -> Context:
        other_kind, basis, resolvers = self.other
        if kind != other_kind:
            raise KeyError(kind)
        first = next(iter(self.values()))
        made = Context(first.profile, basis, resolvers, first.facts, first)
        made.memo = {}
        self[kind] = made
        return made


@lru_cache(maxsize=256)
def _bases(day: date, tax_year: int | None) -> _Bases:
    """An evaluation's dates (`Dates.of`), its two bases (`Dates.basis`), the application's
    first, and the parts of them that agree (`context.BASIS_PARTS`): made once per day and
    tax year, since every profile evaluated on them asks (the records are immutable)."""
    dates = Dates.of(day, tax_year)
    assert ATTACHES == ("application", "tax_year")
    first, other = (dates.basis(kind) for kind in ATTACHES)
    agree = frozenset(part for part in BASIS_PARTS if getattr(first, part) == getattr(other, part))
    return dates, (ATTACHES[0], first), (ATTACHES[1], other), agree


def _warnings(profile: Profile, day: date) -> list[Notice]:
    return [_notice(w) for w in profile_warnings(profile, day)]


def _notice(problem: Problem) -> Notice:
    return assemble(
        Notice,
        {"message": problem.message, "field": problem.field, "file": problem.file,
         "line": problem.line},
    )  # fmt: skip


def _totals(results: list[PolicyResult]) -> tuple[Decimal, Totals]:
    """The report's total (cash and tax saved) and its parts, from eligible results' amounts.
    One pass; each sum adds its amounts in the order of the results."""
    for r in results:
        if r.status is Status.ELIGIBLE and r.amount is not None:
            break
    else:
        return _NO_TOTALS  # the usual case when screening: skip the arithmetic
    total = cash = tax_saving = deduction = illustrative = Decimal(0)
    for r in results:
        if r.status is not Status.ELIGIBLE or r.amount is None:
            continue
        kind = r.amount_kind
        if kind == "cash":
            cash += r.amount
        elif kind == "tax_saving":
            tax_saving += r.amount
        elif kind == "deduction":
            deduction += r.amount
            continue
        else:
            continue
        total += r.amount
        if r.source.provenance == "illustrative":
            illustrative += r.amount
    totals = assemble(
        Totals,
        {
            "cash": _cents(cash),
            "tax_saving": _cents(tax_saving),
            "deduction": _cents(deduction),
            "illustrative": _cents(illustrative),  # the part of the total on illustrative policies
        },
    )
    return _cents(total), totals


_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
# Shared by every report without an amount: immutable, like all results.
_NO_TOTALS = (
    _ZERO,
    assemble(
        Totals, {"cash": _ZERO, "tax_saving": _ZERO, "deduction": _ZERO, "illustrative": _ZERO}
    ),
)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)
