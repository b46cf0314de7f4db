"""Validating and evaluating a register's batches in worker processes, so that `screen` uses
every core: validation holds the GIL most of its time, so threads cannot share it.

- The caller's process reads the register batch by batch, exactly as with one process, and
  hands batch i to worker i mod N; each worker runs `pipeline.screen_coded` on it (the call one
  process makes), tallies and encodes its results as the writer writes them
  (`output.encoded`) and sends them back with the bad rows and the profiles asked for. The
  caller receives them in the register's order and writes them.
- A worker holds one batch at a time: it is sent its next batch only once its results for the
  previous one are received. Neither side ever waits on a full pipe, and at most N batches are
  in the workers whatever the register's size.
- Workers are started by `spawn` (Polars' threads do not survive a fork): each imports the
  engine and loads the policy set by its directory, from the compiled library's cache, once.
  Worth it only for a register of more than one batch (`screening` decides).
- Workers ignore Ctrl-C: it reaches the caller, which stops them. Leaving the block by any
  exception (a bad register met mid-way, a write failure, Ctrl-C) terminates every worker and
  waits for it: no orphan process. A worker that dies (killed, out of memory) is a
  `WorkerError` naming it and how it ended.

    with Workers(2, policy_set, as_of, wanted, tax_year, "csv") as workers:
        for batch, (counted, bad, profiles, encoded) in workers.screened(batches):
            ...
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model.profile import Profile
from ..policyset import PolicySet
from .cells import ABSENT, CellChecker
from .output import Encoded, EncodedText, encoded
from .registers import RegisterBatch
from .results import CodedResults, Tally, tally, written_schema

# A batch screened: its tally, bad rows, profiles kept, and results (coded in this process;
# encoded for the writer by a worker, None when there is no writer).
Screened = tuple[Tally, list[tuple[int, str]], dict[int, Profile], CodedResults | Encoded | None]

_ABSENT_ID = "absent"  # how the cells' ABSENT crosses to a worker: the same object there
_STOP_WAIT = 5.0  # seconds a worker is given to end before it is killed


class WorkerError(InputError):
    """A worker process ended before returning its batch's results (killed, out of memory).
    Not bad input: an `InputError` so that the command line says so in one message."""


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> str | None:
        return _ABSENT_ID if obj is ABSENT else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid != _ABSENT_ID:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return ABSENT


def dumps(value: Any) -> bytes:
    """`value` pickled, the cells' ABSENT by reference."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """What `dumps` pickled, ABSENT being this process's own."""
    return _Unpickler(io.BytesIO(data)).load()


def _serve(link: Any, run: _Run) -> None:
    """A worker: screen each batch received until told to stop (None) or the caller is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .pipeline import screen_coded
    from .vectorised import VectorisedSet

    failed: Exception | None = None
    try:
        policy_set = PolicySet(run.directory)
        vectorised, checker = VectorisedSet(policy_set), CellChecker(policy_set)
    except Exception as exc:  # the policy directory changed since the caller loaded it
        failed = exc
    columns = written_schema()
    while True:
        try:
            cells = loads(link.recv_bytes())
        except EOFError:
            return
        if cells is None:
            return
        try:
            if failed is not None:
                raise failed
            result, bad, profiles = screen_coded(
                vectorised, cells, run.as_of, run.wanted, checker, run.tax_year
            )
            out = None if run.fmt is None else encoded(result, run.fmt, columns)
        except Exception as exc:  # raised again in the caller, as one process would raise it
            link.send_bytes(dumps(exc))
            continue
        if isinstance(out, EncodedText):  # its bytes follow as they are, not copied by pickle
            link.send_bytes(dumps((tally(result), bad, profiles, EncodedText(b"", out.rows))))
            link.send_bytes(out.data)
        else:
            link.send_bytes(dumps((tally(result), bad, profiles, out)))


