"""`incentives screen` answers every register right or refuses it clearly, and never loses data:
one regression test per class of hostile input (issue 10), through the real CLI."""

from __future__ import annotations

import codecs
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from register_support import POLICY_ID, Run, leftovers, result_rows, screen, small_policies

from incentives.engine import PolicySet
from incentives.engine.batch.cells import CellChecker
from incentives.engine.batch.registers import MAX_CELL
from incentives.engine.batch.results import RESULT_COLUMNS, arrow_schema
from incentives.engine.model.streams import MAX_LINE
from incentives.engine.reference.context import _coerce

ROOT = Path(__file__).resolve().parent.parent
GOOD = "taiyuan,50"  # zone, employees: a good row of the small policy set


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_policies(tmp_path_factory.mktemp("policies"))


def csv_register(tmp_path: Path, *rows: str, header: str = "zone,employees") -> Path:
    path = tmp_path / "register.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def screened_rows(path: Path, fmt: str) -> list[int]:
    """Register rows present in a result file (each once per policy of the set)."""
    return sorted({r["row"] for r in result_rows(path, fmt)})


def bad_rows(stderr: str) -> dict[int, str]:
    found = {}
    for line in stderr.splitlines():
        if line.startswith("bad row "):
            number, _, message = line[len("bad row ") :].partition(": ")
            found[int(number)] = message
    return found


# --- no data is ever lost --------------------------------------------------------------------


def test_out_never_overwrites_the_register_by_any_path(tmp_path: Path, policies: Path) -> None:
    register = csv_register(tmp_path, GOOD)
    before = register.read_bytes()
    (tmp_path / "link.csv").symlink_to(register)
    os.link(register, tmp_path / "hard.csv")
    for target in (register, tmp_path / "link.csv", tmp_path / "hard.csv", tmp_path / "." / "register.csv"):  # fmt: skip
        run = screen(register, policies, "--out", str(target))
        assert run.code == 1 and "an input of this run" in run.stderr, run.stderr
        assert register.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_out_never_overwrites_a_policy_file_nor_writes_into_the_policy_directory(
    tmp_path: Path,
) -> None:
    directory = small_policies(tmp_path / "policies")
    policy = directory / "award.yaml"
    before = policy.read_bytes()
    register = csv_register(tmp_path, GOOD)
    run = screen(register, directory, "--out", str(policy))
    assert run.code == 1 and "an input of this run" in run.stderr
    run = screen(register, directory, "--out", str(directory / "results.csv"))
    assert run.code == 1 and "inside the policy directory" in run.stderr
    assert policy.read_bytes() == before and sorted(os.listdir(directory)) == ["award.yaml"]
    bundled = ROOT / "policies" / "national" / "hnte.yaml"
    run = screen(register, None, "--out", str(bundled))  # the bundled library is an input too
    assert run.code == 1 and bundled.read_text(encoding="utf-8").startswith(("id:", "#"))


def test_standard_output_that_is_the_register_is_refused(tmp_path: Path, policies: Path) -> None:
    register = csv_register(tmp_path, GOOD)
    before = register.read_bytes()
    with register.open("ab") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "incentives", "screen", str(register), "--as-of", "2026-11-24",
             "--policies", str(policies)], stdout=stdout, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1 and "an input of this run" in done.stderr, done.stderr
    assert register.read_bytes() == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_failed_run_leaves_the_earlier_results_and_no_partial_file(
    tmp_path: Path, policies: Path, fmt: str
) -> None:
    out = tmp_path / f"results.{fmt}"
    assert (
        screen(csv_register(tmp_path, GOOD), policies, "--out", str(out), "--format", fmt).code == 0
    )
    earlier = out.read_bytes()
    broken = csv_register(tmp_path, GOOD, header="zone,employees,zone")  # refused: zone twice
    run = screen(broken, policies, "--out", str(out), "--format", fmt)
    assert run.code == 1 and "named twice" in run.stderr
    assert out.read_bytes() == earlier and leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("content", ["", "zone,employees\n", "\ufeffzone,employees\r\n\r\n"])
