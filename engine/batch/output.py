"""Writing screening results without ever losing data.

- A result file is written under a temporary name beside its target (`.results.csv.1a2b3c4d.part`)
  and renamed onto it only when the run completed: an interrupted or failed run leaves the target
  as it was (absent, or the earlier run's complete file) and removes its temporary file.
- A target that is an input of the run (the register itself, by any path, symbolic or hard link,
  or any file of the policy set) or that lies inside the policy directory is refused before
  anything is written.
- A target that is not a regular file (`/dev/stdout`, a named pipe, `/dev/full`) is written in
  place: there is nothing there to lose.
- An empty run still writes a valid file: a CSV header, an empty Parquet file, an empty JSON
  Lines file.
- Every failure to write (a missing or unwritable directory, a full disk) is an `OutputError`
  that says where and why.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from ..errors import InputError
from .columns import ROW
from .results import (
    RESULT_COLUMNS,
    CodedResults,
    amount_texts,
    arrow_schema_of,
    enum_of,
    presented,
    spelled_out,
    written_schema,
)

OUTPUT_FORMATS = ("csv", "jsonl", "parquet")


class OutputError(InputError):
    """Results that cannot be written where asked; nothing was written there."""


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class ResultWriter:
    """Results to a binary sink, batch by batch, in one format: coded screening results as
    `results.presented` spells them out, or frames already presented.

    `columns`: the written schema (default: the screening result columns of `results`)."""

    def __init__(
        self,
        sink: BinaryIO,
        fmt: str,
        shown: str,
        columns: dict[str, pl.DataType] | None = None,
    ) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown result format {fmt!r}; one of {', '.join(OUTPUT_FORMATS)}")
        self.columns = written_schema() if columns is None else columns
        self.sink = sink
        self.fmt = fmt
        self.shown = shown
        self.rows = 0
        self._header = True
        self._parquet: Any = None

    def write(self, results: pl.DataFrame | CodedResults) -> None:
        self.write_encoded(encoded(results, self.fmt, self.columns))

    def write_encoded(self, batch: Encoded) -> None:
        """Write a batch as `encoded` gives it."""
        with self._guard():
            if self.fmt == "parquet":
                self.rows += batch.num_rows
                self._write_parquet(batch)
                return
            self.rows += batch.rows
            if self.fmt == "csv" and self._header:
                self.sink.write(_csv(pl.DataFrame(schema=self.columns), True, list(self.columns)))
                self._header = False
            self.sink.write(batch.data)

    def _write_parquet(self, table: Any) -> None:
        """Coded results' table (its text columns dictionaries) or presented results' table."""
        import pyarrow as pa

        coded = any(pa.types.is_dictionary(f.type) for f in table.schema)
        writer = self._parquet_writer(dictionary=coded)
        groups = max(1, table.num_rows) if coded else None  # one row group: each holds the
        if not table.schema.equals(writer.schema, check_metadata=False):  # batch's dictionaries
            table = table.cast(writer.schema)  # coded results and presented frames mixed
        writer.write_table(table, row_group_size=groups)

    def finish(self) -> None:
        """Complete the output (an empty run gets a header, or an empty Parquet file); flush."""
        with self._guard():
            if self.fmt == "csv" and self._header:
                self.sink.write(_csv(pl.DataFrame(schema=self.columns), True, list(self.columns)))
            if self.fmt == "parquet":
                self._parquet_writer(dictionary=False).close()
            self.sink.flush()

    def abandon(self) -> None:
        """Close the Parquet writer of a run that failed, before its file is discarded (left to
        the garbage collector, it would write its footer to a closed file)."""
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
            self._parquet = None

    def _parquet_writer(self, *, dictionary: bool) -> Any:
        """The Parquet writer, made on the first write. For coded results its text columns
        are Arrow dictionaries, as the codes already are (the file's column chunks are
        dictionary-encoded either way), and the written schema is stored as pyarrow stores it,
        so that every reader reads the schema of `arrow_schema_of(self.columns)`. Only the
        row number has statistics (min and max per row group, for a reader's filter on rows):
        every row group holds every policy and status, so theirs would never skip one, and
        computing them all was 40% of the encoding."""
        if self._parquet is None:
            import pyarrow.parquet as pq

            written = arrow_schema_of(self.columns)
            if dictionary:
                self._parquet = pq.ParquetWriter(
                    self.sink, dictionary_schema(written), store_schema=False,
                    write_statistics=[ROW],
                )  # fmt: skip
                stored = base64.b64encode(written.serialize().to_pybytes())
                self._parquet.add_key_value_metadata({b"ARROW:schema": stored})
            else:
                self._parquet = pq.ParquetWriter(self.sink, written)
        return self._parquet

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise OutputError(
                f"cannot write the results to {self.shown}: {_os_reason(exc)}"
            ) from None


@dataclass(frozen=True)
class EncodedText:
    """A batch of results as the bytes of CSV rows (no header) or JSON Lines."""

    data: bytes
    rows: int


Encoded = Any  # EncodedText, or for Parquet an Arrow table (`coded_table`, `_plain_table`)


def encoded(
    results: pl.DataFrame | CodedResults, fmt: str, columns: dict[str, pl.DataType]
) -> Encoded:
    """A batch of results as `ResultWriter.write_encoded` writes it in `fmt`: coded results as
    `results.presented` spells them out, or a frame already presented, in the written schema
    `columns`."""
    if fmt == "parquet":
        if isinstance(results, CodedResults):
            return coded_table(results)
        return _plain_table(results, columns)
    if fmt == "jsonl":
        shown = presented(results) if isinstance(results, CodedResults) else results
        return EncodedText(shown.write_ndjson().encode("utf-8"), results.height)
    shown = csv_ready(results) if isinstance(results, CodedResults) else results
    return EncodedText(_csv(shown, False, list(columns)), results.height)


def _plain_table(shown: pl.DataFrame, columns: dict[str, pl.DataType]) -> Any:
    return shown.to_arrow().cast(arrow_schema_of(columns))


def dictionary_schema(written: Any) -> Any:
    """The Arrow schema `written` with its text columns as dictionaries (of int32 indices)."""
    import pyarrow as pa

    text = pa.dictionary(pa.int32(), pa.string())
    return pa.schema([pa.field(f.name, text) if f.type == pa.string() else f for f in written])


def coded_table(results: CodedResults) -> Any:
    """Coded results as an Arrow table of the result columns in `dictionary_schema`: each
    Enum's codes over its categories, each amount's index into the batch's distinct amount
    texts, the lists taken from each distinct list."""
    import pyarrow as pa

    frame = results.frame
    codes, texts = amount_texts(frame["amount"])
    lists = pl.lit(results.lists)
    columns = {}
    for name in RESULT_COLUMNS:
        if name == ROW:
            columns[name] = frame[name].to_arrow()
        elif name == "amount":
            columns[name] = _dictionary_of(codes, texts)
        elif name in ("missing", "review"):
            taken = frame.select(lists.gather(pl.col(name))).to_series().to_arrow()
            columns[name] = taken.cast(pa.list_(pa.string()))
        else:
            columns[name] = _dictionary(frame[name])
    return pa.table(columns)


def _dictionary(values: pl.Series) -> Any:
    """An Enum column (or, were it text, its distinct values) as an Arrow dictionary."""
    dtype = values.dtype
    if not isinstance(dtype, pl.Enum):
        dtype = enum_of(values)
        values = values.cast(pl.String).cast(dtype)
    return _dictionary_of(values.to_physical(), dtype.categories)


def _dictionary_of(codes: pl.Series, texts: pl.Series) -> Any:
    import pyarrow as pa

    indices = codes.to_arrow().cast(pa.int32())
    return pa.DictionaryArray.from_arrays(indices, texts.to_arrow().cast(pa.string()))


def csv_ready(results: CodedResults) -> pl.DataFrame:
    """Coded results presented for `_csv`, each distinct list joined once."""
    return spelled_out(results, results.lists.list.join(";"))


def _csv(presented: pl.DataFrame, header: bool, columns: list[str]) -> bytes:
    flat = presented.with_columns(pl.col(pl.List(pl.String)).list.join(";"))
    # an empty text is written like a missing value: no quotes (as csv.DictWriter did)
    flat = flat.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep())
    text = io.BytesIO()
    flat.select(columns).write_csv(text, include_header=header, line_terminator="\r\n")
    return text.getvalue()


# --- where the results go ----------------------------------------------------------------------


def policy_inputs(directory: Path | None) -> tuple[Path, list[Path]]:
    """The policy directory (default: the bundled library) and every file the engine reads to
    build a policy set from it (its files, and the engine's own catalogue and zones)."""
    from ..compile.loader import bundled_policies

    root = directory if directory is not None else bundled_policies()
    files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    model = resources.files("incentives.engine.model")
    files += [Path(str(model.joinpath(name))) for name in ("catalogue.yaml", "zones.yaml")]
    return root, files


def _same_file(target: os.stat_result, paths: Iterable[Path]) -> Path | None:
    for path in paths:
        with contextlib.suppress(OSError):
            if os.path.samestat(target, path.stat()):
                return path
    return None


def refuse_inputs(target: Path, inputs: Iterable[Path], policy_root: Path | None) -> None:
    """Raise OutputError if writing `target` would overwrite one of `inputs` (by any path or
    link) or put a file into the policy directory."""
    inputs = list(inputs)
    with contextlib.suppress(OSError):
        same = _same_file(target.stat(), inputs)
        if same is not None:
            raise OutputError(
                f"--out {target} is {same}, an input of this run: refusing to overwrite it; "
                "write the results to another file"
            )
    if policy_root is not None:
        with contextlib.suppress(OSError, ValueError):
            target.resolve().relative_to(policy_root.resolve())
            raise OutputError(
                f"--out {target} is inside the policy directory {policy_root}, whose every file "
                "is read as policies: write the results elsewhere"
            )


def refuse_input_stream(sink: BinaryIO, inputs: Iterable[Path], shown: str) -> None:
    """Raise OutputError if `sink` (standard output, say) is a file that is one of `inputs`."""
    try:
        status = os.fstat(sink.fileno())
    except (OSError, ValueError, AttributeError):
        return  # not a file (an in-memory buffer)
    if stat.S_ISREG(status.st_mode):
        same = _same_file(status, inputs)
        if same is not None:
            raise OutputError(f"{shown} is {same}, an input of this run: refusing to write to it")


class AtomicFile:
    """A file written beside `target` under a temporary name and renamed onto it by `commit`;
    `discard` removes it. A target that exists and is not a regular file is written in place."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp: Path | None = None
        self.handle: BinaryIO | None = None

    def open(self) -> BinaryIO:
        target = self.target
        try:
            if target.exists() and not target.is_file():
                if target.is_dir():
                    raise OutputError(f"--out {target} is a directory; name a file")
                self.handle = target.open("wb")  # a device or a pipe: nothing to lose
                return self.handle
            real = target.resolve()  # a link is followed: the file it names is replaced
            if not real.parent.is_dir():
                raise OutputError(
                    f"cannot write the results to {target}: the directory {real.parent} does not "
                    "exist"
                )
            self.temp = real.parent / f".{real.name}.{secrets.token_hex(4)}.part"
            descriptor = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            self.handle = os.fdopen(descriptor, "wb")
            with contextlib.suppress(OSError):  # keep the permissions of the file it replaces
                os.chmod(self.temp, stat.S_IMODE(real.stat().st_mode))
        except OSError as exc:
            self.temp = None
            raise OutputError(f"cannot write the results to {target}: {_os_reason(exc)}") from None
        return self.handle

    def commit(self) -> None:
        assert self.handle is not None
        try:
            self.handle.flush()
            if self.temp is not None:
                os.fsync(self.handle.fileno())
            self.handle.close()
            if self.temp is not None:
                os.replace(self.temp, self.target.resolve())
                self.temp = None
        except OSError as exc:
            self.discard()
            raise OutputError(
                f"cannot write the results to {self.target}: {_os_reason(exc)}"
            ) from None

    def discard(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        if self.temp is not None:
            with contextlib.suppress(OSError):
                self.temp.unlink()
            self.temp = None


@contextlib.contextmanager
def result_target(
    out: Path | BinaryIO | None,
    fmt: str,
    registers: list[Path],
    policy_dirs: list[Path | None],
    columns: dict[str, pl.DataType] | None = None,
) -> Iterator[ResultWriter | None]:
    """The writer of a run's results (None: no output), refusing any input of the run (the
    `registers`, every file of the policy sets in `policy_dirs`, None being the bundled
    library); a file target is written atomically, committed only if the run completes."""
    if out is None:
        yield None
        return
    inputs = list(registers)
    roots = []
    for directory in policy_dirs:
        root, files = policy_inputs(directory)
        roots.append(root)
        inputs += files
    if not isinstance(out, Path):
        shown = getattr(out, "name", None)
        shown = "standard output" if shown in (None, "<stdout>") else str(shown)
        refuse_input_stream(out, inputs, shown)
        stream = ResultWriter(out, fmt, shown, columns)
        yield stream
        stream.finish()
        return
    for root in roots:
        refuse_inputs(out, inputs, root)
    target = AtomicFile(out)
    handle = target.open()
    writer = None
    try:
        writer = ResultWriter(handle, fmt, str(out), columns)
        yield writer
        writer.finish()
        target.commit()
    except BaseException:
        if writer is not None:
            writer.abandon()
        target.discard()
        raise
