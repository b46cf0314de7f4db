"""The vectorised back end gives exactly the reference verdicts, amounts and missing facts, on
generated registers and random policy sets (hypothesis), and on the bundled library."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from batch_support import assert_agree, assert_scores_agree, fits_a_register, frame_of
from conftest import HNTE_BASE, build, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, Profile, parse_profile
from incentives.engine.batch.columns import (
    ROW,
    from_micro,
    profile_to_row,
    rows_to_frame,
)
from incentives.engine.batch.results import Summary, money_text, presented
from incentives.engine.batch.vectorised import OUTPUT, VectorisedSet, _decoded, _mask_type
from incentives.engine.testing import (
    evaluation_dates,
    policy_sets,
    profile_data,
    threshold_profile_data,
    write_policy_set,
)

AS_OF_CHOICES = [date(2026, 11, 24), date(2025, 1, 1), date(2024, 2, 29), date(2028, 6, 30)]
ZONES = ("national", "shanxi", "jinzhong-dz", "guangling-etdz", "taiyuan", "linfen-etdz")
# Examples per property test under the CI profile.
RANDOM_SETS, GENERATED_REGISTERS, SCORE_THRESHOLDS = examples(60), examples(40), examples(25)


@st.composite
def registers(draw: st.DrawFn, policies: PolicySet, as_of: date) -> list[Profile]:
    """Profiles of a register for a generated set: general ones, and ones pushed onto the
    thresholds, bands and caps of its policies (engine.testing's strategies)."""
    ids = [p.id for p in policies.policies]
    one = st.one_of(
        profile_data(policies, as_of),
        st.sampled_from(ids).flatmap(lambda pid: threshold_profile_data(policies, pid, as_of)),
    )
    profiles = [parse_profile(d) for d in draw(st.lists(one, min_size=1, max_size=8))]
    return [p for p in profiles if fits_a_register(p, policies)]


@pytest.mark.slow
@settings(max_examples=RANDOM_SETS)
@given(
    documents=policy_sets(zones=ZONES),
    as_of=st.sampled_from(AS_OF_CHOICES),
    back=st.sampled_from([None, 0, 2]),
    data=st.data(),
)
def test_vectorised_agrees_with_reference_on_random_sets(
    tmp_path_factory: pytest.TempPathFactory,
    documents: list[dict[str, Any]],
    as_of: date,
    back: int | None,
    data: st.DataObject,
) -> None:
    """Random sets with facts of every source kind declared by their documents (judgement
    facts and formulas over them among them), every operator and benefit kind, zones, periods,
    stacking groups and attachments (applications and tax years: the default tax year, the
    evaluation year, one further back), on registers concentrated on their thresholds."""
    policies = PolicySet(write_policy_set(documents, tmp_path_factory.mktemp("policies")))
    vectorised = VectorisedSet(policies)
    assert vectorised.fallback == {}  # every generated construct is translated
    profiles = data.draw(registers(policies, as_of))
    if not profiles:
        return
    tax_year = None if back is None else as_of.year - back
    assert_agree(policies, profiles, as_of, vectorised, tax_year)
    assert_scores_agree(policies, profiles, as_of, vectorised)


@pytest.mark.slow
@settings(max_examples=GENERATED_REGISTERS)
@given(
    changes=st.lists(
        st.sampled_from(
            [
                {"employees": None},
                {"tech_staff": 5},
                {"financials__2025__revenue": "6000万元"},
                {"financials__2025__revenue": "2.5亿元"},
                {"financials__2024": None},
                {"facts__hnte_core_ip_role": None},
                {"facts__hnte_innovation_score": 70},
                {"registration_date": date(2025, 12, 1)},
                {"zone": None},
                {"compliance": None},
                {"certifications": [{"kind": "hnte", "issued": date(2024, 1, 5)}]},
                {"financials__2025__taxable_income": "200万元"},
                {"financials__2025__total_assets": "3000万元"},
                {"intellectual_property": None},
                {"resident_enterprise": False},
            ]
        ),
        max_size=4,
    ),
    as_of=st.sampled_from(AS_OF_CHOICES),
)
def test_vectorised_agrees_on_the_bundled_library(
    policies: PolicySet, changes: list[dict[str, Any]], as_of: date
) -> None:
    merged: dict[str, Any] = {}
    for change in changes:
        merged.update(change)
    profiles = [build(HNTE_BASE), build(HNTE_BASE, **merged), parse_profile({})]
    assert_agree(policies, profiles, as_of, VectorisedSet(policies))


def test_the_bundled_library_is_vectorised_entirely(policies: PolicySet) -> None:
    fallback = VectorisedSet(policies).fallback
    assert fallback == {}, "\n".join(f"{pid}: {why}" for pid, why in fallback.items())


SCORED = ["national.tech-sme.evaluation", "national.sme-gradient-2022.innovative",
          "national.sme-gradient-2022.specialised", "national.sme-gradient-2026.tech-innovative",
          "national.sme-gradient-2026.specialised"]  # fmt: skip


@st.composite
def _scored_register(draw: Any, policies: PolicySet) -> tuple[date, list[Profile]]:
    """Profiles pushed onto the point bands, sums and thresholds of the score-based policies."""
    policy_id = draw(st.sampled_from(SCORED))
    as_of = draw(evaluation_dates(policies.get(policy_id)))
    data = draw(
        st.lists(threshold_profile_data(policies, policy_id, as_of), min_size=1, max_size=6)
    )
    return as_of, [parse_profile(d) for d in data]


@pytest.mark.slow
@settings(max_examples=SCORE_THRESHOLDS)
@given(data=st.data())
def test_vectorised_agrees_on_score_thresholds(policies: PolicySet, data: st.DataObject) -> None:
    as_of, profiles = data.draw(_scored_register(policies))
    vectorised = VectorisedSet(policies)
    assert_agree(policies, profiles, as_of, vectorised)
    assert_scores_agree(policies, profiles, as_of, vectorised)


def test_unsupported_constructs_fall_back_to_the_reference(tmp_path: Path) -> None:
    """A sum of ratios is not translated (its exact denominators grow as products): that policy
    and the other member of its stacking group are evaluated row by row, with the same results."""
    facts = [
        {"id": "ratio_sum", "type": "quantity", "unit": "ratio", "zh": "比例之和", "en": "sum",
         "sum_of": ["rd_intensity", "debt_ratio"]},
    ]  # fmt: skip
    group = {"group": "g", "exclusive": True}
    grant = {"zh": "奖励", "en": "grant", "grant": {"amount": "10万元"}}
    document = {
        "id": "odd", "title": "测试", "title_en": "test", "issuer": "测试",
        "provenance": "illustrative", "zones": ["national"], "facts": facts,
        "policies": [
            {"id": "odd.sum", "title": "和", "title_en": "sum", "benefit": grant,
             "when": {"fact": "ratio_sum", "ge": "60%"}, "stacking": group},
            {"id": "odd.peer", "title": "同组", "title_en": "peer",
             "benefit": {**grant, "grant": {"amount": "20万元"}},
             "when": {"fact": "employees", "ge": 10}, "stacking": group},
            {"id": "odd.plain", "title": "其他", "title_en": "other", "benefit": grant},
        ],
    }  # fmt: skip
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    policies = PolicySet(tmp_path)
    vectorised = VectorisedSet(policies)
    assert set(vectorised.fallback) == {"odd.sum", "odd.peer"}
    assert "ratio_sum" in vectorised.fallback["odd.sum"]
    assert "shares stacking group" in vectorised.fallback["odd.peer"]
    profiles = [build(HNTE_BASE), build(HNTE_BASE, employees=5, tech_staff=1), parse_profile({})]
    assert_agree(policies, profiles, date(2026, 11, 24), vectorised)
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: i}) for i, p in enumerate(profiles)]
    with pytest.raises(ValueError, match="need profiles"):
        vectorised.evaluate(rows_to_frame(rows, policies.facts), date(2026, 11, 24))


