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

from crawler.config import SiteConfig, host_in_domains, resolve_site
from crawler.discovery.learn import clean_url
from crawler.discovery.zeroconfig import ZeroConfig
from crawler.drops import ERROR_PREFIX
from crawler.halt import count_unstored, storage_failed
from crawler.incremental import Incremental
from crawler.interrupt import count_abandoned
from crawler.items import RawPage
from crawler.middlewares import Refused, fetch_error_kind
from pipelines.common import db_url
from storage.article import key64
from storage.batch import StorageError
from storage.keyset import KeySet
from storage.paths import sqlite_path

#: Answers to a conditional re-check that the spider handles itself instead of as errors.
RECHECK_STATUSES = [304, 404, 410]


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
        self.issued = KeySet()
        #: Archived articles not fetched again this run (counted once each).
        self.skipped_known = KeySet()
        #: The archive's view of the site; None with ZHENGWEN_INCREMENTAL = False.
        self.incremental: Incremental | None = None
        self.fetch_state_error = False
        #: Learning what articles look like, for a site without article patterns (zero-config).
        self.zero = ZeroConfig(self.site) if ZeroConfig.wanted(self.site) else None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PortalSpider:
        spider: PortalSpider = super().from_crawler(crawler, *args, **kwargs)
        apply_site_settings(crawler.settings, spider.site)
        crawler.signals.connect(spider._close_incremental, signal=scrapy.signals.spider_closed)
        if spider.zero is not None:
            spider.zero.connect(crawler)
        return spider

    def _open_incremental(self) -> None:
        settings = self.crawler.settings
        if not settings.getbool("ZHENGWEN_INCREMENTAL", True):
            return
        self.incremental = Incremental(
            db_url(settings),
            self.site.name,
            self.site.recheck_days,
            batch_size=settings.getint("ZHENGWEN_BATCH_SIZE", 200),
            batch_seconds=settings.getfloat("ZHENGWEN_BATCH_SECONDS", 2.0),
        )
        self.crawler.stats.set_value("zhengwen/incremental/known", len(self.incremental.known))

    def _close_incremental(self) -> None:
        if self.incremental is None:
            return
        try:
            self.incremental.close()
        except StorageError as exc:
            self._fetch_state_failed(exc)

    def _record(
        self, url: str, status: int, headers: Any, article_url: str | None, at: datetime
    ) -> None:
        """Queue a fetch answer for the fetch state (`Incremental.record`)."""
        if self.incremental is None or self.fetch_state_error:
            return
        try:
            self.incremental.record(url, status, headers, article_url, at)
        except StorageError as exc:
            self._fetch_state_failed(exc)

    def _fetch_state_failed(self, exc: BaseException) -> None:
        """Said once. The articles may still be stored; only the validators and removal marks
        of this run are not, and the run must say so. A full disk halts the crawl."""
        if self.fetch_state_error:
            return
        self.fetch_state_error = True
        self.crawler.stats.inc_value(f"{ERROR_PREFIX}storage")
        where = sqlite_path(db_url(self.crawler.settings))
        if storage_failed(self.crawler, "fetch state", exc, where, fatal=False) is None:
            self.logger.error("Could not store the fetch state of this run: %s", exc)

    # --- discovery ----------------------------------------------------------------------------

    def in_domains(self, url: str) -> bool:
        return host_in_domains(host_of(url), self.allowed_domains)

    def kind_of(self, url: str) -> str | None:
        """'article', 'list' or None (not followed). Deny patterns win; articles before lists."""
        url = clean_url(url)
        if not self.in_domains(url) or any(p.search(url) for p in self.patterns.deny):
            return None
        if self.zero is not None:
            return self.zero.kind_of(url)
        if any(p.search(url) for p in self.patterns.article):
            return "article"
        if any(p.search(url) for p in self.patterns.listing) or any(
            p.search(url) for p in self.patterns.pagination
        ):
            return "list"
        return None

    async def start(self) -> AsyncIterator[Any]:
        self._open_incremental()
        for url in self.site.start_urls:
            request = self._request(url, self.kind_of(url) or "list")
            if request is not None:
                yield request
        if self.incremental is not None:
            # Recent archived articles are re-checked even if no list page links them any more:
            # that is how a removal (404/410) is noticed.
            for url in self.incremental.recheck_urls():
                if self.in_domains(url):
                    request = self._request(url, "article")
                    if request is not None:
                        yield request

    def _request(self, url: str, kind: str) -> scrapy.Request | None:
        """A request for a URL not yet issued, within the page budget (``max_pages``).

        The budget is enforced here, when requests are issued, rather than by closing the
        spider after N responses: requests already in flight would overshoot that bound.
        """
        url = clean_url(url)  # tracking parameters (crawler.discovery.learn.TRACKING_KEYS)
        key = key64(canonicalize_url(url))
        if key in self.issued or key in self.skipped_known:
            return None
        plan = self.incremental.plan(key) if kind == "article" and self.incremental else None
        if plan is not None and plan.skip:
            # Not fetched and not charged to the page budget: the archive already has it.
            self.skipped_known.add(key)
            self.crawler.stats.inc_value(f"zhengwen/incremental/skipped/{plan.reason}")
            return None
        if self.site.max_pages is not None and len(self.issued) >= self.site.max_pages:
            if not self.crawler.stats.get_value("zhengwen/spider/skipped/max_pages"):
                # Once: a trap would log a line per link; the count is in the run record.
                self.logger.info(
                    "Page budget of %d reached (max_pages): further links are skipped",
                    self.site.max_pages,
                )
            self.crawler.stats.inc_value("zhengwen/spider/skipped/max_pages")
            return None
        self.issued.add(key)
        callback = self.parse_article if kind == "article" else self.parse_list
        # Articles first: list pages only feed the queue, articles are what the user waits for.
        priority = 10 if kind == "article" else 0
        if self.zero is not None:
            callback, priority = self.parse_learned, self.zero.priority(url, kind)
        meta: dict[str, Any] = {"kind": kind}
        headers: dict[str, str] = {}
        if plan is not None:
            self.crawler.stats.inc_value("zhengwen/incremental/rechecks")
            meta["recheck"] = plan.article_url
            meta["handle_httpstatus_list"] = RECHECK_STATUSES
            headers = plan.headers
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=priority,
            meta=meta,
            headers=headers,
        )

    def parse_learned(self, response: Response) -> Iterator[Any]:
        """Any page of a zero-config site: judged by its content (`crawler.discovery`)."""
        assert self.zero is not None
        return self.zero.parse(self, response)

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        if count_unstored(self.crawler.stats):
            return  # the crawl was halted (crawler.halt): no new requests
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
        recheck: str | None = response.meta.get("recheck")
        # The raw archive's WARC-Date of this response, so re-extraction reproduces it; the
        # fetch state records the same instant (see Database.known_pages).
        fetched_at: datetime = response.meta.get("zhengwen_fetched_at") or datetime.now(UTC)
        if count_unstored(self.crawler.stats):
            return  # the crawl was halted: nothing of this page is stored, the next run fetches it
        if self.incremental is not None and response.status in RECHECK_STATUSES:
            # Only re-checks ask for these statuses; anything else was filtered as an error.
            key = "not_modified" if response.status == 304 else "removed"
            self.crawler.stats.inc_value(f"zhengwen/incremental/{key}")
            self._record(response.url, response.status, response.headers, recheck, fetched_at)
            if key == "removed":
                self.logger.info("Article removed (%s): %s", response.status, response.url)
            return
        self.crawler.stats.inc_value("zhengwen/spider/article_pages")
        self._record(response.url, response.status, response.headers, None, fetched_at)
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        yield RawPage(
            url=response.url,
            body=response.body,
            status=response.status,
            site=self.site.name,
            fetched_at=fetched_at,
            headers={
                k.decode("latin-1"): b", ".join(v).decode("latin-1")
                for k, v in response.headers.items()
            },
            http_encoding=_charset(content_type),
            depth=int(response.meta.get("depth", 0)),
        )

    def on_error(self, failure: Failure) -> None:
        """Count a failed request by kind and log it as a warning; the crawl goes on.

        An HTTP error status arrives as HttpError, which is an IgnoreRequest too: it is a failed
        fetch, counted here. Other IgnoreRequests are skips a middleware decided and counted:
        zhengwen's own (`Refused`), robots.txt (``robotstxt/forbidden``), Scrapy's offsite
        filter (``offsite/filtered``); they are logged at INFO with their reason. One more is
        Scrapy's HttpCompressionMiddleware refusing a body that decompresses past
        DOWNLOAD_MAXSIZE: nothing counts that one, so it is counted here.
        """
        from scrapy.exceptions import IgnoreRequest
        from scrapy.spidermiddlewares.httperror import HttpError

        exc = failure.value
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if isinstance(exc, IgnoreRequest) and not isinstance(exc, HttpError):
            if type(exc.__cause__).__name__ == "_DecompressionMaxSizeExceeded":
                self.crawler.stats.inc_value(f"{ERROR_PREFIX}decompressed_too_large")
                self.logger.warning("Fetch failed (decompressed_too_large): %s", url)
            elif not isinstance(exc, Refused):
                self.logger.info("Skipped %s: %s", url, exc)
            return
        if count_abandoned(self.crawler.stats):
            self.logger.info("Abandoned on a second interrupt: %s", url)
            return
        kind = fetch_error_kind(exc)
        self.crawler.stats.inc_value(f"{ERROR_PREFIX}{kind}")
        message = failure.getErrorMessage() or type(exc).__name__
        self.logger.warning("Fetch failed (%s): %s: %s", kind, url, message)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip().strip("\"'") or None
    return None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
