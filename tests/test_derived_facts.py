"""Facts derived from the profile's structured data (certificate history, the project applied
for, compound and average growth, IP granted in a period, income by industry): the reference
resolvers at their boundaries, the load-time checks of the new sources, the refusal of a
derived fact stated under `facts:`, the batch back end agreeing with the reference on generated
profiles, and the new register columns through CSV, JSON Lines and Parquet."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import AS_OF, InlineSet, examples, write_documents
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.cli.main import main
from incentives.engine import PolicySet, parse_profile
from incentives.engine.batch.columns import from_micro, profile_to_row, rows_to_frame
from incentives.engine.batch.vectorised import VectorisedSet
from incentives.engine.errors import PolicyError, ProfileError
from incentives.engine.reference.context import Missing
from incentives.engine.testing.profiles import profile_data

DERIVED = [
    "hnte_latest_issued",
    "hnte_first_recognition",
    "hnte_consecutive_recognitions",
    "project_investment",
    "project_equipment_investment",
    "project_industrial",
    "project_construction_months",
    "project_capacity_tonnes",
    "standard_land",
    "revenue_cagr_2y",
    "main_business_growth_2y_avg",
    "invention_patents_granted_last_year",
    "excluded_industry_business_share",
    "manufacturing_business_share",
    "rd_staff_share",
    "export_revenue",
]
AGREEMENT_EXAMPLES = examples(10)  # draws of PROFILES_PER_DRAW profiles under the CI profile
PROFILES_PER_DRAW = 12


def value(policies: PolicySet, fact: str, on: date = AS_OF, **data: Any) -> Any:
    return policies.context(parse_profile(data), on)[fact]


def missing(result: Any) -> set[str]:
    assert isinstance(result, Missing), result
    return set(result.inputs)


def hnte(*issued: str, expires: dict[str, str] | None = None) -> list[dict[str, str]]:
    return [
        {"kind": "hnte", "issued": day, **({"expires": expires[day]} if expires and day in expires else {})}
        for day in issued
    ]


# --- certificates ----------------------------------------------------------------------------


def test_latest_issue_and_first_recognition_read_the_certificates_issued_by_the_day(
    policies: PolicySet,
) -> None:
    certs = [*hnte("2019-11-20", "2022-12-20"), {"kind": "tech_sme", "issued": "2026-03-01"}]
    assert value(policies, "hnte_latest_issued", certifications=certs) == date(2022, 12, 20)
    assert value(policies, "hnte_first_recognition", certifications=certs) is False
    # a certificate issued after the evaluation date is not yet held
    later = hnte("2022-12-20", "2026-12-01")
    assert value(policies, "hnte_latest_issued", certifications=later) == date(2022, 12, 20)
    assert value(policies, "hnte_first_recognition", certifications=later) is True
    # the same certificate listed twice is one recognition
    assert value(policies, "hnte_first_recognition", certifications=hnte("2025-06-30", "2025-06-30")) is True


def test_no_certificate_of_the_kind_points_at_certifications(policies: PolicySet) -> None:
    none = [{"kind": "tech_sme", "issued": "2026-03-01"}]
    assert missing(value(policies, "hnte_latest_issued", certifications=none)) == {
        "certifications (a hnte certificate issued by 2026-11-24)"
    }
    assert value(policies, "hnte_consecutive_recognitions", certifications=none) == 0
    assert missing(value(policies, "hnte_first_recognition")) == {"certifications"}


def test_a_mid_year_certificate_counts_for_its_tax_year(policies: PolicySet) -> None:
    """On a tax year's basis (its 31 December) a certificate issued in July is held."""
    certs = hnte("2025-07-01")
    tax_year = policies.contexts(parse_profile({"certifications": certs}),
                                 _dates(date(2026, 3, 1), 2025))["tax_year"]  # fmt: skip
    assert tax_year["hnte_latest_issued"] == date(2025, 7, 1)
    earlier = policies.context(parse_profile({"certifications": certs}), date(2025, 6, 30))
    assert isinstance(earlier["hnte_latest_issued"], Missing)


