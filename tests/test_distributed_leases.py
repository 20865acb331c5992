"""The leased Redis work queue (crawler/distributed/leases.py) against a real Redis, with
several worker processes."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from crawler.distributed.leases import LeaseQueue
from tests.conftest import _service_missing

REDIS_URL = os.environ.get("ZHENGWEN_TEST_REDIS", "redis://127.0.0.1:6379/0")
JOB = "run-1"


@pytest.fixture
def redis_url() -> str:
    """The Redis service's URL; skips when absent locally, fails under CI=true."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _service_missing("Redis", exc)
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A random key prefix for one test; its keys are deleted afterwards."""
    name = f"zw_test_{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{{{name}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def queue(redis_url: str, prefix: str) -> LeaseQueue:
    return LeaseQueue.from_url(redis_url, prefix)


def _worker(url: str, prefix: str, name: str, lease: float, out: str, start: Any = None) -> None:
    """Take and ack until the job is drained; record each payload in the Redis list `out`.
    ``start``: a barrier the workers pass together (one slow to spawn would find no work)."""
    q = LeaseQueue.from_url(url, prefix)
    client = redis.Redis.from_url(url)
    if start is not None:
        start.wait(60)
    while not q.drained(JOB):
        got = q.take(name, lease)
        if got is None:
            time.sleep(0.02)
            continue
        token, payload = got
        client.rpush(out, name.encode() + b"|" + payload)
        q.ack(token)


def _take_and_die(url: str, prefix: str, lease: float, out: str) -> None:
    """Take one item and exit at once without ack or release, as a SIGKILLed worker would."""
    got = LeaseQueue.from_url(url, prefix).take("doomed", lease)
    assert got is not None
    redis.Redis.from_url(url).set(out, got[1])
    os._exit(1)


def _run(*procs: multiprocessing.process.BaseProcess) -> None:
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert not p.is_alive()


def _processed(url: str, out: str) -> list[tuple[str, str]]:
    rows = redis.Redis.from_url(url).lrange(out, 0, -1)
    return [tuple(row.decode().split("|", 1)) for row in rows]  # type: ignore[misc]


def test_take_ack_counts_and_drained(queue: LeaseQueue) -> None:
    assert queue.drained(JOB)
    assert queue.push(JOB, [b"a", "b", b'{"url": "c"}']) == 3
    assert (queue.pending(JOB), queue.in_flight(JOB)) == (3, 0)
    token, payload = queue.take("w1", 30) or ("", b"")
    assert payload == b"a"
    assert (queue.pending(JOB), queue.in_flight(JOB)) == (2, 1)
    assert not queue.drained(JOB)
    assert queue.ack(token)
    assert not queue.ack(token), "a second ack must change nothing"
    assert (queue.pending(JOB), queue.in_flight(JOB)) == (2, 0)
    for expected in (b"b", b'{"url": "c"}'):
        got = queue.take("w1", 30)
        assert got is not None and got[1] == expected
        queue.ack(got[0])
    assert queue.take("w1", 30) is None
    assert queue.drained(JOB)


def test_jobs_are_counted_apart(queue: LeaseQueue) -> None:
    queue.push("a", [b"1"])
    queue.push("b", [b"2", b"3"])
    assert (queue.pending("a"), queue.pending("b")) == (1, 2)
    got = queue.take("w", 30)
    assert got is not None
    queue.ack(got[0])
    assert queue.drained("a") and not queue.drained("b")


def test_push_new_marks_seen_and_queues_in_one_step(queue: LeaseQueue) -> None:
    assert queue.push_new(JOB, b"fp-1", b"one", priority=5)
    assert not queue.push_new(JOB, b"fp-1", b"one again"), "seen: not queued twice"
    assert queue.push_new(JOB, b"fp-2", b"two")
    assert queue.pending(JOB) == 2
    first = queue.take("w", 30)
    assert first is not None and first[1] == b"one"  # its priority holds
    queue.ack(first[0])
    # Done is still seen: a link found again later in the run is not fetched again.
    assert not queue.push_new(JOB, b"fp-1", b"one")
    client = queue._r
    assert client.sismember(queue.seen_key(), b"fp-2")
    queue.clear()
    assert not any(client.exists(k) for k in queue.keys())


def test_release_hands_back_to_the_front(queue: LeaseQueue) -> None:
    queue.push(JOB, [b"first", b"second"])
    got = queue.take("w1", 30)
    assert got is not None
    assert queue.release(got[0])
    assert not queue.release(got[0]), "the lease is no longer current"
    assert (queue.pending(JOB), queue.in_flight(JOB)) == (2, 0)
    again = queue.take("w2", 30)
    assert again is not None and again[1] == b"first" and again[0] != got[0]
    assert not queue.release(got[0]), "a stale token cannot hand back another worker's lease"
    assert queue.in_flight(JOB) == 1


def test_expired_lease_is_reclaimed_and_late_ack_does_not_duplicate(queue: LeaseQueue) -> None:
    queue.push(JOB, [b"x"])
    got = queue.take("slow", 0.1)
    assert got is not None
    assert queue.reclaim_expired() == 0
    time.sleep(0.25)
    assert not queue.renew(got[0], 30), "an expired lease cannot be renewed"
    assert queue.reclaim_expired() == 1
    assert (queue.pending(JOB), queue.in_flight(JOB)) == (1, 0)
    # The slow worker finishes after all: its ack completes the item, which is not taken again.
    assert queue.ack(got[0])
    assert queue.take("other", 30) is None
    assert queue.drained(JOB)
    assert not queue.ack(got[0])


def test_renew_keeps_a_lease(queue: LeaseQueue) -> None:
    queue.push(JOB, [b"long"])
    got = queue.take("w", 0.2)
    assert got is not None
    for _ in range(3):
        time.sleep(0.1)
        assert queue.renew(got[0], 0.2)
    assert queue.reclaim_expired() == 0
    assert queue.in_flight(JOB) == 1


def test_each_item_processed_once_by_several_processes(redis_url: str, prefix: str) -> None:
    items = [f"item-{n}".encode() for n in range(300)]
    LeaseQueue.from_url(redis_url, prefix).push(JOB, items)
    out = f"{{{prefix}}}:test-out"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    procs = [
        ctx.Process(target=_worker, args=(redis_url, prefix, f"w{n}", 30.0, out, start))
        for n in range(3)
    ]
    _run(*procs)
    done = _processed(redis_url, out)
    assert sorted(payload for _, payload in done) == sorted(i.decode() for i in items)
    assert len({worker for worker, _ in done}) > 1, "the work was not shared"
    assert LeaseQueue.from_url(redis_url, prefix).drained(JOB)


def test_item_of_a_killed_taker_is_processed_by_another(redis_url: str, prefix: str) -> None:
    items = [f"item-{n}".encode() for n in range(40)]
    queue = LeaseQueue.from_url(redis_url, prefix)
    queue.push(JOB, items)
    lost = f"{{{prefix}}}:test-lost"
    out = f"{{{prefix}}}:test-out"
    ctx = multiprocessing.get_context("spawn")
    doomed = ctx.Process(target=_take_and_die, args=(redis_url, prefix, 0.5, lost))
    _run(doomed)
    assert doomed.exitcode == 1
    assert queue.in_flight(JOB) == 1
    held = redis.Redis.from_url(redis_url).get(lost)
    assert held is not None
    procs = [
        ctx.Process(target=_worker, args=(redis_url, prefix, f"w{n}", 30.0, out)) for n in range(3)
    ]
    _run(*procs)
    done = _processed(redis_url, out)
    assert sorted(payload for _, payload in done) == sorted(i.decode() for i in items)
    assert [p for _, p in done].count(held.decode()) == 1
    assert queue.drained(JOB)
