"""The cluster's workers lose PostgreSQL mid-run (connections killed, then the server cut off
for seconds): they wait, retry, and the run completes with nothing lost and nothing twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crawler.demo.content import Portal
from crawler.demo.server import serve
from tests.tcp_cut import CuttableRelay
from tests.test_db_outage import pg_relay, wait_for
from tests.test_distributed_e2e import Cluster, _articles, _site, cluster, redis_url

__all__ = ["cluster", "pg_relay", "redis_url"]


def _fetched(server: object) -> int:
    return sum("content_" in p for p in server.requests)  # type: ignore[attr-defined]


def test_workers_wait_out_postgresql_and_the_run_completes(
    tmp_path: Path, cluster: Cluster, pg_url: str, pg_relay: CuttableRelay
) -> None:
    n = 600
    cluster.db = pg_relay.url_for(pg_url)  # the workers reach PostgreSQL through the relay
    admin = create_engine(pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with serve(Portal.generate(n_articles=n)) as server:
        for i in range(3):
            cluster.start_worker(i, "--outage", "120", "--concurrency", "4")
        run_id = cluster.enqueue(_site(tmp_path, server))
        # 1. Every connection of the workers killed, as an operator or a failover does.
        wait_for(lambda: _fetched(server) >= n // 4)
        with admin.connect() as c:
            killed = c.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 1
        # 2. The server unreachable for seconds (a restart): connections cut, new ones refused.
        wait_for(lambda: _fetched(server) >= n // 2)
        pg_relay.cut()
        wait_for(lambda: pg_relay.refused >= 3)  # the workers met the outage and retried
        time.sleep(3)
        pg_relay.restore()
        assert cluster.wait_finished(run_id) == "ok"
        fetched = Counter(p for p in server.requests if "content_" in p)
    admin.dispose()
    assert len(fetched) == n  # every article page fetched
    assert _articles(pg_url) == (n, n)  # every article stored once, one version each
    _status, counters = cluster.run_row(run_id)
    assert counters["articles_new"] == n
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(3))
    assert "The database is unavailable" in logs and "The database is back after" in logs
    assert all(w.poll() is None for w in cluster.workers)  # no worker gave up
