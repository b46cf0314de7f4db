"""Reactive sessions: enterprise facts arrive and change; policy verdicts are kept up to date
and every change of a verdict comes out as a `ChangeEvent`.

An update is merged into the enterprise's profile data, validated where it changed, and handed
to one of two back ends, which say the verdicts after it:

* `engine="index"` (the default, `indexed`): the enterprise's evaluation context is kept, an
  update forgets the facts computed from the inputs it changed and re-evaluates only the
  policies that read them;
* `engine="durable"` (`ruled`): the policies as durable_rules rulesets, each enterprise's
  normalised facts asserted into them (needs durable-rules, Python 3.10–3.12).

Both agree with the reference evaluator after every update (tests/test_reactive_agreement.py).
An enterprise nobody has told the session about has the verdicts of an empty profile
(everything unknown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InputError, Problem
from ..model.profile import Profile, parse_profile
from ..policyset import PolicySet
from ..reference.results import PolicyResult, Status
from . import durable
from .changes import (
    Changes,
    Written,
    changed,
    changed_inputs,
    forgotten,
    merged,
    revalidate,
    written_by_retract,
    written_by_set,
)
from .compiler import Program, rule_name
from .indexed import IndexedVerdicts

Engine = Literal["index", "durable"]
ENGINES: tuple[Engine, ...] = ("index", "durable")
T = TypeVar("T")


# The profile fields `PolicySet.check_profile` reads: a change elsewhere cannot make a profile
# the set accepted unfit for it.
_SET_CHECKS = frozenset({"zone", "facts"})


class UpdateError(InputError):
    """An update that was refused; the session is as it was before it."""


class Update(BaseModel):
    """One change to one enterprise: exactly one of `profile`, `set`, `retract`, `remove`.

    `profile` replaces everything known; `set` merges fields (nested mappings merge, other
    values replace); `retract` forgets fields by dotted path (`financials.2025.revenue`,
    `facts.hnte_key_field`); `remove` forgets the enterprise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enterprise: str = Field(min_length=1)
    profile: dict[str, Any] | None = None
    set_: dict[str, Any] | None = Field(None, alias="set")
    retract: list[str] | None = Field(None, min_length=1)
    remove: bool = False

    @model_validator(mode="after")
    def _one_change(self) -> Update:
        given = [k for k in ("profile", "set_", "retract") if getattr(self, k) is not None]
        given += ["remove"] * self.remove
        if len(given) != 1:
            raise ValueError(
                "an update needs exactly one of profile, set, retract, remove; got "
                + (", ".join(g.rstrip("_") for g in given) or "none")
            )
        return self


def parse_update(data: Any) -> Update:
    try:
        return Update.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(e["msg"].removeprefix("Value error, "), field=".".join(map(str, e["loc"])))
            for e in exc.errors()
        ]
        raise UpdateError("invalid update", problems) from None


@dataclass(slots=True)
class Change:
    """An update as the session applies it: `Update`'s fields, without the model. Never
    changed once made (not frozen: a frozen dataclass's `__init__` costs three times as much,
    and one is made for every update)."""

    enterprise: str
    profile: dict[str, Any] | None = None
    set_: dict[str, Any] | None = None
    retract: list[str] | None = None
    remove: bool = False


def change_of(update: Update | Change | Mapping[str, Any]) -> Change:
    """The change an update makes; raises UpdateError for an invalid one. Data in the plain
    form (a dict of `enterprise`, a non-empty text, and one of `set`, a dict with text keys, or
    `retract`, a non-empty list of texts) is read without pydantic, as `Update` would read it
    (its containers copied, as pydantic copies them); anything else is validated as an
    `Update`, which words the refusal."""
    if isinstance(update, Change):
        return update
    if not isinstance(update, Update):
        plain = _plain_change(update)
        if plain is not None:
            return plain
        update = parse_update(update)
    return Change(update.enterprise, update.profile, update.set_, update.retract, update.remove)


def _plain_change(data: Any) -> Change | None:
    if type(data) is not dict or len(data) != 2:
        return None
    eid = data.get("enterprise")
    if type(eid) is not str or not eid:
        return None
    values, paths = data.get("set"), data.get("retract")
    if type(values) is dict and all(type(k) is str for k in values):
        return Change(eid, set_=dict(values))
    if type(paths) is list and paths and all(type(p) is str for p in paths):
        return Change(eid, retract=list(paths))
    return None


def _written(update: Change) -> Written | None:
    """The paths an update can change (None: any, a whole profile): the profile data keeps
    everything else as the same objects (`changes.merged`, `forgotten`)."""
    if update.profile is not None:
        return None
    if update.set_ is not None:
        return written_by_set(update.set_)
    return written_by_retract(update.retract or ())


