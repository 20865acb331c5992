"""The archive: records, SQL and Parquet stores. Knows nothing of Scrapy or trafilatura."""

from storage.article import EXTRACTION_VERSION, Article

__all__ = ["EXTRACTION_VERSION", "Article"]
