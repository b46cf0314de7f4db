"""Load a directory of policy documents into compiled policies, or refuse the whole set.

Every problem is collected (file, line, field, message) before anything is refused, so an
author sees all mistakes at once; a set with any problem is never half-loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import PolicyError, Problem
from ..model.facts import FactDef, dependencies, formula_problems
from ..model.language import Document, Effective, Provenance
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
from ..reference.context import compile_resolver
from ..reference.evaluate import CompiledPolicy
from ..reference.results import SourceInfo
from .benefits import compile_benefit
from .conditions import CNode, CompileError, compile_condition

ZONES_FILE = "zones.yaml"
CASES_SUFFIX = ".cases.yaml"


@dataclass(frozen=True)
class LoadedSet:
    documents: tuple[tuple[str, Document], ...]
    facts: dict[str, FactDef]
    zones: Zones
    policies: tuple[CompiledPolicy, ...]
    # where each policy is written: id → (file, index in the file's `policies`), and each
    # file's line map, for reports about a loaded set (`engine.check.lint`)
    locations: dict[str, tuple[str, int]] = field(default_factory=dict)
    lines: dict[str, dict[Location, int]] = field(default_factory=dict)


def bundled_policies() -> Path:
    return Path(str(resources.files("incentives.policies")))


def _engine_yaml(name: str) -> tuple[Any, dict[Location, int]]:
    return load_yaml(resources.files("incentives.engine.model").joinpath(name).read_text(encoding="utf-8"))


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


def _document_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*.yaml")
        if p.name != ZONES_FILE and not p.name.endswith(CASES_SUFFIX) and p.is_file()
    )


def load(directory: Path | None = None) -> LoadedSet:
    root = directory if directory is not None else bundled_policies()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist")
    problems: list[Problem] = []

    base_facts, _ = _engine_yaml("catalogue.yaml")
    facts: dict[str, FactDef] = {d["id"]: FactDef.model_validate(d) for d in base_facts["facts"]}
    fact_files: dict[str, str] = dict.fromkeys(facts, "built-in catalogue")

    zone_data, _ = _engine_yaml(ZONES_FILE)
    zone_list = ZoneFile.model_validate(zone_data).zones
    extra_zones = root / ZONES_FILE
    if extra_zones.is_file():
        loaded = _read(extra_zones, ZoneFile, problems, _shown(extra_zones, root))
        if loaded is not None:
            zone_list = [*zone_list, *loaded[0].zones]
    zone_map: dict[str, Zone] = {}
    for declared in zone_list:
        if declared.id in zone_map:
            problems.append(Problem(f"zone {declared.id!r} is declared twice", file=ZONES_FILE))
        zone_map[declared.id] = declared
    zones = Zones(zone_map)
    problems.extend(Problem(p, file=ZONES_FILE) for p in zones.problems())

    documents: list[tuple[str, Document, dict[Location, int]]] = []
    files = _document_files(root)
    if not files:
        problems.append(Problem(f"no policy documents (*.yaml) found in {root}"))
    for path in files:
        shown = _shown(path, root)
        loaded = _read(path, Document, problems, shown)
        if loaded is not None:
            documents.append((shown, loaded[0], loaded[1]))

    problems.extend(_succession_problems(documents))

    for shown, doc, lines in documents:
        for index, declared_fact in enumerate(doc.facts):
            if declared_fact.id in facts:
                problems.append(
                    Problem(
                        f"fact {declared_fact.id!r} is already declared in {fact_files[declared_fact.id]}",
                        file=shown,
                        line=line_of(lines, ("facts", index)),
                        field=f"facts.{index}.id",
                    )
                )
            else:
                facts[declared_fact.id], fact_files[declared_fact.id] = declared_fact, shown
    problems.extend(_fact_graph_problems(facts, fact_files))

    compiled: list[CompiledPolicy] = []
    seen: dict[str, str] = {}
    locations: dict[str, tuple[str, int]] = {}
    groups: dict[str, tuple[str, Any]] = {}
    for shown, doc, lines in documents:
        for index, policy in enumerate(doc.policies):
            where = ("policies", index)

            def report(
                message: str,
                path: tuple[str | int, ...],
                _shown: str = shown,
                _lines: dict[Location, int] = lines,
            ) -> None:
                problems.append(
                    Problem(
                        message,
                        file=_shown,
                        line=line_of(_lines, path),
                        field=".".join(map(str, path)),
                    )
                )

            if policy.id in seen:
                report(
                    f"duplicate policy id {policy.id!r} (also in {seen[policy.id]})", (*where, "id")
                )
                continue
            seen[policy.id] = shown
            locations[policy.id] = (shown, index)
            for zone in policy.zones or doc.zones:
                if zone not in zone_map:
                    report(
                        f"unknown zone {zone!r}; known zones: {', '.join(sorted(zone_map))}",
                        (*where, "zones"),
                    )
            if policy.stacking is not None:
                key = (policy.stacking.exclusive, policy.stacking.cap)
                first = groups.setdefault(policy.stacking.group, (policy.id, key))
                if first[1] != key:
                    report(
                        f"stacking group {policy.stacking.group!r} is declared differently by {first[0]}",
                        (*where, "stacking"),
                    )
            effective = _effective(doc, policy.effective)
            if effective is None:
                report("policy effective period ends before it starts", (*where, "effective"))
                continue
            errors: list[CompileError] = []
            when = None
            if policy.when is not None:
                when = compile_condition(policy.when, facts, (*where, "when"), errors)
            unless = tuple(
                compile_condition(node, facts, (*where, "unless", i), errors)
                for i, node in enumerate(policy.unless)
            )
            try:
                benefit = compile_benefit(policy.benefit, facts, (*where, "benefit"))
            except CompileError as exc:
                errors.append(exc)
            errors.extend(
                CompileError(f"unknown fact {fact!r} in monotone", (*where, "monotone"))
                for fact in policy.monotone
                if fact not in facts
            )
            if errors:
                for error in errors:
                    report(str(error), error.path)
                continue
            compiled.append(
                CompiledPolicy(
                    policy=policy,
                    source=_source(doc, policy, when, unless),
                    effective=effective,
                    zones=frozenset(policy.zones or doc.zones),
                    when=when,
                    unless=unless,
                    benefit=benefit,
                )
            )

    if problems:
        raise PolicyError(
            f"policy set {root} has {len(problems)} problem(s); nothing was loaded", problems
        )
    return LoadedSet(
        tuple((s, d) for s, d, _ in documents), facts, zones, tuple(compiled),
        locations, {s: lines for s, _, lines in documents},
    )  # fmt: skip


def _succession_problems(
    documents: list[tuple[str, Document, dict[Location, int]]],
) -> list[Problem]:
    """A superseded document must name a document of the set and end: otherwise the old and the
    new rules would both apply from the successor's start on."""
    ids = {doc.id for _, doc, _ in documents}
    problems = []
    for shown, doc, lines in documents:
        successor = doc.superseded_by
        if successor is None:
            continue
        line = line_of(lines, ("superseded_by",))
        if successor == doc.id or successor not in ids:
            what = "itself" if successor == doc.id else "no document of this set"
            problems.append(
                Problem(
                    f"superseded_by {successor!r} names {what}",
                    file=shown, line=line, field="superseded_by",
                )
            )  # fmt: skip
        elif doc.effective.until is None:
            problems.append(
                Problem(
                    f"superseded by {successor!r} but has no effective.until: give the last day "
                    "these rules apply",
                    file=shown, line=line, field="effective.until",
                )
            )  # fmt: skip
    return problems


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _effective(doc: Document, own: Effective | None) -> Effective | None:
    if own is None:
        return doc.effective
    start = own.start if own.start is not None else doc.effective.start
    until = own.until if own.until is not None else doc.effective.until
    if start is not None and until is not None and until < start:
        return None
    return Effective.model_validate({"from": start, "until": until})


