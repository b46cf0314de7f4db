"""The policy set a service answers with, loaded once per worker and shared by every request.

Requests take the current `Loaded` snapshot when they start and use it to the end, so a reload
(SIGHUP) never changes the rules under a request that is being answered: the new set is loaded
beside the old one and replaces it in one assignment. A reload that fails keeps the old set
and logs why.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import InputError, PolicySet
from ..engine.schema import Known
from ..engine.version import policy_set_version

if TYPE_CHECKING:
    from ..engine.batch.vectorised import VectorisedSet

log = logging.getLogger("incentives.service")


@dataclass(frozen=True, eq=False)
class Loaded:
    """One loaded policy set with its version and the names it defines."""

    policy_set: PolicySet
    version: str
    loaded_at: datetime
    known: Known
    _vectorised: list[VectorisedSet] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, policy_set: PolicySet) -> Loaded:
        return cls(
            policy_set, policy_set_version(policy_set), datetime.now(timezone.utc),
            Known.of(policy_set),
        )  # fmt: skip

    def vectorised(self) -> VectorisedSet:
        """The set compiled for the batch back end (register uploads), built on first use."""
        with self._lock:
            if not self._vectorised:
                from ..engine.batch.vectorised import VectorisedSet

                self._vectorised.append(VectorisedSet(self.policy_set))
            return self._vectorised[0]


class Holder:
    """The current `Loaded` set of a worker, and its reloading."""

    def __init__(self, directory: Path | None, loaded: Loaded | None = None) -> None:
        self.directory = directory
        self._current = loaded if loaded is not None else Loaded.of(PolicySet(directory))
        self._reloading = threading.Lock()

    @property
    def current(self) -> Loaded:
        return self._current

    def reload(self) -> bool:
        """Load the directory again; on success answer with the new set from the next request
        on. On failure keep the current set and log every problem. Returns whether it changed
        over. Concurrent reloads run one after the other."""
        with self._reloading:
            try:
                loaded = Loaded.of(PolicySet(self.directory))
            except InputError as exc:
                log.error(
                    "reload failed; still serving %s: %s", self._current.version, exc.render()
                )
                return False
            except Exception:  # a bug in loading must not take the running service down
                log.exception("reload failed; still serving %s", self._current.version)
                return False
            previous, self._current = self._current, loaded
            log.info("policy set reloaded: %s (was %s), %d policies",
                     loaded.version, previous.version, len(loaded.policy_set))  # fmt: skip
            return True