@dataclass(frozen=True)
class ChangeEvent:
    """A policy's verdict for an enterprise changed."""

    enterprise: str
    policy_id: str
    before: Status
    after: Status
    as_of: date
    explanation: PolicyResult | None = None
    # The tax year of the session's tax-year preferences; shown, not compared (one per session).
    tax_year: int | None = field(default=None, compare=False)


    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "enterprise": self.enterprise,
            "policy_id": self.policy_id,
            "before": self.before.value,
            "after": self.after.value,
            "as_of": self.as_of.isoformat(),
            "tax_year": self.tax_year,
        }
        if self.explanation is not None:
            data["explanation"] = self.explanation.model_dump(mode="json")
        return data


@dataclass(slots=True)
class _Enterprise:
    raw: dict[str, Any]  # its profile data: never changed in place (see `changes`)
    profile: Profile
    state: Any  # the back end's (a context; for durable also its sid, shard and facts)
    verdicts: dict[str, Status]


class Verdicts(Protocol):
    """What a back end does for the session (`IndexedVerdicts`, `ruled.DurableVerdicts`)."""

    policy_ids: list[str]
    baseline: dict[str, Status]

    def start(self, profile: Profile) -> tuple[Any, dict[str, Status]]: ...

    def change(
        self,
        state: Any,
        verdicts: dict[str, Status],
        profile: Profile,
        inputs: set[str],
        prefixes: set[str],
    ) -> dict[str, Status]: ...

    def drop(self, state: Any, quiet: bool = False) -> None: ...

    def close(self) -> None: ...


