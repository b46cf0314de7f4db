"""A reactive session validates only what an update changed (`changes.revalidate`: the changed
fields assigned to a copy of the profile through the model's own validators). Whatever the
update, hostile values included, the outcome is a whole validation's: the same profile (same
values, same types, same order) or the same refusal, message for message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from conftest import AS_OF, HNTE_BASE, examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, parse_profile
from incentives.engine.errors import ProfileError
from incentives.engine.model.profile import FinancialYear, Profile
from incentives.engine.reactive.changes import (
    _field_validators,
    _rechecks,
    changed,
    changed_inputs,
    forgotten,
    merged,
    revalidate,
    written_by_retract,
    written_by_set,
)
from incentives.engine.testing import profile_data

# Examples under the CI profile, in one place.
UPDATES = examples(150)

FILE = "enterprise E1"
# Values that are valid somewhere, invalid elsewhere, or invalid everywhere.
HOSTILE: list[Any] = [
    None, True, False, 0, 1, -1, 7, 10**30, "0", "12", "-5", "20万元", "3%", "1e999",
    "1,2000万元", "2025-02-30", "2024-01-01", "abc", "", " 10 ", Decimal("NaN"),
    Decimal("1E+40"), Decimal("0.5"), 1.5, [], ["a"], [1, 2], {}, {"x": 1},
    date(2025, 3, 1), "C4210", "4210", "91140171MA0K000214", "taiyuan", "nowhere",
]  # fmt: skip
TOP = [
    "employees", "tech_staff", "rd_staff", "workforce", "zone", "name", "credit_code",
    "industry_code", "registration_date", "resident_enterprise", "synthetic", "certifications",
    "compliance", "projects", "intellectual_property", "no_such_field", "financials", "facts",
]  # fmt: skip
LINES = [
    "revenue", "rd_expense", "rd_expense_domestic", "rd_expensed", "rd_capitalised",
    "rd_expensed_q4", "taxable_income", "total_assets", "income_by_industry", "revenu",
]  # fmt: skip
YEARS = ["2023", "2024", "2025", "02025", "1800", "x"]
FACTS = ["hnte_key_field", "hnte_innovation_score", "hnte_core_ip_role", "undeclared_fact"]

value = st.one_of(st.sampled_from(HOSTILE), st.integers(-10, 400), st.decimals(allow_nan=False))
path_value = st.one_of(
    st.tuples(st.sampled_from(TOP), value).map(lambda t: {t[0]: t[1]}),
    st.tuples(st.sampled_from(YEARS), st.sampled_from(LINES), value).map(
        lambda t: {"financials": {t[0]: {t[1]: t[2]}}}
    ),
    st.tuples(st.sampled_from(YEARS), value).map(lambda t: {"financials": {t[0]: t[1]}}),
    st.tuples(st.sampled_from(FACTS), value).map(lambda t: {"facts": {t[0]: t[1]}}),
)
retract = st.one_of(
    st.sampled_from(TOP),
    st.tuples(st.sampled_from(YEARS), st.sampled_from(LINES)).map(lambda t: f"financials.{t[0]}.{t[1]}"),
    st.sampled_from(YEARS).map(lambda y: f"financials.{y}"),
    st.sampled_from(FACTS).map(lambda f: f"facts.{f}"),
)
change = st.one_of(
    st.lists(path_value, min_size=1, max_size=3).map(lambda sets: ("set", sets)),
    st.lists(retract, min_size=1, max_size=3).map(lambda paths: ("retract", paths)),
)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        profile = call()
    except ProfileError as exc:
        return "refused", (exc.summary, [(p.message, p.field, p.line) for p in exc.problems])
    return "profile", (repr(profile), [type(v) for v in profile.__dict__.values()])


def _apply(raw: dict[str, Any], kind: str, items: list[Any]) -> dict[str, Any]:
    for item in items:
        raw = merged(raw, item) if kind == "set" else forgotten(raw, item)
    return raw


POLICIES = PolicySet()


@settings(max_examples=UPDATES)
@given(
    start=st.one_of(st.just(HNTE_BASE), profile_data(POLICIES, AS_OF)),
    steps=st.lists(change, min_size=1, max_size=3),
)
def test_validating_what_changed_is_validating_the_whole(
    start: dict[str, Any], steps: list[tuple[str, list[Any]]]
) -> None:
    raw = merged({}, start)
    try:
        profile = parse_profile(raw, file=FILE)
    except ProfileError:  # an impossible start (more 科技人员 than 职工): nothing to update
        assume(False)
    for kind, items in steps:
        new = _apply(raw, kind, items)
        diff = changed(raw, new)
        whole = _outcome(partial(parse_profile, dict(new), file=FILE))
        part = partial(revalidate, profile, raw, new, diff, file=FILE)
        assert _outcome(part) == whole, (kind, items)
        if whole[0] == "profile":  # go on from the accepted profile, as a session does
            raw, profile = new, part()
            assert isinstance(profile, Profile) and profile.source is not None
            # every field the data states is set on the profile (the copies keep what was)
            stated = parse_profile(dict(new), file=FILE).__pydantic_fields_set__
            assert stated <= profile.__pydantic_fields_set__, (kind, items)


@settings(max_examples=UPDATES)
@given(
    start=st.one_of(st.just(HNTE_BASE), profile_data(POLICIES, AS_OF)),
    steps=st.lists(change, min_size=1, max_size=3),
)
def test_comparing_along_the_written_paths_is_comparing_everything(
    start: dict[str, Any], steps: list[tuple[str, list[Any]]]
) -> None:
    """A session compares the data before and after an update only along the paths it writes:
    the changes and changed inputs are those of comparing the whole data."""
    raw = merged({}, start)
    for kind, items in steps:
        # a set update is one mapping; a retract update may name several paths
        updates = [[item] for item in items] if kind == "set" else [items]
        for update in updates:
            new = _apply(raw, kind, update)
            written = written_by_set(update[0]) if kind == "set" else written_by_retract(update)
            whole = changed(raw, new)
            assert changed(raw, new, written) == whole, (kind, update)
            found = changed_inputs(whole, raw, new, written)
            assert found == changed_inputs(whole, raw, new), (kind, update)
            raw = new


def test_a_field_read_by_another_is_assigned_through_the_model() -> None:
    """A field validated by its own schema (`changes._field_validators`) is one whose validators
    read no other field; a part checked against its whole is not. The model's after-validator
    still runs on a field validated alone: lowering a year's whole R&D below its expensed and
    capitalised parts is refused as a whole validation refuses it."""
    own, after = _field_validators(FinancialYear)
    assert "rd_expense" in own and "taxable_income" in own and after
    assert not own.keys() & {"rd_expensed", "rd_capitalised", "rd_expense_domestic"}
    assert not _field_validators(Profile)[0].keys() & {"tech_staff", "rd_staff", "financials"}
    year = {"rd_expense": "100", "rd_expensed": "60", "rd_capitalised": "30"}
    raw = merged({}, {**HNTE_BASE, "financials": {"2025": year}})
    profile = parse_profile(raw, file=FILE)
    kinds = []
    for line, value in (("rd_expense", "80"), ("rd_expense", "95"), ("taxable_income", "5")):
        new = merged(raw, {"financials": {"2025": {line: value}}})
        whole = _outcome(partial(parse_profile, dict(new), file=FILE))
        part = _outcome(partial(revalidate, profile, raw, new, changed(raw, new), file=FILE))
        assert part == whole, (line, value)
        kinds.append(whole[0])
    assert kinds == ["refused", "profile", "profile"]


def test_a_part_whose_whole_changed_is_checked_again_by_its_own_validators() -> None:
    """A part whose whole changed is given again to the validators that read the whole alone
    (`changes._rechecks`: fields whose only such validators are after-validators of the field);
    a field with a validator of another mode is not. Lowering 职工 below 科技人员 or a year's
    销售收入 below its 主营业务收入 is refused as a whole validation refuses it."""
    assert {"tech_staff", "rd_staff"} <= _rechecks(Profile).keys()
    assert "credit_code" not in _rechecks(Profile)  # its before-validator reads the raw value
    assert {"main_business_revenue", "rd_expensed"} <= _rechecks(FinancialYear).keys()
    start = {**HNTE_BASE, "employees": 100, "tech_staff": 20, "rd_staff": 15,
             "financials": {"2025": {"revenue": "500", "main_business_revenue": "400"}}}  # fmt: skip
    raw = merged({}, start)
    profile = parse_profile(raw, file=FILE)
    kinds = []
    for update in ({"employees": 18}, {"employees": 20}, {"employees": "120"},
                   {"financials": {"2025": {"revenue": "399"}}},
                   {"financials": {"2025": {"revenue": "400"}}}):  # fmt: skip
        new = merged(raw, update)
        whole = _outcome(partial(parse_profile, dict(new), file=FILE))
        part = _outcome(partial(revalidate, profile, raw, new, changed(raw, new), file=FILE))
        assert part == whole, update
        kinds.append(whole[0])
    assert kinds == ["refused", "profile", "profile", "refused", "profile"]
