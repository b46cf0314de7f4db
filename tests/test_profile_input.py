"""Profiles from YAML and JSON: exact money, every invalid field listed with its line, extra
facts checked against the policy set's catalogue, hostile numbers refused."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import AS_OF, HNTE_BASE, build, write_policy

from incentives.engine import (
    PolicySet,
    ProfileError,
    load_profile,
    parse_profile,
)
from incentives.engine.model.units import UnitError, parse_quantity, shift_date

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_yaml_and_json_give_the_same_profile(tmp_path: Path) -> None:
    yaml_text = """\
        credit_code: 91140223MA0K00013X
        zone: guangling-etdz
        registration_date: 2018-06-01
        employees: 120
        financials:
          2025: {revenue: 1.5亿元, taxable_income: 0.1, rd_expense: 1234567.89}
        facts: {hnte_innovation_score: 72.5}
        """
    data = {
        "credit_code": "91140223MA0K00013X",
        "zone": "guangling-etdz",
        "registration_date": "2018-06-01",
        "employees": 120,
        "financials": {
            "2025": {"revenue": "1.5亿元", "taxable_income": 0.1, "rd_expense": 1234567.89}
        },
        "facts": {"hnte_innovation_score": 72.5},
    }
    from_yaml = load_profile(write_policy(tmp_path, "p.yaml", yaml_text))
    (tmp_path / "p.json").write_text(json.dumps(data), encoding="utf-8")
    from_json = load_profile(tmp_path / "p.json")
    assert from_yaml == from_json
    year = from_json.financials[2025]  # type: ignore[index]
    assert year.revenue == Decimal("150000000")
    assert year.taxable_income == Decimal("0.1")  # exact, never a float
    assert year.rd_expense == Decimal("1234567.89")
    assert from_yaml.registration_date == date(2018, 6, 1)


@pytest.mark.parametrize("name", ["jinzhong-hightech.yaml", "guangling-recycled-aluminium.yaml",
                                  "taiyuan-software-smallfirm.json"])  # fmt: skip
def test_examples_load_and_are_marked_synthetic(policies: PolicySet, name: str) -> None:
    profile = load_profile(EXAMPLES / name)
    assert profile.synthetic
    report = policies.evaluate(profile, AS_OF)
    assert report.profile.synthetic and len(report.results) == len(policies)


def test_every_invalid_field_is_listed_with_its_line(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        "bad.yaml",
        """\
        credit_code: 91140223MA0K000130
        name: 坏数据
        employees: -3
        registration_date: someday
        financials:
          2025:
            revenue: 20万美元
            rd_expense: 5%
          1800: {revenue: 1}
        certifications:
          - {kind: hnte, issued: 2024-01-01, expires: 2023-01-01}
        intellectual_property:
          - {kind: invention_patent, count: 0}
        colour: blue
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    problems = {p.field: p for p in info.value.problems}
    expected_lines = {
        "credit_code": 1,
        "employees": 3,
        "registration_date": 4,
        "financials.2025.revenue": 7,
        "financials.2025.rd_expense": 8,
        "financials.1800.[key]": 9,
        "certifications.0.expires": 11,
        "intellectual_property.0.count": 13,
        "colour": 14,
    }
    assert set(problems) == set(expected_lines)
    assert {field: p.line for field, p in problems.items()} == expected_lines
    assert all(p.file == str(path) for p in problems.values())
    assert "check character" in problems["credit_code"].message
    assert "1949" in problems["financials.1800.[key]"].message
    assert "unknown field" in problems["colour"].message
    assert "9 invalid field(s)" in info.value.summary


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{\n  "employees": 10,\n  "name": }\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"p\.json:3: invalid JSON"):
        load_profile(path)


def test_json_profile_lists_every_invalid_field(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"employees": "many", "tech_staff": True, "zone": 7, "financials": {"x": {}}}),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    fields = {p.field for p in info.value.problems}
    assert {"employees", "tech_staff", "zone"} <= fields
    assert any(f is not None and f.startswith("financials") for f in fields)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("a: [unclosed\n", "invalid YAML"),
        ("employees: .nan\n", "usable number"),
    ],
)
def test_unreadable_profiles(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ProfileError, match=fragment):
        load_profile(write_policy(tmp_path, "p.yaml", text))


