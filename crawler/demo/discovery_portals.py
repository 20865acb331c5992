"""Test portals for discovery (issue 16): the demo portal's articles, reachable only through
sitemaps, only through feeds, or through broken inputs. Real HTTP on loopback, like
`crawler.demo.server`, for the tests and ``bench/discovery.py``.

- ``sitemaps`` (a): robots.txt announces a sitemap index of monthly indexes of daily Google News
  sitemaps (every other day gzipped); no HTML page links an article.
- ``feeds`` (b): the home page announces an RSS 2.0 and an Atom feed (``<link rel=alternate>``)
  that together list every article; no HTML page links an article.
- ``broken`` (e): robots.txt announces a good sitemap and broken ones (an HTML page, a
  truncated gzip, non-XML garbage, an index that lists itself and a 100,000-URL set), the home
  page a feed with unreadable dates; every article is listed by a readable input.

Each portal renders from its `Portal`'s current state (add articles between two runs with
`Portal.add_article`) and counts requests per path (`DiscoveryServer.count`).
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Literal
from xml.sax.saxutils import escape as xml_escape

from crawler.demo.content import TZ, ArticleTruth, Portal
from crawler.demo.server import PortalServer, _Handler

Kind = Literal["sitemaps", "feeds", "broken"]
XML = "application/xml; charset=utf-8"
GZIP = "application/x-gzip"
#: URLs in the sitemap bomb: twice the protocol's 50,000.
BOMB_URLS = 100_000

Answer = tuple[int, bytes, str]


def _home(portal: Portal, head: str = "") -> bytes:
    """A home page that links no article: discovery must find them elsewhere."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(portal.site_name)}'
        f"</title>{head}</head><body><h1>{escape(portal.site_name)}</h1>"
        '<p><a href="/about.html">关于我们</a></p></body></html>'
    ).encode()


def _urlset(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        + "".join(items)
        + "</urlset>\n"
    ).encode()


def _index(children: Sequence[tuple[str, datetime | None]]) -> bytes:
    body = "".join(
        f"<sitemap><loc>{xml_escape(loc)}</loc>"
        + (f"<lastmod>{mod.isoformat()}</lastmod>" if mod else "")
        + "</sitemap>\n"
        for loc, mod in children
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{body}</sitemapindex>\n'
    ).encode()


def _news_item(base: str, portal: Portal, art: ArticleTruth) -> str:
    return (
        f"<url><loc>{xml_escape(art.url(base))}</loc>"
        f"<lastmod>{art.last_modified.isoformat()}</lastmod><news:news><news:publication>"
        f"<news:name>{xml_escape(portal.site_name)}</news:name><news:language>zh</news:language>"
        f"</news:publication><news:publication_date>{art.published_at.isoformat()}"
        f"</news:publication_date><news:title>{xml_escape(art.title)}</news:title></news:news>"
        "</url>\n"
    )


def _day(art: ArticleTruth) -> str:
    return art.published_at.astimezone(TZ).strftime("%Y-%m-%d")


def _days(portal: Portal) -> dict[str, list[ArticleTruth]]:
    days: dict[str, list[ArticleTruth]] = {}
    for art in portal.articles():
        days.setdefault(_day(art), []).append(art)
    return days


def _day_path(day: str) -> str:
    """Every other day's sitemap is gzipped (``.xml.gz``), as many portals do for old days."""
    return f"/sitemaps/news-{day}.xml" + (".gz" if int(day[-2:]) % 2 else "")


