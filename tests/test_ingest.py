"""`zhengwen ingest`: web-archive files into the archive. WARC files are written with warcio
from real pages of ``../shared/evaldata/`` (plain, chunked and gzip bodies, revisits, damage)
and from a crawl of the test portal over real HTTP; what is stored is compared with what the
crawl stored and with the extractor's own output."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from crawler.config import load_site_file
from crawler.demo.server import PortalServer
from crawler.extract import ExtractOptions, extract
from crawler.ingest import ingest, site_name_of
from storage.article import field_names
from storage.db import Database
from storage.models import Base
from storage.paths import ArchivePaths
from storage.warc_in import Capture, Position, Skip, read_archive
from tests.conftest import N_ARTICLES
from tests.test_crawl_e2e import crawl, run, site_config
from tests.warc_build import Builder, Page, arc_file, zh_pages

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
CRAWL_TIME_FIELDS = {"fetched_at", "first_seen", "last_seen", "crawl_run_id"}


def stored(archive: Path) -> dict[str, dict[str, object]]:
    with Database(ArchivePaths(archive).default_db_url) as db:
        return {a.url: a.to_dict() for a in db.iter_articles()}


def expected(page: Page) -> dict[str, object]:
    host = urlsplit(page.url).hostname or ""
    options = ExtractOptions(site=site_name_of(host), timezone="UTC", domains=(host,))
    return extract(page.html, page.url, options, http_encoding="utf-8").to_dict()


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "crawler.cli", "ingest", *args], tmp_path)


def test_a_crawls_warc_files_ingest_to_the_articles_the_crawl_stored(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    crawled = tmp_path / "crawled"
    crawl(tmp_path, config, crawled, "--quiet")
    before = stored(crawled)
    assert len(before) == N_ARTICLES
    warcs = sorted((crawled / "raw").rglob("*.warc.gz"))
    assert warcs
    requests = len(server.requests)

    fresh = tmp_path / "ingested"
    done = cli(tmp_path, *map(str, warcs), "--site", str(config), "--archive", str(fresh))
    assert done.returncode == 0, done.stderr
    assert f"articles {N_ARTICLES} new" in done.stdout, done.stdout
    # The progress line (stderr) gives records and articles with their rates.
    progress = done.stderr.strip().splitlines()[-1]
    assert re.search(
        r"[\d,]+ records \([\d,]+/s\), [\d,]+ articles \([\d,.]+/s, [\d,]+ stored\)", progress
    )
    after = stored(fresh)
    assert set(after) == set(before)
    for url, article in after.items():
        for name in set(field_names()) - CRAWL_TIME_FIELDS:
            assert article[name] == before[url][name], (url, name)
        # fetched_at is the record's WARC-Date (whole seconds) of the crawl's fetch.
        gap = abs((article["fetched_at"] - before[url]["fetched_at"]).total_seconds())  # type: ignore[operator]
        assert gap < 2, (url, gap)
        assert article["crawl_run_id"] is None
    assert len(server.requests) == requests  # no network

    again = cli(tmp_path, *map(str, warcs), "--site", str(config), "--archive", str(fresh))
    assert again.returncode == 0, again.stderr
    assert f"{len(warcs)} already ingested" in again.stdout
    assert stored(fresh) == after


def six_pages(tmp_path: Path) -> tuple[list[Page], Path]:
    """Six real pages captured at T0, in one WARC file."""
    pages = zh_pages(6)
    b = Builder()
    for page in pages:
        b.response(page.url, page.html, T0)
    return pages, b.save(tmp_path / "six.warc.gz")


def _mixed_warc(path: Path, pages: list[Page], *, gzip_records: bool = True) -> Path:
    """Requests and responses (chunked, gzip-encoded, both, neither), non-HTML and non-2xx
    answers, garbage between records, a revisit, and a cut-short last record."""
    b = Builder(gzip_records)
    b.warcinfo()
    digests = {}
    for i, page in enumerate(pages):
        b.request(page.url, T0)
        digests[page.url] = b.response(
            page.url, page.html, T0, chunked=i % 2 == 0, gzip_body=i % 3 == 0
        )
    b.response(
        "https://img.example.com/logo.png", b"\x89PNG\r\n\x1a\n...", T0, content_type="image/png"
    )
    b.response(
        "https://news.example.com/gone.html", b"<html>gone</html>", T0, status="404 Not Found"
    )
    b.garbage()
    b.revisit(pages[0].url, digests[pages[0].url], pages[0].url, T0, LATER)
    b.response(pages[1].url, pages[1].html, LATER)  # cut short below
    return b.save(path, cut_last=200)


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gzip-records", "plain"])
def test_real_pages_in_a_damaged_warc_are_ingested_and_the_rest_is_counted(
    tmp_path: Path, gzip_records: bool
) -> None:
    pages = zh_pages(6)
    name = "mixed.warc.gz" if gzip_records else "mixed.warc"
    warc = _mixed_warc(tmp_path / name, pages, gzip_records=gzip_records)
    summary = ingest([warc], archive=tmp_path / "archive", workers=1)

    assert summary.skipped == {
        "not_html": 1,
        "http_status": 1,
        "bad_record": 1,
        "truncated": 1,
    }, summary.line()
    assert summary.revisits == 1
    after = stored(tmp_path / "archive")
    want = {p.url: expected(p) for p in pages}
    kept = {u: w for u, w in want.items() if w["published_at"] is not None}
    assert set(after) == {w["url"] for w in kept.values()}
    by_url = {a["fetched_url"]: a for a in after.values()}
    for page in pages:
        if page.url not in kept:
            continue
        got, wanted = by_url[page.url], kept[page.url]
        for name_ in ("title", "body", "published_at", "author", "source", "content_hash"):
            assert got[name_] == wanted[name_], (page.id, name_)
    # The revisit is a later capture of the same text: as on a crawl that finds a page
    # unchanged, only last_seen moves (the stored text was fetched at T0).
    first = by_url.get(pages[0].url)
    if first is not None:
        assert (first["fetched_at"], first["first_seen"], first["last_seen"]) == (T0, T0, LATER)


def test_each_ingested_version_keeps_its_file_and_offset(tmp_path: Path) -> None:
    pages = zh_pages(2)
    b = Builder()
    offsets = []
    for page in pages:
        offsets.append(len(b.bytes()))
        b.response(page.url, page.html, T0)
    warc = b.save(tmp_path / "two.warc.gz")
    ingest([warc], archive=tmp_path / "archive", workers=1)
    table = Base.metadata.tables["ingest_sources"]
    with Database(ArchivePaths(tmp_path / "archive").default_db_url) as db:
        with db.engine.connect() as conn:
            rows = conn.execute(select(table.c.source, table.c.offset)).all()
    assert sorted(rows) == sorted((str(warc), o) for o in offsets)[: len(rows)]
    assert rows


def test_an_older_capture_does_not_replace_a_newer_one(tmp_path: Path, db_url: str) -> None:
    page = zh_pages(1)[0]
    edited = page.html.replace("。".encode(), "！".encode(), 3)
    newer = Builder()
    newer.response(page.url, edited, LATER)
    older = Builder()
    older.response(page.url, page.html, T0)
    archive = tmp_path / "archive"
    first = ingest(
        [newer.save(tmp_path / "newer.warc.gz")], archive=archive, db_url=db_url, workers=1
    )
    assert first.new == 1, first.line()
    summary = ingest(
        [older.save(tmp_path / "older.warc.gz")], archive=archive, db_url=db_url, workers=1
    )
    assert summary.past == 1, summary.line()
    with Database(db_url) as db:
        (current,) = list(db.iter_articles())
        versions = db.versions(current.url)
    assert current.fetched_at == LATER
    assert current.first_seen == T0
    assert "！" in current.body
    # Versions follow capture times: the older text is version 1.
    assert [v.version for v in versions] == [1, 2]
    assert "！" not in versions[0].body and "！" in versions[1].body
    assert versions[0].first_seen == T0 and versions[1].first_seen == LATER


def test_an_interrupted_ingest_resumes_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.ingest as ingest_module

    pages, warc = six_pages(tmp_path)
    archive = tmp_path / "archive"
    monkeypatch.setattr(ingest_module, "BATCH", 2)
    monkeypatch.setattr(ingest_module, "STORE_BATCH", 2)
    real_store = ingest_module._Ingest._store
    calls = []

    def store_then_die(self: object, pairs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed after its first batch was stored
        real_store(self, pairs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module._Ingest, "_store", store_then_die)
    with pytest.raises(KeyboardInterrupt):
        ingest([warc], archive=archive, workers=1)
    monkeypatch.setattr(ingest_module._Ingest, "_store", real_store)
    first = stored(archive)
    assert 0 < len(first) < 6
    summary = ingest([warc], archive=archive, workers=1)
    assert summary.files_resumed == 1
    # Only the records after the saved offset were read again.
    assert summary.records < len(pages), summary.line()
    assert summary.new + len(first) == len(stored(archive))


def test_whole_file_gzip_and_wacz_are_read(tmp_path: Path) -> None:
    pages = zh_pages(3)
    plain = Builder(gzip_records=False)
    for page in pages:
        plain.response(page.url, page.html, T0)
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain.bytes()))
    got = [i for i in read_archive(whole) if isinstance(i, Capture)]
    assert [c.url for c in got] == [p.url for p in pages]
    # One gzip stream: no record can be entered mid-way, so no resume offset is given.
    assert {i.offset for i in read_archive(whole) if isinstance(i, Position)} == {None}

    wacz = tmp_path / "crawl.wacz"
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.writestr("archive/data.warc", plain.bytes())
        zf.writestr("datapackage.json", "{}")
    got = [i for i in read_archive(wacz) if isinstance(i, Capture)]
    assert [c.url for c in got] == [p.url for p in pages]
    assert got[0].source == f"{wacz}#archive/data.warc"


def test_an_arc_file_is_read(tmp_path: Path) -> None:
    pages = zh_pages(3)
    arc = arc_file(tmp_path / "old.arc", pages, T0)
    got = [i for i in read_archive(arc) if isinstance(i, Capture)]
    assert [(c.url, c.date, c.body) for c in got] == [(p.url, T0, p.html) for p in pages]
    summary = ingest([arc], archive=tmp_path / "a", workers=1)
    assert not summary.skipped, summary.line()
    assert summary.pages == len(pages)


def test_a_site_keeps_only_its_article_urls(tmp_path: Path) -> None:
    pages, warc = six_pages(tmp_path)
    site = tmp_path / "netease.toml"
    site.write_text(
        'name = "netease"\nstart_urls = ["https://news.163.com/"]\n'
        'allowed_domains = ["163.com"]\n[urls]\narticle = ["/19/\\\\d{4}/"]\n',
        encoding="utf-8",
    )
    done = cli(tmp_path, str(warc), "--site", str(site), "--archive", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    on_site = [p for p in pages if "163.com/19/" in p.url]
    assert f"{len(on_site)} pages extracted" in done.stdout
    assert "off_site" in done.stdout and "not_article_url" in done.stdout
    assert {a["site"] for a in stored(tmp_path / "a").values()} == {"netease"}


def test_bad_arguments_are_one_line_exit_2(tmp_path: Path) -> None:
    missing = cli(tmp_path, str(tmp_path / "nope.warc.gz"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope.warc.gz'}: no such file"
    ]
    nothing = cli(tmp_path, str(tmp_path / "*.warc.gz"))
    assert nothing.returncode == 2 and "matches no WARC" in nothing.stderr
    backwards = cli(tmp_path, "x.warc", "--since", "2024-05-02", "--until", "2024-05-01")
    assert backwards.returncode == 2 and "before --since" in backwards.stderr
    assert "Traceback" not in missing.stderr + nothing.stderr + backwards.stderr


@pytest.mark.parametrize("gzip_records", [True, False], ids=["gzip-records", "plain"])
def test_a_response_that_is_not_http_is_counted_and_the_rest_ingested(
    tmp_path: Path, gzip_records: bool
) -> None:
    """HTTP headers are read only for the responses that are used: a broken one on the site is
    counted as bad_http, one off the site is only off the site; the pages after both are
    ingested."""
    pages = [p for p in zh_pages(6) if "163.com/19/" in p.url]
    assert len(pages) >= 2
    b = Builder(gzip_records)
    b.response(pages[0].url, pages[0].html, T0)
    b.by_hand("https://news.163.com/19/0101/broken.html", T0, b"NOT HTTP\r\n\r\n<html></html>")
    b.by_hand("https://elsewhere.example.org/a.html", T0, b"garbage\r\n\r\n<html></html>")
    for page in pages[1:]:
        b.response(page.url, page.html, T0)
    warc = b.save(tmp_path / ("broken.warc.gz" if gzip_records else "broken.warc"))
    site = tmp_path / "netease.toml"
    site.write_text(
        'name = "netease"\nstart_urls = ["https://news.163.com/"]\n'
        'allowed_domains = ["163.com"]\n[urls]\narticle = ["/19/\\\\d{4}/"]\n',
        encoding="utf-8",
    )
    summary = ingest([warc], archive=tmp_path / "a", sites=[load_site_file(site)], workers=1)
    assert summary.skipped == {"bad_http": 1, "off_site": 1}, summary.line()
    assert summary.pages == len(pages)
    assert {a["fetched_url"] for a in stored(tmp_path / "a").values()} == {p.url for p in pages}


def test_records_outside_the_dates_are_counted(tmp_path: Path) -> None:
    pages = zh_pages(2)
    b = Builder()
    b.response(pages[0].url, pages[0].html, T0)
    b.response(pages[1].url, pages[1].html, LATER)
    warc = b.save(tmp_path / "two.warc.gz")
    summary = ingest([warc], archive=tmp_path / "a", since=LATER.date(), workers=1)
    assert summary.skipped["outside_dates"] == 1
    assert summary.pages == 1


def test_a_garbage_file_is_skipped_with_a_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"\x1f\x8b\x08" + b"\x00" * 100)
    items = list(read_archive(junk))
    assert [i.reason for i in items if isinstance(i, Skip)] == ["truncated"]
    shutil.copy(junk, tmp_path / "junk2.warc")
    summary = ingest([junk], archive=tmp_path / "a", workers=1)
    assert summary.skipped["truncated"] == 1 and summary.articles == 0


def test_files_read_by_reader_processes_store_what_one_reader_stores(tmp_path: Path) -> None:
    pages = zh_pages(9)
    files = []
    for k in range(3):
        b = Builder(gzip_records=k != 1)
        for page in pages[k * 3 : k * 3 + 3]:
            b.request(page.url, T0)
            b.response(page.url, page.html, T0, chunked=k == 2)
        b.response("https://img.example.com/a.png", b"\x89PNG", T0, content_type="image/png")
        files.append(b.save(tmp_path / f"part-{k}.warc{'.gz' if k != 1 else ''}"))
    one = ingest(files, archive=tmp_path / "one", workers=1)
    three = ingest(files, archive=tmp_path / "three", workers=1, readers=3)
    assert (three.records, three.pages, three.new, three.skipped) == (
        one.records,
        one.pages,
        one.new,
        one.skipped,
    ), three.line()
    assert one.new > 0 and one.skipped == {"not_html": 3}
    assert stored(tmp_path / "three").keys() == stored(tmp_path / "one").keys()
    again = ingest(files, archive=tmp_path / "three", workers=1, readers=3)
    assert again.files_skipped == 3 and again.records == 0


def test_an_absurd_size_and_a_wrong_length_are_skips_and_the_rest_is_read(tmp_path: Path) -> None:
    pages = zh_pages(3)
    b = Builder(gzip_records=False)
    b.response(pages[0].url, pages[0].html, T0)
    big = b"<html><body>" + b"x" * (17 * 2**20) + b"</body></html>"
    b.response("https://news.example.com/huge.html", big, T0)
    # A record whose WARC Content-Length says 100 bytes fewer than it holds: its end is
    # misread, and so is what follows, until the next record start.
    other = Builder(gzip_records=False)
    other.response(pages[1].url, pages[1].html, T0)
    record = other.bytes()
    declared = int(record.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
    old, new = (b"Content-Length: %d\r\n" % n for n in (declared, declared - 100))
    b.raw(record.replace(old, new, 1))
    b.response(pages[2].url, pages[2].html, T0)
    warc = b.save(tmp_path / "odd.warc")

    items = list(read_archive(warc))
    skips = [i.reason for i in items if isinstance(i, Skip)]
    assert "too_large" in skips and "bad_record" in skips, skips
    urls = [i.url for i in items if isinstance(i, Capture)]
    assert urls[0] == pages[0].url and urls[-1] == pages[2].url


def test_a_file_read_again_from_its_start_adds_no_source_rows(tmp_path: Path) -> None:
    """As a whole-file gzip or a WACZ member is after an interruption: every record again."""
    from sqlalchemy import func, update

    _pages, warc = six_pages(tmp_path)
    archive = tmp_path / "archive"
    first = ingest([warc], archive=archive, workers=1)
    files, sources = (Base.metadata.tables[t] for t in ("ingest_files", "ingest_sources"))
    with Database(ArchivePaths(archive).default_db_url) as db:
        with db.engine.begin() as conn:
            conn.execute(update(files).values(done=False, next_offset=0))
    again = ingest([warc], archive=archive, workers=1)
    assert again.unchanged == first.new > 0, again.line()
    with Database(ArchivePaths(archive).default_db_url) as db:
        with db.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(sources)).scalar()
    assert count == first.new


def _member(record: bytes, edit: tuple[bytes, bytes]) -> bytes:
    """A gzip member's record, edited and compressed again."""
    return gzip.compress(gzip.decompress(record).replace(*edit, 1))


