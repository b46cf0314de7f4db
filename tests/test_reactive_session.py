"""The reactive session as a library: events, explanations, bad updates, batches, lifetime."""

from __future__ import annotations

import gc
import json
import shutil
import sys
from typing import Any

import pytest
import yaml
from conftest import AS_OF, HNTE_BASE

from incentives.engine import PolicySet, Status
from incentives.engine.compile.loader import bundled_policies
from incentives.engine.reactive import (
    ChangeEvent,
    ReactiveSession,
    UpdateError,
    unavailable_reason,
)
from incentives.engine.reactive.session import Engine
from incentives.engine.reference.context import Missing

needs_durable = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)

SMALL_FIRM = {
    "zone": "taiyuan",
    "restricted_industry": False,
    "workforce": 120,
    "financials": {"2025": {"taxable_income": "200万元", "total_assets": "3000万元"}},
}
CIT = "national.small-low-profit.cit"
ENGINES = ["index"] + ["durable"] * (unavailable_reason() is None)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test runs on both back ends (durable only where it imports)."""
    chosen: Engine = request.param
    return chosen


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    """HNTE and the 小型微利 income-tax policy alone, so that each update changes few verdicts."""
    national = bundled_policies() / "national"
    directory = tmp_path_factory.mktemp("hnte-and-cit")
    for name in ("hnte.yaml", "cit-law.yaml"):
        shutil.copy(national / name, directory / name)
    document = yaml.safe_load((national / "small-low-profit.yaml").read_text(encoding="utf-8"))
    document["policies"] = [p for p in document["policies"] if p["id"] == CIT]
    (directory / "small-low-profit.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    return PolicySet(directory)


def hnte() -> dict[str, Any]:
    return json.loads(json.dumps(HNTE_BASE, default=str))


def test_events_follow_verdict_changes_with_explanations(policies: PolicySet, engine: Engine) -> None:
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        events = session.set_profile("E1", SMALL_FIRM)
        assert events == [ChangeEvent("E1", CIT, Status.UNDETERMINED, Status.ELIGIBLE, AS_OF)]
        assert session.set_facts("E1", {"workforce": 121}) == []  # still eligible: no event
        (event,) = session.apply({"enterprise": "E1", "set": {"workforce": 301}}, explain=True)
        assert (event.before, event.after) == (Status.ELIGIBLE, Status.INELIGIBLE)
        assert event.explanation is not None and event.explanation.status is Status.INELIGIBLE
        assert event.explanation.trace is not None
        assert event.to_json()["explanation"]["policy_id"] == CIT
        (event,) = session.retract_facts("E1", ["workforce"])
        assert event.after is Status.UNDETERMINED
        assert session.explain("E1", CIT).missing == ["workforce"]
        assert session.remove("E1") == []  # undetermined is also where an unknown one starts
        assert session.enterprises == [] and session.verdicts("E1") == session.baseline
        session.set_profile("E1", SMALL_FIRM)
        (event,) = session.remove("E1")
        assert (event.before, event.after) == (Status.ELIGIBLE, session.baseline[CIT])


def test_needs_review_is_told_apart_from_undetermined(policies: PolicySet, engine: Engine) -> None:
    cert = "national.hnte.certification"
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        session.set_profile("E1", hnte())
        assert session.verdicts("E1")[cert] is Status.ELIGIBLE
        session.retract_facts("E1", ["facts.hnte_key_field"])  # an expert's judgement
        assert session.verdicts("E1")[cert] is Status.NEEDS_REVIEW
        session.retract_facts("E1", ["tech_staff"])  # plain data
        assert session.verdicts("E1")[cert] is Status.UNDETERMINED


def test_a_bad_update_is_rejected_and_changes_nothing(policies: PolicySet, engine: Engine) -> None:
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        session.set_profile("E1", SMALL_FIRM)
        session.set_profile("E2", SMALL_FIRM)
        before = session.verdicts("E1"), session.profile("E1")
        for bad in (
            {"enterprise": "E1", "set": {"workforce": -3}},
            {"enterprise": "E1", "set": {"zone": "atlantis"}},
            {"enterprise": "E1", "set": {"facts": {"undeclared": 1}}},
            {"enterprise": "E1", "set": {"workforce": 1}, "remove": True},
            {"enterprise": "", "remove": True},
            {"set": {"workforce": 1}},
        ):
            with pytest.raises(UpdateError):
                session.apply(bad)
        assert (session.verdicts("E1"), session.profile("E1")) == before
        assert session.set_facts("E2", {"workforce": 400})[0].after is Status.INELIGIBLE
        assert session.verdicts("E1")[CIT] is Status.ELIGIBLE


def test_an_equal_value_of_another_type_is_a_change(policies: PolicySet, engine: Engine) -> None:
    """`1 == True` in Python, yet the profile refuses a boolean head-count: the update is
    validated, not taken for no change, and refused as a whole validation refuses it."""
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        session.set_profile("E1", {**SMALL_FIRM, "workforce": 1})
        with pytest.raises(UpdateError) as refused:
            session.set_facts("E1", {"workforce": True})
        assert "workforce" in refused.value.render()
        assert session.profile("E1").workforce == 1


def test_enterprises_share_their_equal_unknowns(policies: PolicySet) -> None:
    """The indexed back end keeps one object for equal unknown facts of all enterprises,
    after loading and after an update, and the verdicts are the same as without sharing."""
    with ReactiveSession(policies, AS_OF) as session:
        session.set_profile("E1", SMALL_FIRM)
        session.set_profile("E2", {**SMALL_FIRM, "workforce": 300})
        session.set_facts("E2", {"workforce": 320})
        session.retract_facts("E1", ["financials.2025.taxable_income"])
        one, two = (session._enterprises[e].state for e in ("E1", "E2"))
        shared = 0
        for kind, ctx in one.items():
            for fact, value in ctx.items():
                other = dict.get(two[kind], fact)
                if isinstance(value, Missing) and value == other:
                    assert value is other, fact
                    shared += 1
        assert shared > 5
        fresh = policies.evaluate(session.profile("E1"), AS_OF, gaps=False)
        assert session.verdicts("E1") == {r.policy_id: r.status for r in fresh.results}


def test_a_batch_applies_whole_or_not_at_all(policies: PolicySet, engine: Engine) -> None:
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        good = [
            {"enterprise": "E1", "profile": SMALL_FIRM},
            {"enterprise": "E1", "set": {"workforce": 500}},
            {"enterprise": "E2", "profile": SMALL_FIRM},
        ]
        with pytest.raises(UpdateError, match="nothing applied"):
            session.apply_batch([*good, {"enterprise": "E3", "set": {"workforce": "many"}}])
        assert session.enterprises == []
        events = session.apply_batch(good)
        assert [(e.enterprise, e.after) for e in events] == [
            ("E1", Status.ELIGIBLE),
            ("E1", Status.INELIGIBLE),
            ("E2", Status.ELIGIBLE),
        ]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@needs_durable
def test_close_reclaims_memory(policies: PolicySet) -> None:
    def cycle() -> tuple[float, float]:
        session = ReactiveSession(policies, AS_OF, engine="durable", shard_size=250)
        for n in range(600):
            session.set_profile(f"E{n}", SMALL_FIRM)
        loaded = _rss_mb()
        session.close()
        gc.collect()
        return loaded, _rss_mb()

    start = _rss_mb()
    loaded, first = cycle()
    for _ in range(3):
        _, last = cycle()
    assert loaded - start > 40  # ~190 KB of durable state per enterprise while open
    assert last - first < 10  # closing gives it back: no growth over cycles
    assert last - start < (loaded - start) / 2


def test_a_closed_session_refuses_updates(policies: PolicySet, engine: Engine) -> None:
    session = ReactiveSession(policies, AS_OF, engine=engine)
    session.set_facts("E1", {"workforce": 1})
    session.close()
    session.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        session.set_facts("E1", {"workforce": 2})


def test_paths_address_int_and_text_year_keys_alike(policies: PolicySet, engine: Engine) -> None:
    firm = {**SMALL_FIRM, "financials": {2025: {"taxable_income": "200万元", "total_assets": 1}}}
    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        session.set_profile("E1", firm)
        assert session.verdicts("E1")[CIT] is Status.ELIGIBLE
        (event,) = session.retract_facts("E1", ["financials.2025.taxable_income"])
        assert event.after is Status.UNDETERMINED
        session.set_facts("E1", {"financials": {2025: {"taxable_income": "400万元"}}})
        assert session.verdicts("E1")[CIT] is Status.INELIGIBLE


def test_threads_feeding_one_session_get_consistent_verdicts(policies: PolicySet, engine: Engine) -> None:
    import threading

    with ReactiveSession(policies, AS_OF, engine=engine) as session:
        errors: list[BaseException] = []

        def feed(worker: int) -> None:
            try:
                for n in range(60):
                    session.set_profile(f"W{worker}-{n % 5}", {**SMALL_FIRM, "workforce": n * 7})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=feed, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for eid in session.enterprises:
            expected = policies.evaluate(session.profile(eid), AS_OF, gaps=False).results
            assert session.verdicts(eid) == {r.policy_id: r.status for r in expected}
