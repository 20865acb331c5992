"""Cluster-wide politeness in Scrapy (crawler/distributed/throttle.py), with real parts: three
worker processes, each a Scrapy crawl with the middleware, fetch from one loopback HTTP server
that notes when each request arrives and while it is being answered; the delay and the
concurrency are asserted on what that server saw. The outage test runs a private redis-server
it starts late; the others use the Redis service."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.distributed.throttle import (
    NO_BUDGET_META,
    SLOT_META,
    STATS_PREFIX,
    ClusterPoliteness,
)
from tests.conftest import _service_missing
from tests.test_distributed_leases import prefix, redis_url

__all__ = ["prefix", "redis_url"]  # fixtures shared with the leases tests

WORKERS = 3


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer_seconds: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer_seconds = answer_seconds
        self.lock = threading.Lock()
        #: (path, arrival, answered): monotonic seconds when the request line and headers were
        #: read, and when the answer starts being written (before its last bytes, so before the
        #: client can have its response and give its slot back).
        self.log: list[tuple[str, float, float]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        arrived = time.monotonic()
        time.sleep(self.server.answer_seconds)
        body = b"<html><body>ok</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with self.server.lock:
            self.server.log.append((self.path, arrived, time.monotonic()))
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Iterator[_Recorder]:
    """A loopback HTTP server answering after `answer_seconds` (the test's param, default 0)."""
    server = _Recorder(getattr(request, "param", 0.0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _Spider(scrapy.Spider):
    """Fetches its URLs; `site.politeness` is shaped like crawler.config's."""

    name = "throttle_test"

    def __init__(self, urls: list[str], delay: float, concurrency: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.site = SimpleNamespace(
            politeness=SimpleNamespace(download_delay=delay, concurrency=concurrency)
        )

    async def start(self) -> Any:
        # CLOCK_MONOTONIC is one clock for all processes of the machine (Linux).
        self.crawler.stats.set_value("test/started", time.monotonic())
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response: Any) -> None:
        self.crawler.stats.inc_value("test/responses")
        self.crawler.stats.set_value("test/last_response", time.monotonic())


def _worker(
    url: str,
    prefix: str,
    urls: list[str],
    delay: float,
    concurrency: int,
    start: Any,
    out: str,
) -> None:
    """One cluster worker: a Scrapy crawl of `urls` with the middleware; its stats to `out`."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(
        settings={
            "DOWNLOADER_MIDDLEWARES": {"crawler.distributed.throttle.ClusterPoliteness": 995},
            "ZHENGWEN_REDIS_URL": url,
            "ZHENGWEN_REDIS_PREFIX": prefix,
            # The cluster budget replaces Scrapy's own per-process politeness.
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": False,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    crawler = process.create_crawler(_Spider)
    process.crawl(crawler, urls=urls, delay=delay, concurrency=concurrency)
    # All workers start crawling together: one slow to spawn must not find the others done.
    start.wait(60)
    process.start()
    Path(out).write_text(json.dumps(crawler.stats.get_stats(), default=str))


def _run_cluster(
    url: str,
    prefix: str,
    server: _Recorder,
    tmp_path: Path,
    *,
    delay: float,
    concurrency: int,
    per_worker: int,
) -> list[dict[str, Any]]:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                url,
                prefix,
                [f"{base}/w{w}/{i}" for i in range(per_worker)],
                delay,
                concurrency,
                start,
                str(tmp_path / f"stats-{w}.json"),
            ),
        )
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    return [json.loads((tmp_path / f"stats-{w}.json").read_text()) for w in range(WORKERS)]


def _check_workers(stats: list[dict[str, Any]], server: _Recorder, per_worker: int) -> None:
    """Every worker fetched all its pages, each with a slot it gave back, and the workers
    crawled at the same time: each had its requests out (waiting for a slot) before any had
    its last response, so a budget held per process would have let their requests collide.
    (Which worker a grant goes to is not fair: one may win several in a row.)"""
    for s in stats:
        assert s.get("test/responses") == per_worker, s
        assert s.get(f"{STATS_PREFIX}slots") == per_worker, s
        assert s.get(f"{STATS_PREFIX}released") == per_worker, s
    assert len(server.log) == WORKERS * per_worker
    assert max(s["test/started"] for s in stats) < min(s["test/last_response"] for s in stats)


def test_the_delay_holds_across_worker_processes(
    redis_url: str, prefix: str, recorder: _Recorder, tmp_path: Path
) -> None:
    delay, per_worker = 0.5, 6
    stats = _run_cluster(
        redis_url, prefix, recorder, tmp_path, delay=delay, concurrency=1, per_worker=per_worker
    )
    _check_workers(stats, recorder, per_worker)
    arrivals = sorted(t for _, t, _ in recorder.log)
    gaps = [round(b - a, 4) for a, b in itertools.pairwise(arrivals)]
    # Grants are a delay plus DELAY_MARGIN apart: the margin covers the difference of two
    # requests' grant-to-wire latencies (Redis reply, thread to reactor, Scrapy's downloader,
    # a loopback connect), so the portal sees at least the delay.
    assert min(gaps) >= delay, gaps


@pytest.mark.parametrize("recorder", [0.3], indirect=True)
def test_the_concurrency_holds_across_worker_processes(
    redis_url: str, prefix: str, recorder: _Recorder, tmp_path: Path
) -> None:
    per_worker = 8
    stats = _run_cluster(
        redis_url, prefix, recorder, tmp_path, delay=0, concurrency=2, per_worker=per_worker
    )
    _check_workers(stats, recorder, per_worker)
    # Requests being answered when each one arrived (itself included).
    at_once = [
        sum(1 for _, a, e in recorder.log if a <= arrived < e) for _, arrived, _ in recorder.log
    ]
    assert max(at_once) == 2, sorted(recorder.log, key=lambda row: row[1])


# --- one middleware in this process -------------------------------------------------------------


def _middleware(url: str, prefix: str, **settings: Any) -> ClusterPoliteness:
    crawler = get_crawler(
        settings_dict={
            "ZHENGWEN_REDIS_URL": url,
            "ZHENGWEN_REDIS_PREFIX": prefix,
            "DOWNLOAD_DELAY": 0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            **settings,
        }
    )
    return ClusterPoliteness.from_crawler(crawler)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stat(mw: ClusterPoliteness, metric: str) -> Any:
    return mw.stats.get_value(f"{STATS_PREFIX}{metric}")


def test_without_a_redis_url_the_middleware_is_off() -> None:
    with pytest.raises(NotConfigured):
        ClusterPoliteness.from_crawler(get_crawler(settings_dict={"ZHENGWEN_REDIS_URL": ""}))


def test_local_urls_and_opted_out_requests_take_no_slot() -> None:
    # Nothing listens on the port: a request that asked Redis would wait, not pass.
    mw = _middleware(f"redis://127.0.0.1:{_free_port()}/0", "zw_test_unused")
    requests = [
        scrapy.Request("data:text/html,<p>hi</p>"),
        scrapy.Request("file:///etc/hostname"),
        scrapy.Request("http://news.example.cn/a", meta={NO_BUDGET_META: True}),
    ]

    async def run() -> None:
        for request in requests:
            await asyncio.wait_for(mw.process_request(request), 5)

    asyncio.run(run())
    assert all(SLOT_META not in r.meta for r in requests)
    assert _stat(mw, "redis_errors") is None


def test_a_redis_outage_holds_the_request_until_redis_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_bin = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(server_bin):
        _service_missing("redis-server", FileNotFoundError(server_bin))
    port = _free_port()
    mw = _middleware(f"redis://127.0.0.1:{port}/0", "zw_test_outage")
    request = scrapy.Request("http://news.example.cn/a")
    started: list[subprocess.Popen[bytes]] = []

    async def run() -> None:
        task = asyncio.ensure_future(mw.process_request(request))
        deadline = time.monotonic() + 30
        while (_stat(mw, "redis_errors") or 0) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert (_stat(mw, "redis_errors") or 0) >= 3
        assert not task.done() and SLOT_META not in request.meta, "went out without a slot"
        started.append(
            subprocess.Popen(
                [server_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        await asyncio.wait_for(task, 30)
        mw.process_response(request, HtmlResponse(request.url, body=b"", request=request))
        await mw.spider_closed()

    caplog.set_level(logging.INFO, logger="crawler.distributed.throttle")
    try:
        asyncio.run(run())
    finally:
        for server in started:
            server.terminate()
            server.wait(10)
    assert started, "the test never started Redis"
    assert _stat(mw, "slots") == 1
    assert _stat(mw, "released") == 1
    assert _stat(mw, "redis_outages") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis is unavailable" in m for m in messages) == 1, messages
    assert sum("Redis is back" in m for m in messages) == 1, messages


def test_a_slot_is_released_exactly_once_and_a_redirect_gets_its_own(
    redis_url: str, prefix: str
) -> None:
    mw = _middleware(redis_url, prefix)  # one slot at a time for the domain
    client = redis.Redis.from_url(redis_url)
    first = scrapy.Request("http://news.example.cn/a")
    held: list[bytes] = []

    async def run() -> None:
        await asyncio.wait_for(mw.process_request(first), 10)
        slot = first.meta[SLOT_META]
        # A copy made while the slot is held carries it in its meta: it is not its own.
        copy = first.replace(url="http://news.example.cn/b")
        mw.process_response(first, HtmlResponse(first.url, body=b"", request=first))
        mw.process_exception(first, TimeoutError("late"))
        mw.process_exception(copy, TimeoutError("late"))
        mw.process_response(copy, HtmlResponse(copy.url, body=b"", request=copy))
        # With the one slot given back, the copy (a redirect) gets a new one at once; were it
        # still held, this would wait out its lifetime (DOWNLOAD_TIMEOUT + 30 s).
        await asyncio.wait_for(mw.process_request(copy), 10)
        assert copy.meta[SLOT_META].slot_id != slot.slot_id
        held.extend(client.zrange(mw.budget.keys("news.example.cn")[0], 0, -1))
        assert held == [copy.meta[SLOT_META].slot_id.encode()]
        mw.process_response(copy, HtmlResponse(copy.url, body=b"", request=copy))
        await mw.spider_closed()

    asyncio.run(run())
    assert _stat(mw, "slots") == 2
    assert _stat(mw, "released") == 2
    assert _stat(mw, "slots_expired") is None, "a slot was given back twice"
    assert client.zcard(mw.budget.keys("news.example.cn")[0]) == 0
    client.close()


def test_the_site_politeness_is_read_from_the_spider_when_used(redis_url: str, prefix: str) -> None:
    mw = _middleware(redis_url, prefix)
    assert mw.politeness() == (0.0, 1)  # no spider yet: the settings
    mw.crawler.spider = _Spider([], delay=0.5, concurrency=3)
    assert mw.politeness() == (0.5, 3)
    mw.crawler.spider.site.politeness.concurrency = 2
    assert mw.politeness() == (0.5, 2)
