"""The register's fast paths say exactly what the per-row path says.

- orjson (`model.jsonio._by_orjson`) answers only for texts on which it agrees with the
  standard-library decoders, on generated JSON built to break it (keys written twice with and
  without spaces, escaped quotes and colons, numbers with fractions and exponents, long
  integers, deep nesting, surrogate escapes);
- `screen_register` (column-wise reading, validation and coded results) gives the same result
  rows and the same bad rows, with the same messages, as the per-row definition (`read_row`,
  `profile_to_row`, `rows_to_frame`, `VectorisedSet.evaluate`) on the generated registers of
  tests/test_fuzz_registers.py, hostile rows included, in each format;
- `screen -` reads standard input (format sniffed or given), JSON Lines and CSV batch by batch.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import REUSES_FIXTURES, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from register_support import AS_OF, invoke, result_rows, small_policies
from test_fuzz_registers import Register, csv_registers, jsonl_registers, parquet_registers

from incentives.engine import PolicySet
from incentives.engine.batch.cells import ABSENT, CellChecker
from incentives.engine.batch.columns import ROW, RowError, profile_to_row, rows_to_frame
from incentives.engine.batch.pipeline import read_row
from incentives.engine.batch.registers import (
    read_register,
    register_format,
    sniff_format,
    stream_register,
)
from incentives.engine.batch.results import presented
from incentives.engine.batch.screening import screen_register
from incentives.engine.batch.vectorised import VectorisedSet
from incentives.engine.errors import InputError
from incentives.engine.model.jsonio import _UNSURE, JsonError, _by_orjson, strict_json

# Examples per property test under the CI profile.
JSON_TEXTS, REGISTERS, AMOUNT_COLUMNS, LIST_COLUMNS = (
    examples(300), examples(12), examples(60), examples(60)
)
DAY = date.fromisoformat(AS_OF)
POLICIES = PolicySet()
VECTORISED = VectorisedSet(POLICIES)

# --- orjson ----------------------------------------------------------------------------------

KEYS = ['"a"', '"b"', '"a" ', '"\\u0061"', '"a\\":"', '"\\u0022:"', '"\\u003a"']
SCALARS = ["1", "-0", "12.5", "1e3", "1E-2", "9" * 19, "9" * 41, "NaN", "-Infinity", "true",
           "null", '"x"', '"\\ud800"', '"\\ud83d\\ude00"', '"a\\":b"', '" lead"', '"甲"',
           '"\\u7532"', '"tab\\t"', "0.0", "[]", "{}"]  # fmt: skip


@st.composite
def json_texts(draw: Any, depth: int = 0) -> str:
    """JSON-like text, mostly valid, built to hit every refusal of the strict reader."""
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(SCALARS))
    items = draw(st.lists(json_texts(depth + 1), max_size=4))
    if draw(st.booleans()):
        return "[" + ", ".join(items) + "]"
    keys = [draw(st.sampled_from(KEYS)) for _ in items]
    colon = draw(st.sampled_from([":", ": ", " :"]))
    return "{" + ", ".join(f"{k}{colon}{v}" for k, v in zip(keys, items, strict=True)) + "}"


def _typed(data: Any) -> Any:
    """`data` with every scalar tagged by its type (True == 1 == Decimal(1) in Python)."""
    if isinstance(data, dict):
        return {k: _typed(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_typed(v) for v in data]
    return (type(data).__name__, data)


@settings(max_examples=JSON_TEXTS)
@given(st.one_of(json_texts(), st.sampled_from(["[" * 40 + "]" * 40, '{"a": 1, "a": 1}'])))
def test_orjson_answers_only_as_the_strict_reader_does(text: str) -> None:
    fast = _by_orjson(text)
    if fast is _UNSURE:
        return
    try:
        strict = strict_json(text)
    except JsonError as exc:
        pytest.fail(f"orjson accepted {text!r}, which the strict reader refuses: {exc}")
    assert _typed(fast) == _typed(strict), text


def test_orjson_takes_the_usual_register_row() -> None:
    row = {"zone": "pingyao", "employees": 42, "facts": {"hnte_key_field": True}, "name": "甲"}
    text = json.dumps(row, ensure_ascii=False)
    assert _by_orjson(text) == row
    assert _by_orjson(text.replace("42", "42.5")) is _UNSURE  # a Decimal: the strict reader's
    assert _by_orjson('{"a": 1, "b": 2, "a": 3}') is _UNSURE


# --- fast path against the per-row path, whole registers ------------------------------------


Paths = tuple[list[dict[str, Any]], list[tuple[int, str]]]


def per_row(path: Path, fmt: str, size: int = 10) -> Paths:
    """Result rows (as written) and bad rows, every row through the per-row path."""
    results: list[dict[str, Any]] = []
    bad: list[tuple[int, str]] = []
    for batch in read_register(path, fmt, POLICIES.facts, batch_size=size):
        bad += batch.bad
        rows, profiles = [], []
        for i, number in enumerate(batch.cells.numbers):
            try:
                profile = read_row(batch.cells.record(i), batch.cells.flat, POLICIES)
                row = profile_to_row(profile, POLICIES.facts)
            except RowError as exc:
                bad.append((number, str(exc)))
                continue
            row[ROW] = number
            rows.append(row)
            profiles.append(profile)
        frame = rows_to_frame(rows, POLICIES.facts, [2025, 2024, 2023, 2022])
        results += presented(VECTORISED.evaluate(frame, DAY, profiles)).to_dicts()
    return results, sorted(bad)


def fast_path(path: Path, fmt: str, size: int = 10) -> Paths:
    """The same by `screen_register`, batch by batch."""
    out = io.BytesIO()
    summary = screen_register(POLICIES, path, DAY, out=out, fmt="jsonl", batch_size=size)
    assert summary.bad_count == len(summary.bad)
    return result_rows(out.getvalue(), "jsonl"), sorted(summary.bad)


def check_paths_agree(register: Register, tmp_path: Path) -> None:
    path = tmp_path / f"register{register.suffix}"
    path.write_bytes(register.data)
    fmt = register_format(path)
    try:
        expected = per_row(path, fmt)
    except InputError as refused:
        with pytest.raises(InputError) as caught:
            fast_path(path, fmt)
        assert str(caught.value) == str(refused)
        return
    assert fast_path(path, fmt) == expected


@settings(REUSES_FIXTURES, max_examples=REGISTERS)
@given(st.one_of(csv_registers(), jsonl_registers(), parquet_registers()))
def test_fast_and_per_row_paths_agree_on_generated_registers(
    tmp_path: Path, register: Register
) -> None:
    if "--encoding" in register.options:  # both paths read the same decoded lines
        return
    check_paths_agree(register, tmp_path)


def test_fast_and_per_row_paths_agree_on_the_synthetic_register(tmp_path: Path) -> None:
    """The benchmark's register (every column of a real one), with hostile rows mixed in."""
    from benchmarks.bench_screen import write_register

    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"register.{fmt}"
        write_register(path, fmt, 60)
        lines = path.read_bytes().splitlines(keepends=True)
        hostile = {
            "jsonl": [b'{"zone": "pingyao", "zone": "taiyuan"}\n', b'{"employees": 1.5}\n',
                      b'{"zone" : "pingyao", "employees": 12.000}\n', b'{"credit_code": "x"}\n',
                      b'{"tech_staff": 9, "employees": 3}\n'],
            "csv": [b"\n", b'"\n', b"x" * 3 + b"\n"],
        }[fmt]
        for i, line in enumerate(hostile):
            lines.insert(7 + 9 * i, line)
        path.write_bytes(b"".join(lines))
        results, bad = fast_path(path, fmt, 100)
        assert (results, bad) == per_row(path, fmt, 100)
        assert len(bad) == {"jsonl": 3, "csv": 2}[fmt] and len(results) > 40 * len(POLICIES)


