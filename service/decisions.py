"""The decision log: one JSON line per decision, as OPA's decision logs, off unless asked for.

A line says when, which request (its id, the path), under which rules (the policy set's version
and the evaluation date) and about whom (the profile's credit code, or when it has none a hash of
the profile, never the profile itself), then the verdict of every policy evaluated and the total.
Lines are appended with one write each, so several worker processes may share one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any, BinaryIO

from ..engine import InputError, PolicyResult, Profile


def enterprise(profile: Profile) -> dict[str, str]:
    """Whom a decision is about: the credit code, or a hash of the whole profile."""
    if profile.credit_code is not None:
        return {"credit_code": profile.credit_code}
    digest = hashlib.sha256(profile.model_dump_json().encode("utf-8")).hexdigest()
    return {"profile_sha256": digest}


def statuses(results: Iterable[PolicyResult]) -> dict[str, str]:
    return {r.policy_id: r.status.value for r in results}


class DecisionLog:
    """Appends decision lines to a file (or standard output for `-`)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._stream: BinaryIO | None = None
        if target == "-":
            self._stream = sys.stdout.buffer
        else:
            try:
                self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            except OSError as exc:
                raise InputError(
                    f"cannot open the decision log {target}: {exc.strerror or exc}"
                ) from None

    def record(
        self, *, request_id: str, path: str, version: str, as_of: date,
        about: dict[str, Any], verdicts: dict[str, str], total: str | None = None,
    ) -> None:  # fmt: skip
        entry: dict[str, Any] = {
            "decision_id": str(uuid.uuid4()),
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "path": path,
            "policy_set_version": version,
            "as_of": as_of.isoformat(),
        }
        entry.update(about)
        entry["statuses"] = verdicts
        if total is not None:
            entry["total"] = total
        self.write(entry)

    def write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, line)
            elif self._stream is not None:
                self._stream.write(line)
                self._stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
