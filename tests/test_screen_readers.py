"""The fast register readers (Polars straight into columns) say exactly what the strict readers
say: the same rows with the same cells and numbers, the same bad rows with the same messages,
the same refusals, the same evaluation frames (`pipeline.validated_frame`, which the evaluation
and the writers only read), on generated registers, hostile ones included, read in batches
small enough that the fast reading gives way to the strict one and takes over again inside a
register; and the same written results and bad rows of `screen_register` on the benchmark's
register with hostile rows mixed in.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import REUSES_FIXTURES, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from register_support import AS_OF
from test_fuzz_registers import Register, csv_registers, jsonl_registers, parquet_registers

from incentives.engine import PolicySet
from incentives.engine.batch.cells import CellChecker
from incentives.engine.batch.pipeline import validated_frame
from incentives.engine.batch.registers import read_register, register_format
from incentives.engine.batch.screening import screen_register
from incentives.engine.errors import InputError

# Examples per property test under the CI profile.
REGISTERS, PLAIN_REGISTERS, JSON_BATCHES = examples(12), examples(12), examples(25)
DAY = date.fromisoformat(AS_OF)
POLICIES = PolicySet()
YEARS = [2025, 2024, 2023, 2022]


def _cells(cells: Any) -> list[Any]:
    return cells.to_list() if hasattr(cells, "to_list") else list(cells)


def read(path: Path, size: int, strict: bool, encoding: str | None) -> Any:
    """Every row read (number, record, cells), every bad row (the reader's and the
    validation's) and the evaluation frame's rows, batch boundaries forgotten; or the refusal
    of the register."""
    rows: list[Any] = []
    bad: list[tuple[int, str]] = []
    frames: list[pl.DataFrame] = []
    checker = CellChecker(POLICIES)
    try:
        for batch in read_register(
            path, register_format(path), POLICIES.facts, batch_size=size, strict=strict,
            encoding=encoding,
        ):  # fmt: skip
            cells = batch.cells
            columns = {name: _cells(column) for name, column in cells.columns.items()}
            for i, number in enumerate(cells.numbers):
                row = {name: column[i] for name, column in columns.items()}
                rows.append((number, cells.record(i), {k: v for k, v in row.items() if v}))
            frame, refused, _, _ = validated_frame(checker, cells, YEARS)
            bad += [*batch.bad, *refused]
            frames.append(frame)
    except InputError as refused:
        return str(refused)
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    return rows, sorted(bad), frame.to_dicts()


def screened(path: Path, size: int, strict: bool, encoding: str | None) -> Any:
    """The written results (bytes) and bad rows of `screen_register`, or its refusal."""
    out = io.BytesIO()
    try:
        summary = screen_register(
            POLICIES, path, DAY, out=out, fmt="jsonl", batch_size=size, strict=strict,
            encoding=encoding,
        )  # fmt: skip
    except InputError as refused:
        return str(refused)
    return out.getvalue(), sorted(summary.bad)


def check_readers_agree(register: Register, tmp_path: Path, size: int) -> None:
    path = tmp_path / f"register{register.suffix}"
    path.write_bytes(register.data)
    encoding = register.options[1] if "--encoding" in register.options else None
    assert read(path, size, False, encoding) == read(path, size, True, encoding)


@settings(REUSES_FIXTURES, max_examples=REGISTERS)
@given(st.one_of(csv_registers(), parquet_registers(), jsonl_registers()), st.integers(2, 6))
def test_fast_and_strict_readers_agree_on_generated_registers(
    tmp_path: Path, register: Register, size: int
) -> None:
    check_readers_agree(register, tmp_path, size)


PLAIN_ROWS = ["pingyao,12,甲公司", 'taiyuan,"5","A, B & C"', "atlantis,3,x", "pingyao,-3,y",
              'pingyao,1,"say ""hi"""', "pingyao,12人,", ",,", "pingyao,7"]  # fmt: skip
HOSTILE_ROWS = ['pingyao,1,"两行', '名称"', 'pingyao,5",z', "pingyao,1,a\x00b", "pingyao,\r1,z",
                "", "\ufeffpingyao,1,z", 'pingyao,"1" ,z', "pingyao,1,z,w", '"']  # fmt: skip


@settings(REUSES_FIXTURES, max_examples=PLAIN_REGISTERS)
@given(
    st.lists(st.one_of(st.sampled_from(PLAIN_ROWS), st.sampled_from(HOSTILE_ROWS)), max_size=24),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(2, 8),
)
def test_readers_agree_where_plain_and_hostile_rows_mix(
    tmp_path: Path, rows: list[str], end: str, size: int
) -> None:
    """Mostly plain rows (which the fast reader takes) with rows it must leave to the strict
    one (cells over two lines, stray quotes, NUL, CR, blank lines, byte-order marks, ragged
    rows) at any place, batch boundaries included."""
    text = end.join(["zone,employees,name", *rows]) + end
    check_readers_agree(Register(text.encode(), ".csv"), tmp_path, size)


def test_the_fast_reader_takes_plain_batches_after_a_hostile_one(tmp_path: Path) -> None:
    """A quote that opens a cell over two lines: that batch is the strict reader's, the next
    plain batch Polars' again (its columns are Series)."""
    lines = ["zone,employees,name", 'pingyao,1,"两行', '名称"', *["pingyao,2,z"] * 6]
    path = tmp_path / "register.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batches = list(read_register(path, "csv", POLICIES.facts, batch_size=3))
    kinds = [type(batch.cells.columns["zone"]).__name__ for batch in batches]
    assert kinds == ["list", "Series", "Series"]
    assert [batch.cells.numbers for batch in batches] == [[2, 3], [4, 5, 6], [7, 8]]
    assert batches[0].cells.record(0)["name"] == "两行\n名称"


# Lines mixed into the benchmark's JSON Lines register: a key written twice, a decimal, an
# escape, a byte-order mark, a NaN, a line that is not JSON, a blank one.
HOSTILE_JSON = [b'{"zone": "pingyao", "zone": "taiyuan"}\n', b'{"zone":"pingyao","employees":1.50}\n',
                b'{"zone":"\\u5e73\\u9065"}\n', b'\xef\xbb\xbf{"zone":"pingyao"}\n',
                b'{"employees": NaN}\n', b"{zone}\n", b"\n"]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_screening_writes_the_same_results_either_way(tmp_path: Path, fmt: str) -> None:
    """The benchmark's register (every column of a real one, typed in Parquet), with hostile
    CSV or JSON Lines rows mixed in: the same written results and bad rows, read fast or
    strictly."""
    from benchmarks.bench_screen import write_register

    path = tmp_path / f"register.{fmt}"
    write_register(path, fmt, 60)
    if fmt == "csv":
        lines = path.read_bytes().splitlines(keepends=True)
        for i, line in enumerate([b"\n", b'"\n', b"x,y\n", b"pingyao\x00\n", b'a,"b\n']):
            lines.insert(5 + 11 * i, line)
        path.write_bytes(b"".join(lines))
    if fmt == "jsonl":
        lines = path.read_bytes().splitlines(keepends=True)
        for i, line in enumerate(HOSTILE_JSON):
            lines.insert(3 + 8 * i, line)
        path.write_bytes(b"".join(lines))
    fast, strict = screened(path, 25, False, None), screened(path, 25, True, None)
    assert fast == strict
    assert len(fast[0]) > 1000 and len(fast[1]) == {"csv": 4, "parquet": 0, "jsonl": 4}[fmt]


@pytest.mark.parametrize("strict", [False, True])
def test_a_plain_register_is_read_alike(tmp_path: Path, strict: bool) -> None:
    path = tmp_path / "register.csv"
    path.write_text("zone,employees,name\n\npingyao,12,甲\r\n\n", encoding="utf-8")
    rows, bad, frame = read(path, 50, strict, None)
    assert rows == [(2, {"zone": "pingyao", "employees": "12", "name": "甲"},
                     {"zone": "pingyao", "employees": "12", "name": "甲"})]  # fmt: skip
    assert bad == [] and [row["employees"] for row in frame] == [12_000_000]


# --- a header that names a column no register has --------------------------------------------


def _flat_register(tmp_path: Path, fmt: str, columns: dict[str, list[str]]) -> Path:
    path = tmp_path / f"register.{fmt}"
    frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("rows", [0, 2])
def test_an_unknown_column_refuses_the_register_before_any_row(
    tmp_path: Path, fmt: str, rows: int
) -> None:
    """A typo in a CSV header or a Parquet schema refuses the file, rows or none, by `screen`
    and `impact` alike, naming the file, the column and the closest known name; a column
    nothing is close to is named alone."""
    from incentives.engine.batch.impact import impact_register

    path = _flat_register(tmp_path, fmt, {"zone": ["pingyao"] * rows, "credit_cod": [""] * rows})
    where = f"{path}:1: header column 2" if fmt == "csv" else str(path)
    said = f"{where}: unknown column 'credit_cod'; did you mean 'credit_code'? Rename the column"
    for strict in (False, True):
        refusal = screened(path, 50, strict, None)
        assert isinstance(refusal, str) and refusal.startswith(said), refusal
    with pytest.raises(InputError) as refused:
        impact_register(POLICIES, POLICIES, path, DAY)
    assert str(refused.value).startswith(said)
    path = _flat_register(tmp_path, fmt, {"zone": ["pingyao"] * rows, "surprise": [""] * rows})
    refusal = screened(path, 50, False, None)
    assert isinstance(refusal, str) and "unknown column 'surprise'; rename the column" in refusal


def test_known_and_ignored_columns_pass_the_header_check(tmp_path: Path) -> None:
    """`row`, any `facts.` column (an undeclared fact is each filled row's error, as before) and
    every profile column pass, and a column without a name is an error only in the rows that fill
    it; a financial column's year is kept in the suggestion."""
    from incentives.engine.batch.registers import unknown_column

    header = ["row", "facts.undeclared", "financials.2019.revenue", "compliance.records", "zone", ""]
    assert [unknown_column(name, POLICIES.facts) for name in header] == [None] * len(header)
    hint = unknown_column("financial.2019.revenue", POLICIES.facts)
    assert hint is not None and "did you mean 'financials.2019.revenue'?" in hint
    path = tmp_path / "register.csv"
    path.write_text("zone,facts.undeclared\npingyao,1\npingyao,\n", encoding="utf-8")
    written, bad = screened(path, 50, False, None)
    assert len(written) > 0 and bad == [(2, "facts.undeclared: not declared in the fact catalogue of this policy set")]
    # a spreadsheet's trailing comma: a column without a name, an error only where a row fills it
    path.write_text("zone,\npingyao,\npingyao,x\n", encoding="utf-8")
    for strict in (False, True):
        written, bad = screened(path, 50, strict, None)
        assert len(written) > 0 and bad == [(3, "unknown column ''")]


def test_the_service_refuses_an_unknown_column_as_screen_does() -> None:
    from incentives.engine.batch.registers import unknown_column
    from incentives.service.problems import ServiceProblem
    from incentives.service.register import read_rows

    with pytest.raises(ServiceProblem) as refused:
        read_rows("zone,credit_cod\n", "csv", 10, POLICIES.facts)
    said = unknown_column("credit_cod", POLICIES.facts)
    assert refused.value.status == 400 and str(refused.value.detail).endswith(f"2: {said}")


# --- JSON Lines: a batch's lines at once (`jsonio.load_lines`) against each line on its own ----

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "zone", 'q"', "é", "a:"]), inner, max_size=3),
    max_leaves=8,
)
# Text spliced into a line at random: what orjson must not be trusted with, and plain bits.
_SPLICES = ['"a": 1, ', '"a":1,', '"b" : 2, ', "NaN", "1e5", "1.50", "-0.0", "12345678901234567890",
            "1" * 45, "[" * 40 + "]" * 40, '"\\ud800"', '"\\u0041"', "\ufeff", "\x00", '"\\"":',
            "}", "{", ",", ' "x"', "\t"]  # fmt: skip


