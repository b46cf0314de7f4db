"""Reading a register of enterprises, strictly, in batches of cells (`cells.CellBatch`).

Formats, by extension (`register_format`):

- JSON Lines (`.jsonl`, `.ndjson`): one profile per line, read by the strict JSON reader
  (`model.jsonio`: a key written twice, NaN, nesting deeper than its limit are refused); rows
  are numbered by line.
- CSV (`.csv`): a header of column names (see `columns`), then one row per record. Records are
  numbered from the header (1); a blank line is skipped and not counted; a quoted cell may span
  lines. Read strictly: a row with fewer or more cells than the header, a stray or unterminated
  quote, a NUL character or a cell over `MAX_CELL` characters is a bad row; a quote that never
  closes is reported on the line that opens it and the lines after it are read as rows of their
  own, so it cannot swallow them. A header with a column named twice, a column that is no
  register column (`unknown_column`), a bad byte or a broken quote refuses the register.
- Parquet (`.parquet`): the same columns, typed or text; rows numbered from 1. A file that is
  not Parquet, is truncated or corrupt, or has a column of a type that cannot hold what the
  column means (floating-point amounts, timestamps for dates, …) or a column that is no register
  column refuses the register.

Text registers are decoded line by line (`model.streams`): `--encoding` names the encoding
(`gb18030` for a Chinese Excel export), a byte-order mark is accepted, and a line whose bytes do
not decode is a bad row while the rows around it are read. Problems that concern one row never
stop the reading: they come out as bad rows, with the row's number.

The strict readers above are the definition. Where it is proven to say the same, Polars reads
instead, straight into columns: a batch of CSV lines that are each one record of plain cells
(`_plain_batch`; any other batch is the strict reader's, `_CsvReading.strict`), and Parquet
columns of text, integers, decimals, booleans and dates (`_as_series`); and the lines of a batch
of JSON Lines by one call (`jsonio.load_lines`, which makes orjson's checks over the whole
batch). `strict=True` reads every row strictly (tests/test_screen_readers.py holds the two
readings together).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import gc
import itertools
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import polars as pl

from ..errors import InputError
from ..model.facts import FactDef
from ..model.jsonio import JsonError, load_lines
from ..model.streams import Line, numbered_lines
from ..model.textio import check_encoding
from .cells import CellBatch, Cells, flat_cells, nested_cells
from .columns import (
    FINANCIAL_LINES,
    FINANCIAL_LISTS,
    LISTS,
    ROW,
    SCALARS,
    declared_profile_facts,
    flat_column_type,
)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
BATCH = 50_000  # rows per batch: memory stays flat whatever the register's size
MAX_CELL = 131_072  # characters in one cell of a CSV or Parquet register

Source = Path | BinaryIO


class RegisterError(InputError):
    """A register that cannot be read at all (its header, its format); nothing of it is used."""


@dataclass
class RegisterBatch:
    """Rows of a register: those read into `cells`, and those refused while reading (`bad`:
    row number and why). `position` is how far the reading got: bytes, or rows for Parquet."""

    cells: CellBatch
    bad: list[tuple[int, str]] = field(default_factory=list)
    position: int = 0
    total: int | None = None  # what `position` counts towards, when known


def register_format(name: str | Path) -> str:
    """`jsonl`, `csv` or `parquet`, from the register's file name."""
    suffix = Path(name).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise RegisterError(
            f"{name}: unknown register format {suffix!r}; use .jsonl, .csv or .parquet"
        )
    return fmt


