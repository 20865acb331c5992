"""What the spider yields: a fetched page, before extraction.

Plain stdlib dataclass (no Scrapy import) so the extraction pool and the raw archive can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawPage:
    url: str
    body: bytes
    status: int
    site: str
    fetched_at: datetime
    headers: dict[str, str] = field(default_factory=dict)
    http_encoding: str | None = None
    """Charset from the Content-Type header only (not guessed), for the decoder to weigh."""
    depth: int = 0
    listed_published: datetime | None = None
    """The publication time a sitemap or feed gave for the URL: the article's date only when
    the page itself shows none."""
