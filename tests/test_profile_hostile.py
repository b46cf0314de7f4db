"""Profiles as a hostile or careless user writes them: empty files, wrong shapes, encodings,
duplicate keys, dates and numbers written as spreadsheets write them, values that cannot be
true (refused) or are probably mistakes (flagged), facts and zones the policy set does not
know. Each is answered with the file, the line and the field."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import AS_OF, HNTE_BASE, write_policy

from incentives.engine import PolicyError, PolicySet, ProfileError, load_profile, parse_profile
from incentives.engine.model.plausibility import profile_warnings
from incentives.engine.model.units import UnitError, parse_date, parse_quantity


def _refused(tmp_path: Path, name: str, text: str | bytes, **kwargs: str) -> ProfileError:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path, **kwargs)
    return info.value


def _problems(error: ProfileError) -> dict[str | None, tuple[int | None, str]]:
    return {p.field: (p.line, p.message) for p in error.problems}


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("p.yaml", "", "the profile is empty"),
        ("p.yaml", "# only a comment\n\n", "the profile is empty"),
        ("p.json", "", "the profile is empty"),
        ("p.json", "  \n", "the profile is empty"),
        ("p.json", "null", "the profile is empty"),
        ("p.yaml", "- name: x\n", "must be a mapping of fields (name: value), got a list"),
        ("p.json", "[1, 2]", "got a list"),
        ("p.yaml", "hello\n", "got a text"),
        ("p.json", "42", "got a number"),
    ],
)
def test_empty_and_misshapen_files(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    error = _refused(tmp_path, name, text)
    assert fragment in str(error) and name in str(error)
    assert "NoneType" not in str(error)


def test_a_directory_is_not_a_profile(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").mkdir()
    with pytest.raises(ProfileError, match="is a directory"):
        load_profile(tmp_path / "p.yaml")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_byte_order_mark_is_accepted_in_every_format(tmp_path: Path, suffix: str) -> None:
    text = '{"name": "测试", "employees": 5}'
    for encoded in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        path = tmp_path / f"p{suffix}"
        path.write_bytes(encoded)
        profile = load_profile(path)
        assert (profile.name, profile.employees) == ("测试", 5)


def test_a_gbk_file_is_named_and_read_with_encoding(tmp_path: Path) -> None:
    raw = "name: 测试企业\nemployees: 50\n".encode("gbk")
    error = _refused(tmp_path, "gbk.yaml", raw)
    assert "gbk.yaml:1" in str(error) and "--encoding gb18030" in str(error)
    assert load_profile(tmp_path / "gbk.yaml", encoding="gb18030").name == "测试企业"
    json_path = tmp_path / "gbk.json"
    json_path.write_bytes('{"name": "测试企业"}'.encode("gbk"))
    assert load_profile(json_path, encoding="gbk").name == "测试企业"


def test_json_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    error = _refused(tmp_path, "p.json", '{\n  "employees": 50,\n  "name": "x",\n  "employees": 500\n}')
    assert "p.json:4" in str(error) and "lines 2 and 4" in str(error)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_is_refused_with_its_line(tmp_path: Path, raw: str) -> None:
    error = _refused(tmp_path, "p.json", f'{{"facts": {{"hnte_innovation_score": {raw}}}}}')
    assert "not a usable number" in str(error)
    assert "union" not in str(error).lower() and str(error).count("\n") <= 1


def test_deep_json_is_refused(tmp_path: Path) -> None:
    error = _refused(tmp_path, "p.json", '{"facts": ' + "[" * 5000 + "]" * 5000 + "}")
    assert "nested deeper" in str(error)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("registration_date: 2026-02-30", "not a real date: February 2026 has 28 days"),
        ("registration_date: 2026-13-01", "there is no month 13"),
        ("registration_date: 2019/5/10", "write it as 2019-05-10"),
        ("registration_date: 2019年5月10日", "write it as 2019-05-10"),
        ("registration_date: 10/5/2019", "ambiguous"),
        ("registration_date: 20190510", "expected a date written YYYY-MM-DD"),
        ("registration_date: 1557446400", "expected a date written YYYY-MM-DD"),
        ("employees: 1,2000", "do not group digits in threes"),
        ("employees: 2026-02-03", "is a date; a number with a unit is expected"),
        ("financials: {2025: {revenue: '1,2000万元'}}", "'12000万元' if that is what it means"),
        ("facts: {hnte_innovation_score: 2026-02-30}", "not a real date"),
        ("facts: {hnte_innovation_score: {a: 1}}", "expected true/false, a number"),
        ("facts: {hnte_innovation_score: [1, 2]}", "a list with non-text items"),
        ("certifications: [{kind: hnte, issued: 2019/1/1}]", "write it as 2019-01-01"),
    ],
)
def test_clear_messages_for_values(tmp_path: Path, line: str, fragment: str) -> None:
    error = _refused(tmp_path, "p.yaml", f"name: x\n{line}\n")
    assert len(error.problems) == 1, error
    problem = error.problems[0]
    assert fragment in problem.message
    assert problem.line == 2 and problem.file == str(tmp_path / "p.yaml")
    assert "unknown unit" not in problem.message


def test_parse_date_reads_only_iso_dates() -> None:
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert parse_date(date(2020, 1, 1)) == date(2020, 1, 1)
    for raw in ("2023-02-29", "2024-2-9", "2024-W01-1", "20240101", 20240101, 1.5, None):
        with pytest.raises(UnitError):
            parse_date(raw)


def test_a_date_threshold_that_is_not_a_date_is_worded_as_one(tmp_path: Path) -> None:
    write_policy(tmp_path, "d.yaml", """\
        id: d
        title: 日期
        title_en: dates
        issuer: 测试
        provenance: illustrative
        zones: [taiyuan]
        policies:
          - id: d.award
            title: 奖励
            title_en: award
            when: {fact: registration_date, le: 2026-02-30}
            benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}
        """)  # fmt: skip
    with pytest.raises(PolicyError) as info:
        PolicySet(tmp_path)
    assert "February 2026 has 28 days" in str(info.value) and "d.yaml:11" in str(info.value)
    assert "unknown unit" not in str(info.value)
    with pytest.raises(UnitError, match="not a real date"):
        parse_quantity("2026-02-30")


def test_a_misspelt_field_gets_a_suggestion_with_its_line(tmp_path: Path) -> None:
    error = _refused(
        tmp_path, "p.yaml",
        "name: x\ntech_staf: 3\nfinancials:\n  2025: {revnue: 1}\ncertifications:\n"
        "  - {kind: hnte, issued: 2020-01-01, expire: 2023-01-01}\n",
    )  # fmt: skip
    problems = _problems(error)
    assert problems["tech_staf"] == (2, problems["tech_staf"][1])
    assert "did you mean tech_staff" in problems["tech_staf"][1]
    assert "did you mean revenue" in problems["financials.2025.revnue"][1]
    assert problems["certifications.0.expire"][0] == 6
    assert "did you mean expires?" in problems["certifications.0.expire"][1]


def test_unknown_zone_and_undeclared_fact_name_file_and_line(
    tmp_path: Path, policies: PolicySet
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nzone: atlantis\nfacts:\n  hnte_innovation_score: 70\n  bogus: 1\n")
    with pytest.raises(ProfileError) as info:
        policies.evaluate(load_profile(path), AS_OF)
    problems = {p.field: p for p in info.value.problems}
    assert (problems["zone"].file, problems["zone"].line) == (str(path), 2)
    assert problems["facts.bogus"].line == 5 and "not declared" in problems["facts.bogus"].message
    assert f"{path}:5 facts.bogus:" in str(info.value)


def test_json_profiles_have_lines_too(tmp_path: Path) -> None:
    error = _refused(tmp_path, "p.json", json.dumps({"name": "x", "employees": "many"}, indent=2))
    assert _problems(error)["employees"][0] == 3


IMPOSSIBLE = [
    ({"employees": 10, "tech_staff": 11}, "tech_staff", "科技人员 are counted among 职工"),
    ({"employees": -1}, "employees", "greater than or equal to 0"),
    ({"financials": {2025: {"rd_expense": 10, "rd_expense_domestic": 11}}},
     "financials.2025.rd_expense_domestic", "part of 研究开发费用总额"),
    ({"financials": {2025: {"rd_expense": 10, "rd_expensed": 11}}},
     "financials.2025.rd_expensed", "part of the year's 研究开发费用总额"),
    ({"financials": {2025: {"rd_expense": 10, "rd_expensed": 6, "rd_capitalised": 5}}},
     "financials.2025", "rd_expensed 6 + rd_capitalised 5 is more than rd_expense (10)"),
    ({"financials": {2022: {"rd_expensed": 10, "rd_expensed_q4": 11}}},
     "financials.2022.rd_expensed_q4", "the fourth quarter's expensed R&D is part of the year's"),
    ({"workforce": -1}, "workforce", "greater than or equal to 0"),
    ({"financials": {2025: {"revenue": 10, "main_business_revenue": 11}}},
     "financials.2025.main_business_revenue", "part of 销售收入"),
    ({"financials": {2025: {"revenue": -1}}}, "financials.2025.revenue", "greater than or equal"),
    ({"financials": {2300: {"revenue": 1}}}, "financials.2300.[key]", "less than or equal to 2200"),
    ({"certifications": [{"kind": "hnte", "issued": "2024-01-01", "expires": "2023-12-31"}]},
     "certifications.0.expires", "before issued"),
    ({"projects": [{"name": "p", "investment": "100万元", "equipment_investment": "101万元"}]},
     "projects.0.equipment_investment", "part of the project's investment"),
    ({"intellectual_property": [{"kind": "invention_patent", "count": -2}]},
     "intellectual_property.0.count", "greater than or equal to 1"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "fragment"), IMPOSSIBLE)
def test_impossible_profiles_are_refused(data: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    problems = {p.field: p.message for p in info.value.problems}
    assert field in problems and fragment in problems[field], problems


def test_a_part_equal_to_its_whole_is_possible() -> None:
    profile = parse_profile(
        {"employees": 10, "tech_staff": 10,
         "financials": {2025: {"revenue": 5, "total_income": 5, "main_business_revenue": 5,
                               "rd_expense": 9, "rd_expensed": 6, "rd_capitalised": 3}}}
    )  # fmt: skip
    assert profile.tech_staff == profile.employees


def test_workforce_and_employees_are_different_counts() -> None:
    """从业人数 (dispatched workers included) may be above or below 职工总数 (part-time staff
    included): neither bounds the other."""
    for employees, workforce in ((10, 12), (12, 10)):
        profile = parse_profile({"employees": employees, "workforce": workforce})
        assert (profile.employees, profile.workforce) == (employees, workforce)


IMPLAUSIBLE = [
    ({"registration_date": "2027-01-01"}, "registration_date", "did not exist yet"),
    ({"certifications": [{"kind": "hnte", "issued": "2026-12-01"}]},
     "certifications.0.issued", "after the evaluation date"),
    ({"intellectual_property": [{"kind": "invention_patent", "granted": "2026-12-01"}]},
     "intellectual_property.0.granted", "after the evaluation date"),
    ({"compliance": {"records": [{"occurred": "2026-12-01", "kind": "safety_accident",
                                  "severity": "major"}]}},
     "compliance.records.0.occurred", "after the evaluation date"),
    ({"financials": {2026: {"revenue": 1}}}, "financials.2026", "has not ended"),
    ({"financials": {2031: {"revenue": 1}}}, "financials.2031", "has not ended"),
    ({"registration_date": "2020-05-01", "financials": {2019: {"revenue": 1}}},
     "financials.2019", "before the enterprise was registered"),
    ({"financials": {2025: {"revenue": "10万元", "rd_expense": "101万元"}}},
     "financials.2025.rd_expense", "more than 10 times revenue"),
    ({"financials": {2025: {"revenue": 10, "total_income": 9}}},
     "financials.2025.revenue", "收入总额 includes 销售收入"),
    ({"financials": {2025: {"total_income": 10, "high_tech_revenue": 11}}},
     "financials.2025.high_tech_revenue", "includes 高新技术产品(服务)收入"),
    ({"financials": {2025: {"rd_expense": 11, "total_cost": 10}}},
     "financials.2025.rd_expense", "more than total costs"),
    ({"financials": {2025: {"total_assets": 10, "total_liabilities": 4, "net_assets": 5}}},
     "financials.2025.net_assets", "differ from total assets minus total liabilities"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "fragment"), IMPLAUSIBLE)
def test_implausible_profiles_are_flagged(data: dict[str, object], field: str, fragment: str) -> None:
    warnings = profile_warnings(parse_profile(data), AS_OF)
    assert [w.field for w in warnings] == [field]
    assert fragment in warnings[0].message


def test_a_plausible_profile_has_no_warnings(policies: PolicySet) -> None:
    profile = parse_profile(HNTE_BASE)
    assert profile_warnings(profile, AS_OF) == []
    examples = Path(__file__).resolve().parent.parent / "examples"
    for path in sorted(examples.glob("*.*")):
        assert profile_warnings(load_profile(path), AS_OF) == [], path


def test_warnings_of_a_file_have_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nfinancials:\n  2025:\n    revenue: 1元\n    rd_expense: 11元\n")
    (warning,) = profile_warnings(load_profile(path), AS_OF)
    assert (warning.file, warning.line) == (str(path), 5)


def test_loaded_and_parsed_profiles_are_equal(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nemployees: 5\n")
    loaded = load_profile(path)
    assert loaded == parse_profile({"name": "x", "employees": 5})
    assert loaded.source is not None and loaded.model_copy(update={"zone": "taiyuan"}).source
    assert loaded.employees == Decimal(5)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("1200万", "write '1200万元'"), ("1.5亿", "write '1.5亿元'"), ("1e3", "exponents are not read"),
     ("20万美元", "unknown unit '万美元'")],
)  # fmt: skip
def test_unit_messages_suggest_only_what_keeps_the_meaning(raw: str, fragment: str) -> None:
    with pytest.raises(UnitError) as info:
        parse_quantity(raw)
    assert fragment in str(info.value)
    assert "20万元" not in str(info.value)


def test_screen_refuses_the_same_impossible_rows(tmp_path: Path) -> None:
    """The batch back end reads a register column by column; a part above its whole spans two
    columns, and is a bad row there too, with the same message."""
    pytest.importorskip("polars")
    from click.testing import CliRunner

    from incentives.cli.main import main

    register = tmp_path / "register.csv"
    register.write_text(
        "employees,tech_staff,financials.2025.rd_expense,financials.2025.rd_expense_domestic,"
        "financials.2025.rd_expensed,financials.2025.rd_capitalised\n"
        "10,5,,,,\n5,10,,,,\n10,5,100,200,,\n10,10,200,200,150,50\n10,10,200,200,150,60\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["screen", str(register), "--as-of", "2026-11-24", "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "bad row 3: tech_staff: 10 is more than employees (5)" in result.output
    assert "bad row 4: financials.2025.rd_expense_domestic: 200 is more than rd_expense" in result.output
    assert ("bad row 6: financials.2025: rd_expensed 150 + rd_capitalised 60 is more than "
            "rd_expense (200)") in " ".join(result.output.split())  # fmt: skip
    assert "2 enterprises screened, 3 bad rows" in " ".join(result.output.split())


def test_codes_written_as_numbers_are_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("industry_code: 4210\ncredit_code: 911401001234567887\n", encoding="utf-8")
    profile = load_profile(path)
    assert (profile.industry_code, profile.credit_code) == ("C4210", "911401001234567887")
    error = _refused(tmp_path, "q.yaml", "industry_code: 0111\n")
    assert "octal" in str(error) and "quote it" in str(error)


@pytest.mark.parametrize(
    ("effective", "fragment"),
    [("{from: 1545350400}", "expected a date written YYYY-MM-DD"),  # seconds since 1970
     ("{from: 2018-02-30}", "February 2018 has 28 days"),
     ("{until: '2026/3/31'}", "write it as 2026-03-31")],
)  # fmt: skip
def test_dates_of_a_policy_document_follow_the_same_rules(
    tmp_path: Path, effective: str, fragment: str
) -> None:
    write_policy(tmp_path, "d.yaml", f"""\
        id: d
        title: 日期
        title_en: dates
        issuer: 测试
        provenance: illustrative
        zones: [taiyuan]
        effective: {effective}
        policies:
          - id: d.award
            title: 奖励
            title_en: award
            when: {{fact: employees, ge: 10}}
            benefit: {{grant: {{amount: 10万元}}, zh: 奖励, en: award}}
        """)  # fmt: skip
    with pytest.raises(PolicyError) as info:
        PolicySet(tmp_path)
    (problem,) = info.value.problems
    assert fragment in problem.message and problem.line == 7


def test_a_case_date_follows_the_same_rules(tmp_path: Path) -> None:
    from incentives.engine.check.cases import run_cases
    from incentives.engine.errors import InputError

    (tmp_path / "x.cases.yaml").write_text(
        "defaults: {as_of: 2026-02-30}\n"
        "cases: [{name: n, policy: p, expect: {status: eligible}}]\n"
    )
    with pytest.raises(InputError) as info:
        run_cases(PolicySet(), tmp_path)
    (problem,) = info.value.problems
    assert problem.message == "'2026-02-30' is not a real date: February 2026 has 28 days"
