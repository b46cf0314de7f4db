"""engine.testing: the strategies produce what they promise, the invariants hold on the bundled
library and on random policy sets, and they catch broken rule sets and tampered reports."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import AS_OF, HNTE_BASE, build, examples
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, Status, load_profile
from incentives.engine.testing import (
    INVARIANTS,
    InvariantFailure,
    Scenario,
    check_all,
    check_monotone,
    check_report_amounts,
    check_report_stacking,
    find_counterexamples,
    policy_sets,
    profile_data,
    profile_yaml,
    scenarios,
    targets,
    write_policy_set,
)
from incentives.engine.testing.invariants import SEVERITY

BROKEN = Path(__file__).parent / "broken"
BUNDLED = PolicySet()
# Examples per property test under the CI profile. The strategies are exercised whatever they
# generate, so no health check applies.
FAST = settings(max_examples=examples(25), suppress_health_check=list(HealthCheck))
YAML_PROFILES, RANDOM_SETS = examples(30), examples(8)


@FAST
@given(scenarios(BUNDLED, "national.small-low-profit.cit"))
def test_a_pytest_user_checks_a_policy_in_two_lines(scenario: Scenario) -> None:
    check_all(BUNDLED, "national.small-low-profit.cit", scenario)


def test_targets_sit_at_and_beside_every_threshold(policies: PolicySet) -> None:
    found = targets(policies, "national.small-low-profit.cit", AS_OF)
    assert {("taxable_income", Decimal(v)) for v in ("2999999.99", "3000000", "3000000.01")} <= set(
        found
    )
    assert {("workforce", Decimal(v)) for v in (299, 300, 301)} <= set(found)
    hnte = targets(policies, "national.hnte.certification", AS_OF)
    one_year_before = date(2025, 11, 24)
    assert {
        ("registration_date", d) for d in (date(2025, 11, 23), one_year_before, date(2025, 11, 25))
    } <= set(hnte)
    # the 3-year validity of the HNTE certificate, reached through the formula fact
    tax = targets(policies, "national.hnte.tax-rate", AS_OF)
    assert ("hnte_valid", date(2023, 11, 24)) in tax


@settings(FAST, max_examples=YAML_PROFILES)
@given(profile_data(BUNDLED, AS_OF))
def test_profiles_written_as_yaml_read_back_identically(profile: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.yaml"
        path.write_text(profile_yaml(profile, "generated"), encoding="utf-8")
        assert load_profile(path) == Scenario(profile, AS_OF, {}).profile


# No shrinking: a shrink through whole policy sets can take minutes; the failure shows the set.
@settings(
    FAST, max_examples=RANDOM_SETS, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
@given(st.data())
def test_random_policy_sets_load_and_satisfy_every_invariant(data: st.DataObject) -> None:
    documents = data.draw(policy_sets())
    with tempfile.TemporaryDirectory() as tmp:
        policy_set = PolicySet(write_policy_set(documents, Path(tmp)))
        assert len(policy_set) == sum(len(d["policies"]) for d in documents)
        # warnings judge the authoring (a random set admits bases of zero by design), not the
        # engine: every invariant that is an error must hold
        errors = [name for name in INVARIANTS if name not in SEVERITY]
        for cp in policy_set.policies:
            check_all(policy_set, cp.id, data.draw(scenarios(policy_set, cp.id)), errors)


def test_the_monotone_invariant_catches_a_cliff() -> None:
    # `incentives prop` finds this by search (tests/test_prop_cli.py); here the scenario is given.
    policy_set = PolicySet(BROKEN / "false-monotone")
    below_the_cliff = {"financials": {2025: {"taxable_income": Decimal("2999999.99")}}}
    scenario = Scenario(below_the_cliff, AS_OF, filler={}, step=0)  # step 0: one more yuan
    with pytest.raises(InvariantFailure, match=r"from 2999999.99 to 3000000.99 lowers the award"):
        check_monotone(policy_set, "broken.monotone.award", scenario)
    far_below = {"financials": {2025: {"taxable_income": Decimal("1000000")}}}
    check_monotone(policy_set, "broken.monotone.award", Scenario(far_below, AS_OF, {}, step=2))


def _both_reduced_rates(policies: PolicySet):  # type: ignore[no-untyped-def]
    profile = build(
        HNTE_BASE,
        certifications=[{"kind": "hnte", "issued": date(2025, 3, 1)}],
        employees=50,
        financials__2025__taxable_income="200万元",
        financials__2025__total_assets="3000万元",
    )
    both = ["national.hnte.tax-rate", "national.small-low-profit.cit"]
    return policies.evaluate(profile, AS_OF, policy_ids=both)


def test_stacking_check_accepts_the_engine_and_rejects_a_double_payment(
    policies: PolicySet,
) -> None:
    report = _both_reduced_rates(policies)
    paid = {r.policy_id: r for r in report.results if r.amount}
    assert set(paid) == {"national.small-low-profit.cit"}  # 就高: 20% saving beats 10%
    check_report_stacking(policies, report, "national.hnte.tax-rate")
    doubled = report.model_copy(
        update={
            "results": [
                r.model_copy(update={"amount": r.amount_alone}) if r.amount_alone else r
                for r in report.results
            ]
        }
    )
    with pytest.raises(InvariantFailure, match="pays 2 members"):
        check_report_stacking(policies, doubled, "national.hnte.tax-rate")


def test_amount_check_rejects_negative_and_unearned_amounts(policies: PolicySet) -> None:
    report = _both_reduced_rates(policies)
    check_report_amounts(policies, report, "national.small-low-profit.cit")

    def tamper(policy_id: str, **update: object) -> object:
        results = [
            r.model_copy(update=update) if r.policy_id == policy_id else r for r in report.results
        ]
        return report.model_copy(update={"results": results})

    negative = tamper("national.small-low-profit.cit", amount=Decimal(-1), amount_alone=Decimal(-1))
    with pytest.raises(InvariantFailure, match="negative"):
        check_report_amounts(policies, negative, "national.small-low-profit.cit")  # type: ignore[arg-type]
    unearned = tamper("national.hnte.tax-rate", status=Status.INELIGIBLE, amount=Decimal(5))
    with pytest.raises(InvariantFailure, match="yet an amount"):
        check_report_amounts(policies, unearned, "national.hnte.tax-rate")  # type: ignore[arg-type]


def test_every_invariant_is_named_once() -> None:
    assert list(INVARIANTS) == [
        "determinism", "soundness", "explanation", "amounts", "stacking", "monotone", "in-force",
        "eligible-pays-nothing",
    ]  # fmt: skip


def one_policy(tmp_path: Path, when: str) -> PolicySet:
    (tmp_path / "doc.yaml").write_text(
        "id: t.doc\ntitle: t\ntitle_en: t\nissuer: t\nprovenance: illustrative\n"
        "zones: [national]\npolicies:\n"
        f"  - id: t.doc.p\n    title: t\n    title_en: t\n    when: {when}\n"
        "    benefit: {tiers: {by: employees, bands: [{lt: 100, amount: 1万元}, "
        "{ge: 100, amount: 5万元}]}, zh: 奖, en: award}\n",
        encoding="utf-8",
    )
    return PolicySet(tmp_path)


def test_an_authors_own_invariant_is_searched_and_shrunk(tmp_path: Path) -> None:
    policies = one_policy(tmp_path, "{fact: employees, ge: 10}")

    def at_most_20k(policy_set: PolicySet, policy_id: str, scenario: Scenario) -> None:
        report = policy_set.evaluate(scenario.profile, scenario.as_of, policy_ids=[policy_id])
        amount = report.results[0].amount
        if amount is not None and amount > 20_000:
            raise InvariantFailure("at-most-20k", policy_id, f"pays {amount}")

    checks = {"at-most-20k": at_most_20k}
    [found] = find_counterexamples(policies, "t.doc.p", 100, 3, checks)
    assert (found.invariant, found.message) == ("at-most-20k", "pays 50000")
    assert found.scenario.data["employees"] == 100  # shrunk to the band's edge


def test_an_exception_escaping_a_check_is_reported_as_no_crash(tmp_path: Path) -> None:
    policies = one_policy(tmp_path, "{fact: employees, ge: 10}")

    def asks_for_a_policy_the_set_lacks(policy_set: PolicySet, _: str, s: Scenario) -> None:
        policy_set.explain(s.profile, "t.doc.typo", s.as_of)  # the engine raises InputError

    checks = {"typo": asks_for_a_policy_the_set_lacks, "amounts": INVARIANTS["amounts"]}
    found = find_counterexamples(policies, "t.doc.p", 20, 0, checks)
    assert [f.invariant for f in found] == ["no-crash"]
    assert found[0].message.startswith("InputError: no policy with id 't.doc.typo'")
    assert found[0].message.endswith("(while checking typo)")


def test_a_date_bound_at_the_calendars_edge(tmp_path: Path) -> None:
    # `-3000年` resolves to 0001-01-01: the scenario generator once stepped a day past it.
    policies = one_policy(tmp_path, "{fact: registration_date, lt: -3000年}")
    assert find_counterexamples(policies, "t.doc.p", 30, 0) == []


def test_the_boundary_walk_finds_a_gap_at_a_single_value(tmp_path: Path) -> None:
    # `lt: 3` then `ge: 4` persons: exactly 3 is in no band, found without any random example
    (tmp_path / "doc.yaml").write_text(
        "id: t.doc\ntitle: t\ntitle_en: t\nissuer: t\nprovenance: illustrative\n"
        "zones: [national]\npolicies:\n"
        "  - id: t.doc.p\n    title: t\n    title_en: t\n    when: {fact: employees, ge: 1}\n"
        "    benefit: {tiers: {by: employees, bands: [{lt: 3, amount: 1万元}, "
        "{ge: 4, amount: 2万元}]}, zh: 奖, en: award}\n",
        encoding="utf-8",
    )
    from incentives.engine.testing.search import run_policy

    run = run_policy(PolicySet(tmp_path), "t.doc.p", examples=0)
    [found] = run.counterexamples
    assert (found.invariant, found.found_by) == ("eligible-pays-nothing", "boundary")
    assert found.scenario.data["employees"] == 3 and "employees = 3 is in no band" in found.message
    assert run.unsolved is None


def test_the_solver_meets_every_criterion_through_routes_and_ratios() -> None:
    from incentives.engine.testing.boundaries import boundary_scenarios, solve

    corpus = Path(__file__).parent / "corpus" / "clean"
    for name, policy_id in [
        ("clean-partition-routes", "corpus.clean-partition.little-giant"),  # an `any` of routes
        ("clean-labels-boundary-words", "corpus.clean-words.award"),  # ratios over bounded parts
        ("clean-points-zero-bands", "corpus.clean-points.pool"),  # a score summed from bands
    ]:
        policies = PolicySet(corpus / name / "policies")
        scenarios_walked, unsolved = boundary_scenarios(policies, policy_id)
        assert unsolved is None, (name, unsolved)
        solution = solve(policies, policy_id)
        first = policies.evaluate(scenarios_walked[0].profile, solution.as_of, policy_ids=[policy_id])
        assert first.results[0].status is Status.ELIGIBLE, name


def test_the_walk_starts_in_force_for_a_tax_year_preference_of_an_ended_year() -> None:
    """A tax-year preference is evaluated for the year before the evaluation date: for one in
    force only in 2022 the walk evaluates in 2023 (tax year 2022), and builds the facts on
    that tax year's basis (a certificate valid on 31 December 2022, 2022's financials)."""
    from incentives.engine.testing.boundaries import basis_of, boundary_scenarios, solve

    for policy_id in ("national.rd-super-deduction.tech-sme-100",
                      "national.rd-super-deduction.q4-2022"):  # fmt: skip
        plan = BUNDLED.get(policy_id)
        assert plan.attaches == "tax_year" and plan.effective.until == date(2022, 12, 31)
        solution = solve(BUNDLED, policy_id)
        assert solution.as_of.year == 2023 and basis_of(plan, solution.as_of).tax_year == 2022
        walked, unsolved = boundary_scenarios(BUNDLED, policy_id)
        assert unsolved is None, (policy_id, unsolved)
        first = BUNDLED.evaluate(walked[0].profile, solution.as_of, policy_ids=[policy_id])
        assert first.results[0].status is Status.ELIGIBLE, policy_id
        assert first.results[0].tax_year == 2022
    # An application's period is unchanged: its own first day when the usual one is outside.
    hnte = BUNDLED.get("national.hnte.certification")
    assert hnte.attaches == "application" and solve(BUNDLED, hnte.id).as_of == date(2026, 6, 30)


def test_filling_in_never_makes_a_known_part_exceed_its_whole() -> None:
    """The soundness invariant fills unknown fields in: a filled-in whole below a known part
    (职工 1 beside 研发人员 361), or a filled-in part above a known whole, is left unknown
    again instead of making the profile model drop the known part (which turned a decided
    verdict into an open one: a false soundness failure found by the random policy sets)."""
    from incentives.engine.testing.scenarios import fill_in, valid_data

    data = {"synthetic": True, "rd_staff": Decimal(361),
            "financials": {2025: {"rd_expense": Decimal(100)}}}  # fmt: skip
    filler = {"employees": Decimal(1), "tech_staff": Decimal(2), "financials": {2025: {
        "rd_expensed": Decimal(80), "rd_capitalised": Decimal(30), "revenue": Decimal(5)}}}
    filled = fill_in(data, filler)
    kept, _ = valid_data(filled)
    assert kept == filled and kept["rd_staff"] == 361 and "employees" not in kept
    assert kept["financials"][2025] == {"rd_expense": 100, "revenue": 5}
    # Consistent fillers are kept whole.
    assert fill_in(data, {"employees": Decimal(400)})["employees"] == 400
