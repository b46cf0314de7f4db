"""Scale-out on Spark: the same per-batch function (`pipeline.screen_batch`) run by
`DataFrame.mapInArrow` on every partition of a register of JSON Lines, each line read by the same
strict JSON reader as `incentives screen` (`jsonio.load_lines`).

Install with `pip install 'incentives[spark]'` on the driver and on the executors (the bundled
policy library is package data, so executors find it). A policies directory given by path must be
readable on every executor (a shared file system, or ship it with `--files`/`addFile`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from .results import spark_schema

RESULT_SCHEMA = spark_schema(with_error=True)  # the result columns of `results`, and `error`


@lru_cache(maxsize=4)
def _vectorised(policies: str | None) -> Any:
    from ..policyset import PolicySet
    from .vectorised import VectorisedSet

    return VectorisedSet(PolicySet(policies))


def _parsed_rows(batch: Any) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """An Arrow batch of (`row`, `value` JSON text) read as `screen` reads JSON Lines
    (`jsonio.load_lines`, a batch at once): the rows read, and those that could not be, with
    why."""
    from ..model.jsonio import JsonError, load_lines

    numbered: list[tuple[int, Any]] = []
    unreadable: list[tuple[int, str]] = []
    rows, texts = batch.column("row").to_pylist(), batch.column("value").to_pylist()
    for row, data in zip(rows, load_lines(texts), strict=True):
        if isinstance(data, JsonError):
            unreadable.append((row, str(data)))
        else:
            numbered.append((row, data))
    return numbered, unreadable


def screen_arrow_batches(
    batches: Iterator[Any], as_of: date, policies: str | None = None
) -> Iterator[Any]:
    """Arrow batches of (`row` long, `value` JSON text) → Arrow batches of RESULT_SCHEMA.

    Bad rows come out as one row each with status `invalid` and the reason in `error`.
    """
    import pyarrow as pa

    from .pipeline import screen_batch
    from .results import arrow_schema, presented

    vectorised = _vectorised(policies)
    for batch in batches:
        numbered, unreadable = _parsed_rows(batch)
        result, bad, _ = screen_batch(vectorised, numbered, as_of, flat=False)
        records = presented(result).with_columns(error=None).to_dicts()
        records += [
            {"row": n, "status": "invalid", "error": message, "missing": [], "review": []}
            for n, message in sorted(unreadable + bad)
        ]
        yield pa.RecordBatch.from_pylist(records, schema=arrow_schema(with_error=True))


def screen_jsonl(spark: Any, path: str, as_of: date, policies: str | None = None) -> Any:
    """A Spark DataFrame of RESULT_SCHEMA for a register of JSON Lines (rows are line numbers)."""
    return _numbered_lines(spark, path).mapInArrow(
        lambda batches: screen_arrow_batches(batches, as_of, policies), RESULT_SCHEMA
    )


# --- impact: two policy sets side by side (`impact.impact_batch`) -----------------------------


@lru_cache(maxsize=4)
def _pair(base: str | None, candidate: str | None) -> Any:
    from ..policyset import PolicySet
    from .impact import Pair

    return Pair.of(PolicySet(base), PolicySet(candidate))


def _impact_schema() -> str:
    import polars as pl

    from .impact import IMPACT_WRITTEN
    from .results import ERROR_COLUMN, spark_schema_of

    return spark_schema_of({**IMPACT_WRITTEN, ERROR_COLUMN: pl.String()})


def impact_arrow_batches(
    batches: Iterator[Any], as_of: date, base: str | None, candidate: str | None
) -> Iterator[Any]:
    """Arrow batches of (`row` long, `value` JSON text) → Arrow batches of the side-by-side
    (`impact.IMPACT_COLUMNS`, every enterprise × policy, and `error`). A bad row comes out as
    one row with both statuses `invalid` and the reason in `error`."""
    import polars as pl
    import pyarrow as pa

    from .impact import IMPACT_WRITTEN, impact_batch, presented_impact
    from .results import ERROR_COLUMN, arrow_schema_of

    pair = _pair(base, candidate)
    schema = arrow_schema_of({**IMPACT_WRITTEN, ERROR_COLUMN: pl.String()})
    for batch in batches:
        numbered, unreadable = _parsed_rows(batch)
        side_by_side, bad = impact_batch(pair, numbered, as_of, flat=False)
        records = presented_impact(side_by_side).with_columns(error=None).to_dicts()
        records += [
            {"row": n, "base_status": "invalid", "candidate_status": "invalid", "error": message}
            for n, message in sorted(unreadable + bad)
        ]
        yield pa.RecordBatch.from_pylist(records, schema=schema)


def impact_jsonl(
    spark: Any, path: str, as_of: date, base: str | None, candidate: str | None
) -> Any:
    """A Spark DataFrame of the side-by-side for a register of JSON Lines (rows are line
    numbers); `base` and `candidate` are policy directories (None: the bundled library)."""
    return _numbered_lines(spark, path).mapInArrow(
        lambda batches: impact_arrow_batches(batches, as_of, base, candidate), _impact_schema()
    )


def _numbered_lines(spark: Any, path: str) -> Any:
    """The non-blank lines of a text file as a DataFrame of (`row`: line number, `value`)."""
    lines = spark.sparkContext.textFile(path).zipWithIndex()
    numbered = lines.map(lambda pair: (pair[1] + 1, pair[0])).filter(lambda p: p[1].strip() != "")
    return spark.createDataFrame(numbered, "row long, value string")
