"""The one generic spider: discovers and fetches, nothing else.

It reads the site's sitemaps and feeds (`crawler.discovery`), walks start pages → list pages and
their pagination → article pages within the site's allowed domains, as described by
``sites/<name>.toml``, and yields a `RawPage` per article. Turning the page into an Article
happens in the pipelines (crawler/extract), not here.

List pages beyond the start pages wait until the spider first goes idle: by then robots.txt,
the sitemaps and the feeds have been read, and when one of them listed article entries the
site is covered and its list pages are not walked (``zhengwen/discovery/lists_not_walked``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from crawler.config import SiteConfig, host_in_domains, resolve_site
from crawler.discovery import (
    DiscoveryRun,
    Entry,
    Limits,
    default_sitemap_urls,
    feed_links,
    sitemaps_from_robots,
)
from crawler.discovery.learn import clean_url
from crawler.discovery.zeroconfig import ZeroConfig
from crawler.drops import DISCOVERED_PREFIX, ERROR_PREFIX, SKIP_PREFIX
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
from storage.raw_read import charset_of

#: Answers to a conditional re-check that the spider handles itself instead of as errors.
RECHECK_STATUSES = [304, 404, 410]
#: Request priorities: discovery first (it decides whether list pages are walked), then
#: articles (what the user waits for), then list pages (they only feed the queue).
PRIORITY = {"robots": 30, "sitemap": 20, "feed": 20, "article": 10, "list": 0}


def discovery_limits(settings: Any) -> Limits:
    """`Limits` from the ``ZHENGWEN_DISCOVERY_*`` settings (defaults: `Limits`)."""
    d = Limits()
    return Limits(
        max_bytes=settings.getint("ZHENGWEN_DISCOVERY_MAX_BYTES", d.max_bytes),
        max_decompressed=settings.getint("ZHENGWEN_DISCOVERY_MAX_DECOMPRESSED", d.max_decompressed),
        max_depth=settings.getint("ZHENGWEN_DISCOVERY_MAX_DEPTH", d.max_depth),
        max_urls_per_sitemap=settings.getint(
            "ZHENGWEN_DISCOVERY_MAX_URLS_PER_SITEMAP", d.max_urls_per_sitemap
        ),
        max_entries=settings.getint("ZHENGWEN_DISCOVERY_MAX_ENTRIES", d.max_entries),
        max_fetches=settings.getint("ZHENGWEN_DISCOVERY_MAX_FETCHES", d.max_fetches),
    )


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
        #: This run's sitemaps and feeds (set when the spider starts).
        self.discovery: DiscoveryRun | None = None
        #: robots.txt URLs of origins whose default sitemap paths are probed at the first idle.
        self.probe_origins: list[str] = []
        #: List pages found before discovery decided whether they are needed: (url, depth).
        self.held_lists: list[tuple[str, int]] = []
        #: Whether list pages beyond the start pages are followed as soon as they are found.
        self.lists_open = not (self.site.discover or self.site.sitemaps or self.site.feeds)
        #: Learning what articles look like, for a site without article patterns (zero-config).
        self.zero = ZeroConfig(self.site) if ZeroConfig.wanted(self.site) else None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PortalSpider:
        spider: PortalSpider = super().from_crawler(crawler, *args, **kwargs)
        apply_site_settings(crawler.settings, spider.site)
        crawler.signals.connect(spider._close_incremental, signal=scrapy.signals.spider_closed)
        crawler.signals.connect(spider._on_idle, signal=scrapy.signals.spider_idle)
        crawler.signals.connect(spider._robots_received, signal=scrapy.signals.response_received)
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
            outage_seconds=settings.getfloat("ZHENGWEN_OUTAGE_SECONDS", 0.0),
            stats=self.crawler.stats,
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
        self._open_run_state()
        for request in self._start_requests():
            yield request

    def _open_run_state(self) -> None:
        """The archive's view of the site and this run's discovery state."""
        self._open_incremental()
        self.discovery = DiscoveryRun(
            discovery_limits(self.crawler.settings),
            ZoneInfo(self.site.timezone),
            self._skip,
            self.incremental.since if self.incremental is not None else None,
        )

    def _start_requests(self) -> Iterator[scrapy.Request]:
        """robots.txt, sitemaps and feeds, the start pages, then the archived articles due for
        a re-check."""
        yield from self._discovery_starts()
        for url in self.site.start_urls:
            request = self._request(url, self.kind_of(url) or "list")
            if request is not None:
                yield request
        if self.incremental is not None:
            # Recent archived articles are re-checked even if no list page links them any more:
            # that is how a removal (404/410) is noticed.
            for url in self.incremental.recheck_urls():
                if self.in_domains(url):
                    request = self._request(url, "article", source="recheck")
                    if request is not None:
                        yield request

    # --- sitemaps and feeds (crawler.discovery) ------------------------------------------------

    def _skip(self, reason: str) -> None:
        self.crawler.stats.inc_value(f"{SKIP_PREFIX}{reason}")

    def _discovery_starts(self) -> Iterator[scrapy.Request]:
        """robots.txt of each start URL's origin (for its ``Sitemap:`` lines) when Scrapy does
        not fetch it anyway (`_robots_received`), and the configured sitemaps and feeds."""
        if self.site.discover and not self.site.politeness.obey_robots:
            origins = dict.fromkeys(urljoin(u, "/robots.txt") for u in self.site.start_urls)
            for url in origins:
                request = self._fetch(url, "robots", self.parse_robots)
                if request is not None:
                    yield request
        for url in self.site.sitemaps:
            request = self._sitemap_request(url, 0)
            if request is not None:
                yield request
        for url in self.site.feeds:
            request = self._feed_request(url)
            if request is not None:
                yield request

    def _fetch(
        self, url: str, kind: str, callback: Any, meta: dict[str, Any] | None = None
    ) -> scrapy.Request | None:
        """A discovery request (robots.txt, a sitemap, a feed), charged to the page budget."""
        if not self.in_domains(url):
            self.crawler.stats.inc_value("zhengwen/discovery/offsite")
            return None
        key = key64(canonicalize_url(url))
        if key in self.issued or not self._within_budget():
            return None
        self.issued.add(key)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_discovery_error,
            priority=PRIORITY[kind],
            meta={"kind": kind, **(meta or {})},
        )

    def _sitemap_request(
        self, url: str, depth: int, lastmod: datetime | None = None, probe: bool = False
    ) -> scrapy.Request | None:
        if self.discovery is None or not self.discovery.want(url, "sitemap", depth, lastmod):
            return None
        meta = {"sitemap_depth": depth, "probe": probe}
        return self._fetch(url, "sitemap", self.parse_sitemap, meta)

    def _feed_request(self, url: str) -> scrapy.Request | None:
        if self.discovery is None or not self.discovery.want(url, "feed"):
            return None
        return self._fetch(url, "feed", self.parse_feed)

    def _probe_defaults(self, robots_url: str) -> Iterator[scrapy.Request]:
        """``/sitemap.xml`` and ``/sitemap_index.xml`` of this origin, when nothing announced a
        sitemap: not now but when the crawl first runs out of requests (`_on_idle`), and only
        if no feed or sitemap has covered the site by then. A portal's home page often
        announces a feed; guessing at sitemap paths first would cost two requests for nothing.
        """
        if not self.site.sitemaps and robots_url not in self.probe_origins:
            self.probe_origins.append(robots_url)
        yield from ()

    def _probe_requests(self) -> list[scrapy.Request]:
        """The deferred default-sitemap probes (`_probe_defaults`), once per run."""
        origins, self.probe_origins = self.probe_origins, []
        if self.discovery is None or self.discovery.covered:
            return []
        if self.zero is not None and self.crawler.stats.get_value("zhengwen/spider/article_pages"):
            # A zero-config crawl that found its articles through the portal's pages: the
            # learned walk covers the site, a guess at unannounced sitemaps would not add.
            return []
        requests = [
            self._sitemap_request(url, 0, probe=True)
            for origin in origins
            for url in default_sitemap_urls(origin)
        ]
        return [r for r in requests if r is not None]

    def _robots_received(self, response: Response, request: scrapy.Request) -> None:
        """Scrapy's RobotsTxtMiddleware fetched a site's robots.txt (when robots are obeyed):
        its ``Sitemap:`` lines are read from that answer rather than fetching it twice."""
        if (
            not self.site.discover
            or self.discovery is None
            or "kind" in request.meta
            or not request.meta.get("dont_obey_robotstxt")
            or urlsplit(request.url).path != "/robots.txt"
        ):
            return
        found = self.parse_robots(response) if response.status == 200 else None
        for follow in found or self._probe_defaults(request.url):
            self.crawler.engine.crawl(follow)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        announced = sitemaps_from_robots(response.body, response.url)
        self.crawler.stats.inc_value("zhengwen/discovery/robots_sitemaps", len(announced))
        if not announced:
            yield from self._probe_defaults(response.url)
        for url in announced:
            request = self._sitemap_request(url, 0)
            if request is not None:
                yield request

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        if self.discovery is None or count_unstored(self.crawler.stats):
            return
        self.crawler.stats.inc_value("zhengwen/discovery/sitemaps")
        depth = int(response.meta.get("sitemap_depth", 0))
        parsed = self.discovery.read_sitemap(response.body, response.url)
        if depth == 0 and (parsed.children or parsed.entries):
            self.discovery.found_useful(response.url, "sitemap")
        children = (
            parsed.children if self.zero is None else self.zero.sitemaps_to_read(parsed.children)
        )
        for child in children:
            request = self._sitemap_request(child.url, depth + 1, child.lastmod)
            if request is not None:
                yield request
        yield from self._entry_requests(parsed.entries)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        if self.discovery is None or count_unstored(self.crawler.stats):
            return
        self.crawler.stats.inc_value("zhengwen/discovery/feeds")
        entries = self.discovery.read_feed(response.body, response.url).entries
        if entries:
            self.discovery.found_useful(response.url, "feed")
        yield from self._entry_requests(entries)

    def _entry_requests(self, entries: list[Entry]) -> Iterator[scrapy.Request]:
        """Article requests for the entries whose URL is an article of the site (by its article
        patterns; without any, every in-domain entry is one). An entry dated after the last
        successful run (`Incremental.since`) is re-checked even when archived and old."""
        assert self.discovery is not None
        since = self.discovery.since
        for entry in entries:
            kind = self.kind_of(entry.url)
            # Without article patterns (zero-config: pages are judged by content once fetched)
            # every in-domain entry that no deny pattern refuses is an article candidate.
            if kind != "article" and not self.patterns.article and self.in_domains(entry.url):
                if not any(p.search(entry.url) for p in self.patterns.deny):
                    kind = "article"
            if kind != "article":
                self.crawler.stats.inc_value("zhengwen/discovery/entries_not_article")
                continue
            self.discovery.covered = True
            when = entry.when
            changed = since is not None and when is not None and when >= since
            request = self._request(
                entry.url, "article", source=entry.source, listed=entry.published, changed=changed
            )
            if request is not None:
                yield request

    def on_discovery_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        """robots.txt or a default sitemap path the site does not have is no error; another
        failed sitemap or feed is counted like any failed fetch."""
        from scrapy.spidermiddlewares.httperror import HttpError

        request = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        absent = isinstance(failure.value, HttpError) and failure.value.response.status in (
            404,
            410,
        )
        if meta.get("kind") == "robots":
            if request is not None:
                yield from self._probe_defaults(request.url)
            if absent:
                return
        elif meta.get("probe") and absent:
            self.crawler.stats.inc_value("zhengwen/discovery/absent")
            return
        self.on_error(failure)

    def _on_idle(self) -> None:
        """When the crawl runs out of requests: first the deferred default-sitemap probes (if
        nothing covers the site yet), then, discovery having said all it will, the held list
        pages unless a sitemap or feed covers the site."""
        from scrapy.exceptions import DontCloseSpider

        if count_unstored(self.crawler.stats):
            return
        probes = self._probe_requests()
        if probes:
            # The held list pages wait for what the probes find (a sitemap covers the site).
            for probe in probes:
                self.crawler.engine.crawl(probe)
            raise DontCloseSpider
        if self.lists_open:
            return
        self.lists_open = True
        held, self.held_lists = self.held_lists, []
        if self.discovery is not None and self.discovery.covered:
            self.crawler.stats.inc_value("zhengwen/discovery/lists_not_walked", len(held))
            self.logger.info(
                "Sitemaps or feeds list this site's articles: %d list pages not walked", len(held)
            )
            return
        issued = 0
        for url, depth in held:
            request = self._request(url, "list")
            if request is not None:
                request.meta["depth"] = depth
                self.crawler.engine.crawl(request)
                issued += 1
        if issued:
            raise DontCloseSpider

    # --- requests -------------------------------------------------------------------------------

    def _within_budget(self) -> bool:
        """Whether the page budget (``max_pages``) allows one more request.

        The budget is enforced when requests are issued, rather than by closing the spider after
        N responses: requests already in flight would overshoot that bound.
        """
        if self.site.max_pages is None or self._budget_left(self.site.max_pages):
            return True
        if not self.crawler.stats.get_value("zhengwen/spider/skipped/max_pages"):
            # Once: a trap would log a line per link; the count is in the run record.
            self.logger.info(
                "Page budget of %d reached (max_pages): further links are skipped",
                self.site.max_pages,
            )
        self.crawler.stats.inc_value("zhengwen/spider/skipped/max_pages")
        return False

    def _budget_left(self, max_pages: int) -> bool:
        """Whether fewer than ``max_pages`` requests were issued (this process's count)."""
        return len(self.issued) < max_pages

    def _request(
        self,
        url: str,
        kind: str,
        *,
        source: str = "list",
        listed: datetime | None = None,
        changed: bool = False,
    ) -> scrapy.Request | None:
        """A request for a URL not yet issued, within the page budget (``max_pages``).

        ``source``: how the URL was found (counted per article page fetched); ``listed``: the
        publication time its sitemap or feed gave; ``changed``: its sitemap or feed dates it
        after the last successful run (re-checked even when archived and old).
        """
        url = clean_url(url)  # tracking parameters (crawler.discovery.learn.TRACKING_KEYS)
        key = key64(canonicalize_url(url))
        if key in self.issued or key in self.skipped_known:
            return None
        plan = (
            self.incremental.plan(key, changed) if kind == "article" and self.incremental else None
        )
        if plan is not None and plan.skip:
            # Not fetched and not charged to the page budget: the archive already has it.
            self.skipped_known.add(key)
            self.crawler.stats.inc_value(f"zhengwen/incremental/skipped/{plan.reason}")
            return None
        if not self._within_budget():
            return None
        self.issued.add(key)
        callback = self.parse_article if kind == "article" else self.parse_list
        priority = PRIORITY[kind]
        if self.zero is not None:
            callback, priority = self.parse_learned, self.zero.priority(url, kind)
        meta: dict[str, Any] = {"kind": kind, "discovery": source}
        if listed is not None:
            meta["listed_published"] = listed
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
        """Any page of a zero-config site: judged by its content (`crawler.discovery`); the
        feeds it announces are read as on a configured site's list pages."""
        assert self.zero is not None
        if isinstance(response, TextResponse) and not count_unstored(self.crawler.stats):
            yield from self._announced_feeds(response)
        yield from self.zero.parse(self, response)

    def _announced_feeds(self, response: TextResponse) -> Iterator[scrapy.Request]:
        """Requests for the RSS/Atom feeds a page announces (``<link rel="alternate">``)."""
        if not self.site.discover or self.discovery is None:
            return
        for url in feed_links(response.text, response.url):
            feed = self._feed_request(url)
            if feed is not None:
                yield feed

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        if count_unstored(self.crawler.stats):
            return  # the crawl was halted (crawler.halt): no new requests
        self.crawler.stats.inc_value("zhengwen/spider/list_pages")
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value(f"{ERROR_PREFIX}list_not_html")
            return
        yield from self._announced_feeds(response)
        depth = int(response.meta.get("depth", 0)) + 1
        for link in self.links.extract_links(response):
            kind = self.kind_of(link.url)
            if kind == "list" and not self.lists_open:
                self._hold_list(link.url, depth)
                continue
            request = self._request(link.url, kind) if kind is not None else None
            if request is not None:
                yield request

    def _hold_list(self, url: str, depth: int) -> None:
        """Keep a list page until discovery has said whether the site needs its lists walked."""
        self.held_lists.append((url, depth))

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
        self.crawler.stats.inc_value(DISCOVERED_PREFIX + response.meta.get("discovery", "list"))
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
            http_encoding=charset_of(content_type),
            depth=int(response.meta.get("depth", 0)),
            listed_published=response.meta.get("listed_published"),
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


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
