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
