"""What a running service is configured with. Passed to worker processes through one
environment variable, since uvicorn starts each worker by importing the application."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ENVIRONMENT = "INCENTIVES_SERVE_SETTINGS"

MAX_BODY = 1 << 20  # a profile: a few KB; a megabyte leaves room for large IP lists
MAX_REGISTER = 4 << 20  # a register upload: some thousands of rows
MAX_REGISTER_ROWS = 10_000


@dataclass(frozen=True)
class Settings:
    policies: Path | None = None  # the policy directory (None: the bundled library)
    decision_log: str | None = None  # a file to append decisions to, "-" for stdout, None: off
    max_body: int = MAX_BODY
    max_register: int = MAX_REGISTER
    max_register_rows: int = MAX_REGISTER_ROWS

    def to_environment(self) -> str:
        data = asdict(self)
        data["policies"] = None if self.policies is None else str(self.policies)
        return json.dumps(data)

    @classmethod
    def from_environment(cls) -> Settings:
        raw = os.environ.get(ENVIRONMENT)
        if not raw:
            return cls()
        data = json.loads(raw)
        if data.get("policies") is not None:
            data["policies"] = Path(data["policies"])
        return cls(**data)
