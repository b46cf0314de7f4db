"""The bundled example cases, the case runner itself and `incentives test`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_policy

from incentives.cli.main import main
from incentives.engine import InputError, PolicySet
from incentives.engine.check.cases import (
    CaseResult,
    coverage_problems,
    merge,
    run_cases,
)
from incentives.engine.compile.loader import bundled_policies


@pytest.fixture(scope="module")
def bundled_results(policies: PolicySet) -> list[CaseResult]:
    return run_cases(policies, bundled_policies())


def test_every_bundled_case_passes(bundled_results: list[CaseResult]) -> None:
    failures = [
        f"{r.where} {r.case.name}: {'; '.join(r.failures)}" for r in bundled_results if not r.passed
    ]
    assert failures == []
    assert len(bundled_results) >= 3 * 5


def test_every_bundled_policy_has_eligible_ineligible_and_undetermined_cases(
    policies: PolicySet,
    bundled_results: list[CaseResult],
) -> None:
    assert coverage_problems(policies, bundled_results) == []


def test_merge_is_deep_and_null_removes() -> None:
    base = {"a": 1, "f": {"2025": {"x": 1, "y": 2}}, "l": [1, 2]}
    merged = merge(base, {"f": {"2025": {"y": None, "z": 3}}, "l": [3], "a": None})
    assert merged == {"f": {"2025": {"x": 1, "z": 3}}, "l": [3]}
    assert base["f"] == {"2025": {"x": 1, "y": 2}}  # the default is not modified


POLICY = """\
id: test.grant
title: 测试
title_en: test
issuer: 测试
provenance: illustrative
zones: [national]
policies:
  - id: test.grant.award
    title: 测试
    title_en: test
    when: {fact: employees, ge: 10}
    benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}
"""


def _cases(directory: Path, body: str) -> None:
    write_policy(directory, "grant.yaml", POLICY)
    write_policy(directory, "grant.cases.yaml", body)


def test_a_wrong_expectation_is_reported_with_what_happened(tmp_path: Path) -> None:
    _cases(
        tmp_path,
        """\
        defaults: {as_of: 2026-11-24}
        cases:
          - {name: ok, policy: test.grant.award, profile: {employees: 10}, expect: {status: eligible, amount: 10万元}}
          - {name: wrong amount, policy: test.grant.award, profile: {employees: 10}, expect: {status: eligible, amount: 20万元}}
          - {name: wrong status, policy: test.grant.award, profile: {employees: 9}, expect: {status: eligible}}
          - {name: unknown policy, policy: test.grant.nope, expect: {status: eligible}}
        """,
    )
    policy_set = PolicySet(tmp_path)
    results = run_cases(policy_set, tmp_path)
    assert [r.passed for r in results] == [True, False, False, False]
    assert results[1].failures == ("amount ¥100,000, expected ¥200,000",)
    assert (
        results[2]
        .failures[0]
        .startswith("status ineligible, expected eligible; failing: employees")
    )
    assert "no policy with id 'test.grant.nope'" in results[3].failures[0]
    assert coverage_problems(policy_set, results) == [
        "test.grant.award: no ineligible, no undetermined case"
    ]


def test_a_malformed_case_file_is_refused_with_its_line(tmp_path: Path) -> None:
    _cases(tmp_path, "cases:\n  - {name: x, policy: test.grant.award, expect: {status: maybe}}\n")
    with pytest.raises(InputError) as caught:
        run_cases(PolicySet(tmp_path), tmp_path)
    assert "grant.cases.yaml:2" in caught.value.render()


def test_cli_test_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    bundled = runner.invoke(main, ["test"])
    assert bundled.exit_code == 0, bundled.output
    assert " 0 failed; " in bundled.output and "0 without full case coverage" in bundled.output
    _cases(
        tmp_path,
        """\
        defaults: {as_of: 2026-11-24}
        cases:
          - {name: passes, policy: test.grant.award, profile: {employees: 10}, expect: {status: eligible}}
          - {name: fails, policy: test.grant.award, profile: {employees: 9}, expect: {status: ineligible}}
          - {name: unknown, policy: test.grant.award, expect: {status: eligible}}
        """,
    )
    failing = runner.invoke(main, ["test", str(tmp_path)])
    assert failing.exit_code == 1
    assert "FAIL" in failing.output and "status undetermined, expected eligible" in failing.output
    assert "no undetermined case" in failing.output
