"""Feeds: RSS 0.9x/1.0/2.0 and Atom through feedparser, feed discovery from HTML, bad dates."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.discovery import Limits, feed_links, parse_feed

RSS2 = b"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>
<item><title>A</title><link>https://x.com/a/1.html</link><pubDate>Sat, 03 Oct 2020 09:30:00 +0800</pubDate></item>
<item><title>B</title><link>/a/2.html</link><pubDate>the day before yesterday</pubDate></item>
<item><title>no link</title></item>
</channel></rss>"""

RSS091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>t</title><link>https://x.com/</link>
<description>d</description><item><title>A</title><link>https://x.com/a/9.html</link></item></channel></rss>"""

RSS1 = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://x.com/"><title>t</title><link>https://x.com/</link><description>d</description></channel>
<item rdf:about="https://x.com/a/3.html"><title>C</title><link>https://x.com/a/3.html</link>
<dc:date>2020-10-03T09:30:00+08:00</dc:date></item></rdf:RDF>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<id>x</id><updated>2020-10-04T00:00:00Z</updated>
<entry><title>D</title><link rel="alternate" href="https://x.com/a/4.html"/><id>4</id>
<published>2020-10-03T09:30:00+08:00</published><updated>2020-10-04T10:00:00+08:00</updated></entry>
</feed>"""


def test_rss2_entries_dates_and_relative_links() -> None:
    parsed = parse_feed(RSS2, "https://x.com/rss.xml")
    assert [(e.url, e.title, e.source) for e in parsed.entries] == [
        ("https://x.com/a/1.html", "A", "feed"),
        ("https://x.com/a/2.html", "B", "feed"),
    ]
    assert parsed.entries[0].published == datetime(2020, 10, 3, 1, 30, tzinfo=UTC)
    # An unreadable date: the entry is kept without it, and the skip is counted.
    assert parsed.entries[1].published is None
    assert parsed.skips == ["feed_date_unreadable"]


def test_rss091_rss1_and_atom() -> None:
    assert [e.url for e in parse_feed(RSS091, "https://x.com/f").entries] == [
        "https://x.com/a/9.html"
    ]
    (rdf,) = parse_feed(RSS1, "https://x.com/f").entries
    assert rdf.url == "https://x.com/a/3.html"
    assert rdf.when == datetime(2020, 10, 3, 1, 30, tzinfo=UTC)
    (atom,) = parse_feed(ATOM, "https://x.com/f").entries
    assert atom.published == datetime(2020, 10, 3, 1, 30, tzinfo=UTC)
    assert atom.lastmod == datetime(2020, 10, 4, 2, 0, tzinfo=UTC)
    assert atom.when == atom.lastmod


def test_html_garbage_and_size() -> None:
    assert parse_feed(b"<!doctype html><html></html>", "u").skips == ["feed_html"]
    assert parse_feed(b"\x00\x01{ not a feed", "u").skips == ["feed_not_xml"]
    assert parse_feed(RSS2, "u", Limits(max_bytes=100)).skips == ["feed_too_large"]


def test_a_url_string_is_never_fetched_or_opened() -> None:
    # feedparser given a str would fetch it; parse_feed hands it bytes only.
    assert parse_feed(b"https://x.com/rss.xml", "u").skips == ["feed_not_xml"]


def test_feed_links_from_link_rel_alternate() -> None:
    html = """<html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="atom.xml">
    <link rel="alternate" type="text/html" href="/en/">
    <link rel="stylesheet" type="application/rss+xml" href="/not-a-feed.xml">
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    </head><body><a rel="alternate" type="application/rss+xml" href="/body.xml">x</a></body></html>"""
    assert feed_links(html, "https://x.com/news/") == [
        "https://x.com/rss.xml",
        "https://x.com/news/atom.xml",
    ]
