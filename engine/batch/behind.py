"""Writing results one batch behind: a thread presents and writes batch n while the caller
reads, validates and evaluates batch n + 1. Polars and pyarrow release the GIL for most of
their work, so the two overlap on two cores.

- At most one batch waits between the two (`put` blocks while the thread is a batch behind),
  so memory stays flat whatever the register's size.
- The batches are written in the order they were put, by one thread: the output is the same,
  byte for byte, as writing them in turn.
- A failure of the writer (a full disk, a closed pipe: `output.OutputError`) is raised by the
  next `put` or by leaving the block, in the caller's thread; nothing more is written after it.
- Leaving the block by an exception (a bad register met mid-way, Ctrl-C) stops the thread once
  the batch it holds is written, so the caller can discard the output file: no hang, no write
  after the discard.

    with written_behind(writer.write) as behind:
        for batch in batches:
            behind.put(results_of(batch))
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")

_DONE = object()  # put after the last batch, or to stop the thread


class WrittenBehind(Generic[Item]):
    """A thread calling `write` on each item put, in order, one item behind the caller."""

    def __init__(self, write: Callable[[Item], None]) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1)
        self._failure: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-writer", daemon=True)
        self._thread.start()

    def put(self, item: Item) -> None:
        """Hand `item` to the thread (waiting while it still holds an earlier one); raise what
        stopped the thread, if anything did."""
        while True:
            self._raise_failure()
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue  # the thread is writing: look again for its failure
            return

    def close(self) -> None:
        """Wait for every item put to be written; raise the writer's failure, if any. Ctrl-C
        while waiting stops the thread after the item it is writing, then goes through."""
        try:
            self._send_done()
            self._thread.join()
        except BaseException:
            self.stop()
            raise
        self._raise_failure()

    def stop(self) -> None:
        """Stop the thread after the item it is writing, dropping any item still waiting."""
        self._stopping.set()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()
        self._send_done()
        self._thread.join()

    def _send_done(self) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(_DONE, timeout=0.1)
            except queue.Full:
                continue
            return

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE or self._stopping.is_set():
                return
            try:
                self._write(item)  # type: ignore[arg-type]  # anything but _DONE is an Item
            except BaseException as exc:  # raised in the caller's thread by put or close
                self._failure = exc
                return


@contextlib.contextmanager
def written_behind(write: Callable[[Item], None] | None) -> Iterator[Callable[[Item], None]]:
    """`put` of a `WrittenBehind` thread calling `write` (None: items are dropped), closed on
    leaving the block (every item written, or the writer's failure raised), stopped when the
    block raises."""
    if write is None:
        yield lambda item: None
        return
    behind = WrittenBehind(write)
    try:
        yield behind.put
    except BaseException:
        behind.stop()
        raise
    behind.close()
