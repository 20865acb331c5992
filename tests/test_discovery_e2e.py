"""End to end: real `zhengwen crawl` runs on the discovery portals (issue 16), over HTTP.

(a) articles only in a sitemap index of daily Google News sitemaps, (b) only in an RSS and an
Atom feed, (e) broken inputs beside good ones. Each portal counts its requests per path, so the
tests measure what a run fetched: every article once on a first run, only the new ones later.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.demo import DEMO_TOML
from crawler.demo.content import TZ, Portal
from crawler.demo.discovery_portals import BROKEN_REASONS, DiscoveryServer, Kind, serve_discovery
from crawler.demo.render import ARTICLE_RE
from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl, run

N = 30


@pytest.fixture
def portal() -> Portal:
    return Portal.generate(n_articles=N, seed=424242)


def serving(portal: Portal, kind: Kind) -> Iterator[DiscoveryServer]:
    server = serve_discovery(portal, kind)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sitemaps(portal: Portal) -> Iterator[DiscoveryServer]:
    yield from serving(portal, "sitemaps")


@pytest.fixture
def feeds(portal: Portal) -> Iterator[DiscoveryServer]:
    yield from serving(portal, "feeds")


@pytest.fixture
def broken(portal: Portal) -> Iterator[DiscoveryServer]:
    yield from serving(portal, "broken")


def config(tmp_path: Path, server: DiscoveryServer, extra: str = "") -> Path:
    """The demo's config (its article patterns) pointed at a discovery portal."""
    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/")
    text = text.replace('name = "demo"', f'{extra}\nname = "{server.kind}"')
    path = tmp_path / f"{server.kind}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def stored_urls(archive: Path, site: str) -> set[str]:
    with Database(ArchivePaths(archive).default_db_url) as db:
        return {a.url for a in db.iter_articles(site)}


def last_run(archive: Path, site: str) -> dict[str, Any]:
    with Database(ArchivePaths(archive).default_db_url) as db:
        run = db.runs(site, limit=1)[0]
    assert run.status == "ok"
    return run.counters


def add_recent(portal: Portal, n: int) -> list[str]:
    """Articles published minutes ago (after the first run started)."""
    now = datetime.now(TZ).replace(microsecond=0)
    return [portal.add_article(published_at=now - timedelta(minutes=10 + i)).path for i in range(n)]


def article_paths(server: DiscoveryServer, since: int) -> list[str]:
    return [p for p in server.requests[since:] if ARTICLE_RE.match(p.split("?", 1)[0])]


def two_runs(
    tmp_path: Path, portal: Portal, server: DiscoveryServer, source: str
) -> list[dict[str, Any]]:
    """First run: every article, fetched once. Second run after 3 new articles: only those.
    Returns both runs' figures (recall, pages fetched per stored article)."""
    cfg, archive, site = config(tmp_path, server), tmp_path / "archive", server.kind
    first = crawl(tmp_path, cfg, archive, "--quiet")
    truth = {a.url(server.url) for a in portal.articles()}
    assert stored_urls(archive, site) == truth  # recall 100 %
    fetched = article_paths(server, 0)
    assert sorted(fetched) == sorted(set(fetched)) and len(fetched) == N
    c = last_run(archive, site)
    assert c["discovered"] == {source: N}
    assert c["articles_new"] == N and c["errors"] == {}
    assert f"found by: {source} {N}" in first.stdout
    figures = [{"recall": 1.0, "pages_per_article": len(fetched) / N}]

    new = add_recent(portal, 3)
    mark = len(server.requests)
    crawl(tmp_path, cfg, archive, "--quiet")
    assert stored_urls(archive, site) == truth | {server.url + p for p in new}
    fetched = article_paths(server, mark)
    assert sorted(fetched) == sorted(new)
    c = last_run(archive, site)
    assert c["articles_new"] == 3 and c["discovered"] == {source: 3}
    per_article = len(fetched) / c["articles_new"]
    assert per_article <= 1.05
    figures.append({"recall": 1.0, "pages_per_article": per_article, "counters": c})
    return figures


