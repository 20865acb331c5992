"""Articles to the SQL archive: one transaction per batch, written off the reactor thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.common import StoreFailure, db_url
from storage import testhooks
from storage.article import Article
from storage.batch import BatchWriter, StorageError
from storage.db import Database
from storage.outage import Outage, database_outage
from storage.paths import sqlite_path


class SqlWriterPipeline(StoreFailure):
    store = "SQL"

    def __init__(
        self,
        stats: Any,
        url: str,
        batch_size: int,
        batch_seconds: float,
        outage_seconds: float = 0.0,
    ) -> None:
        self.stats = stats
        self.url = url
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.outage: Outage = database_outage(outage_seconds, stats)
        self.db: Database | None = None
        self.writer: BatchWriter[Article] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SqlWriterPipeline:
        pipe = cls(
            crawler.stats,
            db_url(crawler.settings),
            crawler.settings.getint("ZHENGWEN_BATCH_SIZE", 200),
            crawler.settings.getfloat("ZHENGWEN_BATCH_SECONDS", 2.0),
            crawler.settings.getfloat("ZHENGWEN_OUTAGE_SECONDS", 0.0),
        )
        pipe.crawler = crawler
        return pipe

    def open_spider(self) -> None:
        self.db = Database(self.url)
        self.db.create_schema()
        self.writer = BatchWriter(
            self.write, self.batch_size, self.batch_seconds, name="zhengwen-sql"
        )

    def write(self, batch: list[Article]) -> None:
        """Runs on the writer thread; the Database's engine is used from this thread only.
        A lost database server is waited out (`storage.outage`): the batch is one transaction
        and re-running it adds nothing, so it is simply written again."""
        db = self.db
        assert db is not None
        result = self.outage.call(
            f"writing {len(batch)} articles", lambda: db.upsert_articles(batch)
        )
        testhooks.acknowledge("sql", ((a.url_hash, a.content_hash) for a in batch))
        self.stats.inc_value("zhengwen/sql/new", result.new)
        self.stats.inc_value("zhengwen/sql/updated", result.updated)
        self.stats.inc_value("zhengwen/sql/unchanged", result.unchanged)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article) or self.writer is None:
            return item
        stopped = self.unstored()
        if stopped is not None:
            raise stopped
        try:
            self.writer.put(item)
        except StorageError as exc:
            raise (self.unstored(exc) or exc) from exc
        return item

    def durable_writers(self) -> list[BatchWriter[Article] | None]:
        """For the cluster's lease tracker (crawler.distributed.tracker)."""
        return [self.writer]

    def store_path(self) -> str | Path | None:
        return sqlite_path(self.url)

    def close_spider(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except StorageError as exc:
            # The last batches: said once like any other failure (no traceback); the run is
            # recorded failed.
            self.failed(exc)
        finally:
            if self.db is not None:
                self.db.dispose()
