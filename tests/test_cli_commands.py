"""The `incentives` CLI through click's runner: output formats, the stable JSON shape, and exit
codes 0 (ran), 1 (bad input, one paragraph, never a traceback) and 2 (usage)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import write_policy

from incentives.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
JINZHONG = str(ROOT / "examples" / "jinzhong-hightech.yaml")
TAIYUAN = str(ROOT / "examples" / "taiyuan-software-smallfirm.json")
AS_OF = ["--as-of", "2026-11-24"]

ILLUSTRATIVE = """\
id: test.cli
title: 示例文件
title_en: sample document
issuer: 测试
provenance: illustrative
zones: [jinzhong-dz]
policies:
  - id: test.cli.award
    title: 示例奖励
    title_en: sample award
    when: {fact: employees, ge: 10}
    benefit: {grant: {amount: 10万元}, zh: 奖励10万元, en: award of 100000 yuan}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def user_error(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ")
    assert isinstance(result.exception, SystemExit)
    return result.output


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    write_policy(tmp_path, "sample.yaml", ILLUSTRATIVE)
    return tmp_path


def test_check_json_shape() -> None:
    data: dict[str, Any] = json.loads(ok("check", JINZHONG, *AS_OF, "--format", "json").stdout)
    assert {"as_of", "profile", "results", "total"} <= set(data)
    assert data["as_of"] == "2026-11-24"
    assert data["profile"] == {
        "credit_code": "91140171MA0K000214",
        "name": "晋中示例光电科技有限公司（虚构）",
        "zone": "jinzhong-dz",
        "synthetic": True,
    }
    statuses = {"eligible", "ineligible", "undetermined", "needs_review", "not_in_force"}
    for result in data["results"]:
        assert {"policy_id", "status", "amount", "missing"} <= set(result)
        assert result["status"] in statuses
        assert result["amount"] is None or isinstance(result["amount"], str)
        assert isinstance(result["missing"], list)
        assert result["trace"] is None  # the trace only with --explain
    by_id = {r["policy_id"]: r for r in data["results"]}
    rate = by_id["national.hnte.tax-rate"]
    assert rate["status"] == "eligible"
    assert Decimal(rate["amount"]) == Decimal("520000")  # 520万元 × (25% − 15%)
    assert by_id["national.hnte.certification"]["status"] == "needs_review"
    assert by_id["national.hnte.certification"]["review"] == ["hnte_core_ip_role"]
    assert isinstance(data["total"], str)
    # the total counts cash and tax savings after stacking; deductions are reported apart
    counted = [
        Decimal(r["amount"])
        for r in data["results"]
        if r["status"] == "eligible" and r["amount"] and r["amount_kind"] in ("cash", "tax_saving")
    ]
    assert Decimal(data["total"]) == sum(counted, Decimal(0))


def test_check_json_trace_only_with_explain() -> None:
    data = json.loads(ok("check", JINZHONG, *AS_OF, "--format", "json", "--explain").stdout)
    shown = [r for r in data["results"] if r["status"] != "not_in_force"]
    assert shown and all(r["trace"] is not None for r in shown)


def test_check_json_is_stable() -> None:
    args = ("check", TAIYUAN, *AS_OF, "--format", "json")
    assert ok(*args).stdout == ok(*args).stdout


def test_check_table_shows_provenance_and_total(sample_dir: Path) -> None:
    out = ok("check", JINZHONG, *AS_OF, "--policies", str(sample_dir), "--lang", "en").stdout
    assert "test.cli.award" in out
    assert "illustrative" in out
    assert "Total" in out and "¥100,000" in out


def test_check_table_in_chinese() -> None:
    out = ok("check", JINZHONG, *AS_OF, "--lang", "zh").stdout
    assert "national.hnte.tax-rate" in out and "52万元" in out


def test_check_all_says_which_document_replaced_a_policy() -> None:
    hidden = ok("check", JINZHONG, *AS_OF, "--lang", "en").stdout
    assert "national.sme-gradient-2022.innovative" not in hidden
    shown = ok("check", JINZHONG, *AS_OF, "--lang", "en", "--all", "--explain").stdout
    block = shown[shown.index("■ national.sme-gradient-2022.innovative") :].split("\n\n")[0]
    assert "not in force on this date (… to 2026-03-31)" in block
    assert "superseded by national.sme-gradient-2026" in block


def test_check_markdown() -> None:
    out = ok("check", TAIYUAN, *AS_OF, "--format", "markdown", "--lang", "en").stdout
    assert "| Status | Policy | Amount | Source |" in out
    assert "national.small-low-profit.cit" in out
    assert "**Total" in out


def test_check_zone_override(sample_dir: Path) -> None:
    args = ("check", TAIYUAN, *AS_OF, "--policies", str(sample_dir), "--format", "json")
    outside = json.loads(ok(*args).stdout)["results"][0]
    inside = json.loads(ok(*args, "--zone", "jinzhong-dz").stdout)
    assert outside["status"] == "not_in_force"
    assert inside["results"][0]["status"] == "eligible"
    assert inside["profile"]["zone"] == "jinzhong-dz"


def test_check_explain_shows_the_tree() -> None:
    out = ok("check", JINZHONG, *AS_OF, "--explain", "--lang", "en").stdout
    assert "第十一条" in out and "S&T staff at least 10%" in out


def test_explain_one_policy() -> None:
    out = ok("explain", JINZHONG, "national.hnte.certification", *AS_OF, "--lang", "en").stdout
    assert "national.hnte.certification" in out
    assert "national.small-low-profit.cit" not in out
    data = json.loads(
        ok("explain", JINZHONG, "national.hnte.certification", *AS_OF, "--format", "json").stdout
    )
    assert data["policy_id"] == "national.hnte.certification"
    assert data["trace"]["children"][0]["kind"] == "all"
    leaves = _leaves(data["trace"])
    staff = next(leaf for leaf in leaves if leaf["fact"] == "tech_staff_share")
    assert staff["outcome"] == "true" and staff["op"] == "ge"
    assert staff["threshold"]["en"] == "≥ 10%"
    assert staff["article"] == "第十一条（四）"
    md = ok("explain", JINZHONG, "national.hnte.certification", *AS_OF, "--format", "markdown")
    assert "national.hnte.certification" in md.stdout


def _leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node["kind"] == "leaf":
        return [node]
    return [leaf for child in node["children"] for leaf in _leaves(child)]


def test_explain_unknown_policy() -> None:
    out = user_error("explain", JINZHONG, "national.hnte.certificaton", *AS_OF)
    assert "national.hnte.certification" in out  # did you mean


def test_list_json() -> None:
    data = json.loads(ok("list", "--format", "json").stdout)
    by_id = {p["id"]: p for p in data}
    small = by_id["national.small-low-profit.cit"]
    assert small["zones"] == ["national"]
    assert small["effective_from"] == "2023-01-01"
    assert small["effective_until"] == "2027-12-31"
    assert small["provenance"] == "verified"
    assert small["benefit_kind"] == "tax_rate"
    assert by_id["national.hnte.certification"]["benefit_kind"] == "service"
    for policy in data:
        assert {"id", "zones", "effective_from", "effective_until", "provenance",
                "benefit_kind", "source"} <= set(policy)  # fmt: skip


def test_list_by_zone(sample_dir: Path) -> None:
    def ids(*extra: str) -> set[str]:
        out = ok("list", "--policies", str(sample_dir), "--format", "json", *extra).stdout
        return {p["id"] for p in json.loads(out)}

    assert ids("--zone", "jinzhong-dz") == {"test.cli.award"}
    assert ids("--zone", "guangling") == set()
    assert "atlantis" in user_error("list", "--zone", "atlantis")


def test_list_table() -> None:
    out = ok("list", "--lang", "en").stdout
    assert "national.hnte.certification" in out


def test_show() -> None:
    data = json.loads(ok("show", "national.hnte.tax-rate", "--format", "json").stdout)
    assert data["id"] == "national.hnte.tax-rate"
    assert data["definition"]["benefit"]["tax_rate"]["rate"] == "15%"
    assert data["provenance"] == "verified"
    assert "national.hnte.tax-rate" in ok("show", "national.hnte.tax-rate").stdout
    user_error("show", "no.such-policy")


def test_validate(sample_dir: Path) -> None:
    # The bundled set loads and passes the static checks (the superseded 2022 SME rules too).
    assert ok("validate", "--as-of", "2026-11-24").stdout.endswith(", 0 warning(s)\n")
    assert "1 policies" in ok("validate", str(sample_dir)).stdout
    write_policy(sample_dir, "broken.yaml", ILLUSTRATIVE.replace("employees, ge: 10", "employes, ge: 10"))
    out = user_error("validate", str(sample_dir))
    assert "nothing was loaded" in out
    assert "broken.yaml:11 policies.0.when.fact: unknown fact 'employes'" in out


@pytest.mark.parametrize("kind", ["policy", "profile"])
def test_schema(kind: str) -> None:
    schema = json.loads(ok("schema", kind).stdout)
    assert schema["type"] == "object" and "properties" in schema
    assert ("policies" if kind == "policy" else "credit_code") in schema["properties"]


@pytest.mark.parametrize(
    "args",
    [
        ["check", "/nonexistent.yaml"],
        ["check", "{bad}"],
        ["check", JINZHONG, "--policies", "/nonexistent-dir"],
        ["check", JINZHONG, "--zone", "atlantis"],
        ["validate", "/nonexistent-dir"],
        ["show", "x.y", "--policies", "/nonexistent-dir"],
    ],
)
def test_user_errors_exit_1_without_traceback(args: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / "bad.yaml") if a == "{bad}" else a for a in args]
    (tmp_path / "bad.yaml").write_text("employees: many\nzone: [1]\n", encoding="utf-8")
    user_error(*args)


def test_bad_profile_lists_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("employees: many\ntech_staff: -1\n", encoding="utf-8")
    out = user_error("check", str(path))
    assert "bad.yaml:1 employees" in out and "bad.yaml:2 tech_staff" in out


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", JINZHONG, "--as-of", "24/11/2026"],
        ["check", JINZHONG, "--format", "pdf"],
        ["check", JINZHONG, "--lang", "fr"],
        ["list", "--bogus"],
        ["schema", "everything"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_help_and_version() -> None:
    assert "check" in ok("--help").stdout
    assert ok("--version").stdout.strip()