def unknown_column(column: str, facts: Mapping[str, FactDef]) -> str | None:
    """Why `column` of a flat register's header (CSV) or schema (Parquet) is no column a
    register may have, naming the closest known column when one is close; None when it is one.
    Known: the `row` column (ignored), the profile's fields as `columns.flat_column_type` names
    them, and every `facts.` column (a fact the catalogue does not declare is each filled row's
    error, as the per-row path words it). A column without a name (a spreadsheet's trailing
    comma) is no typo of anything: like an undeclared fact, it is the error of each row that
    fills it, and an empty one is ignored."""
    if column == ROW or column.startswith("facts.") or not column.strip():
        return None
    if flat_column_type(column, facts) is not None:
        return None
    known = [*SCALARS, *LISTS, *(f"facts.{name}" for name in declared_profile_facts(facts))]
    parts = column.split(".")
    if len(parts) == 3 and parts[1].isdigit():  # `financial.2025.revenue`: that year's lines
        known += [f"financials.{parts[1]}.{line}" for line in (*FINANCIAL_LINES, *FINANCIAL_LISTS)]
    close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}? Rename" if close else "; rename"
    return f"unknown column {column!r}{hint} the column or remove it"


_SNIFF = 4096  # bytes of a stream looked at to tell its format
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")


def sniff_format(head: bytes) -> str:
    """The format of a register from its first bytes: `parquet` for the Parquet magic, `jsonl`
    when its first character (after a byte-order mark, spaces and blank lines) is `{`, else
    `csv`."""
    if head.startswith(b"PAR1"):
        return "parquet"
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    text = head.replace(b"\x00", b"").lstrip(b" \t\r\n")  # UTF-16/32: drop the zero bytes
    return "jsonl" if text.startswith(b"{") else "csv"


def stream_register(handle: BinaryIO, register_fmt: str | None) -> tuple[BinaryIO, str]:
    """A register on a stream (standard input) and its format (given, or sniffed from its
    first bytes without consuming them). JSON Lines and CSV are then read batch by batch as
    they arrive; Parquet, whose index is at its end, is read whole into memory first."""
    import io

    if register_fmt is None:
        buffered: Any = handle if hasattr(handle, "peek") else io.BufferedReader(cast(Any, handle))
        register_fmt = sniff_format(buffered.peek(_SNIFF)[:_SNIFF])
        handle = buffered
    if register_fmt == "parquet":
        return io.BytesIO(handle.read()), register_fmt
    return handle, register_fmt


def register_input(
    register: Path, register_fmt: str | None, stdin: BinaryIO
) -> tuple[Source, str | None, str | None]:
    """A register named on the command line: the path, or for `-` the stream `stdin`
    (`stream_register`); with its format (given, or sniffed for a stream) and what messages
    call it (None: its path)."""
    if str(register) != "-":
        return register, register_fmt, None
    handle, sniffed = stream_register(stdin, register_fmt)
    return handle, sniffed, "standard input"


def register_source(
    source: Source, register_fmt: str | None, encoding: str | None, name: str | None
) -> tuple[str, str]:
    """The format of a register (from its file name unless given) and what messages call it;
    an unknown encoding's name is refused here, before anything is read."""
    if encoding is not None:
        check_encoding(encoding)
    if register_fmt is None:
        if not isinstance(source, Path):
            raise ValueError("a register given as a file object needs register_fmt")
        register_fmt = register_format(source)
    return register_fmt, name or (str(source) if isinstance(source, Path) else "register")


def read_register(
    source: Source,
    fmt: str,
    facts: Mapping[str, FactDef],
    *,
    encoding: str | None = None,
    batch_size: int = BATCH,
    name: str | None = None,
    strict: bool = False,
) -> Iterator[RegisterBatch]:
    """The register in batches. `source` is a path or a binary file; `facts` is the policy
    set's catalogue (it says what type each `facts.` column has); `name` is what messages call
    the register (default: its path). Raises RegisterError for a register that cannot be read
    at all; bad rows come out in the batches. Columns are read by Polars where that is proven
    to give what the strict readers give; `strict` reads every row by the strict readers (the
    definition the fast reading is tested against)."""
    shown = name or (str(source) if isinstance(source, Path) else "register")
    if fmt == "parquet":
        yield from _parquet_batches(source, shown, facts, batch_size, strict)
        return
    with _opened(source) as handle:
        lines = numbered_lines(handle, encoding)  # checks the encoding's name at once
        if fmt == "jsonl":
            yield from _jsonl_batches(lines, handle, batch_size, strict)
        else:
            yield from _csv_batches(lines, handle, shown, facts, batch_size, strict)


