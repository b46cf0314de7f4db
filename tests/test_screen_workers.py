"""`screen_register(jobs=2)` validates and evaluates the batches in worker processes
(`engine.batch.workers`): the results are those of one process, byte for byte (CSV) or value for
value (Parquet), with the same summary, bad rows and explained profiles; a worker killed, a
register found corrupt mid-way and Ctrl-C each stop the run with its error,
no file at the target and no process left. Real files, processes and signals throughout; few
runs, since each starts its workers."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from register_support import leftovers, small_policies

from incentives.engine import PolicySet
from incentives.engine.batch.registers import RegisterError
from incentives.engine.batch.screening import screen_register
from incentives.engine.batch.workers import WorkerError

DAY = date(2026, 11, 24)
BATCH = 40  # rows per batch: several batches per worker


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return PolicySet(small_policies(tmp_path_factory.mktemp("policies")))


@pytest.fixture
def register(tmp_path: Path) -> Path:
    """A CSV register of 300 rows over several zones, with bad rows among them."""
    path = tmp_path / "register.csv"
    rows = [f"{zone},{n}" for n in range(100) for zone in ("taiyuan", "pingyao", "")]
    rows[7] = "taiyuan,many"
    rows[150] = "nowhere,3"
    path.write_text("\n".join(["zone,employees", *rows]) + "\n", encoding="utf-8")
    return path


def no_workers() -> bool:
    return multiprocessing.active_children() == []


@pytest.mark.parametrize("out_fmt", ["csv", "parquet"])
def test_workers_give_what_one_process_gives(
    tmp_path: Path, small: PolicySet, register: Path, out_fmt: str
) -> None:
    written = {}
    summaries = {}
    for jobs in (1, 2):
        out = tmp_path / f"results-{jobs}.{out_fmt}"
        summary = screen_register(
            small, register, DAY, out=out, fmt=out_fmt, batch_size=BATCH, jobs=jobs,
            explain=[3, 8, 299],
        )  # fmt: skip
        summaries[jobs] = (summary.to_json(), sorted(summary.explained.items()))
        written[jobs] = out.read_bytes() if out_fmt == "csv" else pq.read_table(out)
    assert summaries[2] == summaries[1]
    assert summaries[1][0]["bad_rows"] == 2 and len(summaries[1][1]) == 3
    if out_fmt == "csv":
        assert written[2] == written[1]
    else:
        assert written[2].schema == written[1].schema
        assert written[2].to_pylist() == written[1].to_pylist()
    assert no_workers()


def test_a_worker_killed_mid_way_stops_the_run(
    tmp_path: Path, small: PolicySet, register: Path
) -> None:
    out = tmp_path / "results.csv"

    def kill_a_worker(position: int, total: int | None) -> None:
        for process in multiprocessing.active_children():
            os.kill(process.pid, signal.SIGKILL)

    with pytest.raises(WorkerError, match=r"screen-worker-\d was killed by signal 9"):
        screen_register(
            small, register, DAY, out=out, batch_size=BATCH, jobs=2, progress=kill_a_worker
        )
    assert not out.exists() and leftovers(tmp_path) == [] and no_workers()


def test_an_interrupt_mid_way_stops_the_workers(
    tmp_path: Path, small: PolicySet, register: Path
) -> None:
    out = tmp_path / "results.parquet"

    def interrupt(position: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screen_register(
            small, register, DAY, out=out, fmt="parquet", batch_size=BATCH, jobs=2,
            progress=interrupt,
        )  # fmt: skip
    assert not out.exists() and leftovers(tmp_path) == [] and no_workers()


def test_a_register_corrupt_mid_way_stops_the_workers(tmp_path: Path, small: PolicySet) -> None:
    path = tmp_path / "register.parquet"
    table = pa.table({"zone": ["taiyuan"] * 5_000, "employees": list(range(5_000))})
    pq.write_table(table, path, row_group_size=1_000, compression="snappy")
    data = bytearray(path.read_bytes())
    data[len(data) * 3 // 4 : len(data) * 3 // 4 + 64] = b"\xff" * 64  # inside a later group
    path.write_bytes(bytes(data))
    out = tmp_path / "results.csv"
    out.write_bytes(b"the complete results of an earlier run")
    with pytest.raises(RegisterError, match="the Parquet file is corrupt: rows after"):
        screen_register(small, path, DAY, out=out, batch_size=500, jobs=2)
    assert out.read_bytes() == b"the complete results of an earlier run"
    assert leftovers(tmp_path) == [] and no_workers()
