"""storage.query.Archive over a real SQLite archive: every filter, search, records, errors.

`build_archive` is shared with test_export.py and test_cli_query.py: the seed article (extracted
from the golden page) plus a few written through `Database` and `ParquetDataset`, chosen so that
each filter, the time-zone rule and duplicate exclusion change the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crawler.extract import ExtractOptions, extract
from storage import Archive
from storage.article import Article
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from storage.query import ArchiveError, Filters, QueryError, SearchHit, SiteSummary, time_bound
from storage.search import SearchQueryError

SEED_PAGE = Path(__file__).resolve().parent / "golden" / "fazhi-chenbao" / "seed" / "page.html"
SEED_URL = "http://www.fzcb.org.cn/html/jingzhunfupin/2020/1003/1181.html"
CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXED_NOW = datetime(2026, 1, 1, tzinfo=UTC)

COPY_BODY = (
    "Poverty relief work in Shenzhen continues.\n扶贫工作队在深圳开展驻村帮扶，"
    "走访企业两百余家，签约项目十二个，带动就业三千人。"
)


def sample_articles() -> list[Article]:
    seed = extract(SEED_PAGE.read_bytes(), SEED_URL, ExtractOptions(site="fazhi-chenbao"))
    return [
        seed,
        Article(
            url="http://alpha.example/a/1.html",
            site="alpha",
            title="Shenzhen 扶贫 report",
            body=COPY_BODY,
            lead="深圳扶贫",
            # 2020-10-31 15:30 UTC: October in both UTC and Shanghai.
            published_at=datetime(2020, 10, 31, 23, 30, tzinfo=CST),
            source="新华社",
            author="李明",
            category="要闻",
            tags=("扶贫", "深圳"),
            images=("http://alpha.example/img/1.jpg",),
            language="zh",
        ),
        Article(
            url="http://alpha.example/a/2.html",
            site="alpha",
            title="经济数据发布",
            body="十月经济数据今日发布，工业增加值同比增长。\nGDP grew in October.",
            # 2020-10-31 16:30 UTC: October in UTC, November in Shanghai.
            published_at=datetime(2020, 11, 1, 0, 30, tzinfo=CST),
            source="新华社客户端",
            author="王芳",
            category="经济",
        ),
        Article(
            url="http://alpha.example/a/3.html",
            site="alpha",
            title="无日期的稿件",
            body="这篇稿件没有发布时间。",
        ),
        Article(  # an exact copy of alpha/1 on another site, published later
            url="http://beta.example/n/9.html",
            site="beta",
            title="Shenzhen 扶贫 report",
            body=COPY_BODY,
            published_at=datetime(2020, 11, 2, 10, 0, tzinfo=CST),
            source="新华社",
            category="要闻",
        ),
        Article(
            url="http://beta.example/n/1.html",
            site="beta",
            title="Quick brown fox",
            body="The quick brown fox jumps over the lazy dog in Shenzhen.",
            published_at=datetime(2019, 5, 1, 8, 0, tzinfo=UTC),
            author="Jane Doe",
            category="要闻",
            language="en",
        ),
    ]


def build_archive(root: Path) -> list[Article]:
    """A real archive folder (SQLite + Parquet + one crawl run); returns what it holds."""
    paths = ArchivePaths(root).ensure()
    articles = sample_articles()
    with Database(paths.default_db_url) as db:
        db.create_schema()
        db.upsert_articles(articles, seen_at=FIXED_NOW)
        run = db.start_run("alpha", "manual", started_at=FIXED_NOW)
        db.finish_run(run, "ok", {"articles_new": 3}, finished_at=FIXED_NOW)
        db.start_run("beta", "schedule", started_at=FIXED_NOW + timedelta(hours=1))
    ParquetDataset(paths.parquet_dir).write_batch(articles)
    return articles


@pytest.fixture(scope="module", name="archive_dir")
def archive_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    build_archive(root)
    return root


@pytest.fixture(name="archive")
def archive_fixture(archive_dir: Path) -> Iterator[Archive]:
    with Archive(archive_dir) as opened:
        yield opened


def urls(found: object) -> set[str]:
    return {(a.article if isinstance(a, SearchHit) else a).url for a in found}


ALPHA1, ALPHA2, ALPHA3 = (f"http://alpha.example/a/{i}.html" for i in (1, 2, 3))
BETA9, BETA1 = "http://beta.example/n/9.html", "http://beta.example/n/1.html"
ALL = {SEED_URL, ALPHA1, ALPHA2, ALPHA3, BETA9, BETA1}


def test_no_filter_returns_every_article_newest_first(archive: Archive) -> None:
    found = list(archive.articles())
    assert {a.url for a in found} == ALL
    assert [a.url for a in found] == [BETA9, ALPHA2, ALPHA1, SEED_URL, BETA1, ALPHA3]
    assert all(isinstance(a, Article) for a in found)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"site": "alpha"}, {ALPHA1, ALPHA2, ALPHA3}),
        ({"site": "fazhi-chenbao"}, {SEED_URL}),
        ({"site": "nope"}, set()),
        ({"source": "新华社"}, {ALPHA1, BETA9}),  # exact: not 新华社客户端
        ({"source": "光明网"}, {SEED_URL}),
        ({"author": "王芳"}, {ALPHA2}),
        ({"author": "Jane Doe"}, {BETA1}),
        ({"author": "jane doe"}, set()),  # exact and case-sensitive
        ({"category": "要闻"}, {ALPHA1, BETA9, BETA1}),
        ({"category": "精准扶贫"}, {SEED_URL}),
        ({"since": "2020-11-01"}, {BETA9}),
        ({"until": "2019"}, {BETA1}),
        ({"since": "2020-10", "until": "2020-10"}, {SEED_URL, ALPHA1, ALPHA2}),
        ({"since": "2020-10", "until": "2020-10", "tz": "Asia/Shanghai"}, {SEED_URL, ALPHA1}),
        ({"since": date(2020, 11, 1), "tz": "Asia/Shanghai"}, {ALPHA2, BETA9}),
        ({"until": "2020-10-03T21:26:54+08:00"}, {SEED_URL, BETA1}),  # the instant included
        ({"until": "2020-10-03T21:26:53+08:00"}, {BETA1}),
        ({"since": "2020-10-03T13:26:54Z"}, {SEED_URL, ALPHA1, ALPHA2, BETA9}),
        ({"since": datetime(2020, 10, 31, 16, 0, tzinfo=UTC)}, {ALPHA2, BETA9}),
        ({"exclude_duplicates": True}, ALL - {BETA9}),
        ({"site": "beta", "category": "要闻", "since": "2020"}, {BETA9}),
        ({"source": "新华社", "exclude_duplicates": True}, {ALPHA1}),
        (
            {"site": "alpha", "since": "2020-10-31", "until": "2020-10-31", "author": "李明"},
            {ALPHA1},
        ),
    ],
)
def test_filters(archive: Archive, filters: dict[str, object], expected: set[str]) -> None:
    assert urls(archive.articles(**filters)) == expected


def test_articles_without_a_date_never_match_a_time_filter(archive: Archive) -> None:
    assert ALPHA3 not in urls(archive.articles(since="1900"))
    assert ALPHA3 not in urls(archive.articles(until="2100"))


def test_limit_and_orders(archive: Archive) -> None:
    assert [a.url for a in archive.articles(limit=2)] == [BETA9, ALPHA2]
    assert list(archive.articles(limit=0)) == []
    by_site = [a.url for a in archive.articles(order="site")]
    assert by_site == [ALPHA1, ALPHA2, ALPHA3, BETA1, BETA9, SEED_URL]


def test_duplicate_links_come_from_the_archive(archive: Archive) -> None:
    copy = archive.article(BETA9)
    original = archive.article(ALPHA1)
    assert copy is not None and original is not None
    assert copy.duplicate_of == original.url_hash
    assert original.duplicate_of is None


def test_search_chinese_phrase_finds_the_seed(archive: Archive) -> None:
    hits = list(archive.articles(q="驻点招商"))
    assert [h.url for h in (hit.article for hit in hits)] == [SEED_URL]
    hit = hits[0]
    assert isinstance(hit, SearchHit)
    assert "【驻点招商】" in hit.snippet
    assert isinstance(hit.rank, float)
    # A phrase: characters of it far apart do not match.
    assert list(archive.articles(q="驻招")) == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("扶贫 Shenzhen", {ALPHA1, BETA9}),
        ("shenzhen", {ALPHA1, BETA9, BETA1}),  # case-insensitive whole word
        ("Shenzhen 扶贫 fox", set()),  # every term must match
        ("fox", {BETA1}),
        ("fo", set()),  # whole words only
        ("fo*", {BETA1}),  # prefix
        ('"quick brown"', {BETA1}),
        ("工业增加值 GDP", {ALPHA2}),
    ],
)
def test_search_mixed_queries(archive: Archive, q: str, expected: set[str]) -> None:
    assert urls(archive.articles(q=q)) == expected


def test_search_combines_with_filters(archive: Archive) -> None:
    assert urls(archive.articles(q="扶贫 Shenzhen", site="beta")) == {BETA9}
    assert urls(archive.articles(q="扶贫 Shenzhen", exclude_duplicates=True)) == {ALPHA1}
    assert urls(archive.articles(q="shenzhen", until="2019-12")) == {BETA1}
    assert urls(archive.articles(q="扶贫", limit=1)) != set()


def test_search_snippet_marks_title_only_matches(archive: Archive) -> None:
    (hit,) = archive.articles(q="经济数据")
    assert isinstance(hit, SearchHit)
    assert "【经济数据】" in hit.snippet


def test_empty_search_is_a_clear_error(archive: Archive) -> None:
    with pytest.raises((QueryError, SearchQueryError)):
        list(archive.articles(q="   "))


def test_table_has_the_parquet_schema_or_the_chosen_fields(archive: Archive) -> None:
    from storage.parquet import SCHEMA

    table = archive.table(site="alpha")
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert sorted(table.column("url").to_pylist()) == [ALPHA1, ALPHA2, ALPHA3]
    small = archive.table(fields=["title", "url"], source="新华社", order="site")
    assert small.column_names == ["title", "url"]
    assert small.column("url").to_pylist() == [ALPHA1, BETA9]
    rows = archive.table(site="alpha", order="site").to_pylist()
    stored = [archive.article(u) for u in (ALPHA1, ALPHA2, ALPHA3)]
    assert rows == [a.to_dict() for a in stored if a is not None]


def test_table_rejects_an_unknown_field(archive: Archive) -> None:
    with pytest.raises(QueryError, match=r"unknown field bodyy; valid fields: url, site, body"):
        archive.table(fields=["bodyy"])


def test_article_by_canonical_url(archive: Archive) -> None:
    seed = archive.article(SEED_URL)
    assert seed is not None
    assert seed.title == "驻蹲开放前沿,引进优强企业"
    assert seed.published_at == datetime(2020, 10, 3, 21, 26, 54, tzinfo=CST)
    assert seed.published_at.tzinfo == UTC
    assert archive.article("http://nowhere.example/") is None


def test_sites(archive: Archive) -> None:
    sites = {s.site: s for s in archive.sites()}
    assert set(sites) == {"alpha", "beta", "fazhi-chenbao"}
    assert sites["alpha"] == SiteSummary(
        site="alpha",
        articles=3,
        first_published_at=datetime(2020, 10, 31, 15, 30, tzinfo=UTC),
        last_published_at=datetime(2020, 10, 31, 16, 30, tzinfo=UTC),
        last_run_started_at=FIXED_NOW,
        last_run_status="ok",
    )
    assert sites["beta"].last_run_status == "running"


def test_runs(archive: Archive) -> None:
    runs = archive.runs()
    assert [(r.site, r.status) for r in runs] == [("beta", "running"), ("alpha", "ok")]
    assert [r.site for r in archive.runs(site="alpha")] == ["alpha"]
    assert len(archive.runs(limit=1)) == 1
    assert runs[1].counters == {"articles_new": 3}


def test_streaming_holds_a_cursor_not_a_list(archive: Archive) -> None:
    found = archive.articles()
    assert not isinstance(found, list)
    assert next(iter(found)).url == BETA9


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        ("2020", False, datetime(2020, 1, 1, tzinfo=SHANGHAI)),
        ("2020", True, datetime(2021, 1, 1, tzinfo=SHANGHAI)),
        ("2020-12", True, datetime(2021, 1, 1, tzinfo=SHANGHAI)),
        ("2020-02", True, datetime(2020, 3, 1, tzinfo=SHANGHAI)),
        ("2020-02-29", True, datetime(2020, 3, 1, tzinfo=SHANGHAI)),
        ("2020-10-03T21:26", False, datetime(2020, 10, 3, 21, 26, tzinfo=SHANGHAI)),
        ("2020-10-03T21:26+00:00", False, datetime(2020, 10, 3, 21, 26, tzinfo=UTC)),
        (
            "2020-10-03T21:26+00:00",
            True,
            datetime(2020, 10, 3, 21, 26, 0, 1, tzinfo=UTC),
        ),
    ],
)
def test_time_bounds(value: str, end: bool, expected: datetime) -> None:
    assert time_bound(value, SHANGHAI, end=end) == expected


@pytest.mark.parametrize("bad", ["2020-13", "yesterday", "2020-02-30", "20201003x"])
def test_bad_dates_are_clear_errors(archive: Archive, bad: str) -> None:
    with pytest.raises(QueryError, match="bad date"):
        list(archive.articles(since=bad))


def test_bad_time_zone_and_order(archive: Archive) -> None:
    with pytest.raises(QueryError, match="unknown time zone 'Mars/Base'"):
        list(archive.articles(since="2020", tz="Mars/Base"))
    with pytest.raises(QueryError, match="needs a search query"):
        list(archive.articles(order="rank"))


def test_missing_archive_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no such folder"):
        Archive(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match=r"no zhengwen\.sqlite"):
        Archive(tmp_path / "empty")
    with pytest.raises(ArchiveError, match="no archive database"):
        Archive(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    assert not (tmp_path / "missing.sqlite").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_database_that_is_not_an_archive(tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    with pytest.raises(ArchiveError, match="holds no zhengwen archive"):
        Archive(f"sqlite:///{other}")


def test_open_by_url_and_by_sqlite_file(archive_dir: Path) -> None:
    paths = ArchivePaths(archive_dir)
    for target in (paths.default_db_url, paths.sqlite_path):
        with Archive(target) as opened:
            assert urls(opened.articles(site="beta")) == {BETA9, BETA1}


@pytest.mark.postgres
def test_postgresql_archive(pg_url: str) -> None:
    articles = sample_articles()
    with Database(pg_url) as db:
        db.create_schema()
        db.upsert_articles(articles, seen_at=FIXED_NOW)
    with Archive(pg_url) as opened:
        assert urls(opened.articles(source="新华社")) == {ALPHA1, BETA9}
        assert urls(opened.articles(since="2020-10", until="2020-10", tz="Asia/Shanghai")) == {
            SEED_URL,
            ALPHA1,
        }
        assert urls(opened.articles(q="驻点招商")) == {SEED_URL}
        assert urls(opened.articles(q="扶贫 Shenzhen", exclude_duplicates=True)) == {ALPHA1}
        assert [a.url for a in opened.articles(order="site", limit=2)] == [ALPHA1, ALPHA2]
        assert opened.article(SEED_URL) == next(iter(opened.articles(site="fazhi-chenbao")))


def test_close_releases_partly_read_streams(archive_dir: Path) -> None:
    """A half-read iterator holds a database connection; closing the Archive gives it back."""
    from sqlalchemy import event

    from storage.query import FIELDS, Filters

    archive = Archive(archive_dir)
    out: list[int] = []  # +1 per checkout, -1 per checkin (dispose() alone checks none in)
    event.listen(archive._db.engine, "checkout", lambda *_: out.append(1))
    event.listen(archive._db.engine, "checkin", lambda *_: out.append(-1))
    articles = iter(archive.articles())
    batches = archive.batches(Filters.build(), FIELDS, size=1)
    next(articles)
    next(batches)
    assert sum(out) == 2
    archive.close()
    assert sum(out) == 0


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"site": "a", "q": "法律 援助", "exclude_duplicates": True},
        {"since": "2024-05-01", "until": "2024-05-31", "tz": "Asia/Shanghai", "author": "王法"},
        {"since": date(2024, 5, 1), "source": "光明网", "category": "精准扶贫"},
    ],
)
def test_filters_give_back_the_arguments_that_build_them(args: dict[str, Any]) -> None:
    built = Filters.build(**args)
    again = Filters.build(**built.args())
    assert again == built
    assert (again.start, again.end) == (built.start, built.end)