def test_an_empty_register_writes_an_empty_valid_file_over_a_stale_one(
    tmp_path: Path, policies: Path, fmt: str, content: str
) -> None:
    register = tmp_path / "register.csv"
    register.write_text(content, encoding="utf-8")
    out = tmp_path / f"results.{fmt}"
    out.write_bytes(b"stale results of an earlier run")
    run = screen(register, policies, "--out", str(out), "--format", fmt)
    assert run.code == 0 and "0 enterprises screened, 0 bad rows" in run.stderr
    if fmt == "csv":
        assert out.read_text(encoding="utf-8") == ",".join(RESULT_COLUMNS) + "\n"
    elif fmt == "jsonl":
        assert out.read_bytes() == b""
    else:
        table = pq.read_table(out)
        assert table.num_rows == 0 and table.schema == arrow_schema()


def test_missing_unwritable_and_full_targets_exit_1_with_one_message(
    tmp_path: Path, policies: Path
) -> None:
    register = csv_register(tmp_path, GOOD)
    targets = [tmp_path / "missing" / "out.csv", Path("/dev/full")]
    if Path("/sys/fs").is_dir():  # not writable, even by root
        targets.append(Path("/sys/fs/out.csv"))
    for target in targets:
        for fmt in ("csv", "parquet"):
            run = screen(register, policies, "--out", str(target), "--format", fmt)
            assert run.code == 1, (target, run.stderr)
            assert run.stderr.startswith("Error: cannot write the results to ")
            assert run.stderr.count("Error") == 1 and "screened" not in run.stderr
    assert not (tmp_path / "missing").exists()


def test_standard_output_on_a_full_disk_exits_1_with_one_message(
    tmp_path: Path, policies: Path
) -> None:
    register = csv_register(tmp_path, *[GOOD] * 50)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "incentives", "screen", str(register), "--as-of", "2026-11-24",
             "--policies", str(policies)], stdout=full, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert (
        done.stderr
        == "Error: cannot write the results to standard output: No space left on device\n"
    )


