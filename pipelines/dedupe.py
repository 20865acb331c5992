"""Decide new / changed / unchanged / duplicate against what the archive already holds."""

from __future__ import annotations

from typing import Any

from crawler.drops import drop
from pipelines.common import db_url
from storage.article import Article, key64
from storage.db import Database
from storage.duplicates import find_original
from storage.keyset import KeyMap, KeySet
from storage.outage import database_transient


class DedupePipeline:
    """Keys come from the SQL archive once per run; the run's own items are added as they pass.

    Same canonical URL and same content: unchanged (counted; the SQL writer only moves its
    last_seen, the Parquet writer skips it). Same URL, other content: changed (a new Parquet row;
    the SQL row is updated). Another URL of this
    site with exactly this content: a duplicate, dropped so the first URL is kept. New and
    changed texts that copy an article of another site (same text, or a simhash within 3 bits)
    pass on with ``duplicate_of`` set to the earliest copy (docs/duplicates.md).
    """

    def __init__(self, stats: Any, url: str, site: str | None) -> None:
        self.stats = stats
        self.url = url
        self.site = site
        # Compact keys (storage.article.key64): url -> content and content -> url, as ints.
        # storage.keyset: 8-16 bytes an entry instead of 70-120 for Python sets and dicts.
        self.by_url = KeyMap()
        self.by_content = KeyMap()
        self.seen_this_run = KeySet()
        self.lookups: Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupePipeline:
        site = getattr(crawler.spider, "site", None)
        return cls(crawler.stats, db_url(crawler.settings), site.name if site else None)

    def open_spider(self) -> None:
        db = Database(self.url)
        try:
            db.create_schema()
            known = db.known_hashes(self.site)
        finally:
            db.dispose()
        self.by_url = KeyMap((key64(u), key64(c)) for u, c in known.items())
        del known
        self.by_content = KeyMap((c, u) for u, c in self.by_url.items())
        self.lookups = Database(self.url)

    def close_spider(self) -> None:
        if self.lookups is not None:
            self.lookups.dispose()

    def link_copy(self, item: Article) -> Article:
        """Copies of a story on other sites (or other URLs) are kept, linked to the earliest
        copy archived so far; the SQL upsert re-checks the link in its own transaction."""
        if self.lookups is None:
            return item
        try:
            found = find_original(self.lookups.sessions, item)
        except Exception as exc:
            if not database_transient(exc):
                raise
            # The database is away (the SQL writer waits it out): no waiting here, on the
            # reactor; the SQL upsert links the copy when it writes the article.
            self.stats.inc_value("zhengwen/dedupe/link_deferred")
            return item
        if found is None:
            return item.replace(duplicate_of=None) if item.duplicate_of else item
        original, kind = found
        self.stats.inc_value(f"zhengwen/dedupe/{kind}_duplicates")
        return item.replace(duplicate_of=original)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        url_key, content_key = key64(item.url_hash), key64(item.content_hash)
        if url_key in self.seen_this_run:
            raise drop(
                self.stats,
                "dedupe",
                "duplicate_url",
                "canonical URL already seen in this run",
                item.url,
            )
        owner = self.by_content.get(content_key)
        if owner is not None and owner != url_key:
            raise drop(
                self.stats,
                "dedupe",
                "duplicate_content",
                "same text as another URL of the site",
                item.url,
            )
        self.seen_this_run.add(url_key)
        previous = self.by_url.get(url_key)
        if previous == content_key:
            self.stats.inc_value("zhengwen/articles/unchanged")
            return item
        self.stats.inc_value(
            "zhengwen/articles/new" if previous is None else "zhengwen/articles/changed"
        )
        self.by_url[url_key] = content_key
        self.by_content[content_key] = url_key
        return self.link_copy(item)
