"""An archive written by an older zhengwen (before the `canonical_url` column) is read as it is:
readers never migrate it (they never write), and the column it lacks reads as null. A crawl
into it adds the column. Real SQLite, real processes."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from crawler.demo.server import PortalServer
from storage import Archive
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl, run, site_config


def test_readers_read_an_archive_from_before_a_column(tmp_path: Path, server: PortalServer) -> None:
    archive = tmp_path / "archive"
    crawl(tmp_path, site_config(tmp_path, server), archive, "--quiet")
    db_file = ArchivePaths(archive).sqlite_path
    with sqlite3.connect(db_file) as conn:
        conn.execute("ALTER TABLE articles DROP COLUMN canonical_url")
    before = db_file.read_bytes()

    with Archive(archive) as arch:
        articles = list(arch.articles(limit=5))
        assert articles and all(a.canonical_url is None for a in articles)
        url = articles[0].url
        assert arch.article(url) is not None
        assert arch.table(fields=["url", "canonical_url"]).num_rows > 0

    cli = [sys.executable, "-m", "crawler.cli"]
    for args in (
        ["stats", "--archive", str(archive)],
        ["runs", "--archive", str(archive)],
        ["query", "--archive", str(archive), "--limit", "3", "--format", "jsonl"],
        ["history", url, "--archive", str(archive), "--json"],
        ["export", "--archive", str(archive), "--format", "jsonl", "--out", "out.jsonl"],
    ):
        result = run([*cli, *args], tmp_path)
        assert result.returncode == 0, (args, result.stderr)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows and all(r["canonical_url"] is None for r in rows)
    assert db_file.read_bytes() == before  # no reader migrated (or otherwise wrote) anything

    crawl(tmp_path, site_config(tmp_path, server), archive, "--quiet")
    with sqlite3.connect(db_file) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(articles)")]
    assert "canonical_url" in columns  # a crawl upgrades the archive
