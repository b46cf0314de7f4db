"""Tests that search for breakage: generated malformed registers (CSV, JSON Lines, Parquet) and
update streams driven through the real CLI (`incentives screen`, `incentives watch`).

Every input must get: exit status 0, 1 or 2; no traceback; a bounded time (`register_support`).
A register that is screened must have every good row in its results exactly once, no bad row,
and every bad row reported with its number; a refused register must leave no result file. A
stream must report exactly its bad lines, each with its number, and give exactly the events
that its good updates imply.

The generators know, for each row they make, whether it is good; they never make a row whose
fate is ambiguous (see `csv_registers`). Examples per test: `EXAMPLES` below under the CI profile,
scaled by the hypothesis profile (conftest); `INCENTIVES_HYPOTHESIS_SCALE=200 pytest
tests/test_fuzz_registers.py` runs long.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REUSES_FIXTURES, examples
from hypothesis import given, settings
from hypothesis import strategies as st
from register_support import (
    AS_OF,
    invoke,
    leftovers,
    result_rows,
    screen,
    small_policies,
    terminal_safe,
)

from incentives.engine.batch.registers import MAX_CELL
from incentives.engine.model.streams import MAX_LINE
from incentives.engine.reactive import unavailable_reason

EXAMPLES = 12
FUZZ = settings(REUSES_FIXTURES, max_examples=examples(EXAMPLES))  # one tmp_path for all examples

ZONES = ["taiyuan", "pingyao", "jinzhong-dz"]
STAFF = ["0", "5", "9", "10", "50", "1200", "12人", "007"]
NAMES = [
    "甲公司",
    "A, B & C",
    'say "hi"',
    "两行\n名称",
    "tab\tin",
    "",
    " ",
    "x" * 300,
    "☃ \u3000 é",
]
HUGE = "h" * (MAX_CELL + 1)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_policies(tmp_path_factory.mktemp("policies"))


@dataclass
class Register:
    """A generated register: its bytes, its options, and what screening it must give."""

    data: bytes
    suffix: str
    options: list[str] = field(default_factory=list)
    good: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    refused: bool = False  # the whole register must be refused
    corrupt: bool = False  # damaged on purpose: any clear outcome will do, but not a wrong one


# --- CSV -------------------------------------------------------------------------------------

# Row kinds. A quote that opens a cell and never closes (`broken`) is only generated in registers
# whose other rows hold no quote at all: a later quote could otherwise close it into a record of
# the right width, which CSV itself cannot tell from a cell that spans lines on purpose.
CSV_GOOD = ("good", "good", "good", "multiline")
CSV_BAD = ("invalid", "short", "long", "nul", "badbyte", "huge", "stray", "longline")


SIMPLE_NAMES = [n for n in NAMES if not any(c in n for c in '",\n')]


def _codec(encoding: str) -> str:
    """The codec of each line (the byte-order mark, if any, is written once, at the start)."""
    return {"utf-16": "utf-16-le", "utf-8-sig": "utf-8"}.get(encoding, encoding)


@st.composite
def csv_registers(draw: Any) -> Register:
    quoteless = draw(st.booleans())  # the family where quotes open cells by mistake
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    kinds = [*CSV_GOOD, *CSV_BAD, "blank"] + (["broken", "broken"] if quoteless else [])
    if quoteless:
        kinds.remove("multiline")
    if encoding == "utf-16":
        kinds.remove("badbyte")  # a stray byte would misalign every later code unit
    rows = draw(st.lists(st.sampled_from(kinds), max_size=14))
    if rows.count("longline") > 1:  # a megabyte each: one is enough
        rows = [r for r in rows if r != "longline"] + ["longline"]
    headers = ["plain"] * 6 + ["twice", "empty"] + (["badbyte"] if encoding != "utf-16" else [])
    header_kind = draw(st.sampled_from(headers))
    register = Register(b"", ".csv")
    if encoding == "gb18030":
        register.options = ["--encoding", "gb18030"]
    if header_kind == "empty":
        register.data = _encoded(b"", encoding)
        return register
    header = ["zone", "employees", "name"] + (["employees"] if header_kind == "twice" else [])
    register.refused = header_kind != "plain"
    chunks = [(",".join(header) + "\r\n").encode(_codec(encoding))]
    if header_kind == "badbyte":
        chunks[0] = b"zone,\xffemployees,name\r\n"
    number = 1
    for kind in rows:
        chunks.append(_csv_row(draw, kind, len(header), quoteless, _codec(encoding)))
        if kind == "blank":
            continue  # skipped, and not counted
        number += 1
        if not register.refused:
            (register.good if kind in CSV_GOOD else register.bad).append(number)
    register.data = _encoded(b"".join(chunks), encoding)
    return register


def _encoded(body: bytes, encoding: str) -> bytes:
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + body
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + body
    return body


def _csv_row(draw: Any, kind: str, width: int, quoteless: bool, codec: str) -> bytes:
    if kind == "blank":
        return "\r\n".encode(codec)
    zone = draw(st.sampled_from(ZONES))
    staff = draw(st.sampled_from(STAFF))
    # A cell over several lines only in rows that stay one record of the right width
    rich = not quoteless and kind in ("good", "invalid")
    name = (
        "两行\n名称"
        if kind == "multiline"
        else draw(st.sampled_from(NAMES if rich else SIMPLE_NAMES))
    )
    cells = [zone, staff, name] + [""] * (width - 3)
    if kind == "invalid":
        column, value = draw(
            st.sampled_from([(0, "atlantis"), (1, "-3"), (1, "many"), (1, "1.5.5")])
        )
        cells[column] = value
    elif kind == "short":
        cells = cells[: draw(st.integers(1, width - 1))]
    elif kind == "long":
        cells = cells + ["x"] * draw(st.integers(1, 3))
    elif kind == "nul":
        cells[2] = "a\x00b"
    elif kind == "huge":
        cells[2] = HUGE
    elif kind == "longline":
        cells[2] = "l" * (MAX_LINE + 1)
    raw = _csv_text(cells, kind, quoteless).encode(codec)
    if kind == "badbyte":
        raw = raw.replace(zone.encode(codec), zone.encode(codec) + b"\xff", 1)
    return raw


def _csv_text(cells: list[str], kind: str, quoteless: bool) -> str:
    if kind == "broken":
        return f'{cells[0]},{cells[1]},"broken {cells[2]}\r\n'
    if kind == "stray":
        return f'{cells[0]},"{cells[1]}"x,{cells[2]}\r\n'
    if quoteless:
        return ",".join(cells) + "\r\n"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


# --- JSON Lines ------------------------------------------------------------------------------

JSONL_BAD: dict[str, bytes] = {
    "invalid": b'{"zone": "atlantis", "employees": 5}',
    "negative": b'{"zone": "taiyuan", "employees": -5}',
    "twice": b'{"zone": "taiyuan", "employees": 50, "name": "x", "employees": 500}',
    "truncated": b'{"zone": "taiyuan", "employees": 5',
    "nan": b'{"zone": "taiyuan", "employees": NaN}',
    "infinity": b'{"employees": -Infinity}',
    "deep": b'{"facts": ' + b"[" * 40 + b"]" * 40 + b"}",
    "surrogate": b'{"zone": "taiyuan", "name": "\\udc80"}',
    "badbyte": b'{"zone": "taiyuan", "name": "\xff\xfe"}',
    "nul": b'{"zone": "taiyuan", "name": "a\x00"}',
    "list": b'[{"zone": "taiyuan"}]',
    "text": b'"taiyuan"',
    "null": b"null",
    "number": b"5",
    "bigint": b'{"employees": ' + b"9" * 60 + b"}",
    "unknown": b'{"zone": "taiyuan", "staff": 5}',
    "float_shape": b'{"employees": 1e999999}',
    "longline": b'{"name": "' + b"y" * (MAX_LINE + 1) + b'"}',
}


@st.composite
def jsonl_registers(draw: Any) -> Register:
    kinds = draw(st.lists(st.sampled_from(["good"] * 6 + ["blank", *JSONL_BAD]), max_size=16))
    if kinds.count("longline") > 1:
        kinds = [k for k in kinds if k != "longline"] + ["longline"]
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    register = Register(codecs.BOM_UTF8 if draw(st.booleans()) else b"", ".jsonl")
    lines: list[bytes] = []
    for number, kind in enumerate(kinds, start=1):
        if kind == "good":
            profile: dict[str, Any] = {"zone": draw(st.sampled_from(ZONES))}
            if draw(st.booleans()):
                profile["employees"] = draw(st.sampled_from([0, 5, 10, 50, "12人", "3000"]))
            if draw(st.booleans()):
                profile["name"] = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)))
            ascii_only = draw(st.booleans())
            lines.append(json.dumps(profile, ensure_ascii=ascii_only).encode("utf-8"))
            register.good.append(number)
        elif kind == "blank":
            lines.append(draw(st.sampled_from([b"", b"  ", b"\t"])))
        else:
            lines.append(JSONL_BAD[kind])
            register.bad.append(number)
    register.data += ending.join(lines) + (ending if lines and draw(st.booleans()) else b"")
    return register


# --- Parquet ---------------------------------------------------------------------------------


@st.composite
def parquet_registers(draw: Any) -> Register:
    n = draw(st.integers(0, 12))
    good = [draw(st.booleans()) or draw(st.booleans()) for _ in range(n)]
    typed = draw(st.booleans())
    zones = [draw(st.sampled_from(ZONES)) if g else draw(st.sampled_from(["atlantis", *ZONES])) for g in good]  # fmt: skip
    staff = [draw(st.sampled_from([0, 5, 50])) if g else -3 for g in good]
    names = [draw(st.sampled_from(NAMES)) for _ in good]
    long_rows = {i for i in range(n) if draw(st.integers(0, 9)) == 0}
    for i in long_rows:
        names[i] = HUGE
    register = Register(b"", ".parquet")
    for i, g in enumerate(good):  # a row that is not good has -3 employees
        (register.good if g and i not in long_rows else register.bad).append(i + 1)
    columns: dict[str, Any] = {
        "zone": pa.array(zones, pa.string()),
        "employees": pa.array(staff, pa.int64()) if typed else pa.array([str(s) for s in staff]),
        "name": pa.array(names, pa.large_string() if typed else pa.string()),
        "registration_date": pa.array([date(2020, 1, 1)] * n, pa.date32())
        if typed
        else pa.array(["2020-01-01"] * n),
    }
    twist = draw(
        st.sampled_from(["none"] * 5 + ["float", "timestamp", "twice", "truncate", "flip"])
    )
    if twist == "float":
        columns["employees"] = pa.array([float(s) for s in staff], pa.float64())
    elif twist == "timestamp":
        columns["registration_date"] = pa.array([0] * n, pa.timestamp("s"))
    names_list = list(columns) + (["zone"] if twist == "twice" else [])
    arrays = list(columns.values()) + ([columns["zone"]] if twist == "twice" else [])
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_arrays(arrays, names_list), buffer, row_group_size=draw(st.integers(1, 8))
    )
    data = bytearray(buffer.getvalue())
    register.refused = twist in ("float", "timestamp", "twice")
    if twist == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
        register.corrupt = True
    elif twist == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        register.corrupt = True
    register.data = bytes(data)
    return register


# --- the checks ------------------------------------------------------------------------------


def check_screen(
    register: Register, policies: Path, tmp_path: Path, fmt: str, to_file: bool
) -> None:
    path = tmp_path / f"register{register.suffix}"
    path.write_bytes(register.data)
    out = tmp_path / f"results.{fmt}"
    if out.exists():
        out.unlink()
    target = ["--out", str(out)] if to_file or fmt == "parquet" else []
    run = screen(path, policies, "--format", fmt, *target, *register.options)
    assert leftovers(tmp_path) == []
    if run.code != 0:
        assert run.code == 1 and run.stderr.startswith("Error: ") and run.stderr.count("Error") == 1
        assert not out.exists(), "a refusal came with a result file"
        assert register.refused or register.corrupt, run.stderr
        return
    assert not register.refused, "a register that must be refused was screened"
    rows = [r["row"] for r in result_rows(out if target else run.stdout, fmt)]
    assert len(rows) == len(set(rows)), "a row appears twice"  # one policy: one result per row
    if register.corrupt:
        return  # damaged on purpose: whatever rows it still had, each once, is a clear answer
    assert sorted(rows) == register.good, run.stderr
    reported = [int(line.split()[2].rstrip(":")) for line in run.stderr.splitlines()
                if line.startswith("bad row ")]  # fmt: skip
    assert reported == register.bad[:20], run.stderr
    assert f"{len(register.good)} enterprises screened, {len(register.bad)} bad rows" in run.stderr


@FUZZ
@given(csv_registers(), st.sampled_from(["csv", "jsonl", "parquet"]), st.booleans())
def test_fuzz_csv_registers(
    policies: Path, tmp_path: Path, register: Register, fmt: str, to_file: bool
) -> None:
    check_screen(register, policies, tmp_path, fmt, to_file)


@FUZZ
@given(jsonl_registers(), st.sampled_from(["csv", "jsonl", "parquet"]), st.booleans())
def test_fuzz_json_lines_registers(
    policies: Path, tmp_path: Path, register: Register, fmt: str, to_file: bool
) -> None:
    check_screen(register, policies, tmp_path, fmt, to_file)


@FUZZ
@given(parquet_registers(), st.sampled_from(["csv", "jsonl", "parquet"]), st.booleans())
def test_fuzz_parquet_registers(
    policies: Path, tmp_path: Path, register: Register, fmt: str, to_file: bool
) -> None:
    check_screen(register, policies, tmp_path, fmt, to_file)


# --- watch -----------------------------------------------------------------------------------

IDS = ["E1", 'E"2', "E\\3", "E\x004", "E\x1b[5m", "企业6", "E\u202e7", "e1", "E" * 5_000]
WATCH_BAD: dict[str, bytes] = {
    "json": b'{"enterprise": "E1", "set": {"employees": 5',
    "twice": b'{"enterprise": "E1", "set": {"employees": 5}, "set": {"employees": 50}}',
    "nan": b'{"enterprise": "E1", "set": {"employees": NaN}}',
    "deep": b'{"enterprise": "E1", "set": ' + b"{" * 20 + b"}" * 20 + b"}",
    "surrogate": b'{"enterprise": "E\\ud801", "set": {"employees": 5}}',
    "badbyte": b'{"enterprise": "E1\xff", "set": {"employees": 5}}',
    "list": b'[{"enterprise": "E1"}]',
    "null": b"null",
    "noid": b'{"set": {"employees": 5}}',
    "emptyid": b'{"enterprise": "", "set": {"employees": 5}}',
    "two": b'{"enterprise": "E1", "set": {"employees": 5}, "remove": true}',
    "none": b'{"enterprise": "E1"}',
    "negative": b'{"enterprise": "E1", "set": {"employees": -5}}',
    "many": b'{"enterprise": "E1", "set": {"employees": "many"}}',
    "zone": b'{"enterprise": "E\\u001b[31m", "set": {"zone": "atlantis"}}',
    "field": b'{"enterprise": "E1", "set": {"staff": 5}}',
    "retract": b'{"enterprise": "E1", "retract": "employees"}',
    "longline": b'{"enterprise": "E1", "set": {"name": "' + b"z" * (MAX_LINE + 1) + b'"}}',
}


def _status(employees: int | None) -> str:
    return "undetermined" if employees is None else "eligible" if employees >= 10 else "ineligible"


@st.composite
def update_streams(draw: Any) -> tuple[bytes, list[int], dict[str, list[str]]]:
    """Lines of updates, the numbers of the bad ones, and each enterprise's verdicts as its
    good updates must move them (the one policy: eligible from ten employees)."""
    kinds = draw(st.lists(st.sampled_from(["profile", "set", "retract", "remove"] * 3 + ["blank", *WATCH_BAD]), max_size=20))  # fmt: skip
    if kinds.count("longline") > 1:
        kinds = [k for k in kinds if k != "longline"] + ["longline"]
    lines: list[bytes] = []
    bad: list[int] = []
    employees: dict[str, int | None] = {}
    verdicts: dict[str, list[str]] = {}
    for number, kind in enumerate(kinds, start=1):
        if kind in WATCH_BAD:
            lines.append(WATCH_BAD[kind])
            bad.append(number)
            continue
        if kind == "blank":
            lines.append(b"")
            continue
        eid = draw(st.one_of(st.sampled_from(IDS), st.text(min_size=1, max_size=12)))
        value = draw(st.sampled_from([0, 5, 10, 50]))
        update: dict[str, Any] = {"enterprise": eid}
        before = _status(employees.get(eid))
        if kind == "profile":
            update["profile"] = {"employees": value}
            employees[eid] = value
        elif kind == "set":
            update["set"] = {"employees": value}
            employees[eid] = value
        elif kind == "retract":
            update["retract"] = ["employees"]
            employees[eid] = None
        else:
            update["remove"] = True
            employees.pop(eid, None)
        after = _status(employees.get(eid))
        if after != before:
            verdicts.setdefault(eid, []).append(after)
        lines.append(json.dumps(update, ensure_ascii=draw(st.booleans())).encode("utf-8"))
    return b"\n".join(lines) + b"\n", bad, verdicts


needs_durable = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)


@needs_durable
@FUZZ
@given(update_streams())
def test_fuzz_watch_streams(
    policies: Path, stream: tuple[bytes, list[int], dict[str, list[str]]]
) -> None:
    data, bad, verdicts = stream
    run = invoke(["watch", "--as-of", AS_OF, "--policies", str(policies)], data)
    assert run.code == 0, run.stderr
    skipped = [int(line.split()[1].rstrip(":")) for line in run.stderr.splitlines()]
    assert skipped == bad, run.stderr
    assert terminal_safe(run.stderr)
    got: dict[str, list[str]] = {}
    for line in run.stdout.decode("utf-8").split("\n")[:-1]:
        event = json.loads(line)
        got.setdefault(event["enterprise"], []).append(event["after"])
    assert got == verdicts


# --- random damage -----------------------------------------------------------------------------


@st.composite
def damaged(draw: Any, registers: Any) -> bytes:
    """A generated register (or stream) with random bytes inserted, deleted or overwritten, and
    lines repeated or dropped."""
    data = bytearray(draw(registers).data if not isinstance(registers, bytes) else registers)
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["insert", "delete", "overwrite", "line"]))
        at = draw(st.integers(0, len(data)))
        if action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "overwrite" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i]) if draw(st.booleans()) else lines.pop(i)
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@FUZZ
@given(st.sampled_from([".csv", ".jsonl"]).flatmap(
    lambda suffix: st.tuples(st.just(suffix), damaged(csv_registers() if suffix == ".csv" else jsonl_registers()))
), st.sampled_from(["csv", "jsonl", "parquet"]))  # fmt: skip
def test_fuzz_damaged_registers(
    policies: Path, tmp_path: Path, case: tuple[str, bytes], fmt: str
) -> None:
    """Whatever the damage: a clear outcome, no result file with a refusal, no row twice, and
    only row numbers the register can have."""
    suffix, data = case
    register = Register(data, suffix, corrupt=True)
    check_screen(register, policies, tmp_path, fmt, to_file=True)
    out = tmp_path / f"results.{fmt}"
    if out.exists():
        rows = [r["row"] for r in result_rows(out, fmt)]
        assert all(1 <= n <= data.count(b"\n") + 1 for n in rows)


@needs_durable
@FUZZ
@given(update_streams().flatmap(lambda stream: damaged(stream[0])))
def test_fuzz_damaged_update_streams(policies: Path, data: bytes) -> None:
    """Whatever the damage, the session goes on: exit 0, each skipped line reported once, in
    order, escaped, and every event one line of JSON."""
    run = invoke(["watch", "--as-of", AS_OF, "--policies", str(policies)], data)
    assert run.code == 0, run.stderr
    skipped = [int(line.split()[1].rstrip(":")) for line in run.stderr.splitlines()]
    assert skipped == sorted(set(skipped)) and terminal_safe(run.stderr)
    for line in run.stdout.decode("utf-8").split("\n")[:-1]:
        assert set(json.loads(line)) == {"enterprise", "policy_id", "before", "after", "as_of", "tax_year"}
