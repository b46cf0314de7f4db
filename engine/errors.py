"""Errors for bad input. Each carries every problem found, never only the first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, line, field) and what."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        parts = [p for p in (where, self.field) if p]
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(Exception):
    """Bad user input (policy file, profile, argument). Never a bug in the engine."""

    def __init__(self, summary: str, problems: list[Problem] | None = None) -> None:
        self.summary = summary
        self.problems = problems or []
        super().__init__(self.render())

    def render(self) -> str:
        if not self.problems:
            return self.summary
        return self.summary + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class PolicyError(InputError):
    """A policy set that cannot be loaded. Nothing of it is used."""


class ProfileError(InputError):
    """An enterprise profile with invalid fields; lists every one."""
