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
  own, so it cannot swallow them. A header with a column named twice, a bad byte or a broken
  quote refuses the register.
- Parquet (`.parquet`): the same columns, typed or text; rows numbered from 1. A file that is
  not Parquet, is truncated or corrupt, or has a column of a type that cannot hold what the
  column means (floating-point amounts, timestamps for dates, …) refuses the register.

Text registers are decoded line by line (`model.streams`): `--encoding` names the encoding
(`gb18030` for a Chinese Excel export), a byte-order mark is accepted, and a line whose bytes do
not decode is a bad row while the rows around it are read. Problems that concern one row never
stop the reading: they come out as bad rows, with the row's number.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import polars as pl

from ..errors import InputError
from ..model.facts import FactDef
from ..model.jsonio import JsonError, load_json
from ..model.streams import Line, numbered_lines
from ..model.textio import check_encoding
from .cells import CellBatch, flat_cells, nested_cells
from .columns import RowError, flat_column_type

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
) -> Iterator[RegisterBatch]:
    """The register in batches. `source` is a path or a binary file; `facts` is the policy
    set's catalogue (it says what type each `facts.` column has); `name` is what messages call
    the register (default: its path). Raises RegisterError for a register that cannot be read
    at all; bad rows come out in the batches."""
    shown = name or (str(source) if isinstance(source, Path) else "register")
    if fmt == "parquet":
        yield from _parquet_batches(source, shown, facts, batch_size)
        return
    with _opened(source) as handle:
        lines = numbered_lines(handle, encoding)  # checks the encoding's name at once
        if fmt == "jsonl":
            yield from _jsonl_batches(lines, handle, batch_size)
        else:
            yield from _csv_batches(lines, handle, shown, batch_size)


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


def parse_row(text: str) -> Any:
    """One register row of JSON (a line of JSON Lines) as data; RowError says why not."""
    try:
        return load_json(text)
    except JsonError as exc:
        raise RowError(str(exc)) from None


def _jsonl_batches(
    lines: Iterable[Line], handle: IO[bytes], batch_size: int
) -> Iterator[RegisterBatch]:
    numbered: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    for number, text, problem in lines:
        if problem is not None:  # bytes that are not text, a line too long
            bad.append((number, problem))
        elif text.strip(" \t\r\n"):
            try:
                numbered.append((number, parse_row(text)))
            except RowError as exc:
                bad.append((number, str(exc)))
        if len(numbered) + len(bad) >= batch_size:
            yield RegisterBatch(nested_cells(numbered), bad, *_position(handle))
            numbered, bad = [], []
    if numbered or bad:
        yield RegisterBatch(nested_cells(numbered), bad, *_position(handle))


# --- CSV ---------------------------------------------------------------------------------------


@dataclass
class _Record:
    number: int  # the record's number (the header is 1)
    line: int  # the line it starts on
    cells: list[str]
    problem: str | None = None


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
            yield _Record(self.number, consumed[0].number, cells, _line_problem(consumed, cells))

    def _broken(self, problem: str) -> _Record:
        consumed = self._consumed
        self._pending.extendleft(reversed(consumed[1:]))
        self.number += 1
        first = consumed[0] if consumed else Line(0, "")
        if len(consumed) > 1:
            problem += "; the lines after it are read as rows of their own"
        return _Record(self.number, first.number, [], f"line {first.number}: {problem}")


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


def _csv_header(records: Iterator[_Record], name: str) -> list[str] | None:
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
    return header.cells


def _csv_batches(
    lines: Iterable[Line], handle: IO[bytes], name: str, batch_size: int
) -> Iterator[RegisterBatch]:
    records = _CsvRecords(lines)
    iterator = iter(records)
    header = _csv_header(iterator, name)
    if header is None:
        return
    width = records.width = len(header)
    numbers: list[int] = []
    rows: list[list[str]] = []
    bad: list[tuple[int, str]] = []

    def cut() -> RegisterBatch:
        columns = list(zip(*rows, strict=True)) if rows else [()] * width
        chosen = list(rows)

        def record(i: int) -> dict[str, str]:
            return dict(zip(header, chosen[i], strict=True))

        cells = flat_cells(list(numbers), header, columns, record)
        return RegisterBatch(cells, list(bad), *_position(handle))

    for row in iterator:
        problem = row.problem
        if problem is None and len(row.cells) != width:
            count = len(row.cells)
            side = "fewer" if count < width else "more"
            problem = (f"line {row.line}: {count} cell{'s' * (count != 1)}, {side} than the "
                       f"{width} columns of the header")  # fmt: skip
        if problem is not None:  # "line N" is said only where it is not the row's number
            bad.append((row.number, problem.removeprefix(f"line {row.number}: ")))
        else:
            numbers.append(row.number)
            rows.append(row.cells)
        if len(rows) + len(bad) >= batch_size:
            yield cut()
            numbers, rows, bad = [], [], []
    if rows or bad:
        yield cut()


# --- Parquet -----------------------------------------------------------------------------------


def _parquet_batches(
    source: Source, name: str, facts: Mapping[str, FactDef], batch_size: int
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
        names, columns, bad = _parquet_cells(batch, numbers)

        def record(i: int, names: list[str] = names, columns: Any = columns) -> Any:
            return {name: column[i] for name, column in zip(names, columns, strict=True)}

        refused = {n for n, _ in bad}
        kept = [n for n in numbers if n not in refused] if refused else numbers
        yield RegisterBatch(flat_cells(kept, names, columns, record), bad, number, total)


def _parquet_cells(
    batch: Any, numbers: list[int]
) -> tuple[list[str], list[list[Any]], list[tuple[int, str]]]:
    """The column names and cells of a batch, without its bad rows: a cell that cannot be read
    (text that is not UTF-8) or a text cell over `MAX_CELL` characters; and those bad rows."""
    import pyarrow as pa

    names = batch.schema.names
    problems: dict[int, str] = {}
    columns: list[list[Any]] = []
    for column_name, column in zip(names, batch.columns, strict=True):
        try:
            columns.append(column.to_pylist())
        except (pa.ArrowException, UnicodeDecodeError):
            columns.append(_cells_one_by_one(column_name, column, problems))
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            _long_text(column_name, column, problems)
    bad = [(numbers[i], message) for i, message in sorted(problems.items())]
    if problems:
        keep = [i for i in range(len(numbers)) if i not in problems]
        columns = [[column[i] for i in keep] for column in columns]
    return names, columns, bad


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
        problem = _parquet_type_problem(column.name, column.type, facts)
        if problem is not None:
            raise RegisterError(f"{name}: column {column.name!r} has type {column.type}; {problem}")


def _parquet_type_problem(column: str, dtype: Any, facts: Mapping[str, FactDef]) -> str | None:
    """Why a Parquet column of this type cannot hold what the column means (None if it can).
    Text is accepted everywhere (cells are then read as in CSV); an unknown column is left to
    the rows (each non-empty cell of it is a bad row, as in CSV)."""
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
