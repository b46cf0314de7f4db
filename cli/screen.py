"""`incentives screen`: every enterprise of a register × every policy, vectorised, in batches.

Input by extension: `.jsonl`/`.ndjson` (one profile per line, as `check` reads them), `.csv`
(flat columns, see `engine.batch.columns`) or `.parquet` (the same flat columns). Bad rows are
reported with their row number and skipped; the good ones are all screened.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ..engine import InputError, PolicySet, Profile
from ..engine.batch.pipeline import result_arrow_schema
from .main import (
    as_of_option,
    main,
    policies_option,
    user_errors,
)

if TYPE_CHECKING:
    from ..engine.batch.cells import CellBatch

BATCH = 20_000


@dataclass
class _Tally:
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (policy, status) → n
    policy_amounts: dict[str, int] = field(default_factory=dict)  # millionths of a yuan
    zone_eligible: dict[str, int] = field(default_factory=dict)
    zone_amounts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


def _batches(path: Path, fmt: str) -> Iterator[tuple[CellBatch, int]]:
    """The register in batches of cells (see `engine.batch.cells`), with bytes read so far
    (rows, for Parquet). Rows are numbered as before: JSON Lines by line, CSV by record from 2
    (the header is 1; blank lines are skipped uncounted, as `csv.DictReader` does), Parquet
    from 1."""
    from ..engine.batch.cells import ABSENT, flat_cells, nested_cells

    if fmt == "jsonl":
        with path.open("rb") as handle:
            numbered: list[tuple[int, Any]] = []
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        data: Any = json.loads(line, parse_float=Decimal)
                    except json.JSONDecodeError as exc:
                        data = exc
                    numbered.append((number, data))
                    if len(numbered) >= BATCH:
                        yield nested_cells(numbered), handle.tell()
                        numbered = []
            if numbered:
                yield nested_cells(numbered), handle.tell()
    elif fmt == "csv":
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                return
            width = len(header)
            numbers: list[int] = []
            records: list[list[str]] = []

            def record(i: int) -> dict[Any, Any]:
                """The row as csv.DictReader gives it: short rows padded with None, surplus
                cells as a list under the key None."""
                cells = records[i]
                row: dict[Any, Any] = dict(zip(header, cells, strict=False))
                for name in header[len(cells) :]:
                    row[name] = None
                if len(cells) > width:
                    row[None] = cells[width:]
                return row

            def cut() -> CellBatch:
                ragged = {i for i, r in enumerate(records) if len(r) != width}
                rows = [r if len(r) == width else [ABSENT] * width for r in records]
                columns = list(zip(*rows, strict=True)) if rows else [()] * width
                return flat_cells(list(numbers), header, columns, record, ragged)

            number = 1
            for cells in reader:
                if not cells:
                    continue
                number += 1
                numbers.append(number)
                records.append(cells)
                if len(records) >= BATCH:
                    yield cut(), raw.tell()
                    numbers, records = [], []
            if records:
                yield cut(), raw.tell()
    else:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        number = 0
        for batch in parquet.iter_batches(batch_size=BATCH):
            names = batch.schema.names
            columns = [column.to_pylist() for column in batch.columns]
            numbers = list(range(number + 1, number + batch.num_rows + 1))
            number += batch.num_rows

            def parquet_record(i: int, names: list[str] = names, columns: Any = columns) -> Any:
                return {name: column[i] for name, column in zip(names, columns, strict=True)}

            yield flat_cells(numbers, names, columns, parquet_record), number


def _size(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


def _amount_text(micro: int | None) -> str | None:
    from ..engine.batch.pipeline import amount_text

    return amount_text(micro)


class _Writer:
    def __init__(self, out: Path | None, fmt: str) -> None:
        self.fmt = fmt
        self.out = out
        self._handle: IO[str] | None = None
        self._header = True
        self._parquet: Any = None

    def write(self, presented: Any) -> None:
        """Write a batch of presented results (`engine.batch.pipeline.presented`)."""
        import polars as pl

        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            table = presented.select(COLUMNS).to_arrow().cast(result_arrow_schema())
            if self._parquet is None:
                assert self.out is not None
                self._parquet = pq.ParquetWriter(self.out, table.schema)
            self._parquet.write_table(table)
            return
        if self._handle is None:
            self._handle = (
                self.out.open("w", encoding="utf-8", newline="")
                if self.out is not None
                else sys.stdout
            )
        if self.fmt == "jsonl":
            self._handle.write(presented.select(COLUMNS).write_ndjson())
            return
        flat = presented.select(COLUMNS).with_columns(
            pl.col("missing", "review").list.join(";"),
        )
        # csv.DictWriter wrote an empty string like a missing value: no quotes
        flat = flat.with_columns(
            pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep()
        )
        self._handle.write(flat.write_csv(include_header=self._header, line_terminator="\r\n"))
        self._header = False

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None and self._handle is not sys.stdout:
            self._handle.close()


COLUMNS = ("row", "credit_code", "zone", "policy_id", "status", "amount", "amount_kind",
           "missing", "review")  # fmt: skip


def screen_register(
    policy_set: PolicySet,
    register: Path,
    as_of: date,
    fmt_in: str,
    writer: _Writer,
    explain_rows: set[int],
    progress: Any = None,
) -> tuple[_Tally, dict[int, Profile]]:
    """Stream the register in batches through the vectorised back end."""
    from ..engine.batch.cells import CellChecker
    from ..engine.batch.pipeline import presented, screen_cells
    from ..engine.batch.vectorised import VectorisedSet

    vectorised = VectorisedSet(policy_set)
    checker = CellChecker(policy_set)  # shared across batches: its caches carry over
    tally = _Tally()
    explained: dict[int, Profile] = {}
    for batch, position in _batches(register, fmt_in):
        tally.rows += len(batch.numbers)
        result, bad, profiles = screen_cells(vectorised, batch, as_of, explain_rows, checker)
        tally.bad.extend(bad)
        explained.update({n: p for n, p in profiles.items() if n in explain_rows})
        _count(tally, result)
        writer.write(presented(result))
        if progress is not None:
            progress(position)
    if progress is not None:
        progress(None)
    return tally, explained


def _count(tally: _Tally, result: Any) -> None:
    import polars as pl

    by_policy = result.group_by("policy_id", "status").agg(
        pl.len().alias("n"), pl.col("amount").sum().alias("amount")
    )
    for policy, status, n, amount in by_policy.iter_rows():
        key = (policy, str(status))
        tally.counts[key] = tally.counts.get(key, 0) + n
        if status == "eligible":
            tally.policy_amounts[policy] = tally.policy_amounts.get(policy, 0) + (amount or 0)
    eligible = result.filter(pl.col("status") == "eligible")
    by_zone = eligible.group_by(pl.col("zone").fill_null("(unknown)")).agg(
        pl.len().alias("n"), pl.col("amount").sum().alias("amount")
    )
    for zone, n, amount in by_zone.iter_rows():
        tally.zone_eligible[zone] = tally.zone_eligible.get(zone, 0) + n
        tally.zone_amounts[zone] = tally.zone_amounts.get(zone, 0) + (amount or 0)


def _print_summary(tally: _Tally, policy_set: PolicySet) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
    good = tally.rows - len(tally.bad)
    table = Table(title=f"{good} enterprises screened, {len(tally.bad)} bad rows")
    for name in ("policy", "eligible", "undetermined", "needs_review", "ineligible",
                 "not_in_force", "total amount"):  # fmt: skip
        table.add_column(name, justify="left" if name == "policy" else "right")
    for cp in policy_set.policies:
        counts = [str(tally.counts.get((cp.id, s), 0)) for s in
                  ("eligible", "undetermined", "needs_review", "ineligible", "not_in_force")]  # fmt: skip
        amount = (
            _amount_text(tally.policy_amounts.get(cp.id, 0)) if cp.benefit.amount_kind != "none" else ""
        )
        table.add_row(cp.id, *counts, f"{amount} {cp.benefit.amount_kind}" if amount else "")
    console.print(table)
    zones = Table(title="eligible results by zone")
    zones.add_column("zone")
    zones.add_column("eligible", justify="right")
    zones.add_column("total amount (yuan)", justify="right")
    for zone in sorted(tally.zone_eligible):
        zones.add_row(zone, str(tally.zone_eligible[zone]), _amount_text(tally.zone_amounts[zone]))
    console.print(zones)
    for number, message in tally.bad[:20]:
        console.print(f"bad row {number}: {message}", markup=False)
    if len(tally.bad) > 20:
        console.print(f"… and {len(tally.bad) - 20} more bad rows")


@main.command()
@click.argument("register", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@as_of_option
@policies_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results here (default: standard output; required for parquet).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              help="Format of the results: one row per enterprise × policy.")  # fmt: skip
@click.option("--explain", "explain_rows", multiple=True, type=int, metavar="ROW",
              help="Explain the verdicts of this register row (reference evaluator); repeatable.")  # fmt: skip
@user_errors
def screen(
    register: Path, as_of: date | None, policies_dir: Path | None, out: Path | None,
    fmt: str, explain_rows: tuple[int, ...],
) -> None:  # fmt: skip
    """Screen every enterprise of REGISTER (.jsonl, .csv or .parquet) against every policy."""
    try:
        import polars  # noqa: F401
    except ImportError:
        raise InputError("screen needs the batch extra: pip install 'incentives[batch]'") from None
    suffix = register.suffix.lower()
    fmt_in = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(
        suffix
    )
    if fmt_in is None:
        raise InputError(
            f"{register}: unknown register format {suffix!r}; use .jsonl, .csv or .parquet"
        )
    if fmt == "parquet" and out is None:
        raise InputError("--format parquet needs --out FILE")
    policy_set = PolicySet(policies_dir)
    day = as_of or date.today()
    writer = _Writer(out, fmt)
    progress = None
    bar: Any = None
    if sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("screening", total=_size(register, fmt_in))
        bar.start()

        def progress(position: int | None) -> None:
            bar.update(
                task, completed=position if position is not None else _size(register, fmt_in)
            )

    try:
        tally, explained = screen_register(
            policy_set, register, day, fmt_in, writer, set(explain_rows), progress
        )
    finally:
        writer.close()
        if bar is not None:
            bar.stop()
    _print_summary(tally, policy_set)
    if explained or explain_rows:
        from rich.console import Console

        from .i18n import default_lang
        from .render import print_report

        console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
        for number in explain_rows:
            if number not in explained:
                console.print(f"row {number}: not a valid row of the register; nothing to explain")
                continue
            console.print(f"\n[bold]row {number}[/bold]")
            report = policy_set.evaluate(explained[number], day, explain=True)
            print_report(report, default_lang(), True, console)