def test_results_come_by_row_then_in_the_sets_policy_order(policies: PolicySet) -> None:
    profiles = [build(HNTE_BASE), parse_profile({}), build(HNTE_BASE, employees=None)]
    numbers = [30, 10, 20]  # a register need not arrive sorted
    pairs = zip(profiles, numbers, strict=True)
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: r}) for p, r in pairs]
    vectorised = VectorisedSet(policies)
    as_of = date(2026, 11, 24)
    out = vectorised.evaluate(rows_to_frame(rows, policies.facts), as_of)
    order = [cp.id for cp in policies.policies]
    assert out[ROW].to_list() == [r for r in sorted(numbers) for _ in order]
    assert out["policy_id"].to_list() == order * len(profiles)
    by_number = dict(zip(numbers, profiles, strict=True))
    for row in out.iter_rows(named=True):
        report = policies.evaluate(by_number[row[ROW]], as_of, policy_ids=[row["policy_id"]])
        assert row["status"] == report.results[0].status.value
    empty = vectorised.evaluate(rows_to_frame([], policies.facts), as_of)
    assert empty.height == 0 and empty.schema == OUTPUT


def test_stacking_pays_the_higher_member_once(policies: PolicySet) -> None:
    """HNTE 15% and small low-profit 5% are one exclusive group: only the higher one pays."""
    profile = build(
        HNTE_BASE,
        certifications=[{"kind": "hnte", "issued": date(2024, 12, 2)}],
        financials__2025__taxable_income="200万元",
        financials__2025__total_assets="3000万元",
    )
    as_of = date(2026, 11, 24)
    rows = [dict(profile_to_row(profile, policies.facts), row=1)]
    out = VectorisedSet(policies).evaluate(rows_to_frame(rows, policies.facts), as_of, [profile])
    amounts = {r["policy_id"]: r["amount"] for r in out.iter_rows(named=True)}
    # 200万 × (25% − 5%) = 40万 beats 200万 × (25% − 15%) = 20万, which is set to zero.
    assert from_micro(amounts["national.small-low-profit.cit"]) == Decimal("400000")
    assert from_micro(amounts["national.hnte.tax-rate"]) == 0


