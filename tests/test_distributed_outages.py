"""The cluster's Redis goes away mid-run: restarted (the workers wait and the run completes,
nothing lost, nothing twice), or gone for longer than ``--outage`` (the workers stop with exit
code 3 and a worker started later finishes the run)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo.content import Portal
from crawler.demo.server import serve
from tests.redis_server import RedisServer
from tests.test_db_outage import wait_for
from tests.test_distributed_e2e import Cluster, _articles, _site


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_cluster(tmp_path: Path, pg_url: str, own_redis: RedisServer) -> Iterator[Cluster]:
    c = Cluster(tmp_path, pg_url, "zw_outage", redis_url=own_redis.url)
    try:
        yield c
    finally:
        c.stop()


def _fetched(server: object) -> int:
    return sum("content_" in p for p in server.requests)  # type: ignore[attr-defined]


def _logs(tmp_path: Path, workers: int) -> str:
    return "".join((tmp_path / f"w{i}.log").read_text() for i in range(workers))


def test_a_redis_restart_mid_run_is_waited_out(
    tmp_path: Path, own_cluster: Cluster, own_redis: RedisServer
) -> None:
    n = 480
    with serve(Portal.generate(n_articles=n)) as server:
        for i in range(3):
            own_cluster.start_worker(i, "--outage", "120", "--concurrency", "4")
        run_id = own_cluster.enqueue(_site(tmp_path, server))
        wait_for(lambda: _fetched(server) >= n // 3)
        own_redis.stop()
        time.sleep(3)
        own_redis.start()
        assert own_cluster.wait_finished(run_id) == "ok"
        fetched = Counter(p for p in server.requests if "content_" in p)
    assert len(fetched) == n  # nothing lost
    assert _articles(own_cluster.db) == (n, n)  # nothing twice
    _status, counters = own_cluster.run_row(run_id)
    import json

    assert counters["articles_new"] == n, json.dumps(counters)
    logs = _logs(tmp_path, 3)
    assert "Redis is unavailable" in logs and "Redis is back after" in logs
    assert all(w.poll() is None for w in own_cluster.workers)  # no worker gave up


def test_workers_give_up_past_the_outage_limit_and_a_later_worker_finishes(
    tmp_path: Path, own_cluster: Cluster, own_redis: RedisServer
) -> None:
    n = 300
    with serve(Portal.generate(n_articles=n)) as server:
        workers = [
            own_cluster.start_worker(i, "--outage", "2", "--concurrency", "2") for i in range(2)
        ]
        run_id = own_cluster.enqueue(_site(tmp_path, server))
        wait_for(lambda: _fetched(server) >= n // 4)
        own_redis.stop()
        for w in workers:
            assert w.wait(120) == 3  # README: a store that cannot be reached
        logs = _logs(tmp_path, 2)
        assert "Redis unreachable for more than 2 s: the worker stops" in logs
        assert "Traceback" not in logs
        # The run is not failed by the outage: it waits in Redis and the database.
        assert own_cluster.run_row(run_id)[0] == "running"
        own_redis.start()
        own_cluster.start_worker(2, "--outage", "120")
        assert own_cluster.wait_finished(run_id) == "ok"
        fetched = Counter(p for p in server.requests if "content_" in p)
    assert len(fetched) == n
    assert _articles(own_cluster.db) == (n, n)
