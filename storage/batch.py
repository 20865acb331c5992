"""Batched writes on a background thread, flushed by size or by age.

A store write (a Parquet part, a SQL transaction) costs milliseconds to seconds; done on the
crawler's reactor thread it would stall fetching. A `BatchWriter` collects items and writes them
from its own thread when ``max_items`` are waiting or the oldest has waited ``max_seconds``, so
an idle crawl still makes its articles durable within seconds. The queue is bounded: when the
store cannot keep up, `put` blocks (back-pressure) instead of letting memory grow.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StorageError(RuntimeError):
    """A background write failed; the items of that batch were not stored."""


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class BatchWriter(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], object],
        max_items: int = 200,
        max_seconds: float = 2.0,
        *,
        name: str = "zhengwen-writer",
        max_pending_batches: int = 20,
    ) -> None:
        self.write = write
        self.max_items = max(1, max_items)
        self.max_seconds = max_seconds
        self.error: BaseException | None = None
        self.batches = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.max_items * max_pending_batches)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._raise_if_failed()
        self._queue.put(item)

    def flush(self) -> None:
        """Block until every item put so far is written (or raise StorageError)."""
        marker = _Flush()
        self._queue.put(marker)
        marker.done.wait()
        self._raise_if_failed()

    def close(self) -> None:
        """Write what is pending, stop the thread; raise StorageError if any write failed."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise StorageError(f"{type(self.error).__name__}: {self.error}") from self.error

    def _write(self, buffer: list[T]) -> None:
        if not buffer or self.error is not None:
            buffer.clear()
            return
        batch = list(buffer)
        buffer.clear()
        try:
            self.write(batch)
            self.batches += 1
        except BaseException as exc:  # kept and re-raised in the crawler's thread
            self.error = exc

    def _run(self) -> None:
        buffer: list[T] = []
        oldest = 0.0
        while True:
            timeout = None if not buffer else max(0.0, oldest + self.max_seconds - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._write(buffer)
                continue
            if item is _STOP:
                self._write(buffer)
                return
            if isinstance(item, _Flush):
                self._write(buffer)
                item.done.set()
                continue
            if not buffer:
                oldest = time.monotonic()
            buffer.append(item)  # type: ignore[arg-type]
            if len(buffer) >= self.max_items:
                self._write(buffer)
