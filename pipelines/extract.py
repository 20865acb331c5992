"""RawPage → Article, through the pure extraction function."""

from __future__ import annotations

from typing import Any

from crawler.drops import drop
from crawler.extract import ExtractionError, ExtractOptions, extract
from crawler.items import RawPage


class ExtractPipeline:
    def __init__(self, stats: Any, options: ExtractOptions) -> None:
        self.stats = stats
        self.options = options

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        site = getattr(crawler.spider, "site", None)
        return cls(crawler.stats, ExtractOptions.from_site(site) if site else ExtractOptions())

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RawPage):
            return item
        self.stats.inc_value("zhengwen/quality/pages")
        try:
            article = extract(item.body, item.url, self.options, http_encoding=item.http_encoding)
        except ExtractionError as exc:
            raise drop(self.stats, "extract", exc.reason, str(exc), item.url) from exc
        self.stats.inc_value("zhengwen/extract/ok")
        # What drift alerts compare run to run (storage.quality).
        self.stats.inc_value("zhengwen/quality/body")
        if article.title:
            self.stats.inc_value("zhengwen/quality/title")
        if article.published_at:
            self.stats.inc_value("zhengwen/quality/date")
        return article.replace(
            fetched_at=item.fetched_at,
            first_seen=item.fetched_at,
            last_seen=item.fetched_at,
            # Set by the RunRecord extension when the spider opened.
            crawl_run_id=self.stats.get_value("zhengwen/run_id"),
        )
