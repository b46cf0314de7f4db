"""Static checks (`incentives validate`) on the broken corpus, on the bundled library and on
edge cases of each check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from incentives.cli.main import main
from incentives.engine.check.lint import lint
from incentives.engine.compile.loader import load
from incentives.engine.errors import PolicyError

BROKEN = Path(__file__).parent / "broken"
TODAY = date(2026, 11, 24)

# Each broken rule set, the finding it must produce (code, severity) and the line it names.
EXPECTED = {
    "tier-overlap": ("tier-overlap", "error", 18),
    "tier-gap": ("tier-gap", "error", 17),
    "contradiction": ("never-true", "error", 17),
    "unreachable": ("unreachable", "error", 9),
    "lonely-group": ("lonely-group", "warning", 16),
    "wrong-unit": ("unit", "error", 16),
    "expired": ("expired", "warning", 8),
    "cap-unused": ("cap-unused", "warning", 14),
}


def test_every_broken_rule_set_is_covered() -> None:
    on_disk = {p.name for p in BROKEN.iterdir() if p.is_dir()}
    assert on_disk == {*EXPECTED, "false-monotone"}  # false-monotone is `prop`'s (test_testing)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_flags_each_broken_rule_set(name: str) -> None:
    code, severity, line = EXPECTED[name]
    _, findings = lint(BROKEN / name, TODAY)
    hits = [f for f in findings if f.code == code]
    assert hits, findings
    assert hits[0].severity == severity
    assert hits[0].line == line
    assert hits[0].file is not None and hits[0].file.startswith(f"{name}/")
    assert hits[0].policy is not None and hits[0].policy.startswith("broken.")
    result = CliRunner().invoke(main, ["validate", str(BROKEN / name), "--as-of", "2026-11-24"])
    assert f"[{code}]" in result.output
    assert f"{hits[0].file}:{line}: {severity}: {hits[0].policy}:" in result.output
    assert result.exit_code == (1 if severity == "error" else 0)


def test_the_bundled_library_validates_clean() -> None:
    loaded, findings = lint(None, TODAY)
    assert [str(f) for f in findings] == []
    result = CliRunner().invoke(main, ["validate", "--as-of", "2026-11-24"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith(f"OK: {len(loaded.documents)} document(s)")


def test_an_expiry_is_relative_to_the_evaluation_date() -> None:
    _, before = lint(BROKEN / "expired", date(2020, 12, 31))
    _, after = lint(BROKEN / "expired", date(2021, 1, 1))
    assert [f.code for f in before] == []
    assert [f.code for f in after] == ["expired"]


def write(tmp_path: Path, policies: str) -> Path:
    (tmp_path / "doc.yaml").write_text(
        "id: t.doc\ntitle: t\ntitle_en: t\nissuer: t\nprovenance: illustrative\n"
        "zones: [national]\npolicies:\n" + policies,
        encoding="utf-8",
    )
    return tmp_path


BENEFIT = "    benefit: {grant: {amount: 1万元}, zh: 奖, en: award}\n"


def test_tier_boundaries_in_words(tmp_path: Path) -> None:
    messages = {
        "[{lt: 3, amount: 1元}, {ge: 4, amount: 2元}]": "exactly 3 persons is in no band",
        "[{lt: 3, amount: 1元}, {ge: 6, amount: 2元}]": "the values from 3 persons to 5 persons",
        "[{le: 2, amount: 1元}, {ge: 3, amount: 2元}]": None,  # no one is 2.5 persons
        # a higher band listed first takes its own lower bound: a cascade
        "[{ge: 3, amount: 2元}, {ge: 1, le: 3, amount: 1元}, {lt: 1, amount: 0元}]": None,
    }
    for bands, expected in messages.items():
        policy = (
            "  - id: t.doc.p\n    title: t\n    title_en: t\n"
            f"    benefit: {{tiers: {{by: employees, bands: {bands}}}, zh: 奖, en: award}}\n"
        )
        _, findings = lint(write(tmp_path, policy), TODAY)
        shown = [f.message for f in findings if f.code in ("tier-gap", "tier-overlap")]
        assert (expected is None and not shown) or (expected and expected in shown[0]), shown
    money = "[{lt: 10万元, amount: 1元}, {gt: 10万元, le: 20万元, amount: 2元}, {gt: 30万元, amount: 3元}]"
    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        f"    benefit: {{tiers: {{by: revenue, bands: {money}}}, zh: 奖, en: award}}\n"
    )
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert [f.message.split(": a gap: ")[1] for f in findings if f.code == "tier-gap"] == [
        "exactly ¥100,000 is in no band",
        "the values above ¥200,000 up to and including ¥300,000 are in no band",
    ]


@pytest.mark.parametrize(
    ("bands", "codes"),
    [
        ("[{lt: 10, amount: 1元}, {ge: 10, amount: 2元}]", []),  # half-open bands meet exactly
        ("[{le: 10, amount: 1元}, {gt: 10, amount: 2元}]", []),
        ("[{ge: 20, amount: 2元}, {lt: 20, amount: 1元}]", []),  # order in the file is free
        ("[{le: 10, amount: 1元}, {ge: 10, amount: 2元}]", ["tier-overlap"]),
        ("[{lt: 10, amount: 1元}, {gt: 10, amount: 2元}]", ["tier-gap"]),
        ("[{lt: 10, amount: 1元}, {ge: 12, amount: 2元}]", ["tier-gap"]),
        ("[{amount: 1元}, {ge: 12, amount: 2元}]", ["tier-shadowed"]),
        # the usual cascade, first match wins: not an overlap
        ("[{ge: 30, amount: 3元}, {ge: 20, amount: 2元}, {lt: 20, amount: 1元}]", []),
        # …and beyond both, an unbounded number of employees is paid nothing
        (
            "[{ge: 0, le: 100, amount: 1元}, {ge: 50, le: 200, amount: 2元}]",
            ["eligible-pays-nothing", "tier-overlap"],
        ),
        ("[{ge: 30, amount: 3元}, {ge: 40, amount: 4元}]", ["eligible-pays-nothing", "tier-shadowed"]),
    ],
)
def test_tier_boundaries(tmp_path: Path, bands: str, codes: list[str]) -> None:
    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        f"    benefit: {{tiers: {{by: employees, bands: {bands}}}, zh: 奖, en: award}}\n"
    )
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert [f.code for f in findings] == codes


@pytest.mark.parametrize(
    ("when", "codes"),
    [
        ("{all: [{fact: employees, ge: 10}, {fact: employees, le: 10}]}", []),
        (
            "{all: [{fact: employees, gt: 10}, {fact: employees, le: 10}]}",
            ["unreachable", "never-true"],
        ),
        (
            "{all: [{fact: employees, eq: 5}, {fact: employees, ne: 5}]}",
            ["unreachable", "never-true"],
        ),
        (
            "{all: [{fact: employees, in: [1, 2]}, {fact: employees, ge: 3}]}",
            ["unreachable", "never-true"],
        ),
        ("{all: [{fact: employees, in: [1, 5]}, {fact: employees, ge: 3}]}", []),
        (
            "{all: [{fact: resident_enterprise, eq: true}, {all: [{fact: resident_enterprise, eq: false}]}]}",
            ["unreachable", "never-true"],
        ),
        (
            "{all: [{fact: tax_credit_rating, in: [A, B]}, {fact: tax_credit_rating, not_in: [A, B]}]}",
            ["unreachable", "never-true"],
        ),
        (
            "{all: [{fact: registration_date, le: 2020-01-01}, {fact: registration_date, gt: 2020-01-01}]}",
            ["unreachable", "never-true"],
        ),
        # a fixed and a relative date bound: possible on some evaluation dates
        (
            "{all: [{fact: registration_date, le: 2020-01-01}, {fact: registration_date, ge: -1年}]}",
            [],
        ),
        # a dead route of an `any` is reported, the policy is still reachable
        (
            "{any: [{fact: employees, ge: 1}, {all: [{fact: revenue, gt: 1万元}, {fact: revenue, lt: 1万元}]}]}",
            ["never-true"],
        ),
        # the two bounds sit in different branches of an `any`: fine
        ("{any: [{fact: employees, gt: 10}, {fact: employees, lt: 5}]}", []),
    ],
)
def test_contradictions(tmp_path: Path, when: str, codes: list[str]) -> None:
    policy = f"  - id: t.doc.p\n    title: t\n    title_en: t\n    when: {when}\n{BENEFIT}"
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert sorted(f.code for f in findings) == sorted(codes)


def test_units_the_loader_lets_through(tmp_path: Path) -> None:
    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        "    when: {fact: tech_staff_share, ge: 600%}\n"
        "    monotone: [registration_date]\n" + BENEFIT
    )
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert sorted((f.code, f.severity, f.line) for f in findings) == [
        ("unit", "error", 12),  # monotone date fact
        ("unit", "warning", 11),  # 600% share
    ]


def test_the_loader_keeps_where_each_policy_is_written() -> None:
    loaded = load(BROKEN / "lonely-group")
    assert loaded.locations == {
        "broken.lonely.first-award": ("lonely-group/awards.yaml", 0),
        "broken.lonely.renewal-award": ("lonely-group/awards.yaml", 1),
    }
    assert (
        loaded.lines["lonely-group/awards.yaml"][("policies", 1)] == 17
    )  # `- id: broken.lonely.renewal-award`


def test_an_unreadable_group_cap_is_refused_by_the_loader(tmp_path: Path) -> None:
    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        "    stacking: {group: t.g, exclusive: false, cap: lots}\n" + BENEFIT
    )
    with pytest.raises(PolicyError, match="cannot read 'lots'"):
        lint(write(tmp_path, policy), TODAY)


def succession(tmp_path: Path, old: str, new: str) -> Path:
    """Two documents: `old.yaml` (its top-level lines given) superseded by `new.yaml`."""
    for name, top in (("old", old), ("new", new)):
        (tmp_path / f"{name}.yaml").write_text(
            f"id: t.{name}\ntitle: t\ntitle_en: t\nissuer: t\nprovenance: illustrative\n"
            f"zones: [national]\n{top}policies:\n  - id: t.{name}.p\n    title: t\n"
            f"    title_en: t\n{BENEFIT}",
            encoding="utf-8",
        )
    return tmp_path


def test_a_superseded_document_is_not_reported_as_expired(tmp_path: Path) -> None:
    old = "effective: {until: 2026-03-31}\nsuperseded_by: t.new\n"
    _, findings = lint(succession(tmp_path, old, "effective: {from: 2026-04-01}\n"), TODAY)
    assert findings == []
    # the same end without a successor is an expiry
    (tmp_path / "old.yaml").write_text(
        (tmp_path / "old.yaml").read_text(encoding="utf-8").replace("superseded_by: t.new\n", ""),
        encoding="utf-8",
    )
    assert [f.code for f in lint(tmp_path, TODAY)[1]] == ["expired"]


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("effective: {from: 2026-05-01}\n", "leaves a gap before t.new, which starts on 2026-05-01"),
        ("effective: {from: 2026-03-01}\n", "overlaps t.new, which is in force from 2026-03-01"),
        ("", "overlaps t.new, which is in force from the start"),
    ],
)
def test_a_successor_must_start_the_day_after(tmp_path: Path, new: str, fragment: str) -> None:
    old = "effective: {until: 2026-03-31}\nsuperseded_by: t.new\n"
    _, findings = lint(succession(tmp_path, old, new), TODAY)
    assert [(f.severity, f.code, f.file, f.line) for f in findings] == [
        ("warning", "succession", f"{tmp_path.name}/old.yaml", 7)  # the end date that is off
    ]
    assert fragment in findings[0].message
    assert "should start on 2026-04-01" in findings[0].message


@pytest.mark.parametrize(
    ("old", "where", "fragment"),
    [
        (
            "effective: {until: 2026-03-31}\nsuperseded_by: t.newer\n",
            ("old.yaml", 8, "superseded_by"),
            "superseded_by 't.newer' names no document of this set",
        ),
        (
            "effective: {until: 2026-03-31}\nsuperseded_by: t.old\n",
            ("old.yaml", 8, "superseded_by"),
            "superseded_by 't.old' names itself",
        ),
        (
            "superseded_by: t.new\n",
            ("old.yaml", 7, "effective.until"),
            "superseded by 't.new' but has no effective.until",
        ),
    ],
)
def test_a_broken_succession_is_refused(
    tmp_path: Path, old: str, where: tuple[str, int, str], fragment: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load(succession(tmp_path, old, "effective: {from: 2026-04-01}\n"))
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (f"{tmp_path.name}/{where[0]}", *where[1:])
    assert fragment in problem.message


def test_a_document_that_ends_with_the_calendar_cannot_hand_over(tmp_path: Path) -> None:
    old = "effective: {until: 9999-12-31}\nsuperseded_by: t.new\n"
    _, findings = lint(succession(tmp_path, old, "effective: {from: 2026-04-01}\n"), TODAY)
    assert [f.message for f in findings] == [
        "document ends on 9999-12-31 and overlaps t.new, which is in force from 2026-04-01"
    ]


@pytest.mark.parametrize(
    ("fact", "rule", "label", "flagged"),
    [
        ("fixed_asset_investment", "ge: 5000万元", "投资5000万元以上", False),
        ("fixed_asset_investment", "gt: 5000万元", "投资5000万元以上", True),
        ("hnte_innovation_score", "gt: 70", "得分70分以上（不含70分）", False),
        ("hnte_innovation_score", "ge: 70", "得分70分以上（不含70分）", True),
        ("revenue", "le: 4亿元", "营业收入4亿元（含）以下", False),
        ("revenue", "le: 5000万元", "销售收入小于5,000万元（含）", False),
        ("revenue", "lt: 5000万元", "销售收入小于5,000万元（含）", True),
        ("main_business_share", "gt: 50%", "占比50%（不含）以上", False),
        ("hnte_innovation_score", "ge: 60", "评价得分达到60分以上", False),
        ("employees", "lt: 20", "从业人员不满20人", False),
        ("employees", "le: 20", "从业人员不满20人", True),
        ("fixed_asset_investment", "ge: 5000元", "投资5000万元以上", True),  # the 万 was dropped
        ("rd_intensity", "ge: 0.03%", "占比不低于3%", True),
        ("revenue", "ge: 5000万元", "年产值5000万元", False),  # no boundary word: nothing stated
        ("registration_date", "le: -1年", "注册成立一年以上", False),  # a date before the evaluation date
        ("registration_date", "ge: -1年", "注册成立一年以上", True),
        ("registration_date", "gt: -5年", "成立不满5年", False),
    ],
)
def test_a_label_is_read_back_against_its_rule(
    tmp_path: Path, fact: str, rule: str, label: str, flagged: bool
) -> None:
    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        f"    when: {{fact: {fact}, {rule}, label: '{label}'}}\n{BENEFIT}"
    )
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert [f.code for f in findings if f.code == "label-mismatch"] == (
        ["label-mismatch"] if flagged else []
    ), [str(f) for f in findings]


@pytest.mark.parametrize(
    ("when", "unless", "codes"),
    [
        # `not` is pushed to the leaves before bounds are compared
        ("{all: [{fact: employees, ge: 50}, {not: {fact: employees, ge: 20}}]}", None,
         ["never-true", "unreachable"]),
        ("{all: [{fact: employees, ge: 50}, {not: {fact: employees, lt: 20}}]}", None, []),
        ("{all: [{fact: hnte_valid, eq: true}, {not: {any: [{fact: hnte_valid, eq: true}, "
         "{fact: tech_sme_valid, eq: true}]}}]}", None, ["never-true", "unreachable"]),
        # conditions that hold for every known value
        ("{any: [{fact: revenue, ge: 1万元}, {fact: revenue, lt: 1万元}]}", None, ["always-true"]),
        ("{any: [{fact: tax_credit_rating, ne: C}, {fact: tax_credit_rating, ne: D}]}", None,
         ["always-true"]),
        ("{fact: employees, ge: 0}", None, ["always-true"]),
        ("{fact: revenue, ge: 0元}", None, []),  # an amount may be negative
        # an exclusion the condition implies
        ("{fact: employees, ge: 10}", "{fact: employees, ge: 5}", ["unreachable"]),
        ("{fact: employees, ge: 10}", "{fact: employees, lt: 5}", []),
        ("{fact: employees, ge: 10}", "{fact: employees, ge: 50}", []),
    ],
)  # fmt: skip
def test_conditions_through_not_and_exclusions(
    tmp_path: Path, when: str, unless: str | None, codes: list[str]
) -> None:
    excluded = f"    unless: [{unless}]\n" if unless else ""
    policy = f"  - id: t.doc.p\n    title: t\n    title_en: t\n    when: {when}\n{excluded}{BENEFIT}"
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert sorted(f.code for f in findings) == sorted(codes), [str(f) for f in findings]


@pytest.mark.parametrize(
    ("when", "codes"),
    [
        ("{fact: tax_credit_rating, in: [A, B]}", []),
        ("{fact: tax_credit_rating, in: [A级, B]}", ["code-value"]),
        ("{fact: industry_code, prefix_in: [C42, F]}", []),
        ("{fact: industry_code, prefix_in: ['4210']}", ["industry-code"]),
        ("{fact: industry_code, in: [3975]}", ["industry-code"]),
        ("{fact: industry_code, in: [C42]}", ["industry-code"]),  # a division where classes are meant
        ("{fact: industry_code, in: [C4210]}", []),
    ],
)
def test_code_values(tmp_path: Path, when: str, codes: list[str]) -> None:
    policy = f"  - id: t.doc.p\n    title: t\n    title_en: t\n    when: {when}\n{BENEFIT}"
    _, findings = lint(write(tmp_path, policy), TODAY)
    assert [f.code for f in findings] == codes, [str(f) for f in findings]


def test_a_rule_industry_code_matches_a_profile_code(tmp_path: Path) -> None:
    from incentives.engine import PolicySet
    from incentives.engine.model.profile import parse_profile

    policy = (
        "  - id: t.doc.p\n    title: t\n    title_en: t\n"
        "    when: {fact: industry_code, prefix_in: ['4210']}\n" + BENEFIT
    )
    policies = PolicySet(write(tmp_path, policy))
    profile = parse_profile({"synthetic": True, "zone": "national", "industry_code": "4210"})
    (result,) = policies.evaluate(profile, as_of=TODAY).results
    assert result.status.value == "eligible"


@pytest.mark.parametrize(
    ("second", "codes"),
    [
        ("    when: {not: {fact: employees, lt: 10}}\n", ["duplicate-measure"]),  # ge 10, spelt otherwise
        ("    when: {fact: employees, ge: 20}\n", []),
        # a shared group declares how the two stack, exclusive or not
        ("    when: {fact: employees, ge: 10}\n    stacking: {group: g, exclusive: false}\n", []),
    ],
)
def test_the_same_measure_twice(tmp_path: Path, second: str, codes: list[str]) -> None:
    grouped = "    stacking: {group: g, exclusive: false}\n" if "stacking" in second else ""
    policies = (
        f"  - id: t.doc.a\n    title: t\n    title_en: t\n    when: {{fact: employees, ge: 10}}\n"
        f"{grouped}{BENEFIT}  - id: t.doc.b\n    title: t\n    title_en: t\n{second}{BENEFIT}"
    )
    _, findings = lint(write(tmp_path, policies), TODAY)
    assert [(f.code, f.policy) for f in findings] == [(c, "t.doc.b") for c in codes]


def test_validate_and_test_report_json_with_stable_fields() -> None:
    import json

    corpus = Path(__file__).parent / "corpus" / "broken"
    runner = CliRunner()
    labels = str(corpus / "label-yixia-with-lt" / "policies")
    validated = runner.invoke(main, ["validate", labels, "--as-of", "2026-11-24", "--format", "json"])
    assert validated.exit_code == 1
    report = json.loads(validated.output)
    assert (report["tool"], report["errors"], report["warnings"]) == ("validate", 1, 0)
    [finding] = report["findings"]
    assert finding == {
        "file": "policies/award.yaml", "line": 16, "policy": "corpus.label-yixia-with-lt.small",
        "code": "label-mismatch", "severity": "error", "message": finding["message"],
        "counterexample": None,
    }  # fmt: skip
    cases = str(corpus / "case-misspelt-policy-id" / "policies")
    tested = runner.invoke(main, ["test", cases, "--format", "json"])
    assert tested.exit_code == 1
    codes = [(f["code"], f["line"]) for f in json.loads(tested.output)["findings"]]
    assert codes == [("case-unknown-policy", 10), ("case-coverage", None)]
