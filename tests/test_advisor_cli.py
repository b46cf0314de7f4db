"""What the CLI tells a company and its advisor: the ranked opportunities, either … or …,
fixed facts as reasons, labelled missing facts, the zones applied and what was left out by
reason; `incentives facts`, `incentives zones` and the report's JSON Schema."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner

from incentives import PolicySet, load_profile
from incentives.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
JINZHONG = str(ROOT / "examples" / "jinzhong-hightech.yaml")
AS_OF = ["--as-of", "2026-11-24"]


def ok(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def _left_out() -> tuple[int, int]:
    """The Jinzhong example's results not in force, from the engine: by zone, by date."""
    report = PolicySet().evaluate(load_profile(JINZHONG), date(2026, 11, 24))
    outside = [r for r in report.results if r.status.value == "not_in_force"]
    by_zone = sum(1 for r in outside if "applies only in" in r.reason.en) if outside else 0
    return by_zone, len(outside) - by_zone


def test_check_text_ranks_opportunities_and_says_what_it_left_out() -> None:
    out = ok("check", JINZHONG, *AS_OF, "--lang", "en")
    by_zone, by_date = _left_out()
    assert "zones applied: Jinzhong Development Zone (jinzhong-dz) ⊂ Shanxi Transformation" in out
    assert f"left out, {by_zone + by_date} policies (--all lists them):" in out
    assert f"{by_zone} apply only in other zones:" in out and "Taiyuan (taiyuan) 2" in out
    assert f"{by_date} ended before 2026-11-24" in out
    # (lines longer than the terminal's 120 columns wrap: compare the words)
    ranked = " ".join(out[out.index("Opportunities, ranked by value:"):out.index("■")].split())
    certain, uncertain = ranked.split("Could also apply once facts are stated or judged")
    first, second, third = re.split(r" [23]\. ", certain.split(" 1. ")[1])
    assert first.startswith("national.sme-gradient-2026.tech-innovative") and "(or 1 other way)" in first
    # the first-certification award is derived from the certificates: certain, and worth ¥200,000
    assert second.startswith("shanxi.jinzhong-dz.hightech-ten-measures.first-certification — ¥200,000")
    assert third.startswith("national.small-low-profit.cit") and "[slow to change]" in third
    # its amount is computed from taxable income, which the way must lower: unknown, saying why
    assert "amount unknown (the amount depends on taxable income" in third
    # the uncertain: what to state, ranked after the certain by what they would pay
    assert " 4. shanxi.industry-chain-incentives.new-entrant — ¥10,000,000 ← state: " in uncertain
    report = json.loads(ok("check", JINZHONG, *AS_OF, "--format", "json"))
    hnte = next(o for o in report["opportunities"] if o["policy_id"] == "national.hnte.certification")
    assert (hnte["status"], hnte["certain"]) == ("needs_review", False)
    assert [g["fact"] for g in hnte["alternatives"][0]["review"]] == ["hnte_core_ip_role"]
    assert re.search(r"… and \d+ more \(--format json, markdown or html lists them all\)", uncertain)
    specialised = out[out.index("■ national.sme-gradient-2026.specialised"):]
    assert specialised.startswith(
        "■ national.sme-gradient-2026.specialised — ineligible\nwhichever way, it needs:\n"
        "  - at least three years in its niche: needs ≥ 3 years (not stated)\n"
    )
    assert "what it would take (any one of):\n  either, all of:\n    - holds the tech-and-innovation" in specialised
    assert "\n  or, all of:\n    - exempt by a provincial-or-higher R&D institution" in specialised
    # a gap on the industry is why not, not advice
    recycled = out[out.index("■ national.resource-recycling-vat.refund-recycled-metal"):]
    assert recycled.split("\n")[1] == "why not (nothing the company can change):"
    # the super-deduction's calculation shows both of its bases
    deduction = " ".join(out[out.index("■ national.rd-super-deduction.rate-100"):].split())
    assert ("super-deduction base = R&D expensed (last fiscal year) ¥2,600,000 + amortisation of "
            "intangible assets formed by R&D (last fiscal year) ¥40,000 = ¥2,640,000") in deduction  # fmt: skip
    assert "super-deduction base ¥2,640,000 × 100% additional deduction = ¥2,640,000" in deduction


