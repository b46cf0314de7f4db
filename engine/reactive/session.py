"""Reactive sessions: enterprise facts arrive and change; policy verdicts are kept by
durable_rules and every change of a verdict comes out as a `ChangeEvent`.

Each enterprise is one durable session (sid); its computed, normalised facts are one fact per
ruleset, replaced (retract + assert, with explicit ids) on every update. Enterprises are
sharded so no ruleset holds more than `durable.MAX_SIDS` of them. An enterprise nobody has told
the session about has the verdicts of an empty profile (everything unknown).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InputError, Problem
from ..model.profile import Profile, parse_profile
from ..policyset import PolicySet
from ..reference.results import PolicyResult, Status
from . import durable
from .compiler import (
    Program,
    compile_program,
    definition,
    rule_name,
)

_SESSION_IDS = itertools.count(1)
_BASELINE_SID = "baseline"


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


@dataclass
class _Enterprise:
    sid: str  # its durable session: never the enterprise id, whose text durable mishandles
    raw: dict[str, Any]
    profile: Profile
    shard: int
    version: int
    facts: list[dict[str, Any]]
    verdicts: dict[str, Status] = field(default_factory=dict)


def _merge(into: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        key = str(key)  # JSON keys: `financials.2025` is addressed the same way everywhere
        if isinstance(value, Mapping):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _forget(data: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = data
    for step in parents:
        node = node.get(step) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


class ReactiveSession:
    """Verdicts of a policy set for many enterprises, kept up to date as facts change.

    Calls are serialised by a lock (durable_rules must never see two callers on one session).
    """

    def __init__(
        self, policies: PolicySet, as_of: date, *, shard_size: int = durable.MAX_SIDS,
        tax_year: int | None = None,
    ) -> None:  # fmt: skip
        durable.require()
        if not 1 <= shard_size <= durable.MAX_SIDS:
            raise ValueError(f"shard_size must be within 1..{durable.MAX_SIDS}")
        self.policies = policies
        self.as_of = as_of
        self.shard_size = shard_size
        self.program: Program = compile_program(policies.plan, as_of, tax_year)
        self.tax_year = self.program.dates.tax_year  # of tax-year preferences (`plan.Dates`)
        self._engine = durable.Engine()
        self._name = f"incentives-{next(_SESSION_IDS)}"
        self._policy_at: list[str] = []
        self._offsets: list[int] = []
        for ruleset in self.program.rulesets:
            self._offsets.append(len(self._policy_at))
            self._policy_at.extend(p.policy_id for p in ruleset.policies)
        self._shards: list[int] = []  # live enterprises per shard
        self._enterprises: dict[str, _Enterprise] = {}
        # Durable session ids: durable_rules breaks on quotes, backslashes and control
        # characters in them, so enterprise ids (any text) never reach it.
        self._sids = itertools.count(1)
        self._closed = False
        self._lock = threading.RLock()  # one caller at a time, also for the Python-side state
        empty = Profile()
        self.baseline = self._run(_BASELINE_SID, 0, None, self._facts(empty))
        self._settle_unknowns(empty, self.baseline)
        for index in range(len(self.program.rulesets)):
            self._engine.delete_state(self._ruleset(index, 0), _BASELINE_SID)

    # --- durable plumbing --------------------------------------------------------------------

    def _ruleset(self, index: int, shard: int) -> str:
        return f"{self._name}-r{index}-s{shard}"

    def _open_shard(self) -> int:
        for shard, count in enumerate(self._shards):
            if count < self.shard_size:
                return shard
        shard = len(self._shards)
        self._shards.append(0)
        for index, ruleset in enumerate(self.program.rulesets):
            rules = definition(ruleset, self._offsets[index])
            self._engine.register(
                self._ruleset(index, shard), {k: {**v, "run": _noop} for k, v in rules.items()}
            )
        return shard

    def _facts(self, profile: Profile) -> list[dict[str, Any]]:
        contexts = self.policies.contexts(profile, self.program.dates)
        return self.program.facts(contexts, profile.zone)

    def _settle_unknowns(self, profile: Profile, verdicts: dict[str, Status]) -> None:
        """needs_review vs undetermined for the few policies whose review rule was too large
        for durable_rules (`Program.review_by_reference`): the reference evaluator decides."""
        pending = [
            pid for pid in self.program.review_by_reference if verdicts[pid] is Status.UNDETERMINED
        ]
        if pending:
            report = self.policies.evaluate(
                profile, self.as_of, tax_year=self.tax_year, policy_ids=sorted(pending), gaps=False
            )
            verdicts.update({r.policy_id: r.status for r in report.results})

    def _run(
        self,
        sid: str,
        shard: int,
        old: tuple[int, list[dict[str, Any]]] | None,
        new: list[dict[str, Any]],
        version: int = 0,
    ) -> dict[str, Status]:
        """Replace an enterprise's facts (one per ruleset); its verdicts from what fired."""
        if not self._shards:
            self._open_shard()
        verdicts = dict.fromkeys(self.program.policy_ids, Status.UNDETERMINED)
        verdicts.update(self.program.constant)
        for index, fact in enumerate(new):
            name = self._ruleset(index, shard)
            if old is not None:
                self._engine.retract_fact(name, sid, f"{sid}#{old[0]}")
            fired = self._engine.assert_fact(name, {**fact, "sid": sid, "id": f"{sid}#{version}"})
            for rule in fired:
                if rule == "__seen":
                    continue
                position, verdict, _ = rule.split("|")
                verdicts[self._policy_at[int(position)]] = Status(verdict)
        return verdicts

    # --- updates -----------------------------------------------------------------------------

    def apply(
        self, update: Update | Mapping[str, Any], *, explain: bool = False
    ) -> list[ChangeEvent]:
        """Apply one update; the verdicts it changed. Raises UpdateError and changes nothing
        if the update is invalid."""
        with self._lock:
            return self._apply(update, explain)

    def _apply(self, update: Update | Mapping[str, Any], explain: bool) -> list[ChangeEvent]:
        self._check_open()
        if not isinstance(update, Update):
            update = parse_update(update)
        eid = update.enterprise
        current = self._enterprises.get(eid)
        before = current.verdicts if current is not None else self.baseline
        if update.remove:
            if current is not None:
                self._drop(eid, current)
            return self._events(eid, before, self.baseline, explain)
        raw = self._next_raw(update, current.raw if current is not None else {})
        profile = self._validate(eid, raw)
        facts = self._facts(profile)
        if current is None:
            shard = self._open_shard()
            self._shards[shard] += 1
            current = _Enterprise(f"e{next(self._sids)}", raw, profile, shard, 0, [])
            self._enterprises[eid] = current
            old = None
        else:
            old = (current.version, current.facts)
        version = current.version + (old is not None)
        try:
            verdicts = self._run(current.sid, current.shard, old, facts, version)
        except durable.DurableError as exc:
            self._drop(eid, current, quiet=True)
            raise UpdateError(
                f"enterprise {eid}: durable_rules failed ({exc}); the enterprise was removed "
                "from the session"
            ) from exc
        self._settle_unknowns(profile, verdicts)
        current.raw, current.profile, current.version, current.facts = raw, profile, version, facts
        current.verdicts = verdicts
        return self._events(eid, before, verdicts, explain)

    def apply_batch(
        self, updates: Iterable[Update | Mapping[str, Any]], *, explain: bool = False
    ) -> list[ChangeEvent]:
        """Validate every update first; apply them all, or none if any is invalid."""
        parsed: list[Update] = []
        problems: list[Problem] = []
        for index, item in enumerate(updates):
            try:
                parsed.append(item if isinstance(item, Update) else parse_update(item))
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
    def _next_raw(update: Update, known: dict[str, Any]) -> dict[str, Any]:
        """The enterprise's profile data after `update`, from what was `known` before."""
        raw: dict[str, Any] = {}
        _merge(raw, known if update.profile is None else update.profile)  # a deep copy
        if update.set_ is not None:
            _merge(raw, update.set_)
        for path in update.retract or ():
            _forget(raw, path)
        return raw

    def _validate(self, eid: str, raw: dict[str, Any]) -> Profile:
        try:
            profile = parse_profile(raw, file=f"enterprise {eid}")
            self.policies.check_profile(profile)
        except InputError as exc:
            raise UpdateError(exc.summary, exc.problems) from None
        return profile

    def _drop(self, eid: str, ent: _Enterprise, quiet: bool = False) -> None:
        """Delete the enterprise's durable sessions (their facts go with them)."""
        sid = ent.sid
        for index in range(len(self.program.rulesets)):
            try:
                self._engine.delete_state(self._ruleset(index, ent.shard), sid)
            except durable.DurableError:
                if not quiet:
                    raise
        self._shards[ent.shard] -= 1
        del self._enterprises[eid]

    def _events(
        self, eid: str, before: Mapping[str, Status], after: Mapping[str, Status], explain: bool
    ) -> list[ChangeEvent]:
        events = []
        for pid in self.program.policy_ids:
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
                self._engine.close()

    def __enter__(self) -> ReactiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _noop(c: Any) -> None:
    return None


__all__ = ["ChangeEvent", "ReactiveSession", "Update", "UpdateError", "parse_update", "rule_name"]