def test_sitemap_index_of_daily_news_sitemaps(
    tmp_path: Path, portal: Portal, sitemaps: DiscoveryServer
) -> None:
    second = two_runs(tmp_path, portal, sitemaps, "news_sitemap")[1]["counters"]
    hits = sitemaps.count()
    # Announced in robots.txt: the default paths are not probed; no list page was walked.
    assert hits["/sitemap.xml"] == hits["/sitemap_index.xml"] == 0
    assert not any(p.endswith("index.html") and p != "/index.html" for p in hits)
    assert any(p.endswith(".xml.gz") for p in hits), "gzipped daily sitemaps were read"
    # The second run read the index again, and only the sitemaps changed since the first run.
    old_days = [p for p in hits if p.startswith("/sitemaps/news-2020")]
    assert old_days and all(hits[p] == 1 for p in old_days)
    assert all(hits[p] == 1 for p in hits if p.startswith("/sitemaps/month-2020"))
    assert hits["/sitemaps/index.xml"] == 2
    assert "archived" not in second["skipped"], "old entries were not even read"
    assert second["skipped"]["sitemap_unchanged"] == len(
        [p for p in hits if p.startswith("/sitemaps/month-2020")]
    )


def test_rss_and_atom_feeds_announced_by_the_home_page(
    tmp_path: Path, portal: Portal, feeds: DiscoveryServer
) -> None:
    second = two_runs(tmp_path, portal, feeds, "feed")[1]["counters"]
    # A feed lists the old articles again: each skipped as archived, none fetched.
    assert second["skipped"]["archived"] == N
    hits = feeds.count()
    assert hits["/rss.xml"] == hits["/atom.xml"] == 2
    # robots.txt announces no sitemap, but the home page's feeds cover the site: the default
    # sitemap paths are not probed (they would be at the first idle otherwise).
    assert hits["/sitemap.xml"] == hits["/sitemap_index.xml"] == 0


def test_broken_inputs_are_skips_and_every_other_article_is_stored(
    tmp_path: Path, portal: Portal, broken: DiscoveryServer
) -> None:
    archive = tmp_path / "archive"
    result = crawl(tmp_path, config(tmp_path, broken), archive, "--quiet")
    assert stored_urls(archive, "broken") == {a.url(broken.url) for a in portal.articles()}
    c = last_run(archive, "broken")
    assert c["errors"] == {}
    for path, reason in BROKEN_REASONS.items():
        assert c["skipped"].get(reason, 0) >= 1, (path, reason)
        assert f"{reason} " in result.stdout
    # The bad dates cost the dates, not the entries: each kept, each counted.
    assert c["skipped"]["feed_date_unreadable"] == N - N // 2
    assert c["discovered"] == {"news_sitemap": N // 2, "feed": N - N // 2}
    # The 100,000 URLs were read up to the protocol's bound and none is an article.
    assert not any(p.startswith("/bomb/") for p in broken.count())
    runs = run([sys.executable, "-m", "crawler.cli", "runs", "--archive", str(archive)], tmp_path)
    assert runs.returncode == 0 and f"feed {N - N // 2}, news_sitemap {N // 2}" in runs.stdout


def test_configured_sitemap_without_discovery_and_the_listed_date_as_fallback(
    tmp_path: Path, portal: Portal, sitemaps: DiscoveryServer
) -> None:
    portal.hide_dates = True  # article pages print no publication time
    extra = f'discover = false\nsitemaps = ["{sitemaps.url}/sitemaps/index.xml"]'
    archive = tmp_path / "archive"
    crawl(tmp_path, config(tmp_path, sitemaps, extra), archive, "--quiet")
    hits = sitemaps.count()
    assert hits["/robots.txt"] == 1  # Scrapy's own robots.txt check; the spider read none
    truth = {a.url(sitemaps.url): a.published_at for a in portal.articles()}
    with Database(ArchivePaths(archive).default_db_url) as db:
        dates = {a.url: a.published_at for a in db.iter_articles("sitemaps")}
    assert dates == truth