def _dates(as_of: date, tax_year: int) -> Any:
    from incentives.engine.compile.plan import Dates

    return Dates.of(as_of, tax_year)


CHAINS: list[tuple[list[dict[str, str]], int]] = [
        (hnte("2026-01-15"), 1),
        (hnte("2022-12-20", "2026-01-15"), 2),
        (hnte("2019-11-20", "2022-12-20", "2026-01-15"), 3),
        # the previous one ended 2025-07-15 (three years after issue): six months' grace
        (hnte("2022-07-15", "2026-01-15"), 2),
        (hnte("2022-07-14", "2026-01-15"), 1),
        # a gap after the first breaks the chain there: the last three count
        (hnte("2012-01-01", "2019-11-20", "2022-12-20", "2026-01-15"), 3),
        # a stated expiry is used instead of the three years
        (hnte("2021-12-01", "2026-01-15", expires={"2021-12-01": "2024-12-31"}), 1),
        (hnte("2021-12-01", "2026-01-15", expires={"2021-12-01": "2025-07-20"}), 2),
        # one recognition listed twice: the copy that ends later counts
        ([*hnte("2022-07-14"), *hnte("2022-07-14", "2026-01-15", expires={"2022-07-14": "2025-12-31"})], 2),
    ]


@pytest.mark.parametrize(("certs", "count"), CHAINS)
def test_consecutive_recognitions_follow_each_other_within_the_grace(
    policies: PolicySet, certs: list[dict[str, str]], count: int
) -> None:
    assert value(policies, "hnte_consecutive_recognitions", certifications=certs) == count


def test_the_batch_back_end_counts_the_same_chains(
    policies: PolicySet, vectorised: VectorisedSet
) -> None:
    profiles = [parse_profile({"certifications": certs}) for certs, _ in CHAINS]
    rows = [dict(profile_to_row(p, policies.facts), row=i) for i, p in enumerate(profiles)]
    got = vectorised.fact_frame(rows_to_frame(rows, policies.facts), AS_OF,
                                ["hnte_consecutive_recognitions"])  # fmt: skip
    assert [from_micro(v) for v in got["hnte_consecutive_recognitions"]] == [c for _, c in CHAINS]


# --- projects --------------------------------------------------------------------------------


def test_the_project_applied_for_is_the_marked_one_or_the_only_one(policies: PolicySet) -> None:
    one = [{"name": "一期", "investment": "1亿元"}]
    assert value(policies, "project_investment", projects=one) == Decimal(10**8)
    two = [{"name": "一期", "investment": "1亿元"}, {"name": "二期", "investment": "2亿元", "applying": True}]
    assert value(policies, "project_investment", projects=two) == Decimal(2 * 10**8)
    assert missing(value(policies, "project_industrial", projects=two)) == {"projects[1].industrial"}


@pytest.mark.parametrize(
    ("projects", "why"),
    [
        (None, "projects"),
        ([], "projects (none listed)"),
        ([{"name": "a"}, {"name": "b"}],
         "projects[].applying (2 projects listed; mark the one applied for with applying: true)"),
        ([{"name": "a", "applying": True}, {"name": "b", "applying": True}],
         "projects[].applying (2 projects marked; mark only the one applied for)"),
    ],
)  # fmt: skip
def test_several_projects_without_one_marked_are_never_picked_silently(
    policies: PolicySet, projects: list[dict[str, Any]] | None, why: str
) -> None:
    data = {} if projects is None else {"projects": projects}
    assert missing(value(policies, "project_investment", **data)) == {why}


def test_project_quantities_take_their_units(policies: PolicySet) -> None:
    project = {"name": "a", "construction_months": "24个月", "capacity_tonnes": "3000吨"}
    assert value(policies, "project_construction_months", projects=[project]) == 24
    assert value(policies, "project_capacity_tonnes", projects=[project]) == 3000
    with pytest.raises(ProfileError, match="tonne"):
        parse_profile({"projects": [{"name": "a", "capacity_tonnes": "3000万元"}]})


