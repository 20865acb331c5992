"""The ranking window of a search's first page on SQLite (`storage.search.RANK_WINDOW`).

A broad query's first page ranks only the newest matches; these tests shrink the window to a few
articles (the module constant, read at query time) on a real SQLite archive and check which
articles are ranked, that a filter finding too few hits in the window falls back to ranking
every match, and that unlimited queries always rank every match.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Archive, search
from storage.article import Article
from storage.db import Database
from storage.paths import ArchivePaths
from storage.query import SearchHit

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _article(i: int) -> Article:
    old = i < 4  # the oldest four have the word in their title: they rank best
    return Article(
        url=f"http://{'old' if old else 'new'}.example/a/{i}.html",
        site="old" if old else "new",
        title=f"扶贫第{i}期" if old else f"第{i}期报道",
        body=f"第{i}篇稿件。扶贫工作队走访企业{i}家。" + "其他内容。" * i,
        published_at=T0 + timedelta(days=i),
    )


@pytest.fixture(scope="module", name="archive_dir")
def archive_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("window")
    paths = ArchivePaths(root).ensure()
    with Database(paths.default_db_url) as db:
        db.create_schema()
        for i in range(10):  # one at a time: index rows follow the order of archiving
            db.upsert_articles([_article(i)], seen_at=T0)
    return root


@pytest.fixture(name="archive")
def archive_fixture(archive_dir: Path) -> Iterator[Archive]:
    with Archive(archive_dir) as opened:
        yield opened


def _urls(hits: Iterable[object]) -> list[str]:
    found = list(hits)
    assert all(isinstance(h, SearchHit) for h in found)
    return [h.article.url for h in found if isinstance(h, SearchHit)]


def _ranked(archive: Archive, site: str | None = None, limit: int | None = None) -> list[SearchHit]:
    found = list(archive.articles(q="扶贫", site=site, limit=limit))
    assert all(isinstance(h, SearchHit) for h in found)
    return [h for h in found if isinstance(h, SearchHit)]


def test_window_start_counts_matches_newest_first(archive_dir: Path) -> None:
    with Database(ArchivePaths(archive_dir).default_db_url) as db, db.engine.connect() as conn:
        assert search.window_start(conn, "扶贫", 10) is None  # 10 matches fit a window of 10
        start = search.window_start(conn, "扶贫", 4)
        assert start is not None
        newest = conn.exec_driver_sql(
            "SELECT count(*) FROM article_search_keys WHERE id >= ?", (start,)
        ).scalar_one()
        assert newest == 4
        with pytest.raises(ValueError, match="positive"):
            search.window_start(conn, "扶贫", 0)
        assert search.window_start(conn, "藏羚羊", 1) is None  # no match at all


def test_first_page_ranks_the_newest_matches_of_a_broad_query(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = _ranked(archive)  # unlimited: every match ranked
    assert {h.article.site for h in every[:4]} == {"old"}  # title matches rank first
    monkeypatch.setattr(search, "RANK_WINDOW", 4)
    page = _ranked(archive, limit=2)
    newest = [
        h for h in every if h.article.url.endswith(("/6.html", "/7.html", "/8.html", "/9.html"))
    ]
    assert _urls(page) == [h.article.url for h in newest[:2]]
    assert [h.rank for h in page] == sorted(h.rank for h in page)
    # Unlimited queries (exports) still rank every match.
    assert _urls(archive.articles(q="扶贫")) == [h.article.url for h in every]


def test_a_filter_with_too_few_hits_in_the_window_ranks_every_match(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "RANK_WINDOW", 4)
    page = _ranked(archive, site="old", limit=3)
    exact = [h for h in _ranked(archive) if h.article.site == "old"][:3]
    assert _urls(page) == [h.article.url for h in exact]


def test_a_window_wider_than_the_matches_changes_nothing(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = _ranked(archive)
    monkeypatch.setattr(search, "RANK_WINDOW", 10)
    assert _urls(archive.articles(q="扶贫", limit=3)) == [h.article.url for h in every[:3]]


def test_a_search_table_holds_the_same_records_as_the_hits(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables convert stored text a column at a time; hits convert value by value: same data."""
    monkeypatch.setattr(search, "RANK_WINDOW", 4)
    for limit in (2, None):
        hits = _ranked(archive, limit=limit)
        table = archive.table(q="扶贫", limit=limit)
        assert table.to_pylist() == [h.article.to_dict() for h in hits]
