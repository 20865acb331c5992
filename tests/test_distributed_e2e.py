"""Worker processes of the cluster (``zhengwen worker``) crawling a loopback portal into a real
PostgreSQL database through a real Redis; runs started with ``zhengwen enqueue``."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from tests.test_distributed_leases import REDIS_URL, redis_url

__all__ = ["redis_url"]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "crawler" / "demo" / "demo.toml"


def _connect(db: str) -> Any:
    return create_engine(db, poolclass=NullPool).connect()


def _zw(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


class Cluster:
    def __init__(self, tmp: Path, db: str, prefix: str, redis_url: str = REDIS_URL) -> None:
        self.tmp, self.db, self.prefix, self.redis_url = tmp, db, prefix, redis_url
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, i: int, *extra: str) -> subprocess.Popen[bytes]:
        args = ["worker", "--redis", self.redis_url, "--prefix", self.prefix, "--db", self.db]
        args += ["--archive", str(self.tmp / f"w{i}"), "--lease", "5", *extra]
        with open(self.tmp / f"w{i}.log", "ab") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(_zw(*args), cwd=ROOT, stderr=log, stdout=log)
        self.workers.append(proc)
        return proc

    def enqueue(self, config: Path) -> str:
        out = subprocess.run(
            [
                *_zw("enqueue", str(config), "--redis", self.redis_url, "--prefix", self.prefix),
                "--db",
                self.db,
                "--archive",
                str(self.tmp / "w0"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.split("run ")[1].split()[0]

    def run_row(self, run_id: str) -> tuple[str, dict[str, object]]:
        with _connect(self.db) as c:
            status, counters = c.execute(
                text("SELECT status, counters FROM crawl_runs WHERE id = :i"), {"i": run_id}
            ).one()
        return status, counters

    def wait_finished(self, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _ = self.run_row(run_id)
            if status != "running":
                return status
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Cluster]:
    prefix = f"zw_test_{uuid.uuid4().hex[:10]}"
    c = Cluster(tmp_path, pg_url, prefix)
    try:
        yield c
    finally:
        c.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)


def _site(tmp_path: Path, server: PortalServer) -> Path:
    config = tmp_path / "site.toml"
    config.write_text(
        DEMO.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/"),
        encoding="utf-8",
    )
    return config


def _articles(db: str) -> tuple[int, int]:
    with _connect(db) as c:
        articles = c.execute(text("SELECT count(*) FROM articles")).scalar_one()
        versions = c.execute(text("SELECT count(*) FROM article_versions")).scalar_one()
    return int(articles), int(versions)


def _parquet_rows(tmp_path: Path) -> Counter[str]:
    rows: Counter[str] = Counter()
    for part in tmp_path.glob("w*/parquet/**/*.parquet"):
        for u in pq.read_table(part, columns=["url_hash"]).column("url_hash").to_pylist():
            rows[u] += 1
    return rows


def test_three_workers_fetch_each_article_once(tmp_path: Path, cluster: Cluster) -> None:
    n = 2000
    with serve(Portal.generate(n_articles=n)) as server:
        for i in range(3):
            cluster.start_worker(i)
        run_id = cluster.enqueue(_site(tmp_path, server))
        assert cluster.wait_finished(run_id) == "ok"
        fetched = Counter(p for p in server.requests if "content_" in p)
    assert len(fetched) == n
    assert set(fetched.values()) == {1}  # every article page exactly once, across 3 workers
    assert _articles(cluster.db) == (n, n)
    _status, counters = cluster.run_row(run_id)
    assert counters["articles_new"] == n and "cluster" not in counters
    with _connect(cluster.db) as c:
        assert c.execute(text("SELECT count(*) FROM crawl_runs")).scalar_one() == 1
    # Parquet: the workers' own folders hold every article once between them.
    rows = _parquet_rows(tmp_path)
    assert len(rows) == n and set(rows.values()) == {1}
    # More than one worker did the work.
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(3)]
    assert sum("Joined run" in log for log in logs) >= 2


@pytest.mark.parametrize("after", [20, 150, 300])
def test_a_worker_killed_mid_run_loses_nothing(
    tmp_path: Path, cluster: Cluster, after: int
) -> None:
    n = 400
    with serve(Portal.generate(n_articles=n)) as server:
        victim = cluster.start_worker(0)
        cluster.start_worker(1)
        run_id = cluster.enqueue(_site(tmp_path, server))
        deadline = time.monotonic() + 120
        while sum("content_" in p for p in server.requests) < after:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        assert cluster.wait_finished(run_id) == "ok"
        fetched = Counter(p for p in server.requests if "content_" in p)
    assert len(fetched) == n  # nothing lost (a page the victim held may be fetched twice)
    assert _articles(cluster.db) == (n, n)  # nothing duplicated
    # The run's record counts what the archive took, not what was fetched twice.
    _status, counters = cluster.run_row(run_id)
    assert counters["articles_new"] == n, counters


def test_a_sites_delay_holds_across_three_workers(tmp_path: Path, cluster: Cluster) -> None:
    """download_delay = 0.5: the portal never sees two requests closer than that, though
    three workers crawl the site at once (grants are spaced by the delay plus a margin for the
    spread of grant-to-wire latencies: crawler.distributed.throttle.DELAY_MARGIN)."""
    delay = 0.5
    n = 40
    with serve(Portal.generate(n_articles=n)) as server:
        config = _site(tmp_path, server)
        text_ = config.read_text(encoding="utf-8")
        text_ = text_.replace("download_delay = 0\n", f"download_delay = {delay}\n")
        config.write_text(text_.replace("concurrency = 8\n", "concurrency = 1\n"), "utf-8")
        for i in range(3):
            cluster.start_worker(i, "--concurrency", "4")
        run_id = cluster.enqueue(config)
        assert cluster.wait_finished(run_id) == "ok"
        log = server.request_log
    assert sum("content_" in path for _, path in log) == n
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(log)]
    assert min(gaps) >= delay, sorted(gaps)[:5]
    # More than one worker fetched pages of the site.
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(3))
    pages = [int(m) for m in re.findall(r"Left run \S+ \(\w+\): (\d+) pages", logs)]
    assert sum(1 for p in pages if p > 0) >= 2, pages


def test_a_site_runs_once_on_the_cluster(tmp_path: Path, cluster: Cluster) -> None:
    with serve(Portal.generate(n_articles=30)) as server:
        config = _site(tmp_path, server)
        cluster.enqueue(config)
        second = subprocess.run(
            [
                *_zw("enqueue", str(config), "--redis", REDIS_URL, "--prefix", cluster.prefix),
                "--db",
                cluster.db,
                "--archive",
                str(tmp_path / "w0"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert second.returncode == 4
        assert second.stderr.startswith("error: site demo is already being crawled (cluster run")
        local = subprocess.run(
            _zw("crawl", str(config), "--db", cluster.db, "--archive", str(tmp_path / "local")),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert local.returncode == 4, local.stderr
        assert "cluster run" in local.stderr
