"""``zhengwen serve`` over real HTTP on 127.0.0.1 (uvicorn in a thread), on SQLite and on
PostgreSQL: every page and filter, JSON twins, exports, hostile input."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from storage.browse import ArchiveBrowser
from tests import web_archive
from tests.conftest import fresh_pg_database


@dataclass
class Served:
    base: str
    ids: dict[str, str]
    db_url: str

    def get(self, path: str, **params: str) -> tuple[int, dict[str, str], bytes]:
        url = self.base + path + (("?" + urlencode(params)) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def html(self, path: str, **params: str) -> str:
        status, _, body = self.get(path, **params)
        assert status == 200, body[:500]
        return body.decode("utf-8")

    def json(self, path: str, **params: str) -> Any:
        status, headers, body = self.get(path, format="json", **params)
        assert status == 200, body[:500]
        assert headers["content-type"].startswith("application/json")
        return json.loads(body)


def _serve(db_url: str, **options: Any) -> Iterator[tuple[str, ArchiveBrowser]]:
    import uvicorn

    from web.app import create_app

    archive = ArchiveBrowser(db_url)
    app = create_app(archive, **options)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", archive
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        archive.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("web-archive")
        url = f"sqlite:///{folder / 'zhengwen.sqlite'}"
        ids = web_archive.build(url)
        for base, _archive in _serve(url):
            yield Served(base, ids, url)
        return
    with fresh_pg_database() as url:
        ids = web_archive.build(url)
        for base, _archive in _serve(url):
            yield Served(base, ids, url)


# --- search ---------------------------------------------------------------------------------


def test_front_page_lists_the_sites(served: Served) -> None:
    page = served.html("/")
    assert web_archive.LEGAL in page and web_archive.OTHER in page
    assert served.json("/")["sites"][0]["articles"] > 0


def test_a_chinese_search_ranks_and_highlights(served: Served) -> None:
    data = served.json("/", q="驻点招商")
    assert data["total"] == 2
    titles = [r["title"] for r in data["results"]]
    assert set(titles) == {"驻点招商助力精准扶贫（更正）", "驻点招商助力精准扶贫（转载）"}
    assert all("<mark>驻点招商</mark>" in r["snippet_html"] for r in data["results"])
    page = served.html("/", q="驻点招商")
    assert "<mark>驻点招商</mark>" in page
    assert 'id="total">2 articles' in page


def test_latin_and_mixed_queries(served: Served) -> None:
    assert [r["title"] for r in served.json("/", q="legal aid")["results"]] == [
        "Legal aid in Beijing"
    ]
    assert served.json("/", q="Beijing 中心")["total"] == 0
    assert served.json("/", q="滚动新闻")["total"] == 30


def test_filters_narrow_the_search_and_the_facets(served: Served) -> None:
    everything = served.json("/", q="滚动新闻")
    assert {f["value"]: f["count"] for f in everything["facets"]["site"]} == {web_archive.OTHER: 30}
    months = {f["value"]: f["count"] for f in everything["facets"]["month"]}
    assert sum(months.values()) == 30 and set(months) == {"2020-08", "2020-09"}
    september = served.json("/", q="滚动新闻", since="2020-09", until="2020-09", tz="UTC")
    assert september["total"] == months["2020-09"]
    # The same day in Shanghai starts 8 hours earlier than in UTC.
    shanghai = served.json(
        "/", site=web_archive.LEGAL, since="2020-10-02", until="2020-10-02", tz="Asia/Shanghai"
    )
    utc = served.json("/", site=web_archive.LEGAL, since="2020-10-02", until="2020-10-02", tz="UTC")
    assert shanghai["total"] == utc["total"] == 1
    assert served.json("/", source="法制晨报")["total"] == 1
    assert served.json("/", author="王法", site=web_archive.LEGAL)["total"] == 3
    assert served.json("/", category="精准扶贫", dups="exclude", q="驻点招商")["total"] == 1


def test_pagination_and_stable_urls(served: Served) -> None:
    first = served.json("/", q="滚动新闻")
    assert first["pages"] == 2 and len(first["results"]) == 20
    second = served.json("/", q="滚动新闻", page="2")
    assert len(second["results"]) == 10
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    page = served.html("/", q="滚动新闻")
    assert 'rel="next" href="/?q=%E6%BB%9A%E5%8A%A8%E6%96%B0%E9%97%BB&amp;page=2"' in page


def test_newest_first_listing_without_query(served: Served) -> None:
    data = served.json("/", site=web_archive.OTHER)
    dates = [r["published_at"] for r in data["results"] if r["published_at"]]
    assert dates == sorted(dates, reverse=True)


# --- exports --------------------------------------------------------------------------------


def _export_file(served: Served, fmt: str, tmp_path: Path, **filters: str) -> Path:
    from storage.export import export

    out = tmp_path / f"cli.{fmt}"
    with ArchiveBrowser(served.db_url) as archive:
        export(archive, out, fmt, **filters)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_links_stream_the_files_zhengwen_export_writes(
    served: Served, fmt: str, tmp_path: Path
) -> None:
    link = served.json("/", q="滚动新闻", site=web_archive.OTHER)["exports"][fmt]
    status, headers, body = served.get(link)
    assert status == 200
    assert "attachment" in headers["content-disposition"]
    assert (
        body
        == _export_file(served, fmt, tmp_path, q="滚动新闻", site=web_archive.OTHER).read_bytes()
    )


def test_parquet_export_holds_the_selection(served: Served) -> None:
    import pyarrow.parquet as pq

    status, _, body = served.get("/export.parquet", site=web_archive.LEGAL)
    assert status == 200
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 3
    assert set(table.column("site").to_pylist()) == {web_archive.LEGAL}


# --- article, versions, copies --------------------------------------------------------------


def test_article_page_shows_every_field_and_its_versions(served: Served) -> None:
    article_id = served.ids["changed"]
    data = served.json(f"/article/{article_id}")
    assert data["article"]["title"] == "驻点招商助力精准扶贫（更正）"
    assert data["article"]["source"] == "光明网"
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert [c["id"] for c in data["copies"]] == [served.ids["copy"]]
    page = served.html(f"/article/{article_id}")
    assert "更正：项目数量为三个。" in page
    assert f'href="/article/{article_id}/diff?from=1&amp;to=2"' in page
    copy = served.json(f"/article/{served.ids['copy']}")
    assert copy["duplicate_of"]["id"] == article_id  # linked both ways


def test_diff_shows_both_versions_side_by_side(served: Served) -> None:
    data = served.json(f"/article/{served.ids['changed']}/diff")
    kinds = {row["kind"] for row in data["rows"]}
    assert "changed" in kinds and "added" in kinds
    changed = [r for r in data["rows"] if r["kind"] == "changed"]
    assert any("推动三个项目落地" in (r["right"] or "") for r in changed)
    assert any("推动项目落地" in (r["left"] or "") for r in changed)
    assert data["unified"][0] == "--- version 1"
    page = served.html(f"/article/{served.ids['changed']}/diff", **{"from": "1", "to": "2"})
    assert 'class="diff"' in page


def test_an_article_with_one_version_has_no_diff(served: Served) -> None:
    status, _, _ = served.get(f"/article/{served.ids['hostile']}/diff")
    assert status == 404
    status, _, _ = served.get(f"/article/{served.ids['changed']}/diff", **{"from": "7"})
    assert status == 404


# --- sites and runs -------------------------------------------------------------------------


def test_sites_and_site_page_with_chart_runs_and_drift(served: Served) -> None:
    sites = served.json("/sites")["sites"]
    assert {s["site"]: s["articles"] for s in sites}[web_archive.OTHER] == 32
    data = served.json(f"/sites/{web_archive.LEGAL}")
    assert len(data["per_day"]) == 90
    assert sum(d["articles"] for d in data["per_day"]) == 3
    assert [r["status"] for r in data["runs"]] == ["ok", "ok"]
    assert data["runs"][1]["drift"] == ["date 0.41 (usual 0.98)"]
    page = served.html(f"/sites/{web_archive.LEGAL}")
    assert "<svg" in page and 'class="bar"' in page
    assert 'class="alert">date 0.41 (usual 0.98)' in page


def test_run_page_has_counters_drops_and_errors(served: Served) -> None:
    data = served.json(f"/runs/{served.ids['run']}")
    assert data["dropped"] == [
        {"reason": "not_article", "count": 3},
        {"reason": "too_short", "count": 1},
    ]
    assert data["errors"] == [{"reason": "http_404", "count": 2}]
    assert data["run"]["drift"] == ["date 0.41 (usual 0.98)"]
    assert "not_article" in served.html(f"/runs/{served.ids['run']}")


# --- hostile input --------------------------------------------------------------------------


def test_stored_script_and_onerror_are_escaped(served: Served) -> None:
    for path in (f"/article/{served.ids['hostile']}", "/"):
        page = served.html(path, **({"q": "恶意"} if path == "/" else {}))
        assert "<script>alert" not in page and "<script>document" not in page
        assert "<img src=x onerror" not in page
        assert "&lt;script&gt;" in page
    _, headers, _ = served.get(f"/article/{served.ids['hostile']}")
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none': none
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/article/..%2F..%2Fetc%2Fpasswd", {}, 404),
        ("/article/../../etc/passwd", {}, 404),
        ("/article/not-an-id", {}, 400),
        ("/article/" + "0" * 40, {}, 404),
        ("/runs/" + "x" * 65, {}, 400),
        ("/runs/no-such-run", {}, 404),
        ("/sites/no-such-site", {}, 404),
        ("/static/../web/app.py", {}, 404),
        ("/", {"since": "2020-13-45"}, 400),
        ("/", {"tz": "Mars/Olympus"}, 400),
        ("/", {"q": "新" * 1001}, 400),
        ("/", {"page": "0"}, 400),
        ("/", {"page": "51"}, 400),
        ("/", {"page": "x"}, 400),
        ("/", {"order": "rank"}, 400),
        ("/", {"bogus": "1"}, 400),
        ("/", {"q": "a\x00b"}, 400),
        ("/", {"format": "xml"}, 400),
        ("/export.exe", {}, 404),
        ("/export.csv", {"since": "yesterday"}, 400),
        ("/nothing-here", {}, 404),
    ],
)
def test_bad_input_is_a_clean_error_page(
    served: Served, path: str, params: dict[str, str], code: int
) -> None:
    status, headers, body = served.get(path, **params)
    assert status == code, body[:300]
    text = body.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert headers["content-type"].startswith("text/html")
    status, headers, body = served.get(path, **{**params, "format": "json"})
    if code == 400 and params.get("format") == "xml":
        return
    assert status == code
    assert json.loads(body)["status"] == code


def test_the_archive_is_opened_read_only(served: Served) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    with ArchiveBrowser(served.db_url) as archive, pytest.raises(SQLAlchemyError):
        with archive._db.engine.begin() as conn:
            conn.execute(text("DELETE FROM crawl_runs"))


def test_the_site_summary_and_tallies_follow_the_runs(tmp_path: Path) -> None:
    """The per-site summary (it counts every article) and a search's tally (each of its pages
    shows the same) are reused between requests, but a run that starts or ends is seen at
    once."""
    from dataclasses import replace

    from storage.db import Database
    from storage.query import Filters

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    extra = replace(
        web_archive.articles()[1], url="https://legal-news.example.cn/a/99.html", url_hash=""
    )
    wanted = Filters.build(q="legal aid")
    with ArchiveBrowser(url) as archive:
        before = {s.site: s.articles for s in archive.sites()}
        tally = archive.tally(wanted)
        assert archive.tally(Filters.build(q="legal aid")) is tally  # reused: the same object
        db = Database(url)
        try:
            run = db.start_run(web_archive.LEGAL, "manual")
            db.upsert_articles([replace(extra, crawl_run_id=run)])
            db.finish_run(run, "ok", {"pages": 1})
        finally:
            db.dispose()
        after = {s.site: s.articles for s in archive.sites()}
        assert archive.tally(wanted).total == tally.total + 1
    assert after[web_archive.LEGAL] == before[web_archive.LEGAL] + 1
    with ArchiveBrowser(url, reuse_seconds=0) as archive:  # `zhengwen serve --reuse-seconds 0`
        assert archive.tally(wanted) is not archive.tally(wanted)
        assert archive.tally(wanted) == archive.tally(wanted)


def test_one_page_reads_the_runs_state_once(tmp_path: Path) -> None:
    """The figures a page reuses are checked against the runs state read once per page
    (`ArchiveBrowser.one_view`), not once per figure."""
    from sqlalchemy import event

    from storage.query import Filters

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    wanted = Filters.build(q="legal aid")
    with ArchiveBrowser(url) as archive:
        statements: list[str] = []
        event.listen(
            archive._db.engine, "before_cursor_execute", lambda *a: statements.append(a[2])
        )

        def state_reads() -> int:
            return sum(s.endswith("max_2 \nFROM crawl_runs") for s in statements)

        with archive.one_view():
            archive.sites()
            archive.tally(wanted)
            assert archive.page(wanted, page=1, size=5)
        assert state_reads() == 1
        archive.sites()
        archive.tally(wanted)
        assert state_reads() == 3  # outside a page, each figure checks it


def test_at_most_the_page_threads_compute_pages_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests beyond the page threads wait their turn; every one is answered."""
    from concurrent.futures import ThreadPoolExecutor

    from web import views

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    lock = threading.Lock()
    running, most = [0], [0]
    real = views.sites

    def counted(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # long enough for the other requests to arrive
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(views, "sites", counted)
    for base, _archive in _serve(url, threads=2):
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(urllib.request.urlopen, [base + "/sites"] * 8))
        assert [a.status for a in answers] == [200] * 8
    assert most[0] == 2


