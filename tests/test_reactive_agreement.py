"""After every update, a reactive session's verdicts equal the reference evaluator's."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, HNTE_BASE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reactive_support import FIELD_VALUES, nest, random_document, write_set

from incentives.engine import PolicySet
from incentives.engine.reactive import ReactiveSession, UpdateError, unavailable_reason
from incentives.engine.reactive.compiler import MAX_SET_VALUES, groups

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)

ENTERPRISES = ["E1", "E2", "E3", "E4"]

update_st = st.one_of(
    st.sampled_from(list(FIELD_VALUES)).flatmap(
        lambda path: st.sampled_from(FIELD_VALUES[path]).map(
            lambda value: {"set": nest(path, value)}
        )
    ),
    st.sampled_from(list(FIELD_VALUES)).map(lambda path: {"retract": [path]}),
    st.just({"remove": True}),
    st.just({"profile": {}}),
)
steps_st = st.lists(
    st.tuples(st.sampled_from(ENTERPRISES), update_st).map(lambda t: {"enterprise": t[0], **t[1]}),
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


def run_steps(session: ReactiveSession, reference: PolicySet, steps: list[dict[str, Any]]) -> None:
    for step in steps:
        before = {eid: session.verdicts(eid) for eid in ENTERPRISES}
        try:
            events = session.apply(step)
        except UpdateError:
            # an update that makes a profile impossible (more 科技人员 than 职工) is refused
            # and changes nothing
            assert {eid: session.verdicts(eid) for eid in ENTERPRISES} == before
            continue
        check_agrees(session, reference, step)
        eid = step["enterprise"]
        changed = {e.policy_id: (e.before, e.after) for e in events}
        after = session.verdicts(eid)
        assert changed == {
            pid: (before[eid][pid], after[pid]) for pid in after if before[eid][pid] != after[pid]
        }


SEEDS = range(8)


@pytest.fixture(scope="module")
def random_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[int, PolicySet]:
    """Built once, before hypothesis runs (a broken generator fails here, fast)."""
    tmp = tmp_path_factory.mktemp("reactive-sets")
    sets = {}
    for seed in SEEDS:
        rng = random.Random(seed)
        doc = random_document(rng, rng.randint(3, 40), name=f"s{seed}")
        sets[seed] = PolicySet(write_set(tmp / f"set{seed}", [doc]))
    sets[-1] = _near_limits_set(tmp)
    return sets


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps_st)
def test_bundled_library_agrees(policies: PolicySet, steps: list[dict[str, Any]]) -> None:
    with ReactiveSession(policies, AS_OF) as session:
        session.apply({"enterprise": "E1", "profile": _jsonable(HNTE_BASE)})
        check_agrees(session, policies, "HNTE base")
        run_steps(session, policies, steps)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.sampled_from(list(SEEDS)), shard_size=st.sampled_from([1, 2, 1000]), steps=steps_st)
def test_random_policy_sets_agree(
    random_sets: dict[int, PolicySet], seed: int, shard_size: int, steps: list[dict[str, Any]]
) -> None:
    reference = random_sets[seed]
    with ReactiveSession(reference, AS_OF, shard_size=shard_size) as session:
        run_steps(session, reference, steps)


def _near_limits_set(tmp: Path) -> PolicySet:
    """Sets of 400 values, trees at 14 and/or groups, policies filling several rulesets."""
    big = [f"{n}" for n in range(1, MAX_SET_VALUES + 1)]  # employees 1..400
    deep: dict[str, Any] = {"fact": "employees", "ge": 10}
    for level in range(14):  # alternating all/any: each level adds a group to T and to F
        other = {"fact": "revenue", "gt": f"{level}元"}
        deep = {"any" if level % 2 else "all": [deep, other]}
    rng = random.Random(99)
    doc = random_document(rng, 45, name="limits")
    doc["policies"][0].update(zones=["national"], when={"fact": "employees", "in": big})
    doc["policies"][1].update(zones=["national"], when={"fact": "employees", "not_in": big})
    doc["policies"][2].update(zones=["national"], when=deep)
    doc["policies"][3].update(zones=["national"], when={"not": deep})
    return PolicySet(write_set(tmp / "limits", [doc]))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps_st)
def test_sets_near_the_limits_agree(
    random_sets: dict[int, PolicySet], steps: list[dict[str, Any]]
) -> None:
    reference = random_sets[-1]
    with ReactiveSession(reference, AS_OF, shard_size=2) as session:
        assert len(session.program.rulesets) > 1
        deepest = max(
            groups(alt)
            for r in session.program.rulesets
            for p in r.policies
            for alts in p.rules.values()
            for alt in alts
        )
        assert deepest >= 12
        run_steps(session, reference, steps)


def _jsonable(data: Any) -> Any:
    import json

    return json.loads(json.dumps(data, default=str))