class _opened:
    """A path opened for reading, or a caller's binary file (left open)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.handle: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if isinstance(self.source, Path):
            self.handle = self.source.open("rb")
            return self.handle
        return self.source

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def _position(handle: IO[bytes]) -> tuple[int, int | None]:
    """Bytes read so far, and the size of the file (None for a stream)."""
    try:
        position = handle.tell()
    except (OSError, ValueError):
        return 0, None
    try:
        return position, os.fstat(handle.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        return position, None


# --- JSON Lines --------------------------------------------------------------------------------


def _jsonl_batches(
    lines: Iterable[Line], handle: IO[bytes], batch_size: int, strict: bool
) -> Iterator[RegisterBatch]:
    """Batches of rows, each row's line parsed by the strict JSON reader: with `strict` one by
    one (`jsonio.load_json`), else a batch's lines at once (`jsonio.load_lines`, the same
    answers)."""
    texts: list[tuple[int, str]] = []
    bad: list[tuple[int, str]] = []
    with _collection_deferred() as freeze:
        for number, text, problem in lines:
            if problem is not None:  # bytes that are not text, a line too long
                bad.append((number, problem))
            elif text.strip(" \t\r\n"):
                texts.append((number, text))
            if len(texts) + len(bad) >= batch_size:
                yield _jsonl_batch(texts, bad, handle, strict, freeze)
                texts, bad = [], []
        if texts or bad:
            yield _jsonl_batch(texts, bad, handle, strict, freeze)


def _jsonl_batch(
    texts: list[tuple[int, str]], bad: list[tuple[int, str]], handle: IO[bytes], strict: bool,
    freeze: bool,
) -> RegisterBatch:  # fmt: skip
    """The rows of a batch of lines, parsed and cut into cells with the cyclic garbage
    collector paused (`without_collection`), and left frozen if `freeze`."""
    numbered: list[tuple[int, Any]] = []
    with without_collection(freeze):
        parsed = load_lines([text for _, text in texts], one_by_one=strict)
        for (number, _), data in zip(texts, parsed, strict=True):
            if isinstance(data, JsonError):
                bad.append((number, str(data)))
            else:
                numbered.append((number, data))
        cells = nested_cells(numbered)
    bad.sort()
    return RegisterBatch(cells, bad, *_position(handle))


@contextlib.contextmanager
def without_collection(freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector paused. Parsed JSON is trees of dicts and lists, which
    reference counting frees without it; but the thousands of containers a batch creates would
    make it scan every object alive again and again (the policy set, its plans, the batch), which
    cost about a third of the reading's time. With `freeze`, every object alive at the end is
    then moved out of its sight (`gc.freeze`, see `_collection_deferred`): else the first
    collections after it would scan the whole batch, still alive, once per generation, which
    cost about as much again. Only the time changes, never what is read."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if paused:
            gc.enable()


@contextlib.contextmanager
def _collection_deferred() -> Iterator[bool]:
    """Whether the batches read inside may be frozen (`without_collection`), all unfrozen at
    the end: reference counting still frees them when they are dropped, and a cycle frozen
    with them waits for the end of the reading to be collected. Not when objects were frozen
    already (as a server does before forking): that freeze is not this reading's to undo."""
    owned = gc.get_freeze_count() == 0
    try:
        yield owned
    finally:
        if owned:
            gc.unfreeze()


# --- CSV ---------------------------------------------------------------------------------------


@dataclass
class _Record:
    number: int  # the record's number (the header is 1)
    line: int  # the line it starts on
    cells: list[str]
    problem: str | None = None
    end: int = 0  # the line it ends on


_CSV_ERRORS = {
    "unexpected end of data": "a quoted cell that is never closed (unterminated quote)",
    "',' expected after '\"'": "text after the closing quote of a cell (inside a quoted cell, "
    'write a quote as "")',
    "field larger than field limit": f"a cell of more than {MAX_CELL:,} characters",
    "new-line character seen in unquoted field": "a carriage return inside a cell that is not "
    "quoted (end lines with \\n or \\r\\n)",
}


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    return next((m for key, m in _CSV_ERRORS.items() if text.startswith(key)), text)


