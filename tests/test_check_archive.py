"""`zhengwen check-archive` (issue #14, item 3): SQL's current articles, Parquet's rows and the
raw archive agree after a crawl; each kind of damage is reported, and --repair restores what one
store can give the other. Real crawl, real process, real files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import text

from crawler.demo.server import PortalServer
from storage.check import check_archive
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.conftest import N_ARTICLES
from tests.test_crawl_e2e import crawl, run, site_config


def check(tmp_path: Path, archive: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "check-archive",
            "--archive",
            str(archive),
            "--json",
            *extra,
        ],
        tmp_path,
    )
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def assert_consistent(archive: Path) -> None:
    """What the e2e, kill and fault suites assert at their end."""
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        result = check_archive(db, ParquetDataset(paths.parquet_dir), paths.raw_dir)
    assert result.differences == [], result.line()


def test_check_archive_finds_and_repairs_each_difference(
    tmp_path: Path, server: PortalServer
) -> None:
    archive = tmp_path / "archive"
    crawl(tmp_path, site_config(tmp_path, server), archive, "--quiet")
    code, report = check(tmp_path, archive)
    assert code == 0, report
    assert report["sql_articles"] == N_ARTICLES and report["raw_sites"] == 1
    assert report["differences"] == []

    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        victims = sorted(a.url for a in db.iter_articles())[:2]
        with db.engine.begin() as conn:
            # One article lost by SQL, one current version changed in SQL only.
            conn.execute(text("DELETE FROM articles WHERE url = :u"), {"u": victims[0]})
            conn.execute(
                text("UPDATE articles SET content_hash = 'x', body = 'edited' WHERE url = :u"),
                {"u": victims[1]},
            )
    code, report = check(tmp_path, archive)
    assert code == 1
    kinds = {(d["kind"], d["url"]) for d in report["differences"]}  # type: ignore[union-attr]
    assert kinds == {("missing_in_sql", victims[0]), ("missing_in_parquet", victims[1])}

    code, report = check(tmp_path, archive, "--repair")
    assert code == 0, report
    assert report["repaired"] == 2 and report["differences"] == []
    code, report = check(tmp_path, archive)
    assert code == 0 and report["differences"] == []


def test_check_archive_text_report_and_missing_archive(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-m", "crawler.cli", "check-archive", "--archive", str(tmp_path / "none")],
        tmp_path,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
