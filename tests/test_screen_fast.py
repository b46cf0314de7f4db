"""The column-wise screening path (`engine.batch.cells`) accepts and rejects exactly the rows the
per-row `Profile` path does, with the same messages, and builds the same evaluation frame.

Registers are generated with hypothesis from cells that are valid, invalid (bad numbers, bad units,
too many decimals, bad dates, bad credit codes, bad enum values, unknown zones and columns,
undeclared facts, bad JSON lists) or empty, as CSV text, as typed Parquet values and as nested
JSON profiles."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from incentives.engine import PolicySet
from incentives.engine.batch.cells import CellChecker, flat_cells, nested_cells
from incentives.engine.batch.columns import (
    ROW,
    RowError,
    profile_to_row,
    rows_to_frame,
)
from incentives.engine.batch.pipeline import (
    read_row,
    record_cells,
    screen_batch,
    validated_frame,
)
from incentives.engine.batch.vectorised import VectorisedSet

POLICIES = PolicySet()
CHECKER = CellChecker(POLICIES)  # shared, as in a run: its caches must never leak across rows
YEARS = [2025, 2024, 2023, 2022]
# Examples per property test under the CI profile.
CSV_REGISTERS, PARQUET_REGISTERS, JSONL_REGISTERS, RAGGED_CSV = (
    examples(120), examples(120), examples(100), examples(40)
)
AS_OF = date(2026, 11, 24)

GOOD_CODE = "91140700000000019U"
NUMBERS = ["0", "12", "12.5", "007", "1234567.123456", "1.1234567", "-3", "-0", "20万元", "3%",
           "1,200", " 7 ", "1e5", "abc", "999999999999999", "1000000000000000", "12人", "-12.5",
           "1.5亿元", "0.000001", "１２", "1200万元", "-5万元", "0.1234567890万元", "0.12345678901万元",
           "12元", "12yuan", "12CNY", "12 万元", "+5万元", "99999999999万元", "100000000000万元",
           "1.5亿", "007万元", "12万吨", "3元/吨", "12.5人", "1,200万元", "2024-01-14元"]  # fmt: skip
DATES = ["2024-01-14", "2024-02-30", "0999-01-01", "20240114", "2024-1-4", "x", "2024-01-14 "]
BOOLS = ["true", "false", "1", "0", "yes", "no", "TRUE", " true", "maybe", "2"]
CODES = [GOOD_CODE, GOOD_CODE.lower(), f" {GOOD_CODE}", "91140700000000019A", "9114070000",
         "91140700000000027N", "91I40700000000019U"]  # fmt: skip
LISTS = ["[]", '[{"kind": "invention_patent", "count": 2}]', "[", "[{}]", "null", "{}",
         '[{"kind": "trademark", "count": 0}]', '[{"kind": "utility_model", "granted": "2024-13-01"}]',
         '[{"kind": "hnte", "issued": "2025-01-01", "expires": "2024-01-01"}]',
         '[{"kind": "hnte", "issued": "2025-01-01"}]', '[{"kind": "little_giant", "issued": 3}]',
         '[{"occurred": "2025-03-01", "kind": "safety_accident", "severity": "major"}]',
         '[{"name": "line 2", "investment": "20万元"}]', '[{"name": "x", "investment": -1}]',
         '[{"kind": "utility_model", "count": 1.5}]',
         '[{"kind": "invention_patent", "count": 2, "acquisition": "self_developed", "main_product": true, "granted": null}]',
         '[{"kind": "utility_model", "count": true}]', '[{"kind": "utility_model", "count": "3"}]',
         '[{"kind": "trademark", "kind": "utility_model"}]', '[{"kind": "software_copyright", "extra": 1}]',
         '[{"kind": "design_patent", "granted": "2024-02-30"}, {"kind": "trademark"}]',
         '[{"kind": "hnte", "issued": "2025-01-01", "expires": null, "number": "GR2025"}]',
         '[{"kind": "hnte", "issued": "2025-1-1"}]', '[{"occurred": "2025-03-01", "kind": "other"}]',
         '[{"occurred": "2025-03-01", "kind": "tax_violation", "severity": "general", "description": "罚款"}]',
         '[null]', '["x"]', '{"kind": "hnte"}', '[{"kind": "utility_model", "count": 2.0}]']  # fmt: skip
TYPED = [12, -4, 0, Decimal("1.5"), Decimal("1.1234567"), Decimal("1E+3"), Decimal("NaN"), True,
         False, date(2024, 1, 1), 1.5, None, 10**15, ["a"], [{"kind": "hnte", "issued": "2025-01-01"}], Decimal("sNaN"),
         [{"kind": "utility_model", "count": 2}], [{"kind": "trademark", "granted": date(2024, 1, 1)}],
         [{"kind": "trademark", "count": Decimal("2")}], [{"occurred": "2025-03-01"}]]  # fmt: skip

CELLS: dict[str, list[Any]] = {
    "credit_code": CODES,
    "name": ["甲公司", " ", "x"],
    "synthetic": BOOLS,
    "zone": ["pingyao", "jinzhong-dz", "atlantis", "Pingyao"],
    "registration_date": DATES,
    "industry_code": ["C4210", "4210", "Z99", "c4210", "C9999"],
    "resident_enterprise": BOOLS,
    "employees": NUMBERS,
    "tech_staff": NUMBERS,
    "compliance.tax_credit_rating": ["A", "B", "M", "E", "a"],
    "compliance.abnormal_operations_list": BOOLS,
    "financials.2025.revenue": NUMBERS,
    "financials.2025.taxable_income": NUMBERS,
    "financials.2024.rd_expense": NUMBERS,
    "financials.2021.net_assets": NUMBERS,
    "financials.02025.revenue": NUMBERS,
    "financials.1900.revenue": NUMBERS,
    "financials.2025.bogus": NUMBERS,
    "facts.hnte_key_field": BOOLS,
    "facts.hnte_innovation_score": NUMBERS,
    "facts.hnte_latest_issued": DATES,
    "facts.undeclared": ["1", "x"],
    "intellectual_property": LISTS,
    "certifications": LISTS,
    "compliance.records": LISTS,
    "projects": LISTS,
    "row": ["7", "x"],
    "surprise": ["x"],
}
HEADER_NAMES = sorted(CELLS)
UNKNOWN_COLUMNS = {"financials.2025.bogus", "surprise"}  # no register has them: CSV refuses them
COMPLIANCE = [None, {}, {"tax_credit_rating": "A"}, {"tax_credit_rating": "E"}, {"records": []},
              {"records": [{}]}, {"bogus": 1}, "x", {"abnormal_operations_list": "yes"}]  # fmt: skip


def _cell(name: str, typed: bool) -> st.SearchStrategy[Any]:
    text = st.sampled_from(CELLS[name])
    empty = st.sampled_from(["", None] if typed else [""])
    choices = [text, text, empty, empty]  # mostly valid-or-empty registers, some bad cells
    if typed:
        choices.append(st.sampled_from(TYPED))
    return st.one_of(*choices)


@st.composite
def flat_register(draw: Any, typed: bool) -> tuple[list[str], list[list[Any]]]:
    """Column names (mostly known, some odd) and rows of cells."""
    weights = st.sampled_from(HEADER_NAMES)
    header = draw(st.lists(weights, min_size=1, max_size=10, unique=True))
    rows = draw(
        st.lists(st.tuples(*[_cell(n, typed) for n in header]).map(list), min_size=1, max_size=8)
    )
    return header, rows


def per_row(
    numbered: list[tuple[int, Any]], flat: bool
) -> tuple[Any, list[tuple[int, str]]]:  # fmt: skip
    """The per-row definition: `read_row`, `profile_to_row`, `rows_to_frame` (as before)."""
    rows, bad = [], []
    for number, data in numbered:
        try:
            profile = read_row(data, flat, POLICIES)
            row = profile_to_row(profile, POLICIES.facts)
        except RowError as exc:
            bad.append((number, str(exc)))
            continue
        row[ROW] = number
        rows.append(row)
    return rows_to_frame(rows, POLICIES.facts, YEARS), bad


def assert_same(batch: Any, numbered: list[tuple[int, Any]], flat: bool) -> None:
    frame, bad, _, _ = validated_frame(CHECKER, batch, YEARS)
    expected_frame, expected_bad = per_row(numbered, flat)
    assert bad == expected_bad
    assert_frame_equal(frame, expected_frame)


@settings(max_examples=CSV_REGISTERS)
@given(flat_register(typed=False))
def test_csv_cells_agree_with_profile_path(register: tuple[list[str], list[list[Any]]]) -> None:
    header, rows = register
    numbered = [(i + 2, dict(zip(header, r, strict=True))) for i, r in enumerate(rows)]
    columns = [[r[j] for r in rows] for j in range(len(header))]
    batch = flat_cells([n for n, _ in numbered], header, columns, lambda i: numbered[i][1])
    assert_same(batch, numbered, flat=True)


@settings(max_examples=PARQUET_REGISTERS)
@given(flat_register(typed=True))
def test_typed_parquet_cells_agree_with_profile_path(
    register: tuple[list[str], list[list[Any]]],
) -> None:
    header, rows = register
    numbered: list[tuple[int, Any]] = [
        (i + 1, dict(zip(header, r, strict=True))) for i, r in enumerate(rows)
    ]
    if len(rows) > 2:  # records that are not mappings, or carry csv.DictReader's surplus cells
        numbered[1] = (2, ["not", "a", "mapping"])
        numbered[2] = (3, {**numbered[2][1], None: ["surplus"]})
    assert_same(record_cells(numbered), numbered, flat=True)


def _json_value(name: str) -> st.SearchStrategy[Any]:
    pool = CELLS[name]
    parsed = [json.loads(v, parse_float=Decimal) for v in pool if _is_json(v)]
    return st.one_of(
        st.sampled_from(pool), st.sampled_from(TYPED[:10]), st.sampled_from(parsed or [None])
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@st.composite
def nested_profile(draw: Any) -> Any:
    """A JSON profile: known and unknown fields, odd shapes now and then."""
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([[1, 2], "x", 3, ValueError("invalid JSON: boom")]))
    data: dict[str, Any] = {}
    top = [n for n in HEADER_NAMES if "." not in n]
    for name in draw(st.lists(st.sampled_from(top), max_size=6, unique=True)):
        data[name] = draw(_json_value(name))
    if draw(st.booleans()):
        year = draw(st.sampled_from(["2025", "2024", "02025", "1900", "x"]))
        line = draw(st.sampled_from(["revenue", "taxable_income", "bogus"]))
        data["financials"] = {year: {line: draw(_json_value("employees"))}}
        if draw(st.integers(0, 6)) == 0:
            data["financials"] = draw(st.sampled_from([None, [], {"2025": None}, "x"]))
    if draw(st.booleans()):
        data["facts"] = {
            "hnte_key_field": draw(st.one_of(st.booleans(), st.sampled_from(BOOLS))),
            "hnte_innovation_score": draw(_json_value("employees")),
        }
        if draw(st.integers(0, 6)) == 0:
            data["facts"] = draw(st.sampled_from([None, {"undeclared": 1}, [], {"a.b": 1}]))
    if draw(st.booleans()):
        data["compliance"] = draw(st.sampled_from(COMPLIANCE))
    if draw(st.integers(0, 10)) == 0:
        data[draw(st.sampled_from(["compliance.records", "financials.2025.revenue", "row"]))] = 1
    return data


@settings(max_examples=JSONL_REGISTERS)
@given(st.lists(nested_profile(), min_size=1, max_size=8))
# JSON text where a list belongs: refused in JSON Lines (it is read as JSON only in CSV)
@example([{"certifications": "[]"}, {"intellectual_property": "[]"}])
# shapes cut column by column that make a row a suspect (a year of non-ASCII digits among them)
@example([{"financials": {"\u00b2": {}}}, {"financials": {"02025": {"revenue": 1}}}, [1]])
@example([{"facts": None}, {"compliance": "x"}, {"compliance": None}, {"financials": None}])
@example([{"financials": {"2025": None}}, {"financials": {"2025": {"a.b": 1}}}, {"a.b": 1}])
@example([{"facts": {"x.y": 1}}, {"zone": "pingyao", "financials": {"2025": {"revenue": 1}}}])
def test_json_lines_agree_with_profile_path(profiles: list[Any]) -> None:
    numbered = [(i + 1, p) for i, p in enumerate(profiles)]
    assert_same(nested_cells(numbered), numbered, flat=False)


@settings(max_examples=RAGGED_CSV)
@given(
    flat_register(typed=False),
    st.lists(st.sampled_from(["blank", "short", "long", "dup"]), max_size=3),
)
def test_csv_reader_numbers_rows_and_sets_ragged_ones_aside(
    register: tuple[list[str], list[list[Any]]], oddities: list[str]
) -> None:
    """`screen`'s CSV reader against the csv module: records numbered from the header (blank lines
    not counted), a row with fewer or more cells than the header a bad row of its own, a header
    naming a column twice or a column no register has a refusal; the rows it keeps validate as the per-row path says."""
    from incentives.engine.batch.registers import RegisterError, read_register

    header, rows = register
    lines: list[list[str]] = [list(header)] + [[str(c) for c in r] for r in rows]
    for odd in oddities:
        if odd == "blank":
            lines.insert(len(lines) // 2 + 1, [])
        elif odd == "short":
            lines.append(lines[-1][:-1] if len(lines[-1]) > 1 else [])
        elif odd == "long":
            lines.append(lines[-1] + ["x"])
        elif odd == "dup":
            lines[0] = lines[0] + [lines[0][0]]
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    records = [r for r in csv.reader(io.StringIO(text.getvalue())) if r]
    names = records[0]
    numbered = [(n, dict(zip(names, r, strict=True)))
                for n, r in enumerate(records[1:], start=2) if len(r) == len(names)]  # fmt: skip
    ragged = [n for n, r in enumerate(records[1:], start=2) if len(r) != len(names)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "register.csv"
        path.write_text(text.getvalue(), encoding="utf-8")
        batches = read_register(path, "csv", POLICIES.facts)
        if UNKNOWN_COLUMNS & set(names):
            with pytest.raises(RegisterError, match="unknown column"):
                list(batches)
            return
        if len(set(names)) != len(names):
            with pytest.raises(RegisterError, match="named twice in the header"):
                list(batches)
            return
        read = list(batches)
    assert [n for batch in read for n, _ in batch.bad] == ragged
    assert all("than the" in message for batch in read for _, message in batch.bad)
    expected_frame, expected_bad = per_row(numbered, flat=True)
    got = [validated_frame(CHECKER, batch.cells, YEARS) for batch in read]
    assert [b for _, bad, _, _ in got for b in bad] == expected_bad
    if got:
        assert_frame_equal(got[0][0], expected_frame)


def test_bad_rows_keep_every_invalid_field_and_good_rows_survive() -> None:
    header = ["employees", "zone", "registration_date", "financials.2025.revenue"]
    rows = [
        ["12", "pingyao", "2024-01-14", "20万元"],
        ["-3", "atlantis", "2024-02-30", "abc"],
        ["", "", "", ""],
    ]
    numbered = [(i + 2, dict(zip(header, r, strict=True))) for i, r in enumerate(rows)]
    columns = [[r[j] for r in rows] for j in range(len(header))]
    batch = flat_cells([2, 3, 4], header, columns, lambda i: numbered[i][1])
    frame, bad, _, _ = validated_frame(CHECKER, batch, YEARS)
    assert frame[ROW].to_list() == [2, 4]
    assert frame["financials.2025.revenue"].to_list() == [200_000 * 10**6, None]
    assert [n for n, _ in bad] == [3]
    message = bad[0][1]
    for field in ("employees", "registration_date", "financials.2025.revenue"):
        assert field in message


def test_screen_batch_builds_profiles_only_when_needed() -> None:
    """Profiles only for the reference fallback (then for every valid row) or for --explain."""
    lines = [{"zone": "pingyao", "employees": 12}, {"employees": "many"}, {"zone": "taiyuan"}]
    numbered = list(enumerate(lines, start=1))
    vectorised = VectorisedSet(POLICIES)
    result, bad, profiles = screen_batch(vectorised, numbered, AS_OF, flat=False, explain=[3])
    assert [n for n, _ in bad] == [2]
    assert set(result[ROW].to_list()) == {1, 3}
    if vectorised.fallback:
        assert set(profiles) == {1, 3}
        fallback = result.filter(result["policy_id"].is_in(list(vectorised.fallback)))
        assert set(fallback[ROW].to_list()) == {1, 3}
    else:
        assert set(profiles) == {3}
    assert profiles[3].zone == "taiyuan"
