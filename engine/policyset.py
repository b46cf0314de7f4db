"""`PolicySet`: an immutable, compiled set of policies. Load once, evaluate many profiles.

Thread-safe by construction: after loading nothing in it changes, and each evaluation keeps its
state in a fresh `Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from .compile.loader import load, resolvers
from .errors import InputError, Problem, ProfileError
from .model.facts import FactDef
from .model.language import Document
from .model.plausibility import profile_warnings
from .model.profile import Profile, profile_problem
from .model.zones import NATIONAL, Zone, Zones
from .reference.context import (
    Context,
    Resolver,
    check_profile_facts,
    profile_fact_defs,
)
from .reference.evaluate import (
    CompiledPolicy,
    apply_stacking,
    default_as_of,
    evaluate_policy,
)
from .reference.results import (
    Notice,
    PolicyResult,
    ProfileRef,
    Report,
    Status,
    Totals,
    assemble,
)


class PolicySet:
    """Policies loaded from a directory (default: the bundled library) and compiled once."""

    __slots__ = (
        "_by_id",
        "_chains",
        "_documents",
        "_facts",
        "_frozen",
        "_policies",
        "_profile_facts",
        "_resolvers",
        "_zones",
        "directory",
    )

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = None if directory is None else Path(directory)
        loaded = load(self.directory)
        self._documents = loaded.documents
        self._facts: Mapping[str, FactDef] = MappingProxyType(dict(loaded.facts))
        self._zones: Zones = loaded.zones
        self._policies: tuple[CompiledPolicy, ...] = loaded.policies
        self._by_id: Mapping[str, CompiledPolicy] = MappingProxyType(
            {p.id: p for p in loaded.policies}
        )
        # A plain dict, never exposed and never changed after this: every Context reads it
        # without a copy (a read-only proxy would cost a lookup on each fact resolved).
        self._resolvers: dict[str, Resolver] = resolvers(dict(loaded.facts))
        self._profile_facts: Mapping[str, FactDef] = MappingProxyType(
            profile_fact_defs(loaded.facts)
        )
        self._chains: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {zone: self._zones.chain(zone) for zone in self._zones.by_id}
        )
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("a PolicySet is immutable; load a new one instead")
        object.__setattr__(self, name, value)

    # --- inspection ---------------------------------------------------------------------------

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        return self._policies

    @property
    def documents(self) -> tuple[tuple[str, Document], ...]:
        return self._documents

    @property
    def facts(self) -> Mapping[str, FactDef]:
        return self._facts

    @property
    def zones(self) -> Mapping[str, Zone]:
        return MappingProxyType(self._zones.by_id)

    def get(self, policy_id: str) -> CompiledPolicy:
        try:
            return self._by_id[policy_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(policy_id, list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(f"no policy with id {policy_id!r} in this policy set{hint}") from None

    def policies_in(self, zone: str) -> tuple[CompiledPolicy, ...]:
        """The policies that apply to an enterprise in `zone`: national ones, and those of the
        zone or of a zone that contains it (the same test as evaluation's `not_in_force`)."""
        chain = self._chains.get(zone)
        if chain is None:
            known = ", ".join(sorted(self._zones.by_id))
            raise InputError(f"unknown zone {zone!r}; known zones: {known}")
        return tuple(
            p for p in self._policies if NATIONAL in p.zones or not p.zones.isdisjoint(chain)
        )

    def __len__(self) -> int:
        return len(self._policies)

    # --- evaluation ---------------------------------------------------------------------------

    def check_profile(self, profile: Profile) -> None:
        """Raise ProfileError if the profile names zones or extra facts this set does not know."""
        problems = [
            profile_problem(profile, text)
            for text in check_profile_facts(profile, self._facts, self._profile_facts)
        ]
        if profile.zone is not None and profile.zone not in self._zones.by_id:
            known = ", ".join(sorted(self._zones.by_id))
            problems.append(
                profile_problem(profile, f"unknown zone {profile.zone!r}; known zones: {known}", "zone")
            )
        if problems:
            raise ProfileError(
                f"profile {profile.name or ''} does not fit this policy set".replace("  ", " "),
                problems,
            )

    def context(self, profile: Profile, as_of: date) -> Context:
        return Context(profile, as_of, self._resolvers, self._facts)

    def evaluate(
        self,
        profile: Profile,
        as_of: date | None = None,
        *,
        zone: str | None = None,
        policy_ids: Iterable[str] | None = None,
        explain: bool = False,
        gaps: bool = True,
    ) -> Report:
        """Evaluate every policy (or those named) for one profile on one date.

        `zone` overrides the profile's zone. Verdicts, amounts (after stacking), missing facts
        and facts awaiting review are always present.

        `gaps`: for each ineligible policy, the failing criteria with what it would take to pass
        them, closest first (`PolicyResult.gaps`). They cost more than the verdict itself
        (wording in two languages, distances), so callers that never show them (screening,
        reactive sessions, agreement checks) pass `gaps=False` and get empty `gaps`; nothing
        else in the report changes.

        `explain`: add the evaluated condition tree of each policy (`PolicyResult.trace`).
        """
        day = as_of or default_as_of()
        if zone is not None:
            profile = profile.model_copy(update={"zone": zone})
        self.check_profile(profile)
        chosen = (
            self._policies if policy_ids is None else tuple([self.get(pid) for pid in policy_ids])
        )
        ctx = self.context(profile, day)
        chain = None if profile.zone is None else self._chains[profile.zone]
        results = [evaluate_policy(cp, ctx, chain, self._facts, explain, gaps) for cp in chosen]
        results = apply_stacking(results, self._by_id)
        profile_ref = assemble(
            ProfileRef,
            {
                "credit_code": profile.credit_code,
                "name": profile.name,
                "zone": profile.zone,
                "synthetic": profile.synthetic,
            },
        )
        total, totals = _totals(results)
        return assemble(
            Report,
            {
                "as_of": day,
                "profile": profile_ref,
                "results": results,
                "total": total,
                "totals": totals,
                "warnings": [_notice(w) for w in profile_warnings(profile, day)],
            },
        )

    def explain(self, profile: Profile, policy_id: str, as_of: date | None = None) -> PolicyResult:
        report = self.evaluate(profile, as_of, policy_ids=[policy_id], explain=True)
        return report.results[0]


def _notice(problem: Problem) -> Notice:
    return assemble(
        Notice,
        {"message": problem.message, "field": problem.field, "file": problem.file,
         "line": problem.line},
    )  # fmt: skip


def _totals(results: list[PolicyResult]) -> tuple[Decimal, Totals]:
    """The report's total (cash and tax saved) and its parts, from eligible results' amounts.
    One pass; each sum adds its amounts in the order of the results."""
    if not any(r.status is Status.ELIGIBLE and r.amount is not None for r in results):
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
