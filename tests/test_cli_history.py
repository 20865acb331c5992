"""Issue 15, item 11: ``zhengwen history URL`` (and `Archive.article`) find an article by the URL
a user pastes, not only by its exact stored form: ``#top``, ``HTTP://``, an upper-case host, the
default port, spaces around it, and the percent-encoded or the plain form of a non-ASCII path
all name the same article. Through the real ``zhengwen`` process on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

from storage import Archive
from storage.article import Article
from storage.db import Database
from tests.test_cli import zhengwen
from tests.test_cli_exit_codes import one_error_line
from tests.test_query import ALPHA1, FIXED_NOW, sample_articles

#: Stored with its path as the page declared it (a canonical link keeps Chinese unencoded).
PLAIN = "http://gamma.example/新闻/2024/1.html?id=7"
#: Stored as the crawler requested it (Scrapy percent-encodes the path).
ENCODED = "https://gamma.example/%E6%96%B0%E9%97%BB/2.html"


def _articles() -> list[Article]:
    extra = [
        Article(url=PLAIN, site="gamma", title="纯文本路径", body="路径里有中文。"),
        Article(url=ENCODED, site="gamma", title="编码路径", body="路径是百分号编码的。"),
    ]
    return [*sample_articles(), *extra]


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    """An archive whose ALPHA1 has two versions, on SQLite or PostgreSQL: the CLI arguments."""
    if request.param == "sqlite":
        root = tmp_path / "archive"
        root.mkdir()
        url = f"sqlite:///{root / 'zhengwen.sqlite'}"
        args: tuple[str, ...] = ("--archive", str(root))
    else:
        url = request.getfixturevalue("pg_url")
        args = ("--db", url, "--archive", str(tmp_path / "archive"))
    articles = _articles()
    edited = [
        dataclasses.replace(a, body=a.body + "\n更正。", content_hash="", simhash=0)
        for a in articles
        if a.url == ALPHA1
    ]
    with Database(url) as db:
        db.create_schema()
        db.upsert_articles(articles, seen_at=FIXED_NOW)
        db.upsert_articles(edited, seen_at=FIXED_NOW + timedelta(days=1))
    return args


def _history(where: tuple[str, ...], url: str, tmp_path: Path) -> dict[str, object]:
    result = zhengwen("history", url, *where, "--json", cwd=tmp_path)
    assert result.returncode == 0, (url, result.stderr)
    out: dict[str, object] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize(
    "pasted",
    [
        ALPHA1,
        ALPHA1 + "#top",
        "HTTP://alpha.example/a/1.html",
        "http://ALPHA.Example/a/1.html",
        "http://alpha.example:80/a/1.html",
        f"  {ALPHA1} ",
        f"\t{ALPHA1}#comments\n",
    ],
)
def test_history_finds_an_article_by_a_variant_of_its_url(
    where: tuple[str, ...], tmp_path: Path, pasted: str
) -> None:
    out = _history(where, pasted, tmp_path)
    assert out["url"] == ALPHA1, "the stored URL is shown"
    versions = out["versions"]
    assert isinstance(versions, list) and [v["version"] for v in versions] == [1, 2]


@pytest.mark.parametrize(
    ("pasted", "stored"),
    [
        ("http://gamma.example/%E6%96%B0%E9%97%BB/2024/1.html?id=7", PLAIN),
        ("http://gamma.example/新闻/2024/1.html?id=7#正文", PLAIN),
        ("https://gamma.example/新闻/2.html", ENCODED),
        ("HTTPS://GAMMA.example:443/%E6%96%B0%E9%97%BB/2.html", ENCODED),
    ],
)
def test_history_finds_a_non_ascii_path_encoded_or_not(
    where: tuple[str, ...], tmp_path: Path, pasted: str, stored: str
) -> None:
    assert _history(where, pasted, tmp_path)["url"] == stored


@pytest.mark.parametrize(
    "other",
    [
        "https://alpha.example/a/1.html",  # another scheme is another URL
        "http://alpha.example/a/1.html?x=1",
        "http://alpha.example/A/1.html",  # paths are case-sensitive
        "http://alpha.example:8080/a/1.html",
    ],
)
def test_history_of_another_url_is_still_no_article(
    where: tuple[str, ...], tmp_path: Path, other: str
) -> None:
    result = zhengwen("history", other, *where, cwd=tmp_path)
    assert "the archive has no article" in one_error_line(result, 1)


def test_the_python_api_looks_up_the_same_way(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    with Database(f"sqlite:///{root / 'zhengwen.sqlite'}") as db:
        db.create_schema()
        db.upsert_articles(_articles(), seen_at=FIXED_NOW)
        assert db.find_url(" HTTP://alpha.example/a/1.html#top ") == ALPHA1
        assert db.find_url("https://alpha.example/a/1.html") is None
    with Archive(root) as archive:
        found = archive.article("http://ALPHA.example:80/a/1.html#top")
        assert found is not None and found.url == ALPHA1
        encoded = archive.article("https://gamma.example/新闻/2.html")
        assert encoded is not None and encoded.url == ENCODED
        assert archive.article("http://alpha.example/a/404.html") is None


def test_history_finds_an_article_by_the_url_it_was_fetched_from(
    where: tuple[str, ...], tmp_path: Path
) -> None:
    """A page that declared another canonical URL on its site is stored under that URL; the URL
    it was crawled from (as `fetch_state` records it) names it too, in any of its variants."""
    from storage.db import FetchUpdate

    canonical, fetched = "http://delta.example/story/5", "http://m.delta.example/s/5.html?from=app"
    url = where[where.index("--db") + 1] if "--db" in where else None
    url = url or f"sqlite:///{Path(where[1]) / 'zhengwen.sqlite'}"
    with Database(url) as db:
        article = Article(url=canonical, site="delta", body="正文。", fetched_url=fetched)
        db.upsert_articles([article], seen_at=FIXED_NOW)
        db.record_fetches([FetchUpdate(url=fetched, site="delta", status=200, at=FIXED_NOW)])
    for pasted in (fetched, fetched.upper().replace("/S/5.HTML?FROM=APP", "/s/5.html?from=app")):
        assert _history(where, pasted + "#top", tmp_path)["url"] == canonical