def test_column_checks_keep_credit_codes_as_the_model_does() -> None:
    """Valid, lower-case, mistyped and short codes in one column: each as the per-cell path."""
    from incentives.engine.batch.column_checks import valid_credit_codes
    from incentives.engine.model.creditcode import credit_code_problem

    codes = ["91140700000000019U", "91140700000000019u", "91140700000000018U",
             "91140700000000027N", "9114070000000001", "91I40700000000019U", " 91140700000000019U"]  # fmt: skip
    expected = [c == c.strip().upper() and credit_code_problem(c) is None for c in codes]
    assert valid_credit_codes(pl.Series(codes)).to_list() == expected
    checker = CellChecker(POLICIES)
    one_by_one = [checker.one_cell("credit_code", c, True) for c in codes]
    values, bad = checker.convert("credit_code", codes, flat=True)
    assert bad == [i for i, v in enumerate(one_by_one) if v is ABSENT]
    assert values == [None if v is ABSENT else v for v in one_by_one]


@st.composite
def credit_codes(draw: Any) -> str:
    """A valid credit code, or one with a character changed (to one in or out of the set,
    lower case, full width), cut short or grown."""
    from incentives.engine.model.creditcode import CHARSET, check_character, org_check_character

    org = draw(st.text(CHARSET, min_size=8, max_size=8))
    division = draw(st.text(CHARSET, min_size=2, max_size=2))
    first17 = division + draw(st.from_regex(r"[0-9]{6}", fullmatch=True)) + org
    first17 += org_check_character(org)
    code = first17 + (check_character(first17) if first17[-1] in CHARSET else "0")
    at = draw(st.integers(0, 19))
    change = draw(st.sampled_from(["", "", "I", "Z", "a", "x", " ", "０", "é", *CHARSET[::5]]))
    return code[:at] + change + code[at + (1 if change else 0) :][: draw(st.integers(16, 19))]


