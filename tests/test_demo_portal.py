"""The demo portal over real HTTP: what the end-to-end crawl tests rely on must hold here first.

If these fail, a failing crawl test is about the portal, not the crawler.
"""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from html import escape
from urllib.parse import urljoin, urlsplit

import pytest

from crawler.demo import demo_site
from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve

Response = tuple[int, dict[str, str], bytes]
HREF = re.compile(r'href="([^"]+)"')


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
    """Status, headers and body, for error statuses too (closing them: filterwarnings=error)."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def links(base: str, html: str) -> list[str]:
    return [urljoin(base, h) for h in HREF.findall(html)]


@pytest.fixture(scope="module")
def portal() -> Portal:
    """Read-only: tests that change the site build their own."""
    return Portal.generate()


@pytest.fixture(scope="module")
def server(portal: Portal) -> Iterator[PortalServer]:
    with serve(portal) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[tuple[Portal, PortalServer]]:
    p = Portal.generate(n_articles=24, seed=7)
    with serve(p) as s:
        yield p, s


# --- content --------------------------------------------------------------------------------------


def test_generated_truth_has_the_variety_extraction_must_handle(portal: Portal) -> None:
    arts = portal.articles()
    assert len(arts) >= 40
    assert len({a.section for a in arts}) >= 3
    assert len({a.title for a in arts}) == len(arts)
    assert len({a.body_text for a in arts}) == len(arts)
    assert {a.author_style for a in arts} == {"byline", "byline_fullwidth", "reporter", "none"}
    assert any(a.editor is None for a in arts) and any(a.editor for a in arts)
    assert any(a.lead is None for a in arts) and any(a.lead for a in arts)
    assert any(a.headings for a in arts)
    assert len({a.source for a in arts}) >= 4 and any(a.source == "本站" for a in arts)
    for a in arts:
        assert a.published_at.year == 2020
        assert a.published_at.utcoffset() is not None
        assert str(a.published_at.tzinfo) == "Asia/Shanghai"
        assert a.published_at.microsecond == 0
        assert 4 <= len(a.body) <= 12
        assert (a.author is None) == (a.author_style == "none")
        assert not any(a.author and p.endswith(f"({a.author})") for p in a.body)
        assert a.path.startswith(f"/{a.section_slug}/{a.published_at:%Y-%m/%d}/content_")


def test_articles_are_not_near_duplicates_of_each_other(portal: Portal) -> None:
    """Articles share a sentence bank; dedupe tests need them clearly distinct all the same."""

    def shingles(text: str) -> set[str]:
        return {text[i : i + 5] for i in range(len(text) - 4)}

    sets = [shingles(a.body_text) for a in portal.articles()]
    worst = max(len(x & y) / len(x | y) for x, y in itertools.combinations(sets, 2))
    assert worst < 0.5


def test_same_seed_same_truth_other_seed_other_truth() -> None:
    assert Portal.generate(seed=11).articles() == Portal.generate(seed=11).articles()
    assert Portal.generate(seed=11).articles() != Portal.generate(seed=12).articles()
    assert len(Portal.generate(n_articles=7).articles()) == 7


# --- pages over HTTP ------------------------------------------------------------------------------


def test_home_page_links_sections_latest_articles_and_admin_once(
    portal: Portal, server: PortalServer
) -> None:
    status, headers, body = fetch(server.url + "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert int(headers["Content-Length"]) == len(body)
    assert b'content="text/html; charset=gb2312"' in body
    html = body.decode("gb18030")
    assert "法治晨报" in html
    found = links(server.url + "/", html)
    for s in portal.sections:
        assert f"{server.url}/{s.slug}/index.html" in found
    assert portal.articles()[0].url(server.url) in found
    assert found.count(server.url + "/admin/index.html") == 1
    assert any("/search?q=" in u for u in found) and server.url + "/about.html" in found


def test_section_pagination_reaches_every_article_exactly_once(
    portal: Portal, server: PortalServer
) -> None:
    site = demo_site(server.url).compiled()
    for section in portal.sections:
        url: str | None = f"{server.url}/{section.slug}/index.html"
        pages, seen = [], []
        while url is not None:
            status, _, body = fetch(url)
            assert status == 200, url
            html = body.decode("gb18030")
            found = links(url, html)
            on_page = [u for u in found if any(p.search(u) for p in site.article)]
            on_page = [u for u in on_page if f"/{section.slug}/" in u and "content_" in u]
            listed = re.findall(r'<ul class="list">(.*?)</ul>', html, re.S)[0]
            assert len(HREF.findall(listed)) <= portal.per_page
            seen += [urljoin(url, h) for h in HREF.findall(listed)]
            assert all(any(p.search(u) for p in site.article) for u in on_page)
            pages.append(url)
            nxt = re.search(r'<a href="([^"]+)">下一页</a>', html)
            url = urljoin(url, nxt.group(1)) if nxt else None
        truth = [a.url(server.url) for a in portal.section_articles(section.slug)]
        assert sorted(seen) == sorted(truth)
        assert len(seen) == len(set(seen))
        assert len(pages) == portal.page_count(section.slug) >= 2
        assert all(any(p.search(u) for p in site.pagination) for u in pages[1:])
        assert not any(p.search(pages[0]) for p in site.article)


def test_every_article_page_decodes_and_shows_its_truth(
    portal: Portal, server: PortalServer
) -> None:
    for art in portal.articles():
        status, headers, body = fetch(art.url(server.url))
        assert status == 200
        assert headers["Content-Type"] == "text/html"
        assert int(headers["Content-Length"]) == len(body)
        assert parsedate_to_datetime(headers["Last-Modified"]) == art.published_at
        assert headers["ETag"].startswith('"')
        html = body.decode("gb18030")
        assert f"<h1>{escape(art.title)}</h1>" in html
        assert f"来源:{art.source}" in html
        assert f"日期:{art.published_at:%Y-%m-%d %H:%M:%S}" in html
        assert f">{art.section}</a> &gt; 正文" in html
        assert f"(责任编辑:{art.editor or ''})" in html
        for paragraph in art.body:
            assert escape(paragraph) in html
        if art.lead:
            assert f"导读:</b> {escape(art.lead)}" in html
        expected_byline = {
            "byline": f"({art.author})</p>",
            "byline_fullwidth": f"（{art.author}）</p>",
            "reporter": f"作者:记者 {art.author}",
        }.get(art.author_style)
        if expected_byline:
            assert expected_byline in html


def test_gbk_only_characters_in_every_section(portal: Portal, server: PortalServer) -> None:
    """Declared gb2312, sent as GBK: a strict gb2312 decoder must fail on some pages."""
    failing_sections = set()
    for art in portal.articles():
        body = fetch(art.url(server.url))[2]
        body.decode("gbk")
        try:
            body.decode("gb2312")
        except UnicodeDecodeError:
            failing_sections.add(art.section_slug)
    assert failing_sections == {s.slug for s in portal.sections}


def test_robots_txt_disallows_only_admin(server: PortalServer) -> None:
    status, headers, body = fetch(server.url + "/robots.txt")
    assert status == 200 and headers["Content-Type"] == "text/plain"
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(body.decode("ascii").splitlines())
    assert not robots.can_fetch("zhengwen", server.url + "/admin/index.html")
    assert robots.can_fetch("zhengwen", server.url + "/jzfp/index_2.html")
    assert robots.can_fetch("zhengwen", server.url + "/")
    # Only robots.txt keeps a crawler out: by URL, the admin page looks like a list page.
    site = demo_site(server.url).compiled()
    assert any(p.search(server.url + "/admin/index.html") for p in site.listing)


def test_non_article_pages_and_unknown_paths(server: PortalServer) -> None:
    site = demo_site(server.url).compiled()
    for path in ("/about.html", "/search?q=%B7%F6%C6%B6", "/static/style.css"):
        assert fetch(server.url + path)[0] == 200
        url = server.url + path
        assert any(p.search(url) for p in site.deny), path
    assert "扶贫" in fetch(server.url + "/search?q=%E6%89%B6%E8%B4%AB")[2].decode("gb18030")
    # A character GBK lacks (U+FFFD, from a crawler that mangled the query): echoed as a
    # character reference, not a server error.
    status, _, body = fetch(server.url + "/search?q=%EF%BF%BD")
    assert status == 200
    assert "&#65533;" in body.decode("gb18030")
    for path in (
        "/nope",
        "/jzfp/index_1.html",
        "/jzfp/index_99.html",
        "/xxxx/index.html",
        "/jzfp/2020-01/01/content_1.html",
    ):
        status, _, body = fetch(server.url + path)
        assert status == 404, path
        assert "页面不存在" in body.decode("gb18030")


def test_head_and_conditional_requests(portal: Portal, server: PortalServer) -> None:
    url = portal.articles()[3].url(server.url)
    headers = fetch(url)[1]
    head = fetch(url, method="HEAD")
    assert head[0] == 200 and head[2] == b"" and head[1]["ETag"] == headers["ETag"]
    assert fetch(url, {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(url, {"If-None-Match": '"other"'})[0] == 200
    assert fetch(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(url, {"If-Modified-Since": "Wed, 01 Jan 2020 00:00:00 GMT"})[0] == 200


def test_header_charset_is_a_per_portal_option() -> None:
    with serve(Portal.generate(n_articles=3, header_charset="gbk")) as s:
        assert fetch(s.url + "/")[1]["Content-Type"] == "text/html; charset=gbk"


# --- changing the site ----------------------------------------------------------------------------


def _section_links(server: PortalServer, slug: str) -> list[str]:
    return links(
        f"{server.url}/{slug}/index.html",
        fetch(f"{server.url}/{slug}/index.html")[2].decode("gb18030"),
    )


def test_removed_article_is_404_and_no_longer_listed(fresh: tuple[Portal, PortalServer]) -> None:
    portal, server = fresh
    gone = portal.section_articles("fzyw")[0]
    assert fetch(gone.url(server.url))[0] == 200
    portal.remove_article(gone.path)
    assert fetch(gone.url(server.url))[0] == 404
    assert gone.url(server.url) not in _section_links(server, "fzyw")
    assert portal.article(gone.path) is None
    with pytest.raises(KeyError):
        portal.remove_article(gone.path)


def test_edit_is_visible_with_new_validators(fresh: tuple[Portal, PortalServer]) -> None:
    portal, server = fresh
    art = portal.articles()[5]
    _, before, _ = fetch(art.url(server.url))
    edited = portal.edit_body(art.path)
    assert len(edited.body) == len(art.body) + 1 and edited.body[-1] == art.body[-1]
    assert edited.updated_at is not None and edited.updated_at > art.published_at
    status, after, body = fetch(art.url(server.url), {"If-None-Match": before["ETag"]})
    assert status == 200
    assert after["ETag"] != before["ETag"]
    assert parsedate_to_datetime(after["Last-Modified"]) == edited.updated_at
    assert escape(edited.body[-2]) in body.decode("gb18030")
    retitled = portal.edit_article(art.path, ["只剩一段。", "还有一段。"], title="新标题")
    assert retitled.headings == () and retitled.body == ("只剩一段。", "还有一段。")
    assert "<h1>新标题</h1>" in fetch(art.url(server.url))[2].decode("gb18030")


def test_added_article_is_listed_first(fresh: tuple[Portal, PortalServer]) -> None:
    portal, server = fresh
    newest_before = portal.articles()[0]
    added = portal.add_article("shms")
    assert added.published_at > newest_before.published_at
    assert added.article_id > newest_before.article_id
    assert portal.articles()[0] == added
    assert added.url(server.url) in _section_links(server, "shms")
    assert fetch(added.url(server.url))[0] == 200
    again = Portal.generate(n_articles=24, seed=7)
    assert again.add_article("shms") == added


# --- config and entry point -----------------------------------------------------------------------


def test_demo_site_config_is_rebased_on_the_server(server: PortalServer) -> None:
    site = demo_site(server.url)
    assert site.name == "demo" and site.site_name == "法治晨报"
    assert site.start_urls == (server.url + "/",)
    assert site.allowed_domains == ("127.0.0.1",)
    assert site.encoding is None and site.allow_private
    assert site.politeness.download_delay == 0 and site.politeness.concurrency == 8
    assert site.politeness.obey_robots


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/jzfp/2020-10/03/content_123.html", "article"),
        ("/jzfp/index.html", "list"),
        ("/jzfp/index_2.html", "list"),
        ("/search?q=x", None),
        ("/about.html", None),
        ("/", None),
    ],
)
def test_url_patterns_tell_articles_from_lists(path: str, kind: str | None) -> None:
    """The spider's order: deny wins, then article, then list/pagination."""
    c = demo_site("http://127.0.0.1:1").compiled()
    url = "http://127.0.0.1:1" + path
    got: str | None = None
    if not any(p.search(url) for p in c.deny):
        if any(p.search(url) for p in c.article):
            got = "article"
        elif any(p.search(url) for p in c.listing + c.pagination):
            got = "list"
    assert got == kind
    assert not (any(p.search(url) for p in c.article) and any(p.search(url) for p in c.listing))


def test_module_entry_point_serves_until_interrupted() -> None:
    cmd = [sys.executable, "-m", "crawler.demo.server", "--port", "0", "--articles", "5"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        assert fetch(url.group(0) + "/")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert urlsplit(url.group(0)).port
