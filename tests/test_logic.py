"""Kleene three-valued logic: the truth tables, and the compiled trees that use them."""

from __future__ import annotations

import itertools

import pytest
from conftest import AS_OF, InlineSet, load_documents

from incentives.engine import PolicySet, Status, parse_profile
from incentives.engine.reference.logic import (
    FALSE,
    TRUE,
    UNKNOWN,
    Truth,
)

VALUES = (FALSE, UNKNOWN, TRUE)


def test_truth_order_and_negation() -> None:
    assert FALSE < UNKNOWN < TRUE
    assert [v.negate() for v in VALUES] == [TRUE, UNKNOWN, FALSE]


@pytest.mark.parametrize(("a", "b"), list(itertools.product(VALUES, repeat=2)))
def test_kleene_tables(a: Truth, b: Truth) -> None:
    # all = min, any = max, and De Morgan holds in three values.
    assert min(a, b) == (FALSE if FALSE in (a, b) else UNKNOWN if UNKNOWN in (a, b) else TRUE)
    assert max(a, b) == (TRUE if TRUE in (a, b) else UNKNOWN if UNKNOWN in (a, b) else FALSE)
    assert min(a, b).negate() == max(a.negate(), b.negate())


# One policy per connective over two boolean facts; the profile sets each fact to true, false
# or leaves it out (unknown). The compiled trees must agree with the truth tables.
TREES = {
    "all": "{all: [{fact: resident_enterprise, eq: true}, {fact: audit_collection, eq: true}]}",
    "any": "{any: [{fact: resident_enterprise, eq: true}, {fact: audit_collection, eq: true}]}",
    "nota": "{not: {fact: resident_enterprise, eq: true}}",
    "nested": (
        "{not: {any: [{not: {fact: resident_enterprise, eq: true}},"
        " {not: {fact: audit_collection, eq: true}}]}}"
    ),
}
STATUS = {TRUE: Status.ELIGIBLE, FALSE: Status.INELIGIBLE, UNKNOWN: Status.UNDETERMINED}


@pytest.fixture(scope="module")
def connectives(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    body = "".join(
        f"""
          - id: test.logic.{name}
            title: {name}
            title_en: {name}
            when: {tree}
            benefit: {{service: true, zh: 服务, en: service}}
            unless: [{{fact: restricted_industry, eq: true}}]"""
        for name, tree in TREES.items()
    )
    return load_documents(
        tmp_path_factory.mktemp("logic"),
        """\
        id: test.logic
        title: 逻辑
        title_en: logic
        issuer: 测试
        provenance: illustrative
        zones: [national]
        policies:"""
        + body
        + "\n",
        name="logic.yaml",
    )


def _fact(value: Truth) -> bool | None:
    return {TRUE: True, FALSE: False, UNKNOWN: None}[value]


@pytest.mark.parametrize(("a", "b", "x"), list(itertools.product(VALUES, repeat=3)))
def test_compiled_trees_follow_kleene(connectives: PolicySet, a: Truth, b: Truth, x: Truth) -> None:
    data = {
        key: _fact(value)
        for key, value in (
            ("resident_enterprise", a),
            ("audit_collection", b),
            ("restricted_industry", x),
        )
        if value is not UNKNOWN
    }
    report = connectives.evaluate(parse_profile(data), AS_OF)
    got = {r.policy_id.rsplit(".", 1)[1]: r.status for r in report.results}
    exclusion = x.negate()  # `unless` holds when the exclusion is false
    expected = {
        "all": min(a, b, exclusion),
        "any": min(max(a, b), exclusion),
        "nota": min(a.negate(), exclusion),
        "nested": min(a, b, exclusion),  # ¬(¬a ∨ ¬b) = a ∧ b
    }
    assert got == {name: STATUS[value] for name, value in expected.items()}


def test_undetermined_lists_only_the_facts_that_matter(connectives: PolicySet) -> None:
    # any(true, unknown) is true: the unknown fact is not reported as missing.
    report = connectives.evaluate(
        parse_profile({"resident_enterprise": True, "restricted_industry": False}), AS_OF
    )
    by_id = {r.policy_id: r for r in report.results}
    assert by_id["test.logic.any"].status is Status.ELIGIBLE
    assert by_id["test.logic.any"].missing == []
    assert by_id["test.logic.all"].missing == ["audit_collection"]


def test_policy_without_condition_is_eligible(inline_set: InlineSet) -> None:
    policy_set = inline_set(
        """\
        id: test.free
        title: 无条件
        title_en: unconditional
        issuer: 测试
        provenance: illustrative
        zones: [national]
        policies:
          - id: test.free.service
            title: 服务
            title_en: service
            benefit: {service: true, zh: 服务, en: service}
        """,
        name="free.yaml",
    )
    result = policy_set.evaluate(parse_profile({}), AS_OF).results[0]
    assert result.status is Status.ELIGIBLE and result.amount is None
    assert result.source.provenance == "illustrative"


def test_zone_policy_with_unknown_zone_is_undetermined(inline_set: InlineSet) -> None:
    policy_set = inline_set(
        """\
        id: test.local
        title: 园区
        title_en: zone
        issuer: 测试
        provenance: illustrative
        zones: [jinzhong-dz]
        policies:
          - id: test.local.award
            title: 奖励
            title_en: award
            when: {fact: employees, ge: 10}
            benefit: {grant: {amount: 10万元}, zh: 奖励, en: award}
        """,
        name="local.yaml",
    )
    unknown = policy_set.evaluate(parse_profile({}), AS_OF).results[0]
    assert unknown.status is Status.UNDETERMINED and unknown.missing == ["employees", "zone"]
    # Failing criteria do not decide it either: in another zone it would be not_in_force.
    failing = policy_set.evaluate(parse_profile({"employees": 5}), AS_OF).results[0]
    assert failing.status is Status.UNDETERMINED and failing.missing == ["zone"]
    assert policy_set.evaluate(
        parse_profile({"employees": 5, "zone": "jinzhong-dz"}), AS_OF
    ).results[0].status is Status.INELIGIBLE
    inside = policy_set.evaluate(
        parse_profile({"zone": "jinzhong-dz", "employees": 50}), AS_OF
    ).results[0]
    assert inside.status is Status.ELIGIBLE
    elsewhere = policy_set.evaluate(parse_profile({"zone": "guangling"}), AS_OF).results[0]
    assert elsewhere.status is Status.NOT_IN_FORCE
    override = policy_set.evaluate(
        parse_profile({"zone": "guangling", "employees": 50}), AS_OF, zone="jinzhong-dz"
    )
    assert override.results[0].status is Status.ELIGIBLE
    # A zone nested under the policy's zone is covered; the parent zone is not.
    parent = policy_set.evaluate(parse_profile({"zone": "zgq"}), AS_OF).results[0]
    assert parent.status is Status.NOT_IN_FORCE