def _file_size_limit(limit: int) -> None:
    """In the child: files may grow to `limit` bytes, as on a disk that fills up (EFBIG)."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_disk_that_fills_up_leaves_the_earlier_file_and_no_partial_one(
    tmp_path: Path, policies: Path, fmt: str
) -> None:
    register = csv_register(tmp_path, *[f"taiyuan,{n}" for n in range(5_000)])
    out = tmp_path / f"results.{fmt}"
    out.write_bytes(b"the complete results of an earlier run")
    done = subprocess.run(
        [sys.executable, "-m", "incentives", "screen", str(register), "--as-of", "2026-11-24",
         "--policies", str(policies), "--out", str(out), "--format", fmt],
        stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
        preexec_fn=lambda: _file_size_limit(16_384),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"Error: cannot write the results to {out}: File too large")
    assert out.read_bytes() == b"the complete results of an earlier run"
    assert leftovers(tmp_path) == []


def test_interrupt_exits_130_and_leaves_no_file(tmp_path: Path, policies: Path) -> None:
    line = json.dumps({"zone": "taiyuan", "employees": 50}) + "\n"
    register = tmp_path / "register.jsonl"
    register.write_text(line * 400_000, encoding="utf-8")  # far longer than the wait below
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "incentives", "screen", str(register), "--as-of", "2026-11-24",
         "--policies", str(policies), "--out", str(out_dir / "results.csv")],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not leftovers(out_dir) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # inside the run
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip() == "Error: interrupted" and os.listdir(out_dir) == []


# --- CSV read strictly -----------------------------------------------------------------------


def test_an_unterminated_quote_does_not_swallow_later_rows(tmp_path: Path, policies: Path) -> None:
    good = "taiyuan,50,甲"
    register = csv_register(tmp_path, good, 'taiyuan,50,"broken', good, good, header="zone,employees,name")  # fmt: skip
    run = screen(register, policies, "--format", "jsonl")
    assert run.code == 0
    assert sorted({r["row"] for r in result_rows(run.stdout, "jsonl")}) == [2, 4, 5]
    assert list(bad_rows(run.stderr)) == [3] and "unterminated quote" in bad_rows(run.stderr)[3]


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("taiyuan", "1 cell, fewer than the 2 columns"),
        ("taiyuan,50,x", "3 cells, more than the 2 columns"),
        ('taiyuan,"50"x', "text after the closing quote"),
        ("taiyuan,5\x000", "NUL character"),
        ("taiyuan," + "9" * (MAX_CELL + 1), f"more than {MAX_CELL:,}"),
        ("taiyuan,\r50", "carriage return inside a cell"),
    ],
)
def test_malformed_csv_rows_are_bad_rows_and_the_rest_is_screened(
    tmp_path: Path, policies: Path, row: str, fragment: str
) -> None:
    register = csv_register(tmp_path, GOOD, row, GOOD)
    run = screen(register, policies, "--format", "jsonl")
    assert run.code == 0, run.stderr
    assert sorted({r["row"] for r in result_rows(run.stdout, "jsonl")}) == [2, 4]
    assert list(bad_rows(run.stderr)) == [3] and fragment in bad_rows(run.stderr)[3]


def test_a_quoted_cell_may_still_span_lines(tmp_path: Path, policies: Path) -> None:
    register = csv_register(tmp_path, 'taiyuan,50,"二行\n的名称"', "taiyuan,5,x", header="zone,employees,name")  # fmt: skip
    run = screen(register, policies, "--format", "jsonl")
    assert run.code == 0 and bad_rows(run.stderr) == {}
    statuses = {r["row"]: r["status"] for r in result_rows(run.stdout, "jsonl")}
    assert statuses == {2: "eligible", 3: "ineligible"}


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (b"zone,employees,zone", "column 'zone' is named twice in the header (columns 1 and 3)"),
        (b'zone,"employees', "cannot be read: a quoted cell that is never closed"),
        (b"zone,empl\xffoyees", "not valid utf-8"),
        (b"zone,employees\x00", "NUL character"),
    ],
)
def test_a_broken_header_refuses_the_register(
    tmp_path: Path, policies: Path, header: bytes, fragment: str
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(header + b"\n" + GOOD.encode() + b"\n")
    out = tmp_path / "out.csv"
    run = screen(path, policies, "--out", str(out))
    assert run.code == 1 and fragment in run.stderr, run.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_bad_byte_spoils_only_its_row_in_csv_and_json_lines(
    tmp_path: Path, policies: Path
) -> None:
    csv_path = tmp_path / "register.csv"
    csv_path.write_bytes(b"zone,employees,name\ntaiyuan,50,a\ntaiyuan,50,\xff\xfe\ntaiyuan,50,b\n")
    run = screen(csv_path, policies, "--format", "jsonl")
    assert screened(run) == [2, 4] and "not valid utf-8 text" in bad_rows(run.stderr)[3]
    jsonl = tmp_path / "register.jsonl"
    good = b'{"zone": "taiyuan", "employees": 50}\n'
    jsonl.write_bytes(good + b'{"zone": "taiyuan", "name": "\xff"}\n' + good)
    run = screen(jsonl, policies, "--format", "jsonl")
    assert screened(run) == [1, 3] and list(bad_rows(run.stderr)) == [2]
    assert "2 enterprises screened, 1 bad rows" in run.stderr


def screened(run: Run) -> list[int]:
    """The rows of a successful run's JSON Lines results on standard output."""
    assert run.code == 0, run.stderr
    return sorted({r["row"] for r in result_rows(run.stdout, "jsonl")})


