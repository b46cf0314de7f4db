"""`incentives test [DIR]`: run the example cases that sit next to the policies."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import click

from ..engine import PolicySet
from ..engine.check.cases import CaseResult, case_findings, coverage_problems, run_cases
from ..engine.check.coverage import Coverage, coverage
from ..engine.compile.loader import bundled_policies
from .main import main
from .render import json_text, safe


@main.command("test")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
@click.option("--coverage", "with_coverage", is_flag=True,
              help="Report which clauses the cases exercise (conditions decided true and "
                   "false, exclusions fired, deciding any branches, tiers and point bands).")  # fmt: skip
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="With --coverage: exit 1 if the set's coverage is below PCT percent.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="text, or one JSON object: the counts, the findings and (with --coverage) "
                   "the coverage.")  # fmt: skip
def test_cases(
    directory: Path | None, verbose: bool, with_coverage: bool, fail_under: float | None,
    fmt: str,
) -> None:  # fmt: skip
    """Run the *.cases.yaml example cases under DIRECTORY (default: the bundled library)
    against its policies; exit 1 if a case fails or a policy lacks an eligible, an
    ineligible or an undetermined case."""
    if fail_under is not None and not with_coverage:
        raise click.UsageError("--fail-under goes with --coverage")
    root = directory if directory is not None else bundled_policies()
    policy_set = PolicySet(directory)
    results = run_cases(policy_set, root)
    failed = sum(not r.passed for r in results)
    uncovered = coverage_problems(policy_set, results)
    report = coverage(policy_set, results) if with_coverage else None
    low = report is not None and _under(report, fail_under)
    if fmt == "json":
        findings = case_findings(policy_set, results)
        data = {
            "tool": "test", "cases": len(results), "passed": len(results) - failed,
            "failed": failed, "policies": len(policy_set), "uncovered": len(uncovered),
            "findings": [f.to_json() for f in findings],
        }  # fmt: skip
        if report is not None:
            data["coverage"] = report.to_json()
        click.echo(json_text(data))
    else:
        _print(results, uncovered, verbose)
        click.echo(
            f"{len(results)} cases, {len(results) - failed} passed, {failed} failed; "
            f"{len(policy_set)} policies, {len(uncovered)} without full case coverage"
        )
        if report is not None:
            print_coverage(report)
            if low:
                click.echo(f"coverage {report.percent}% is under --fail-under {fail_under:g}%")
    if failed or uncovered or low:
        sys.exit(1)


def _print(results: list[CaseResult], uncovered: list[str], verbose: bool) -> None:
    for outcome in results:
        if outcome.passed and not verbose:
            continue
        mark = "ok  " if outcome.passed else "FAIL"
        click.echo(safe(f"{mark} {outcome.where} {outcome.case.policy}: {outcome.case.name}"))
        for failure in outcome.failures:
            for line in failure.splitlines():  # each line escaped, none run together
                click.echo(safe(f"       {line}"))
    for problem in uncovered:
        click.echo(safe(f"MISSING CASES {problem}"))


def _under(report: Coverage, fail_under: float | None) -> bool:
    return fail_under is not None and report.percent < Decimal(str(fail_under))


def print_coverage(report: Coverage) -> None:
    """Per policy the goals met, then every uncovered goal with its file and line."""
    click.echo("\ncoverage of the conditions, exclusions, branches and bands by the cases:")
    for policy in report.policies:
        click.echo(safe(f"  {policy.percent:>5}%  {policy.covered:>3}/{len(policy.goals):<3} "
                        f"{policy.policy_id}"))  # fmt: skip
    for policy in report.policies:
        unknown = {id(g) for g in policy.only_unknown()}
        for goal in policy.uncovered():
            seen = " (only ever unknown)" if id(goal) in unknown else ""
            need = _NEEDS[goal.kind]
            click.echo(safe(f"{goal.where}: {policy.policy_id}: {goal.what}: {need}{seen}"))
    click.echo(f"coverage {report.percent}% ({report.covered} of {report.goals} goals)")


_NEEDS = {
    "true": "no case decides it true",
    "false": "no case decides it false",
    "fired": "no case fires it",
    "deciding": "no case decides the any by it",
    "paid": "no eligible case is paid in it",
    "scored": "no case scores in it",
}
