"""`impact` and `diff` on a candidate built from the bundled library by known changes (a
threshold raised, a tier added, a zone dropped): the plans' diff names exactly those, and every
enterprise × policy of the reported side-by-side agrees with the reference evaluator row by row,
as do the transition counts, the amounts and who is better or worse off."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from impact_support import DROPPED, RAISED, TIERED, build_candidate, register_rows

from incentives.cli.main import main
from incentives.engine import PolicySet, parse_profile
from incentives.engine.batch.impact import IMPACT_COLUMNS, impact_register
from incentives.engine.check.diff import diff_sets

AS_OF = date(2026, 11, 24)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[PolicySet, PolicySet, Path]:
    root = tmp_path_factory.mktemp("impact")
    candidate = build_candidate(root)
    return PolicySet(), PolicySet(candidate), candidate


def test_diff_names_exactly_the_known_changes(sets: tuple[PolicySet, PolicySet, Path]) -> None:
    base, candidate, _ = sets
    changes = diff_sets(base, candidate)
    changed = {p.policy_id: p for p in changes.policies if p.kind != "unchanged"}
    chain = {p.id for p in candidate.policies if p.document == DROPPED}
    assert set(changed) == {RAISED, TIERED} | chain
    assert changes.counts["added"] == changes.counts["removed"] == 0
    raised = [line for c in changed[RAISED].changes for line in c.lines()]
    assert [c.aspect for c in changed[RAISED].changes] == ["criteria"]
    assert any("taxable_income ≤ ¥3,000,000" in line and line.startswith("-") for line in raised)
    assert any("taxable_income ≤ ¥4,000,000" in line and line.startswith("+") for line in raised)
    tiers = [line for c in changed[TIERED].changes for line in c.lines()]
    assert "+   ≥ 4 items → ¥400,000" in tiers and "+   ≥ 3 items, < 4 items → ¥300,000" in tiers
    zones = next(c for c in changed[sorted(chain)[0]].changes if c.aspect == "zones")
    assert "- applies in linfen-etdz" in list(zones.lines())
    assert not any("applies in taiyuan" in line for line in zones.lines())
    assert diff_sets(base, base).counts["changed"] == 0  # a set against itself: nothing


def _reference(policy_set: PolicySet, data: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    report = policy_set.evaluate(parse_profile(data), AS_OF, gaps=False)
    return {r.policy_id: (r.status.value, r.amount) for r in report.results}


def test_impact_agrees_with_the_reference_row_by_row(
    sets: tuple[PolicySet, PolicySet, Path], tmp_path: Path
) -> None:
    base, candidate, _ = sets
    rows = register_rows()
    register = tmp_path / "register.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(3, '{"employees": -1}')  # row 4: bad under both sets
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "changes.parquet"
    report = impact_register(base, candidate, register, AS_OF, out=out, fmt="parquet",
                             examples=2, explain_transitions=1, batch_size=16)  # fmt: skip
    assert (report.rows, report.bad_count) == (len(rows) + 1, 1) and report.bad[0][0] == 4
    written = pl.read_parquet(out)
    assert tuple(written.columns) == IMPACT_COLUMNS
    changes = {(r["row"], r["policy_id"]): r for r in written.to_dicts()}

    transitions: Counter[tuple[str, str, str]] = Counter()
    delta = {"cash": Decimal(0), "tax_saving": Decimal(0), "deduction": Decimal(0)}
    better = worse = 0
    for number, data in zip([n for n in range(1, len(rows) + 2) if n != 4], rows, strict=True):
        old, new = _reference(base, data), _reference(candidate, data)
        money = Decimal(0)
        for pid in old:
            (s0, a0), (s1, a1) = old[pid], new[pid]
            transitions[(pid, s0, s1)] += 1
            kind = candidate.get(pid).benefit.amount_kind
            paid = [a if s == "eligible" and a is not None else Decimal(0) for s, a in ((s0, a0), (s1, a1))]
            if kind in delta:
                delta[kind] += paid[1] - paid[0]
            if kind in ("cash", "tax_saving"):
                money += paid[1] - paid[0]
            row = changes.pop((number, pid), None)
            if (s0, a0) == (s1, a1):
                assert row is None, (number, pid)
                continue
            assert row is not None, (number, pid, s0, s1)
            assert (row["base_status"], row["candidate_status"]) == (s0, s1)
            assert [None if a is None else Decimal(a) for a in (row["base_amount"], row["candidate_amount"])] == [a0, a1]
        better += money > 0
        worse += money < 0
    assert changes == {}  # nothing reported that the reference does not see
    assert report.transitions == dict(transitions)
    assert report.delta() == delta
    assert (report.better_off, report.worse_off) == (better, worse)
    # the three changes show where they should
    assert transitions[(RAISED, "ineligible", "eligible")] > 0
    assert delta["tax_saving"] > 0 and report.delta(illustrative_only=True)["cash"] == Decimal(200_000)
    assert transitions[(f"{DROPPED}.chain-leader", "undetermined", "not_in_force")] == 6
    assert report.amount_changed[TIERED] == 2  # four and five recognitions: 30万 → 40万
    example = report.examples[(RAISED, "ineligible", "eligible")][0]
    assert example.explanation is not None
    assert any(old and "≤ ¥3,000,000 → false" in old and new and "≤ ¥4,000,000 → true" in new
               for old, new in example.explanation.changed)  # fmt: skip
    data = report.to_json()
    json.dumps(data)
    raised = next(p for p in data["policies"] if p["policy_id"] == RAISED)
    assert raised["change"] == "changed" and raised["illustrative"] is False


def test_cli_impact_and_diff(sets: tuple[PolicySet, PolicySet, Path], tmp_path: Path) -> None:
    _, _, candidate = sets
    register = tmp_path / "register.csv"
    register.write_text(
        "zone,workforce,financials.2025.taxable_income,financials.2025.total_assets,"
        "restricted_industry\ntaiyuan,50,350万元,3000万元,false\n", encoding="utf-8"
    )  # fmt: skip
    runner = CliRunner()
    common = [str(register), "--candidate", str(candidate), "--as-of", "2026-11-24"]
    table = runner.invoke(main, ["impact", *common, "--explain-transitions", "1"])
    assert table.exit_code == 0, table.output
    assert "1 better off, 0 worse off" in table.stdout
    assert "ineligible → eligible" in table.stdout and "needs ≤ ¥4,000,000 → true" in table.stdout
    piped = runner.invoke(main, ["impact", "-", *common[1:], "--explain-transitions", "1"],
                          input=register.read_bytes())  # fmt: skip
    assert (piped.exit_code, piped.stdout) == (0, table.stdout), piped.output
    # the raised threshold is 2023年第12号's, for tax years 2023 to 2027: FY2022 is not touched
    for year, better in (("2022", 0), ("2025", 1)):
        by_year = runner.invoke(main, ["impact", *common, "--tax-year", year])
        assert by_year.exit_code == 0, by_year.output
        assert f"{better} better off, 0 worse off" in by_year.stdout, (year, by_year.stdout)
    profile = parse_profile({"zone": "taiyuan", "workforce": 50, "restricted_industry": False,
                             "financials": {2025: {"taxable_income": "350万元",
                                                   "total_assets": "3000万元"}}})  # fmt: skip
    fy2022 = PolicySet().evaluate(profile, AS_OF, tax_year=2022, gaps=False)
    assert next(r for r in fy2022.results if r.policy_id == RAISED).status.value == "not_in_force"
    rows = runner.invoke(main, ["impact", *common, "--format", "csv"])  # to standard output
    assert rows.exit_code == 0, rows.output
    header, *changed = rows.stdout.splitlines()
    assert header == ",".join(IMPACT_COLUMNS) and any(RAISED in line for line in changed)
    assert "1 better off" in rows.stderr
    refused = runner.invoke(main, ["impact", *common, "--format", "csv", "--out", str(register)])
    assert refused.exit_code == 1 and "input of this run" in refused.output
    diff = runner.invoke(main, ["diff", "--candidate", str(candidate)])
    assert diff.exit_code == 0, diff.output
    assert diff.stdout.startswith("policies: 0 added, 0 removed, 6 changed")
    assert f"changed {RAISED}" in diff.stdout and "+     taxable_income ≤ ¥4,000,000" in diff.stdout
    missing = runner.invoke(main, ["diff", "--candidate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