def test_a_missing_input_is_named_with_the_year_read() -> None:
    """An unknown eligible amount says why, naming the fact, its id and the profile field with
    the fiscal year the evaluation read (`financials.2025.…`), in text and JSON alike."""
    profile = Path(JINZHONG).read_text(encoding="utf-8").replace("    rd_amortisation: 4万元\n", "")
    out = ok("check", "-", *AS_OF, "--lang", "en", stdin=profile)
    deduction = out[out.index("■ national.rd-super-deduction.rate-100"):]
    assert "eligible, but the amount depends on the missing facts below" in deduction
    assert "  - super-deduction base (rd_deduction_base ← financials.2025.rd_amortisation)" in deduction
    assert "amount unknown (facts missing)" in out
    report = json.loads(ok("check", "-", *AS_OF, "--format", "json", stdin=profile))
    result = next(r for r in report["results"] if r["policy_id"] == "national.rd-super-deduction.rate-100")
    assert result["missing_inputs"] == ["financials.2025.rd_amortisation"]
    asked = ok("check", "-", "--as-of", "2026-11-24", "--tax-year", "2024", "--lang", "en", stdin=profile)
    assert "rd_deduction_base ← financials.2024.rd_amortisation, financials.2024.rd_expensed" in asked


def test_check_chinese_and_markdown_say_the_same() -> None:
    out = ok("check", JINZHONG, *AS_OF, "--lang", "zh")
    assert "适用地区：晋中开发区 (jinzhong-dz) ⊂ 山西转型综合改革示范区 (zgq)" in out
    assert "可争取的政策（按价值排序）：" in out and "原因（企业无法改变）" in out
    markdown = ok("check", JINZHONG, *AS_OF, "--lang", "en", "--format", "markdown")
    left_out = sum(_left_out())
    assert "Opportunities, ranked by value:" in markdown and f"left out, {left_out} policies" in markdown


def test_check_json_gaps_are_numbers_and_opportunities_ranked() -> None:
    data = json.loads(ok("check", JINZHONG, *AS_OF, "--format", "json"))
    small = next(r for r in data["results"] if r["policy_id"] == "national.small-low-profit.cit")
    assets = next(g for g in small["gaps"] if g["fact"] == "total_assets")
    assert {k: assets[k] for k in ("have", "op", "need", "delta", "unit", "mobility", "actionable")} == {
        "have": "68000000", "op": "le", "need": "50000000", "delta": "-18000000", "unit": "yuan",
        "mobility": "slow", "actionable": False,
    }  # fmt: skip
    assert assets["change"]["en"] == "−¥18,000,000 needed"
    assert [o["rank"] for o in data["opportunities"]] == list(range(1, len(data["opportunities"]) + 1))
    assert data["opportunities"][0]["alternatives"][0]["mobility"] == "actionable"


