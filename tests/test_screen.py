"""`incentives screen` end to end: JSON Lines, CSV and Parquet registers, bad rows reported."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from incentives.cli.main import main
from incentives.engine import PolicySet, load_profile
from incentives.engine.batch.columns import profile_to_row
from incentives.engine.model.units import Unit

EXAMPLES = Path(__file__).parent.parent / "examples"
NAMES = [
    "jinzhong-hightech.yaml",
    "guangling-recycled-aluminium.yaml",
    "taiyuan-software-smallfirm.json",
]


def _register(tmp_path: Path) -> Path:
    lines = [load_profile(EXAMPLES / n).model_dump_json(exclude_none=True) for n in NAMES]
    lines.insert(1, '{"employees": "many"}')  # row 2 is bad
    lines.insert(2, "{not json")  # row 3 is bad
    path = tmp_path / "register.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_screen_jsonl_matches_check_and_reports_bad_rows(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["screen", str(_register(tmp_path)), "--as-of", "2026-11-24", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "bad row 2: employees" in result.output
    assert "bad row 3: invalid JSON" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    policies = PolicySet()
    assert len(rows) == 3 * len(policies)
    by_key = {(r["row"], r["policy_id"]): r for r in rows}
    for row_number, name in zip(["1", "4", "5"], NAMES, strict=True):
        report = policies.evaluate(load_profile(EXAMPLES / name), date(2026, 11, 24))
        for res in report.results:
            got = by_key[(row_number, res.policy_id)]
            assert got["status"] == res.status.value
            assert (Decimal(got["amount"]) if got["amount"] else None) == res.amount
            assert got["missing"] == ";".join(res.missing)
    assert by_key[("1", "national.hnte.tax-rate")]["amount"] == "520000.00"


def test_screen_csv_and_parquet_registers(tmp_path: Path) -> None:
    policies = PolicySet()
    profiles = [load_profile(EXAMPLES / n) for n in NAMES]
    shares = {f"facts.{fact_id}" for fact_id, plan in policies.plan.facts.items()
              if plan.unit is Unit.RATIO}  # fmt: skip
    flat = []
    for profile in profiles:
        row = profile_to_row(profile, policies.facts)
        text: dict[str, str] = {}
        for key, value in row.items():
            if value is None:
                continue
            if isinstance(value, list):
                text[key] = json.dumps(value, default=str, ensure_ascii=False)
            elif key in shares:  # a share is written with its unit, as a register must
                text[key] = f"{Decimal(value) / 10_000}%"
            elif isinstance(value, int) and not isinstance(value, bool) and key != "row":
                text[key] = str(Decimal(value) / 1_000_000)
            else:
                text[key] = str(value).lower() if isinstance(value, bool) else str(value)
        flat.append(text)
    columns = sorted({k for r in flat for k in r})
    register = tmp_path / "register.csv"
    with register.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
        writer.writerow({"employees": "-3"})  # line 5: bad
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        main,
        [
            "screen",
            str(register),
            "--as-of",
            "2026-11-24",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bad row 5: employees" in result.output, result.output
    table = pl.read_parquet(out)
    assert table.height == 3 * len(policies)
    hnte = table.filter((pl.col("row") == 2) & (pl.col("policy_id") == "national.hnte.tax-rate"))
    assert hnte["status"].to_list() == ["eligible"] and hnte["amount"].to_list() == ["520000.00"]
    # the same register as Parquet (strings in every cell) screens the same
    pl.read_csv(register, infer_schema=False).write_parquet(tmp_path / "register.parquet")
    again = CliRunner().invoke(
        main,
        [
            "screen",
            str(tmp_path / "register.parquet"),
            "--as-of",
            "2026-11-24",
            "--format",
            "jsonl",
        ],
    )
    assert again.exit_code == 0, again.output
    lines = [json.loads(x) for x in again.output.splitlines() if x.startswith("{")]
    # Parquet rows count from 1, CSV rows are line numbers (the header is line 1)
    assert {(x["row"] + 1, x["policy_id"], x["status"], x["amount"]) for x in lines} == {
        (r["row"], r["policy_id"], r["status"], r["amount"]) for r in table.iter_rows(named=True)
    }


def test_screen_unknown_format_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "register.txt"
    path.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["screen", str(path)])
    assert result.exit_code == 1
    assert "unknown register format" in result.output


def test_screen_explain_builds_the_profile_of_the_asked_rows_only(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        ["screen", str(_register(tmp_path)), "--as-of", "2026-11-24", "--out", str(out),
         "--explain", "4", "--explain", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "row 2: not a valid row of the register; nothing to explain" in result.output
    assert "row 4" in result.output
    assert "national.hnte.certification" in result.output or "高新技术企业" in result.output
