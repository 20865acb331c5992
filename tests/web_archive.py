"""A small archive for the web tests, written through the storage API: Chinese and Latin
articles on two sites, one with two versions, a syndicated copy, a hostile page (script in the
title, ``<img onerror>`` in the body), runs with counters, drops, errors and a drift alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from storage.article import Article
from storage.db import Database

LEGAL = "legal-news"
OTHER = "other-site"
HOSTILE_TITLE = "<script>alert('title')</script>恶意标题"
HOSTILE_BODY = (
    "这是一篇含有恶意内容的文章正文，用来检验页面是否转义。<img src=x onerror=alert('body')>"
    "\n第二段落仍然是正文。<script>document.title='pwned'</script>"
)
BASE = datetime(2020, 10, 3, 13, 26, 54, tzinfo=UTC)


def _article(n: int, site: str, title: str, body: str, **fields: object) -> Article:
    return Article(
        url=f"https://{site}.example.cn/a/{n}.html",
        site=site,
        title=title,
        body=body,
        published_at=fields.pop("published_at", BASE - timedelta(days=n)),  # type: ignore[arg-type]
        source=fields.pop("source", "光明网"),  # type: ignore[arg-type]
        author=fields.pop("author", "王法"),  # type: ignore[arg-type]
        category=fields.pop("category", "精准扶贫"),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def articles() -> list[Article]:
    out = [
        _article(
            1,
            LEGAL,
            "驻点招商助力精准扶贫",
            "导读：县里开展驻点招商工作。\n驻点招商小组深入企业调研，推动项目落地，带动贫困户增收。",
        ),
        _article(
            2, LEGAL, "Legal aid in Beijing", "The legal aid centre in Beijing opened a new office."
        ),
        _article(3, LEGAL, HOSTILE_TITLE, HOSTILE_BODY),
        _article(
            4,
            OTHER,
            "驻点招商助力精准扶贫（转载）",
            "导读：县里开展驻点招商工作。\n驻点招商小组深入企业调研，推动项目落地，带动贫困户增收。",
            source="法制晨报",
            published_at=BASE + timedelta(hours=1),
        ),
        _article(
            5,
            OTHER,
            "无日期的文章",
            "这篇文章没有发布日期，但正文足够长，可以被检索到。",
            published_at=None,
        ),
    ]
    out += [
        _article(10 + i, OTHER, f"第{i}篇滚动新闻", f"滚动新闻正文第{i}篇，讲述了本地的一件小事。")
        for i in range(30)
    ]
    return out


def changed() -> Article:
    """Article 1 with its second text (a correction)."""
    first = articles()[0]
    return Article(
        **{
            **{
                k: getattr(first, k)
                for k in ("url", "site", "published_at", "source", "author", "category")
            },
            "title": "驻点招商助力精准扶贫（更正）",
            "body": "导读：县里开展驻点招商工作。\n驻点招商小组深入企业调研，推动三个项目落地，带动贫困户增收。\n更正：项目数量为三个。",
        }
    )


def build(db_url: str) -> dict[str, str]:
    """Write the archive into ``db_url``; returns the ids the tests look for."""
    db = Database(db_url)
    try:
        db.create_schema()
        run = db.start_run(LEGAL, "manual", started_at=BASE)
        db.upsert_articles([replace(a, crawl_run_id=run) for a in articles()], seen_at=BASE)
        db.finish_run(
            run,
            "ok",
            {
                "pages": 40,
                "articles_new": 35,
                "dropped": {"not_article": 3, "too_short": 1},
                "errors": {"http_404": 2},
                "skipped": {"not_sent": 1},
                "drift": ["date 0.41 (usual 0.98)"],
            },
            finished_at=BASE + timedelta(minutes=3),
        )
        second = db.start_run(LEGAL, "schedule", started_at=BASE + timedelta(days=1))
        db.upsert_articles(
            [replace(changed(), crawl_run_id=second)], seen_at=BASE + timedelta(days=1)
        )
        db.finish_run(
            second,
            "ok",
            {"pages": 5, "articles_updated": 1},
            finished_at=BASE + timedelta(days=1, minutes=1),
        )
        stored = {a.url: a for a in db.iter_articles()}
    finally:
        db.dispose()
    first, hostile, copy = articles()[0], articles()[2], articles()[3]
    return {
        "run": run,
        "second_run": second,
        "changed": stored[first.url].url_hash,
        "hostile": stored[hostile.url].url_hash,
        "copy": stored[copy.url].url_hash,
        "copy_of": stored[copy.url].duplicate_of or "",
    }
