"""``zhengwen worker``: one process of the cluster, working on any run that has work.

A worker runs one Scrapy crawler per run it has joined (at most ``max_runs`` at once), all in
one reactor: each crawler takes requests from its run's leased queue, fetches within the
cluster's politeness budget, extracts in the worker's process pool and stores into the shared
database and this worker's own archive folder (Parquet parts and WARC files have unique names,
so any number of workers may also share one folder).

Every `HEARTBEAT_SECONDS` the worker says it is alive (``zhengwen status --redis`` lists it),
joins runs that have requests queued, and ends runs that are finished (`cluster.finish`): that
is also how a run whose last worker died is ended, by whichever worker comes next.

SIGTERM or SIGINT: no new run is joined, no new request is sent; the crawlers close, what they
stored is acknowledged and every other request goes back to the queue at once; exit 0. A second
signal exits at once (the leases then run out by themselves).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import redis

from crawler.distributed.cluster import HEARTBEAT_SECONDS, Cluster, Job, finish, worker_info
from crawler.distributed.scheduler import RedisRetry
from crawler.interrupt import STOPPING
from crawler.runner import build_settings, check_storage
from storage.outage import database_outage, redis_transient
from storage.paths import ArchivePaths, redact_url

logger = logging.getLogger("zhengwen.worker")


@dataclass
class WorkerOptions:
    redis_url: str
    db_url: str
    archive: Path
    prefix: str = "zhengwen"
    max_runs: int = 4
    #: Requests in flight per worker (Scrapy's CONCURRENT_REQUESTS); None: the project default.
    concurrency: int | None = None
    lease_seconds: float = 120.0
    #: How long Redis or the database may be away before the worker gives up.
    outage_seconds: float = 600.0
    log_level: str = "INFO"
    extra_settings: dict[str, Any] = field(default_factory=dict)


def cluster_settings(options: WorkerOptions, cluster: Cluster, run_id: str) -> dict[str, Any]:
    """The Scrapy settings that make a crawler a worker of one run (scrapy-redis's names)."""
    settings: dict[str, Any] = {
        "SCHEDULER": "crawler.distributed.scheduler.ClusterScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.scheduler.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": cluster.key("run", run_id),
        "SCHEDULER_DUPEFILTER_KEY": cluster.dupefilter_key(run_id),
        "DUPEFILTER_CLASS": "crawler.distributed.scheduler.ClusterDupeFilter",
        "SCHEDULER_SERIALIZER": "crawler.distributed.serialize",
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": options.redis_url,
        "ZHENGWEN_REDIS_URL": options.redis_url,
        "ZHENGWEN_REDIS_PREFIX": options.prefix,
        "ZHENGWEN_LEASE_SECONDS": options.lease_seconds,
        # A lost database server is waited out as long as Redis would be (storage.outage).
        "ZHENGWEN_OUTAGE_SECONDS": options.outage_seconds,
        # The union of the workers' folders is the run's Parquet, each version once: a worker
        # joining late must not copy what the others wrote (check-archive --repair fills one
        # folder with everything when one is wanted).
        "ZHENGWEN_PARQUET_RECONCILE": False,
        # The cluster's budget (crawler.distributed.throttle) spaces and bounds the requests
        # to a site for all workers together; a per-process delay on top would only slow them.
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ZHENGWEN_PROGRESS": False,
        "EXTENSIONS": {
            "crawler.extensions.RunRecord": 100,
            "crawler.extensions.MemoryTrim": 300,
            "crawler.distributed.tracker.LeaseTracker": 400,
        },
        **options.extra_settings,
    }
    from crawler import settings as project

    middlewares = dict(project.DOWNLOADER_MIDDLEWARES)
    middlewares["crawler.distributed.throttle.ClusterPoliteness"] = 995
    settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    if options.concurrency is not None:
        settings["CONCURRENT_REQUESTS"] = options.concurrency
    return settings


class Worker:
    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.paths = ArchivePaths(options.archive)
        self.cluster = Cluster.from_url(options.redis_url, options.prefix)
        self.retry = RedisRetry(options.outage_seconds)
        self.db_outage = database_outage(options.outage_seconds)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.info = worker_info()
        self.crawlers: dict[str, Any] = {}
        #: Runs this worker left drained: joined again only if requests appear.
        self.left: set[str] = set()
        self.stopping = False
        self.exit_code = 0
        self.process: Any = None
        #: One extraction pool for every run this worker joins (started with the worker, so
        #: joining a run starts no interpreter).
        self.pool: Any = None

    # --- life -----------------------------------------------------------------------------------

    def run(self) -> int:
        check_storage(self.paths, self.options.db_url)
        settings = build_settings(self.paths, self.options.db_url, log_level=self.options.log_level)
        self.pool = _extraction_pool(settings)
        try:
            return self._run(settings)
        finally:
            if self.pool is not None:
                self.pool.close()

    def _run(self, settings: Any) -> int:
        from scrapy.crawler import CrawlerProcess

        # Installs the project's reactor: nothing may import twisted.internet.reactor before.
        self.process = CrawlerProcess(settings)
        from scrapy.utils.reactor import install_reactor, is_reactor_installed

        if not is_reactor_installed():
            install_reactor(settings.get("TWISTED_REACTOR"))
        from twisted.internet import task

        self._install_signals()
        logger.info(
            "Worker %s: Redis %s, database %s, archive %s",
            self.worker_id,
            redact_url(self.options.redis_url),
            redact_url(self.options.db_url),
            self.paths.root,
        )
        loop = task.LoopingCall(self.tick)
        loop.start(HEARTBEAT_SECONDS, now=True)
        self.process.start(stop_after_crawl=False, install_signal_handlers=False)
        if loop.running:
            loop.stop()
        try:
            self.cluster.forget_worker(self.worker_id)
        except redis.RedisError:
            pass
        return self.exit_code

    def _install_signals(self) -> None:
        from twisted.internet import reactor

        def handler(signum: int, _frame: FrameType | None) -> None:
            if self.stopping:
                os._exit(130 if signum == signal.SIGINT else 143)
            reactor.callFromThread(self.stop, signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def stop(self, why: str = "stop") -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.info(
            "Worker %s stopping (%s): %d runs to hand back", self.worker_id, why, len(self.crawlers)
        )
        for crawler in list(self.crawlers.values()):
            if crawler.stats is not None:
                crawler.stats.set_value(STOPPING, True)
            crawler.stop()
        self._maybe_exit()

    def _maybe_exit(self) -> None:
        from twisted.internet import reactor

        running: Any = reactor
        if self.stopping and not self.crawlers and running.running:
            running.stop()

    # --- the loop -------------------------------------------------------------------------------

    def tick(self) -> None:
        if self.stopping:
            return
        try:
            self._tick()
        except Exception as exc:  # the loop must survive whatever one run does
            if redis_transient(exc):
                # The same outage policy as the crawlers' own Redis calls (storage.outage):
                # waited out for --outage seconds, then the worker stops.
                if not self.retry.failed(exc, "heartbeat"):
                    logger.error(
                        "Redis unreachable for more than %.0f s: the worker stops",
                        self.options.outage_seconds,
                    )
                    # The exit code of a store that cannot be reached (README's table).
                    self.exit_code = 3
                    self.stop("Redis outage")
            elif not self.db_outage.failed(exc, "ending a run"):
                logger.error("Worker loop: %s: %s", type(exc).__name__, exc)
            return
        self.retry.recovered()
        self.db_outage.recovered()

    def _tick(self) -> None:
        cluster = self.cluster
        cluster.heartbeat(self.worker_id, self.info, sorted(self.crawlers))
        now = cluster.server_time()
        for run_id in cluster.run_ids():
            if run_id in self.crawlers:
                continue
            if cluster.finished(run_id, now):
                status = finish(cluster, run_id, self.options.db_url)
                if status is not None:
                    logger.info("Run %s finished: %s", run_id, status)
                self.left.discard(run_id)
                continue
            queue = cluster.queue(run_id)
            # Leases of a dead worker run out: back in the queue now, even while no worker
            # of the run is taking (a take reclaims too, but only where the run has takers).
            queue.reclaim_expired()
            if not queue.pending(run_id):
                # Nothing to take. Joined only to make the run's idle decisions (held list
                # pages, sitemap probes) when no live worker is there to make them.
                if run_id in self.left or cluster.live_members(run_id, now):
                    continue
                if not queue.drained(run_id):
                    continue  # leased by a worker gone quiet: back in the queue when it runs out
            if len(self.crawlers) >= self.options.max_runs:
                break
            job = cluster.job(run_id)
            if job is not None:
                self._join(job)

    def _join(self, job: Job) -> None:
        from crawler.distributed.spider import ClusterPortalSpider

        run_id = job.run_id
        settings = build_settings(
            self.paths,
            self.options.db_url,
            trigger=job.trigger,
            log_level=self.options.log_level,
            extra=cluster_settings(self.options, self.cluster, run_id),
        )
        from scrapy.crawler import Crawler

        crawler = Crawler(ClusterPortalSpider, settings)
        self.cluster.join(run_id, self.worker_id)
        self.crawlers[run_id] = crawler
        self.left.discard(run_id)
        logger.info("Joined run %s of %s", run_id, job.site.name)
        d = self.process.crawl(
            crawler,
            site=job.site,
            run_id=run_id,
            cluster=self.cluster,
            worker_id=self.worker_id,
            redis_retry=self.retry,
            extract_pool=self.pool,
        )
        d.addBoth(self._left, run_id)

    def _left(self, result: Any, run_id: str) -> None:
        crawler = self.crawlers.pop(run_id, None)
        if result is not None and hasattr(result, "getErrorMessage"):
            logger.error("Run %s: the crawler failed: %s", run_id, result.getErrorMessage())
        stats = crawler.stats.get_stats() if crawler is not None and crawler.stats else {}
        logger.info(
            "Left run %s (%s): %d pages, %d articles stored",
            run_id,
            stats.get("finish_reason", "?"),
            int(stats.get("downloader/response_count", 0)),
            int(stats.get("zhengwen/sql/new", 0)) + int(stats.get("zhengwen/sql/updated", 0)),
        )
        try:
            self.cluster.leave(run_id, self.worker_id)
            self.left.add(run_id)
            if not self.stopping and self.cluster.finished(run_id):
                status = finish(self.cluster, run_id, self.options.db_url)
                if status is not None:
                    logger.info("Run %s finished: %s", run_id, status)
        except redis.RedisError as exc:
            logger.warning("Could not leave run %s (%s): its membership runs out", run_id, exc)
        except Exception as exc:
            logger.error("Could not finish run %s: %s", run_id, exc)
        self._maybe_exit()


def _extraction_pool(settings: Any) -> Any:
    """The worker's extraction pool, sized and bounded as a crawl's (None: extraction in the
    crawler's process, ``ZHENGWEN_EXTRACT_WORKERS = 0``)."""
    from crawler.extract.options import ExtractOptions
    from crawler.pool import DEFAULT_TIMEOUT, ExtractionPool

    workers = settings.get("ZHENGWEN_EXTRACT_WORKERS")
    size = (os.cpu_count() or 1) if workers is None else int(workers)
    if size <= 0:
        return None
    timeout = settings.getfloat("ZHENGWEN_EXTRACT_TIMEOUT", DEFAULT_TIMEOUT)
    return ExtractionPool(ExtractOptions(), workers=size, timeout=timeout)


def main_worker(options: WorkerOptions) -> int:
    return Worker(options).run()
