"""`LoadedSet`: what loading a policy directory gives (`compile.loader`, or the compiled
library's cache, `compile.cache`).

The plan, the fact declarations and the zones are at hand; the documents as written and where
each policy and field is written (`Written`) are made when first read, so that a set taken
from the cache does not build the policy language's models unless something asks for the
documents (`show`, a set's version, lint)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ..model.facts import FactDef
    from ..model.language import Document
    from ..model.yamlio import Location
    from ..model.zones import Zones
    from .plan import PolicyPlan, SetPlan


class Written(NamedTuple):
    """The documents as written, with their files; where each policy is written: id → (file,
    index in the file's `policies`); and each file's line map, for reports about a loaded set
    (`engine.check.lint`)."""

    documents: tuple[tuple[str, Document], ...]
    locations: dict[str, tuple[str, int]]
    lines: dict[str, dict[Location, int]]


@dataclass(frozen=True)
class LoadedSet:
    """A loaded set: its fact declarations, zones and the plan; its documents (as written),
    their locations and line maps from `written`, called once when first needed."""

    facts: Mapping[str, FactDef]
    zones: Zones
    plan: SetPlan
    written: Callable[[], Written] = field(repr=False, compare=False)

    @cached_property
    def _written(self) -> Written:
        return self.written()

    @property
    def documents(self) -> tuple[tuple[str, Document], ...]:
        return self._written.documents

    @property
    def locations(self) -> dict[str, tuple[str, int]]:
        return self._written.locations

    @property
    def lines(self) -> dict[str, dict[Location, int]]:
        return self._written.lines

    @property
    def policies(self) -> tuple[PolicyPlan, ...]:
        return self.plan.policies
