"""Settings shared by the pipelines: where the archive is. Plain values out of Scrapy settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.drops import ERROR_PREFIX
from crawler.halt import Unstored, count_unstored, storage_failed
from storage.paths import ArchivePaths


class StoreFailure:
    """A store writer's failure, said once: counted as ``errors.storage`` and the crawl halted
    (`crawler.halt`). For a pipeline with ``stats`` and, once built by Scrapy, ``crawler``."""

    store = "archive"
    stats: Any
    crawler: Any = None
    reported = False

    def store_path(self) -> str | Path | None:
        """What the store writes (a file or folder), named when the disk is full."""
        return None

    def unstored(self, exc: BaseException | None = None) -> Unstored | None:
        """The drop of an article that comes after the crawl was halted (counted as
        ``skipped.<reason>``, not as a drop of the site), or None while the crawl may store.
        ``exc``: this store's own failure, which halts the crawl first."""
        if exc is not None:
            self.failed(exc)
        if not count_unstored(self.stats):
            return None
        return Unstored()

    def failed(self, exc: BaseException) -> None:
        if self.reported:
            return
        self.reported = True
        self.stats.inc_value(f"{ERROR_PREFIX}storage")
        if self.crawler is not None:
            storage_failed(self.crawler, self.store, exc, self.store_path())


def archive_paths(settings: Any) -> ArchivePaths:
    paths = ArchivePaths(Path(settings.get("ZHENGWEN_ARCHIVE_DIR") or "archive"))
    paths.ensure()
    return paths


def db_url(settings: Any) -> str:
    url = settings.get("ZHENGWEN_DB_URL")
    return str(url) if url else archive_paths(settings).default_db_url
