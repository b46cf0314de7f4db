"""`screen_register` writes each batch's results on a thread while the next batch is evaluated
(`engine.batch.behind`): the output is the same, byte for byte, as writing batch after batch;
and a failure on either side — a closed pipe under the writer, a register found corrupt
mid-way, Ctrl-C — stops the run with the same error, writes nothing more, leaves no file at
the target and no thread behind. Real files and pipes throughout."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from register_support import leftovers, small_policies

from incentives.engine import PolicySet
from incentives.engine.batch.output import OutputError, ResultWriter
from incentives.engine.batch.pipeline import screen_coded
from incentives.engine.batch.registers import RegisterError, read_register
from incentives.engine.batch.screening import screen_register
from incentives.engine.batch.vectorised import VectorisedSet

DAY = date(2026, 11, 24)
ROWS = 100
BATCH = 23  # so that several batches are in flight


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    return PolicySet(small_policies(tmp_path_factory.mktemp("policies")))


def no_writer_thread() -> bool:
    return not any(t.name == "results-writer" for t in threading.enumerate())


def one_by_one(policy_set: PolicySet, path: Path, fmt: str, out_fmt: str) -> bytes:
    """The results written batch after batch on this thread, each batch written before the
    next is read: what `screen_register` did before it wrote behind."""
    vectorised = VectorisedSet(policy_set)
    sink = io.BytesIO()
    writer = ResultWriter(sink, out_fmt, "memory")
    for batch in read_register(path, fmt, policy_set.facts, batch_size=BATCH):
        coded = screen_coded(vectorised, batch.cells, DAY)[0]
        writer.write(coded)
    writer.finish()
    return sink.getvalue()


@pytest.mark.parametrize("out_fmt", ["csv", "jsonl", "parquet"])
def test_written_behind_is_byte_for_byte_batch_after_batch(
    tmp_path: Path, small: PolicySet, out_fmt: str
) -> None:
    path = tmp_path / "register.csv"
    rows = [f"{zone},{n}" for n in range(ROWS) for zone in ("taiyuan", "pingyao", "")]
    path.write_text("\n".join(["zone,employees", *rows]) + "\n", encoding="utf-8")
    out = tmp_path / f"results.{out_fmt}"
    summary = screen_register(small, path, DAY, out=out, fmt=out_fmt, batch_size=BATCH)
    assert summary.screened == 3 * ROWS and summary.bad_count == 0
    assert out.read_bytes() == one_by_one(small, path, "csv", out_fmt)
    assert no_writer_thread()


def test_a_pipe_closed_mid_way_stops_the_run_with_one_error(
    tmp_path: Path, small: PolicySet
) -> None:
    """The reader of standard output goes away after some batches: the writer's broken pipe is
    the run's error, raised in the caller's thread; no hang."""
    path = tmp_path / "register.csv"
    path.write_text("zone,employees\n" + "taiyuan,50\n" * 2_000, encoding="utf-8")
    read_end, write_end = os.pipe()
    got = bytearray()

    def reader() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            while len(got) < 4_000:
                got.extend(pipe.read1(1_000))  # some results, then the reader leaves

    thread = threading.Thread(target=reader)
    thread.start()
    sink = os.fdopen(write_end, "wb")
    with pytest.raises(OutputError) as refused:
        screen_register(small, path, DAY, out=sink, fmt="csv", batch_size=50)
    thread.join()
    with contextlib.suppress(BrokenPipeError):
        sink.close()  # what the results writer left in its buffer
    assert str(refused.value) == f"cannot write the results to {sink.name}: Broken pipe"
    assert got.startswith(b"row,credit_code,")
    assert no_writer_thread()


def test_a_register_corrupt_mid_way_leaves_the_earlier_file(
    tmp_path: Path, small: PolicySet
) -> None:
    """Batches are already written (to the temporary file) when a later row group cannot be
    read: the register's error, the target as it was, no temporary file."""
    path = tmp_path / "register.parquet"
    table = pa.table({"zone": ["taiyuan"] * 5_000, "employees": list(range(5_000))})
    pq.write_table(table, path, row_group_size=1_000, compression="snappy")
    data = bytearray(path.read_bytes())
    data[len(data) * 3 // 4 : len(data) * 3 // 4 + 64] = b"\xff" * 64  # inside a later group
    path.write_bytes(bytes(data))
    out = tmp_path / "results.csv"
    out.write_bytes(b"the complete results of an earlier run")
    seen: list[int] = []
    with pytest.raises(RegisterError, match="the Parquet file is corrupt: rows after"):
        screen_register(small, path, DAY, out=out, batch_size=100,
                        progress=lambda position, total: seen.append(position))  # fmt: skip
    assert len(seen) >= 2  # the writer had batches when the register failed
    assert out.read_bytes() == b"the complete results of an earlier run"
    assert leftovers(tmp_path) == [] and no_writer_thread()


@pytest.mark.parametrize("out_fmt", ["csv", "parquet"])
def test_an_interrupt_mid_way_discards_the_file(
    tmp_path: Path, small: PolicySet, out_fmt: str
) -> None:
    """Ctrl-C (KeyboardInterrupt in the main thread) while the writer holds a batch: the
    interrupt goes through, the target is as it was, no temporary file, no thread left."""
    path = tmp_path / "register.csv"
    path.write_text("zone,employees\n" + "taiyuan,50\n" * 1_000, encoding="utf-8")
    out = tmp_path / f"results.{out_fmt}"
    calls = []

    def interrupt(position: int, total: int | None) -> None:
        calls.append(position)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screen_register(small, path, DAY, out=out, fmt=out_fmt, batch_size=50, progress=interrupt)
    assert len(calls) == 3 and not out.exists()
    assert leftovers(tmp_path) == [] and no_writer_thread()