# --- growth ----------------------------------------------------------------------------------


def test_compound_growth_over_two_years(policies: PolicySet) -> None:
    years = {2025: {"revenue": "1.21亿元"}, 2024: {"revenue": "5000万元"}, 2023: {"revenue": "1亿元"}}
    assert value(policies, "revenue_cagr_2y", financials=years) == Decimal("0.1")
    years[2025] = {"revenue": 0}
    assert value(policies, "revenue_cagr_2y", financials=years) == -1


def test_growth_from_a_zero_year_or_a_missing_year_is_unknown(policies: PolicySet) -> None:
    zero = {2025: {"revenue": "1亿元", "main_business_revenue": "1亿元"},
            2024: {"main_business_revenue": 0},
            2023: {"revenue": 0}}  # fmt: skip
    assert missing(value(policies, "revenue_cagr_2y", financials=zero)) == {
        "financials.2023.revenue (is zero)"
    }
    zero[2023] = {"revenue": "1亿元", "main_business_revenue": "1亿元"}
    assert missing(value(policies, "main_business_growth_2y_avg", financials=zero)) == {
        "financials.2024.main_business_revenue (is zero)"
    }
    gap = {2025: {"main_business_revenue": "1.1亿元"}, 2023: {"main_business_revenue": "1亿元"}}
    assert missing(value(policies, "main_business_growth_2y_avg", financials=gap)) == {
        "financials.2024.main_business_revenue"
    }


def test_average_growth_is_the_mean_of_the_yearly_rates(policies: PolicySet) -> None:
    years = {2023: {"main_business_revenue": "1亿元"}, 2024: {"main_business_revenue": "1亿元"},
             2025: {"main_business_revenue": "1.1亿元"}}  # fmt: skip
    assert value(policies, "main_business_growth_2y_avg", financials=years) == Decimal("0.05")


# --- IP --------------------------------------------------------------------------------------


def test_patents_granted_last_year_count_from_1_january_to_31_december(policies: PolicySet) -> None:
    ip = [
        {"kind": "invention_patent", "count": 2, "granted": "2025-01-01"},
        {"kind": "invention_patent", "granted": "2025-12-31"},
        {"kind": "invention_patent", "count": 5, "granted": "2024-12-31"},
        {"kind": "invention_patent", "count": 7, "granted": "2026-01-01"},
        {"kind": "utility_model", "count": 4, "granted": "2025-06-01"},
    ]
    assert value(policies, "invention_patents_granted_last_year", intellectual_property=ip) == 3
    undated = [*ip, {"kind": "invention_patent"}]
    assert missing(
        value(policies, "invention_patents_granted_last_year", intellectual_property=undated)
    ) == {"intellectual_property[].granted"}


# --- income by industry ----------------------------------------------------------------------


def test_industry_shares_come_from_income_by_industry(policies: PolicySet) -> None:
    income = {2025: {"income_by_industry": {"3976": "600万元", "F5191": "300万元", "H6110": "100万元"}}}
    assert value(policies, "manufacturing_business_share", financials=income) == Decimal("0.6")
    assert value(policies, "excluded_industry_business_share", financials=income) == Decimal("0.4")
    # the registered industry does not count once the income says otherwise
    assert value(policies, "excluded_industry_business_share", financials=income,
                 industry_code="C3976") == Decimal("0.4")  # fmt: skip


