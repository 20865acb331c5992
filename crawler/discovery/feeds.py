"""RSS 0.9x/1.0/2.0 and Atom feeds, read with feedparser, and feed discovery from the
``<link rel="alternate">`` of a portal's HTML pages."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.discovery.entries import Entry, Limits, Parsed
from crawler.discovery.sitemaps import looks_like_html

#: The ``type`` of a ``<link rel="alternate">`` that announces a feed.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})


def feed_links(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the feeds an HTML page announces, in page order, once each."""
    from parsel import Selector

    out: list[str] = []
    for link in Selector(text=html).xpath("//link[@href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rel or kind not in FEED_TYPES:
            continue
        url = urljoin(base_url, link.attrib["href"].strip())
        if urlsplit(url).scheme in ("http", "https") and url not in out:
            out.append(url)
    return out


def parse_feed(body: bytes, url: str, limits: Limits | None = None) -> Parsed:
    """The entries of an RSS or Atom feed. A date feedparser cannot read leaves the entry
    without that date (``feed_date_unreadable``); the entry is kept."""
    import feedparser

    limits = limits or Limits()
    out = Parsed()
    if len(body) > limits.max_bytes:
        out.skips.append("feed_too_large")
        return out
    if looks_like_html(body):
        out.skips.append("feed_html")
        return out
    # A stream, never a str: given a str, feedparser would fetch a URL or open a file by name.
    parsed: Any = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url}, sanitize_html=False
    )
    if not parsed.get("version") and not parsed.entries:
        out.skips.append("feed_not_xml")
        return out
    for n, entry in enumerate(parsed.entries):
        if n >= limits.max_urls_per_sitemap:
            out.skips.append("feed_too_many_entries")
            break
        link = dict.get(entry, "link") or ""
        loc = urljoin(url, str(link).strip())
        if not link or urlsplit(loc).scheme not in ("http", "https"):
            continue
        published = _time(entry, "published", out)
        updated = _time(entry, "updated", out)
        title = dict.get(entry, "title")
        out.entries.append(
            Entry(loc, "feed", updated, published, str(title).strip() if title else None)
        )
    return out


def _time(entry: Any, key: str, out: Parsed) -> datetime | None:
    """The entry's ``published`` or ``updated`` time. Read with `dict.get`: feedparser's own
    key map answers ``updated`` with ``published`` and warns."""
    raw = dict.get(entry, key)
    if not raw:
        return None
    value: time.struct_time | None = dict.get(entry, f"{key}_parsed")
    if value is None:
        out.skips.append("feed_date_unreadable")
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        out.skips.append("feed_date_unreadable")
        return None
