"""The one record type: an extracted article.

This frozen dataclass is the Scrapy item that flows through the pipelines, and the single place
from which the Parquet schema (`storage.parquet.SCHEMA`) and the SQL row (`storage.models`) are
derived, so the two stores cannot drift apart. It uses the standard library only, so that
`import storage` never pulls in Scrapy or trafilatura.

A field a page does not have is ``None`` (or an empty tuple for lists), never an invented value.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.simhash import simhash as body_simhash

#: Bumped whenever extraction output can change for the same input page, so that a re-extraction
#: of the raw archive can tell which articles were made by an older extractor. 2: body
#: candidates, bounded rules, lenient decoding, body-only images (issue #13); a canonical URL on
#: another host is no longer the key (issue #14).
EXTRACTION_VERSION = 2


def url_hash(url: str) -> str:
    """A stable, fixed-width key for a canonical URL (URLs can exceed index length limits)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


#: Characters left as they are when a URL's path or query is percent-encoded: the reserved and
#: unreserved ones of RFC 3986, and ``%`` (an escape already there stays one).
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def url_variants(url: str) -> list[str]:
    """The forms under which an archive may hold the article a pasted ``url`` names, the URL as
    given first: without spaces around it and its ``#fragment`` (never sent to a server),
    with the scheme and host in lower case and without the default port (``HTTP://News.X.cn:80/a``
    is ``http://news.x.cn/a``), an empty path as ``/``; and of that, the path and query
    percent-encoded (as the crawler requests a URL) and decoded (as a page's canonical link may
    spell it). Nothing else changes: another scheme, port, path case or query is another URL."""
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    out = [url, url.strip()]
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # not a URL (a bad port, an unbalanced [): only the text as given
        return list(dict.fromkeys(out))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path or ("/" if netloc else "")
    for p, q in (
        (path, parts.query),
        (quote(path, safe=_URL_SAFE), quote(parts.query, safe=_URL_SAFE)),
        (unquote(path), unquote(parts.query)),
    ):
        out.append(urlunsplit((scheme, netloc, p, q, "")))
    return list(dict.fromkeys(out))


def key64(*parts: str) -> int:
    """A 64-bit integer key for in-memory sets of a long crawl (URLs, hash pairs seen).

    A Python int costs about a third of the 40-64-character hex strings or tuples it replaces
    (~40 MB less in the crawler process at 50,000 pages); collisions between a run's keys are
    improbable (50,000 keys: about 1 in 10 billion).
    """
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def content_hash(title: str | None, body: str) -> str:
    """Identity of what a reader sees: title and body, whitespace-normalised.

    Whitespace is collapsed so that a portal re-rendering the same text with other indentation
    does not count as an edit.
    """
    norm = (
        " ".join((title or "").split())
        + "\n"
        + "\n".join(" ".join(line.split()) for line in body.splitlines())
    )
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Article:
    """One article as archived. Times are timezone-aware datetimes."""

    url: str
    """The article's key: the canonical URL the page declares when it is on the site's own
    domains (so URL variants of one page merge), else the URL it was crawled from."""
    site: str
    """Site config name (``sites/<site>.toml``)."""
    body: str
    """Body text, one paragraph or sub-heading per line, without the site's chrome."""
    title: str | None = None
    lead: str | None = None
    """Lead / summary (``导读``, ``摘要``, description) when the page shows one."""
    published_at: datetime | None = None
    updated_at: datetime | None = None
    source: str | None = None
    """Original publisher (``来源``), distinct from the site that carries the copy."""
    author: str | None = None
    editor: str | None = None
    """Responsible editor (``责任编辑``); None when the line is absent or empty."""
    category: str | None = None
    site_name: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    images: tuple[str, ...] = ()
    fetched_url: str | None = None
    """The URL actually fetched (differs from ``url`` when the page names another canonical)."""
    fetched_at: datetime | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    crawl_run_id: str | None = None
    extraction_version: int = EXTRACTION_VERSION
    url_hash: str = field(default="")
    content_hash: str = field(default="")
    simhash: int = 0
    """64-bit simhash of ``body`` (signed, `storage.simhash`); 0 means "compute it", which is
    also what an empty body hashes to, so recomputing is harmless."""
    duplicate_of: str | None = None
    """``url_hash`` of the earliest copy of the same story (any site) when this article is an
    exact or near copy of it; None for an original. SQL holds the current link (a later-found
    earlier copy re-links a group); a Parquet row keeps the link it was written with."""
    canonical_url: str | None = None
    """The canonical URL the page declares (``<link rel=canonical>``, ``og:url``), also when it
    is another publisher's (a syndicated copy names the original): never the key of an article
    of another host, but a strong sign of a copy for ``duplicate_of``."""

    def __post_init__(self) -> None:
        # Derived keys are computed here so no caller can forget them or compute them differently.
        if not self.url_hash:
            object.__setattr__(self, "url_hash", url_hash(self.url))
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self.title, self.body))
        if not self.simhash:  # 0, or None from a Parquet file written before the column existed
            object.__setattr__(self, "simhash", body_simhash(self.body))

    def replace(self, **changes: Any) -> Article:
        """A copy with some fields changed (derived hashes recomputed when their inputs change)."""
        if "url" in changes and "url_hash" not in changes:
            changes["url_hash"] = ""
        if ("title" in changes or "body" in changes) and "content_hash" not in changes:
            changes["content_hash"] = ""
        if "body" in changes and "simhash" not in changes:
            changes["simhash"] = 0
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples become lists) for JSON, Parquet and SQL rows."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """Like `to_dict` but with datetimes as ISO 8601 strings."""
        return {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.to_dict().items()
        }


def field_names() -> list[str]:
    """Field names in declaration order: the column order of every store."""
    return [f.name for f in dataclasses.fields(Article)]
