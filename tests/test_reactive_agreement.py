"""After every update, a reactive session's verdicts equal the reference evaluator's."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, HNTE_BASE, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from reactive_support import (
    FIELD_VALUES,
    REACTIVE_OPERATORS,
    limits_document,
    nest,
)

from incentives.engine import PolicySet, parse_profile
from incentives.engine.reactive import ReactiveSession, UpdateError, unavailable_reason
from incentives.engine.reactive.compiler import MAX_SET_VALUES, groups
from incentives.engine.reactive.session import Engine
from incentives.engine.testing import policy_sets, profile_data, write_policy_set

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)

ENTERPRISES = ["E1", "E2", "E3", "E4"]
ENGINES: list[Engine] = ["index"] + ["durable"] * (unavailable_reason() is None)
# Examples per test under the CI profile, in one place.
BUNDLED, RANDOM_SETS, NEAR_LIMITS, NUMBERS = examples(25), examples(40), examples(10), examples(10)

edge_update = st.one_of(
    st.sampled_from(list(FIELD_VALUES)).flatmap(
        lambda path: st.sampled_from(FIELD_VALUES[path]).map(
            lambda value: {"set": nest(path, value)}
        )
    ),
    st.sampled_from(list(FIELD_VALUES)).map(lambda path: {"retract": [path]}),
    st.just({"remove": True}),
    st.just({"profile": {}}),
)


def updates(policies: PolicySet) -> st.SearchStrategy[dict[str, Any]]:
    """Updates of one enterprise: values at the edges (`FIELD_VALUES`), and whole or partial
    profiles drawn by engine.testing for this set (its own profile facts included)."""
    profiles = profile_data(policies, AS_OF)
    declared = sorted(f"facts.{d.profile_fact}" for d in policies.plan.facts.values()
                      if d.profile_fact is not None)  # fmt: skip
    return st.one_of(
        edge_update,
        profiles.map(lambda data: {"profile": data}),
        profiles.flatmap(
            lambda data: st.sampled_from(sorted(data)).map(lambda key: {"set": {key: data[key]}})
        ),
        st.sampled_from(declared).map(lambda path: {"retract": [path]}),
    )


def steps(policies: PolicySet) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(
        st.tuples(st.sampled_from(ENTERPRISES), updates(policies)).map(
            lambda t: {"enterprise": t[0], **t[1]}
        ),
        min_size=1,
        max_size=12,
    )


def check_agrees(session: ReactiveSession, reference: PolicySet, step: Any) -> None:
    for eid in ENTERPRISES:
        expected = {
            r.policy_id: r.status
            for r in reference.evaluate(session.profile(eid), AS_OF, gaps=False).results
        }
        assert session.verdicts(eid) == expected, (eid, step, session.profile(eid))


def _after(raw: dict[str, Any], step: dict[str, Any]) -> dict[str, Any] | None:
    """The test's own account of an enterprise's profile data after `step` (None: removed),
    merged the plain way: deep copies, nested mappings merged, dotted paths forgotten."""
    if step.get("remove"):
        return None
    def merge(into: dict[str, Any], changes: dict[Any, Any]) -> None:
        for key, value in changes.items():
            if isinstance(value, dict):
                if not isinstance(into.get(str(key)), dict):
                    into[str(key)] = {}
                merge(into[str(key)], value)
            else:
                into[str(key)] = copy.deepcopy(value)

    out: dict[str, Any] = {}
    merge(out, step.get("profile", raw))
    merge(out, step.get("set", {}))
    for path in step.get("retract", []):
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def run_steps(
    session: ReactiveSession,
    reference: PolicySet,
    steps: list[dict[str, Any]],
    raws: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Apply `steps`, checking verdicts and events after each; `raws`: the profile data the
    session was given before."""
    raws = dict(raws or {})
    for step in steps:
        before = {eid: session.verdicts(eid) for eid in ENTERPRISES}
        try:
            events = session.apply(step)
        except UpdateError:
            # an update that makes a profile impossible (more 科技人员 than 职工) is refused
            # and changes nothing
            assert {eid: session.verdicts(eid) for eid in ENTERPRISES} == before
            continue
        # The session validates only what an update changed: its profile is the one a whole
        # validation of the merged data gives.
        raw = _after(raws.get(step["enterprise"], {}), step)
        if raw is None:
            raws.pop(step["enterprise"], None)
        else:
            raws[step["enterprise"]] = raw
            assert session.profile(step["enterprise"]) == parse_profile(raw), step
        check_agrees(session, reference, step)
        eid = step["enterprise"]
        changed = {e.policy_id: (e.before, e.after) for e in events}
        after = session.verdicts(eid)
        assert changed == {
            pid: (before[eid][pid], after[pid]) for pid in after if before[eid][pid] != after[pid]
        }


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=BUNDLED)
@given(data=st.data())
def test_bundled_library_agrees(policies: PolicySet, engine: Engine, data: st.DataObject) -> None:
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        base = _jsonable(HNTE_BASE)
        session.apply({"enterprise": "E1", "profile": base})
        check_agrees(session, policies, "HNTE base")
        run_steps(session, policies, data.draw(steps(policies)), {"E1": base})