@settings(max_examples=AMOUNT_COLUMNS)
@given(st.lists(credit_codes(), min_size=1, max_size=40))
def test_credit_codes_are_checked_by_columns_as_one_by_one(codes: list[str]) -> None:
    """`column_checks.valid_credit_codes` on a column: valid exactly where the per-cell check
    (`credit_code_problem`, as written) finds nothing wrong."""
    from incentives.engine.batch.column_checks import valid_credit_codes
    from incentives.engine.model.creditcode import credit_code_problem

    expected = [c == c.strip().upper() and credit_code_problem(c) is None for c in codes]
    assert valid_credit_codes(pl.Series(codes, dtype=pl.String)).to_list() == expected


AMOUNT_SUFFIXES = ["", "元", "万元", "亿元", "yuan", "CNY", "人", "万", "亿", "%", "万元/吨", "吨", " 万元",
                   "万元 ", "元元", "ｙｕａｎ"]  # fmt: skip


@st.composite
def amount_texts(draw: Any) -> str:
    """`<sign><digits>[.<digits>]<suffix>`, mostly what a register writes, some hostile."""
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    whole = draw(st.from_regex(r"[0-9]{1,17}", fullmatch=True))
    fraction = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{0,16}", fullmatch=True)))
    return sign + whole + fraction + draw(st.sampled_from(AMOUNT_SUFFIXES))


@settings(max_examples=AMOUNT_COLUMNS)
@given(st.lists(amount_texts(), min_size=1, max_size=30))
def test_amounts_with_units_are_read_as_the_model_reads_them(texts: list[str]) -> None:
    """A money and a head-count column of amounts with units (`1200万元`, `12人`, hostile ones
    among them): the column-wise reading keeps, refuses and converts each cell exactly as a
    row of that cell alone through the `Profile` model does."""
    checker = CellChecker(POLICIES)
    for name in ("financials.2025.revenue", "financials.2025.taxable_income", "employees"):
        expected = [checker.one_cell(name, text, True) for text in texts]
        values, bad = CellChecker(POLICIES).convert(name, texts, flat=True)
        assert bad == [i for i, v in enumerate(expected) if v is ABSENT], name
        assert values == [None if v is ABSENT else v for v in expected], name


