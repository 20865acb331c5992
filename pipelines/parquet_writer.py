"""Articles to the Parquet dataset, in atomic batches written off the reactor thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.common import StoreFailure, archive_paths, db_url
from storage import testhooks
from storage.article import Article, key64
from storage.batch import BatchWriter, StorageError
from storage.db import Database
from storage.keyset import KeySet
from storage.parquet import ParquetDataset


class ParquetWriterPipeline(StoreFailure):
    """One Parquet row per article version, written in atomic batches.

    Keys ((url_hash, content_hash)) the dataset already holds are skipped, so re-runs and runs
    restarted after a crash between the Parquet and the SQL write do not duplicate rows. When a
    run opens, SQL rows that a crash kept out of Parquet are written from SQL, so Parquet always
    holds every article SQL has acknowledged.
    """

    store = "Parquet"

    def __init__(
        self,
        stats: Any,
        dataset: ParquetDataset,
        batch_size: int,
        batch_seconds: float,
        url: str,
        site: str | None,
    ) -> None:
        self.stats = stats
        self.dataset = dataset
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.url = url
        self.site = site
        #: key64(url_hash, content_hash) of the rows the dataset holds (compact: see key64).
        self.stored = KeySet()  # storage.keyset: 8 bytes a key
        self.writer: BatchWriter[Article] | None = None
        #: Copy into this folder, at open, the versions SQL holds that it lacks. Off for the
        #: cluster's workers: there the union of the workers' folders is the dataset, each
        #: version written once by the worker that stored it (docs/distributed.md).
        self.reconcile_at_open = True

    @classmethod
    def from_crawler(cls, crawler: Any) -> ParquetWriterPipeline:
        paths = archive_paths(crawler.settings)
        site = getattr(crawler.spider, "site", None)
        # Partition dates in the site's zone: rows re-exported from SQL come back in UTC, and
        # must land in the same date= folder as when they were first written.
        tz = ZoneInfo(site.timezone) if site else None
        pipe = cls(
            crawler.stats,
            ParquetDataset(paths.parquet_dir, partition_tz=tz),
            crawler.settings.getint("ZHENGWEN_BATCH_SIZE", 200),
            crawler.settings.getfloat("ZHENGWEN_BATCH_SECONDS", 2.0),
            db_url(crawler.settings),
            site.name if site else None,
        )
        pipe.crawler = crawler
        pipe.reconcile_at_open = crawler.settings.getbool("ZHENGWEN_PARQUET_RECONCILE", True)
        return pipe

    def open_spider(self) -> None:
        self.dataset.cleanup_temp()
        self.stored = KeySet(key64(u, c) for u, c in self.dataset.keys(self.site))
        if self.reconcile_at_open:
            self.reconcile()
        self.writer = BatchWriter(
            self.write, self.batch_size, self.batch_seconds, name="zhengwen-parquet"
        )

    def reconcile(self) -> None:
        """Write into this folder's Parquet every version SQL holds that it lacks: rows a crash
        kept out of Parquet and, when several archive folders share one database, the versions
        the other folders' crawls stored (docs/reliability.md). One page of keys at a time
        (`Database.version_pages`), so memory stays bounded however large the archive."""
        db = Database(self.url)
        try:
            db.create_schema()
            copied = 0
            for page in db.version_pages(self.site):
                missing = [k for k in page if key64(k.url_hash, k.content_hash) not in self.stored]
                if not missing:
                    continue
                rows = db.versions_as_articles(missing)
                self.dataset.write_batch(rows)
                testhooks.acknowledge("parquet", ((a.url_hash, a.content_hash) for a in rows))
                self.stored.update(key64(a.url_hash, a.content_hash) for a in rows)
                copied += len(rows)
            if copied:
                self.stats.inc_value("zhengwen/parquet/reconciled", copied)
        finally:
            db.dispose()

    def write(self, batch: list[Article]) -> None:
        """Runs on the writer thread."""
        files = self.dataset.write_batch(batch)
        testhooks.acknowledge("parquet", ((a.url_hash, a.content_hash) for a in batch))
        self.stats.inc_value("zhengwen/parquet/rows", len(batch))
        self.stats.inc_value("zhengwen/parquet/files", len(files))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article) or self.writer is None:
            return item
        stopped = self.unstored()
        if stopped is not None:
            raise stopped
        key = key64(item.url_hash, item.content_hash)
        if key not in self.stored:
            try:
                self.writer.put(item)
            except StorageError as exc:
                raise (self.unstored(exc) or exc) from exc
            self.stored.add(key)
        return item

    def durable_writers(self) -> list[BatchWriter[Article] | None]:
        """For the cluster's lease tracker (crawler.distributed.tracker)."""
        return [self.writer]

    def store_path(self) -> str | Path | None:
        return self.dataset.root

    def close_spider(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except StorageError as exc:
                # The last batches: said once like any other failure (no traceback); the
                # run is recorded failed.
                self.failed(exc)