def test_a_gbk_register_is_read_with_encoding_and_named_without(
    tmp_path: Path, policies: Path
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes("zone,employees,name\ntaiyuan,50,太原测试企业\n".encode("gb18030"))
    run = screen(path, policies, "--format", "jsonl")
    assert "pass --encoding gb18030" in bad_rows(run.stderr)[2]
    assert screened(screen(path, policies, "--format", "jsonl", "--encoding", "gb18030")) == [2]
    run = screen(path, policies, "--encoding", "klingon")
    assert run.code == 2 and "unknown encoding 'klingon'" in run.stderr  # a malformed option


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        (".csv", codecs.BOM_UTF8 + b"zone,employees\r\ntaiyuan,50\r\n"),
        (".csv", codecs.BOM_UTF16_LE + "zone,employees\r\ntaiyuan,50\r\n".encode("utf-16-le")),
        (".csv", codecs.BOM_UTF16_BE + "zone,employees\ntaiyuan,50\n".encode("utf-16-be")),
        (".jsonl", codecs.BOM_UTF8 + b'{"zone": "taiyuan", "employees": 50}\n'),
        (
            ".jsonl",
            codecs.BOM_UTF32_LE + '{"zone": "taiyuan", "employees": 50}\n'.encode("utf-32-le"),
        ),
    ],
)
def test_a_byte_order_mark_is_accepted_in_every_text_format(
    tmp_path: Path, policies: Path, suffix: str, data: bytes
) -> None:
    path = tmp_path / f"register{suffix}"
    path.write_bytes(data)
    assert screened(screen(path, policies, "--format", "jsonl")) == [1 if suffix == ".jsonl" else 2]


def test_an_over_long_line_is_a_bad_row(tmp_path: Path, policies: Path) -> None:
    path = tmp_path / "register.jsonl"
    good = '{"zone": "taiyuan", "employees": 50}\n'
    path.write_text(good + '{"name": "' + "x" * MAX_LINE + '"}\n' + good, encoding="utf-8")
    run = screen(path, policies, "--format", "jsonl")
    assert screened(run) == [1, 3] and "line longer than" in bad_rows(run.stderr)[2]


# --- JSON Lines through the strict JSON reader -----------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"zone": "taiyuan", "employees": 50, "name": "x", "employees": 500}',
         "key 'employees' is written twice in one object"),
        ('{"zone": "taiyuan", "employees": NaN}', "NaN is not a usable number"),
        ('{"facts": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than"),
        ('{"zone": "taiyuan", "name": "\\ud800"}', "half of a UTF-16 surrogate pair"),
        ('{"employees": 1' + "0" * 60 + "}", "too large"),
        ("[1, 2]", "row"),
        ('{"zone": "taiyuan"', "invalid JSON"),
    ],
)  # fmt: skip
def test_json_lines_rows_are_read_strictly(
    tmp_path: Path, policies: Path, line: str, fragment: str
) -> None:
    path = tmp_path / "register.jsonl"
    good = '{"zone": "taiyuan", "employees": 50}'
    path.write_text("\n".join([good, line, good]) + "\n", encoding="utf-8")
    run = screen(path, policies, "--format", "jsonl")
    assert screened(run) == [1, 3]
    assert fragment in bad_rows(run.stderr)[2], run.stderr


# --- Parquet ---------------------------------------------------------------------------------