@settings(max_examples=AMOUNT_COLUMNS)
@given(st.lists(amount_texts() | st.from_regex(r"-?[0-9]{0,40}\.?[0-9]{0,9}", fullmatch=True),
                min_size=1, max_size=30))  # fmt: skip
def test_plain_decimals_are_read_by_columns_as_one_by_one(texts: list[str]) -> None:
    """`column_checks.plain_micro` without units: the millionths `cells._micro_text` reads from
    each text of the plain shape, null for every other (huge digit runs among them)."""
    from incentives.engine.batch.cells import _micro_text
    from incentives.engine.batch.column_checks import PLAIN, SIGNED, plain_micro

    for signed, pattern in ((False, PLAIN), (True, SIGNED)):
        expected = [_micro_text(t) if re.fullmatch(pattern, t) else None for t in texts]
        assert plain_micro(pl.Series(texts, dtype=pl.String), signed).to_list() == expected


IP_ITEMS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["invention_patent", "trademark", "utility_model", "patent", None])},
    optional={
        "count": st.sampled_from([1, 3, 0, -1, True, "2", Decimal("2"), Decimal("1.5"), None]),
        "acquisition": st.sampled_from(["self_developed", "transfer", "bought", None]),
        "main_product": st.sampled_from([True, False, None, "yes", 1]),
        "granted": st.sampled_from(["2024-01-14", "2024-02-30", "20240114", None, 3]),
        "extra": st.just(1),
    },
)
CERT_ITEMS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["hnte", "little_giant", "gold"]),
     "issued": st.sampled_from(["2025-01-01", "2025-1-1", None])},
    optional={"expires": st.sampled_from(["2027-12-31", "2024-01-01", None]),
              "number": st.sampled_from(["GR2025", 7, None])},
)  # fmt: skip


def _number(value: Decimal) -> int | float:
    """A Decimal as a JSON number (read back as a Decimal by the register's JSON reader)."""
    return int(value) if value == value.to_integral_value() else float(value)


@settings(max_examples=LIST_COLUMNS)
@given(
    st.lists(st.one_of(st.lists(IP_ITEMS, max_size=3), st.sampled_from([None, "x", [None]])),
             min_size=1, max_size=12),
    st.lists(st.lists(CERT_ITEMS, max_size=2), min_size=1, max_size=12),
)  # fmt: skip
def test_list_cells_are_judged_as_the_model_judges_them(
    ip: list[Any], certificates: list[Any]
) -> None:
    """IP and certificate lists, as JSON text (CSV) and as parsed values (JSON Lines), hostile
    items among them: kept, refused and converted as a row of that cell alone through the
    `Profile` model."""
    for name, cells in (("intellectual_property", ip), ("certifications", certificates)):
        for flat in (True, False):
            column = [json.dumps(c, default=_number) for c in cells] if flat else cells
            expected = [CellChecker(POLICIES).one_cell(name, c, flat) for c in column]
            values, bad = CellChecker(POLICIES).convert(name, column, flat=flat)
            assert bad == [i for i, v in enumerate(expected) if v is ABSENT], (name, flat)
            assert values == [None if v is ABSENT else v for v in expected], (name, flat)


HOSTILE_LIST_TEXTS = [
    '[{"kind": "trademark", "kind": "utility_model"}]',  # a key twice: json.loads keeps the last
    '[{"kind": "trademark", "count": NaN}]',
    '[{"kind": "trademark", "count": 1e2}]',
    '[{"kind": "trademark", "count": 2.0}]',
    '[{"kind": "trademark", "count": 99999999999999999999999}]',
    '[{"kind": "trademark", "granted": "2024-01-14"}, {"kind": "trademark"}]',
    '["\\ud800"]',
    "\ufeff[]",
    " [ ]\n",
    "[]]",
    '[{"kind": "trademark", "count": 3}, {"kind": "trademark", "count": 3}]',
    '[{"kind": "trademark", "count": 3}, {"kind": "patent"}]',
    "null",
    '"[]"',
]