@dataclass(frozen=True)
class _Run:
    """What every worker of a run is told once: the policy set's directory (None: the bundled
    library), the day, the rows to keep profiles of, the tax year, the results' format (None:
    tallied only)."""

    directory: Path | None
    as_of: date
    wanted: set[int]
    tax_year: int | None
    fmt: str | None


class Workers:
    """`jobs` worker processes screening batches for `policy_set` on `as_of`."""

    def __init__(
        self,
        jobs: int,
        policy_set: PolicySet,
        as_of: date,
        wanted: Iterable[int] = (),
        tax_year: int | None = None,
        fmt: str | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._processes: list[Any] = []
        self._links: list[Any] = []
        run = _Run(policy_set.directory, as_of, set(wanted), tax_year, fmt)
        try:
            for number in range(jobs):
                here, there = context.Pipe()
                process = context.Process(
                    target=_serve, args=(there, run), name=f"screen-worker-{number + 1}",
                    daemon=True,
                )  # fmt: skip
                with _environment(POLARS_MAX_THREADS="1"):  # one core each: no idle spinning
                    process.start()
                there.close()  # the worker's end: its exit is then seen here as EOFError
                self._processes.append(process)
                self._links.append(here)
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.stop(gently=kind is None)

    def screened(
        self, batches: Iterable[RegisterBatch]
    ) -> Iterator[tuple[RegisterBatch, Screened]]:
        """Each batch (its cells dropped once sent) with its screened cells, in order."""
        waiting: deque[tuple[int, RegisterBatch]] = deque()
        jobs = len(self._links)
        for index, batch in enumerate(batches):
            if len(waiting) == jobs:  # the worker of this batch still holds batch index - jobs
                yield self._received(*waiting.popleft())
            self._send(index % jobs, dumps(batch.cells))
            batch.cells = dataclasses.replace(batch.cells, columns={}, record=_gone, suspects=set())
            waiting.append((index % jobs, batch))
        while waiting:
            yield self._received(*waiting.popleft())

    def _send(self, worker: int, data: bytes) -> None:
        try:
            self._links[worker].send_bytes(data)
        except OSError:
            raise self._died(worker) from None

    def _received(self, worker: int, batch: RegisterBatch) -> tuple[RegisterBatch, Screened]:
        link = self._links[worker]
        try:
            answer = loads(link.recv_bytes())
            text = None
            if not isinstance(answer, BaseException) and isinstance(answer[3], EncodedText):
                text = EncodedText(link.recv_bytes(), answer[3].rows)
        except (EOFError, OSError):
            raise self._died(worker) from None
        if isinstance(answer, BaseException):
            raise answer  # what the worker's screen_coded raised
        counted, bad, profiles, out = answer
        return batch, (counted, bad, profiles, out if text is None else text)

    def _died(self, worker: int) -> WorkerError:
        process = self._processes[worker]
        process.join(_STOP_WAIT)
        code = process.exitcode
        how = (
            "is still running" if code is None
            else f"was killed by signal {-code}" if code < 0
            else f"exited with status {code}"
        )  # fmt: skip
        return WorkerError(
            f"screening stopped: worker process {process.name} {how} before returning its "
            "batch's results (out of memory?); a file target is left as it was"
        )

    def stop(self, *, gently: bool = False) -> None:
        """End every worker: told to stop when `gently` (the run completed), else terminated;
        killed if it has not ended within `_STOP_WAIT` seconds. Waits for each."""
        for link in self._links:
            if gently:
                with contextlib.suppress(OSError):
                    link.send_bytes(dumps(None))
            link.close()
        for process in self._processes:
            if not gently:
                process.terminate()
            process.join(_STOP_WAIT)
            if process.is_alive():
                process.kill()
                process.join()
        self._links, self._processes = [], []


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """`os.environ` with `values` set (what a process started meanwhile inherits)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _gone(i: int) -> Any:
    """The record of a batch whose cells were sent to a worker: never read in this process."""
    raise AssertionError("a batch sent to a worker is read there")
