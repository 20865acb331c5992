"""The SQL archive on a real SQLite file and a real PostgreSQL database (the `db_url` fixture)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage import Article, Database, UpsertResult
from storage.article import field_names

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def make(n: int, site: str = "demo", **changes: object) -> Article:
    article = Article(
        url=f"https://news.example.cn/a/{n}.html",
        site=site,
        title=f"标题 {n}",
        body=f"第一段 {n}\n第二段",
        published_at=datetime(2024, 5, 1, 23, 30, tzinfo=SHANGHAI) + timedelta(days=n),
    )
    return article.replace(**changes) if changes else article


def test_upsert_counts_new_updated_unchanged(db: Database) -> None:
    assert db.upsert_articles([make(1), make(2)]) == UpsertResult(new=2)
    batch = [make(1), make(2, body="改过的正文"), make(3)]
    assert db.upsert_articles(batch) == UpsertResult(new=1, updated=1, unchanged=1)
    assert db.count_articles() == 3
    stored = db.get_article(make(2).url)
    assert stored is not None and stored.body == "改过的正文"


def test_reupserting_the_same_batch_never_duplicates(db: Database) -> None:
    batch = [make(n) for n in range(5)]
    db.upsert_articles(batch)
    for _ in range(3):
        assert db.upsert_articles(batch) == UpsertResult(unchanged=5)
    assert db.count_articles() == 5
    assert db.upsert_articles([]) == UpsertResult()


def test_duplicate_url_inside_one_batch_counts_once_and_last_wins(db: Database) -> None:
    result = db.upsert_articles([make(1), make(1, body="后来的版本")])
    assert result == UpsertResult(new=1)
    stored = db.get_article(make(1).url)
    assert stored is not None and stored.body == "后来的版本"


def test_update_keeps_first_seen_and_moves_last_seen(db: Database) -> None:
    db.upsert_articles([make(1)], seen_at=T0)
    db.upsert_articles([make(1, body="新")], seen_at=T0 + timedelta(hours=5))
    stored = db.get_article(make(1).url)
    assert stored is not None
    assert stored.first_seen == T0
    assert stored.last_seen == T0 + timedelta(hours=5)


def test_unchanged_content_only_bumps_last_seen(db: Database) -> None:
    db.upsert_articles([make(1, author="甲", crawl_run_id="run-1")], seen_at=T0)
    later = make(1, author="乙", crawl_run_id="run-2")
    assert db.upsert_articles([later], seen_at=T0 + timedelta(days=1)).unchanged == 1
    stored = db.get_article(later.url)
    assert stored is not None
    assert (stored.author, stored.crawl_run_id) == ("甲", "run-1")
    assert stored.last_seen == T0 + timedelta(days=1)
    # An older sighting (a re-import) never moves last_seen backwards.
    db.upsert_articles([make(1)], seen_at=T0 - timedelta(days=3))
    again = db.get_article(later.url)
    assert again is not None and again.last_seen == T0 + timedelta(days=1)


def test_a_failing_batch_leaves_no_row(db: Database) -> None:
    broken = dataclasses.replace(make(2), body=None)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        db.upsert_articles([make(1), broken])
    assert db.count_articles() == 0


def test_timezone_aware_round_trip(db: Database) -> None:
    published = datetime(2024, 2, 29, 0, 15, 30, 123456, tzinfo=SHANGHAI)
    article = make(1, published_at=published, updated_at=published + timedelta(hours=2))
    db.upsert_articles([article])
    stored = db.get_article(article.url)
    assert stored is not None
    assert stored.published_at == published  # the same instant...
    assert stored.published_at is not None and stored.published_at.utcoffset() == timedelta(0)
    assert stored.published_at.isoformat() == "2024-02-28T16:15:30.123456+00:00"  # ...in UTC
    assert stored.updated_at == published + timedelta(hours=2)
    assert stored.first_seen is not None and stored.first_seen.tzinfo is not None


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="naive"):
        db.upsert_articles([make(1, published_at=datetime(2024, 5, 1, 12, 0))])
    assert db.count_articles() == 0


def test_chinese_text_and_every_field_round_trip(db: Database) -> None:
    article = Article(
        url="https://news.example.cn/2024/05/01/新闻.html?id=7&来源=网",
        site="demo-portal_2",
        title="国务院常务会议：部署推进𠀀𪚥等工作 🎉",
        body="第一段，含全角标点「引号」。\n第二段 — 破折号…\n\t缩进行",
        lead="导读：摘要文字",
        published_at=datetime(2024, 5, 1, 9, 30, tzinfo=SHANGHAI),
        updated_at=datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI),
        source="新华社",
        author="张三 李四",
        editor="王五",
        category="要闻",
        site_name="法制晨报",
        tags=("经济", "上海", "经济"),
        language="zh-Hans-CN",
        images=("https://img.example.cn/图.jpg",),
        fetched_url="https://m.news.example.cn/a/7",
        fetched_at=datetime(2024, 5, 2, 1, 2, 3, tzinfo=UTC),
        first_seen=datetime(2024, 5, 2, 1, 2, 4, tzinfo=UTC),
        last_seen=datetime(2024, 5, 2, 1, 2, 4, tzinfo=UTC),
        crawl_run_id="0b6c2c3e-7a6f-4c55-8d9b-2b8f1e0a9c11",
        extraction_version=3,
    )
    db.upsert_articles([article])
    assert db.get_article(article.url) == article
    assert list(db.iter_articles("demo-portal_2")) == [article]


def test_missing_article_is_none(db: Database) -> None:
    assert db.get_article("https://nowhere.example/") is None


def test_hash_lookups_and_counts_by_site(db: Database) -> None:
    a, b, c = make(1), make(2), make(3, site="other")
    db.upsert_articles([a, b, c])
    assert db.known_hashes() == {x.url_hash: x.content_hash for x in (a, b, c)}
    assert db.known_hashes("other") == {c.url_hash: c.content_hash}
    assert db.content_hashes("demo") == {a.content_hash, b.content_hash}
    assert db.has_content_hash(a.content_hash)
    assert not db.has_content_hash("0" * 64)
    assert (db.count_articles("demo"), db.count_articles("other"), db.count_articles()) == (2, 1, 3)
    assert [x.url_hash for x in db.iter_articles("demo")] == sorted([a.url_hash, b.url_hash])


def test_run_records(db: Database) -> None:
    first = db.start_run("demo", "schedule", "sha256:abc", started_at=T0)
    second = db.start_run("demo", "manual", started_at=T0 + timedelta(hours=1))
    db.start_run("other", "manual", started_at=T0)
    running = db.runs("demo")
    assert [r.id for r in running] == [second, first]
    assert running[1].status == "running" and running[1].counters == {}
    assert running[1].trigger == "schedule" and running[1].settings_digest == "sha256:abc"

    counters = {
        "pages_fetched": 12,
        "articles": {"new": 3, "updated": 1, "unchanged": 8},
        "dropped": {"too_short": 2, "无正文": 1},
        "errors": {"timeout": 1},
    }
    db.finish_run(first, "ok", counters, finished_at=T0 + timedelta(minutes=3))
    done = {r.id: r for r in db.runs()}[first]
    assert done.status == "ok"
    assert done.counters == counters
    assert done.started_at == T0 and done.finished_at == T0 + timedelta(minutes=3)
    assert len(db.runs(limit=2)) == 2


def test_run_arguments_are_checked(db: Database) -> None:
    with pytest.raises(ValueError, match="trigger"):
        db.start_run("demo", "cron", None)
    run = db.start_run("demo", "manual", None)
    with pytest.raises(ValueError, match="status"):
        db.finish_run(run, "running", {})
    with pytest.raises(KeyError):
        db.finish_run("no-such-run", "ok", {})
    with pytest.raises(TypeError):
        db.finish_run(run, "failed", {"when": object()})
    assert db.runs()[0].status == "running"


def test_database_refuses_a_bad_status_written_around_the_api(db: Database) -> None:
    bad = text(
        'INSERT INTO crawl_runs (id, site, "trigger", started_at, status, counters) '
        "VALUES ('x', 'demo', 'manual', '2024-01-01 00:00:00', 'weird', '{}')"
    )
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(bad)


def test_site_stats(db: Database) -> None:
    db.upsert_articles([make(1), make(3), make(2, site="other", published_at=None)])
    db.start_run("demo", "manual", started_at=T0)
    last = db.start_run("demo", "schedule", started_at=T0 + timedelta(days=1))
    db.finish_run(last, "failed", {"errors": {"http_500": 4}})
    db.start_run("quiet", "manual", started_at=T0)
    stats = {s["site"]: s for s in db.site_stats()}
    assert list(stats) == ["demo", "other", "quiet"]
    assert stats["demo"]["articles"] == 2
    assert stats["demo"]["first_published_at"] == make(1).published_at
    assert stats["demo"]["last_published_at"] == make(3).published_at
    assert stats["demo"]["last_run_started_at"] == T0 + timedelta(days=1)
    assert stats["demo"]["last_run_status"] == "failed"
    assert stats["other"]["articles"] == 1 and stats["other"]["first_published_at"] is None
    assert stats["other"]["last_run_status"] is None
    assert stats["quiet"]["articles"] == 0 and stats["quiet"]["last_run_status"] == "running"


def test_schema_is_idempotent_and_named_by_convention(db: Database) -> None:
    db.create_schema()
    insp = inspect(db.engine)
    assert [c["name"] for c in insp.get_columns("articles")] == field_names()
    assert insp.get_pk_constraint("articles")["constrained_columns"] == ["url_hash"]
    indexes = {i["name"] for i in insp.get_indexes("articles")}
    assert {
        "ix_articles_site_published",
        "ix_articles_published_at",
        "ix_articles_content_hash",
    } <= indexes


def test_an_older_archive_gets_the_indexes_added_since(db: Database) -> None:
    """create_all adds no index to an existing table: create_schema adds the missing ones."""
    db.create_schema()
    db.upsert_articles([make(1), make(2)])
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_articles_site_published")
    assert "ix_articles_site_published" not in {
        i["name"] for i in inspect(db.engine).get_indexes("articles")
    }
    db.create_schema()
    assert "ix_articles_site_published" in {
        i["name"] for i in inspect(db.engine).get_indexes("articles")
    }
    assert db.count_articles() == 2


def test_a_second_connection_sees_acknowledged_writes(db_url: str) -> None:
    with Database(db_url) as writer, Database(db_url) as reader:
        writer.create_schema()
        writer.upsert_articles([make(1)])
        reader.upsert_articles([make(2)])
        assert writer.count_articles() == reader.count_articles() == 2


def test_sqlite_connections_are_durable_and_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.sqlite'}"
    with Database(url) as db, db.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_repr_hides_the_password() -> None:
    db = Database("postgresql+psycopg://zw:hunter2@127.0.0.1:5432/zw")
    try:
        assert "hunter2" not in repr(db)
    finally:
        db.dispose()
