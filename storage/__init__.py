"""The archive: records, SQL and Parquet stores. Knows nothing of Scrapy or trafilatura.

Names are imported on first use (PEP 562): an extraction worker needs only `Article` and must
not pay for pyarrow and SQLAlchemy (about 55 MB of RSS per process) that it never touches.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.article import EXTRACTION_VERSION, Article
    from storage.db import Database, RunInfo, UpsertResult, open_database
    from storage.parquet import ParquetDataset
    from storage.paths import ArchivePaths, redact_url
    from storage.query import Archive

_WHERE = {
    "EXTRACTION_VERSION": "storage.article",
    "Article": "storage.article",
    "Database": "storage.db",
    "RunInfo": "storage.db",
    "UpsertResult": "storage.db",
    "open_database": "storage.db",
    "ParquetDataset": "storage.parquet",
    "ArchivePaths": "storage.paths",
    "redact_url": "storage.paths",
    "Archive": "storage.query",
}

__all__ = [
    "EXTRACTION_VERSION",
    "Archive",
    "ArchivePaths",
    "Article",
    "Database",
    "ParquetDataset",
    "RunInfo",
    "UpsertResult",
    "open_database",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
