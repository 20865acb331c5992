"""The portal spider as one of a run's workers: the same discovery and fetching, with the
decisions a run makes once shared in Redis instead of held in one process.

What differs from `PortalSpider`:

- It yields no start requests of its own. The run's seed request (`cluster.enqueue`) reaches
  one worker, whose ``parse_seed`` yields what ``start()`` would: robots.txt, sitemaps, feeds,
  start pages, re-checks.
- List pages found before discovery has spoken are held in Redis (``:held``), not in memory,
  and the default-sitemap probes wait in ``:probes``. When the run is drained (no request
  queued or leased anywhere), one worker at a time (``:phase`` lock) makes the decision the
  local spider makes at its first idle: probe, then walk the held lists or not ("covered",
  set by whichever worker read a sitemap or feed listing articles).
- The page budget (``max_pages``) is counted for the run (``:issued``), not per worker.
- It closes only when the run is drained and decided; while other workers still hold requests,
  it stays open and polls the queue (the engine's heartbeat, shortened to `POLL_SECONDS`).
"""

from __future__ import annotations

import json
from typing import Any

import scrapy
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from crawler.config import SiteConfig
from crawler.distributed.cluster import Cluster
from crawler.distributed.scheduler import RedisRetry
from crawler.halt import count_unstored
from crawler.interrupt import STOPPING
from crawler.spiders.portal import PortalSpider

#: How often an idle worker looks at the queue again (Scrapy's engine heartbeat is 5 s).
POLL_SECONDS = 0.2
#: The lock of the once-per-run decisions outlives a worker killed while holding it by this.
PHASE_LOCK_SECONDS = 30


class ClusterPortalSpider(PortalSpider):
    name = "portal"

    def __init__(
        self,
        site: SiteConfig,
        run_id: str,
        cluster: Cluster,
        worker_id: str,
        redis_retry: RedisRetry | None = None,
        extract_pool: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(site=site, **kwargs)
        #: The worker's extraction pool, shared by its runs (pipelines.extract).
        self.extract_pool = extract_pool
        self.cluster_run_id = run_id
        self.cluster = cluster
        self.worker_id = worker_id
        self.redis_retry = redis_retry or RedisRetry()
        #: Set by `crawler.distributed.tracker.LeaseTracker`.
        self.leases: Any = None
        self._covered_said = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ClusterPortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, ClusterPortalSpider)
        crawler.signals.connect(spider._faster_heartbeat, signal=scrapy.signals.spider_opened)
        return spider

    def _faster_heartbeat(self) -> None:
        # Another worker may queue requests at any moment: an idle worker must look again soon,
        # not at Scrapy's 5 s heartbeat (read when the engine starts, after spider_opened).
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = POLL_SECONDS

    def _redis(self, what: str, call: Any) -> Any:
        return self.redis_retry(what, call)

    def _key(self, part: str) -> str:
        return self.cluster.run_key(self.cluster_run_id, part)

    # --- start ----------------------------------------------------------------------------------

    async def start(self) -> Any:
        self._open_run_state()
        self.lists_open = self.lists_open or self._redis(
            "shared", lambda: self.cluster.decided(self.cluster_run_id)
        )
        return
        yield  # an async generator that yields nothing: requests come from the queue

    def parse_seed(self, response: Response) -> Any:
        yield from self._start_requests()

    # --- shared decisions -----------------------------------------------------------------------

    def _hold_list(self, url: str, depth: int) -> None:
        entry = json.dumps([url, depth])
        self._redis("hold", lambda: self.cluster.r.rpush(self._key("held"), entry))

    def parse_list(self, response: Response) -> Any:
        if not self.lists_open and self._redis(
            "shared", lambda: self.cluster.decided(self.cluster_run_id)
        ):
            self.lists_open = True
        yield from super().parse_list(response)

    def _probe_defaults(self, robots_url: str) -> Any:
        if not self.site.sitemaps:
            self._redis("probes", lambda: self.cluster.r.sadd(self._key("probes"), robots_url))
        yield from ()

    def _entry_requests(self, entries: Any) -> Any:
        yield from super()._entry_requests(entries)
        if self.discovery is not None and self.discovery.covered and not self._covered_said:
            self._covered_said = True
            self._redis("shared", lambda: self.cluster.set_shared(self.cluster_run_id, "covered"))

    def _budget_left(self, max_pages: int) -> bool:
        """The run's page budget, counted across its workers (a refused request gives its
        count back)."""
        issued = int(self._redis("budget", lambda: self.cluster.r.incr(self._key("issued"))))
        if issued <= max_pages:
            return True
        self._redis("budget", lambda: self.cluster.r.decr(self._key("issued")))
        return False

    def _on_idle(self) -> None:
        if count_unstored(self.crawler.stats) or self.crawler.stats.get_value(STOPPING):
            return  # halted or stopping: close, handing back what is leased
        run = self.cluster_run_id
        if not self._redis("drained", lambda: self.cluster.drained(run)):
            raise DontCloseSpider  # other workers hold requests that may lead to more
        if self._redis("shared", lambda: self.cluster.decided(run)):
            return  # drained and decided: this worker's part of the run is over
        lock = self._key("phase")
        if not self._redis(
            "phase",
            lambda: self.cluster.r.set(lock, self.worker_id, nx=True, ex=PHASE_LOCK_SECONDS),
        ):
            raise DontCloseSpider  # another worker is deciding
        try:
            self._decide()
        finally:
            self._redis("phase", lambda: self.cluster.r.delete(lock))

    def _decide(self) -> None:
        """The local spider's idle decisions (`PortalSpider._on_idle`), on the run's state."""
        run = self.cluster_run_id
        r = self.cluster.r
        if self.discovery is not None and self._redis(
            "shared", lambda: self.cluster.shared(run, "covered")
        ):
            self.discovery.covered = True
        if not self._redis("shared", lambda: self.cluster.shared(run, "probed")):
            origins = self._redis("probes", lambda: r.smembers(self._key("probes")))
            self.probe_origins = sorted(o.decode() for o in origins)
            probes = self._probe_requests()
            for probe in probes:
                self.crawler.engine.crawl(probe)
            self._redis("shared", lambda: self.cluster.set_shared(run, "probed"))
            if probes:
                raise DontCloseSpider  # the held lists wait for what the probes find
        held = [
            json.loads(e) for e in self._redis("held", lambda: r.lrange(self._key("held"), 0, -1))
        ]
        self.held_lists = [(str(u), int(d)) for u, d in held]
        self.lists_open = False
        try:
            super()._on_idle()
        finally:
            # Pushed (or dropped as covered) before the run says so: a worker killed in between
            # leaves the decision to the next one, whose pushes the dupefilter absorbs.
            self._redis("held", lambda: r.delete(self._key("held")))
            self._redis("shared", lambda: self.cluster.set_shared(run, "lists"))
