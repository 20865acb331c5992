"""Buffer articles and write them to the Parquet dataset in atomic batches."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from pipelines.common import archive_paths, db_url
from storage.article import Article
from storage.db import Database
from storage.parquet import ParquetDataset


class ParquetWriterPipeline:
    """One Parquet row per article version, written in atomic batches.

    Keys ((url_hash, content_hash)) the dataset already holds are skipped, so re-runs and runs
    restarted after a crash between the Parquet and the SQL write do not duplicate rows. When a
    run opens, SQL rows that a crash kept out of Parquet are written from SQL, so Parquet always
    holds every article SQL has acknowledged.
    """

    def __init__(
        self, stats: Any, dataset: ParquetDataset, batch_size: int, url: str, site: str | None
    ) -> None:
        self.stats = stats
        self.dataset = dataset
        self.batch_size = max(1, batch_size)
        self.url = url
        self.site = site
        self.buffer: list[Article] = []
        self.stored: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ParquetWriterPipeline:
        paths = archive_paths(crawler.settings)
        site = getattr(crawler.spider, "site", None)
        # Partition dates in the site's zone: rows re-exported from SQL come back in UTC, and
        # must land in the same date= folder as when they were first written.
        tz = ZoneInfo(site.timezone) if site else None
        return cls(
            crawler.stats,
            ParquetDataset(paths.parquet_dir, partition_tz=tz),
            crawler.settings.getint("ZHENGWEN_BATCH_SIZE", 200),
            db_url(crawler.settings),
            site.name if site else None,
        )

    def open_spider(self) -> None:
        self.dataset.cleanup_temp()
        self.stored = self.dataset.keys(self.site)
        self.reconcile()

    def reconcile(self) -> None:
        db = Database(self.url)
        try:
            db.create_schema()
            missing = {
                u for u, h in db.known_hashes(self.site).items() if (u, h) not in self.stored
            }
            if missing:
                rows = [a for a in db.iter_articles(self.site) if a.url_hash in missing]
                self.dataset.write_batch(rows)
                self.stored.update((a.url_hash, a.content_hash) for a in rows)
                self.stats.inc_value("zhengwen/parquet/reconciled", len(rows))
        finally:
            db.dispose()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        key = (item.url_hash, item.content_hash)
        if key not in self.stored:
            self.stored.add(key)
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        files = self.dataset.write_batch(batch)
        self.stats.inc_value("zhengwen/parquet/rows", len(batch))
        self.stats.inc_value("zhengwen/parquet/files", len(files))

    def close_spider(self) -> None:
        self.flush()
