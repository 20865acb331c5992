"""RawPage → Article, through the pure extraction function."""

from __future__ import annotations

from typing import Any

from crawler.drops import drop
from crawler.extract import ExtractionError, ExtractOptions, extract
from crawler.items import RawPage


class ExtractPipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.options: ExtractOptions | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        site = getattr(self.crawler.spider, "site", None)
        self.options = ExtractOptions.from_site(site) if site is not None else ExtractOptions()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RawPage):
            return item
        assert self.options is not None
        try:
            article = extract(item.body, item.url, self.options, http_encoding=item.http_encoding)
        except ExtractionError as exc:
            raise drop(self.stats, "extract", exc.reason, str(exc), item.url) from exc
        self.stats.inc_value("zhengwen/extract/ok")
        return article.replace(
            fetched_at=item.fetched_at,
            first_seen=item.fetched_at,
            last_seen=item.fetched_at,
            crawl_run_id=getattr(self.crawler.spider, "run_id", None),
        )
