"""Incremental crawls against a portal that changes between runs (real HTTP, SQLite, Parquet).

The portal runs in this process and records every request path, so the tests count exactly what
each run fetched; the run records must say the same.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from crawler.demo.content import Portal
from crawler.demo.render import ARTICLE_RE, route
from crawler.demo.server import PortalServer
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.conftest import N_ARTICLES
from tests.test_crawl_e2e import crawl, crawl_cmd, crawl_env, run, site_config


def article_requests(server: PortalServer, since: int) -> list[str]:
    return [p for p in server.requests[since:] if ARTICLE_RE.match(p.split("?")[0])]


def list_requests(server: PortalServer, since: int) -> list[str]:
    return [
        p
        for p in server.requests[since:]
        if not ARTICLE_RE.match(p.split("?")[0]) and p != "/robots.txt"
    ]


def test_three_runs_fetch_only_what_changed_and_keep_history(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    paths = ArchivePaths(archive)
    base = server.url

    # Run 1: everything is new.
    crawl(tmp_path, config, archive, "--quiet")
    assert len(article_requests(server, 0)) == N_ARTICLES

    # Between runs: two articles published, one edited, one removed.
    articles = portal.articles()
    etags = {a.path: route(portal, a.path).etag for a in articles}
    edited = portal.edit_body(articles[5].path)
    removed = portal.remove_article(articles[9].path)
    added = [portal.add_article(), portal.add_article()]
    # The new headlines also change the sidebar of some pages (and so their ETag), as on real
    # portals: those re-checks come back with a body and the same text.
    live = [a for a in articles if a.path != removed.path]
    resent = {a.path for a in live if route(portal, a.path).etag != etags[a.path]}
    assert edited.path in resent and len(resent) < len(live)
    not_modified = len(live) - len(resent)

    # Run 2: every archived article is re-checked once (conditional), the two new ones fetched.
    mark = len(server.requests)
    second = crawl(tmp_path, config, archive, "--quiet")
    fetched = article_requests(server, mark)
    assert len(fetched) == N_ARTICLES + 2
    assert sorted(set(fetched)) == sorted(fetched)
    assert (
        f"articles 2 new, 1 changed, {N_ARTICLES - 2} unchanged ({not_modified} not modified), "
        "1 removed" in second.stdout
    )

    with Database(paths.default_db_url) as db:
        runs = db.runs("testportal")
        c = runs[0].counters
        assert c["article_pages"] == len(resent) + 2
        assert (c["articles_not_modified"], c["articles_removed"]) == (not_modified, 1)
        assert (c["articles_new"], c["articles_changed"]) == (2, 1)
        # History: the edited article has both texts, the old one untouched.
        versions = db.versions(edited.url(base))
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].body.splitlines() == list(articles[5].body)
        assert versions[1].body.splitlines() == list(edited.body)
        assert versions[0].first_seen < versions[1].first_seen
        # Removal: marked with a time, the article kept.
        gone = db.removed("testportal")
        assert set(gone) == {removed.url(base)}
        assert db.get_article(removed.url(base)) is not None
        assert db.count_articles("testportal") == N_ARTICLES + 2
        for new in added:
            assert db.get_article(new.url(base)) is not None
    # `zhengwen history` shows both versions and the added paragraph as a diff line.
    shown = run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "history",
            edited.url(base),
            "--archive",
            str(archive),
        ],
        tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    assert "version 1:" in shown.stdout and "version 2:" in shown.stdout
    added_line = next(p for p in edited.body if p not in articles[5].body)
    assert f"+{added_line}" in shown.stdout.splitlines()
    gone_shown = run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "history",
            removed.url(base),
            "--archive",
            str(archive),
        ],
        tmp_path,
    )
    assert "removed from the site" in gone_shown.stdout
    missing = run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "history",
            base + "/nope.html",
            "--archive",
            str(archive),
        ],
        tmp_path,
    )
    assert missing.returncode == 1 and "has no article" in missing.stderr
    # Parquet keeps one row per version: 30 + 2 new + 1 edit.
    assert ParquetDataset(paths.parquet_dir).count("testportal") == N_ARTICLES + 3

    # Run 3, nothing changed: list pages again, every live archived article answers 304, no
    # article body is transferred, the removed one is not asked for again.
    run2_lists = sorted(list_requests(server, mark))
    mark = len(server.requests)
    third = crawl(tmp_path, config, archive, "--quiet")
    assert len(article_requests(server, mark)) == N_ARTICLES + 1
    assert removed.path not in server.requests[mark:]
    assert (
        f"articles 0 new, 0 changed, {N_ARTICLES + 1} unchanged ({N_ARTICLES + 1} not modified)"
        in third.stdout
    )
    assert sorted(list_requests(server, mark)) == run2_lists
    with Database(paths.default_db_url) as db:
        runs = db.runs("testportal")
        c = runs[0].counters
        assert (c["article_pages"], c["articles_not_modified"]) == (0, N_ARTICLES + 1)
        assert c["skipped"].get("removed_before") is None  # not linked, not re-checked
        assert [r.status for r in runs] == ["ok", "ok", "ok"]
        assert len(db.versions(edited.url(base))) == 2
    assert ParquetDataset(paths.parquet_dir).count("testportal") == N_ARTICLES + 3


def test_second_run_outside_the_window_fetches_list_pages_and_no_article(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server, recheck_days=0)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    first_lists = list_requests(server, 0)
    mark = len(server.requests)
    second = crawl(tmp_path, config, archive, "--quiet")
    assert article_requests(server, mark) == []
    assert sorted(list_requests(server, mark)) == sorted(first_lists)
    assert "articles 0 new, 0 changed, 0 unchanged" in second.stdout
    with Database(ArchivePaths(archive).default_db_url) as db:
        c = db.runs("testportal")[0].counters
    assert c["skipped"]["archived"] == N_ARTICLES
    assert c["article_pages"] == 0


def _count(sqlite_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_killed_crawl_resumes_without_refetching_or_duplicating(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    # Slow enough to be killed mid-way: one request at a time, 0.3 s apart (about 10 s for the
    # portal); killed right after the first batch of articles was acknowledged by SQL.
    config = site_config(tmp_path, server, recheck_days=0)
    text = config.read_text(encoding="utf-8").replace("download_delay = 0", "download_delay = 0.3")
    config.write_text(text.replace("concurrency = 8", "concurrency = 1"), encoding="utf-8")
    archive = tmp_path / "archive"
    paths = ArchivePaths(archive)
    proc = subprocess.Popen(
        crawl_cmd(config, archive, "--quiet"),
        cwd=tmp_path,
        env=crawl_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _count(paths.sqlite_path) == 0 and time.monotonic() < deadline:
            assert proc.poll() is None, "the crawl ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with Database(paths.default_db_url) as db:
        before = {a.url for a in db.iter_articles("testportal")}
    assert 1 <= len(before) < N_ARTICLES

    mark = len(server.requests)
    crawl(tmp_path, config, archive, "--quiet")
    refetched = {server.url + p for p in article_requests(server, mark)}
    assert not refetched & before  # what was stored is not fetched again
    with Database(paths.default_db_url) as db:
        stored = [a.url for a in db.iter_articles("testportal")]
    assert sorted(stored) == sorted(t.url(server.url) for t in portal.articles())
    rows = ParquetDataset(paths.parquet_dir).read_table("testportal").column("url").to_pylist()
    assert sorted(rows) == sorted(stored)  # every article once, none twice
