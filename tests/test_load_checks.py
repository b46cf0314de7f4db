"""Loading checks every name a fact declaration uses and every file of a policy directory.

Each refusal names file, line and field, with "did you mean" where a close name exists; before,
a misspelt certificate or record kind passed `validate` and made every enterprise silently
ineligible (or clean), and a `.yml` file or a broken link was skipped without a word.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import InlineSet, write_policy

from incentives.engine import PolicyError, PolicySet
from incentives.engine.errors import Problem

POLICY = """\
policies:
  - id: t.{name}.p
    title: 奖
    title_en: award
    benefit: {service: true, zh: 服务, en: service}
"""


def document(facts: str = "", policy: str = POLICY, name: str = "doc") -> str:
    header = (
        f"id: t.{name}\ntitle: t\ntitle_en: t\nissuer: t\nprovenance: illustrative\n"
        "zones: [national]\n"
    )
    return header + (f"facts:\n  - {facts}\n" if facts else "") + policy.replace("{name}", name)


def refused(inline_set: InlineSet, text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as info:
        inline_set(text)
    return info.value.problems


@pytest.mark.parametrize(
    ("fact", "field", "words"),
    [
        ("{id: x, type: bool, certified: {kind: hnet}, zh: x, en: x}",
         "facts.0.certified.kind", ["unknown certificate kind 'hnet'", "did you mean hnte"]),
        ("{id: x, type: quantity, unit: item, records: {kinds: [safety_acident], "
         "severities: [major], within: 1年}, zh: x, en: x}",
         "facts.0.records.kinds.0", ["unknown compliance-record kind 'safety_acident'",
                                     "did you mean safety_accident"]),
        ("{id: x, type: quantity, unit: item, records: {kinds: [tax_violation], "
         "severities: [majr], within: 1年}, zh: x, en: x}",
         "facts.0.records.severities.0", ["unknown severity 'majr'", "did you mean major"]),
        ("{id: x, type: quantity, unit: yuan, financial: revenu, zh: x, en: x}",
         "facts.0.financial", ["unknown financial line 'revenu'", "did you mean revenue"]),
        ("{id: x, type: quantity, unit: person, field: employes, zh: x, en: x}",
         "facts.0.field", ["unknown profile field 'employes'", "did you mean employees"]),
        ("{id: x, type: codes, field: certifications, zh: x, en: x}",
         "facts.0.field", ["is a list, not a single value", "certified"]),
        ("{id: x, type: quantity, unit: day, field: registration_date, zh: x, en: x}",
         "facts.0.type", ["declared quantity in day", "profile field 'registration_date' is a date"]),
        ("{id: x, type: quantity, unit: yuan, field: employees, zh: x, en: x}",
         "facts.0.unit", ["profile field 'employees' is a quantity in person"]),
        ("{id: x, type: quantity, unit: ratio, financial: revenue, zh: x, en: x}",
         "facts.0.unit", ["financial line 'revenue' is a quantity in yuan", "unit: yuan"]),
        ("{id: x, type: quantity, unit: person, ip_count: {classes: [I]}, zh: x, en: x}",
         "facts.0.unit", ["a count of intellectual property is a quantity in item"]),
        ("{id: x, type: quantity, unit: yuan, growth: {financial: revenue}, zh: x, en: x}",
         "facts.0.unit", ["a growth rate is a quantity in ratio"]),
        ("{id: x, type: code, certified: {kind: hnte}, zh: x, en: x}",
         "facts.0.type", ["whether a certificate is valid is a bool"]),
        ("{id: x, type: quantity, unit: ratio, ratio: [resident_enterprise, employees], zh: x, "
         "en: x}", "facts.0.ratio.0", ["divides 'resident_enterprise', which is a bool"]),
        ("{id: x, type: quantity, unit: yuan, ratio: [revenue, total_assets], zh: x, en: x}",
         "facts.0.unit", ["divides two quantities in yuan, which gives a ratio"]),
        ("{id: x, type: bool, certified: {kind: hnte, validity: 3天半}, zh: x, en: x}",
         "facts.0.certified.validity", ["unknown unit"]),
    ],
)  # fmt: skip
def test_a_fact_that_names_what_no_profile_holds_is_refused(
    inline_set: InlineSet, fact: str, field: str, words: list[str]
) -> None:
    problems = refused(inline_set, document(fact))
    (problem,) = [p for p in problems if p.field == field]
    assert all(word in problem.message for word in words), problem
    assert problem.file is not None and problem.file.endswith("doc.yaml") and problem.line == 8


def test_the_ratio_of_unlike_quantities_may_be_declared_in_any_unit(inline_set: InlineSet) -> None:
    fact = "{id: output_per_head, type: quantity, unit: yuan, ratio: [output_value, employees], zh: x, en: x}"  # fmt: skip
    assert "output_per_head" in inline_set(document(fact)).plan.facts


def test_a_policy_naming_a_refused_fact_adds_no_problem_of_its_own(inline_set: InlineSet) -> None:
    fact = "{id: cert, type: bool, certified: {kind: hnet}, zh: x, en: x}"
    policy = POLICY.replace("    benefit:", "    when: {fact: cert, eq: true}\n    benefit:")
    problems = refused(inline_set, document(fact, policy))
    assert [p.field for p in problems] == ["facts.0.certified.kind"]


# --- every file of a policy directory is read or reported --------------------------------------


def problems_of(directory: Path) -> dict[str, str]:
    with pytest.raises(PolicyError) as info:
        PolicySet(directory)
    return {Path(p.file or "").name: p.message for p in info.value.problems}


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("award.yml", "rename it to award.yaml"),
        ("award.YAML", "rename it to award.yaml"),
        ("award.Yaml", "rename it to award.yaml"),
        ("award.cases.yml", "rename it to award.cases.yaml"),
    ],
)
def test_a_yaml_file_under_another_extension_is_refused(
    tmp_path: Path, name: str, fix: str
) -> None:
    write_policy(tmp_path, "good.yaml", document())
    write_policy(tmp_path, name, document(name="other"))
    assert fix in problems_of(tmp_path)[name]


def test_broken_links_and_link_loops_are_refused(tmp_path: Path) -> None:
    write_policy(tmp_path, "good.yaml", document())
    os.symlink("gone.yaml", tmp_path / "dangling.yaml")
    os.symlink("itself.yaml", tmp_path / "itself.yaml")
    (tmp_path / "sub").mkdir()
    os.symlink("..", tmp_path / "sub" / "up")
    found = problems_of(tmp_path)
    assert "broken symbolic link: it points to gone.yaml" in found["dangling.yaml"]
    assert "symbolic link loop" in found["itself.yaml"]
    assert "leads back to a directory that contains it" in found["up"]


def test_links_are_followed_and_other_files_are_not_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    write_policy(shared, "award.yaml", document(name="shared"))
    root = tmp_path / "policies"
    write_policy(root, "own.yaml", document())
    os.symlink(shared, root / "linked")  # a directory linked in is read like any other
    os.symlink(shared / "award.yaml", root / "alias.yaml.bak")  # not a document
    write_policy(root, "README.md", "# notes\n")
    write_policy(root, ".git/config.yml", "not: read\n")  # hidden directories are left alone
    write_policy(root, "drafts/.draft.yaml", "[broken\n")  # and so are hidden files
    policy_set = PolicySet(root)
    assert [d.id for _, d in policy_set.documents] == ["t.shared", "t.doc"]