def test_without_income_by_industry_the_registered_code_can_only_rule_a_list_out(
    policies: PolicySet,
) -> None:
    assert value(policies, "excluded_industry_business_share", industry_code="C3976") == 0
    assert missing(value(policies, "excluded_industry_business_share", industry_code="F5191")) == {
        "financials.2025.income_by_industry"
    }
    assert missing(value(policies, "manufacturing_business_share", industry_code="C3976")) == {
        "financials.2025.income_by_industry"
    }
    zero = {2025: {"income_by_industry": {"C3976": 0}}}
    assert missing(value(policies, "manufacturing_business_share", financials=zero)) == {
        "financials.2025.income_by_industry (is zero)"
    }


def test_an_industry_written_twice_is_refused() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"financials": {2025: {"income_by_industry": {"4210": 1, "C4210": 2}}}})
    assert "C4210 is given twice" in str(caught.value.problems)


# --- stating a derived fact ------------------------------------------------------------------


def test_a_derived_fact_under_facts_is_refused_naming_the_data_that_carries_it(
    policies: PolicySet,
) -> None:
    profile = parse_profile({"facts": {"hnte_latest_issued": "2026-01-15", "project_investment": 1}})
    with pytest.raises(ProfileError) as caught:
        policies.check_profile(profile)
    text = "\n".join(p.message for p in caught.value.problems)
    assert "hnte_latest_issued is computed from certifications" in text
    assert "project_investment is computed from projects" in text


# --- load-time checks ------------------------------------------------------------------------

