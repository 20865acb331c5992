"""Two archive folders sharing one PostgreSQL database: two machines crawling the same site into
one SQL archive, each with its own Parquet dataset and raw archive.

The decision (docs/reliability.md, "Fresh database"): each folder's Parquet holds every version
SQL holds, whichever machine stored it. A crawl's start copies into its folder every version
missing there; ``check-archive`` checks every version, not only the current ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pyarrow.parquet as pq
from sqlalchemy import select

from crawler.demo.content import Portal
from crawler.demo.server import PortalServer
from storage.article import url_hash
from storage.db import Database
from storage.models import Base
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.test_check_archive import check
from tests.test_crawl_e2e import crawl, site_config

SITE = "testportal"
_V = Base.metadata.tables["article_versions"]


def sql_versions(db_url: str) -> set[tuple[str, str]]:
    with Database(db_url) as db, db.sessions() as s:
        return {(u, c) for u, c in s.execute(select(_V.c.url_hash, _V.c.content_hash))}


def parquet_versions(archive: Path) -> set[tuple[str, str]]:
    return ParquetDataset(ArchivePaths(archive).parquet_dir).keys(SITE)


def crawl_into(tmp_path: Path, config: Path, archive: Path, db_url: str) -> None:
    """One crawl into `archive`'s folder and the shared database."""
    crawl(tmp_path, config, archive, "--quiet", "--db", db_url)


def test_both_folders_hold_every_version_of_the_shared_database(
    tmp_path: Path, pg_url: str, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    paths = [p.path for p in portal.articles()]

    crawl_into(tmp_path, config, a, pg_url)
    portal.edit_body(paths[0])
    portal.edit_body(paths[1])
    crawl_into(tmp_path, config, a, pg_url)  # A: version 2 of articles 0 and 1
    portal.edit_body(paths[0])
    portal.edit_body(paths[2])
    # B starts from the SQL archive's current texts, and stores new ones.
    crawl_into(tmp_path, config, b, pg_url)
    portal.edit_body(paths[0])
    portal.edit_body(paths[2])
    # B again: versions A never saw, superseded before A's next start.
    crawl_into(tmp_path, config, b, pg_url)
    crawl_into(tmp_path, config, a, pg_url)

    versions = sql_versions(pg_url)
    assert len(versions) == len(paths) + 2 + 2 + 2, "30 first versions and 6 edits"
    for archive in (a, b):
        held = parquet_versions(archive)
        assert versions - held == set(), f"{archive.name} lacks versions SQL holds"
        assert held == versions
        code, report = check(tmp_path, archive, "--db", pg_url)
        assert (code, report["differences"]) == (0, []), archive.name


def test_check_archive_checks_and_repairs_every_version(
    tmp_path: Path, pg_url: str, portal: Portal, server: PortalServer
) -> None:
    config = site_config(tmp_path, server)
    archive = tmp_path / "archive"
    crawl_into(tmp_path, config, archive, pg_url)
    edited = portal.edit_body(portal.articles()[4].path)
    crawl_into(tmp_path, config, archive, pg_url)
    assert sql_versions(pg_url) == parquet_versions(archive)
    edited_hash = url_hash(edited.url(server.url))

    # Lose the Parquet part that holds the edited article's first version (written by run 1).
    with Database(pg_url) as db:
        (old, _new) = db.versions(edited.url(server.url))
    parts = [
        part
        for part in ArchivePaths(archive).parquet_dir.rglob("*.parquet")
        if old.content_hash
        in pq.read_table(part, columns=["content_hash"])["content_hash"].to_pylist()
    ]
    assert len(parts) == 1
    parts[0].unlink()
    missing = sql_versions(pg_url) - parquet_versions(archive)
    assert (edited_hash, old.content_hash) in missing, "an old version is among the lost rows"

    code, report = check(tmp_path, archive, "--db", pg_url)
    assert code == 1
    differences = cast(list[dict[str, str]], report["differences"])
    assert len(differences) == len(missing), differences
    found = {(d["kind"], d["url"], d["detail"]) for d in differences}
    assert {k for k, _, _ in found} == {"missing_in_parquet"}
    assert ("missing_in_parquet", edited.url(server.url), "no row of version 1") in found

    code, report = check(tmp_path, archive, "--db", pg_url, "--repair")
    assert (code, report["repaired"], report["differences"]) == (0, len(missing), [])
    assert sql_versions(pg_url) == parquet_versions(archive)
