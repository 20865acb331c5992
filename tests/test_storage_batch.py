"""Background batch writer: size and age triggers, flush, back-pressure, errors surface."""

from __future__ import annotations

import threading

import pytest

from storage.batch import BatchWriter, StorageError


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.written = threading.Event()

    def __call__(self, batch: list[int]) -> None:
        self.batches.append(batch)
        self.written.set()


def test_full_batches_are_written_by_size() -> None:
    sink = Sink()
    writer = BatchWriter(sink, max_items=3, max_seconds=3600)
    for i in range(7):
        writer.put(i)
    writer.close()
    assert sink.batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_idle_writer_flushes_by_age() -> None:
    sink = Sink()
    writer = BatchWriter(sink, max_items=1000, max_seconds=0.05)
    writer.put(1)
    # No more items arrive: the age trigger alone must write the batch (bounded wait, no timing
    # assertion: the test fails only if it is never written).
    assert sink.written.wait(timeout=30)
    assert sink.batches == [[1]]
    writer.close()


def test_hurry_writes_what_waits_without_waiting_for_its_age() -> None:
    sink = Sink()
    writer = BatchWriter(sink, max_items=1000, max_seconds=3600)
    writer.put(1)
    writer.put(2)
    writer.hurry()  # returns at once; the batch's age (an hour) is not waited out
    assert sink.written.wait(timeout=30)
    assert sink.batches == [[1, 2]]
    writer.hurry()  # nothing waiting: nothing written
    writer.close()
    assert sink.batches == [[1, 2]]


def test_flush_blocks_until_written() -> None:
    sink = Sink()
    writer = BatchWriter(sink, max_items=1000, max_seconds=3600)
    writer.put(1)
    writer.put(2)
    writer.flush()
    assert sink.batches == [[1, 2]]
    writer.close()
    assert sink.batches == [[1, 2]]


def test_a_failed_write_is_raised_in_the_callers_thread() -> None:
    def broken(batch: list[int]) -> None:
        raise OSError("disk full")

    writer = BatchWriter(broken, max_items=1, max_seconds=3600)
    writer.put(1)
    with pytest.raises(StorageError, match="disk full"):
        writer.flush()
    with pytest.raises(StorageError):
        writer.put(2)
    with pytest.raises(StorageError):
        writer.close()


def test_a_slow_store_blocks_producers_and_loses_nothing() -> None:
    """Back-pressure: with the store gated shut, producers stop at the pending limit; once it
    opens every item arrives once, in order, in batches of at most max_items."""
    gate = threading.Event()
    written: list[list[int]] = []

    def slow(batch: list[int]) -> None:
        gate.wait()
        written.append(batch)

    writer = BatchWriter(slow, max_items=5, max_seconds=3600, max_pending_batches=2)
    produced: list[int] = []

    def produce(start: int) -> None:
        for i in range(start, start + 100):
            writer.put(i)
            produced.append(i)

    producers = [threading.Thread(target=produce, args=(k * 100,)) for k in range(3)]
    for t in producers:
        t.start()
    for t in producers:
        t.join(timeout=0.5)
    # The writer holds one batch in `slow`, at most 10 more wait: the producers are blocked.
    assert len(produced) <= 5 + 10
    assert any(t.is_alive() for t in producers)
    gate.set()
    for t in producers:
        t.join(timeout=60)
    writer.close()
    items = [i for batch in written for i in batch]
    assert sorted(items) == list(range(300))
    assert all(1 <= len(batch) <= 5 for batch in written)
    for k in range(3):  # each producer's items keep their order
        mine = [i for i in items if k * 100 <= i < (k + 1) * 100]
        assert mine == sorted(mine)


def test_put_after_close_is_refused() -> None:
    sink = Sink()
    writer = BatchWriter(sink, max_items=10, max_seconds=3600)
    writer.put(1)
    writer.close()
    assert sink.batches == [[1]]
    with pytest.raises(StorageError, match="closed"):
        writer.put(2)