def test_records_passed_over_unread_give_what_reading_them_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a gzip member per record, a record the ingest does not use is passed over without
    inflating its block (`storage.warc_in._pass_over`): what the reading yields is what it
    yields when warcio reads every record, damage and gzip-encoded bodies included."""
    from storage import warc_in

    pages = zh_pages(4)
    on_site = {urlsplit(p.url).hostname for p in pages}
    b = Builder()
    b.warcinfo()
    for i, page in enumerate(pages):
        other = f"https://other{i}.example.org/news/{i}.html"
        for url in (page.url, other):
            b.request(url, T0)
            # gzip-encoded bodies put gzip headers inside the record's own member
            b.response(url, page.html, T0, chunked=i % 2 == 0, gzip_body=i % 2 == 1)
    b.revisit("https://other0.example.org/news/0.html", "sha1:AAAA", "x", T0, LATER)
    b.response(pages[3].url + "?old", pages[3].html, datetime(2020, 1, 1, tzinfo=UTC))
    # An off-site record whose Content-Length is 100 short, and one 100 long: neither agrees
    # with its member's length, so warcio reads them and says what it finds.
    for delta in (-100, 100):
        one = Builder()
        one.response(f"https://other7.example.org/wrong{delta}.html", pages[1].html, T0)
        record = one.bytes()
        declared = int(gzip.decompress(record).split(b"Content-Length: ", 1)[1].split(b"\r\n")[0])
        before, after = (b"Content-Length: %d\r\n" % n for n in (declared, declared + delta))
        b.raw(_member(record, (before, after)))
    b.garbage()
    b.response(pages[2].url, pages[2].html, LATER)
    b.response("https://other8.example.org/last.html", pages[3].html, LATER)
    whole = b.save(tmp_path / "whole.warc.gz")
    cut = b.save(tmp_path / "cut.warc.gz", cut_last=200)

    def wanted(url: str, captured: datetime) -> str | None:
        if urlsplit(url).hostname not in on_site:
            return "off_site"
        return None if captured >= T0 else "dates"

    passed: list[object] = []
    original = warc_in._pass_over

    def counting(*args: Any) -> Any:
        result = original(*args)
        if result is not None:
            passed.append(result)
        return result

    for warc in (whole, cut):
        passed.clear()
        monkeypatch.setattr(warc_in, "_pass_over", counting)
        fast = list(read_archive(warc, 0, wanted))
        # From a record in the middle, as a resumed ingest reads.
        middle = [i.offset for i in fast if isinstance(i, Position)][6]
        fast_middle = list(read_archive(warc, middle, wanted))
        monkeypatch.setattr(warc_in, "_pass_over", lambda *args: None)
        assert fast == list(read_archive(warc, 0, wanted)), warc.name
        assert fast_middle == list(read_archive(warc, middle, wanted)), warc.name
        # Passed over: 8 requests, 4 off-site responses, the off-site revisit, the old capture,
        # and (whole file only) the last record; not the wrong lengths, not the cut record.
        assert len(passed) >= 14 + (warc is whole), (warc.name, len(passed))
        assert [i.url for i in fast if isinstance(i, Capture)] == [p.url for p in pages] + [
            pages[2].url
        ]
        reasons = Counter(i.reason for i in fast if isinstance(i, Skip))
        assert reasons["off_site"] >= 5 and reasons["dates"] == 1, reasons
        assert reasons["bad_record"] >= 1, reasons
        assert reasons["truncated"] == (warc is cut), reasons