class ReactiveSession:
    """Verdicts of a policy set for many enterprises, kept up to date as facts change.

    `engine`: "index" (default) or "durable" (see the module's docstring); `shard_size`: how
    many enterprises one durable ruleset holds (durable only). Calls are serialised by a lock
    (durable_rules must never see two callers on one session).
    """

    def __init__(
        self,
        policies: PolicySet,
        as_of: date,
        *,
        engine: Engine = "index",
        shard_size: int = durable.MAX_SIDS,
        tax_year: int | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.policies = policies
        self.as_of = as_of
        self.engine = engine
        self.backend: Verdicts
        if engine == "durable":
            from .ruled import DurableVerdicts

            self.backend = DurableVerdicts(policies, as_of, shard_size, tax_year)
        else:
            self.backend = IndexedVerdicts(policies, as_of, tax_year)
        self.tax_year = self.backend.dates.tax_year  # of tax-year preferences (`plan.Dates`)
        self.baseline = self.backend.baseline
        self._enterprises: dict[str, _Enterprise] = {}
        self._closed = False
        self._lock = threading.RLock()  # one caller at a time, also for the Python-side state

    @property
    def program(self) -> Program:
        """The durable_rules program (engine="durable" only)."""
        program: Program | None = getattr(self.backend, "program", None)
        if program is None:
            raise AttributeError(f"a session on engine {self.engine!r} has no durable program")
        return program

    # --- updates -----------------------------------------------------------------------------

    def apply(
        self, update: Update | Change | Mapping[str, Any], *, explain: bool = False
    ) -> list[ChangeEvent]:
        """Apply one update; the verdicts it changed. Raises UpdateError and changes nothing
        if the update is invalid."""
        with self._lock:
            return self._apply(update, explain)

    def _apply(self, given: Update | Change | Mapping[str, Any], explain: bool) -> list[ChangeEvent]:
        self._check_open()
        update = change_of(given)
        eid = update.enterprise
        current = self._enterprises.get(eid)
        before = current.verdicts if current is not None else self.baseline
        if update.remove:
            if current is not None:
                self._drop(eid, current)
            return self._events(eid, before, self.baseline, explain)
        if current is None:
            raw = self._next_raw(update, {})
            profile = self._validate(eid, raw)
            state, verdicts = self._guarded(eid, None, lambda: self.backend.start(profile))
            self._enterprises[eid] = _Enterprise(raw, profile, state, verdicts)
        else:
            raw = self._next_raw(update, current.raw)
            written = _written(update)
            changes = changed(current.raw, raw, written)
            if not changes:
                return []
            profile = self._revalidate(eid, current, raw, changes, written)
            inputs, prefixes = changed_inputs(changes, current.raw, raw, written)
            verdicts = self._guarded(eid, current, lambda: self.backend.change(
                current.state, current.verdicts, profile, inputs, prefixes
            ))  # fmt: skip
            current.raw, current.profile, current.verdicts = raw, profile, verdicts
        return self._events(eid, before, verdicts, explain)

    def _guarded(self, eid: str, current: _Enterprise | None, call: Callable[[], T]) -> T:
        """A back end's answer; if durable_rules failed, the enterprise leaves the session."""
        try:
            return call()
        except durable.DurableError as exc:
            if current is not None:
                self._drop(eid, current, quiet=True)
            raise UpdateError(
                f"enterprise {eid}: durable_rules failed ({exc}); the enterprise was removed "
                "from the session"
            ) from exc

    def apply_batch(
        self, updates: Iterable[Update | Mapping[str, Any]], *, explain: bool = False
    ) -> list[ChangeEvent]:
        """Validate every update first; apply them all, or none if any is invalid."""
        parsed: list[Change] = []
        problems: list[Problem] = []
        for index, item in enumerate(updates):
            try:
                parsed.append(change_of(item))
            except UpdateError as exc:
                problems.append(Problem(exc.render(), field=f"[{index}]"))
        known: dict[str, dict[str, Any]] = {}  # profile data as the batch goes along
        for index, update in enumerate(parsed):
            eid = update.enterprise
            if eid not in known:
                current = self._enterprises.get(eid)
                known[eid] = current.raw if current is not None else {}
            if update.remove:
                known[eid] = {}
                continue
            known[eid] = self._next_raw(update, known[eid])
            try:
                self._validate(eid, known[eid])
            except UpdateError as exc:
                problems.append(Problem(exc.render(), field=f"[{index}]"))
        if problems:
            raise UpdateError(
                f"batch refused, nothing applied: {len(problems)} bad update(s)", problems
            )
        events: list[ChangeEvent] = []
        for update in parsed:
            events.extend(self.apply(update, explain=explain))
        return events

    def set_facts(self, enterprise: str, values: Mapping[str, Any]) -> list[ChangeEvent]:
        return self.apply(Update(enterprise=enterprise, set_=dict(values)))

    def retract_facts(self, enterprise: str, paths: Iterable[str]) -> list[ChangeEvent]:
        return self.apply(Update(enterprise=enterprise, retract=list(paths)))

    def set_profile(self, enterprise: str, profile: Mapping[str, Any]) -> list[ChangeEvent]:
        return self.apply(Update(enterprise=enterprise, profile=dict(profile)))

    def remove(self, enterprise: str) -> list[ChangeEvent]:
        return self.apply(Update(enterprise=enterprise, remove=True))

    @staticmethod
    def _next_raw(update: Change, known: dict[str, Any]) -> dict[str, Any]:
        """The enterprise's profile data after `update`, from what was `known` before (which
        stays as it was: only the mappings along the changed paths are new)."""
        raw = known if update.profile is None else merged({}, update.profile)
        if update.set_ is not None:
            raw = merged(raw, update.set_)
        for path in update.retract or ():
            raw = forgotten(raw, path)
        return raw

    def _validate(self, eid: str, raw: dict[str, Any]) -> Profile:
        try:
            profile = parse_profile(raw, file=f"enterprise {eid}")
            self.policies.check_profile(profile)
        except InputError as exc:
            raise UpdateError(exc.summary, exc.problems) from None
        return profile

    def _revalidate(
        self,
        eid: str,
        current: _Enterprise,
        raw: dict[str, Any],
        changes: Changes,
        written: Written | None,
    ) -> Profile:
        """The profile after a change, validated where it changed (`changes.revalidate`), and
        checked against the policy set where that reads it (its zone and declared facts)."""
        try:
            profile = revalidate(
                current.profile, current.raw, raw, changes, file=f"enterprise {eid}",
                written=written,
            )
            if not changes.keys().isdisjoint(_SET_CHECKS):
                self.policies.check_profile(profile)
        except InputError as exc:
            raise UpdateError(exc.summary, exc.problems) from None
        return profile

    def _drop(self, eid: str, ent: _Enterprise, quiet: bool = False) -> None:
        """Forget the enterprise (and delete its durable sessions)."""
        del self._enterprises[eid]
        self.backend.drop(ent.state, quiet)

    def _events(
        self, eid: str, before: Mapping[str, Status], after: Mapping[str, Status], explain: bool
    ) -> list[ChangeEvent]:
        if before is after or before == after:  # most updates: no verdict changed
            return []
        events = []
        for pid in self.backend.policy_ids:
            if before[pid] is not after[pid]:
                result = self.explain(eid, pid) if explain and eid in self._enterprises else None
                events.append(ChangeEvent(eid, pid, before[pid], after[pid], self.as_of, result,
                                          self.tax_year))  # fmt: skip
        return events

    # --- reading -----------------------------------------------------------------------------

    @property
    def enterprises(self) -> list[str]:
        return sorted(self._enterprises)

    def verdicts(self, enterprise: str) -> dict[str, Status]:
        found = self._enterprises.get(enterprise)
        return dict(found.verdicts if found is not None else self.baseline)

    def profile(self, enterprise: str) -> Profile:
        found = self._enterprises.get(enterprise)
        return found.profile if found is not None else Profile()

    def explain(self, enterprise: str, policy_id: str) -> PolicyResult:
        """The reference evaluator's explanation of one verdict."""
        return self.policies.explain(
            self.profile(enterprise), policy_id, self.as_of, self.tax_year
        )

    # --- lifetime ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this reactive session is closed")

    def close(self) -> None:
        """Free every durable session and ruleset of this session."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._enterprises.clear()
                self.backend.close()

    def __enter__(self) -> ReactiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ChangeEvent", "ReactiveSession", "Update", "UpdateError", "parse_update", "rule_name"]