def test_list_texts_are_read_as_the_model_reads_them() -> None:
    """List texts of a flat register that the strict JSON reader refuses or reads unlike
    `json.loads` (keys twice, NaN, exponents, huge integers, lone surrogates, a byte-order
    mark), and repeated items: as a row of that cell alone."""
    name = "intellectual_property"
    expected = [CellChecker(POLICIES).one_cell(name, c, True) for c in HOSTILE_LIST_TEXTS]
    values, bad = CellChecker(POLICIES).convert(name, HOSTILE_LIST_TEXTS, flat=True)
    assert bad == [i for i, v in enumerate(expected) if v is ABSENT]
    assert values == [None if v is ABSENT else v for v in expected]
    assert len(bad) < len(HOSTILE_LIST_TEXTS) - 2  # some are accepted


# --- standard input --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_screen_reads_standard_input_as_it_reads_a_file(tmp_path: Path, fmt: str) -> None:
    policies = small_policies(tmp_path / "policies")
    rows = pl.DataFrame({"zone": ["pingyao", "taiyuan", "atlantis"], "employees": ["12", "x", "9"]})
    path = tmp_path / f"register.{fmt}"
    {"jsonl": rows.write_ndjson, "csv": rows.write_csv, "parquet": rows.write_parquet}[fmt](path)
    args = ["--as-of", AS_OF, "--format", "jsonl", "--policies", str(policies)]
    from_file = invoke(["screen", str(path), *args])
    sniffed = invoke(["screen", "-", *args], stdin=path.read_bytes())
    named = invoke(["screen", "-", "--register-format", fmt, *args], stdin=path.read_bytes())
    assert from_file.code == sniffed.code == named.code == 0
    assert sniffed.stdout == named.stdout == from_file.stdout
    assert len(result_rows(sniffed.stdout, "jsonl")) == 1
    assert sniffed.stderr == from_file.stderr.replace(str(path), "standard input")
    assert "1 enterprises screened, 2 bad rows" in sniffed.stderr


def test_sniffing_a_register() -> None:
    assert sniff_format(b"PAR1\x15\x04") == "parquet"
    assert sniff_format(b'\xef\xbb\xbf\n  {"zone": "pingyao"}') == "jsonl"
    assert sniff_format('{"zone": 1}'.encode("utf-16-le")) == "jsonl"
    assert sniff_format(b"zone,employees\n") == "csv"
    assert sniff_format(b"") == "csv"


class _Trickle(io.RawIOBase):
    """A stream of `lines` that records how far it has been read."""

    def __init__(self, lines: list[bytes]) -> None:
        self.data = b"".join(lines)
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), 4096, len(self.data) - self.served)
        buffer[:size] = self.data[self.served : self.served + size]
        self.served += size
        return size


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_stream_is_read_batch_by_batch(fmt: str) -> None:
    """The first batch comes out before the stream has been read to its end."""
    if fmt == "jsonl":
        lines = [json.dumps({"zone": "pingyao", "employees": i}).encode() + b"\n"
                 for i in range(20_000)]  # fmt: skip
    else:
        lines = [b"zone,employees\n", *(f"pingyao,{i}\n".encode() for i in range(20_000))]
    raw = _Trickle(lines)
    handle, sniffed = stream_register(io.BufferedReader(raw), None)
    assert sniffed == fmt
    batches = read_register(handle, fmt, POLICIES.facts, batch_size=1000)
    first = next(batches)
    assert len(first.cells.numbers) == 1000 and raw.served < len(raw.data) // 4
    assert sum(len(b.cells.numbers) for b in batches) == 19_000


def test_decimal_rows_take_the_strict_reader() -> None:
    """A fraction in JSON is a Decimal (never a float), whichever reader parses the row."""
    from incentives.engine.model.jsonio import load_json

    assert load_json('{"employees": 12, "x": 0.1}') == {"employees": 12, "x": Decimal("0.1")}
