"""Zero-config crawling: a site config made from a URL, and the spider's side of learning.

A site without article patterns (``zhengwen crawl https://portal.example/``) is crawled by
judging pages instead of matching URLs: every link within the host is a candidate, each fetched
page is judged by its content (`crawler.discovery.pages`) and its URL shape learns from the
verdict (`crawler.discovery.learn`), which then orders and prunes the links still to come. Only
pages judged articles are yielded for extraction and storage. Whatever else queues article URLs
for the site (sitemaps, feeds) goes through the same judgement.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url

from crawler.addresses import host_port, is_private_host
from crawler.config import NAME_RE, Politeness, SiteConfig
from crawler.discovery.entries import Child
from crawler.discovery.learn import Learner, clean_url
from crawler.discovery.pages import Template, judge, walk
from crawler.drops import ERROR_PREFIX
from crawler.halt import count_unstored

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.spiders.portal import PortalSpider

#: Setting: a file the spider writes what it learned to when it closes (``new-site``).
REPORT_SETTING = "ZHENGWEN_DISCOVERY_REPORT"
#: Setting: a sample (``new-site``): at most `SAMPLE_PER_SHAPE` links of one URL shape are
#: requested, so that a small page budget is spread over every kind of page the portal has
#: instead of spent on the first list's articles.
SAMPLE_SETTING = "ZHENGWEN_DISCOVERY_SAMPLE"
#: A few more than `learn.EXPLORE`: enough pages of a shape to learn what it is.
SAMPLE_PER_SHAPE = 4
#: In a sample, the sitemaps of an index that are read: the newest two. A portal's index lists
#: a sitemap per day or month; reading them all would spend a 30-page sample on sitemaps
#: before a single article, and two (each listing its own articles) show every shape there is.
SAMPLE_SITEMAPS_PER_INDEX = 2
STATS = "zhengwen/discovery/"
_OFFSET_RE = re.compile(r"(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)([+-])(\d{2}):?(\d{2})\b")


class UrlProblem(ValueError):
    """A command-line URL that cannot start a crawl; the message is one line."""


def is_url(text: str) -> bool:
    """Meant as a URL rather than a site name or a config path."""
    return "://" in text


def site_name_for(url: str) -> str:
    """The site name of a host (and its port when not the scheme's default): lower case, every
    character the site-name rules refuse as ``-`` (``news.example.com`` → ``news-example-com``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    name = host + (f"-{port}" if port and port != {"http": 80, "https": 443}[parts.scheme] else "")
    name = re.sub(r"[^a-z0-9_-]+", "-", name).strip("-_")[:64].rstrip("-_")
    return name or "site"


def zero_config_site(url: str, name: str | None = None) -> tuple[SiteConfig, str | None]:
    """The config of a zero-config crawl of ``url``, and a note to show the user (the private
    address allowed because the user named it), or None."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UrlProblem(f"expected an http(s) URL such as https://news.example.com/, got {url!r}")
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise UrlProblem(f"the port of {url!r} is not a number from 0 to 65535") from None
    name = name or site_name_for(url)
    if not NAME_RE.match(name):
        raise UrlProblem(
            f"expected a site name of lowercase letters, digits, '-' or '_' (at most 64), "
            f"got {name!r}"
        )
    host, port = host_port(url)
    start = url if parts.path else url + "/"
    note = None
    private: tuple[str, ...] = ()
    if is_private_host(host):
        # Named by the user on the command line: the private-address guard protects against
        # *links* to private addresses, not against the address the user asked for.
        private = (f"{host}:{port}",)
        note = (
            f"{host} is a private or loopback address: allowed for this crawl because it was "
            "given on the command line"
        )
    # Politeness protects somebody else's server; a loopback address is this machine's own
    # (a test or demo portal), crawled without a delay between requests.
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    site = SiteConfig(
        name=name,
        start_urls=(start,),
        allowed_domains=(host,),
        article_patterns=(),
        private_hosts=private,
        politeness=Politeness(download_delay=0.0) if loopback else Politeness(),
        path=url,
    )
    return site, note


class SiteFacts:
    """What the pages say about the site, for ``new-site``: declared encodings, languages and
    the UTC offsets of their times."""

    def __init__(self) -> None:
        self.encodings: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.offsets: Counter[str] = Counter()

    def note(self, response: Any) -> None:
        from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

        declared = html_body_declared_encoding(response.body) or http_content_type_encoding(
            (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        )
        if declared:
            self.encodings[declared] += 1
        lang = (response.xpath("/html/@lang").get() or "").strip().lower()
        if lang:
            self.languages[lang.split("-")[0]] += 1
        times = response.xpath(
            "//meta[contains(@property, 'published_time') or contains(@name, 'publishdate')]"
            "/@content | //time/@datetime"
        ).getall()
        for text in times:
            m = _OFFSET_RE.search(text)
            if m:
                self.offsets[f"{m.group(1)}{m.group(2)}:{m.group(3)}"] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "encodings": dict(self.encodings),
            "languages": dict(self.languages),
            "offsets": dict(self.offsets),
        }


class ZeroConfig:
    """The learning state of one zero-config crawl, used by `PortalSpider`."""

    def __init__(self, site: SiteConfig) -> None:
        self.learner = Learner()
        self.template = Template()
        self.facts = SiteFacts()
        self.starts = {canonicalize_url(clean_url(u)) for u in site.start_urls}
        self.report_path: str | None = None
        self.crawler: Any = None
        self.sample = False
        #: Links met so far (hashes of their canonical form): a page's yield is the article
        #: links it showed first, whether or not the page budget let them be requested.
        self.met: set[int] = set()

    @staticmethod
    def wanted(site: SiteConfig) -> bool:
        """A site without article patterns is crawled by learning."""
        return not site.article_patterns

    def connect(self, crawler: Any) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.report_path = crawler.settings.get(REPORT_SETTING)
        self.sample = crawler.settings.getbool(SAMPLE_SETTING)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    def sitemaps_to_read(self, children: list[Child]) -> list[Child]:
        """The sitemaps of an index to read: all of them, or in a sample the newest few."""
        if not self.sample:
            return children
        oldest = datetime.min.replace(tzinfo=UTC)
        newest = sorted(children, key=lambda e: e.lastmod or oldest, reverse=True)
        return newest[:SAMPLE_SITEMAPS_PER_INDEX]

    def kind_of(self, url: str) -> str | None:
        if self.sample and self.learner.issued_count(url) >= SAMPLE_PER_SHAPE:
            return None
        kind = self.learner.kind(url)
        if kind is None and self.crawler is not None:
            self.crawler.stats.inc_value(f"{STATS}pruned")
        return kind

    def priority(self, url: str, kind: str) -> int:
        priority = self.learner.priority(url, kind)
        self.learner.issued(url)
        return priority

    def parse(self, spider: PortalSpider, response: Response) -> Iterator[Any]:
        from scrapy.http import HtmlResponse

        from crawler.spiders.portal import RECHECK_STATUSES

        stats = spider.crawler.stats
        if response.meta.get("recheck") and response.status in RECHECK_STATUSES:
            yield from spider.parse_article(response)
            return
        if count_unstored(stats):
            return  # the crawl was halted (crawler.halt): no new requests
        url = clean_url(response.url)
        start = canonicalize_url(url) in self.starts
        if not isinstance(response, HtmlResponse):
            self.learner.observe(url, "other")
            if start:
                stats.inc_value(f"{ERROR_PREFIX}not_html")
                spider.logger.error(
                    "The start page %s is not HTML (%s): nothing to discover",
                    response.url,
                    (response.headers.get(b"Content-Type") or b"?").decode("latin-1"),
                )
            return
        self.facts.note(response)
        target = self._canonical(spider, response, url)
        if target is not None and not start:
            # A printer-friendly copy or a tracking variant: the article is its canonical URL.
            self.learner.observe(url, "duplicate")
            stats.inc_value(f"{STATS}pages/duplicate")
            request = spider._request(target, "article")
            if request is not None:
                yield request
            return
        meta_date = bool(response.xpath("//meta[contains(@property, 'published_time')]"))
        verdict = judge(
            list(walk(response.selector.root, lambda h: clean_url(response.urljoin(h)))),
            self.template,
            lambda href: spider.in_domains(href) and self.learner.article_score(href) >= 0.5,
            meta_date,
        )
        kind = "list" if start and verdict.kind == "article" else verdict.kind
        requests = []
        found = 0
        for link in spider.links.extract_links(response):
            target = clean_url(link.url)
            key = hash(canonicalize_url(target))
            if key not in self.met and spider.in_domains(target):
                self.met.add(key)
                found += self.learner.article_score(target) >= 0.5
            link_kind = spider.kind_of(target)
            if link_kind == "list" and self._covered(spider):
                stats.inc_value(f"{STATS}lists_not_walked")
                continue
            request = spider._request(target, link_kind) if link_kind is not None else None
            if request is not None:
                requests.append(request)
        if kind == "other" and found:
            kind = "list"  # a short list (a day's archive of two articles) is still a list
        self.learner.observe(url, kind, found)
        stats.inc_value(f"{STATS}pages/{kind}")
        if kind == "article":
            yield from spider.parse_article(response)
        elif kind == "list":
            stats.inc_value("zhengwen/spider/list_pages")
        yield from requests

    def _covered(self, spider: PortalSpider) -> bool:
        """A sitemap or feed lists this site's articles: list pages are not walked further, as
        on a configured site (a sample still walks them: ``new-site`` learns their shapes)."""
        return not self.sample and spider.discovery is not None and spider.discovery.covered

    @staticmethod
    def _canonical(spider: PortalSpider, response: Any, url: str) -> str | None:
        """The page's declared canonical URL when it is another page of the site (not its home
        page: some templates declare the home page on every page)."""
        href = response.xpath("//head/link[@rel='canonical']/@href").get()
        if not href:
            return None
        target = clean_url(response.urljoin(href.strip()))
        if urlsplit(target).path in ("", "/") or not spider.in_domains(target):
            return None
        if canonicalize_url(target) == canonicalize_url(url):
            return None
        return target

    def _closed(self, spider: Any = None) -> None:
        if self.crawler is not None:
            self.crawler.stats.set_value(f"{STATS}shapes", len(self.learner.exact))
        if not self.report_path:
            return
        patterns = self.learner.patterns()
        report = {
            "article": list(patterns.article),
            "list": list(patterns.listing),
            "pagination": list(patterns.pagination),
            "shapes": self.learner.report(),
            **_found(spider),
            **self.facts.as_dict(),
        }
        Path(self.report_path).write_text(
            json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
        )


def _found(spider: Any) -> dict[str, list[str]]:
    """The sitemaps and feeds that listed something this run (``sitemaps``, ``feeds``)."""
    discovery = getattr(spider, "discovery", None)
    if discovery is None:
        return {"sitemaps": [], "feeds": []}
    return {"sitemaps": list(discovery.found["sitemap"]), "feeds": list(discovery.found["feed"])}
