"""Many `zhengwen crawl` processes started at once on a database that does not exist yet.

Every one of them creates the schema on its way in (`Database.create_schema`). Unserialised,
PostgreSQL answered the loser of a concurrent ``CREATE TABLE`` with ``UniqueViolation …
pg_type_typname_nsp_index`` and SQLite with ``database is locked``: exit 3, a crawl that never
ran. Here every process must either crawl or, for a site another process is crawling, refuse
with the site-lock code (4); and the archive must hold every article of every site.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from crawler.demo import DEMO_TOML
from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl_cmd, crawl_env

EXIT_STORAGE, EXIT_BUSY = 3, 4
#: Sites crawled at once, and the extra processes started for the first of them (same site).
SITES = ("fresh0", "fresh1", "fresh2", "fresh3", "fresh4", "fresh5")
SAME_SITE_EXTRA = 2
N_ARTICLES = 12
#: A crawl process and what it did: (site, its exit code and output).
Start = tuple[str, subprocess.CompletedProcess[str]]


@pytest.fixture
def servers() -> Iterator[dict[str, PortalServer]]:
    """A portal of its own per site: an article's URL is its key, whatever the site."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(serve(Portal.generate(n_articles=N_ARTICLES, seed=i)))
            for i, name in enumerate(SITES)
        }


def site_file(tmp_path: Path, server: PortalServer, name: str) -> Path:
    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/")
    text = text.replace('name = "demo"', f'name = "{name}"')
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_together(
    tmp_path: Path, servers: dict[str, PortalServer], archive: Path, *extra: str
) -> list[Start]:
    """One crawl per site of `SITES` plus `SAME_SITE_EXTRA` more of the first, all launched
    before any is waited for."""
    names = [*SITES, *[SITES[0]] * SAME_SITE_EXTRA]
    configs = {n: site_file(tmp_path, servers[n], n) for n in SITES}
    procs = [
        (
            name,
            subprocess.Popen(
                crawl_cmd(configs[name], archive, "--quiet", *extra),
                env=crawl_env(),
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for name in names
    ]
    starts: list[Start] = []
    try:
        for name, proc in procs:
            out, err = proc.communicate(timeout=600)
            starts.append((name, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)))
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return starts


def assert_all_started_and_stored(starts: list[Start], db_url: str, archive: Path) -> None:
    report = "\n".join(f"{site}: exit {p.returncode}: {p.stderr.strip()}" for site, p in starts)
    assert not [p for _, p in starts if p.returncode == EXIT_STORAGE], report
    for site, p in starts:
        assert "Traceback" not in p.stderr, report
        assert p.returncode in (0, EXIT_BUSY), report
        if p.returncode == EXIT_BUSY:
            # Only a second process of one site may be refused, with the site-lock message.
            assert site == SITES[0], report
            assert f"error: site {site} is already being crawled" in p.stderr, report
    ran = Counter(site for site, p in starts if p.returncode == 0)
    assert set(ran) == set(SITES), report
    paths = ArchivePaths(archive)
    with Database(db_url) as db:
        for site in SITES:
            assert db.count_articles(site) == N_ARTICLES, site
            assert {r.status for r in db.runs(site)} == {"ok"}, site
            assert len(db.runs(site)) == ran[site], site
    dataset = ParquetDataset(paths.parquet_dir)
    for site in SITES:
        assert dataset.count(site) == N_ARTICLES, site


def test_simultaneous_crawls_on_a_fresh_sqlite_archive_all_start(
    tmp_path: Path, servers: dict[str, PortalServer]
) -> None:
    archive = tmp_path / "archive"
    starts = start_together(tmp_path, servers, archive)
    assert_all_started_and_stored(starts, ArchivePaths(archive).default_db_url, archive)


def test_simultaneous_crawls_on_a_fresh_postgres_database_all_start(
    tmp_path: Path, servers: dict[str, PortalServer], pg_url: str
) -> None:
    archive = tmp_path / "archive"
    starts = start_together(tmp_path, servers, archive, "--db", pg_url)
    assert_all_started_and_stored(starts, pg_url, archive)