class _CsvRecords:
    """The records of numbered lines, parsed strictly (`csv.reader(strict=True)`).

    A record that is broken (a csv error, or, once `width` is known, a record over several
    lines with the wrong number of cells: a quote that opened a cell by mistake) is reported on
    its first line alone, and its other lines are parsed again as records of their own."""

    def __init__(self, lines: Iterable[Line]) -> None:
        self._lines = iter(lines)
        self._pending: deque[Line] = deque()
        self._consumed: list[Line] = []
        self.width: int | None = None
        self.number = 0

    def _feed(self) -> Iterator[str]:
        while True:
            if self._pending:
                line = self._pending.popleft()
            else:
                found = next(self._lines, None)
                if found is None:
                    return
                line = found
            self._consumed.append(line)
            yield line.text

    def __iter__(self) -> Iterator[_Record]:
        reader = csv.reader(self._feed(), strict=True)
        while True:
            self._consumed = []
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                yield self._broken(_csv_problem(exc))
                reader = csv.reader(self._feed(), strict=True)
                continue
            if cells is None:
                return
            if not cells:
                continue  # a blank line: skipped, not counted
            consumed = self._consumed
            if len(consumed) > 1 and self.width is not None and len(cells) != self.width:
                yield self._broken(f"a quote opens a cell that runs over {len(consumed)} lines "
                                   f"and leaves {len(cells)} cells where the header has "
                                   f"{self.width} (unterminated or stray quote)")  # fmt: skip
                reader = csv.reader(self._feed(), strict=True)
                continue
            self.number += 1
            problem = _line_problem(consumed, cells)
            yield _Record(self.number, consumed[0].number, cells, problem, consumed[-1].number)

    def _broken(self, problem: str) -> _Record:
        consumed = self._consumed
        self._pending.extendleft(reversed(consumed[1:]))
        self.number += 1
        first = consumed[0] if consumed else Line(0, "")
        if len(consumed) > 1:
            problem += "; the lines after it are read as rows of their own"
        return _Record(
            self.number, first.number, [], f"line {first.number}: {problem}", first.number
        )

    def settled(self) -> bool:
        """Whether every line read so far belongs to a record already given out."""
        return not self._pending


def _line_problem(lines: list[Line], cells: list[str]) -> str | None:
    """Why a well-formed record is still unusable: bytes that did not decode, a NUL, a cell
    over `MAX_CELL`."""
    for line in lines:
        if line.problem is not None:
            return f"line {line.number}: {line.problem}"
        if "\x00" in line.text:
            return f"line {line.number}: a NUL character (byte 0) in the row"
    if sum(len(line.text) for line in lines) > MAX_CELL:
        for index, cell in enumerate(cells):
            if len(cell) > MAX_CELL:
                return f"cell {index + 1}: {len(cell):,} characters, more than {MAX_CELL:,}"
    return None


def _csv_header(
    records: Iterator[_Record], name: str, facts: Mapping[str, FactDef]
) -> list[str] | None:
    header = next(records, None)
    if header is None:
        return None
    if header.problem is not None:
        raise RegisterError(f"{name}: the header (line {header.line}) cannot be read: "
                            f"{header.problem.split(': ', 1)[-1]}")  # fmt: skip
    seen: dict[str, int] = {}
    for index, column in enumerate(header.cells, start=1):
        if column in seen:
            raise RegisterError(
                f"{name}:{header.line}: column {column!r} is named twice in the header "
                f"(columns {seen[column]} and {index}); keep one of them"
            )
        seen[column] = index
        problem = unknown_column(column, facts)
        if problem is not None:
            raise RegisterError(f"{name}:{header.line}: header column {index}: {problem}")
    return header.cells


