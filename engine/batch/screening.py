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
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ..model.profile import Profile
from ..policyset import PolicySet
from .behind import written_behind
from .cells import CellChecker
from .output import Encoded, ResultWriter, result_target
from .pipeline import screen_coded
from .registers import BATCH, RegisterBatch, Source, read_register, register_source
from .results import CodedResults, Summary, tally
from .vectorised import VectorisedSet
from .workers import Screened, Workers

Progress = Callable[[int, int | None], None]  # (position, total or None when unknown)
Profiles = dict[int, Profile]


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
    jobs: int = 1,
) -> Summary:
    """Screen the register `source` (a path, or a binary file with `register_fmt`) on `as_of`,
    tax-year preferences for `tax_year` (default: the year before `as_of`).

    `out`: a path (written atomically, never over an input: see `output`), a binary file (a
    service's response, standard output), or None to tally only. `fmt`: csv, jsonl or parquet.
    `encoding`: of a text register (default UTF-8; a byte-order mark is honoured). `explain`:
    row numbers whose validated profiles the summary keeps (`Summary.explained`). `progress` is
    called after each batch with the position reached (bytes, or rows for Parquet) and the
    total. `strict` reads every row by the strict readers (see `registers.read_register`); the
    results are the same. `jobs`: processes validating and evaluating the batches (see
    `workers`; 1, the default, screens in this process, as a service does; more needs the
    caller's main module to be importable, `if __name__ == "__main__":`). Raises InputError
    (RegisterError, OutputError, WorkerError) for a register that cannot be read, results that
    cannot be written or a worker that died; bad rows are in the summary.
    """
    register_fmt, shown = register_source(source, register_fmt, encoding, name)
    wanted = set(explain)
    summary = Summary(policies=tuple(cp.id for cp in policy_set.policies))
    batches = read_register(
        source, register_fmt, policy_set.facts, encoding=encoding, batch_size=batch_size,
        name=shown, strict=strict,
    )  # fmt: skip
    with (
        _results(out, fmt, source, policy_set) as writer,
        written_behind(None if writer is None else functools.partial(_write, writer)) as write,
        _screened(policy_set, batches, as_of, wanted, tax_year, jobs, writer) as screened,
    ):  # the results of batch n are written while batch n + 1 is screened
        for batch, (counted, bad, profiles, result) in screened:
            summary.rows += len(batch.cells.numbers) + len(batch.bad)
            summary.add_bad([*batch.bad, *bad])
            summary.add_tally(counted)
            summary.explained.update({n: p for n, p in profiles.items() if n in wanted})
            write(result)
            if progress is not None:
                progress(batch.position, batch.total)
    return summary


@contextlib.contextmanager
def _screened(
    policy_set: PolicySet, batches: Iterable[RegisterBatch], as_of: date, wanted: set[int],
    tax_year: int | None, jobs: int, writer: ResultWriter | None,
) -> Iterator[Iterator[tuple[RegisterBatch, Screened]]]:  # fmt: skip
    """Each batch with its results, bad rows and profiles, in order: screened in this process,
    or by `jobs` worker processes when there are several and the register has more than one
    batch (the workers' start-up, about a second of CPU each, is paid only then)."""
    batches = iter(batches)
    ahead = list(itertools.islice(batches, 1))
    if jobs > 1 and ahead and not _more_known(ahead[0]):
        ahead += itertools.islice(batches, 1)  # a stream, or read to its end: one more to see
    if jobs > 1 and (len(ahead) > 1 or (bool(ahead) and _more_known(ahead[0]))):
        fmt = None if writer is None else writer.fmt
        with Workers(jobs, policy_set, as_of, wanted, tax_year, fmt) as workers:
            yield workers.screened(itertools.chain(ahead, batches))
        return
    vectorised = VectorisedSet(policy_set)
    checker = CellChecker(policy_set)  # shared across batches: its caches carry over
    yield (
        (batch, _counted(*screen_coded(vectorised, batch.cells, as_of, wanted, checker, tax_year)))
        for batch in itertools.chain(ahead, batches)
    )


def _counted(result: CodedResults, bad: list[tuple[int, str]], profiles: Profiles) -> Screened:
    return tally(result), bad, profiles, result


def _write(writer: ResultWriter, result: CodedResults | Encoded | None) -> None:
    """Write a batch's results: coded here, or encoded by a worker."""
    if isinstance(result, CodedResults):
        writer.write(result)
    elif result is not None:
        writer.write_encoded(result)


def _more_known(batch: RegisterBatch) -> bool:
    """Whether the register is known to go on after `batch` (its size is known, and more)."""
    return batch.total is not None and batch.position < batch.total


def _results(
    out: Path | BinaryIO | None, fmt: str, source: Source, policy_set: PolicySet
) -> contextlib.AbstractContextManager[ResultWriter | None]:
    """The writer of a run's results; a file target is committed only if the run completes."""
    registers = [source] if isinstance(source, Path) else []
    return result_target(out, fmt, registers, [policy_set.directory])
