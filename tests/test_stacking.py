"""Stacking: an exclusive group pays only its highest member (ties: lowest id) and a group cap
limits what the members pay together; amounts stay Decimal yuan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import AS_OF, HNTE_BASE, InlineSet, build

from incentives.engine import (
    PolicyError,
    PolicySet,
    Status,
    parse_profile,
)

HEADER = """\
id: test.stack
title: 叠加测试
title_en: stacking test
issuer: 测试
provenance: illustrative
zones: [national]
policies:
"""


def grant(pid: str, amount: str, stacking: str, when: str = "") -> str:
    condition = f"\n    when: {when}" if when else ""
    return f"""\
  - id: test.stack.{pid}
    title: 奖励{pid}
    title_en: award {pid}{condition}
    benefit: {{grant: {{amount: {amount}}}, zh: 奖励, en: award}}
    stacking: {stacking}
"""


def evaluate(inline_set: InlineSet, *policies: str, profile: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    policy_set = inline_set(HEADER + "".join(policies), name="stack.yaml")
    return policy_set.evaluate(parse_profile(profile or {}), AS_OF)


EXCLUSIVE = "{group: g, exclusive: true}"


def test_exclusive_group_pays_only_the_highest(inline_set: InlineSet) -> None:
    report = evaluate(
        inline_set,
        grant("a", "10万元", EXCLUSIVE),
        grant("b", "30万元", EXCLUSIVE),
        grant("c", "20万元", EXCLUSIVE),
    )
    amounts = {r.policy_id[-1]: r.amount for r in report.results}
    assert amounts == {"a": Decimal(0), "b": Decimal("300000"), "c": Decimal(0)}
    alone = {r.policy_id[-1]: r.amount_alone for r in report.results}
    assert alone == {"a": Decimal("100000"), "b": Decimal("300000"), "c": Decimal("200000")}
    assert report.total == Decimal("300000")
    losers = [r for r in report.results if r.policy_id != "test.stack.b"]
    assert all(r.stacking is not None and "test.stack.b" in r.stacking.en for r in losers)
    assert all(r.status is Status.ELIGIBLE for r in report.results)


def test_ties_go_to_the_lowest_id(inline_set: InlineSet) -> None:
    # Declared in reverse order so that file order cannot be what decides.
    report = evaluate(
        inline_set,
        grant("z", "20万元", EXCLUSIVE),
        grant("m", "20万元", EXCLUSIVE),
        grant("b", "20万元", EXCLUSIVE),
    )
    paying = [r.policy_id for r in report.results if r.amount]
    assert paying == ["test.stack.b"]
    assert report.total == Decimal("200000")


def test_an_ineligible_member_does_not_block_the_group(inline_set: InlineSet) -> None:
    report = evaluate(
        inline_set,
        grant("a", "50万元", EXCLUSIVE, when="{fact: employees, ge: 1000}"),
        grant("b", "10万元", EXCLUSIVE),
        grant("c", "40万元", EXCLUSIVE, when="{fact: tech_staff, ge: 1}"),
        profile={"employees": 10},
    )
    by_id = {r.policy_id: r for r in report.results}
    assert by_id["test.stack.a"].status is Status.INELIGIBLE
    assert by_id["test.stack.c"].status is Status.UNDETERMINED
    assert by_id["test.stack.b"].amount == Decimal("100000")
    assert report.total == Decimal("100000")


def test_group_cap_limits_the_sum_highest_first(inline_set: InlineSet) -> None:
    capped = "{group: g, exclusive: false, cap: 25万元}"
    report = evaluate(
        inline_set,
        grant("a", "10万元", capped),
        grant("b", "20万元", capped),
        grant("c", "1万元", capped),
    )
    amounts = {r.policy_id[-1]: r.amount for r in report.results}
    assert amounts == {"a": Decimal("50000"), "b": Decimal("200000"), "c": Decimal(0)}
    assert report.total == Decimal("250000")
    assert report.results[0].stacking is not None and "25万元" in report.results[0].stacking.zh


def test_cap_above_the_sum_changes_nothing(inline_set: InlineSet) -> None:
    capped = "{group: g, exclusive: false, cap: 1亿元}"
    report = evaluate(inline_set, grant("a", "10万元", capped), grant("b", "20万元", capped))
    assert [r.amount for r in report.results] == [Decimal("100000"), Decimal("200000")]
    assert all(r.stacking is None for r in report.results)


def test_exclusive_group_with_cap(inline_set: InlineSet) -> None:
    both = "{group: g, exclusive: true, cap: 15万元}"
    report = evaluate(inline_set, grant("a", "10万元", both), grant("b", "20万元", both))
    assert [r.amount for r in report.results] == [Decimal(0), Decimal("150000")]
    assert report.total == Decimal("150000")


def test_groups_are_independent(inline_set: InlineSet) -> None:
    report = evaluate(
        inline_set,
        grant("a", "10万元", "{group: one}"),
        grant("b", "20万元", "{group: one}"),
        grant("c", "5万元", "{group: two}"),
        grant("d", "7万元", "{group: two}"),
    )
    assert report.total == Decimal("270000")


def test_members_must_declare_the_group_alike(inline_set: InlineSet) -> None:
    with pytest.raises(PolicyError) as info:
        evaluate(
            inline_set,
            grant("a", "10万元", "{group: g, exclusive: true}"),
            grant("b", "20万元", "{group: g, exclusive: false}"),
        )
    assert "declared differently" in str(info.value)


@pytest.mark.parametrize("cap", ["15%", "abc", "-5万元"])
def test_a_group_cap_must_be_an_amount_in_yuan(inline_set: InlineSet, cap: str) -> None:
    with pytest.raises(PolicyError) as info:
        evaluate(inline_set, grant("a", "10万元", f"{{group: g, cap: '{cap}'}}"))
    problem = info.value.problems[0]
    assert problem.file is not None and problem.file.endswith("stack.yaml")
    assert problem.field is not None and "stacking" in problem.field


def test_bundled_reduced_rates_do_not_stack(policies: PolicySet) -> None:
    # A certified HNTE that is also a small low-profit enterprise: 小型微利 saves 20 points
    # (25% → 5%) against the HNTE's 10 points (25% → 15%), so only 小型微利 counts.
    profile = build(
        HNTE_BASE,
        employees=100,
        financials__2025__taxable_income="200万元",
        financials__2025__total_assets="3000万元",
        certifications=[{"kind": "hnte", "issued": "2024-12-02"}],
    )
    report = policies.evaluate(
        profile,
        AS_OF,
        policy_ids=["national.hnte.tax-rate", "national.small-low-profit.cit"],
    )
    rate, small = report.results
    assert rate.status is Status.ELIGIBLE and small.status is Status.ELIGIBLE
    assert rate.amount_alone == Decimal("200000") and rate.amount == Decimal(0)
    assert small.amount == Decimal("400000")
    assert rate.stacking is not None and "national.small-low-profit.cit" in rate.stacking.en
    assert report.total == Decimal("400000")
    assert report.totals.tax_saving == Decimal("400000")


def test_explaining_one_policy_pays_what_checking_the_set_pays(
    policies: PolicySet, tmp_path: Path
) -> None:
    """The HNTE rate alone would save 20万元, but the set pays 小型微利 instead (就高): `explain`
    of the HNTE rate shows 0 and says why, as `check` does."""
    from click.testing import CliRunner

    from incentives.cli.main import main

    profile = build(
        HNTE_BASE,
        financials__2025__taxable_income="200万元",
        financials__2025__total_assets="3000万元",
        certifications=[{"kind": "hnte", "issued": "2024-12-02"}],
    )
    checked = next(
        r for r in policies.evaluate(profile, AS_OF).results if r.policy_id == "national.hnte.tax-rate"
    )
    explained = policies.explain(profile, "national.hnte.tax-rate", AS_OF)
    assert (explained.amount, explained.amount_alone) == (checked.amount, checked.amount_alone)
    assert explained.amount == 0 and explained.stacking == checked.stacking is not None
    assert explained.trace is not None

    firm = tmp_path / "firm.json"
    firm.write_text(profile.model_dump_json(exclude_none=True), encoding="utf-8")
    shown = CliRunner().invoke(
        main, ["explain", str(firm), "national.hnte.tax-rate", "--as-of", "2026-11-24",
               "--format", "json"],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert '"amount": "0"' in shown.output and "national.small-low-profit.cit" in shown.output