def test_one_set_answers_every_date_and_register_as_a_fresh_one(policies: PolicySet) -> None:
    """A set keeps its compiled query per frame schema and pair of dates: used again on
    other evaluation dates, tax years and registers of other columns, it still answers as
    the reference (and as a set compiled afresh for that register)."""
    shared = VectorisedSet(policies)
    profiles = [build(HNTE_BASE), build(HNTE_BASE, zone=None), parse_profile({})]
    for as_of, tax_year in ((date(2026, 11, 24), None), (date(2026, 11, 24), 2023),
                            (date(2024, 2, 29), None)):  # fmt: skip
        assert_agree(policies, profiles, as_of, shared, tax_year)
    rows = [dict(profile_to_row(p, policies.facts), **{ROW: i}) for i, p in enumerate(profiles)]
    full = rows_to_frame(rows, policies.facts)
    fewer = full.drop([name for name in full.columns if name.startswith("facts.")])
    as_of = date(2026, 11, 24)
    assert shared.evaluate(fewer, as_of).equals(VectorisedSet(policies).evaluate(fewer, as_of))
    assert not shared.evaluate(fewer, as_of).equals(shared.evaluate(full, as_of))


def test_amounts_at_the_int64_edge_agree_and_sum_exactly(policies: PolicySet) -> None:
    """A batch's amounts are Int64 only where they are proved to fit: the HNTE rate (10% of
    taxable income) at the largest fen that fits Int64 millionths keeps the batch Int64, one
    fen more makes it Int128; either way every result is the reference's, as written and as
    tallied, even where the tally's sum leaves Int64."""
    as_of, rate = date(2026, 11, 24), "national.hnte.tax-rate"
    vectorised = VectorisedSet(policies)

    def hnte(taxable: str) -> Profile:
        return build(HNTE_BASE, certifications=[{"kind": "hnte", "issued": date(2024, 12, 2)}],
                     financials__2025__taxable_income=taxable)  # fmt: skip

    def paid(profile: Profile) -> Decimal:
        amount = policies.evaluate(profile, as_of, policy_ids=[rate]).results[0].amount
        assert amount is not None
        return amount

    largest, over = hnte("92233720368547.7"), hnte("92233720368547.8")  # 10%: ….77, ….78 yuan
    assert paid(largest) * 10**6 < 2**63 <= paid(over) * 10**6
    for profiles, dtype in (([largest], pl.Int64), ([over], pl.Int128),
                            ([largest, over], pl.Int128), ([largest] * 3, pl.Int64)):  # fmt: skip
        coded = vectorised.evaluate_coded(frame_of(policies, profiles), as_of, profiles)
        assert coded.frame.schema["amount"] == dtype
        assert coded.decoded().schema == OUTPUT
        assert_agree(policies, profiles, as_of, vectorised)
        written = presented(coded).filter(pl.col("policy_id") == rate)["amount"]
        assert written.to_list() == [money_text(paid(p)) for p in profiles]
        summary = Summary(policies=tuple(p.id for p in policies.policies))
        summary.add_results(coded)
        assert summary.policy_amounts[rate] == sum(map(paid, profiles))


