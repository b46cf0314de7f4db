"""Zones and their nesting: a profile in a zone is also in every zone above it. A zone may have
several parents (a park of the 综改区 that lies in Taiyuan is in both), and a profile in it is
in every zone above each of them."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

NATIONAL = "national"


class Zone(BaseModel):
    # Built on first validation: a set from the compiled library's cache has its zones already.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    zh: str
    en: str
    parent: str | tuple[str, ...] | None = Field(
        None, description="the zone (or zones, as a list) this one lies in"
    )
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    region_code_verified: bool = False

    @property
    def parents(self) -> tuple[str, ...]:
        if self.parent is None:
            return ()
        return (self.parent,) if isinstance(self.parent, str) else self.parent


class ZoneFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class Zones:
    by_id: dict[str, Zone]

    def chain(self, zone: str) -> tuple[str, ...]:
        """The zone and all zones above it (through every parent), innermost first: breadth
        first, each zone once."""
        chain: list[str] = [zone]
        for current in chain:  # grows as it is walked
            found = self.by_id.get(current)
            for parent in found.parents if found else ():
                if parent not in chain:
                    chain.append(parent)
        return tuple(chain)

    def below(self) -> dict[str, frozenset[str]]:
        """Each zone's zones inside it, at any depth (through any of their parents)."""
        inside: dict[str, set[str]] = {zone: set() for zone in self.by_id}
        for zone in self.by_id:
            for above in self.chain(zone)[1:]:
                inside.setdefault(above, set()).add(zone)
        return {zone: frozenset(inner) for zone, inner in inside.items()}

    def problems(self) -> list[str]:
        found = []
        for zone in self.by_id.values():
            for parent in zone.parents:
                if parent not in self.by_id:
                    found.append(f"zone {zone.id!r} has unknown parent {parent!r}")
            if any(zone.id in self.chain(parent) for parent in zone.parents):
                found.append(f"zone {zone.id!r} is its own ancestor")
        return found