def test_large_selections_are_counted_up_to_a_cap_and_faceted_on_a_window(tmp_path: Path) -> None:
    """A common word matches much of a big archive: its count stops at a cap ("at least") and
    its facets come from the same window of matches, so that the page stays fast."""
    from storage.query import Filters

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    with ArchiveBrowser(url, count_cap=10) as archive:
        filters = Filters.build(q="滚动新闻")  # 30 matches
        tally = archive.tally(filters)
        assert (tally.total, tally.capped) == (10, True)
        assert sum(n for _, n in tally.sites) == 10 == sum(n for _, n in tally.months)
        assert len(archive.page(filters, page=1, size=5)) == 5
        few = archive.tally(Filters.build(q="驻点招商"))  # 2 matches: exact
        assert (few.total, few.capped) == (2, False)
        assert archive.tally(Filters.build(q="滚动新闻", site="no-such-site")).total == 0
    with ArchiveBrowser(url) as archive:
        exact = archive.tally(Filters.build(q="滚动新闻"))
        assert (exact.total, exact.capped) == (30, False)
        assert sum(n for _, n in exact.sites) == 30 == sum(n for _, n in exact.months)
        # The same figures as the archive's exact count, per site.
        for site, n in exact.sites:
            assert archive.count(Filters.build(q="滚动新闻", site=site)) == n


