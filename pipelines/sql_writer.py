"""Buffer articles and upsert them into the SQL archive, one transaction per batch."""

from __future__ import annotations

from typing import Any

from pipelines.common import db_url
from storage.article import Article
from storage.db import Database


class SqlWriterPipeline:
    def __init__(self, stats: Any, url: str, batch_size: int) -> None:
        self.stats = stats
        self.url = url
        self.batch_size = max(1, batch_size)
        self.buffer: list[Article] = []
        self.db: Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SqlWriterPipeline:
        return cls(
            crawler.stats,
            db_url(crawler.settings),
            crawler.settings.getint("ZHENGWEN_BATCH_SIZE", 200),
        )

    def open_spider(self) -> None:
        self.db = Database(self.url)
        self.db.create_schema()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer or self.db is None:
            return
        batch, self.buffer = self.buffer, []
        result = self.db.upsert_articles(batch)
        self.stats.inc_value("zhengwen/sql/new", result.new)
        self.stats.inc_value("zhengwen/sql/updated", result.updated)
        self.stats.inc_value("zhengwen/sql/unchanged", result.unchanged)

    def close_spider(self) -> None:
        try:
            self.flush()
        finally:
            if self.db is not None:
                self.db.dispose()
