"""Load a directory of policy documents into the plan (`engine.compile.plan`), or refuse the
whole set.

Loading runs in named stages, each collecting its problems (file, line, field, message):

1. `files`: which files are documents (every file is either read or reported);
2. `documents`: each document read, parsed and checked against the policy language;
3. `zones`: the built-in zones and the directory's `zones.yaml`;
4. `facts`: the catalogue and every document's own facts, planned (`compile.facts`);
5. `succession`: superseded documents name their successor and end;
6. `policies`: each policy planned (`compile.conditions`, `compile.benefits`);
7. `groups`: stacking groups declared alike by all their members.

Every problem of every stage is reported at once, so an author sees all mistakes together; a
set with any problem is never half-loaded.

Which files are documents is `compile.files`'s to say.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import PolicyError, Problem
from ..model.facts import FactDef
from ..model.language import Document, Effective, Policy, Provenance
from ..model.units import parse_quantity
from ..model.yamlio import (
    Location,
    YamlError,
    line_of,
    load_yaml,
    read_text,
)
from ..model.zones import (
    NATIONAL,
    Zone,
    ZoneFile,
    Zones,
)
from ..reference.results import SourceInfo
from .benefits import plan_benefit
from .conditions import CompileError, Placer, RefusedFact, plan_condition
from .facts import Declared, plan_facts
from .files import CASES_SUFFIX, ZONES_FILE, bundled_policies, document_files, shown_name
from .loaded import LoadedSet, Written
from .plan import (
    Attaches,
    BenefitPlan,
    Criterion,
    FactPlan,
    GroupPlan,
    Node,
    Period,
    PolicyPlan,
    Requirement,
    SetPlan,
    StackingPlan,
    Where,
    comparisons,
)

CATALOGUE = "built-in catalogue"


class _Doc:
    """A document read, with its file (relative to the directory's parent) and line map."""

    __slots__ = ("doc", "lines", "shown")

    def __init__(self, shown: str, doc: Document, lines: dict[Location, int]) -> None:
        self.shown, self.doc, self.lines = shown, doc, lines

    def placer(self) -> Placer:
        return lambda path: Where(self.shown, line_of(self.lines, path), path)

    def problem(self, message: str, path: tuple[str | int, ...]) -> Problem:
        return Problem(
            message, file=self.shown, line=line_of(self.lines, path), field=".".join(map(str, path))
        )


def _engine_yaml(name: str) -> tuple[Any, dict[Location, int]]:
    text = resources.files("incentives.engine.model").joinpath(name).read_text(encoding="utf-8")
    return load_yaml(text)


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[tuple[FactDef, ...], dict[Location, int]]:
    """The built-in catalogue, read once per process (its models are immutable; its line map
    is only ever read)."""
    data, lines = _engine_yaml("catalogue.yaml")
    return tuple(FactDef.model_validate(d) for d in data["facts"]), lines


@functools.lru_cache(maxsize=1)
def _builtin_zones() -> tuple[Zone, ...]:
    return ZoneFile.model_validate(_engine_yaml(ZONES_FILE)[0]).zones


# --- stages 1 and 2: files and documents ---------------------------------------------------


def _validation_problems(
    exc: ValidationError, data: Any, file: str, lines: dict[Location, int]
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = data_path(data, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        field = ".".join(map(str, path)) or None
        problems.append(Problem(message, file=file, line=line_of(lines, path), field=field))
    return problems


def data_path(data: Any, loc: Iterable[str | int]) -> list[str | int]:
    """The steps of a pydantic error location that exist in the data (drops union tags)."""
    steps = list(loc)
    path: list[str | int] = []
    node = data
    for index, step in enumerate(steps):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif index == len(steps) - 1 and isinstance(node, dict):
            node = None  # a missing or unknown key: still name it
        else:
            continue
        path.append(step)
    return path


def _read(
    path: Path, model: type[BaseModel], problems: list[Problem], shown: str
) -> tuple[Any, dict[Location, int]] | None:
    try:
        text = read_text(path, encoding_option=False)
    except OSError as exc:
        problems.append(Problem(f"cannot read: {exc.strerror or exc}", file=shown))
        return None
    except YamlError as exc:  # not text: the line of the first bad byte, the likely encoding
        problems.append(Problem(str(exc), file=shown, line=exc.line))
        return None
    try:
        data, lines = load_yaml(text)
    except YamlError as exc:
        problems.append(Problem(str(exc), file=shown, line=exc.line))
        return None
    if not isinstance(data, dict):
        problems.append(Problem("expected a mapping at the top of the file", file=shown, line=1))
        return None
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, data, shown, lines))
        return None


def read_documents(root: Path, problems: list[Problem]) -> list[_Doc]:
    """Stage `documents`."""
    files = document_files(root, problems)
    if not files and not problems:
        problems.append(Problem(f"no policy documents (*.yaml) found in {root}"))
    documents = []
    for path in files:
        shown = shown_name(path, root)
        loaded = _read(path, Document, problems, shown)
        if loaded is not None:
            documents.append(_Doc(shown, loaded[0], loaded[1]))
    return documents


# --- stage 3: zones --------------------------------------------------------------------------


def read_zones(root: Path, problems: list[Problem]) -> Zones:
    zone_list = list(_builtin_zones())
    extra = root / ZONES_FILE
    if extra.is_file():
        loaded = _read(extra, ZoneFile, problems, shown_name(extra, root))
        if loaded is not None:
            zone_list += loaded[0].zones
    by_id: dict[str, Zone] = {}
    for declared in zone_list:
        if declared.id in by_id:
            problems.append(Problem(f"zone {declared.id!r} is declared twice", file=ZONES_FILE))
        by_id[declared.id] = declared
    zones = Zones(by_id)
    problems.extend(Problem(p, file=ZONES_FILE) for p in zones.problems())
    return zones


# --- stage 4: facts --------------------------------------------------------------------------


def declare_facts(documents: list[_Doc], problems: list[Problem]) -> dict[str, Declared]:
    """The catalogue's facts, then each document's own, each declared once."""
    catalogue, lines = _catalogue()
    declared = {
        d.id: Declared(d, "engine/model/catalogue.yaml", lines, ("facts", i), CATALOGUE)
        for i, d in enumerate(catalogue)
    }
    for doc in documents:
        for index, fact in enumerate(doc.doc.facts):
            first = declared.get(fact.id)
            if first is not None:
                problems.append(doc.problem(
                    f"fact {fact.id!r} is already declared in {first.label}", ("facts", index, "id")
                ))  # fmt: skip
                continue
            declared[fact.id] = Declared(fact, doc.shown, doc.lines, ("facts", index), doc.shown)
    return declared


# --- stage 5: succession ---------------------------------------------------------------------


def succession_problems(documents: list[_Doc]) -> list[Problem]:
    """A superseded document must name a document of the set and end: otherwise the old and the
    new rules would both apply from the successor's start on."""
    ids = {d.doc.id for d in documents}
    problems = []
    for d in documents:
        successor = d.doc.superseded_by
        if successor is None:
            continue
        if successor == d.doc.id or successor not in ids:
            what = "itself" if successor == d.doc.id else "no document of this set"
            problems.append(
                d.problem(f"superseded_by {successor!r} names {what}", ("superseded_by",))
            )
        elif d.doc.effective.until is None:
            problem = d.problem(
                f"superseded by {successor!r} but has no effective.until: give the last day "
                "these rules apply",
                ("superseded_by",),
            )
            problems.append(Problem(problem.message, problem.file, problem.line, "effective.until"))
    return problems


# --- stage 6: policies -----------------------------------------------------------------------


class _Policies:
    """Plans the policies of every document against the facts and zones."""

    def __init__(
        self,
        facts: Mapping[str, FactPlan],
        refused: frozenset[str],  # facts declared but not planned: their problems are reported
        zones: Zones,
        problems: list[Problem],
    ) -> None:
        self.facts, self.refused, self.zones, self.problems = facts, refused, zones, problems
        self.seen: dict[str, str] = {}
        self.locations: dict[str, tuple[str, int]] = {}
        # The facts policies may name; None for a declared fact whose problems are reported
        # already, so that naming it adds none.
        self._usable: Mapping[str, FactPlan | None] = {**facts, **dict.fromkeys(refused)}

    def plan(self, documents: list[_Doc]) -> tuple[PolicyPlan, ...]:
        chains = {zone: self.zones.chain(zone) for zone in self.zones.by_id}
        out = []
        for d in documents:
            for index, policy in enumerate(d.doc.policies):
                planned = self._one(d, index, policy, chains)
                if planned is not None:
                    out.append(planned)
        return tuple(out)

    def _one(
        self, d: _Doc, index: int, policy: Policy, chains: Mapping[str, tuple[str, ...]]
    ) -> PolicyPlan | None:
        where = ("policies", index)
        if policy.id in self.seen:
            self.problems.append(d.problem(
                f"duplicate policy id {policy.id!r} (also in {self.seen[policy.id]})", (*where, "id")
            ))  # fmt: skip
            return None
        self.seen[policy.id] = d.shown
        self.locations[policy.id] = (d.shown, index)
        errors: list[CompileError] = []
        zones = frozenset(policy.zones or d.doc.zones)
        errors += _unknown_zones(zones, chains, where)
        effective = _effective(d.doc, policy.effective)
        if effective is None:
            errors.append(CompileError("policy effective period ends before it starts",
                                       (*where, "effective")))  # fmt: skip
        criteria = self._criteria(d, policy, where, errors)
        benefit = self._benefit(d, policy, where, errors)
        errors = [e for e in errors if not isinstance(e, RefusedFact)]  # reported with the fact
        if errors or effective is None or benefit is None or self.refused:
            self.problems += [d.problem(str(e), e.path) for e in errors]
            return None
        return self._policy(d, index, policy, effective, zones, criteria, benefit, chains)

    def _benefit(
        self, d: _Doc, policy: Policy, where: tuple[str | int, ...], errors: list[CompileError]
    ) -> BenefitPlan | None:
        """The benefit's plan, and the facts `monotone` names checked."""
        errors += [
            CompileError(f"unknown fact {fact!r} in monotone", (*where, "monotone"))
            for fact in policy.monotone
            if fact not in self.facts and fact not in self.refused
        ]
        try:
            return plan_benefit(policy.benefit, self._usable, (*where, "benefit"), d.placer())
        except CompileError as exc:
            errors.append(exc)
            return None

    def _criteria(
        self, d: _Doc, policy: Policy, where: tuple[str | int, ...], errors: list[CompileError]
    ) -> tuple[Criterion, ...]:
        facts = self._usable
        roots: list[tuple[Any, tuple[str | int, ...], bool]] = []
        if policy.when is not None:
            roots.append((policy.when, (*where, "when"), False))
        roots += [(node, (*where, "unless", i), True) for i, node in enumerate(policy.unless)]
        return tuple(
            Criterion(plan_condition(node, facts, path, errors, d.placer()), exclusion)
            for node, path, exclusion in roots
        )

    def _policy(
        self, d: _Doc, index: int, policy: Policy, effective: Period, zones: frozenset[str],
        criteria: tuple[Criterion, ...], benefit: BenefitPlan,
        chains: Mapping[str, tuple[str, ...]],
    ) -> PolicyPlan:  # fmt: skip
        reads = {leaf.fact for c in criteria for leaf in comparisons(c.node)} | set(benefit.reads)
        depends = set(reads).union(*(self.facts[f].depends_on for f in reads))
        applies_in = None if NATIONAL in zones else frozenset(
            zone for zone, chain in chains.items() if not zones.isdisjoint(chain)
        )  # fmt: skip
        return PolicyPlan(
            id=policy.id,
            title=policy.title,
            title_en=policy.title_en,
            document=d.doc.id,
            source=_source(d.doc, policy, criteria, benefit.provenance),
            effective=effective,
            zones=zones,
            applies_in=applies_in,
            criteria=criteria,
            benefit=benefit,
            stacking=_stacking(policy),
            requires=tuple(Requirement(r.zh, r.en or r.zh) for r in policy.requires),
            attaches=_attaches(d.doc, policy),
            monotone=policy.monotone,
            reads=frozenset(reads),
            depends_on=frozenset(depends),
            note=policy.note,
            where=d.placer()(("policies", index)),
        )


def _unknown_zones(
    zones: frozenset[str], chains: Mapping[str, tuple[str, ...]], where: tuple[str | int, ...]
) -> list[CompileError]:
    known = ", ".join(sorted(chains))
    return [
        CompileError(f"unknown zone {zone!r}; known zones: {known}", (*where, "zones"))
        for zone in sorted(zones)
        if zone not in chains
    ]


def _stacking(policy: Policy) -> StackingPlan | None:
    stacking = policy.stacking
    if stacking is None:
        return None
    cap = None if stacking.cap is None else parse_quantity(stacking.cap).value  # in yuan: checked
    return StackingPlan(stacking.group, stacking.exclusive, cap)


_TAX_KINDS = frozenset({"tax_rate", "deduction"})


def _attaches(doc: Document, policy: Policy) -> Attaches:
    """The policy's own `attaches`, else its document's, else by what it grants: a reduced tax
    rate or a deduction is a tax-year preference, anything else an application."""
    if policy.attaches is not None:
        return policy.attaches
    if doc.attaches is not None:
        return doc.attaches
    return "tax_year" if policy.benefit.kind in _TAX_KINDS else "application"


def _effective(doc: Document, own: Effective | None) -> Period | None:
    if own is None:
        return Period(doc.effective.start, doc.effective.until)
    start = own.start if own.start is not None else doc.effective.start
    until = own.until if own.until is not None else doc.effective.until
    if start is not None and until is not None and until < start:
        return None
    return Period(start, until)


def _marks(node: Node) -> Iterator[str | None]:
    yield node.provenance
    for child in node.children:
        yield from _marks(child)


def _source(
    doc: Document, policy: Policy, criteria: tuple[Criterion, ...], benefit: str | None
) -> SourceInfo:
    own = policy.source
    provenance = (own.provenance or doc.provenance).value
    marks = [mark for c in criteria for mark in _marks(c.node)] + [benefit]
    if Provenance.ILLUSTRATIVE.value in marks:
        provenance = Provenance.ILLUSTRATIVE.value
    # A policy that cites another document than its file's inherits nothing of the file's.
    inherited = doc if own.document is None else None
    return SourceInfo(
        document_id=doc.id,
        document=own.document or doc.title,
        number=own.number or (inherited.number if inherited else None),
        issuer=own.issuer or (inherited.issuer if inherited else doc.issuer),
        article=own.article,
        url=own.url or (inherited.url if inherited else None),
        provenance=provenance,
        note=own.note,
        superseded_by=doc.superseded_by,
    )


# --- stage 7: stacking groups ----------------------------------------------------------------


def plan_groups(
    policies: tuple[PolicyPlan, ...], documents: list[_Doc], problems: list[Problem]
) -> dict[str, GroupPlan]:
    """Every member of a group declares it alike (exclusive, cap)."""
    by_file = {d.shown: d for d in documents}
    groups: dict[str, GroupPlan] = {}
    for plan in policies:
        stacking = plan.stacking
        if stacking is None:
            continue
        first = groups.get(stacking.group)
        if first is None:
            groups[stacking.group] = GroupPlan(
                stacking.group, (plan.id,), stacking.exclusive, stacking.cap
            )
        elif (first.exclusive, first.cap) != (stacking.exclusive, stacking.cap):
            d = by_file[plan.where.file]
            problems.append(d.problem(
                f"stacking group {stacking.group!r} is declared differently by {first.members[0]}",
                (*plan.where.path, "stacking"),
            ))  # fmt: skip
        else:
            groups[stacking.group] = GroupPlan(
                first.id, (*first.members, plan.id), first.exclusive, first.cap
            )
    return groups


def _readers(policies: tuple[PolicyPlan, ...]) -> dict[str, tuple[str, ...]]:
    readers: dict[str, list[str]] = {}
    for plan in policies:
        for fact in sorted(plan.depends_on):
            readers.setdefault(fact, []).append(plan.id)
    return {fact: tuple(ids) for fact, ids in sorted(readers.items())}


# --- the whole load --------------------------------------------------------------------------


def load(directory: Path | None = None) -> LoadedSet:
    root = directory if directory is not None else bundled_policies()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist")
    problems: list[Problem] = []
    documents = read_documents(root, problems)
    zones = read_zones(root, problems)
    declared = declare_facts(documents, problems)
    facts = plan_facts(declared, problems)
    problems += succession_problems(documents)
    stage = _Policies(facts, frozenset(declared) - set(facts), zones, problems)
    policies = stage.plan(documents)
    groups = plan_groups(policies, documents, problems)
    if problems:
        raise PolicyError(
            f"policy set {root} has {len(problems)} problem(s); nothing was loaded", problems
        )
    plan = SetPlan(
        policies=policies,
        facts=MappingProxyType(facts),
        groups=MappingProxyType(groups),
        readers=MappingProxyType(_readers(policies)),
    )
    written = Written(
        documents=tuple((d.shown, d.doc) for d in documents),
        locations=stage.locations,
        lines={d.shown: d.lines for d in documents},
    )
    return LoadedSet(
        facts=MappingProxyType({name: d.defn for name, d in declared.items()}),
        zones=zones,
        plan=plan,
        written=lambda: written,
    )


__all__ = [
    "CASES_SUFFIX",
    "NATIONAL",
    "ZONES_FILE",
    "LoadedSet",
    "Written",
    "bundled_policies",
    "data_path",
    "document_files",
    "load",
]
