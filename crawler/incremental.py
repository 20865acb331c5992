"""Incremental crawling: what a later run fetches again, and how.

A scheduled crawl re-reads list pages (that is where new articles appear) but does not fetch
article pages it already archived, except recent ones: an article published (else first seen)
within the site's ``recheck_days`` is re-checked with a conditional request (If-None-Match /
If-Modified-Since from the last answer), so an unchanged page costs a 304 and no body, an edited
one comes back as a new version, and a removed one (404/410) is marked. Recent articles are
re-checked even when no list page links them any more: that is how removals are seen.

The same rule makes a killed crawl resumable: what was stored is not fetched again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from w3lib.url import canonicalize_url

from storage.article import key64
from storage.batch import BatchWriter
from storage.db import Database, FetchUpdate, KnownPage
from storage.outage import database_outage


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with an article URL the archive already holds."""

    skip: bool
    """Archived and outside the re-check window (or removed): do not fetch."""
    headers: dict[str, str]
    """Conditional-request headers for a re-check."""
    article_url: str
    reason: str = ""


class Incremental:
    """The archive's view of one site, loaded once when the spider opens.

    Fetch answers (validators, 304s, removals) go to SQL in batches on a background thread, like
    the article writes, so the reactor never waits for the database.
    """

    def __init__(
        self,
        db_url: str,
        site: str,
        recheck_days: float,
        *,
        now: datetime | None = None,
        batch_size: int = 200,
        batch_seconds: float = 2.0,
        outage_seconds: float = 0.0,
        stats: Any = None,
    ) -> None:
        self.site = site
        self.db = Database(db_url)
        self.db.create_schema()
        now = now or datetime.now(UTC)
        self.cutoff = now - timedelta(days=recheck_days) if recheck_days > 0 else None
        self.since = self._since(timedelta(days=recheck_days))
        # Keyed by key64 of the canonical URL: a site archived for months holds tens of
        # thousands of articles, each under two URLs.
        self.known: dict[int, KnownPage] = {
            key64(canonicalize_url(url)): page for url, page in self.db.known_pages(site).items()
        }
        self.outage = database_outage(outage_seconds, stats)
        self.writer: BatchWriter[FetchUpdate] = BatchWriter(
            self._write, batch_size, batch_seconds, name="zhengwen-fetch-state"
        )

    def _write(self, updates: list[FetchUpdate]) -> None:
        """On the writer thread; an upsert, so a batch retried after an outage adds nothing."""
        self.outage.call(
            f"recording {len(updates)} fetches", lambda: self.db.record_fetches(updates)
        )

    def _since(self, window: timedelta) -> datetime | None:
        """The start of the site's last successful run less the re-check window: a sitemap or
        feed entry dated before it was there for that run to read (`crawler.discovery`)."""
        for run in self.db.runs(self.site, limit=50):
            if run.status == "ok":
                started = run.started_at
                if started.tzinfo is None:
                    started = started.replace(tzinfo=UTC)
                return started - window
        return None

    def recent(self, page: KnownPage) -> bool:
        if self.cutoff is None:
            return False
        when = page.published_at or page.first_seen
        return when >= self.cutoff

    def plan(self, key: int, changed: bool = False) -> Plan | None:
        """None for a URL the archive does not hold (fetch it normally). ``key`` is
        ``key64(canonicalize_url(url))``, which the spider already computed for the URL.
        ``changed``: a sitemap or feed dates the page after `since`, so it is re-checked even
        outside the re-check window."""
        page = self.known.get(key)
        if page is None:
            return None
        if page.gone_at is not None:
            return Plan(True, {}, page.article_url, "removed")
        if not self.recent(page) and not changed:
            return Plan(True, {}, page.article_url, "archived")
        headers: dict[str, str] = {}
        if page.etag:
            headers["If-None-Match"] = page.etag
        if page.last_modified:
            headers["If-Modified-Since"] = page.last_modified
        return Plan(False, headers, page.article_url, "recheck")

    def recheck_urls(self) -> list[str]:
        """One URL per archived recent article that is not known to be removed."""
        seen: set[str] = set()
        out: list[str] = []
        for page in self.known.values():
            if page.gone_at is None and self.recent(page) and page.article_url not in seen:
                seen.add(page.article_url)
                out.append(page.fetch_url)
        return sorted(out)

    def record(
        self,
        url: str,
        status: int,
        headers: Any,
        article_url: str | None,
        at: datetime | None = None,
    ) -> None:
        """Queue the answer to an article fetch (Scrapy headers or a plain mapping).

        ``at``: when the response arrived, the same instant the page's article carries as
        ``fetched_at`` and ``last_seen``; `Database.known_pages` compares the two to tell
        whether the archive holds what this answer brought (default: now).
        """
        self.writer.put(
            FetchUpdate(
                url=url,
                site=self.site,
                status=status,
                at=at or datetime.now(UTC),
                etag=_header(headers, "ETag"),
                last_modified=_header(headers, "Last-Modified"),
                article_url=article_url,
            )
        )

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            self.db.dispose()


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
