"""The common entry type of sitemaps and feeds, the bounds of reading them, and dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal

Source = Literal["sitemap", "news_sitemap", "feed"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One URL a sitemap or feed lists, with what it says about it."""

    url: str
    source: Source
    lastmod: datetime | None = None
    """When the page last changed (sitemap ``lastmod``, feed ``updated``)."""
    published: datetime | None = None
    """Publication time (``news:publication_date``, feed ``published``)."""
    title: str | None = None

    @property
    def when(self) -> datetime | None:
        """The newest time the entry gives: what says whether it changed since a run."""
        times = [t for t in (self.lastmod, self.published) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class Child:
    """A sitemap an index points to."""

    url: str
    lastmod: datetime | None = None


@dataclass(slots=True)
class Parsed:
    """What one sitemap or feed held, and why part of it (or all) was not read."""

    entries: list[Entry] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    """Reasons (``sitemap_html``, ``feed_date_unreadable`` …), one per occurrence."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of reading a site's sitemaps and feeds, each with a recorded skip reason.

    The defaults follow the sitemap protocol (50,000 URLs and 50 MB uncompressed per file) and
    what a news portal needs: daily sitemaps for some years are a few thousand files.
    """

    max_bytes: int = 10 * 1024 * 1024
    """A sitemap or feed body as received (``sitemap_too_large``, ``feed_too_large``)."""
    max_decompressed: int = 50 * 1024 * 1024
    """A gzipped sitemap after decompression (``sitemap_too_large``)."""
    max_depth: int = 3
    """Index nesting below a sitemap announced or configured (``sitemap_too_deep``)."""
    max_urls_per_sitemap: int = 50_000
    """URLs read from one file (``sitemap_too_many_urls``): the protocol's own bound."""
    max_entries: int = 500_000
    """Entries read per run, all sitemaps and feeds together (``discovery_entries_cap``)."""
    max_fetches: int = 5_000
    """Sitemaps and feeds fetched per run (``discovery_fetches_cap``)."""


def parse_time(text: str | None, tz: tzinfo) -> datetime | None:
    """A W3C datetime (``2020-10-03``, ``2020-10-03T09:30:00+08:00``, ``…Z``) as an aware
    datetime; a value without offset is read in the site's time zone. None when unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
