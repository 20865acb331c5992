"""Article versions and fetch state, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from storage import Article, Database
from storage.article import url_hash
from storage.db import FetchUpdate

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
URL = "https://news.example.cn/a/1.html"


def make(body: str, **changes: object) -> Article:
    return Article(url=URL, site="demo", title="标题", body=body).replace(**changes)


def test_each_distinct_text_is_a_version_and_the_old_text_stays(db: Database) -> None:
    db.upsert_articles([make("第一版")], seen_at=T0)
    db.upsert_articles([make("第一版")], seen_at=T0 + timedelta(hours=1))
    db.upsert_articles([make("第二版")], seen_at=T0 + timedelta(hours=2))
    versions = db.versions(URL)
    assert [(v.version, v.body) for v in versions] == [(1, "第一版"), (2, "第二版")]
    first, second = versions
    assert first.first_seen == T0 and first.last_seen == T0 + timedelta(hours=1)
    assert second.first_seen == second.last_seen == T0 + timedelta(hours=2)
    assert first.record["body"] == "第一版" and first.record["url"] == URL
    current = db.get_article(URL)
    assert current is not None and current.body == "第二版"
    assert current.first_seen == T0


def test_a_revert_moves_the_old_version_instead_of_adding_one(db: Database) -> None:
    for hour, body in enumerate(["甲", "乙", "甲"]):
        db.upsert_articles([make(body)], seen_at=T0 + timedelta(hours=hour))
    versions = db.versions(URL)
    assert [(v.version, v.body) for v in versions] == [(1, "甲"), (2, "乙")]
    assert versions[0].last_seen == T0 + timedelta(hours=2)


def test_rows_from_before_versions_are_backfilled_when_they_change(db: Database) -> None:
    db.upsert_articles([make("旧文")], seen_at=T0)
    with db.engine.begin() as conn:  # an archive written before versions were kept
        conn.execute(text("DELETE FROM article_versions"))
    db.upsert_articles([make("新文")], seen_at=T0 + timedelta(days=1))
    assert [v.body for v in db.versions(URL)] == ["旧文", "新文"]


def test_unknown_url_has_no_versions(db: Database) -> None:
    assert db.versions("https://news.example.cn/none.html") == []


def test_fetch_state_validators_removal_and_return(db: Database) -> None:
    db.upsert_articles([make("正文")], seen_at=T0)
    at = T0 + timedelta(days=1)
    db.record_fetches([FetchUpdate(URL, "demo", 200, at, etag='"v1"', last_modified="Mon")])
    db.upsert_articles([make("正文")], seen_at=at)  # the article of that answer, stored
    known = db.known_pages("demo")
    assert known[URL].etag == '"v1"' and known[URL].last_modified == "Mon"
    assert known[URL].gone_at is None

    # A 304 without validators keeps the stored ones and confirms the article.
    db.record_fetches([FetchUpdate(URL, "demo", 304, at + timedelta(hours=1), article_url=URL)])
    state = db.fetch_state(URL)
    assert state is not None and state["etag"] == '"v1"' and state["last_status"] == 304
    stored = db.get_article(URL)
    assert stored is not None and stored.last_seen == at + timedelta(hours=1)

    # Removal is recorded once, with the first time it was seen; the article is kept.
    gone = at + timedelta(days=1)
    db.record_fetches([FetchUpdate(URL, "demo", 404, gone)])
    db.record_fetches([FetchUpdate(URL, "demo", 410, gone + timedelta(days=1))])
    assert db.removed("demo") == {URL: gone}
    assert db.known_pages("demo")[URL].gone_at == gone
    assert db.get_article(URL) is not None

    # Back online: no longer removed.
    db.record_fetches([FetchUpdate(URL, "demo", 200, gone + timedelta(days=2), etag='"v2"')])
    assert db.removed("demo") == {}


def test_fetch_state_batches_of_many_answers(db: Database) -> None:
    urls = [f"https://news.example.cn/a/{n}.html" for n in range(5)]
    db.upsert_articles([make("正文").replace(url=u) for u in urls], seen_at=T0)
    db.record_fetches([FetchUpdate(u, "demo", 200, T0, etag=f'"{n}"') for n, u in enumerate(urls)])
    db.record_fetches(
        [
            FetchUpdate(u, "demo", 404 if n == 2 else 304, T0, article_url=u)
            for n, u in enumerate(urls)
        ]
    )
    known = db.known_pages("demo")
    assert [known[u].etag for u in urls] == ['"0"', '"1"', '"2"', '"3"', '"4"']
    assert db.removed("demo") == {urls[2]: T0}


def test_known_pages_map_canonical_and_fetched_urls(db: Database) -> None:
    fetched = "https://news.example.cn/a/1.html?from=list"
    db.upsert_articles([make("正文", fetched_url=fetched)], seen_at=T0)
    known = db.known_pages("demo")
    assert set(known) == {URL, fetched}
    assert known[fetched].article_url == URL
    assert known[URL].fetch_url == fetched  # a re-check requests what was fetched
    assert db.known_pages("other") == {}


def test_version_pages_walk_every_version_once_in_bounded_pages(db: Database) -> None:
    urls = [f"https://news.example.cn/a/{i}.html" for i in range(5)]
    for day, body in enumerate(["一", "二", "三"]):
        batch = [
            make(f"{body}{i}", url=u, published_at=T0, tags=("法治",)) for i, u in enumerate(urls)
        ]
        db.upsert_articles(batch, seen_at=T0 + timedelta(days=day))
    db.upsert_articles([make("别站", url="https://other.example.cn/1.html", site="other")])
    # An article from before versions were kept: current row only, still one of the versions.
    old = make("旧站文", url="https://news.example.cn/old.html")
    db.upsert_articles([old], seen_at=T0)
    with db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM article_versions WHERE url_hash = '{old.url_hash}'"))

    pages = list(db.version_pages("demo", page=4))
    assert all(1 <= len(p) <= 4 for p in pages)
    keys = [k for p in pages for k in p]
    assert len(keys) == len({(k.url_hash, k.content_hash) for k in keys}) == 5 * 3 + 1
    assert [k.version for k in keys if k.url_hash == old.url_hash] == [None]
    assert sorted(k.version or 0 for k in keys if k.url_hash == url_hash(urls[0])) == [1, 2, 3]
    assert len([k for p in db.version_pages(page=100) for k in p]) == 5 * 3 + 1 + 1

    articles = db.versions_as_articles(keys)
    assert {(a.url_hash, a.content_hash) for a in articles} == {
        (k.url_hash, k.content_hash) for k in keys
    }
    # An older version comes back from its record exactly as it was stored, times included.
    first = next(a for a in articles if a.url == urls[0] and a.body == "一0")
    assert first == make("一0", url=urls[0], published_at=T0, tags=("法治",))
