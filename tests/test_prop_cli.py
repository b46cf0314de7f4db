"""`incentives prop`: clean on the bundled library, a shrunk counterexample that `incentives
check` accepts on a broken rule set, reproducible with --seed, user errors as one message."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from incentives.cli.main import main

BROKEN = Path(__file__).parent / "broken"


@pytest.mark.slow
def test_the_bundled_library_passes() -> None:
    # the boundary walk of every policy and the worked cases; no random example (time budget)
    result = CliRunner().invoke(main, ["prop", "--examples", "0", "--seed", "7", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "--seed 7" in result.output
    for policy_id in ("national.hnte.certification", "national.small-low-profit.cit"):
        assert f"ok    {policy_id}" in result.output
    assert "FAIL" not in result.output
    # what a person must judge: eligible cash awards that pay nothing on a base of zero
    assert result.output.rstrip().endswith("prop: 0 failure(s), 4 warning(s)")


def test_a_seed_repeats_the_run() -> None:
    runner = CliRunner()
    args = ["prop", "--examples", "5", "--seed", "11", "--policy", "national.hnte.tax-rate"]
    assert runner.invoke(main, args).output == runner.invoke(main, args).output


def test_a_broken_rule_set_fails_with_a_counterexample_check_accepts(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cex"
    broken = str(BROKEN / "false-monotone")
    result = runner.invoke(
        main, ["prop", broken, "--examples", "20", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "FAIL  broken.monotone.award  invariant monotone" in result.output
    assert "counterexample profile:" in result.output and "taxable_income:" in result.output
    assert "prop: 1 failure(s)" in result.output
    # found by the boundary walk at the cliff: just below 300万元 of taxable income, raising it
    # loses the award
    assert "(found by the boundary)" in result.output
    assert "lowers the award from 3" in result.output
    written = out / "broken.monotone.award.monotone.yaml"
    as_of = next(
        line.split("--as-of ")[1].split()[0]
        for line in written.read_text(encoding="utf-8").splitlines()
        if "--as-of" in line
    )
    check = runner.invoke(
        main,
        ["check", str(written), "--as-of", as_of, "--policies", broken, "--format", "json"],
    )
    assert check.exit_code == 0, check.output
    assert '"status": "eligible"' in check.output  # just below the cliff, where raising hurts


def test_user_errors_are_one_message() -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["prop", "no/such/dir", "--examples", "1"])
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: policy directory no/such/dir does not exist")
    unknown = runner.invoke(main, ["prop", "--policy", "national.nope", "--examples", "1"])
    assert unknown.exit_code == 1 and "no policy with id 'national.nope'" in unknown.output
    assert "Traceback" not in missing.output + unknown.output


def test_the_engine_and_the_cli_import_without_hypothesis() -> None:
    import subprocess
    import sys

    code = (
        "import sys, incentives.engine, incentives.engine.check.lint, incentives.cli.main\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_json_findings_and_a_reproduce_command_that_works_as_printed(tmp_path: Path) -> None:
    import json
    import shlex

    runner = CliRunner()
    broken = str(BROKEN / "false-monotone")
    args = ["prop", broken, "--examples", "0", "--seed", "1", "--format", "json", "--jobs", "1"]
    result = runner.invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert (report["tool"], report["errors"]) == ("prop", 1)
    [finding] = [f for f in report["findings"] if f["severity"] == "error"]
    assert list(finding) == [
        "file", "line", "policy", "code", "severity", "message", "counterexample",
    ]  # fmt: skip
    assert (finding["policy"], finding["code"], finding["severity"]) == (
        "broken.monotone.award", "monotone", "error",
    )  # fmt: skip
    assert finding["file"].endswith(".yaml") and isinstance(finding["line"], int)
    command = shlex.split(finding["counterexample"]["reproduce"])
    assert command[:2] == ["incentives", "explain"] and Path(command[2]).is_file()
    explained = runner.invoke(main, command[1:])
    assert explained.exit_code == 0, explained.output
    assert "broken.monotone.award" in explained.output


def test_prop_runs_the_worked_cases_too() -> None:
    corpus = Path(__file__).parent / "corpus" / "broken" / "case-boundary-wrong-side" / "policies"
    result = CliRunner().invoke(main, ["prop", str(corpus), "--examples", "0", "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert "award.cases.yaml:9: error:" in result.output and "[case-mismatch]" in result.output