DOC = """\
    id: t
    title: 测试
    title_en: test
    issuer: 测试
    provenance: illustrative
    zones: [national]
    facts:
      - {FACT}
    policies:
      - id: t.a
        title: 测试
        title_en: test
        source: {article: 第一条, provenance: illustrative}
        when: {fact: employees, ge: 1人}
        benefit: {grant: {amount: 1万元}, zh: 测试, en: test}
"""


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        ("{id: x, type: quantity, unit: yuan, project: investmnet, zh: x, en: x}",
         "unknown project field 'investmnet' (did you mean investment"),
        ("{id: x, type: bool, project: investment, zh: x, en: x}", "declare type: quantity"),
        ("{id: x, type: quantity, unit: ratio, industry_share: {industries: retail}, zh: x, en: x}",
         "unknown industry list 'retail'"),
        ("{id: x, type: quantity, unit: item, certificates: {kind: hnte, measure: consecutive}, zh: x, en: x}",
         "a chain of certificates needs their validity"),
        ("{id: x, type: date, certificates: {kind: hnet, measure: latest_issued}, zh: x, en: x}",
         "unknown certificate kind 'hnet'"),
        ("{id: x, type: quantity, unit: ratio, cagr: {financial: income_by_industry, years: 2}, zh: x, en: x}",
         "unknown financial line 'income_by_industry'"),
        ("{id: x, type: quantity, unit: item, ip_count: {kinds: [patent]}, zh: x, en: x}",
         "unknown IP kind 'patent'"),
    ],
)  # fmt: skip
def test_new_sources_are_checked_at_load_with_file_and_line(
    inline_set: InlineSet, fact: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        inline_set(DOC.replace("{FACT}", fact))
    problems = caught.value.problems
    assert any(expected in p.message and p.line == 8 for p in problems), problems


# --- the batch back end agrees ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vectorised(policies: PolicySet) -> VectorisedSet:
    return VectorisedSet(policies)


@settings(max_examples=AGREEMENT_EXAMPLES)
@given(data=st.data())
def test_the_batch_back_end_computes_every_derived_fact_as_the_reference(
    policies: PolicySet, vectorised: VectorisedSet, data: st.DataObject
) -> None:
    drawn = data.draw(st.lists(profile_data(policies, AS_OF), min_size=PROFILES_PER_DRAW,
                               max_size=PROFILES_PER_DRAW))  # fmt: skip
    profiles = [parse_profile(d) for d in drawn]
    rows = [dict(profile_to_row(p, policies.facts), row=i) for i, p in enumerate(profiles)]
    got = vectorised.fact_frame(rows_to_frame(rows, policies.facts), AS_OF, DERIVED)
    for profile, row in zip(profiles, got.to_dicts(), strict=True):
        ctx = policies.context(profile, AS_OF)
        for fact in DERIVED:
            expected, raw, den = ctx[fact], row[fact], row[f"{fact}.den"]
            if isinstance(expected, Missing):
                assert raw is None, (fact, profile, raw)
                continue
            actual = _batch_value(policies, fact, raw, den)
            assert actual == expected, (fact, profile)


def _batch_value(policies: PolicySet, fact: str, raw: Any, den: Any) -> Any:
    defn = policies.plan.facts[fact]
    if not isinstance(raw, int) or isinstance(raw, bool):
        return Decimal(raw) if isinstance(raw, str) else raw
    if fact == "revenue_cagr_2y":  # the growth factor, last ÷ first
        return (Decimal(raw) / Decimal(den)).sqrt() - 1
    return from_micro(raw) if den is None or defn.unit is None else Decimal(raw) / Decimal(den)


# --- registers ---------------------------------------------------------------------------------

REGISTER_ROWS: list[dict[str, Any]] = [
    {"credit_code": "91140171MA0K000214", "zone": "taiyuan",
     "certifications": hnte("2022-12-20", "2026-01-15"), "facts": {"private_enterprise": True},
     "projects": [{"name": "一期", "investment": "3亿元"},
                  {"name": "二期", "investment": "2亿元", "equipment_investment": "5000万元",
                   "industrial": True, "construction_months": 18, "applying": True}],
     "financials": {2025: {"revenue": "1.21亿元", "export_revenue": "300万元",
                           "income_by_industry": {"C3976": "8000万元", "F5191": "4100万元"}},
                    2023: {"revenue": "1亿元"}},
     "intellectual_property": [{"kind": "invention_patent", "count": 3, "granted": "2025-05-01"}]},
    {"zone": "zgq-xuefu", "industry_code": "F5191",
     "projects": [{"name": "a"}, {"name": "b"}]},
]  # fmt: skip
# One policy per derived source a register feeds (screening the whole library costs more).
REGISTER_POLICIES = """\
    id: t.derived
    title: 测试
    title_en: test
    issuer: 测试
    provenance: illustrative
    zones: [national]
    facts:
      - {id: hnte_consecutive_recognitions, type: quantity, unit: item, certificates: {kind: hnte, measure: consecutive, validity: 3年, grace: 6个月}, zh: 连续认定, en: consecutive}
      - {id: project_construction_months, type: quantity, unit: month, project: construction_months, zh: 建设期, en: months}
      - {id: excluded_industry_business_share, type: quantity, unit: ratio, industry_share: {industries: rd_excluded}, zh: 占比, en: share}
      - {id: revenue_cagr_2y, type: quantity, unit: ratio, cagr: {financial: revenue, years: 2}, zh: 复合增长, en: cagr}
      - {id: invention_patents_granted_last_year, type: quantity, unit: item, ip_count: {kinds: [invention_patent], granted_years: 1}, zh: 授权, en: granted}
    policies:
      - id: t.derived.ladder
        title: 连续认定
        title_en: ladder
        source: {article: 第一条, provenance: illustrative}
        when: {fact: hnte_consecutive_recognitions, ge: 1}
        benefit:
          tiers: {by: hnte_consecutive_recognitions, bands: [{ge: 2, amount: 20万元}, {ge: 1, lt: 2, amount: 10万元}]}
          zh: 测试
          en: test
      - id: t.derived.equipment
        title: 设备
        title_en: equipment
        source: {article: 第二条, provenance: illustrative}
        when:
          all:
            - {fact: project_industrial, eq: true}
            - {fact: project_construction_months, le: 24个月}
        benefit: {rate_of: {base: project_equipment_investment, rate: 10%}, zh: 测试, en: test}
      - id: t.derived.shares
        title: 行业
        title_en: shares
        source: {article: 第三条, provenance: illustrative}
        when:
          all:
            - {fact: excluded_industry_business_share, le: 50%}
            - {fact: revenue_cagr_2y, ge: 5%}
            - {fact: invention_patents_granted_last_year, ge: 3}
            - {fact: export_revenue, gt: 0元}
        benefit: {grant: {amount: 5万元}, zh: 测试, en: test}
"""


def _flat(row: dict[str, Any]) -> dict[str, str]:
    """A register row as a CSV or Parquet holds it: lists and mappings as JSON text."""
    flat: dict[str, str] = {}
    for key, item in row.items():
        if key == "financials":
            for year, lines in item.items():
                for line, amount in lines.items():
                    text = json.dumps(amount, ensure_ascii=False) if isinstance(amount, dict) else amount
                    flat[f"financials.{year}.{line}"] = text
        elif key == "facts":
            flat.update({f"facts.{k}": str(v).lower() for k, v in item.items()})
        else:
            flat[key] = json.dumps(item, ensure_ascii=False) if isinstance(item, list) else item
    return flat


def _write(path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        lines = [json.dumps(r, ensure_ascii=False, default=str) for r in REGISTER_ROWS]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    flats = [_flat(r) for r in REGISTER_ROWS]
    names = sorted({k for f in flats for k in f})
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=names)
            writer.writeheader()
            writer.writerows(flats)
        return
    import polars as pl

    pl.DataFrame({n: [f.get(n) for f in flats] for n in names}, schema=dict.fromkeys(names, pl.String)).write_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_registers_carry_projects_income_by_industry_and_grant_dates(
    tmp_path: Path, fmt: str
) -> None:
    directory = write_documents(tmp_path / "policies", REGISTER_POLICIES)
    policies = PolicySet(directory)
    register, out = tmp_path / f"register.{fmt}", tmp_path / "out.jsonl"
    _write(register, fmt)
    result = CliRunner().invoke(main, ["screen", str(register), "--as-of", AS_OF.isoformat(),
                                       "--policies", str(directory), "--format", "jsonl",
                                       "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    screened = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    numbers = sorted({r["row"] for r in screened})  # a CSV row is numbered by its line
    assert len(numbers) == len(REGISTER_ROWS)
    for number, data in zip(numbers, REGISTER_ROWS, strict=True):
        report = policies.evaluate(parse_profile(json.loads(json.dumps(data, default=str))), AS_OF)
        expected = {r.policy_id: r for r in report.results}
        if number == numbers[0]:  # the first row reaches every policy through derived facts
            assert {r.status.value for r in report.results} == {"eligible"}, report.results
        for policy in (p.id for p in policies.policies):
            got = next(r for r in screened if r["row"] == number and r["policy_id"] == policy)
            assert got["status"] == expected[policy].status.value, (fmt, number, policy)
            amount = expected[policy].amount
            assert (None if got["amount"] is None else Decimal(str(got["amount"]))) == amount, (
                fmt, number, policy)  # fmt: skip


def test_explain_says_which_project_to_mark(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "zone: zgq\nprojects:\n  - {name: 一期, equipment_investment: 3000万元}\n"
        "  - {name: 二期, equipment_investment: 1亿元}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["explain", str(profile), "shanxi.zgq.industry-measures-2025.equipment",
                                       "--as-of", AS_OF.isoformat(), "--lang", "en"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "← projects[].applying (2 projects listed; mark the one applied for with applying: true)" in text


def test_check_says_which_project_to_mark(tmp_path: Path) -> None:
    """`check`'s missing list gives the same instruction as explain's origin, not only the
    fact's source (`← projects`)."""
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "zone: zgq\nprojects:\n  - {name: 一期, equipment_investment: 3000万元}\n"
        "  - {name: 二期, equipment_investment: 1亿元}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["check", str(profile), "--as-of", AS_OF.isoformat(),
                                       "--lang", "en"])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ("(project_equipment_investment ← projects[].applying (2 projects listed; mark the one "
            "applied for with applying: true))") in text  # fmt: skip