def parquet_register(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "register.parquet"
    pq.write_table(table, path)
    return path


def test_unreadable_parquet_refuses_the_register(tmp_path: Path, policies: Path) -> None:
    good = parquet_register(
        tmp_path, pa.table({"zone": ["taiyuan"] * 3, "employees": [5, 50, 500]})
    )
    data = good.read_bytes()
    cases = {
        "not.parquet": b"zone,employees\ntaiyuan,50\n",
        "empty.parquet": b"",
        "truncated.parquet": data[: len(data) // 2],
        "footless.parquet": data[:-8],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        out = tmp_path / "out.csv"
        run = screen(path, policies, "--out", str(out))
        assert run.code == 1 and "not a readable Parquet file" in run.stderr, (name, run.stderr)
        assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("column", "array", "fragment"),
    [
        ("employees", pa.array([50.0]), "floating-point numbers cannot hold amounts"),
        ("registration_date", pa.array([0], pa.timestamp("ms")), "store dates as dates"),
        ("intellectual_property", pa.array([1]), "store a list"),
        ("resident_enterprise", pa.array([b"x"]), "true/false"),
        ("financials.2025.revenue", pa.array([b"1"]), "store quantities"),
    ],
)
def test_parquet_columns_of_the_wrong_type_refuse_the_register(
    tmp_path: Path, policies: Path, column: str, array: pa.Array, fragment: str
) -> None:
    path = parquet_register(tmp_path, pa.table({"zone": ["taiyuan"], column: array}))
    run = screen(path, policies, "--format", "jsonl")
    assert run.code == 1 and f"column {column!r} has type" in run.stderr and fragment in run.stderr


def test_parquet_named_twice_or_with_an_over_long_cell(tmp_path: Path, policies: Path) -> None:
    twice = pa.Table.from_arrays([pa.array(["taiyuan"]), pa.array(["pingyao"])], ["zone", "zone"])
    run = screen(parquet_register(tmp_path, twice), policies, "--format", "jsonl")
    assert run.code == 1 and "column 'zone' appears twice" in run.stderr
    long = pa.table({"zone": ["taiyuan"] * 3, "name": ["a", "x" * (MAX_CELL + 1), "b"],
                     "employees": [50, 50, 50]})  # fmt: skip
    run = screen(parquet_register(tmp_path, long), policies, "--format", "jsonl")
    assert screened(run) == [1, 3] and f"more than {MAX_CELL:,}" in bad_rows(run.stderr)[2]


def test_a_corrupt_page_in_the_middle_refuses_the_run_and_writes_nothing(
    tmp_path: Path, policies: Path
) -> None:
    path = tmp_path / "register.parquet"
    table = pa.table({"zone": ["taiyuan"] * 5000, "name": [f"企业{i}" for i in range(5000)]})
    pq.write_table(table, path, row_group_size=1000, compression="snappy")
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # inside a later row group
    path.write_bytes(bytes(data))
    out = tmp_path / "out.parquet"
    run = screen(path, policies, "--out", str(out), "--format", "parquet")
    assert (
        run.code == 1 and "the Parquet file is corrupt: rows after 0 cannot be read" in run.stderr
    )
    assert not out.exists() and leftovers(tmp_path) == []


# --- a ratio without a unit: one coercion for profiles, cells and updates --------------------


RATIO_CELLS = ["30", "30%", "0.3", "3e1", "30万元"]


def test_ratio_cells_are_read_by_the_one_coercion_of_profile_facts() -> None:
    """Whatever the shared coercion says of a `market_share` value, the column-wise path of a
    register says the same (value and refusal), in CSV text and in nested JSON."""
    policy_set = PolicySet()
    defn = next(d for d in policy_set.facts.values() if d.profile_fact == "market_share")
    checker = CellChecker(policy_set)
    for raw in [*RATIO_CELLS, Decimal(30), 30]:
        try:
            expected = int(_coerce(defn, raw, "facts.market_share") * 10**6)  # type: ignore[operator]
        except ValueError:
            expected = None
        for flat in (True, False):
            if flat and not isinstance(raw, str):
                continue
            values, bad = checker.convert("facts.market_share", [raw], flat)
            assert (values, bad) == (([expected], []) if expected is not None else ([None], [0]))


def test_a_ratio_without_a_unit_in_a_cell_is_refused_with_the_fix(
    tmp_path: Path, policies: Path
) -> None:
    register = csv_register(tmp_path, "taiyuan,50,30", "taiyuan,50,30%", header="zone,employees,facts.market_share")  # fmt: skip
    run = screen(register, policies, "--format", "jsonl")
    assert screened(run) == [3] and "'30%'" in bad_rows(run.stderr)[2]


def test_results_hold_every_column_and_the_policy(tmp_path: Path, policies: Path) -> None:
    out = tmp_path / "results.parquet"
    assert (
        screen(
            csv_register(tmp_path, GOOD), policies, "--out", str(out), "--format", "parquet"
        ).code
        == 0
    )
    (row,) = result_rows(out, "parquet")
    assert tuple(row) == RESULT_COLUMNS and row["policy_id"] == POLICY_ID
    assert row["status"] == "eligible" and row["amount"] == "100000.00"
