"""`incentives test [DIR]`: run the example cases that sit next to the policies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..engine import PolicySet
from ..engine.check.cases import CaseResult, case_findings, coverage_problems, run_cases
from ..engine.compile.loader import bundled_policies
from .main import main
from .render import json_text, safe


@main.command("test")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def test_cases(directory: Path | None, verbose: bool, fmt: str) -> None:
    """Run the *.cases.yaml example cases under DIRECTORY (default: the bundled library)
    against its policies; exit 1 if a case fails or a policy lacks an eligible, an
    ineligible or an undetermined case."""
    root = directory if directory is not None else bundled_policies()
    policy_set = PolicySet(directory)
    results = run_cases(policy_set, root)
    failed = sum(not r.passed for r in results)
    uncovered = coverage_problems(policy_set, results)
    if fmt == "json":
        findings = case_findings(policy_set, results)
        click.echo(json_text({
            "tool": "test", "cases": len(results), "passed": len(results) - failed,
            "failed": failed, "policies": len(policy_set), "uncovered": len(uncovered),
            "findings": [f.to_json() for f in findings],
        }))  # fmt: skip
    else:
        _print(results, uncovered, verbose)
        click.echo(
            f"{len(results)} cases, {len(results) - failed} passed, {failed} failed; "
            f"{len(policy_set)} policies, {len(uncovered)} without full case coverage"
        )
    if failed or uncovered:
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
