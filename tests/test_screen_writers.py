"""The result writers read coded results (`results.CodedResults`) directly: each distinct
amount's text computed once, CSV's lists joined once per distinct list, Parquet written from
Arrow dictionaries. What they write is what the decoded results, presented value by value,
give: the same bytes in CSV and JSON Lines; in Parquet the same schema, values and key-value
metadata when read back (the column chunks are laid out differently: one row group a batch)."""

from __future__ import annotations

import io
from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest

from incentives.engine import PolicySet
from incentives.engine.batch.output import ResultWriter
from incentives.engine.batch.pipeline import screen_coded
from incentives.engine.batch.registers import read_register
from incentives.engine.batch.results import CodedResults, arrow_schema, presented
from incentives.engine.batch.vectorised import VectorisedSet

DAY = date(2026, 11, 24)
ROWS = 80  # the benchmark's register: every column of a real one, amounts in 万元 in some rows
BATCH = 40


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory) -> list[CodedResults]:
    from benchmarks.bench_screen import write_register

    policy_set = PolicySet()
    path = tmp_path_factory.mktemp("register") / "register.csv"
    write_register(path, "csv", ROWS)
    vectorised = VectorisedSet(policy_set)
    batches = read_register(path, "csv", policy_set.facts, batch_size=BATCH)
    found = [screen_coded(vectorised, batch.cells, DAY)[0] for batch in batches]
    return [*found, edge_amounts(found[0])]


EDGES = [None, 0, 1, -1, 10, 125_000, 520_000_000_000, -3_000_001, 10**30 + 7, -(10**30)]


def edge_amounts(batch: CodedResults) -> CodedResults:
    """A batch whose amounts are Int128 and hold every edge of their text: negatives, one
    millionth, trailing zeros, more than Int64 holds."""
    decoded = batch.decoded()
    amounts = [EDGES[i % len(EDGES)] for i in range(decoded.height)]
    return CodedResults.of(decoded.with_columns(amount=pl.Series(amounts, dtype=pl.Int128)))


def written(fmt: str, batches: list[CodedResults] | list[pl.DataFrame]) -> bytes:
    writer = ResultWriter(io.BytesIO(), fmt, "memory")
    for batch in batches:
        writer.write(batch)
    writer.finish()
    return writer.sink.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_the_batches_hold_what_the_writers_must_spell_out(coded: list[CodedResults]) -> None:
    frame = pl.concat([batch.decoded() for batch in coded])
    assert len(coded) == ROWS // BATCH + 1 and coded[-1].frame["amount"].dtype == pl.Int128
    assert frame.height == (ROWS + BATCH) * len(PolicySet().policies)
    assert frame["amount"].drop_nulls().n_unique() > 3 + len(EDGES) - 1
    assert frame["missing"].list.len().max() > 1 and frame["review"].list.len().max() > 0  # type: ignore[operator]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_results_are_the_same_bytes(coded: list[CodedResults], fmt: str) -> None:
    assert written(fmt, coded) == written(fmt, [presented(c.decoded()) for c in coded])


def test_parquet_results_read_back_the_same(coded: list[CodedResults]) -> None:
    new = written("parquet", coded)
    old = written("parquet", [presented(c.decoded()) for c in coded])
    read = [pq.read_table(io.BytesIO(data)) for data in (new, old)]
    assert read[0].schema == read[1].schema == arrow_schema() and read[0].equals(read[1])
    meta = [pq.read_metadata(io.BytesIO(data)) for data in (new, old)]
    assert meta[0].metadata == meta[1].metadata and meta[0].num_row_groups == len(coded)
    frames = [pl.read_parquet(io.BytesIO(data)) for data in (new, old)]
    assert frames[0].schema == frames[1].schema and frames[0].equals(frames[1])


def test_coded_and_presented_batches_mixed_in_one_parquet_file(
    coded: list[CodedResults],
) -> None:
    """A writer fed coded results, then a frame already presented (or the other way round),
    writes one file of the one schema."""
    first, second = coded[0], presented(coded[1].decoded())
    for batches in ([first, second], [presented(first.decoded()), coded[1]]):
        table = pq.read_table(io.BytesIO(written("parquet", batches)))  # type: ignore[arg-type]
        expected = pq.read_table(
            io.BytesIO(written("parquet", [presented(c.decoded()) for c in coded[:2]]))
        )
        assert table.schema == arrow_schema() and table.equals(expected)
