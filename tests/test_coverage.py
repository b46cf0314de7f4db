"""`incentives test --coverage`: on a small set whose cases exercise a known part of it, exactly
the goals not exercised are listed (with file and line), the percentages follow, and
`--fail-under` gates."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from conftest import write_policy

from incentives.cli.main import main
from incentives.engine import PolicySet
from incentives.engine.check.cases import run_cases
from incentives.engine.check.coverage import coverage

POLICY = """\
    id: test.cov
    title: 测试
    title_en: test
    issuer: 测试
    provenance: illustrative
    zones: [national]
    policies:
      - id: test.cov.award
        title: 奖励
        title_en: award
        source: {article: 第一条, provenance: illustrative}
        when:
          all:
            - {fact: employees, ge: 10人}
            - any:
                - {fact: revenue, ge: 100万元}
                - {fact: tech_staff, ge: 5人}
        unless:
          - {fact: restricted_industry, eq: true}
        benefit:
          tiers:
            by: employees
            bands:
              - {ge: 100, amount: 20万元}
              - {ge: 10, lt: 100, amount: 10万元}
          zh: 奖励
          en: award
"""
CASES = """\
    defaults:
      as_of: 2026-11-24
      profile: {restricted_industry: false, financials: {2025: {revenue: 200万元}}}
    cases:
      - name: eligible by revenue, small band
        policy: test.cov.award
        profile: {employees: 20}
        expect: {status: eligible, amount: 10万元}
      - name: too few staff
        policy: test.cov.award
        profile: {employees: 5}
        expect: {status: ineligible}
      - name: staff unknown
        policy: test.cov.award
        profile: {}
        expect: {status: undetermined}
"""


def _set(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    write_policy(root, "cov.yaml", POLICY)
    write_policy(root, "cov.cases.yaml", CASES)
    return root


def test_uncovered_goals_are_exactly_those_no_case_exercises(tmp_path: Path) -> None:
    root = _set(tmp_path)
    policies = PolicySet(root)
    report = coverage(policies, run_cases(policies, root))
    (policy,) = report.policies
    missing = {(g.kind, g.what) for g in policy.uncovered()}
    assert missing == {
        ("false", "revenue ≥ ¥1,000,000"),  # revenue is 200万元 in every case
        ("true", "tech_staff ≥ 5 persons"),  # never given: only ever unknown
        ("false", "tech_staff ≥ 5 persons"),
        ("deciding", "branch tech_staff ≥ 5 persons of an any"),
        ("fired", "exclusion restricted_industry = true"),
        ("true", "restricted_industry = true"),
        ("paid", "tier employees ≥ 100 persons"),
    }
    assert {g.what for g in policy.only_unknown()} == {"tech_staff ≥ 5 persons"}
    # 4 leaves × 2, 2 any branches, 1 exclusion, 2 tiers = 13 goals, 6 met
    assert (policy.covered, len(policy.goals), str(policy.percent)) == (6, 13, "46.2")
    lines = {g.where.line for g in policy.uncovered()}
    assert all(isinstance(n, int) and n > 0 for n in lines)


def test_cli_coverage_table_json_and_fail_under(tmp_path: Path) -> None:
    root = _set(tmp_path)
    runner = CliRunner()
    table = runner.invoke(main, ["test", str(root), "--coverage"])
    assert table.exit_code == 0, table.output
    assert re.search(r"policies/cov.yaml:\d+: test.cov.award: tech_staff ≥ 5 persons: no case "
                     r"decides it true \(only ever unknown\)", table.output)  # fmt: skip
    assert "coverage 46.2% (6 of 13 goals)" in table.output
    gated = runner.invoke(main, ["test", str(root), "--coverage", "--fail-under", "50"])
    assert gated.exit_code == 1 and "under --fail-under 50%" in gated.output
    data = json.loads(runner.invoke(main, ["test", str(root), "--coverage", "--format", "json"]).output)
    assert (data["cases"], data["failed"], data["coverage"]["percent"]) == (3, 0, "46.2")
    assert runner.invoke(main, ["test", str(root), "--fail-under", "50"]).exit_code == 2

