"""RawPage → Article, through the pure extraction function, in a pool of worker processes.

Extraction is CPU-bound: done on the reactor thread it would stall every download. With
``ZHENGWEN_EXTRACT_WORKERS`` > 0 (default: one per core) pages go to `crawler.pool`, and the
reactor awaits the result; ``0`` extracts in-process (debugging, profiling).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

from crawler.drops import drop
from crawler.extract.errors import ExtractionError
from crawler.extract.options import ExtractOptions
from crawler.halt import Unstored, count_unstored
from crawler.items import RawPage
from crawler.pool import DEFAULT_TIMEOUT, ExtractionPool, Task
from storage.article import Article


class ExtractPipeline:
    def __init__(
        self,
        stats: Any,
        options: ExtractOptions,
        workers: int,
        timeout: float,
        shared_pool: ExtractionPool | None = None,
    ) -> None:
        self.stats = stats
        self.options = options
        self.workers = workers
        self.timeout = timeout
        #: A pool that outlives this crawl (a cluster worker's, kept across the runs it
        #: joins, so that joining a run does not start interpreters): used, not closed.
        self.shared_pool = shared_pool
        self.pool: ExtractionPool | None = None
        self.notes: Counter[str] = Counter()
        self._restarts_before = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        site = getattr(crawler.spider, "site", None)
        workers = crawler.settings.get("ZHENGWEN_EXTRACT_WORKERS")
        return cls(
            crawler.stats,
            ExtractOptions.from_site(site) if site else ExtractOptions(),
            (os.cpu_count() or 1) if workers is None else int(workers),
            crawler.settings.getfloat("ZHENGWEN_EXTRACT_TIMEOUT", DEFAULT_TIMEOUT),
            shared_pool=getattr(crawler.spider, "extract_pool", None),
        )

    def open_spider(self) -> None:
        if self.shared_pool is not None:
            self.pool = self.shared_pool
            self._restarts_before = self.pool.stats.restarts
        elif self.workers > 0:
            self.pool = ExtractionPool(self.options, workers=self.workers, timeout=self.timeout)

    def close_spider(self) -> None:
        if self.pool is not None:
            if self.pool is not self.shared_pool:
                self.pool.close()
            restarts = self.pool.stats.restarts - self._restarts_before
            self.stats.set_value("zhengwen/extract/worker_restarts", restarts)
            self._count(self.notes)

    def _count(self, counters: Any) -> None:
        """Report counters (`crawler.extract.report`): the body candidate chosen, characters
        replaced while decoding a damaged page, rules held back by their bound."""
        for key, n in counters.items():
            self.stats.inc_value(f"zhengwen/extract/{key}", n)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, RawPage):
            return item
        if count_unstored(self.stats):  # the crawl was halted (crawler.halt): not extracted
            raise Unstored
        self.stats.inc_value("zhengwen/quality/pages")
        try:
            article = await self._extract(item)
        except ExtractionError as exc:
            raise drop(self.stats, "extract", exc.reason, str(exc), item.url) from exc
        self.stats.inc_value("zhengwen/extract/ok")
        # What drift alerts compare run to run (storage.quality).
        self.stats.inc_value("zhengwen/quality/body")
        if article.title:
            self.stats.inc_value("zhengwen/quality/title")
        if article.published_at:
            self.stats.inc_value("zhengwen/quality/date")
        if article.published_at is None and item.listed_published is not None:
            # The page shows no date; the sitemap or feed that listed it did.
            article = article.replace(published_at=item.listed_published)
        return article.replace(
            fetched_at=item.fetched_at,
            first_seen=item.fetched_at,
            last_seen=item.fetched_at,
            # Set by the RunRecord extension when the spider opened.
            crawl_run_id=self.stats.get_value("zhengwen/run_id"),
        )

    async def _extract(self, page: RawPage) -> Article:
        if self.pool is None:
            # trafilatura and lxml: only when in-process
            from crawler.extract.core import extract_with_report

            article, report = extract_with_report(
                page.body, page.url, self.options, http_encoding=page.http_encoding
            )
            self._count(report.counters())
            return article
        options = self.options if self.pool is self.shared_pool else None
        future = self.pool.submit(
            Task(page.body, page.url, page.http_encoding, options), notes=self.notes
        )
        return await asyncio.wrap_future(future)