def _all_nodes(nodes: Iterable[CNode]) -> Iterable[CNode]:
    for node in nodes:
        yield node
        yield from _all_nodes(node.children)


def _source(
    doc: Document, policy: Any, when: CNode | None, unless: tuple[CNode, ...]
) -> SourceInfo:
    own = policy.source
    provenance = own.provenance or doc.provenance
    roots = ([when] if when is not None else []) + list(unless)
    marks = [n.node.provenance for n in _all_nodes(roots)] + [policy.benefit.provenance]
    if Provenance.ILLUSTRATIVE in marks:
        provenance = Provenance.ILLUSTRATIVE
    # A policy that cites another document than its file's inherits nothing of the file's.
    inherited = doc if own.document is None else None
    return SourceInfo(
        document_id=doc.id,
        document=own.document or doc.title,
        number=own.number or (inherited.number if inherited else None),
        issuer=own.issuer or (inherited.issuer if inherited else doc.issuer),
        article=own.article,
        url=own.url or (inherited.url if inherited else None),
        provenance=provenance.value,
        note=own.note,
        superseded_by=doc.superseded_by,
    )


def _fact_graph_problems(facts: dict[str, FactDef], files: dict[str, str]) -> list[Problem]:
    problems = []
    for fact in facts.values():
        for dep in dependencies(fact):
            if dep not in facts:
                problems.append(
                    Problem(
                        f"fact {fact.id!r} is computed from unknown fact {dep!r}",
                        file=files[fact.id],
                    )
                )
    if problems:
        return problems
    for fact in facts.values():
        problems.extend(
            Problem(text, file=files[fact.id]) for text in formula_problems(fact, facts)
        )
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            problems.append(
                Problem(
                    f"facts depend on each other in a cycle: {' → '.join([*trail, name])}",
                    file=files[name],
                )
            )
            return
        state[name] = 1
        for dep in dependencies(facts[name]):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in facts:
        visit(name, [])
    return problems


def resolvers(facts: dict[str, FactDef]) -> dict[str, Any]:
    return {name: compile_resolver(defn) for name, defn in facts.items()}


__all__ = ["NATIONAL", "LoadedSet", "bundled_policies", "load", "resolvers"]
