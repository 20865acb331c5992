"""Settings shared by the pipelines: where the archive is. Plain values out of Scrapy settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage.paths import ArchivePaths


def archive_paths(settings: Any) -> ArchivePaths:
    paths = ArchivePaths(Path(settings.get("ZHENGWEN_ARCHIVE_DIR") or "archive"))
    paths.ensure()
    return paths


def db_url(settings: Any) -> str:
    url = settings.get("ZHENGWEN_DB_URL")
    return str(url) if url else archive_paths(settings).default_db_url
