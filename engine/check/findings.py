"""One shape for what `validate`, `test` and `prop` report: a finding names the file, the line,
the policy, a code, a severity and a message, and for `prop` the counterexample that shows it.
`--format json` prints them with these stable fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]
FIELDS = ("file", "line", "policy", "code", "severity", "message", "counterexample")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    policy: str | None = None
    file: str | None = None
    line: int | None = None
    counterexample: Mapping[str, Any] | None = None  # prop: the profile, date, reproduce command

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        policy = f" {self.policy}:" if self.policy else ""
        return f"{where}: {self.severity}:{policy} {self.message} [{self.code}]"

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


__all__ = ["FIELDS", "Finding", "Severity"]
