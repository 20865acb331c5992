"""Batched writes on a background thread, flushed by size or by age.

A store write (a Parquet part, a SQL transaction) costs milliseconds to seconds; done on the
crawler's reactor thread it would stall fetching. A `BatchWriter` collects items and writes them
from its own thread when ``max_items`` are waiting or the oldest has waited ``max_seconds``, so
an idle crawl still makes its articles durable within seconds. The queue is bounded: when the
store cannot keep up, `put` blocks (back-pressure) instead of letting memory grow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StorageError(RuntimeError):
    """A background write failed; the items of that batch were not stored."""


class BatchWriter(Generic[T]):
    """``put`` items from any thread; they are written by ``write(batch)`` on this writer's
    thread in batches of at most ``max_items``.

    The writer thread is woken twice per batch (the first item starts the age clock, the
    ``max_items``-th fills the batch), not once per item: a crawl has four writers, and a
    thread switch per article per writer was a measurable share of the crawler's CPU.
    """

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
        self.max_pending = self.max_items * max(1, max_pending_batches)
        self.error: BaseException | None = None
        self.batches = 0
        #: Items taken by `put`, and items durably written, in the order they were put (a
        #: caller that noted ``accepted`` knows its items are stored once ``written`` reaches
        #: it; a failed write stops ``written`` for good).
        self.accepted = 0
        self.written = 0
        self._cond = threading.Condition()
        self._items: list[T] = []
        self._oldest = 0.0
        self._flushes: list[threading.Event] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._raise_if_failed()
        with self._cond:
            if self._stopping:
                raise StorageError("the writer is closed; the item was not stored")
            while len(self._items) >= self.max_pending and self._thread.is_alive():
                self._cond.wait()  # back-pressure: the store is behind
            self._items.append(item)
            self.accepted += 1
            n = len(self._items)
            if n == 1:
                self._oldest = time.monotonic()
                self._cond.notify_all()
            elif n == self.max_items:
                self._cond.notify_all()

    def hurry(self) -> None:
        """Write what is waiting now instead of when its age is due, without waiting for it
        (a caller that knows no more items are coming soon)."""
        with self._cond:
            if self._items:
                self._oldest = time.monotonic() - self.max_seconds
                self._cond.notify_all()

    def flush(self) -> None:
        """Block until every item put so far is written (or raise StorageError)."""
        done = threading.Event()
        with self._cond:
            if not self._thread.is_alive():
                done.set()
            else:
                self._flushes.append(done)
                self._cond.notify_all()
        done.wait()
        self._raise_if_failed()

    def close(self) -> None:
        """Write what is pending, stop the thread; raise StorageError if any write failed."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise StorageError(f"{type(self.error).__name__}: {self.error}") from self.error

    def _write(self, batch: list[T]) -> None:
        if not batch or self.error is not None:
            return
        try:
            self.write(batch)
            self.batches += 1
            self.written += len(batch)
        except BaseException as exc:  # kept and re-raised in the crawler's thread
            self.error = exc

    def _take(self) -> tuple[list[T], list[threading.Event], bool]:
        """Wait until a batch is due (full, old enough, flush or stop), then take it."""
        with self._cond:
            while True:
                if self._stopping or self._flushes or len(self._items) >= self.max_items:
                    break
                if self._items:
                    left = self._oldest + self.max_seconds - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                else:
                    self._cond.wait()
            if self._flushes or self._stopping or len(self._items) <= self.max_items:
                batch, self._items = self._items, []
            else:  # a backlog: one full batch now, the rest right after
                batch, self._items = self._items[: self.max_items], self._items[self.max_items :]
                self._oldest = time.monotonic() - self.max_seconds
            flushes, self._flushes = self._flushes, []
            self._cond.notify_all()  # room again for a blocked put
            return batch, flushes, self._stopping

    def _run(self) -> None:
        try:
            while True:
                batch, flushes, stopping = self._take()
                for start in range(0, len(batch), self.max_items):
                    self._write(batch[start : start + self.max_items])
                for done in flushes:
                    done.set()
                if stopping:
                    with self._cond:
                        if not self._items:
                            return
        finally:
            with self._cond:
                for done in self._flushes:
                    done.set()
                self._cond.notify_all()
