"""The two contexts of one evaluation (an application's, a tax year's) resolve a fact both give
the same value once (`context.sharing_resolvers`): every fact must still have the value a
context of its own basis gives, whether the bases agree on the day, the fiscal year, both or
neither."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import AS_OF

from incentives.engine import PolicySet, load_profile
from incentives.engine.compile.plan import Dates
from incentives.engine.reference.context import basis_reads

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))
# The default tax year (the bases agree on the fiscal year), an earlier one (on nothing), and
# an evaluation on 31 December of the tax year (on both).
DATES = [Dates.of(AS_OF), Dates.of(AS_OF, AS_OF.year - 2), Dates.of(date(2025, 12, 31), 2025)]


@pytest.mark.parametrize("dates", DATES, ids=["default", "earlier", "same-day"])
def test_shared_contexts_give_each_basis_its_own_values(policies: PolicySet, dates: Dates) -> None:
    facts = list(policies.plan.facts)
    shared = 0
    for path in EXAMPLES:
        profile = load_profile(path)
        contexts = policies.contexts(profile, dates)
        for kind, ctx in contexts.items():
            alone = policies.context(profile, dates.basis(kind))
            assert {f: ctx[f] for f in facts} == {f: alone[f] for f in facts}, (path.name, kind)
        first, other = contexts["application"], contexts["tax_year"]
        shared += sum(first[f] is other[f] for f in facts)
    assert shared > 0  # some values were shared, not merely equal


def test_what_each_fact_reads_of_the_basis(policies: PolicySet) -> None:
    reads = basis_reads(policies.plan.facts)
    assert reads["employees"] == frozenset()  # a profile field
    assert reads["tech_staff_share"] == frozenset()  # a ratio of two fields
    assert reads["rd_intensity_3y"] == {"fiscal_year"}  # sums over the last three years
    assert reads["hnte_valid"] == {"on"}  # a certificate valid on the day


def test_one_policy_at_a_time_on_alternating_days(policies: PolicySet) -> None:
    """`evaluate` makes the other basis's context only when a policy of that kind asks for it,
    and a leaf keeps the last evaluation date's date bounds: each policy evaluated alone, the
    days alternating from one evaluation to the next, gives what a set that only ever saw
    that day gives for the whole library."""
    profiles = [load_profile(path) for path in EXAMPLES]
    expected: dict[tuple[int, int], dict[str, object]] = {}
    for n, dates in enumerate(DATES):
        alone = PolicySet()  # closures of its own, which see this day only
        for i, profile in enumerate(profiles):
            report = alone.evaluate(profile, dates.as_of, tax_year=dates.tax_year, gaps=False)
            expected[n, i] = {r.policy_id: r.model_dump() for r in report.results}
    for i, profile in enumerate(profiles):
        for plan in policies.policies:
            for n, dates in enumerate(DATES):
                report = policies.evaluate(profile, dates.as_of, tax_year=dates.tax_year,
                                           policy_ids=[plan.id], gaps=False)  # fmt: skip
                assert report.results[0].model_dump() == expected[n, i][plan.id], (i, plan.id, n)
