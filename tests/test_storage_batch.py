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