@st.composite
def json_lines(draw: Any) -> str:
    """A line of JSON Lines: a generated value written compactly or spaced, ASCII-escaped or
    not, often an object with a key written twice, now and then with hostile text spliced in."""
    value = draw(st.dictionaries(st.sampled_from(["a", "b", "zone", "facts"]), _VALUES, max_size=4)
                 | _VALUES)  # fmt: skip
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :")]))
    text = json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))
    if text.startswith("{") and draw(st.booleans()):
        text = "{" + draw(st.sampled_from(['"a": 0, ', '"a":{"a":1,"a":2},', '"zone":"x",']))
        text += (json.dumps(value, separators=separators)[1:] if value else "}")
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(_SPLICES)) + text[at:]
    return text + draw(st.sampled_from(["\n", "\r\n", ""]))


def _answers(parsed: list[Any]) -> list[str]:
    """Each answer spelled out exactly: the data's repr (Decimal digits, int or float, key
    order), or the refusal's type and message."""
    return [f"{type(a).__name__}: {a}" if isinstance(a, Exception) else repr(a) for a in parsed]


@settings(max_examples=JSON_BATCHES)
@given(st.lists(json_lines(), max_size=30))
def test_a_batch_of_json_lines_reads_as_each_line_on_its_own(texts: list[str]) -> None:
    from incentives.engine.model.jsonio import load_lines

    assert _answers(load_lines(texts)) == _answers(load_lines(texts, one_by_one=True))


