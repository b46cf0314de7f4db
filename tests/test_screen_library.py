"""`screen_register`, the one library function behind `incentives screen` (and for a service or a
job): registers and results as paths or file objects, the summary, and the result columns
defined once for every writer."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from register_support import POLICY_ID, small_policies

from incentives.engine import InputError, PolicySet
from incentives.engine.batch.results import RESULT_COLUMNS, arrow_schema, spark_schema
from incentives.engine.batch.screening import screen_register
from incentives.engine.batch.spark import RESULT_SCHEMA
from incentives.engine.batch.vectorised import OUTPUT

AS_OF = date(2026, 11, 24)


@pytest.fixture(scope="module")
def policy_set(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return PolicySet(small_policies(tmp_path_factory.mktemp("policies")))


def test_file_objects_in_and_out_and_the_summary(policy_set: PolicySet) -> None:
    register = io.BytesIO(b"zone,employees\ntaiyuan,50\npingyao,5\nx,-1\n")
    out = io.BytesIO()
    progress: list[tuple[int, int | None]] = []
    summary = screen_register(
        policy_set, register, AS_OF, out=out, fmt="jsonl", register_fmt="csv",
        explain=[2, 4], progress=lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert [(r["row"], r["status"]) for r in rows] == [(2, "eligible"), (3, "ineligible")]
    assert (summary.rows, summary.screened, summary.bad_count) == (3, 2, 1)
    assert summary.bad[0][0] == 4 and "employees" in summary.bad[0][1]
    assert summary.count(POLICY_ID, "eligible") == 1
    assert summary.policy_amounts[POLICY_ID] == Decimal(100_000)
    assert summary.zone_eligible == {"taiyuan": 1}
    assert set(summary.explained) == {2} and summary.explained[2].employees == 50
    assert progress and progress[-1][0] > 0
    data = summary.to_json()
    assert data["policies"] == [{"policy_id": POLICY_ID, "counts": {"eligible": 1, "ineligible": 1},
                                 "eligible_amount": "100000.00"}]  # fmt: skip
    assert data["zones"] == [{"zone": "taiyuan", "eligible": 1, "eligible_amount": "100000.00"}]
    json.dumps(data)  # JSON-ready


def test_no_output_only_tallies(policy_set: PolicySet, tmp_path: Path) -> None:
    path = tmp_path / "register.jsonl"
    path.write_text('{"zone": "taiyuan", "employees": 50}\n', encoding="utf-8")
    summary = screen_register(policy_set, path, AS_OF)
    assert summary.screened == 1 and list(tmp_path.iterdir()) == [path]


def test_a_register_as_a_file_object_needs_its_format(policy_set: PolicySet) -> None:
    with pytest.raises(ValueError, match="register_fmt"):
        screen_register(policy_set, io.BytesIO(b""), AS_OF)
    with pytest.raises(InputError, match="unknown register format"):
        screen_register(policy_set, Path("register.xlsx"), AS_OF)


def test_parquet_to_a_file_object(policy_set: PolicySet) -> None:
    out = io.BytesIO()
    screen_register(policy_set, io.BytesIO(b'{"employees": 12}\n'), AS_OF, out=out,
                    fmt="parquet", register_fmt="jsonl")  # fmt: skip
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.schema == arrow_schema() and table.column("row").to_pylist() == [1]


def test_the_result_columns_are_defined_once() -> None:
    assert tuple(OUTPUT) == RESULT_COLUMNS
    assert tuple(arrow_schema().names) == RESULT_COLUMNS
    assert arrow_schema(with_error=True).names == [*RESULT_COLUMNS, "error"]
    assert spark_schema(with_error=True) == RESULT_SCHEMA
    assert [part.split()[0] for part in RESULT_SCHEMA.split(", ")] == [*RESULT_COLUMNS, "error"]
