"""Screening a whole register: read it in batches, evaluate every enterprise against every
policy on the vectorised back end, write one result row per enterprise × policy, and tally a
summary. The one library function behind `incentives screen`; a service or a job calls it
alike.

    from incentives.engine.batch.screening import screen_register
    summary = screen_register(PolicySet(), Path("register.csv"), date(2026, 11, 24),
                              out=Path("results.parquet"), fmt="parquet")
    summary.screened, summary.bad_count, summary.to_json()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ..policyset import PolicySet
from .behind import written_behind
from .cells import CellChecker
from .output import ResultWriter, result_target
from .pipeline import screen_coded
from .registers import BATCH, Source, read_register, register_source
from .results import Summary
from .vectorised import VectorisedSet

Progress = Callable[[int, int | None], None]  # (position, total or None when unknown)


def screen_register(
    policy_set: PolicySet,
    source: Source,
    as_of: date,
    *,
    out: Path | BinaryIO | None = None,
    fmt: str = "csv",
    register_fmt: str | None = None,
    encoding: str | None = None,
    explain: Iterable[int] = (),
    progress: Progress | None = None,
    batch_size: int = BATCH,
    name: str | None = None,
    tax_year: int | None = None,
    strict: bool = False,
) -> Summary:
    """Screen the register `source` (a path, or a binary file with `register_fmt`) on `as_of`,
    tax-year preferences for `tax_year` (default: the year before `as_of`).

    `out`: a path (written atomically, never over an input: see `output`), a binary file (a
    service's response, standard output), or None to tally only. `fmt`: csv, jsonl or parquet.
    `encoding`: of a text register (default UTF-8; a byte-order mark is honoured). `explain`:
    row numbers whose validated profiles the summary keeps (`Summary.explained`). `progress` is
    called after each batch with the position reached (bytes, or rows for Parquet) and the
    total. `strict` reads every row by the strict readers (see `registers.read_register`); the
    results are the same. Raises InputError (RegisterError, OutputError) for a register that cannot be read or
    results that cannot be written; bad rows are in the summary.
    """
    register_fmt, shown = register_source(source, register_fmt, encoding, name)
    wanted = set(explain)
    vectorised = VectorisedSet(policy_set)
    checker = CellChecker(policy_set)  # shared across batches: its caches carry over
    summary = Summary(policies=tuple(cp.id for cp in policy_set.policies))
    batches = read_register(
        source, register_fmt, policy_set.facts, encoding=encoding, batch_size=batch_size,
        name=shown, strict=strict,
    )  # fmt: skip
    with (
        _results(out, fmt, source, policy_set) as writer,
        written_behind(None if writer is None else writer.write) as write,
    ):  # the results of batch n are presented and written while batch n + 1 is evaluated
        for batch in batches:
            summary.rows += len(batch.cells.numbers) + len(batch.bad)
            result, bad, profiles = screen_coded(
                vectorised, batch.cells, as_of, wanted, checker, tax_year
            )
            summary.add_bad([*batch.bad, *bad])
            summary.add_results(result)
            summary.explained.update({n: p for n, p in profiles.items() if n in wanted})
            write(result)
            if progress is not None:
                progress(batch.position, batch.total)
    return summary


def _results(
    out: Path | BinaryIO | None, fmt: str, source: Source, policy_set: PolicySet
) -> contextlib.AbstractContextManager[ResultWriter | None]:
    """The writer of a run's results; a file target is committed only if the run completes."""
    registers = [source] if isinstance(source, Path) else []
    return result_target(out, fmt, registers, [policy_set.directory])