def test_the_tally_reads_the_cover_index_and_works_without_it(tmp_path: Path) -> None:
    """The count and facets of a search read site and date from the cover index (SQLite is
    told by a statistics row that it finds one row per URL hash); an archive written before
    the index existed gives the same figures, reading the rows."""
    import sqlite3

    from sqlalchemy import text

    from storage.models import COVER_INDEX
    from storage.query import Filters

    path = tmp_path / "zhengwen.sqlite"
    url = f"sqlite:///{path}"
    web_archive.build(url)
    filters = Filters.build(q="滚动新闻")
    with ArchiveBrowser(url) as archive:
        stmt = archive.tally_statement(filters)
        sql = str(stmt.compile(archive._db.engine, compile_kwargs={"literal_binds": True}))
        with archive._db.engine.connect() as conn:
            plan = " | ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert f"COVERING INDEX {COVER_INDEX}" in plan, plan
        with_index = archive.tally(filters)
    conn = sqlite3.connect(path)
    conn.execute(f"DROP INDEX {COVER_INDEX}")
    conn.execute("DELETE FROM sqlite_stat1")
    conn.commit()
    conn.close()
    with ArchiveBrowser(url) as archive:
        assert archive.tally(filters) == with_index
    # The next writer puts both back.
    from storage.db import Database

    db = Database(url)
    try:
        db.create_schema()
    finally:
        db.dispose()
    conn = sqlite3.connect(path)
    stat = conn.execute("SELECT stat FROM sqlite_stat1 WHERE idx = ?", (COVER_INDEX,)).fetchone()
    conn.close()
    assert stat is not None and stat[0].split()[1:] == ["1", "1", "1", "1"]