def _csv_batches(
    lines: Iterable[Line], handle: IO[bytes], name: str, facts: Mapping[str, FactDef],
    batch_size: int, strict: bool = False,
) -> Iterator[RegisterBatch]:  # fmt: skip
    """The header, then batches of rows: each batch of lines read by Polars (`_plain_batch`)
    where it can prove that the strict reader says the same of them, else by the strict reader
    (`_CsvRecords`) until a record ends at or after the batch's last line; with `strict`, every
    row by the strict reader."""
    lines = iter(lines)
    records = _CsvRecords(lines)
    header = _csv_header(iter(records), name, facts)
    if header is None:
        return
    reading = _CsvReading(lines, handle, header, records.number, batch_size)
    if strict:
        yield from reading.strict([], None)
        return
    while chunk := list(itertools.islice(lines, batch_size)):
        fast = _plain_batch(chunk, header, reading.number)
        if fast is None:
            yield from reading.strict(chunk, chunk[-1].number)
            continue
        if fast.cells.numbers:
            reading.number = fast.cells.numbers[-1]
        fast.position, fast.total = _position(handle)
        yield fast


@dataclass
class _CsvReading:
    """Where the reading of a CSV register has got to: its lines from the next one, its
    header, the number of the last record given out."""

    lines: Iterator[Line]
    handle: IO[bytes]
    header: list[str]
    number: int
    batch_size: int

    def strict(self, chunk: list[Line], until: int | None) -> Iterator[RegisterBatch]:
        """Batches of the records of `chunk` and the lines after it, by the strict reader, up
        to the first record that ends at or after line `until` with nothing read ahead (None:
        to the end)."""
        records = _CsvRecords(itertools.chain(chunk, self.lines))
        width = records.width = len(self.header)
        records.number = self.number
        numbers: list[int] = []
        rows: list[list[str]] = []
        bad: list[tuple[int, str]] = []
        for row in records:
            self.number = row.number
            problem = row.problem if row.problem is not None else _width_problem(row, width)
            if problem is not None:  # "line N" is said only where it is not the row's number
                bad.append((row.number, problem.removeprefix(f"line {row.number}: ")))
            else:
                numbers.append(row.number)
                rows.append(row.cells)
            done = until is not None and row.end >= until and records.settled()
            if done or len(rows) + len(bad) >= self.batch_size:
                yield self._cut(numbers, rows, bad)
                numbers, rows, bad = [], [], []
            if done:
                return
        if rows or bad:
            yield self._cut(numbers, rows, bad)

    def _cut(
        self, numbers: list[int], rows: list[list[str]], bad: list[tuple[int, str]]
    ) -> RegisterBatch:
        header = self.header
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
        cells = flat_cells(numbers, header, columns, functools.partial(_row_record, header, rows))
        return RegisterBatch(cells, bad, *_position(self.handle))


def _width_problem(row: _Record, width: int) -> str | None:
    count = len(row.cells)
    if count == width:
        return None
    side = "fewer" if count < width else "more"
    return (f"line {row.line}: {count} cell{'s' * (count != 1)}, {side} than the "
            f"{width} columns of the header")  # fmt: skip


# A line that is one record of plain cells, each unquoted (no quote, comma, CR or NUL) or quoted
# whole (quotes inside doubled, no CR or NUL): what Polars' CSV reader and the strict reader
# split alike. `_plain_batch` asks every line of a batch to be one.
_UNQUOTED = r'[^",\r\n\x00]*'
_QUOTED = r'"(?:[^"\r\n\x00]|"")*"'
_CELL = f"(?:{_UNQUOTED}|{_QUOTED})"


