"""Zones and their nesting: a profile in a zone is also in every zone above it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

NATIONAL = "national"


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    zh: str
    en: str
    parent: str | None = None
    region_code: str | None = Field(None, pattern=r"^\d{6}$")
    region_code_verified: bool = False


class ZoneFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class Zones:
    by_id: dict[str, Zone]

    def chain(self, zone: str) -> tuple[str, ...]:
        """The zone and all zones above it, innermost first."""
        chain: list[str] = []
        current: str | None = zone
        while current is not None and current not in chain:
            chain.append(current)
            found = self.by_id.get(current)
            current = found.parent if found else None
        return tuple(chain)

    def problems(self) -> list[str]:
        found = []
        for zone in self.by_id.values():
            if zone.parent is not None and zone.parent not in self.by_id:
                found.append(f"zone {zone.id!r} has unknown parent {zone.parent!r}")
            if zone.id in self.chain(zone.parent or "")[0:]:
                found.append(f"zone {zone.id!r} is its own ancestor")
        return found
