"""The raw archive end to end: crawl the test portal over real HTTP, check the WARC files with
warcio, crawl again for revisits, and re-extract the archive into SQL and Parquet offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import PortalServer
from storage.article import field_names
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.conftest import N_ARTICLES
from tests.test_crawl_e2e import crawl, run, site_config

WARCIO = Path(sys.executable).parent / "warcio"


def warc_files(archive: Path) -> list[Path]:
    return sorted((archive / "raw" / "testportal").glob("*.warc.gz"))


def read_records(paths: list[Path]) -> list[dict[str, str]]:
    """WARC headers of every record, plus the HTTP status of responses/revisits."""
    out = []
    for path in paths:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                headers = dict(rec.rec_headers.headers)
                if rec.http_headers is not None and rec.rec_type != "request":
                    headers["status"] = rec.http_headers.get_statuscode()
                out.append(headers)
    return out


def reextract(tmp_path: Path, archive: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        [sys.executable, "-m", "crawler.cli", "reextract", "--archive", str(archive), *extra],
        tmp_path,
    )


def stored(archive: Path) -> dict[str, dict[str, object]]:
    with Database(ArchivePaths(archive).default_db_url) as db:
        return {a.url: a.to_dict() for a in db.iter_articles("testportal")}


def test_every_fetch_is_archived_as_a_checked_request_response_pair_then_revisited(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    files = warc_files(archive)
    assert files and not list((archive / "raw").rglob("*.open"))
    for path in files:
        check = subprocess.run(
            [str(WARCIO), "check", str(path)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
    recs = read_records(files)
    responses = {r["WARC-Record-ID"]: r for r in recs if r["WARC-Type"] == "response"}
    requests = [r for r in recs if r["WARC-Type"] == "request"]
    # One pair per request the portal served, linked by WARC-Concurrent-To.
    assert len(responses) == len(requests) == len(server.requests)
    assert {r["WARC-Concurrent-To"] for r in requests} == set(responses)
    served = Counter(server.url + p for p in server.requests)
    assert Counter(r["WARC-Target-URI"] for r in responses.values()) == served
    kinds = Counter(r.get("WARC-Zhengwen-Kind") for r in responses.values())
    assert kinds["article"] == N_ARTICLES and kinds["list"] > 0
    assert {r["WARC-Zhengwen-Site"] for r in recs if r["WARC-Type"] != "warcinfo"} == {"testportal"}
    log = next((archive / "logs").glob("*-testportal.log")).read_text(encoding="utf-8")
    assert f"'zhengwen/raw/records': {len(responses)}" in log

    # Second run of the unchanged portal: whatever is fetched again is a revisit.
    before = len(server.requests)
    crawl(tmp_path, config, archive, "--quiet")
    again = server.requests[before:]
    assert again
    new_files = [p for p in warc_files(archive) if p not in files]
    for path in new_files:
        check = subprocess.run([str(WARCIO), "check", str(path)], capture_output=True, check=False)
        assert check.returncode == 0
    second = [r for r in read_records(new_files) if r["WARC-Type"] in ("response", "revisit")]
    assert len(second) == len(again)
    revisits = [r for r in second if r["WARC-Type"] == "revisit"]
    list_pages = [p for p in again if "/content_" not in p and p != "/robots.txt"]
    assert list_pages and len(revisits) >= len(list_pages)
    for r in revisits:
        original = responses[r["WARC-Refers-To"]]
        assert r["WARC-Refers-To-Target-URI"] == original["WARC-Target-URI"]
        if r["WARC-Profile"].endswith("identical-payload-digest"):
            assert r["WARC-Payload-Digest"] == original["WARC-Payload-Digest"]
        else:
            assert r["WARC-Profile"].endswith("server-not-modified") and r["status"] == "304"


def test_reextract_reproduces_the_archive_and_restores_lost_rows(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    before = stored(archive)
    assert len(before) == N_ARTICLES
    requests = len(server.requests)

    same = reextract(tmp_path, archive, "--site", str(config))
    assert same.returncode == 0, same.stderr
    assert (
        f"{N_ARTICLES} article pages; articles {N_ARTICLES} unchanged, 0 changed, 0 new, "
        "0 failed (none); damaged files 0"
    ) in same.stdout
    assert stored(archive) == before
    assert len(server.requests) == requests  # no network

    # An older extractor "lost" three articles: re-extraction restores them exactly.
    lost = sorted(before)[:3]
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db, db.engine.begin() as conn:
        for url in lost:
            conn.execute(
                text("DELETE FROM articles WHERE url_hash = :h"), {"h": before[url]["url_hash"]}
            )
    parquet_rows = ParquetDataset(paths.parquet_dir).count("testportal")
    restored = reextract(tmp_path, archive, "--site", str(config), "--quiet")
    assert restored.returncode == 0, restored.stderr
    assert f"{N_ARTICLES - 3} unchanged, 0 changed, 3 new, 0 failed" in restored.stdout
    after = stored(archive)
    assert set(after) == set(before)
    for url in lost:
        for name in field_names():
            assert after[url][name] == before[url][name], (url, name)
    # Parquet already held those versions: nothing duplicated.
    assert ParquetDataset(paths.parquet_dir).count("testportal") == parquet_rows

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = reextract(tmp_path, archive, "--since", tomorrow, "--site", str(config))
    assert "0 article pages" in future.stdout
    today = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    recent = reextract(tmp_path, archive, "--since", today, "--site", str(config))
    assert f"{N_ARTICLES} article pages" in recent.stdout


def test_reextract_reports_a_damaged_file_and_reads_the_rest(
    tmp_path: Path, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    original = warc_files(archive)[0]
    data = original.read_bytes()
    cut = original.with_name("testportal-29990101T000000000000Z-cut.warc.gz")
    cut.write_bytes(data[: len(data) // 2])
    garbage = original.with_name("testportal-29990101T000000000001Z-junk.warc.gz")
    garbage.write_bytes(b"\x1f\x8b" + b"\x00" * 500)
    shutil.copy(original, original.with_name(original.name + ".copy"))  # not a WARC name: ignored

    result = reextract(tmp_path, archive, "--site", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{cut}: damaged or cut short at offset" in result.stderr
    assert f"{garbage}: unreadable at offset 0" in result.stderr
    assert (
        f"articles {N_ARTICLES} unchanged, 0 changed, 0 new, 0 failed (none); damaged files 2"
    ) in result.stdout


def test_raw_archive_can_be_switched_off(tmp_path: Path, server: PortalServer) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    result = run(
        [
            sys.executable, "-m", "scrapy", "crawl", "portal",
            "-a", f"site={config}",
            "-s", f"ZHENGWEN_ARCHIVE_DIR={archive}",
            "-s", "ZHENGWEN_RAW_ARCHIVE=False",
            "-s", "LOG_LEVEL=WARNING",
        ],
        Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert warc_files(archive) == []
    with Database(ArchivePaths(archive).default_db_url) as db:
        assert db.count_articles("testportal") == N_ARTICLES


def test_reextract_of_a_site_without_its_config_uses_the_options_its_crawl_recorded(
    tmp_path: Path, server: PortalServer
) -> None:
    """Issue #14, item 2: `reextract --site NAME` with no sites/NAME.toml re-extracted with
    default options, undoing the config's selectors (here the title from <title>, suffix and
    all), and SQL and Parquet disagreed afterwards."""
    config = site_config(tmp_path, server, extra='[selectors]\ntitle = "title"\n')
    archive = tmp_path / "archive"
    crawl(tmp_path, config, archive, "--quiet")
    before = stored(archive)
    assert all("_" in str(row["title"]) for row in before.values())  # the selector's title
    paths = ArchivePaths(archive)
    assert list((paths.configs_dir / "testportal").glob("*.json"))

    # No sites/testportal.toml in the working directory: the recorded options are used.
    again = reextract(tmp_path, archive, "--site", "testportal")
    assert again.returncode == 0, again.stderr
    assert "note: testportal: no sites/testportal.toml; using the options its crawl recorded" in (
        again.stderr
    )
    assert f"articles {N_ARTICLES} unchanged, 0 changed, 0 new" in again.stdout
    assert stored(archive) == before
    # SQL's current version is Parquet's newest row for every article.
    table = ParquetDataset(paths.parquet_dir).read_table(
        "testportal", ["url_hash", "content_hash", "fetched_at"]
    )
    newest: dict[str, tuple[object, str]] = {}
    for key, content, when in zip(*table.to_pydict().values(), strict=True):
        if key not in newest or when >= newest[key][0]:
            newest[key] = (when, content)
    assert {row["url_hash"]: row["content_hash"] for row in before.values()} == {
        k: v[1] for k, v in newest.items()
    }

    # Nothing recorded and no config: refused, nothing re-extracted.
    shutil.rmtree(paths.configs_dir)
    refused = reextract(tmp_path, archive, "--site", "testportal")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: no site config for 'testportal'")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert stored(archive) == before
