"""Scale-out on Spark: the same per-batch function (`pipeline.screen_batch`) run by
`DataFrame.mapInArrow` on every partition of a register of JSON Lines, each line read by the same
strict JSON reader as `incentives screen` (`registers.parse_row`).

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


def screen_arrow_batches(
    batches: Iterator[Any], as_of: date, policies: str | None = None
) -> Iterator[Any]:
    """Arrow batches of (`row` long, `value` JSON text) → Arrow batches of RESULT_SCHEMA.

    Bad rows come out as one row each with status `invalid` and the reason in `error`.
    """
    import pyarrow as pa

    from .columns import RowError
    from .pipeline import screen_batch
    from .registers import parse_row
    from .results import arrow_schema, presented

    vectorised = _vectorised(policies)
    for batch in batches:
        numbered: list[tuple[int, Any]] = []
        unreadable: list[tuple[int, str]] = []
        for row, text in zip(
            batch.column("row").to_pylist(), batch.column("value").to_pylist(), strict=True
        ):
            try:
                numbered.append((row, parse_row(text)))
            except RowError as exc:
                unreadable.append((row, str(exc)))
        result, bad, _ = screen_batch(vectorised, numbered, as_of, flat=False)
        records = presented(result).with_columns(error=None).to_dicts()
        records += [
            {"row": n, "status": "invalid", "error": message, "missing": [], "review": []}
            for n, message in sorted(unreadable + bad)
        ]
        yield pa.RecordBatch.from_pylist(records, schema=arrow_schema(with_error=True))


def screen_jsonl(spark: Any, path: str, as_of: date, policies: str | None = None) -> Any:
    """A Spark DataFrame of RESULT_SCHEMA for a register of JSON Lines (rows are line numbers)."""
    lines = spark.sparkContext.textFile(path).zipWithIndex()
    numbered = lines.map(lambda pair: (pair[1] + 1, pair[0])).filter(lambda p: p[1].strip() != "")
    frame = spark.createDataFrame(numbered, "row long, value string")
    return frame.mapInArrow(
        lambda batches: screen_arrow_batches(batches, as_of, policies), RESULT_SCHEMA
    )