# Updates that move a number across and along the bundled library's thresholds (科技人员 share,
# 职工 bands, the 科技型中小企业 score's bands, 应纳税所得额 of 小型微利企业, the innovation score):
# most leave every leaf reading the changed facts as true as it was, so the session keeps the
# verdicts without asking the policies again (`indexed.same_truths`); some flip one leaf. A fact
# no verdict read (研发人员 share when the little giant's evaluation stopped before it) is passed
# over.
numeric_update = st.one_of(
    st.integers(1, 600).map(lambda n: {"set": {"employees": n}}),
    st.integers(0, 60).map(lambda n: {"set": {"tech_staff": n}}),
    st.integers(0, 60).map(lambda n: {"set": {"rd_staff": n}}),
    st.integers(0, 6_000_000).map(
        lambda n: {"set": {"financials": {"2025": {"taxable_income": str(n)}}}}
    ),
    st.integers(50, 90).map(lambda n: {"set": {"facts": {"hnte_innovation_score": n}}}),
    st.sampled_from(["facts.hnte_key_field", "facts.hnte_innovation_score", "tech_staff"]).map(
        lambda path: {"retract": [path]}
    ),
    st.booleans().map(lambda b: {"set": {"facts": {"hnte_key_field": b}}}),
)


@settings(max_examples=NUMBERS)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(ENTERPRISES[:2]), numeric_update).map(
            lambda t: {"enterprise": t[0], **t[1]}
        ),
        min_size=1,
        max_size=30,
    )
)
def test_numbers_along_thresholds_agree(policies: PolicySet, steps: list[dict[str, Any]]) -> None:
    with ReactiveSession(policies, AS_OF) as session:
        base = _jsonable(HNTE_BASE)
        for eid in ENTERPRISES[:2]:
            session.apply({"enterprise": eid, "profile": base})
        run_steps(session, policies, steps, dict.fromkeys(ENTERPRISES[:2], base))


@pytest.mark.slow
@settings(max_examples=RANDOM_SETS)
@given(
    documents=policy_sets(operators=REACTIVE_OPERATORS),
    shard_size=st.sampled_from([1, 2, 1000]),
    data=st.data(),
)
@pytest.mark.parametrize("engine", ENGINES)
def test_random_policy_sets_agree(
    tmp_path_factory: pytest.TempPathFactory,
    engine: Engine,
    documents: list[dict[str, Any]],
    shard_size: int,
    data: st.DataObject,
) -> None:
    """Sets whose documents declare facts of every source kind, judgement facts and formulas
    over them (scores, sums, maxima, ratios) among them; `shard_size` is durable's."""
    reference = PolicySet(write_policy_set(documents, tmp_path_factory.mktemp("reactive")))
    with ReactiveSession(reference, AS_OF, engine=engine, shard_size=shard_size) as session:
        run_steps(session, reference, data.draw(steps(reference)))


@pytest.fixture(scope="module")
def near_limits(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    """Sets of 400 values, trees at 14 and/or groups, policies filling several rulesets."""
    big = [f"{n}" for n in range(1, MAX_SET_VALUES + 1)]  # employees 1..400
    tmp: Path = tmp_path_factory.mktemp("limits")
    return PolicySet(write_policy_set([limits_document(45, big, 14)], tmp))


@pytest.mark.slow
@settings(max_examples=NEAR_LIMITS)
@given(data=st.data())
def test_sets_near_the_limits_agree(near_limits: PolicySet, data: st.DataObject) -> None:
    with ReactiveSession(near_limits, AS_OF, engine="durable", shard_size=2) as session:
        assert len(session.program.rulesets) > 1
        deepest = max(
            groups(alt)
            for r in session.program.rulesets
            for p in r.policies
            for alts in p.rules.values()
            for alt in alts
        )
        assert deepest >= 12
        run_steps(session, near_limits, data.draw(steps(near_limits)))


def _jsonable(data: Any) -> Any:
    import json

    return json.loads(json.dumps(data, default=str))
