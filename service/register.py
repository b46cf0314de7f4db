"""`POST /v1/screen`: a small register, uploaded as JSON Lines or CSV, screened against every
policy and streamed back as JSON Lines: one line per enterprise × policy (the columns of
`incentives screen --format jsonl`), one line per bad row, and a last line with the counts.

Rows are read and numbered as `screen` numbers them (JSON Lines by line; CSV by record, the
header being record 1) and evaluated in batches by the batch back end's own per-batch function
(`engine.batch.pipeline.screen_batch`). The upload is bounded in bytes and in rows. The whole
upload is read and parsed before the first line is sent, so a malformed one is refused with a
problem; a stream that lacks its last line was cut short by a failure in the server.

(`screen`'s register reading is now an engine library function, `engine.batch.registers` /
`engine.batch.screening.screen_register`; this module's reading of rows should call it. The
result columns come from `engine.batch.results`, where they are defined once.)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel

from ..engine.model.facts import FactDef
from ..engine.model.jsonio import JsonError, load_json
from ..engine.reference.results import AmountKind, Status
from .decisions import DecisionLog
from .problems import ServiceProblem
from .state import Loaded

BATCH = 1_000
MEDIA_TYPE = "application/x-ndjson"


class ScreenedRow(BaseModel):
    """One enterprise × policy: the verdict, the amount after stacking (a decimal string in
    yuan), what is missing and what awaits an expert."""

    row: int
    credit_code: str | None
    zone: str | None
    policy_id: str
    status: Status
    amount: str | None
    amount_kind: AmountKind
    missing: list[str]
    review: list[str]


class BadRow(BaseModel):
    """A row that cannot be screened, with every invalid field in `error`."""

    row: int
    error: str


class ScreenEnd(BaseModel):
    """The last line: rows read, bad rows, result lines written."""

    rows: int
    bad: int
    results: int


def read_rows(
    text: str, fmt: str, max_rows: int, facts: Mapping[str, FactDef]
) -> tuple[list[tuple[int, Any]], bool]:
    """Numbered rows of the register, and whether they are flat (CSV) records; a CSV header
    with a column that is no register column (`registers.unknown_column`: the policy set's
    catalogue `facts` says which `facts.` columns there are) is refused, as `screen` refuses it."""
    if fmt == "jsonl":
        numbered: list[tuple[int, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbered.append((number, load_json(line)))
                except JsonError as exc:  # reported as the row's error ("invalid JSON: …")
                    numbered.append((number, ValueError(str(exc).removeprefix("invalid JSON: "))))
                _bounded(len(numbered), max_rows)
        return numbered, False
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _check_header(reader, facts)
    records = []
    try:
        for number, record in enumerate(reader, start=2):
            records.append((number, record))
            _bounded(len(records), max_rows)
    except csv.Error as exc:
        raise ServiceProblem(400, "invalid-register", f"record {reader.line_num}: {exc}") from None
    if reader.fieldnames is None:
        raise ServiceProblem(400, "invalid-register", "the CSV has no header row")
    return records, True


def _check_header(reader: csv.DictReader[str], facts: Mapping[str, FactDef]) -> None:
    from ..engine.batch.registers import unknown_column

    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise ServiceProblem(400, "invalid-register", f"record {reader.line_num}: {exc}") from None
    for index, column in enumerate(header, start=1):
        problem = unknown_column(column, facts)
        if problem is not None:
            raise ServiceProblem(400, "invalid-register",
                                 f"record 1: header column {index}: {problem}")  # fmt: skip


def _bounded(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise ServiceProblem(
            413, "body-too-large",
            f"more than {max_rows} rows; screen larger registers with `incentives screen`",
        )  # fmt: skip


def screened_lines(
    loaded: Loaded, numbered: list[tuple[int, Any]], flat: bool, as_of: date,
    log: DecisionLog | None = None, request_id: str = "", tax_year: int | None = None,
) -> Iterator[bytes]:  # fmt: skip
    """The response body, batch by batch; tax-year preferences for `tax_year` (default: the
    year before `as_of`)."""
    from ..engine.batch.pipeline import screen_batch
    from ..engine.batch.results import presented  # the result columns, in their order

    vectorised = loaded.vectorised()
    bad_rows = results = 0
    for start in range(0, len(numbered), BATCH):
        batch = numbered[start : start + BATCH]
        result, bad, _ = screen_batch(vectorised, batch, as_of, flat, tax_year=tax_year)
        for number, message in bad:
            yield _line(BadRow(row=number, error=message).model_dump())
        bad_rows += len(bad)
        results += result.height
        shown = presented(result)
        if shown.height:
            yield shown.write_ndjson().encode("utf-8")
        if log is not None:
            _log_rows(log, loaded, dict(batch), shown, as_of, request_id)
    yield _line(ScreenEnd(rows=len(numbered), bad=bad_rows, results=results).model_dump())


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")


def _log_rows(
    log: DecisionLog, loaded: Loaded, rows: dict[int, Any], shown: Any, as_of: date,
    request_id: str,
) -> None:  # fmt: skip
    """One decision per screened row: its verdicts (a register row has no report total)."""
    for (number,), group in shown.group_by("row", maintain_order=True):
        code = group["credit_code"][0]
        if code is not None:
            about: dict[str, Any] = {"row": number, "credit_code": code}
        else:
            raw = json.dumps(rows.get(number), sort_keys=True, ensure_ascii=False, default=str)
            about = {"row": number, "row_sha256": hashlib.sha256(raw.encode()).hexdigest()}
        verdicts = dict(zip(group["policy_id"], group["status"], strict=True))
        log.record(request_id=request_id, path="/v1/screen", version=loaded.version,
                   as_of=as_of, about=about, verdicts=verdicts)  # fmt: skip