def test_a_search_under_a_filter_is_counted_from_its_matches(tmp_path: Path) -> None:
    """A count under a site or date filter starts from the search's matches (SQLite's
    ``CROSS JOIN``), never from the filter's index probing the full-text index article by
    article (seconds for a rare word on a large site); the figures are those of the plain
    join."""
    from sqlalchemy import func, select, text

    from storage.query import Filters

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    with ArchiveBrowser(url) as archive:
        for filters in (
            Filters.build(q="滚动新闻", site=web_archive.LEGAL),
            Filters.build(q="滚动新闻", since="2020-01-01", until="2020-12-31"),
        ):
            sql = str(
                archive.tally_statement(filters).compile(
                    archive._db.engine, compile_kwargs={"literal_binds": True}
                )
            )
            assert "CROSS JOIN" in sql
            with archive._db.engine.connect() as conn:
                plan = [str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
                steps = [p for p in plan if p.startswith(("SCAN", "SEARCH"))]
                assert steps[0].startswith("SCAN article_search VIRTUAL TABLE"), plan
                plain = archive._select(filters, ["url_hash"]).subquery()
                exact = conn.execute(select(func.count()).select_from(plain)).scalar_one()
            assert archive.count_tally(filters).total == exact == archive.count(filters)


@pytest.mark.parametrize("q", ["滚动新闻", None])
def test_pages_follow_one_ranking_reused_while_paging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, q: str | None
) -> None:
    """Pages come from a ranking of ids taken a window at a time and reused: read one after
    another, they hold exactly the selection in the order `Archive.articles` gives it."""
    import storage.browse
    from storage.query import Filters

    monkeypatch.setattr(storage.browse, "RANKED_AT_ONCE", 10)  # windows end inside pages
    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    web_archive.build(url)
    filters = Filters.build(q=q) if q else Filters.build()
    with ArchiveBrowser(url) as archive:
        expected = [
            (hit.article.url, hit.snippet) if q else (hit.url, None)
            for hit in archive.articles(**({"q": q} if q else {}))
        ]
        assert len(expected) >= 30
        pages = []
        for number in range(1, 7):
            items = archive.page(filters, page=number, size=7)
            pages += [
                (i.article.url, i.snippet.replace("\x02", "【").replace("\x03", "】"))
                if q
                else (i.url, None)
                for i in items
            ]
        assert pages == expected
        misses = archive._rankings.misses
        archive.page(filters, page=2, size=7)
        assert archive._rankings.misses == misses  # page 2 again: the ranking is reused