def sitemaps_route(portal: Portal, base: str, path: str) -> Answer | None:
    """Portal (a): robots.txt → index of months → index of days → daily news sitemaps."""
    days = _days(portal)
    if path == "/robots.txt":
        robots = f"User-agent: *\nDisallow: /admin/\n\nSitemap: {base}/sitemaps/index.xml\n"
        return 200, robots.encode(), "text/plain"
    if path in ("/", "/index.html"):
        return 200, _home(portal), "text/html; charset=utf-8"
    months: dict[str, list[str]] = {}
    for day in sorted(days):
        months.setdefault(day[:7], []).append(day)
    if path == "/sitemaps/index.xml":
        children = [
            (f"{base}/sitemaps/month-{m}.xml", _newest(a for d in ds for a in days[d]))
            for m, ds in sorted(months.items())
        ]
        return 200, _index(children), XML
    if path.startswith("/sitemaps/month-") and path.endswith(".xml"):
        month = path[len("/sitemaps/month-") : -len(".xml")]
        children = [(base + _day_path(d), _newest(days[d])) for d in months.get(month, [])]
        return (200, _index(children), XML) if children else None
    for day, arts in days.items():
        if path == _day_path(day):
            xml = _urlset([_news_item(base, portal, a) for a in arts])
            return (
                (200, gzip.compress(xml, mtime=0), GZIP)
                if path.endswith(".gz")
                else (
                    200,
                    xml,
                    XML,
                )
            )
    return None


def _newest(arts: Iterable[ArticleTruth]) -> datetime | None:
    times = [a.last_modified for a in arts]
    return max(times) if times else None


def _rss(base: str, portal: Portal, arts: list[ArticleTruth], date: Callable[..., str]) -> bytes:
    items = "".join(
        f"<item><title>{xml_escape(a.title)}</title><link>{xml_escape(a.url(base))}</link>"
        f"<guid>{xml_escape(a.url(base))}</guid><pubDate>{date(a)}</pubDate></item>\n"
        for a in arts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{xml_escape(portal.site_name)}</title><link>{base}/</link>"
        f"<description>RSS</description>\n{items}</channel></rss>\n"
    ).encode()


def _rfc822(art: ArticleTruth) -> str:
    return format_datetime(art.published_at.astimezone(UTC), usegmt=True)


def _atom(base: str, portal: Portal, arts: list[ArticleTruth]) -> bytes:
    entries = "".join(
        f"<entry><title>{xml_escape(a.title)}</title>"
        f'<link rel="alternate" href="{xml_escape(a.url(base))}"/>'
        f"<id>{xml_escape(a.url(base))}</id><published>{a.published_at.isoformat()}</published>"
        f"<updated>{a.last_modified.isoformat()}</updated></entry>\n"
        for a in arts
    )
    updated = _newest(arts) or datetime(2020, 1, 1, tzinfo=TZ)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{xml_escape(portal.site_name)}</title><id>{base}/</id>"
        f"<updated>{updated.isoformat()}</updated>\n{entries}</feed>\n"
    ).encode()


def feeds_route(portal: Portal, base: str, path: str) -> Answer | None:
    """Portal (b): the home page announces /rss.xml (even article ids) and /atom.xml (odd)."""
    arts = portal.articles()
    if path in ("/", "/index.html"):
        head = (
            '<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">'
            '<link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml">'
        )
        return 200, _home(portal, head), "text/html; charset=utf-8"
    if path == "/rss.xml":
        even = [a for a in arts if a.article_id % 2 == 0]
        return 200, _rss(base, portal, even, _rfc822), "application/rss+xml; charset=utf-8"
    if path == "/atom.xml":
        odd = [a for a in arts if a.article_id % 2 == 1]
        return 200, _atom(base, portal, odd), "application/atom+xml; charset=utf-8"
    return None


#: The broken inputs of portal (e), by path, and the skip reason each must be counted under.
BROKEN_REASONS = {
    "/sitemap-page.xml": "sitemap_html",
    "/sitemap-cut.xml.gz": "sitemap_truncated_gzip",
    "/sitemap-garbage.xml": "sitemap_not_xml",
    "/sitemap-loop.xml": "sitemap_seen",
    "/sitemap-100k.xml": "sitemap_too_many_urls",
    "/feed-bad-dates.xml": "feed_date_unreadable",
}
_bomb_cache: dict[str, bytes] = {}


