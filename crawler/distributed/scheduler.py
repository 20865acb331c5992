"""scrapy-redis's scheduler and dupefilter, with a queue whose requests are leased, not popped.

What comes from scrapy-redis (pinned in pyproject.toml): `Scheduler` (the Redis-backed scheduler
a Scrapy user already knows: ``enqueue_request`` checks the dupefilter and pushes,
``next_request`` pops), its queue base class (request <-> dict encoding) and `RFPDupeFilter`
(fingerprints in a Redis set). What is ours, closing the gaps its tracker lists:

- `LeasedQueue`: ``pop`` leases a request (`crawler.distributed.leases`) instead of removing it,
  so a worker killed mid-request loses nothing: the lease runs out and the request goes back.
  The lease is acknowledged by `crawler.distributed.tracker.LeaseTracker` once what the request
  produced is durably stored. Priorities are kept (scrapy-redis's FIFO/LIFO queues drop them).
- JSON instead of pickle in Redis (`crawler.distributed.serialize`).
- `ClusterScheduler`: every Redis call waits out an outage (`RedisRetry`) instead of crashing
  the spider, a new request is marked seen and queued in one atomic step, a retried or redirected request hands its parent's lease on, and the shared queue
  is never flushed when one worker closes.
- `ClusterDupeFilter`: Scrapy's own request fingerprints (the ones the local crawl uses), 8
  bytes each in Redis instead of 40 hex characters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from scrapy import Request
from scrapy.http.request import _find_method
from scrapy_redis.dupefilter import RFPDupeFilter  # type: ignore[import-untyped]
from scrapy_redis.queue import Base  # type: ignore[import-untyped]
from scrapy_redis.scheduler import Scheduler  # type: ignore[import-untyped]

from crawler.distributed.leases import MAX_PRIORITY, LeaseQueue
from storage.outage import Outage, redis_transient

logger = logging.getLogger(__name__)

#: Where a leased request carries its lease token.
LEASE = "zhengwen_lease"
#: Request meta a queued copy must not carry: the lease of the request it came from, and what
#: downloader middlewares attach for the one download (a politeness slot, Scrapy's slot name).
TRANSIENT_META = frozenset({LEASE, "zhengwen_cluster_slot", "download_slot", "_slot"})
T = TypeVar("T")


class RedisRetry(Outage):
    """Call a Redis operation until it succeeds, backing off while Redis is unreachable
    (`storage.outage.Outage`: one warning when an outage starts, one line when Redis is back;
    after ``limit`` seconds of outage the error is raised and the worker stops, handing back
    what it can)."""

    def __init__(self, limit: float = 600.0, stats: Any = None) -> None:
        super().__init__(
            "Redis", limit, redis_transient, stats=stats, stat="zhengwen/cluster/redis_outages"
        )

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        return self.call(what, call)


def _priority(request: Any) -> int:
    return max(-MAX_PRIORITY, min(MAX_PRIORITY, int(request.priority)))


def _method_name(spider: Any, func: Any) -> Any:
    """The name of the spider method ``func`` (a bound method of the spider), as
    ``Request.to_dict`` finds it. Scrapy lists every member of the spider with
    ``inspect.getmembers`` to find it: about 1 ms a callback, twice per request queued. The
    method's own name is tried first; Scrapy's search (and its error) otherwise."""
    if not callable(func):
        return func
    inner = getattr(func, "__func__", None)
    name = getattr(inner, "__name__", None)
    if inner is not None and isinstance(name, str):
        found = getattr(getattr(spider, name, None), "__func__", None)
        if found is inner:
            return name
    return _find_method(spider, func)


def request_dict(request: Any, spider: Any) -> dict[str, Any]:
    """``request.to_dict(spider=spider)``, the same dict, found faster (`_method_name`)."""
    data: dict[str, Any] = {
        "url": request.url,
        "callback": _method_name(spider, request.callback),
        "errback": _method_name(spider, request.errback),
        "headers": dict(request.headers),
    }
    for attr in request.attributes:
        data.setdefault(attr, getattr(request, attr))
    if type(request) is not Request:
        data["_class"] = f"{type(request).__module__}.{type(request).__name__}"
    return data


class LeasedQueue(Base):  # type: ignore[misc]
    """A scrapy-redis queue over `LeaseQueue`: one per run, shared by the run's workers."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.run_id: str = spider.cluster_run_id
        self.leases = LeaseQueue(server, key)
        self.retry: RedisRetry = getattr(spider, "redis_retry", None) or RedisRetry()

    def __len__(self) -> int:
        return self.retry("queue length", lambda: self.leases.pending(self.run_id))

    def _encode_request(self, request: Any) -> bytes:
        data = request_dict(request, self.spider)
        data["meta"] = {k: v for k, v in data["meta"].items() if k not in TRANSIENT_META}
        encoded: bytes = self.serializer.dumps(data)
        return encoded

    def push(self, request: Any) -> None:
        payload = self._encode_request(request)
        priority = _priority(request)
        self.retry("push", lambda: self.leases.push(self.run_id, [payload], priority=priority))

    def push_new(self, request: Any, fingerprint: bytes) -> bool:
        """Queue the request unless the run has seen it: marked seen and queued in one step,
        so a worker dying in between cannot lose it. True when it was queued."""
        payload = self._encode_request(request)
        priority = _priority(request)
        return self.retry(
            "push",
            lambda: self.leases.push_new(self.run_id, fingerprint, payload, priority=priority),
        )

    def pop(self, timeout: int = 0) -> Any:
        tracker = getattr(self.spider, "leases", None)
        lease = tracker.lease_seconds if tracker is not None else 300.0
        worker = tracker.worker_id if tracker is not None else "worker"
        got = self.retry("take", lambda: self.leases.take(worker, lease))
        if got is None:
            return None
        token, payload = got
        try:
            request = self._decode_request(payload)
        except Exception as exc:  # a payload this worker cannot read must not stop the run
            logger.error("Dropped an unreadable queued request (%s): %.200r", exc, payload)
            self.spider.crawler.stats.inc_value("zhengwen/cluster/bad_queue_items")
            self.retry("ack", lambda: self.leases.ack(token))
            return None
        request.meta[LEASE] = token
        if tracker is not None:
            tracker.taken(token)
        return request

    def clear(self) -> None:
        self.retry("clear", self.leases.clear)


class ClusterDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """Requests seen by any worker of the run, by Scrapy's request fingerprint (8 bytes)."""

    def __init__(self, server: Any, key: str, debug: bool = False, fingerprinter: Any = None):
        super().__init__(server, key, debug)
        self.fingerprinter = fingerprinter
        self.retry = RedisRetry()

    @classmethod
    def from_spider(cls, spider: Any) -> ClusterDupeFilter:
        settings = spider.settings
        server = redis.Redis.from_url(
            settings.get("ZHENGWEN_REDIS_URL"), socket_connect_timeout=5, socket_timeout=30
        )
        key = settings.get("SCHEDULER_DUPEFILTER_KEY")
        dupefilter = cls(
            server, key, settings.getbool("DUPEFILTER_DEBUG"), spider.crawler.request_fingerprinter
        )
        dupefilter.retry = getattr(spider, "redis_retry", None) or RedisRetry()
        return dupefilter

    def request_fingerprint(self, request: Any) -> bytes:
        fingerprint: bytes = self.fingerprinter.fingerprint(request)
        return fingerprint[:8]

    def request_seen(self, request: Any) -> bool:
        fp = self.request_fingerprint(request)
        added = self.retry("dupefilter", lambda: self.server.sadd(self.key, fp))
        return bool(added == 0)

    def close(self, reason: str = "") -> None:
        """The fingerprints are the run's, not this worker's: they stay until the run ends."""


class ClusterScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler for one run's requests, shared by the run's workers."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterScheduler:
        spider = crawler.spider
        retry: RedisRetry = spider.redis_retry
        instance: ClusterScheduler = retry("connect", lambda: cls.from_settings(crawler.settings))
        instance.stats = crawler.stats
        instance.retry = retry
        return instance

    def close(self, reason: str) -> None:
        """Never flush: other workers still work on the run (the run's end deletes its keys)."""

    def enqueue_request(self, request: Any) -> bool:
        # A retry or a redirect is a copy of a leased request: it goes into the queue as a new
        # item, and the request it replaces is done once it is there.
        token = request.meta.pop(LEASE, None)
        tracker = getattr(self.spider, "leases", None)
        try:
            if request.dont_filter:
                self.queue.push(request)
                queued = True
            else:
                # scrapy-redis marks the request seen, then pushes it: two calls, and a worker
                # killed between them leaves a request seen by the run and in no queue.
                queued = self.queue.push_new(request, self.df.request_fingerprint(request))
                if not queued:
                    self.df.log(request, self.spider)
        except Exception as exc:
            if not redis_transient(exc):
                raise
            # Redis stayed away past --outage: the request that produced this one is not
            # acknowledged, so it is fetched again and this one found again (nothing lost).
            if self.stats:
                self.stats.inc_value("zhengwen/cluster/not_queued", spider=self.spider)
            if tracker is not None:
                tracker.push_failed(token)
            return False
        if queued and self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        if token is not None and tracker is not None:
            tracker.done(token)
        return queued

    def next_request(self) -> Any:
        try:
            return super().next_request()
        except Exception as exc:
            if not redis_transient(exc):
                raise
            return None  # Redis stayed away past --outage: the worker is stopping (exit 3)

    def has_pending_requests(self) -> bool:
        try:
            return len(self) > 0
        except Exception as exc:
            if not redis_transient(exc):
                raise
            return False
