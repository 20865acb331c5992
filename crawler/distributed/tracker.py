"""Acknowledge a leased request only once what it produced is durably stored.

A request taken from the run's queue (`crawler.distributed.scheduler.LeasedQueue`) carries a
lease token. It is *done* when Scrapy has finished scraping its answer: the callback or errback
ran, every item it yielded went through every pipeline (into the writers' batches) and every
request it yielded was pushed to Redis. Done is not yet durable: the SQL, Parquet and WARC
writers (`storage.batch.BatchWriter`) write in batches from their own threads. So each done
token remembers how many items each writer had accepted at that moment, and it is acknowledged
when every writer has durably written at least that many (writers write in order). A worker
killed before that loses nothing: the lease runs out and another worker fetches the page again;
the archive's upserts make the second store a no-op.

"Finished scraping" is Scrapy's ``Scraper.enqueue_scrape`` Deferred, which fires after the
spider output's items and requests are processed; Scrapy has no signal for it, so this extension
wraps that method on the crawler's own scraper instance (Scrapy is pinned; a test covers it).

The extension also renews the leases of slow requests, sends this worker's counters to the run
(`Cluster.add_stats`, every few seconds and at the end), and when the spider closes (the run is
drained, or the worker stops on SIGTERM) flushes the writers, acknowledges what is stored and
hands every other lease back to the queue at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task
from twisted.python.failure import Failure

from crawler.distributed.cluster import GAUGES, NOTES, Cluster
from crawler.distributed.scheduler import LEASE, RedisRetry
from crawler.interrupt import NotSent
from storage.batch import BatchWriter

logger = logging.getLogger(__name__)


def durable_writers(crawler: Any) -> list[BatchWriter[Any]]:
    """The batch writers of the crawler's pipelines and downloader middlewares (anything that
    offers ``durable_writers()``)."""
    engine = crawler.engine
    components = [
        *getattr(engine.scraper.itemproc, "middlewares", ()),
        *getattr(engine.downloader.middleware, "middlewares", ()),
    ]
    writers: list[BatchWriter[Any]] = []
    for component in components:
        offered = getattr(component, "durable_writers", None)
        if offered is not None:
            writers.extend(w for w in offered() if w is not None)
    return writers


class LeaseTracker:
    def __init__(
        self,
        cluster: Cluster,
        run_id: str,
        worker_id: str,
        stats: Any,
        *,
        lease_seconds: float,
        tick_seconds: float = 0.25,
        stats_seconds: float = 2.0,
        retry: RedisRetry | None = None,
    ) -> None:
        self.cluster = cluster
        self.run_id = run_id
        self.worker_id = worker_id
        self.stats = stats
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds
        self.stats_seconds = stats_seconds
        self.retry = retry or RedisRetry()
        self.queue = cluster.queue(run_id)
        #: Leased, not done: token -> when taken or last renewed (monotonic).
        self.held: dict[str, float] = {}
        #: Done, waiting for the writers: (token, accepted count per writer, renewed at).
        self.waiting: list[tuple[str, tuple[int, ...], float]] = []
        self.writers: list[BatchWriter[Any]] = []
        self.crawler: Any = None
        self._loop: task.LoopingCall | None = None
        self._sent: dict[str, int] = {}
        #: This crawler's name among the run's counters (a worker may join a run twice).
        self.sender = f"{worker_id}:{uuid.uuid4().hex[:8]}"
        self._last_stats = 0.0
        #: A request this worker produced could not be queued (Redis gone past the limit):
        #: nothing more is acknowledged, so the requests that produced it are fetched again.
        self.acks_stopped = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseTracker:
        spider = crawler.spider
        run_id = getattr(spider, "cluster_run_id", None)
        if run_id is None:
            raise NotConfigured("not a worker of a cluster run")
        tracker = cls(
            spider.cluster,
            run_id,
            spider.worker_id,
            crawler.stats,
            lease_seconds=crawler.settings.getfloat("ZHENGWEN_LEASE_SECONDS", 120.0),
            retry=spider.redis_retry,
        )
        tracker.crawler = crawler
        spider.leases = tracker
        crawler.signals.connect(tracker.engine_started, signal=signals.engine_started)
        crawler.signals.connect(tracker.spider_closed, signal=signals.spider_closed)
        return tracker

    # --- the lease of each request ------------------------------------------------------------

    def engine_started(self) -> None:
        self.writers = durable_writers(self.crawler)
        scraper = self.crawler.engine.scraper
        original = scraper.enqueue_scrape

        def enqueue_scrape(result: Any, request: Any) -> Any:
            d = original(result, request)
            token = request.meta.get(LEASE)
            # A request the worker's stop kept from being sent stays leased: it is handed back
            # when the spider closes, not acknowledged as if it had been fetched.
            not_sent = isinstance(result, Failure) and bool(result.check(NotSent))  # type: ignore[no-untyped-call]
            if token is not None and not not_sent:
                d.addBoth(self._scraped, token)
            return d

        scraper.enqueue_scrape = enqueue_scrape
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(self.tick_seconds, now=False)

    def _scraped(self, result: Any, token: str) -> Any:
        self.done(token)
        return result

    def taken(self, token: str) -> None:
        self.held[token] = time.monotonic()

    def done(self, token: str) -> None:
        """What the request produced is handed to the writers (or it produced nothing)."""
        renewed = self.held.pop(token, None)
        if renewed is None:
            return  # done twice (a redirect handed on, then scraped): once is enough
        accepted = tuple(w.accepted for w in self.writers)
        self.waiting.append((token, accepted, renewed))

    def push_failed(self, token: str | None) -> None:
        """A request yielded by the leased one ``token`` was not queued: acknowledging its
        parent would lose it. Every lease of this worker is left to run out instead (its pages
        fetched again by another worker, stored once); the parent's is not even renewed."""
        if token is not None:
            self.held.pop(token, None)
        if not self.acks_stopped:
            self.acks_stopped = True
            logger.error(
                "A new request could not be queued (Redis unreachable): this worker "
                "acknowledges nothing more; its leases run out and go back to the queue"
            )

    def _stored(self) -> list[str]:
        if self.acks_stopped:
            self.waiting = []
            return []
        written = [w.written for w in self.writers]
        due, still = [], []
        for entry in self.waiting:
            if all(done >= want for done, want in zip(written, entry[1], strict=True)):
                due.append(entry[0])
            else:
                still.append(entry)
        self.waiting = still
        return due

    def tick(self) -> None:
        try:
            if self.waiting and not self.held:
                # Nothing of this worker in flight: its last pages wait only for the writers'
                # batch age. Write them now, so the run's end (or the decisions taken when it
                # drains) does not wait out the batch seconds.
                for writer in self.writers:
                    writer.hurry()
            due = self._stored()
            if due:
                self.retry("ack", lambda: self.queue.ack_many(due))
                self.stats.inc_value("zhengwen/cluster/acked", len(due))
            self._renew()
            now = time.monotonic()
            if now - self._last_stats >= self.stats_seconds:
                self._last_stats = now
                self.send_stats()
        except Exception as exc:  # the loop must go on: a lost tick only delays an ack
            logger.error("Lease bookkeeping failed: %s", exc)

    def _renew(self) -> None:
        """Leases older than a third of their length are renewed (a slow download, a writer
        behind). A lease already lost to a reclaim is counted: its page may be fetched twice,
        never stored twice."""
        now = time.monotonic()
        limit = self.lease_seconds / 3
        old = [t for t, at in self.held.items() if now - at >= limit]
        old_waiting = [e for e in self.waiting if now - e[2] >= limit]
        for token in old:
            self.held[token] = now
        if old_waiting:
            self.waiting = [(t, a, now if now - at >= limit else at) for t, a, at in self.waiting]
        for token in [*old, *(e[0] for e in old_waiting)]:
            kept = self.retry("renew", lambda t=token: self.queue.renew(t, self.lease_seconds))  # type: ignore[misc]
            if not kept:
                self.stats.inc_value("zhengwen/cluster/leases_lost")

    # --- counters ---------------------------------------------------------------------------------

    def send_stats(self) -> None:
        """This crawler's counters that changed since the last send, as running totals (a
        retried send counts nothing twice)."""
        totals: dict[str, int] = {}
        gauges: dict[str, int] = {}
        for key, value in self.stats.get_stats().items():
            if key in NOTES and value:
                self.retry("note", lambda k=key, v=value: self.cluster.note(self.run_id, k, str(v)))  # type: ignore[misc]
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            if key in GAUGES:
                gauges[key] = value
                continue
            if value != self._sent.get(key):
                totals[key] = value
        if totals or gauges:
            self.retry(
                "stats",
                lambda: self.cluster.add_stats(self.run_id, self.sender, totals, gauges),
            )
            self._sent.update(totals)

    # --- the end ----------------------------------------------------------------------------------

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        for writer in self.writers:
            try:
                writer.flush()
            except Exception as exc:  # its items are not acknowledged: another worker redoes them
                logger.error("A writer failed at the end: %s", exc)
        due = self._stored()
        back = [] if self.acks_stopped else [*self.held, *(e[0] for e in self.waiting)]
        self.held, self.waiting = {}, []
        if self.retry.gave_up:
            # Redis stayed away past the limit: not waited for again; the leases run out.
            logger.error("Redis is unreachable: the leases of this worker run out by themselves")
            return
        try:
            if due:
                self.retry("ack", lambda: self.queue.ack_many(due))
                self.stats.inc_value("zhengwen/cluster/acked", len(due))
            for token in back:
                self.retry("release", lambda t=token: self.queue.release(t))  # type: ignore[misc]
            if back:
                self.stats.inc_value("zhengwen/cluster/handed_back", len(back))
                logger.info("Handed %d requests back to the queue", len(back))
            self.send_stats()
        except Exception as exc:
            # Redis stayed away: the leases run out and the requests go back by themselves.
            logger.error("Could not settle the leases at the end: %s", exc)