def _plain_batch(chunk: list[Line], header: list[str], number: int) -> RegisterBatch | None:
    """The records of `chunk` (lines after record `number`) read by Polars, if every line is
    one record of the header's width in plain cells (`_CELL`), valid text no longer than
    `MAX_CELL` characters, or blank (skipped, not counted); else None (the strict reader's)."""
    if any(line.problem is not None for line in chunk):
        return None
    texts = pl.Series("t", [line.text for line in chunk], pl.String)
    body = texts.str.replace(r"\r?\n$", "")
    blank = body == ""
    pattern = f"^{_CELL}(?:,{_CELL}){{{len(header) - 1}}}$"
    plain = blank | (body.str.contains(pattern) & (body.str.len_chars() <= MAX_CELL))
    if not plain.all() or body.str.starts_with("\ufeff").any():
        return None  # a Unicode byte-order mark would be dropped by Polars at the start
    kept = body.filter(~blank)
    names = [f"c{i}" for i in range(len(header))]
    frame = pl.read_csv(
        ("\n".join(kept.to_list()) + "\n").encode(), has_header=False, new_columns=names,
        infer_schema=False, quote_char='"', raise_if_empty=False,
    ) if len(kept) else pl.DataFrame(schema=dict.fromkeys(names, pl.String))  # fmt: skip
    if frame.height != len(kept) or frame.width != len(header):
        return None  # pragma: no cover - what the line check proves
    numbers = list(range(number + 1, number + 1 + len(kept)))
    columns = frame.get_columns()
    record = functools.partial(_text_record, header, columns)
    return RegisterBatch(flat_cells(numbers, header, columns, record))


# A batch's `record` is a partial of a module function over the batch's own cells, never a
# closure: a batch pickles with each cell pickled once.


def _row_record(header: list[str], rows: list[list[str]], i: int) -> dict[str, str]:
    return dict(zip(header, rows[i], strict=True))


def _text_record(header: list[str], columns: list[pl.Series], i: int) -> dict[str, str]:
    return {h: "" if (v := c[i]) is None else v for h, c in zip(header, columns, strict=True)}


def _cells_record(names: list[str], columns: list[Cells], i: int) -> dict[str, Any]:
    return {name: column[i] for name, column in zip(names, columns, strict=True)}


# --- Parquet -----------------------------------------------------------------------------------


