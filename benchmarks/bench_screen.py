"""`incentives screen` end to end, per register format: seconds, rows/s and peak RSS.

    python -m benchmarks.bench_screen [--rows 10000,100000] [--formats jsonl,csv,parquet]
                                      [--write parquet|csv|jsonl] [--policies DIR] [--keep DIR]
                                      [--phases]

Writes the seeded synthetic register of `benchmarks.generate` (with valid credit codes added, as
real registers have them) as JSON Lines, CSV and Parquet in a temporary directory, then runs
`python -m incentives screen` on each in a fresh process, writing the results as `--write`
(default Parquet) to a file, and prints a markdown table: wall-clock
and CPU seconds (every thread of the process), CPU seconds per 100k rows, peak memory and the
load average (1 min) before and after the row. Peak memory is the screening process's own
(VmHWM), so each figure includes the interpreter, Polars and the policy library. `--phases`
instead prints, in one process, the CPU and wall-clock seconds of each step of `screen`
(reading, validating, evaluating, presenting and writing) run one after the other on one
thread, and then of `screen_register` doing the same work with the writing overlapped (see
`engine/batch/behind.py`): on two cores its wall clock is below the steps' sum. The results go
to memory (at 100k rows, about 0.7 GB of CSV or 1.3 GB of JSON Lines).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 24)
FORMATS = ("jsonl", "csv", "parquet")


def credit_code(number: int) -> str:
    """A valid GB 32100 code for row `number` (legal person, enterprise, Jinzhong division)."""
    from incentives.engine.model.creditcode import check_character, org_check_character

    org = f"{number:08d}"
    first17 = "91" + "140700" + org + org_check_character(org)
    return first17 + check_character(first17)


def _rows(n: int) -> list[dict[str, Any]]:
    from benchmarks.generate import register

    rows = register(n, 7, AS_OF.year - 1)
    for row in rows:
        row["credit_code"] = credit_code(row["row"])
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value))


def write_register(path: Path, fmt: str, n: int) -> None:
    """The synthetic register of `n` rows as `fmt` (jsonl, csv or parquet)."""
    rows = _rows(n)
    if fmt == "jsonl":
        _write_jsonl(path, rows)
        return
    columns = sorted({k for r in rows for k in r if k != "row"})
    (_write_csv if fmt == "csv" else _write_parquet)(path, rows, columns)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    from benchmarks.generate import to_profile_data

    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            data = to_profile_data(row)
            data["credit_code"] = row["credit_code"]
            handle.write(json.dumps(data, default=_plain, ensure_ascii=False) + "\n")


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(key, row.get(key), row["row"]) for key in columns])


def _csv_cell(key: str, value: Any, number: int) -> str:
    """One CSV cell; every tenth row writes its amounts in 万元."""
    from incentives.engine.batch.columns import SCALE

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        amount = Decimal(value) / SCALE
        if key.startswith("financials.") and number % 10 == 0:
            return f"{amount / 10_000}万元"
        return str(amount)
    if isinstance(value, list):
        return json.dumps(value, default=_plain, ensure_ascii=False)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_parquet(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {key: _parquet_array(key, [r.get(key) for r in rows]) for key in columns}
    pq.write_table(pa.table(arrays), path)


def _parquet_array(key: str, values: list[Any]) -> Any:
    """A column typed as a real register would store it: lists of structs, integer head-counts
    and scores, decimal amounts."""
    import pyarrow as pa

    from incentives.engine.batch.columns import CERT_STRUCT, IP_STRUCT, RECORD_STRUCT, SCALE

    structs = {
        "intellectual_property": IP_STRUCT,
        "certifications": CERT_STRUCT,
        "compliance.records": RECORD_STRUCT,
    }
    if key in structs:
        import polars as pl

        return pl.Series(key, values, pl.List(structs[key])).to_arrow()
    if key in ("employees", "tech_staff", "facts.hnte_innovation_score"):
        return pa.array([None if v is None else v // SCALE for v in values], pa.int64())
    if any(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(
            [None if v is None else Decimal(v) / SCALE for v in values], pa.decimal128(18, 2)
        )
    return pa.array(values)


def run_one(register: Path, out: Path, policies: str | None, fmt: str) -> dict[str, float]:
    """Screen `register` in this process (a fresh one per measurement): peak RSS is its own."""
    from incentives.cli.main import main as cli

    extra = ["--policies", policies] if policies else []
    try:
        cli(["screen", str(register), "--as-of", AS_OF.isoformat(), "--format", fmt,
             "--out", str(out), *extra], standalone_mode=False)  # fmt: skip
    finally:
        sys.stderr.flush()
    return {"peak_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident set (VmHWM, Linux). Not `ru_maxrss`: Linux carries that
    over from the benchmark's forked parent, which held the generated register, across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def measure(register: Path, out: Path, policies: str | None, fmt: str) -> dict[str, float]:
    """Wall-clock of a whole `screen` process (start-up included), its CPU seconds (all its
    threads) and its peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    extra = ["--policies", policies] if policies else []
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_screen", "--one", str(register), str(out),
         "--write", fmt, *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"screen failed on {register}:\n{done.stderr[-3000:]}")
    if " 0 bad rows" not in done.stderr:
        raise RuntimeError(f"the synthetic register has bad rows:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "cpu": cpu, **result}


STEPS = ("reading", "validating", "evaluating", "writing")


def phases(register: Path, fmt: str, out_fmt: str) -> dict[str, tuple[float, float]]:
    """CPU and wall-clock seconds (CPU: every thread of this process) of each step of `screen`
    on `register`, one after the other on this thread: reading (`read_register`), validating
    (`validated_frame`), evaluating (`evaluate_coded`), presenting and writing `out_fmt` (the
    `ResultWriter`, which spells the coded results out); then, as `overlapped`, the same work
    by `screen_register` itself, which writes each batch on a thread while the next is read,
    validated and evaluated."""
    import io

    from incentives.engine import PolicySet
    from incentives.engine.batch.cells import CellChecker
    from incentives.engine.batch.output import ResultWriter
    from incentives.engine.batch.pipeline import validated_frame
    from incentives.engine.batch.registers import read_register
    from incentives.engine.batch.screening import screen_register
    from incentives.engine.batch.vectorised import VectorisedSet

    policy_set = PolicySet()
    vectorised, checker = VectorisedSet(policy_set), CellChecker(policy_set)
    writer = ResultWriter(io.BytesIO(), out_fmt, "memory")
    years = [AS_OF.year - 1 - back for back in range(4)]
    cpu, wall = dict.fromkeys(STEPS, 0.0), dict.fromkeys(STEPS, 0.0)
    batches = read_register(register, fmt, policy_set.facts)

    def timed(step: str, work: Any, *args: Any) -> Any:
        start, clock = time.process_time(), time.perf_counter()
        done = work(*args)
        cpu[step] += time.process_time() - start
        wall[step] += time.perf_counter() - clock
        return done

    while (batch := timed("reading", next, batches, None)) is not None:
        frame = timed("validating", validated_frame, checker, batch.cells, years)[0]
        timed("writing", writer.write, timed("evaluating", vectorised.evaluate_coded, frame, AS_OF))
    timed("writing", writer.finish)
    spent = {step: (cpu[step], wall[step]) for step in STEPS}
    start, clock = time.process_time(), time.perf_counter()
    screen_register(policy_set, register, AS_OF, out=io.BytesIO(), fmt=out_fmt)
    spent["overlapped"] = (time.process_time() - start, time.perf_counter() - clock)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,100000", help="comma-separated register sizes")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--keep", type=Path, help="write the registers here and keep them")
    parser.add_argument(
        "--policies",
        help="policy directory (default: the bundled library; policies that the vectorised back "
        "end cannot translate run on the reference evaluator, row by row, and dominate the time)",
    )
    parser.add_argument(
        "--phases", action="store_true",
        help="instead: CPU and wall seconds of each step (read, validate, evaluate, present and "
        "write) on one thread, then of screen_register with the writing overlapped, in-process",
    )  # fmt: skip
    parser.add_argument(
        "--write", choices=["parquet", "csv", "jsonl"], default="parquet",
        help="the format the results are written in (default parquet)",
    )  # fmt: skip
    parser.add_argument("--one", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        register, out = args.one
        print(json.dumps(run_one(register, out, args.policies, args.write)))
        return
    if args.phases:
        _print_phases(args)
        return
    print(f"load average before: {_load()}; results written as {args.write}\n")
    print("| rows | format | seconds | rows/s | CPU s | CPU s / 100k rows | peak RSS MB | load |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for n, fmt, register in _registers(args, Path(tmp)):
            load = os.getloadavg()[0]
            out = Path(tmp) / f"out-{n}-{fmt}.{args.write}"
            r = measure(register, out, args.policies, args.write)
            print(f"| {n:,} | {fmt} | {r['seconds']:.2f} | {n / r['seconds']:,.0f} "
                  f"| {r['cpu']:.2f} | {r['cpu'] * 100_000 / n:.2f} | {r['peak_mb']:.0f} "
                  f"| {load:.1f}–{os.getloadavg()[0]:.1f} |", flush=True)  # fmt: skip
    print(f"\nload average after: {_load()}")


def _registers(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[int, str, Path]]:
    """Each size and format asked for with its register, in `--keep` (reused when there)
    or `tmp`, generated when missing."""
    where = args.keep or tmp
    where.mkdir(parents=True, exist_ok=True)
    for n in (int(s) for s in args.rows.split(",")):
        for fmt in args.formats.split(","):
            register = where / f"register-{n}.{fmt}"
            if not register.exists():
                write_register(register, fmt, n)
            yield n, fmt, register


def _print_phases(args: argparse.Namespace) -> None:
    """The `--phases` table: CPU seconds per step, their sum and its wall clock on one thread,
    and the wall clock and CPU seconds of `screen_register`, the steps overlapped."""
    print(f"load average before: {_load()}\n")
    print(f"results written as {args.write}; CPU s (wall s in brackets)\n")
    print("| rows | format | reading | validating | evaluating | presenting and writing "
          "| one thread: CPU s (wall) | overlapped: CPU s (wall) | load |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for n, fmt, register in _registers(args, Path(tmp)):
            load = os.getloadavg()[0]
            spent = phases(register, fmt, args.write)
            steps = [spent[step] for step in STEPS]
            total = (sum(c for c, _ in steps), sum(w for _, w in steps))
            cells = " | ".join(
                f"{c:.2f} ({w:.2f})" for c, w in [*steps, total, spent["overlapped"]]
            )
            print(f"| {n:,} | {fmt} | {cells} | {load:.1f}–{os.getloadavg()[0]:.1f} |", flush=True)
    print(f"\nload average after: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
