"""The cluster-wide per-domain budget (crawler/distributed/politeness.py) against a real Redis,
with several processes acquiring for one domain. Assertions are on the Redis server times the
budget records, not on how long the test took."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import time
from typing import Any

import redis

from crawler.distributed.politeness import DomainBudget
from tests.test_distributed_leases import prefix, redis_url

__all__ = ["prefix", "redis_url"]  # fixtures shared with the leases tests

DOMAIN = "news.example.cn"


def _acquirer(
    url: str, prefix: str, delay: float, concurrency: int, n: int, hold: float, start: Any
) -> None:
    """Acquire `n` slots in turn, hold each `hold` seconds, record (granted, released) µs.
    All acquirers begin together (`start`, a barrier): a process slow to spawn must not find
    the others done, or the concurrency bound would never be put to the test."""
    budget = DomainBudget.from_url(url, prefix)
    client = redis.Redis.from_url(url)
    start.wait(60)
    for _ in range(n):
        slot = budget.acquire(DOMAIN, delay, concurrency, timeout=30)
        assert slot is not None
        time.sleep(hold)
        freed = budget.release(slot)
        assert freed is not None
        client.rpush(f"{{{prefix}}}:test-grants", json.dumps([slot.granted_us, freed]))


def _grants(
    url: str, prefix: str, *, delay: float, concurrency: int, hold: float
) -> list[list[int]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    procs = [
        ctx.Process(target=_acquirer, args=(url, prefix, delay, concurrency, 4, hold, start))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = redis.Redis.from_url(url).lrange(f"{{{prefix}}}:test-grants", 0, -1)
    return sorted(json.loads(row) for row in rows)


def _max_held(grants: list[list[int]]) -> int:
    """The most slots held at any grant (a grant counts the ones granted before, not yet freed)."""
    return max(sum(1 for g, r in grants if g <= granted < r) for granted, _ in grants)


def test_delay_holds_across_processes(redis_url: str, prefix: str) -> None:
    grants = _grants(redis_url, prefix, delay=0.2, concurrency=3, hold=0.01)
    assert len(grants) == 12
    starts = [g for g, _ in grants]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 200_000, gaps


def test_concurrency_holds_across_processes(redis_url: str, prefix: str) -> None:
    grants = _grants(redis_url, prefix, delay=0, concurrency=2, hold=0.3)
    assert len(grants) == 12
    assert _max_held(grants) == 2


def test_a_dead_holder_blocks_only_until_its_slot_expires(redis_url: str, prefix: str) -> None:
    budget = DomainBudget.from_url(redis_url, prefix, slot_seconds=0.3)
    first = budget.acquire(DOMAIN, 0, 1, timeout=1)
    assert first is not None
    # never released: its holder "died"
    assert budget.acquire(DOMAIN, 0, 1, timeout=0.05) is None
    second = budget.acquire(DOMAIN, 0, 1, timeout=5)
    assert second is not None
    assert second.granted_us - first.granted_us >= 300_000
    assert budget.release(first) is None, "the expired slot was no longer held"
    assert budget.release(second) is not None
