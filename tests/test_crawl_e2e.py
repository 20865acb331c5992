"""End to end: crawl the local test portal over real HTTP into real SQLite and Parquet.

The crawl runs in a subprocess (Twisted's reactor cannot be restarted inside one process); the
portal runs in this process on 127.0.0.1 and knows the truth of every article it serves.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crawler.demo import DEMO_TOML
from crawler.demo.content import ArticleTruth, Portal
from crawler.demo.server import PortalServer
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.conftest import N_ARTICLES

REPO = Path(__file__).resolve().parent.parent


#: Re-check every archived article on later runs (the demo's articles are from 2020), so that
#: reruns see edits; tests of the skip itself pass their own window.
RECHECK_ALL = 36_500.0


def site_config(
    tmp_path: Path, server: PortalServer, *, recheck_days: float = RECHECK_ALL, extra: str = ""
) -> Path:
    """The demo config pointed at this test's server, as a file a user could have written."""
    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/")
    text = text.replace('name = "demo"', 'name = "testportal"')
    text += f"\n[incremental]\nrecheck_days = {recheck_days}\n{extra}"
    path = tmp_path / "testportal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def crawl_env() -> dict[str, str]:
    """The environment of a crawl subprocess: this checkout first on the import path."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def crawl_cmd(config: Path, archive: Path, *extra: str) -> list[str]:
    """``zhengwen crawl CONFIG --archive ARCHIVE ...`` as a subprocess command line."""
    return [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        str(config),
        "--archive",
        str(archive),
        *extra,
    ]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=crawl_env(), capture_output=True, text=True, timeout=300, check=False
    )


def crawl(
    tmp_path: Path, config: Path, archive: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    result = run(crawl_cmd(config, archive, *extra), tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def assert_article_matches(stored: object, truth: ArticleTruth, base: str) -> None:
    from storage.article import Article

    assert isinstance(stored, Article)
    assert stored.url == truth.url(base)
    assert stored.site == "testportal"
    assert stored.title == truth.title
    assert stored.published_at == truth.published_at
    assert stored.source == truth.source
    assert stored.editor == truth.editor
    assert stored.category == truth.section
    assert stored.site_name == "法治晨报"
    assert stored.language == "zh"
    assert stored.body.splitlines() == list(truth.body)
    for chrome in ("当前位置", "责任编辑", "版权所有", "ICP", "回到顶部", "热点新闻"):
        assert chrome not in stored.body
    if truth.lead is not None:
        assert stored.lead == truth.lead


def test_crawl_archives_exactly_the_portal_and_rerun_adds_nothing(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    first = crawl(tmp_path, config, archive, "--quiet")
    assert f"articles {N_ARTICLES} new, 0 changed, 0 unchanged" in first.stdout
    assert "dropped: none; errors: none" in first.stdout

    truth = {t.url(server.url): t for t in portal.articles()}
    assert len(truth) == N_ARTICLES
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        stored = {a.url: a for a in db.iter_articles("testportal")}
        assert set(stored) == set(truth)
        for url, article in stored.items():
            assert_article_matches(article, truth[url], server.url)
        runs = db.runs("testportal")
    assert len(runs) == 1 and runs[0].status == "ok"
    assert runs[0].counters["articles_new"] == N_ARTICLES
    assert runs[0].counters["dropped"] == {}
    # The summary line names what was skipped (robots.txt, deny patterns...) as the record has it.
    skipped = runs[0].counters.get("skipped") or {}
    assert skipped, "the demo portal links to /admin/, which robots.txt disallows"
    assert "; skipped: " + ", ".join(f"{k} {v}" for k, v in skipped.items()) in first.stdout

    dataset = ParquetDataset(paths.parquet_dir)
    table = dataset.read_table("testportal")
    assert sorted(table.column("url").to_pylist()) == sorted(truth)
    for article in dataset.iter_articles("testportal"):
        assert_article_matches(article, truth[article.url], server.url)
    # Partitioned by site and publication date, readable by plain pyarrow.
    for part in paths.parquet_dir.glob("site=testportal/date=*/*.parquet"):
        assert pq.read_metadata(part).num_rows > 0
    # robots.txt keeps the crawler out of /admin/, deny patterns out of /search and /about.
    assert not any(p.startswith(("/admin", "/search", "/about")) for p in server.requests)

    second = crawl(tmp_path, config, archive, "--quiet")
    assert f"articles 0 new, 0 changed, {N_ARTICLES} unchanged" in second.stdout
    with Database(paths.default_db_url) as db:
        assert db.count_articles("testportal") == N_ARTICLES
        again = {a.url: a for a in db.iter_articles("testportal")}
        runs = db.runs("testportal")
    assert dataset.count("testportal") == N_ARTICLES
    assert [r.status for r in runs] == ["ok", "ok"]
    for url, article in again.items():
        assert article.first_seen == stored[url].first_seen
        assert article.last_seen is not None and stored[url].last_seen is not None
        assert article.last_seen > stored[url].last_seen
    # zhengwen check-archive: SQL, Parquet and the raw archive agree after both runs.
    check = run(
        [sys.executable, "-m", "crawler.cli", "check-archive", "--archive", str(archive)],
        tmp_path,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert " 0 differences " in check.stdout


def test_changed_article_updates_sql_and_adds_a_parquet_version(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    edited = portal.edit_body(portal.articles()[3].path)
    result = crawl(tmp_path, config, archive, "--quiet")
    assert f"articles 0 new, 1 changed, {N_ARTICLES - 1} unchanged" in result.stdout
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        assert db.count_articles("testportal") == N_ARTICLES
        article = db.get_article(edited.url(server.url))
    assert article is not None
    assert article.body.splitlines() == list(edited.body)
    assert ParquetDataset(paths.parquet_dir).count("testportal") == N_ARTICLES + 1


def test_scrapy_crawl_command_works_too(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    result = run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "portal",
            "-a",
            f"site={config}",
            "-s",
            f"ZHENGWEN_ARCHIVE_DIR={archive}",
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        REPO,
    )
    assert result.returncode == 0, result.stderr
    with Database(ArchivePaths(archive).default_db_url) as db:
        assert db.count_articles("testportal") == N_ARTICLES


def test_max_pages_bounds_the_crawl(tmp_path: Path, server: PortalServer) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet", "--max-pages", "5")
    with Database(ArchivePaths(archive).default_db_url) as db:
        runs = db.runs("testportal")
        stored = db.count_articles("testportal")
    # Five pages plus robots.txt, and the skipped links are recorded.
    assert runs[0].counters["pages_fetched"] == 5  # robots.txt is no page of the site
    assert runs[0].counters["skipped"]["max_pages"] > 0
    assert 0 < stored < 5


@pytest.mark.postgres
def test_crawl_into_postgresql(
    tmp_path: Path, pg_url: str, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet", "--db", pg_url)
    crawl(tmp_path, config, archive, "--quiet", "--db", pg_url)
    truth = {t.url(server.url): t for t in portal.articles()}
    with Database(pg_url) as db:
        stored = {a.url: a for a in db.iter_articles("testportal")}
        assert db.count_articles("testportal") == N_ARTICLES
    assert set(stored) == set(truth)
    for url, article in stored.items():
        assert_article_matches(article, truth[url], server.url)
    assert not ArchivePaths(archive).sqlite_path.exists()


def test_drops_are_counted_by_reason_in_stats_and_run_record(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    articles = portal.articles()
    portal.edit_article(
        articles[0].path, body=["今天上午，市政府召开新闻发布会，通报有关情况。"], lead=None
    )
    # Same text as another article of the site: an exact duplicate at a second URL.
    portal.edit_article(articles[1].path, body=list(articles[2].body), title=articles[2].title)
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    result = crawl(tmp_path, config, archive)
    assert "dropped: duplicate_content 1, too_short 1; errors: none" in result.stdout
    # The live progress line (a final one when stderr is not a terminal).
    assert "[testportal] pages " in result.stderr
    with Database(ArchivePaths(archive).default_db_url) as db:
        run = db.runs("testportal")[0]
        assert db.count_articles("testportal") == N_ARTICLES - 2
    assert run.counters["dropped"] == {"duplicate_content": 1, "too_short": 1}
    assert run.counters["articles_new"] == N_ARTICLES - 2
    log = next((archive / "logs").glob("*-testportal.log")).read_text(encoding="utf-8")
    assert "too_short" in log and articles[0].url(server.url) in log


def test_stats_command(tmp_path: Path, server: PortalServer) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    table = run([sys.executable, "-m", "crawler.cli", "stats", "--archive", str(archive)], tmp_path)
    assert table.returncode == 0
    assert table.stdout.splitlines()[1].split()[:2] == ["testportal", str(N_ARTICLES)]
    import json

    as_json = run(
        [sys.executable, "-m", "crawler.cli", "stats", "--archive", str(archive), "--json"],
        tmp_path,
    )
    data = json.loads(as_json.stdout)
    assert data["parquet_rows"] == N_ARTICLES
    assert data["sites"][0]["articles"] == N_ARTICLES
    missing = run(
        [sys.executable, "-m", "crawler.cli", "stats", "--archive", str(tmp_path / "none")],
        tmp_path,
    )
    # A missing archive cannot be opened: exit 3, as for every command (issue 14, item 8).
    assert missing.returncode == 3 and missing.stderr.startswith("error: no archive at")


def test_demo_command(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-m", "crawler.cli", "demo", "--archive", "arch", "--articles", "12"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "articles 12 new" in result.stdout
    with Database(ArchivePaths(tmp_path / "arch").default_db_url) as db:
        assert db.count_articles("demo") == 12
    assert ParquetDataset(tmp_path / "arch" / "parquet").count("demo") == 12


def test_runs_command_and_drift_alert_after_a_redesign(
    tmp_path: Path, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    assert "warning:" not in crawl(tmp_path, config, archive, "--quiet").stderr
    # The "redesign": article pages stop showing their dates (and change, so they are re-read).
    for art in portal.articles():
        portal.edit_article(art.path, body=[*art.body, "（完）"])
    portal.hide_dates = True
    third = crawl(tmp_path, config, archive, "--quiet")
    assert "warning: testportal extracts worse than usual" in third.stderr
    assert "date 0.00 (usual 1.00)" in third.stderr
    listing = run(
        [sys.executable, "-m", "crawler.cli", "runs", "--archive", str(archive)], tmp_path
    )
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "site", "trigger"]
    assert len(lines) == 4
    assert "date 0.00 (usual 1.00)" in lines[1]
    assert lines[2].rstrip().endswith("-") and lines[3].rstrip().endswith("-")


@pytest.mark.parametrize("workers", ["0", "1", "2"])
def test_same_archive_with_any_number_of_extraction_workers(
    tmp_path: Path, portal: Portal, server: PortalServer, workers: str
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    result = run(
        [
            sys.executable, "-m", "scrapy", "crawl", "portal",
            "-a", f"site={config}",
            "-s", f"ZHENGWEN_ARCHIVE_DIR={archive}",
            "-s", f"ZHENGWEN_EXTRACT_WORKERS={workers}",
            "-s", "LOG_LEVEL=WARNING",
        ],
        REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    truth = {t.url(server.url): t for t in portal.articles()}
    with Database(ArchivePaths(archive).default_db_url) as db:
        stored = {a.url: a for a in db.iter_articles("testportal")}
    assert set(stored) == set(truth)
    for url, article in stored.items():
        assert_article_matches(article, truth[url], server.url)