def _parquet_batches(
    source: Source, name: str, facts: Mapping[str, FactDef], batch_size: int, strict: bool
) -> Iterator[RegisterBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    unreadable = (pa.ArrowException, OSError, UnicodeDecodeError)
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
        total = parquet.metadata.num_rows
    except unreadable as exc:
        raise RegisterError(f"{name}: not a readable Parquet file ({exc})") from None
    _check_parquet_schema(schema, name, facts)
    number = 0
    batches = parquet.iter_batches(batch_size=batch_size)
    while True:
        try:
            batch = next(batches, None)
        except unreadable as exc:
            raise RegisterError(
                f"{name}: the Parquet file is corrupt: rows after {number} cannot be read ({exc})"
            ) from None
        if batch is None:
            return
        numbers = list(range(number + 1, number + batch.num_rows + 1))
        number += batch.num_rows
        names, columns, bad = _parquet_cells(batch, numbers, strict)
        record = functools.partial(_cells_record, names, columns)
        refused = {n for n, _ in bad}
        kept = [n for n in numbers if n not in refused] if refused else numbers
        yield RegisterBatch(flat_cells(kept, names, columns, record), bad, number, total)


def _parquet_cells(
    batch: Any, numbers: list[int], strict: bool
) -> tuple[list[str], list[Cells], list[tuple[int, str]]]:
    """The column names and cells of a batch, without its bad rows: a cell that cannot be read
    (text that is not UTF-8) or a text cell over `MAX_CELL` characters; and those bad rows. A
    column of valid text, integers, decimals, booleans or dates becomes a Series at once
    (`_as_series`),
    any other one (and with `strict` every one) Python values."""
    import pyarrow as pa

    names = batch.schema.names
    problems: dict[int, str] = {}
    columns: list[Cells] = []
    for column_name, column in zip(names, batch.columns, strict=True):
        series = None if strict else _as_series(column)
        if series is not None:
            columns.append(series)
        else:
            try:
                columns.append(column.to_pylist())
            except (pa.ArrowException, UnicodeDecodeError):
                columns.append(_cells_one_by_one(column_name, column, problems))
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            _long_text(column_name, column, problems)
    bad = [(numbers[i], message) for i, message in sorted(problems.items())]
    if problems:
        keep = [i for i in range(len(numbers)) if i not in problems]
        columns = [_kept(column, keep) for column in columns]
    return names, columns, bad


def _as_series(column: Any) -> pl.Series | None:
    """An Arrow column as a Series, if it is of a type whose cells Polars gives as `to_pylist`
    does (text that is valid UTF-8, integers, 128-bit decimals, booleans, 32-bit dates); else
    None."""
    import pyarrow as pa

    kind = column.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    decimal = pa.types.is_decimal128(kind) and kind.scale >= 0
    plain = pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date32(kind)
    if not (text or decimal or plain):
        return None
    if text:
        try:
            column.validate(full=True)  # UTF-8 checked, as `to_pylist` would
        except pa.ArrowException:
            return None
    series = pl.from_arrow(column)
    return series if isinstance(series, pl.Series) else None


def _kept(column: Cells, keep: list[int]) -> Cells:
    if isinstance(column, pl.Series):
        return column.gather(keep)
    return [column[i] for i in keep]


def _long_text(name: str, column: Any, problems: dict[int, str]) -> None:
    """The positions of the text cells over `MAX_CELL` characters, with why."""
    import pyarrow.compute as pc

    lengths = pc.utf8_length(column)
    if (pc.max(lengths).as_py() or 0) > MAX_CELL:
        for i, length in enumerate(lengths.to_pylist()):
            if length is not None and length > MAX_CELL:
                problems.setdefault(i, f"{name}: {length:,} characters, more than {MAX_CELL:,}")


def _cells_one_by_one(name: str, column: Any, problems: dict[int, str]) -> list[Any]:
    import pyarrow as pa

    cells: list[Any] = []
    for i in range(len(column)):
        try:
            cells.append(column[i].as_py())
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            cells.append(None)
            problems.setdefault(i, f"{name}: the cell cannot be read ({exc})")
    return cells


def _check_parquet_schema(schema: Any, name: str, facts: Mapping[str, FactDef]) -> None:
    seen: set[str] = set()
    for column in schema:
        if column.name in seen:
            raise RegisterError(f"{name}: column {column.name!r} appears twice; keep one of them")
        seen.add(column.name)
        unknown = unknown_column(column.name, facts)
        if unknown is not None:
            raise RegisterError(f"{name}: {unknown}")
        problem = _parquet_type_problem(column.name, column.type, facts)
        if problem is not None:
            raise RegisterError(f"{name}: column {column.name!r} has type {column.type}; {problem}")


def _parquet_type_problem(column: str, dtype: Any, facts: Mapping[str, FactDef]) -> str | None:
    """Why a Parquet column of this type cannot hold what the column means (None if it can).
    Text is accepted everywhere (cells are then read as in CSV); an undeclared `facts.` column is
    left to the rows (each non-empty cell of it is a bad row, as in CSV)."""
    import pyarrow as pa

    target = flat_column_type(column, facts)
    while pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if target is None or pa.types.is_null(dtype) or pa.types.is_string(dtype):
        return None
    if pa.types.is_large_string(dtype):
        return None
    kind = "list" if isinstance(target, pl.List) or column == "projects" else target.__class__
    accepted, hint = _PARQUET_TYPES.get(kind, ((), "store it as text"))
    if any(getattr(pa.types, f"is_{name}")(dtype) for name in accepted):
        return None
    if kind is pl.Int128 and pa.types.is_floating(dtype):
        return (
            "floating-point numbers cannot hold amounts exactly: store decimals, integers or text"
        )
    return hint


# What a column of each frame type may be stored as in Parquet, besides text and nulls.
_PARQUET_TYPES: dict[Any, tuple[tuple[str, ...], str]] = {
    "list": (
        ("list", "large_list"),
        "store a list (of structs, or of texts for codes) or JSON text",
    ),
    pl.Int128: (("integer", "decimal"), "store quantities as decimals, integers or text"),
    pl.Boolean: (("boolean", "integer"), "store true/false as booleans or text"),
    pl.Date: (("date",), "store dates as dates (date32) or text YYYY-MM-DD"),
}
