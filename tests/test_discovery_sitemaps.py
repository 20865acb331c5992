"""Sitemaps: robots.txt lines, indexes, URL sets, Google News sitemaps, gzip, and every bound."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from crawler.discovery import DiscoveryRun, Limits, default_sitemap_urls, parse_sitemap
from crawler.discovery.sitemaps import sitemaps_from_robots

TZ = ZoneInfo("Asia/Shanghai")
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def urlset(*items: str) -> bytes:
    return f'<?xml version="1.0"?><urlset {NS} {NEWS}>{"".join(items)}</urlset>'.encode()


def index(*locs: str, lastmod: str = "") -> bytes:
    mod = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    kids = "".join(f"<sitemap><loc>{loc}</loc>{mod}</sitemap>" for loc in locs)
    return f'<?xml version="1.0"?><sitemapindex {NS}>{kids}</sitemapindex>'.encode()


NEWS_ITEM = (
    "<url><loc>https://news.example.com/a/1.html</loc><lastmod>2020-10-04</lastmod>"
    "<news:news><news:publication><news:name>晨报</news:name><news:language>zh</news:language>"
    "</news:publication><news:publication_date>2020-10-03T09:30:00+08:00</news:publication_date>"
    "<news:title>全市新建道路</news:title></news:news></url>"
)


def test_robots_sitemap_lines_are_absolute_and_once_each() -> None:
    body = b"User-agent: *\nDisallow: /a/\nSitemap: /s1.xml\nsitemap: https://x.com/s2.xml\nSitemap: /s1.xml\n"
    assert sitemaps_from_robots(body, "https://x.com/robots.txt") == [
        "https://x.com/s1.xml",
        "https://x.com/s2.xml",
    ]


def test_default_paths_are_the_origins() -> None:
    assert default_sitemap_urls("http://127.0.0.1:8765/news/") == [
        "http://127.0.0.1:8765/sitemap.xml",
        "http://127.0.0.1:8765/sitemap_index.xml",
    ]


def test_news_sitemap_entry_has_publication_time_title_and_lastmod() -> None:
    parsed = parse_sitemap(urlset(NEWS_ITEM), "https://news.example.com/sitemap.xml", TZ)
    (entry,) = parsed.entries
    assert entry.source == "news_sitemap"
    assert entry.url == "https://news.example.com/a/1.html"
    assert entry.published == datetime(2020, 10, 3, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert entry.lastmod == datetime(2020, 10, 4, tzinfo=TZ)  # a date alone: the site's zone
    assert entry.title == "全市新建道路"
    assert parsed.skips == [] and parsed.children == []


def test_plain_urlset_and_an_unreadable_lastmod() -> None:
    body = urlset(
        "<url><loc>https://x.com/1.html</loc><lastmod>2020-10-03T01:00Z</lastmod></url>",
        "<url><loc>https://x.com/2.html</loc><lastmod>last tuesday</lastmod></url>",
        "<url><loc>javascript:alert(1)</loc></url>",
    )
    parsed = parse_sitemap(body, "https://x.com/sitemap.xml", TZ)
    assert [(e.url, e.source) for e in parsed.entries] == [
        ("https://x.com/1.html", "sitemap"),
        ("https://x.com/2.html", "sitemap"),
    ]
    assert parsed.entries[0].lastmod == datetime(2020, 10, 3, 1, tzinfo=UTC)
    assert parsed.entries[1].lastmod is None
    assert parsed.skips == ["sitemap_date_unreadable"]


def test_index_children_with_lastmod_and_gzipped_bodies() -> None:
    body = gzip.compress(
        index("https://x.com/a.xml.gz", "https://x.com/b.xml", lastmod="2020-10-03")
    )
    parsed = parse_sitemap(body, "https://x.com/index.xml.gz", TZ)
    assert [c.url for c in parsed.children] == ["https://x.com/a.xml.gz", "https://x.com/b.xml"]
    assert parsed.children[0].lastmod == datetime(2020, 10, 3, tzinfo=TZ)
    assert parsed.entries == []


def test_broken_inputs_are_skips_with_their_reason() -> None:
    whole = gzip.compress(urlset(NEWS_ITEM * 50))
    cases = {
        "sitemap_truncated_gzip": whole[: len(whole) // 2],
        "sitemap_html": b"<!DOCTYPE html><html><body><a href='/a/1.html'>x</a></body></html>",
        "sitemap_not_xml": b"\x00\x01 not { xml",
    }
    for reason, body in cases.items():
        parsed = parse_sitemap(body, "https://x.com/s.xml", TZ)
        assert parsed.skips == [reason], reason
        assert parsed.entries == [] and parsed.children == []
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>'
    assert parse_sitemap(rss, "https://x.com/s.xml", TZ).skips == ["sitemap_not_xml"]


def test_size_bounds_before_and_after_decompression() -> None:
    body = urlset(NEWS_ITEM * 200)
    assert parse_sitemap(body, "u", TZ, Limits(max_bytes=1000)).skips == ["sitemap_too_large"]
    small = gzip.compress(body)
    assert len(small) < 1000 < len(body)
    limits = Limits(max_bytes=1000, max_decompressed=2000)
    assert parse_sitemap(small, "u", TZ, limits).skips == ["sitemap_too_large"]


def test_a_urlset_is_read_up_to_the_protocols_bound() -> None:
    items = [f"<url><loc>https://x.com/{i}.html</loc></url>" for i in range(120)]
    parsed = parse_sitemap(urlset(*items), "u", TZ, Limits(max_urls_per_sitemap=100))
    assert len(parsed.entries) == 100
    assert parsed.skips == ["sitemap_too_many_urls"]


def test_entity_expansion_is_off() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://x.com/&b;</loc></url></urlset>"
    )
    for entry in parse_sitemap(bomb, "https://x.com/s.xml", TZ).entries:
        assert "aaaaaaaaaa" not in entry.url


def test_run_refuses_seen_deep_unchanged_and_over_cap_sitemaps() -> None:
    counted: list[str] = []
    since = datetime(2021, 1, 1, tzinfo=TZ)
    run = DiscoveryRun(Limits(max_depth=2, max_fetches=3), TZ, counted.append, since)
    assert run.want("https://x.com/index.xml", "sitemap")
    assert not run.want("https://x.com/index.xml", "sitemap")  # an index listing itself
    assert not run.want("https://x.com/deep.xml", "sitemap", depth=3)
    old = datetime(2020, 6, 1, tzinfo=TZ)
    assert not run.want("https://x.com/2020-06.xml", "sitemap", depth=1, lastmod=old)
    assert run.covered, "an index whose children were read before still covers the site"
    assert run.want("https://x.com/2021-02.xml", "sitemap", 1, datetime(2021, 2, 1, tzinfo=TZ))
    assert run.want("https://x.com/rss.xml", "feed")
    assert not run.want("https://x.com/atom.xml", "feed")
    assert counted == [
        "sitemap_seen",
        "sitemap_too_deep",
        "sitemap_unchanged",
        "discovery_fetches_cap",
    ]


def test_run_caps_entries_per_run() -> None:
    counted: list[str] = []
    run = DiscoveryRun(Limits(max_entries=150), TZ, counted.append)
    items = [f"<url><loc>https://x.com/{i}.html</loc></url>" for i in range(100)]
    assert len(run.read_sitemap(urlset(*items), "https://x.com/1.xml").entries) == 100
    assert len(run.read_sitemap(urlset(*items), "https://x.com/2.xml").entries) == 50
    assert len(run.read_sitemap(urlset(*items), "https://x.com/3.xml").entries) == 0
    assert counted == ["discovery_entries_cap", "discovery_entries_cap"]