def test_mask_codes_name_each_rows_facts_near_spread_and_past_two_bytes() -> None:
    """`_decoded` codes a batch's masks by their distance from the least when they lie close
    together and by binary search when they spread: either way each row's code indexes the
    list of the facts its mask sets, in mask order; past 2^16 lists the codes are UInt32.
    (Evaluated frames rarely reach the wide cases, so they are built here.)"""

    def listed(names: tuple[str, ...], mask: int) -> list[str]:
        return [fact for bit, fact in enumerate(names) if mask >> bit & 1]

    wide_names = tuple(f"f{i:02}" for i in range(17))
    cases = [  # (names, masks of missing, masks of review) per policy
        (wide_names, [0, 5, 4095, 300, 5, 2**16 + 3], [1] * 6),  # spread / constant
        (("a", "b"), [1, 2, 3, 0, 1, 3], [0, 0, 1, 1, 2, 2]),  # near
        (("x",), [0] * 6, [1, 0, 1, 0, 1, 0]),
    ]
    for rows in (6, 33_000):  # the second spreads policy 0 over more than 2^16 masks
        columns: dict[str, pl.Series] = {}
        for i, (names, missing, review) in enumerate(cases):
            missing, review = (missing * rows)[:rows], (review * rows)[:rows]
            if i == 0 and rows > 6:  # distinct masks: 7919 and 7907 are primes
                missing = [m * 7919 % 2**17 for m in range(rows)]
                review = [m * 7907 % 2**17 for m in range(rows)]
            columns[f"m{i}"] = pl.Series(missing, dtype=_mask_type(names))
            columns[f"v{i}"] = pl.Series(review, dtype=_mask_type(names))
        wide = pl.DataFrame(columns)
        lists, codes = _decoded(wide, [names for names, _, _ in cases])
        coded = wide.with_columns(**codes)
        for i, (names, _, _) in enumerate(cases):
            for key in ("m", "v"):
                name = f"{key}{i}"
                assert coded.schema[name] == (pl.UInt16 if len(lists) <= 2**16 else pl.UInt32)
                assert [lists[c] for c in coded[name]] == [listed(names, m) for m in wide[name]]
        assert (len(lists) > 2**16) == (rows > 6)


def test_mean_growth_of_a_batch_agrees_row_by_row(policies: PolicySet) -> None:
    """The average growth, the one fact computed in Python, in a batch that mixes rows with
    every year known (growing, shrinking, to many decimals), a year unknown and a year of
    zero: the known rows get the reference's Decimal, the others stay unknown, each in its
    own row's place."""
    fact = "main_business_growth_2y_avg"
    years = (
        ("100万元", "105万元", "110.25万元"),
        ("100万元", None, "120万元"),
        ("300万元", "100万元", "700万元"),
        (None, None, None),
        ("0万元", "100万元", "200万元"),
        ("3万元", "7万元", "11.000001万元"),
        ("100万元", "0万元", "50万元"),
    )
    as_of = date(2026, 11, 24)
    profiles = [
        parse_profile({"financials": {
            2023 + i: {"main_business_revenue": v} for i, v in enumerate(row) if v is not None
        }})
        for row in years
    ]  # fmt: skip
    got = VectorisedSet(policies).fact_frame(frame_of(policies, profiles), as_of, [fact])[fact]
    for profile, text in zip(profiles, got.to_list(), strict=True):
        expected = policies.context(profile, as_of).get(fact)
        assert (None if text is None else Decimal(text)) == (
            expected if isinstance(expected, Decimal) else None
        ), profile
    assert got.null_count() == 4  # the unknown year, the empty row and the two zeros
