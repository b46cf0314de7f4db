"""A malformed policy set is refused as a whole, each problem naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_policy

from incentives.engine import PolicyError, PolicySet
from incentives.engine.errors import Problem

GOOD = """\
id: test.good
title: 正确
title_en: good
issuer: 测试
provenance: illustrative
zones: [national]
policies:
  - id: test.good.award
    title: 奖励
    title_en: award
    when: {fact: employees, ge: 10}
    benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}
"""


def refuse(directory: Path) -> list[Problem]:
    with pytest.raises(PolicyError) as info:
        PolicySet(directory)
    assert "nothing was loaded" in info.value.summary or not info.value.problems
    return info.value.problems


def broken(tmp_path: Path, text: str, name: str = "bad.yaml") -> list[Problem]:
    """Write a good document and a bad one; the whole set must be refused."""
    write_policy(tmp_path, "good.yaml", GOOD)
    write_policy(tmp_path, name, text)
    problems = refuse(tmp_path)
    assert problems, "a refused set must say why"
    assert all(p.file is not None and "good.yaml" not in p.file for p in problems)
    return problems


def document(policy_lines: str, header_extra: str = "") -> str:
    return (
        "id: test.bad\ntitle: 错误\ntitle_en: bad\nissuer: 测试\nprovenance: illustrative\n"
        f"zones: [national]\n{header_extra}policies:\n  - id: test.bad.one\n    title: 一\n"
        "    title_en: one\n" + policy_lines
    )


AWARD = "    benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}\n"


def test_good_set_loads(tmp_path: Path) -> None:
    write_policy(tmp_path, "good.yaml", GOOD)
    assert [p.id for p in PolicySet(tmp_path).policies] == ["test.good.award"]


def test_unknown_fact_names_file_line_field(tmp_path: Path) -> None:
    problems = broken(tmp_path, document("    when:\n      fact: revenu\n      ge: 1万元\n" + AWARD))
    (problem,) = problems
    assert problem.file is not None and problem.file.endswith("bad.yaml")
    assert problem.line == 12
    assert problem.field == "policies.0.when.fact"
    assert "unknown fact 'revenu'" in problem.message and "revenue" in problem.message


def test_unit_mismatch(tmp_path: Path) -> None:
    problems = broken(tmp_path, document("    when: {fact: revenue, ge: 10%}\n" + AWARD))
    (problem,) = problems
    assert "unit mismatch" in problem.message
    assert problem.field == "policies.0.when.ge" and problem.line == 11


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("{fact: tech_staff_share, ge: 10}", "unit mismatch"),  # a ratio needs a percentage
        ("{fact: employees, ge: 10万元}", "unit mismatch"),
        ("{fact: resident_enterprise, ge: true}", "does not apply"),
        ("{fact: resident_enterprise, eq: 1}", "true or false"),
        ("{fact: registration_date, le: 10万元}", "years, months or days"),
        ("{fact: revenue, between: [2亿元, 1亿元]}", "above upper bound"),
        ("{fact: revenue}", "exactly one operator"),
        ("{fact: revenue, ge: 1万元, le: 2万元}", "exactly one operator"),
        ("{all: []}", "at least 1"),
        ("[1, 2]", "a condition is a mapping"),
    ],
)
def test_meaning_errors_are_refused(tmp_path: Path, when: str, fragment: str) -> None:
    problems = broken(tmp_path, document(f"    when: {when}\n" + AWARD))
    assert any(fragment in p.message for p in problems), problems
    assert all(p.line is not None and p.field is not None for p in problems)


@pytest.mark.parametrize(
    ("benefit", "fragment"),
    [
        ("{grant: {amount: 10%}, zh: a, en: a}", "unit mismatch"),
        ("{rate_of: {base: employees, rate: 10%}, zh: a, en: a}", "unit mismatch"),
        ("{rate_of: {base: revenue, rate: 10万元}, zh: a, en: a}", "unit mismatch"),
        ("{per_unit: {quantity: revenue, rate: 500元/吨}, zh: a, en: a}", "unit mismatch"),
        ("{tax_rate: {base: taxable_income, rate: 30%}, zh: a, en: a}", "above the standard"),
        ("{grant: {amount: 1万元}, service: true, zh: a, en: a}", "exactly one kind"),
        ("{service: true, cap: 1万元, zh: a, en: a}", "cannot have a cap"),
        ("{grant: {amount: -1万元}, zh: a, en: a}", "cannot be negative"),
    ],
)
def test_benefit_errors_are_refused(tmp_path: Path, benefit: str, fragment: str) -> None:
    problems = broken(tmp_path, document(f"    benefit: {benefit}\n"))
    assert any(fragment in p.message for p in problems), problems
    assert all(p.field is not None and p.field.startswith("policies.0") for p in problems)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write_policy(tmp_path, "a.yaml", GOOD)
    (tmp_path / "sub").mkdir()
    write_policy(tmp_path / "sub", "b.yaml", GOOD.replace("id: test.good\n", "id: test.other\n"))
    problems = refuse(tmp_path)
    (problem,) = problems
    assert "duplicate policy id 'test.good.award'" in problem.message
    assert problem.file is not None and problem.file.endswith("b.yaml")
    assert "a.yaml" in problem.message
    assert problem.line == 8 and problem.field == "policies.0.id"


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("document", document(AWARD, "effective: {from: 2025-01-01, until: 2024-12-31}\n")),
        (
            "policy",
            document("    effective: {from: 2025-01-01, until: 2024-12-31}\n" + AWARD),
        ),
        (
            "policy against document",
            document(
                "    effective: {from: 2026-01-01}\n" + AWARD, "effective: {until: 2025-12-31}\n"
            ),
        ),
    ],
)
def test_effective_dates_out_of_order(tmp_path: Path, where: str, text: str) -> None:
    problems = broken(tmp_path, text)
    assert any("before it starts" in p.message for p in problems), (where, problems)
    assert all(p.line is not None for p in problems)


def test_unknown_zone(tmp_path: Path) -> None:
    problems = broken(tmp_path, document(AWARD).replace("zones: [national]", "zones: [atlantis]"))
    assert any("unknown zone 'atlantis'" in p.message for p in problems)


def test_bad_yaml_syntax_gives_the_line(tmp_path: Path) -> None:
    text = document(AWARD) + "  - id: [unclosed\n    title: x\n"
    (problem,) = broken(tmp_path, text)
    assert "invalid YAML" in problem.message
    assert problem.line is not None and problem.line >= 13


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- just\n- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("id: x\n", "required field is missing"),
        (document(AWARD + "    colour: blue\n"), "unknown field"),
        (document(AWARD).replace("provenance: illustrative", "provenance: rumour"), "verified"),
        (document(AWARD).replace("id: test.bad.one", "id: Not An Id"), "pattern"),
        (document(AWARD) + "  - id: test.bad.two\n", "required field is missing"),
        ("id: x\ny: !!python/object:os.system ls\n", "invalid YAML"),
        ("a: .inf\n", "usable number"),
    ],
)
def test_structure_errors(tmp_path: Path, text: str, fragment: str) -> None:
    problems = broken(tmp_path, text)
    assert any(fragment in p.message for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write_policy(tmp_path, "one.yaml", document("    when: {fact: nope, ge: 1}\n" + AWARD))
    write_policy(
        tmp_path,
        "two.yaml",
        document(AWARD).replace("test.bad", "test.worse").replace("[national]", "[nowhere]"),
    )
    write_policy(tmp_path, "three.yaml", "policies: [\n")
    problems = refuse(tmp_path)
    files = {Path(p.file or "").name for p in problems}
    assert files == {"one.yaml", "two.yaml", "three.yaml"}


def test_fact_declared_twice(tmp_path: Path) -> None:
    fact = "facts:\n  - {id: revenue, type: quantity, unit: yuan, field: employees, zh: a, en: a}\n"
    problems = broken(tmp_path, document(AWARD, fact))
    assert any("already declared" in p.message for p in problems)


def test_document_facts_extend_the_catalogue(tmp_path: Path) -> None:
    fact = (
        "facts:\n  - {id: output_per_staff, type: quantity, unit: yuan,"
        " ratio: [output_value, employees], zh: 人均产值, en: output per employee}\n"
        "  - {id: local_flag, type: bool, profile_fact: local_flag, zh: 本地, en: local}\n"
    )
    write_policy(
        tmp_path, "doc.yaml", document("    when: {fact: local_flag, eq: true}\n" + AWARD, fact)
    )
    policy_set = PolicySet(tmp_path)
    assert "output_per_staff" in policy_set.facts and "local_flag" in policy_set.facts


def test_fact_cycle_is_refused(tmp_path: Path) -> None:
    fact = (
        "facts:\n  - {id: loop_a, type: quantity, unit: ratio, ratio: [loop_b, employees], zh: a, en: a}\n"
        "  - {id: loop_b, type: quantity, unit: ratio, ratio: [loop_a, employees], zh: b, en: b}\n"
    )
    problems = broken(tmp_path, document(AWARD, fact))
    assert any("cycle" in p.message for p in problems)


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        PolicySet(tmp_path / "absent")
    problems = refuse(tmp_path)
    assert any("no policy documents" in p.message for p in problems)


def test_cases_and_zone_files_are_not_documents(tmp_path: Path) -> None:
    write_policy(tmp_path, "good.yaml", GOOD)
    write_policy(tmp_path, "good.cases.yaml", "anything: [1, 2]\n")
    write_policy(
        tmp_path,
        "zones.yaml",
        "zones:\n  - {id: test-park, parent: jinzhong-dz, zh: 测试园, en: test park}\n",
    )
    policy_set = PolicySet(tmp_path)
    assert len(policy_set) == 1 and "test-park" in policy_set.zones


def test_bundled_library_loads(policies: PolicySet) -> None:
    ids = {p.id for p in policies.policies}
    assert {"national.hnte.certification", "national.hnte.tax-rate"} <= ids
    assert "national.small-low-profit.cit" in ids