def test_report_schema_validates_what_check_prints() -> None:
    schema = json.loads(ok("schema", "report"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    reports = [json.loads(ok("check", JINZHONG, *AS_OF, "--format", "json", "--explain"))]
    policies = PolicySet()  # what check --format json prints is the report's JSON
    reports += [policies.evaluate(load_profile(example), date(2026, 11, 24)).to_json_dict()
                for example in sorted((ROOT / "examples").iterdir())]  # fmt: skip
    for report in reports:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]
        assert not errors, errors[:3]
    ids = schema["$defs"]["PolicyResult"]["properties"]["policy_id"]["enum"]
    assert set(ids) == {p.id for p in policies.policies}


def test_facts_lists_every_fact_with_label_type_source_and_example() -> None:
    facts: list[dict[str, Any]] = json.loads(ok("facts", "--format", "json", *AS_OF))
    by_id = {f["id"]: f for f in facts}
    assert set(by_id) == set(PolicySet().plan.facts)
    revenue = by_id["revenue"]
    assert revenue["zh"] == "最近一年销售收入" and revenue["unit"] == "yuan"
    assert revenue["origin"] == "financials.2025.revenue" and revenue["change"] == "slow"
    assert revenue["example"] == "financials.2025.revenue: 1200万元"
    assert by_id["rd_intensity"]["example"] is None  # derived: never written
    assert by_id["rd_intensity"]["inputs"] == ["financials.rd_expense", "financials.revenue"]
    assert by_id["industry_code"]["change"] == "fixed"
    assert all(f["zh"] and f["en"] for f in facts)
    table = ok("facts", "--lang", "zh")
    assert "最近一年销售收入" in table and "无法改变" in table


def test_zones_prints_the_tree() -> None:
    lines = ok("zones", "--lang", "en").split("\n")
    assert lines[0] == "national — China (national)"
    assert lines.index("    zgq — Shanxi Transformation and Comprehensive Reform Demonstration Zone [140171]") < lines.index(
        "      jinzhong-dz — Jinzhong Development Zone"
    )
    zones = json.loads(ok("zones", "--format", "json"))
    assert {z["id"] for z in zones} == set(PolicySet().zones)


def test_dash_reads_the_profile_from_standard_input() -> None:
    text = Path(JINZHONG).read_text(encoding="utf-8")
    assert ok("check", "-", *AS_OF, "--format", "json", stdin=text) == ok(
        "check", JINZHONG, *AS_OF, "--format", "json"
    )
    as_json = json.dumps({"employees": 12, "zone": "taiyuan"})
    data = json.loads(ok("explain", "-", "national.hnte.tax-rate", *AS_OF, "--format", "json", stdin=as_json))
    assert data["status"] == "undetermined"
    result = CliRunner().invoke(main, ["check", "-", *AS_OF], input="employees: -3\ntech_staf: 4\n")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "<stdin>:1" in result.output and "<stdin>:2" in result.output and "did you mean tech_staff" in result.output


def test_markdown_and_html_reports_to_hand_over(tmp_path: Path) -> None:
    for fmt in ("markdown", "html"):
        out = ok("check", JINZHONG, *AS_OF, "--lang", "en", "--format", fmt)
        for part in ("Summary", "Totals by kind", "Opportunities, ranked by value", "Verdicts",
                     "Each policy explained", "Sources", "policy-set version", "2026-11-24",
                     "¥2,600,000", "国科发火〔2016〕32号", "verified", "illustrative (not law)"):  # fmt: skip
            assert part in out, (fmt, part)
    page = ok("check", JINZHONG, *AS_OF, "--lang", "zh", "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "<script" not in page and "<link" not in page and "src=" not in page  # self-contained
    assert "可争取的政策（按价值排序）" in page
    # a hostile name is text, never markup
    hostile = tmp_path / "p.yaml"
    hostile.write_text('name: "<script>alert(1)</script>\\u001b"\nzone: taiyuan\n', encoding="utf-8")
    page = ok("check", str(hostile), *AS_OF, "--format", "html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_errors_follow_lang() -> None:
    def error(*args: str, stdin: str | None = None) -> str:
        result = CliRunner().invoke(main, list(args), input=stdin)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        return result.output

    profile = "employees: -3\ntech_staf: 4\ncredit_code: 91140171MA0K000234\n"
    zh = error("check", "-", "--lang", "zh", stdin=profile)
    assert "<stdin>: 3 个字段无效" in zh and "<stdin>:2 tech_staf: 未知字段（画像中没有此字段）；是否应为 tech_staff？" in zh
    assert "第17位应为 '1'（即 91140171MA0K000214）" in zh and "<stdin>:1 employees: 应大于或等于 0" in zh
    en = error("check", "-", "--lang", "en", stdin=profile)
    assert "3 invalid field(s)" in en and "did you mean tech_staff?" in en
    assert "未知园区 'atlantis'" in error("check", JINZHONG, "--zone", "atlantis", "--lang", "zh")
    assert "此政策集中没有 id 为" in error("explain", JINZHONG, "national.hnte.certificaton", "--lang", "zh")
    assert "政策目录" in error("check", JINZHONG, "--policies", "/nonexistent/dir", "--lang", "zh")


def test_a_credit_code_of_another_zone_points_at_the_fix(tmp_path: Path) -> None:
    # registered by the 综改区 (140171) but stated in Taiyuan: its policies are hidden
    profile = tmp_path / "p.yaml"
    profile.write_text("credit_code: 91140171MA0K000214\nzone: taiyuan\n", encoding="utf-8")
    out = " ".join(ok("check", str(profile), *AS_OF, "--lang", "en").split())
    assert "hint: the credit code was registered under 140171, the region of Shanxi Transformation" in out
    # the parks of the 综改区 that lie in Taiyuan, by name
    assert "set zone: zgq (or, here, one of its parks: zgq-xuefu, zgq-tanghuai)" in out
    profile.write_text("credit_code: 91140171MA0K000214\nzone: jinzhong\n", encoding="utf-8")
    out = " ".join(ok("check", str(profile), *AS_OF, "--lang", "en").split())
    assert "set zone: zgq (or, here, one of its parks: jinzhong-dz)" in out
    assert "hint:" not in ok("check", JINZHONG, *AS_OF, "--lang", "en")  # its zone is in zgq
