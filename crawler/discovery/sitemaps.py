"""Sitemaps: robots.txt's ``Sitemap:`` lines, the default paths, indexes, URL sets and Google
News sitemaps, read with Scrapy's own parser (`scrapy.utils.sitemap.Sitemap`: lxml with entity
resolution off and without the huge-tree option, so an entity bomb or a giant text node is not
expanded) and bounded by `Limits`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.discovery.entries import Child, Entry, Limits, Parsed, parse_time

#: Where a portal keeps its sitemap when robots.txt announces none (the protocol's default and
#: the name most CMSs give an index).
DEFAULT_PATHS = ("/sitemap.xml", "/sitemap_index.xml")

_GZIP_MAGIC = b"\x1f\x8b\x08"


def sitemaps_from_robots(body: bytes, robots_url: str) -> list[str]:
    """The absolute http(s) URLs of robots.txt's ``Sitemap:`` lines, in order, once each."""
    out: list[str] = []
    for url in sitemap_urls_from_robots(body, base_url=robots_url):
        if urlsplit(url).scheme in ("http", "https") and url not in out:
            out.append(url)
    return out


def default_sitemap_urls(start_url: str) -> list[str]:
    """``/sitemap.xml`` and ``/sitemap_index.xml`` of a start URL's origin."""
    return [urljoin(start_url, path) for path in DEFAULT_PATHS]


def looks_like_html(body: bytes) -> bool:
    """An HTML page where XML was expected (a CMS answering every path with its home page)."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def gzip_complete(data: bytes) -> bool:
    """Whether a gzip stream runs to its end marker. Scrapy's `gunzip` returns what it could
    read of a truncated file; a sitemap cut mid-file may end in the middle of a URL, so such a
    file is not read at all. Checked chunk by chunk, without keeping the output."""
    d = zlib.decompressobj(wbits=31)
    tail = data
    try:
        while tail and not d.eof:
            d.decompress(tail, 1 << 20)
            tail = d.unconsumed_tail
    except zlib.error:
        return False
    return d.eof


class _NewsSitemap(Sitemap):
    """Scrapy's parser, keeping the ``news:news`` block of Google News sitemaps (Scrapy's
    reads one level of children and so keeps only the block's empty text)."""

    __slots__ = ()

    def _process_sitemap_element(self, elem: Any) -> dict[str, Any] | None:
        news: dict[str, str] = {}
        for child in elem:
            if self._get_tag_name(child) == "news":
                for el in child.iter():
                    name = self._get_tag_name(el)
                    if name in ("publication_date", "title") and el.text:
                        news[name] = el.text.strip()
        d = super()._process_sitemap_element(elem)
        if d is not None and news:
            d["news"] = news
        return d


def sitemap_body(body: bytes, limits: Limits) -> tuple[bytes | None, str | None]:
    """The XML of a fetched sitemap (gunzipped when it is a gzip file; a ``Content-Encoding``
    was already undone by Scrapy), or None and the skip reason."""
    if len(body) > limits.max_bytes:
        return None, "sitemap_too_large"
    if body[:3] != _GZIP_MAGIC:
        return body, None
    if not gzip_complete(body):
        return None, "sitemap_truncated_gzip"
    try:
        return gunzip(body, max_size=limits.max_decompressed), None
    except ValueError as exc:
        # Scrapy's private _DecompressionMaxSizeExceeded is a ValueError.
        if type(exc).__name__ == "_DecompressionMaxSizeExceeded":
            return None, "sitemap_too_large"
        return None, "sitemap_truncated_gzip"
    except (OSError, EOFError):
        return None, "sitemap_truncated_gzip"


def parse_sitemap(body: bytes, url: str, tz: tzinfo, limits: Limits | None = None) -> Parsed:
    """A sitemap index (``children``) or URL set (``entries``) from the fetched body."""
    limits = limits or Limits()
    out = Parsed()
    xml, reason = sitemap_body(body, limits)
    if xml is None:
        out.skips.append(reason or "sitemap_not_xml")
        return out
    if looks_like_html(xml):
        out.skips.append("sitemap_html")
        return out
    try:
        sitemap = _NewsSitemap(xml)
    except (etree.XMLSyntaxError, StopIteration):
        out.skips.append("sitemap_not_xml")
        return out
    if sitemap.type not in ("urlset", "sitemapindex"):
        out.skips.append("sitemap_html" if sitemap.type == "html" else "sitemap_not_xml")
        return out
    for n, item in enumerate(_items(sitemap)):
        if n >= limits.max_urls_per_sitemap:
            out.skips.append("sitemap_too_many_urls")
            break
        loc = urljoin(url, item.get("loc", ""))
        if urlsplit(loc).scheme not in ("http", "https"):
            continue
        lastmod = parse_time(item.get("lastmod"), tz)
        if item.get("lastmod") and lastmod is None:
            out.skips.append("sitemap_date_unreadable")
        if sitemap.type == "sitemapindex":
            out.children.append(Child(loc, lastmod))
            continue
        news = item.get("news")
        if isinstance(news, dict):
            published = parse_time(news.get("publication_date"), tz)
            if news.get("publication_date") and published is None:
                out.skips.append("sitemap_date_unreadable")
            out.entries.append(Entry(loc, "news_sitemap", lastmod, published, news.get("title")))
        else:
            out.entries.append(Entry(loc, "sitemap", lastmod))
    return out


def _items(sitemap: Sitemap) -> Iterator[dict[str, Any]]:
    """The parser's items; a file broken after its first entries yields those (lxml recovers)."""
    try:
        yield from sitemap
    except etree.XMLSyntaxError:
        return
