"""Buffer articles and write them to the Parquet dataset in atomic batches."""

from __future__ import annotations

from typing import Any

from pipelines.common import archive_paths
from storage.article import Article
from storage.parquet import ParquetDataset


class ParquetWriterPipeline:
    """Runs before the SQL writer with the same batch size, so every article SQL acknowledges is
    already in a renamed Parquet part. Keys the dataset already holds are skipped, so a run
    restarted after a crash between the two writes does not duplicate rows."""

    def __init__(self, stats: Any, dataset: ParquetDataset, batch_size: int) -> None:
        self.stats = stats
        self.dataset = dataset
        self.batch_size = max(1, batch_size)
        self.buffer: list[Article] = []
        self.stored: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ParquetWriterPipeline:
        paths = archive_paths(crawler.settings)
        return cls(
            crawler.stats,
            ParquetDataset(paths.parquet_dir),
            crawler.settings.getint("ZHENGWEN_BATCH_SIZE", 200),
        )

    def open_spider(self) -> None:
        self.dataset.cleanup_temp()
        self.stored = self.dataset.keys()

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
