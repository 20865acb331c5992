"""The archive: records, SQL and Parquet stores. Knows nothing of Scrapy or trafilatura."""

from storage.article import EXTRACTION_VERSION, Article
from storage.db import Database, RunInfo, UpsertResult, open_database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths, redact_url

__all__ = [
    "EXTRACTION_VERSION",
    "ArchivePaths",
    "Article",
    "Database",
    "ParquetDataset",
    "RunInfo",
    "UpsertResult",
    "open_database",
    "redact_url",
]