def broken_route(portal: Portal, base: str, path: str) -> Answer | None:
    """Portal (e): the first half of the articles in a good sitemap, the rest in a feed whose
    dates are unreadable, and the broken inputs of `BROKEN_REASONS` beside them."""
    arts = portal.articles()
    half = len(arts) // 2
    if path == "/robots.txt":
        # The 100k set is reached through the looping index only.
        announced = ["/sitemap-good.xml", *list(BROKEN_REASONS)[:4]]
        lines = "".join(f"Sitemap: {base}{p}\n" for p in announced)
        robots = "User-agent: *\nDisallow: /admin/\n" + lines
        return 200, robots.encode(), "text/plain"
    if path in ("/", "/index.html"):
        head = '<link rel="alternate" type="application/rss+xml" href="/feed-bad-dates.xml">'
        return 200, _home(portal, head), "text/html; charset=utf-8"
    if path == "/sitemap-good.xml":
        return 200, _urlset([_news_item(base, portal, a) for a in arts[:half]]), XML
    if path == "/sitemap-page.xml":
        return 200, _home(portal), "text/html; charset=utf-8"
    if path == "/sitemap-cut.xml.gz":
        whole = gzip.compress(_urlset([_news_item(base, portal, a) for a in arts[:half]]))
        return 200, whole[: len(whole) * 2 // 3], GZIP
    if path == "/sitemap-garbage.xml":
        return 200, b"\x00\x01 this is not { xml ]]>" * 20, XML
    if path == "/sitemap-loop.xml":
        children = [(f"{base}/sitemap-loop.xml", None), (f"{base}/sitemap-100k.xml", None)]
        return 200, _index(children), XML
    if path == "/sitemap-100k.xml":
        if base not in _bomb_cache:
            items = [f"<url><loc>{base}/bomb/{i}.html</loc></url>\n" for i in range(BOMB_URLS)]
            _bomb_cache[base] = _urlset(items)
        return 200, _bomb_cache[base], XML
    if path == "/feed-bad-dates.xml":
        return (
            200,
            _rss(base, portal, arts[half:], lambda a: "yesterday-ish, 32 Foo 20xx"),
            "application/rss+xml; charset=utf-8",
        )
    return None


ROUTES: dict[Kind, Callable[[Portal, str, str], Answer | None]] = {
    "sitemaps": sitemaps_route,
    "feeds": feeds_route,
    "broken": broken_route,
}


class _DiscoveryHandler(_Handler):
    """The demo portal's handler with one discovery portal's paths answered first."""

    kind: Kind = "sitemaps"

    def _respond(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        host, port = self.server.server_address[:2]
        base = f"http://{host!s}:{port}"
        with self.server.portal.lock:
            answer = ROUTES[self.kind](self.server.portal, base, path)
        if answer is None:
            super()._respond(send_body)
            return
        with self.server.requests_lock:
            self.server.requests.append(self.path)
        status, body, ctype = answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class DiscoveryServer(PortalServer):
    """One discovery portal served on loopback; `count` tells requests per path."""

    def __init__(self, portal: Portal, kind: Kind, host: str = "127.0.0.1", port: int = 0):
        handler = type(f"{kind.title()}Handler", (_DiscoveryHandler,), {"kind": kind})
        super().__init__(portal, host, port, handler)
        self.kind = kind

    def count(self) -> Counter[str]:
        """Requests per path (query left out)."""
        return Counter(p.split("?", 1)[0] for p in self.requests)

    def article_requests(self) -> int:
        """Requests of article pages (the demo's ``/<section>/YYYY-MM/DD/content_N.html``)."""
        from crawler.demo.render import ARTICLE_RE

        return sum(n for path, n in self.count().items() if ARTICLE_RE.match(path))


def serve_discovery(portal: Portal, kind: Kind) -> DiscoveryServer:
    """Start portal ``kind`` (``sitemaps``, ``feeds``, ``broken``) on a free loopback port."""
    return DiscoveryServer(portal, kind)
