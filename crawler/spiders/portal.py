"""The one generic spider: discovers and fetches, nothing else.

It walks start pages → list pages and their pagination → article pages within the site's
allowed domains, as described by ``sites/<name>.toml``, and yields a `RawPage` per article.
Turning the page into an Article happens in the pipelines (crawler/extract), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from crawler.config import SiteConfig, resolve_site
from crawler.drops import ERROR_PREFIX
from crawler.items import RawPage


def apply_site_settings(settings: Any, site: SiteConfig) -> None:
    """Per-site politeness and bounds, applied before the crawler freezes its settings."""
    pol = site.politeness
    settings.set("ROBOTSTXT_OBEY", pol.obey_robots, priority="spider")
    settings.set("DOWNLOAD_DELAY", pol.download_delay, priority="spider")
    settings.set("AUTOTHROTTLE_START_DELAY", max(pol.download_delay, 0.1), priority="spider")
    settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", pol.concurrency, priority="spider")
    settings.set("DEPTH_LIMIT", site.max_depth, priority="spider")


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(self, site: str | SiteConfig | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if site is None:
            raise ValueError("the portal spider needs a site: -a site=NAME or -a site=path.toml")
        self.site = site if isinstance(site, SiteConfig) else resolve_site(site)
        self.allowed_domains = list(self.site.allowed_domains)
        self.patterns = self.site.compiled()
        # Domains are checked on the bare host name below: LinkExtractor(allow_domains=...)
        # compares host *and port*, which rejects every link of a portal on a non-default port.
        self.links = LinkExtractor(unique=True)
        #: Set by the RunRecord extension when the run row is created.
        self.run_id: str | None = None
        #: URLs requested so far (canonical form): the page budget counts each once, and
        #: Scrapy's duplicate filter would drop a repeat anyway.
        self.issued: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PortalSpider:
        spider: PortalSpider = super().from_crawler(crawler, *args, **kwargs)
        apply_site_settings(crawler.settings, spider.site)
        return spider

    # --- discovery ----------------------------------------------------------------------------

    def in_domains(self, url: str) -> bool:
        host = host_of(url).lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def kind_of(self, url: str) -> str | None:
        """'article', 'list' or None (not followed). Deny patterns win; articles before lists."""
        if not self.in_domains(url) or any(p.search(url) for p in self.patterns.deny):
            return None
        if any(p.search(url) for p in self.patterns.article):
            return "article"
        if any(p.search(url) for p in self.patterns.listing) or any(
            p.search(url) for p in self.patterns.pagination
        ):
            return "list"
        return None

    async def start(self) -> AsyncIterator[Any]:
        for url in self.site.start_urls:
            request = self._request(url, self.kind_of(url) or "list")
            if request is not None:
                yield request

    def _request(self, url: str, kind: str) -> scrapy.Request | None:
        """A request for a URL not yet issued, within the page budget (``max_pages``).

        The budget is enforced here, when requests are issued, rather than by closing the
        spider after N responses: requests already in flight would overshoot that bound.
        """
        key = canonicalize_url(url)
        if key in self.issued:
            return None
        if self.site.max_pages is not None and len(self.issued) >= self.site.max_pages:
            self.crawler.stats.inc_value("zhengwen/spider/skipped/max_pages")
            return None
        self.issued.add(key)
        callback = self.parse_article if kind == "article" else self.parse_list
        # Articles first: list pages only feed the queue, articles are what the user waits for.
        priority = 10 if kind == "article" else 0
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, priority=priority, meta={"kind": kind}
        )

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("zhengwen/spider/list_pages")
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value(f"{ERROR_PREFIX}list_not_html")
            return
        for link in self.links.extract_links(response):
            kind = self.kind_of(link.url)
            request = self._request(link.url, kind) if kind is not None else None
            if request is not None:
                yield request

    def parse_article(self, response: Response) -> Iterator[RawPage]:
        self.crawler.stats.inc_value("zhengwen/spider/article_pages")
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        yield RawPage(
            url=response.url,
            body=response.body,
            status=response.status,
            site=self.site.name,
            fetched_at=datetime.now(UTC),
            headers={
                k.decode("latin-1"): b", ".join(v).decode("latin-1")
                for k, v in response.headers.items()
            },
            http_encoding=_charset(content_type),
            depth=int(response.meta.get("depth", 0)),
        )

    def on_error(self, failure: Failure) -> None:
        """Count a failed request by kind; the crawl goes on."""
        from scrapy.exceptions import IgnoreRequest

        if isinstance(failure.value, IgnoreRequest):
            # Skips decided by a middleware (robots.txt, private-address guard) are counted
            # there, under their own reason; they are not fetch errors.
            return
        kind = _error_kind(failure)
        self.crawler.stats.inc_value(f"{ERROR_PREFIX}{kind}")
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        self.logger.warning("Fetch failed (%s): %s: %s", kind, url, failure.getErrorMessage())


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip().strip("\"'") or None
    return None


def _error_kind(failure: Failure) -> str:
    """A short stable name for a fetch failure, for counters (``http_404``, ``timeout``, ...)."""
    from scrapy import exceptions as sx
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import error as tx

    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    for kind, classes in (
        ("dns", (sx.CannotResolveHostError, tx.DNSLookupError)),
        ("connection_refused", (sx.DownloadConnectionRefusedError, tx.ConnectionRefusedError)),
        ("timeout", (sx.DownloadTimeoutError, tx.TimeoutError, tx.TCPTimedOutError)),
        ("data_loss", (sx.ResponseDataLossError,)),
        ("connection_lost", (tx.ConnectionLost, tx.ConnectionDone)),
    ):
        if isinstance(exc, classes):
            return kind
    name = type(exc).__name__ if exc is not None else "unknown"
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
