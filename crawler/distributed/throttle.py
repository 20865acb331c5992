"""Cluster-wide politeness for a Scrapy worker (issue 17, item 4): the downloader middleware
`ClusterPoliteness` holds each request until the site's shared budget in Redis
(`crawler.distributed.politeness.DomainBudget`) grants it a slot, so a site's download delay and
concurrency hold for the whole cluster of workers, not per worker.

Where it sits: last before the download (order 995, after `crawler.interrupt.NotSentGate` at
990), so that the grant is as close as possible to the bytes on the wire. The delay is measured
between grants, on Redis server time; what the portal sees between two requests is the gap
between their grants plus the difference of the two requests' grant-to-wire latencies. Every
middleware after this one, and every wait after the grant, adds to that latency, and only the
*difference* of two latencies can shorten a gap: a request that waited after its grant (in
another middleware, or in Scrapy's own download slot for its `DOWNLOAD_DELAY`) goes out late,
and the next one, granted a delay later and sent at once, reaches the portal less than a delay
after it. Hence also: a worker using this middleware leaves Scrapy's own per-process delay at 0
and AutoThrottle off (the cluster budget replaces them), and Scrapy's per-domain concurrency
at least the site's, so that nothing queues between grant and wire. On loopback the remaining
latency differences are a few milliseconds.

A granted slot is kept in ``request.meta["zhengwen_cluster_slot"]`` and given back, exactly
once, by `process_response` or `process_exception`, which run first of all middlewares (the
highest order sees the response and the exception first), before a redirect or a retry makes
a new request out of this one; that request passes `process_request` again and gets its own
slot. A slot never given back (its worker died, or Redis lost the release) blocks its place in
the domain's concurrency for ``ZHENGWEN_CLUSTER_SLOT_SECONDS`` at most (default
``DOWNLOAD_TIMEOUT + 30``: a slot must outlive the download it covers).

Waiting never blocks the reactor: the Redis calls run in a thread and the waits are
`scrapy.utils.asyncio.sleep` (asyncio's or Twisted's, whichever the crawl runs on). Within one
worker the requests waiting for one domain queue behind each other, so a worker polls Redis for
a domain once at a time, however many of its requests wait. While Redis is unreachable
(restarting, a network cut) no request goes out without a slot: the waiting one retries with
the cluster's outage policy (`storage.outage`: a backoff of 0.1 s doubling to 5 s, one warning
per outage and one line when Redis is back). A refused password fails the request at once. A stopping crawl (first interrupt) sends none of the requests still waiting here.

Grants are spaced by the delay plus a margin (``ZHENGWEN_CLUSTER_DELAY_MARGIN``, default
0.05 s, only for a site with a delay) that covers that difference, so the portal sees at least
the site's delay between two requests.

Settings: ``ZHENGWEN_REDIS_URL`` (empty: the middleware is off), ``ZHENGWEN_REDIS_PREFIX``
(default ``zhengwen``), ``ZHENGWEN_CLUSTER_SLOT_SECONDS``, ``ZHENGWEN_CLUSTER_DELAY_MARGIN``. The delay and concurrency are the
spider's ``site.politeness`` (``download_delay``, ``concurrency``), read when a request arrives,
else the ``DOWNLOAD_DELAY`` and ``CONCURRENT_REQUESTS_PER_DOMAIN`` settings. A request with
``meta["zhengwen_no_budget"]`` and ``data:`` and ``file:`` URLs do not take a slot. Stats under
``zhengwen/cluster_politeness/``: ``slots``, ``released``, ``slots_expired`` (given back after
they had expired), ``waits`` (requests that had to wait), ``wait_seconds``, ``redis_errors``,
``redis_outages``, ``release_errors``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread, sleep
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred, DeferredLock

from crawler.distributed.politeness import DomainBudget, Slot
from crawler.drops import SKIP_PREFIX
from crawler.interrupt import NOT_SENT, STOPPING, NotSent
from storage.outage import Outage, redis_transient

logger = logging.getLogger(__name__)

#: Where a request keeps its granted slot.
SLOT_META = "zhengwen_cluster_slot"
#: A request with this meta key set goes out without a slot.
NO_BUDGET_META = "zhengwen_no_budget"
STATS_PREFIX = "zhengwen/cluster_politeness/"
#: URL schemes that reach no server.
UNBUDGETED_SCHEMES = frozenset({"data", "file"})
#: Seconds added to a site's download delay between two grants (ZHENGWEN_CLUSTER_DELAY_MARGIN):
#: two requests granted a delay apart reach the portal closer by the difference of their
#: grant-to-wire latencies, a few ms on an idle machine and up to 30 ms seen on a loaded one.
DELAY_MARGIN = 0.05

#: Redis client timeouts: a Redis that hangs counts as unreachable after this long.
CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 5.0


class ClusterPoliteness:
    """Downloader middleware (order 995): a request goes out only with a slot of its domain's
    cluster-wide budget in Redis."""

    def __init__(
        self,
        crawler: Any,
        redis_url: str,
        *,
        prefix: str,
        slot_seconds: float,
        default_delay: float,
        default_concurrency: int,
        margin: float = 0.0,
    ) -> None:
        self.crawler = crawler
        #: Added to a site's delay between grants: the room for the spread of grant-to-wire
        #: latencies, so that the portal sees the full delay between two requests.
        self.margin = margin
        self.stats = crawler.stats
        # One attempt per call: the waiting and its backoff are this middleware's, in the
        # reactor, not the client's, asleep in a thread.
        self.client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.budget = DomainBudget(self.client, prefix, slot_seconds=slot_seconds)
        self.default_delay = default_delay
        self.default_concurrency = default_concurrency
        self._queues: dict[str, DeferredLock] = {}
        self._held: dict[str, Slot] = {}
        self._releasing: set[Deferred[None]] = set()
        # The cluster's one outage policy (storage.outage), with no limit here: the worker
        # gives up on its own after --outage and then stops the crawl, which sends nothing.
        self.outage = Outage(
            "Redis",
            math.inf,
            redis_transient,
            stats=self.stats,
            stat=f"{STATS_PREFIX}redis_outages",
            log=logger,
        )
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterPoliteness:
        settings = crawler.settings
        url = settings.get("ZHENGWEN_REDIS_URL") or ""
        if not url:
            raise NotConfigured("ZHENGWEN_REDIS_URL is not set")
        slot_seconds = settings.getfloat(
            "ZHENGWEN_CLUSTER_SLOT_SECONDS", settings.getfloat("DOWNLOAD_TIMEOUT", 180.0) + 30
        )
        return cls(
            crawler,
            url,
            prefix=settings.get("ZHENGWEN_REDIS_PREFIX") or "zhengwen",
            slot_seconds=slot_seconds,
            default_delay=settings.getfloat("DOWNLOAD_DELAY", 0.0),
            default_concurrency=max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8)),
            margin=max(0.0, settings.getfloat("ZHENGWEN_CLUSTER_DELAY_MARGIN", DELAY_MARGIN)),
        )

    # --- the downloader middleware ---------------------------------------------------------------

    async def process_request(self, request: Any) -> None:
        domain = budgeted_domain(request)
        if domain is None:
            return
        # A copy (redirect, retry, `replace`) may carry its original's slot: not its own.
        request.meta.pop(SLOT_META, None)
        delay, concurrency = self.politeness()
        if delay > 0:
            delay += self.margin
        request.meta[SLOT_META] = await self._wait_for_slot(domain, delay, concurrency)

    def process_response(self, request: Any, response: Any) -> Any:
        self.release(request)
        return response

    def process_exception(self, request: Any, exception: BaseException) -> None:
        self.release(request)

    # ----------------------------------------------------------------------------------------------

    def politeness(self) -> tuple[float, int]:
        """The delay and concurrency of the spider's site now, else the settings'."""
        site = getattr(getattr(self.crawler, "spider", None), "site", None)
        pol = getattr(site, "politeness", None)
        if pol is None:
            return self.default_delay, self.default_concurrency
        return float(pol.download_delay), max(1, int(pol.concurrency))

    def release(self, request: Any) -> None:
        """Give back the request's slot, if it holds one not given back yet (in the background:
        the response does not wait for Redis)."""
        slot = request.meta.pop(SLOT_META, None)
        if not isinstance(slot, Slot) or self._held.pop(slot.slot_id, None) is None:
            return
        done = deferred_from_coro(self._release(slot))
        self._releasing.add(done)
        done.addBoth(lambda _: self._releasing.discard(done))

    async def _release(self, slot: Slot) -> None:
        try:
            freed = await run_in_thread(self.budget.release, slot)
        except redis.RedisError as exc:
            # The slot expires by itself after slot_seconds.
            self._inc("release_errors")
            self.outage.failed(exc, f"giving back a slot of {slot.domain}")
            logger.debug("Could not give back the slot of %s: %s", slot.domain, exc)
            return
        except Exception:
            logger.exception("Could not give back the slot of %s", slot.domain)
            return
        self.outage.recovered()
        self._inc("released" if freed is not None else "slots_expired")

    async def _wait_for_slot(self, domain: str, delay: float, concurrency: int) -> Slot:
        queue = self._queues.setdefault(domain, DeferredLock())
        await maybe_deferred_to_future(queue.acquire())
        try:
            return await self._poll(domain, delay, concurrency)
        finally:
            queue.release()
            if not queue.locked and not queue.waiting:
                self._queues.pop(domain, None)

    async def _poll(self, domain: str, delay: float, concurrency: int) -> Slot:
        started = time.monotonic()
        backoff = self.outage.delays()
        waited = False
        while True:
            self._check_stopping()
            try:
                got = await run_in_thread(self.budget.try_acquire, domain, delay, concurrency)
            except redis.RedisError as exc:
                if not self.outage.failed(exc, f"a politeness slot of {domain}"):
                    raise  # a refused password, a wrong command: no wait helps
                self._inc("redis_errors")
                got = next(backoff)
            else:
                self.outage.recovered()
                backoff = self.outage.delays()
                if isinstance(got, Slot):
                    break
            waited = True
            await sleep(got)
        self._held[got.slot_id] = got
        self._inc("slots")
        if waited:
            self._inc("waits")
            self._inc("wait_seconds", time.monotonic() - started)
        if self.stats.get_value(STOPPING):
            self._held.pop(got.slot_id, None)
            await self._release(got)
            self._check_stopping()
        return got

    def _check_stopping(self) -> None:
        if self.stats.get_value(STOPPING):
            self.stats.inc_value(f"{SKIP_PREFIX}{NOT_SENT}")
            raise NotSent("not sent: the crawl is stopping")

    def _inc(self, metric: str, count: float = 1) -> None:
        self.stats.inc_value(f"{STATS_PREFIX}{metric}", count)

    async def spider_closed(self) -> None:
        """Wait for the slots being given back, then close the connections."""
        for done in list(self._releasing):
            await maybe_deferred_to_future(done)
        self.client.close()


def budgeted_domain(request: Any) -> str | None:
    """The host name whose budget the request takes a slot of; None when it takes none."""
    if request.meta.get(NO_BUDGET_META):
        return None
    url = urlparse_cached(request)
    if url.scheme in UNBUDGETED_SCHEMES or not url.hostname:
        return None
    return url.hostname.lower()