def test_the_batch_reading_finds_a_key_written_twice_among_clean_lines() -> None:
    """One line with a key written twice and nothing else odd, among clean ones: the batch's
    count of keys tells, and that line alone is read on its own."""
    from incentives.engine.model.jsonio import JsonError, load_lines

    texts = ['{"zone":"pingyao","employees":12}', '{"zone":"a","x":{"k":1,"k":2}}', "[1,2]"]
    parsed = load_lines(texts)
    assert parsed[0] == {"zone": "pingyao", "employees": 12} and parsed[2] == [1, 2]
    assert isinstance(parsed[1], JsonError) and "'k' is written twice" in str(parsed[1])


def test_reading_json_lines_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    """Batches of parsed JSON are frozen out of the cyclic collector's sight while the register
    is read (an optimisation only): unfrozen when the reading ends or is abandoned, and a
    freeze made before the reading (a server's, before forking) is left alone."""
    import gc

    path = tmp_path / "register.jsonl"
    path.write_text('{"zone": "pingyao"}\n' * 5 + "[1]\n", encoding="utf-8")
    batches = read_register(path, "jsonl", POLICIES.facts, batch_size=2)
    first = next(batches)
    assert gc.isenabled() and gc.get_freeze_count() > 0  # the batch read so far is frozen
    assert first.cells.numbers == [1, 2]
    numbers = [n for batch in batches for n in batch.cells.numbers]
    assert numbers == [3, 4, 5, 6] and gc.get_freeze_count() == 0 and gc.isenabled()
    abandoned = read_register(path, "jsonl", POLICIES.facts, batch_size=2)
    next(abandoned)
    abandoned.close()
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert len(list(read_register(path, "jsonl", POLICIES.facts, batch_size=2))) == 3
        assert 0 < gc.get_freeze_count() <= before  # neither undone nor added to
    finally:
        gc.unfreeze()