def test_missing_file() -> None:
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile("/nonexistent/profile.yaml")


@pytest.mark.parametrize("raw", ["1e999999999", "-1e999999999", "1e-999999999"])
def test_hostile_numbers_are_refused(tmp_path: Path, raw: str) -> None:
    # JSON numbers become Decimals exactly; absurd magnitudes would overflow Decimal arithmetic.
    path = tmp_path / "p.json"
    path.write_text(f'{{"employees": {raw}, "financials": {{"2025": {{"revenue": {raw}}}}}}}')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert {p.field for p in info.value.problems} == {"employees", "financials.2025.revenue"}


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_json_that_is_not_numbers_is_refused_whole(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(f'{{"employees": {raw}}}')
    with pytest.raises(ProfileError, match="not a usable number"):
        load_profile(path)


def test_quantity_limits() -> None:
    assert parse_quantity("99999999亿元").value == Decimal("9999999900000000")
    with pytest.raises(UnitError):
        parse_quantity("10000000000亿元")  # 10^18 yuan
    with pytest.raises(UnitError):
        parse_quantity(Decimal("NaN"))
    assert parse_quantity(Decimal("0E-30")).value == 0


def test_shift_date_stops_at_the_calendar_edges() -> None:
    from incentives.engine.model.units import Unit

    assert shift_date(date(2026, 1, 1), -99999, Unit.YEAR) == date.min
    assert shift_date(date(9999, 12, 31), 1, Unit.DAY) == date.max
    assert shift_date(date(9999, 6, 1), 7, Unit.MONTH) == date.max


def test_undeclared_extra_facts_are_refused(policies: PolicySet) -> None:
    profile = build(HNTE_BASE, facts__made_up=True, facts__hnte_key_field="yes")
    with pytest.raises(ProfileError) as info:
        policies.evaluate(profile, AS_OF)
    messages = [str(p) for p in info.value.problems]
    assert any("facts.made_up" in m and "not declared" in m for m in messages)
    assert any("facts.hnte_key_field" in m and "true or false" in m for m in messages)


def test_unknown_profile_zone_is_refused(policies: PolicySet) -> None:
    with pytest.raises(ProfileError) as info:
        policies.evaluate(parse_profile({"zone": "atlantis"}), AS_OF)
    assert info.value.problems[0].field == "zone"
    with pytest.raises(ProfileError):
        policies.evaluate(parse_profile({}), AS_OF, zone="atlantis")


def test_extra_facts_declared_by_a_document_are_accepted(tmp_path: Path) -> None:
    write_policy(
        tmp_path,
        "local.yaml",
        """\
        id: test.local
        title: 本地
        title_en: local
        issuer: 测试
        provenance: illustrative
        zones: [national]
        facts:
          - {id: park_tenant, type: bool, profile_fact: park_tenant, zh: 入驻园区, en: park tenant}
        policies:
          - id: test.local.rent
            title: 租金
            title_en: rent
            when: {fact: park_tenant, eq: true}
            benefit: {service: true, zh: 减免, en: relief}
        """,
    )
    policy_set = PolicySet(tmp_path)
    report = policy_set.evaluate(parse_profile({"facts": {"park_tenant": True}}), AS_OF)
    assert report.results[0].status.value == "eligible"
    with pytest.raises(ProfileError):  # the bundled set does not declare it
        PolicySet().evaluate(parse_profile({"facts": {"park_tenant": True}}), AS_OF)


def test_absent_is_unknown_not_zero(policies: PolicySet) -> None:
    report = policies.evaluate(parse_profile({}), AS_OF)
    assert {r.status.value for r in report.results} <= {"undetermined", "not_in_force"}
    assert report.total == 0


def test_profiles_are_immutable() -> None:
    profile = parse_profile({"employees": 5})
    with pytest.raises(ValueError):
        profile.employees = Decimal(6)  # type: ignore[misc]
