"""The reactive session's durable_rules back end (`engine="durable"`): the policies compiled
into rulesets (`compiler`), every enterprise one durable session (sid) per ruleset.

Each enterprise's computed, normalised facts are one fact per ruleset, replaced (retract +
assert, with explicit ids) when an update changes a fact that one of the ruleset's policies
reads (the same input index as the default back end decides which); the facts themselves come
from a context kept with the enterprise, so a derived fact is computed again only when an input
it reads changed. Enterprises are sharded so no ruleset holds more than `durable.MAX_SIDS` of
them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..model.profile import Profile
from ..policyset import PolicySet
from ..reference.results import Status
from . import durable
from .compiler import Program, compile_program, definition
from .indexed import Contexts, InputIndex

_SESSION_IDS = itertools.count(1)
_BASELINE_SID = "baseline"


@dataclass
class DurableState:
    """One enterprise in durable: its sid (never the enterprise id, whose text durable
    mishandles), shard, the id and content of the fact asserted in each ruleset, its context."""

    sid: str
    shard: int
    ctx: Contexts
    versions: list[int]
    facts: list[dict[str, Any]]


class DurableVerdicts:
    def __init__(
        self, policies: PolicySet, as_of: date, shard_size: int, tax_year: int | None = None
    ) -> None:
        durable.require()
        if not 1 <= shard_size <= durable.MAX_SIDS:
            raise ValueError(f"shard_size must be within 1..{durable.MAX_SIDS}")
        self.policies = policies
        self.as_of = as_of
        self.shard_size = shard_size
        self.program: Program = compile_program(policies.plan, as_of, tax_year)
        self.dates = self.program.dates
        self.index = InputIndex(policies)
        self.policy_ids = self.program.policy_ids
        self.engine = durable.Engine()
        self._name = f"incentives-{next(_SESSION_IDS)}"
        self._policy_at: list[str] = []
        self._offsets: list[int] = []
        self._ruleset_of: dict[str, int] = {}
        for ruleset in self.program.rulesets:
            self._offsets.append(len(self._policy_at))
            self._policy_at.extend(p.policy_id for p in ruleset.policies)
            self._ruleset_of.update((p.policy_id, ruleset.index) for p in ruleset.policies)
        self.shards: list[int] = []  # live enterprises per shard
        self._sids = itertools.count(1)
        ctx = policies.contexts(Profile(), self.dates)
        self.baseline = self._verdicts()
        facts = self.program.facts(ctx, None)
        self._assert(_BASELINE_SID, 0, None, list(enumerate(facts)), 0, self.baseline)
        self._settle_unknowns(ctx, self.baseline, self.program.review_by_reference)
        for index in range(len(self.program.rulesets)):
            self.engine.delete_state(self._ruleset(index, 0), _BASELINE_SID)

    def _ruleset(self, index: int, shard: int) -> str:
        return f"{self._name}-r{index}-s{shard}"

    def _open_shard(self) -> int:
        for shard, count in enumerate(self.shards):
            if count < self.shard_size:
                return shard
        shard = len(self.shards)
        self.shards.append(0)
        for index, ruleset in enumerate(self.program.rulesets):
            rules = definition(ruleset, self._offsets[index])
            self.engine.register(
                self._ruleset(index, shard), {k: {**v, "run": _noop} for k, v in rules.items()}
            )
        return shard

    def _verdicts(self) -> dict[str, Status]:
        verdicts = dict.fromkeys(self.program.policy_ids, Status.UNDETERMINED)
        verdicts.update(self.program.constant)
        return verdicts

    def _settle_unknowns(self, ctx: Contexts, verdicts: dict[str, Status], among: Any) -> None:
        """needs_review vs undetermined for the few policies whose review rule was too large
        for durable_rules (`Program.review_by_reference`): the reference evaluator decides."""
        for pid in self.program.review_by_reference & set(among):
            if verdicts[pid] is Status.UNDETERMINED:
                verdicts[pid] = self.policies.verdict(ctx, pid)

    def _assert(
        self,
        sid: str,
        shard: int,
        old: list[int] | None,
        new: list[tuple[int, dict[str, Any]]],
        version: int,
        verdicts: dict[str, Status],
    ) -> None:
        """Replace an enterprise's facts in the rulesets given; its verdicts from what fired."""
        if not self.shards:
            self._open_shard()
        for index, fact in new:
            name = self._ruleset(index, shard)
            for policy in self.program.rulesets[index].policies:
                verdicts[policy.policy_id] = Status.UNDETERMINED
            if old is not None:
                self.engine.retract_fact(name, sid, f"{sid}#{old[index]}")
            fired = self.engine.assert_fact(name, {**fact, "sid": sid, "id": f"{sid}#{version}"})
            for rule in fired:
                if rule == "__seen":
                    continue
                position, verdict, _ = rule.split("|")
                verdicts[self._policy_at[int(position)]] = Status(verdict)

    def start(self, profile: Profile) -> tuple[DurableState, dict[str, Status]]:
        ctx = self.policies.contexts(profile, self.dates)
        shard = self._open_shard()
        self.shards[shard] += 1
        state = DurableState(f"e{next(self._sids)}", shard, ctx, [], [])
        facts = self.program.facts(ctx, profile.zone)
        verdicts = self._verdicts()
        try:
            self._assert(state.sid, shard, None, list(enumerate(facts)), 0, verdicts)
        except durable.DurableError:
            self.drop(state, quiet=True)
            raise
        state.versions, state.facts = [0] * len(facts), facts
        self._settle_unknowns(ctx, verdicts, self.program.review_by_reference)
        return state, verdicts

    def change(
        self,
        state: DurableState,
        verdicts: dict[str, Status],
        profile: Profile,
        inputs: set[str],
        prefixes: set[str],
    ) -> dict[str, Status]:
        ctx = state.ctx
        _, policies = self.index.refresh(ctx, profile, inputs, prefixes)
        rulesets = sorted({self._ruleset_of[p] for p in policies if p in self._ruleset_of})
        version = max(state.versions, default=0) + 1
        new = [(i, self.program.fact(i, ctx, profile.zone)) for i in rulesets]
        new = [(i, fact) for i, fact in new if fact != state.facts[i]]
        now = dict(verdicts)
        self._assert(state.sid, state.shard, state.versions, new, version, now)
        for index, fact in new:
            state.versions[index], state.facts[index] = version, fact
        self._settle_unknowns(ctx, now, policies)
        return now

    def drop(self, state: DurableState, quiet: bool = False) -> None:
        """Delete the enterprise's durable sessions (their facts go with them)."""
        for index in range(len(self.program.rulesets)):
            try:
                self.engine.delete_state(self._ruleset(index, state.shard), state.sid)
            except durable.DurableError:
                if not quiet:
                    raise
        self.shards[state.shard] -= 1

    def close(self) -> None:
        self.engine.close()


def _noop(c: Any) -> None:
    return None
