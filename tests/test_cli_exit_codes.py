"""Issue 14, items 6, 8 and 8b: every command fails the same way for the same fault.

Each test runs the real ``zhengwen`` program (``python -m crawler.cli`` in a subprocess): an
error is one line on stderr starting with ``error: ``, never a traceback, and its exit code is
the README's (2 usage, 3 archive or database cannot be opened). Each fault is tried on every
command it can reach, because each was first found on one of them only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.db import Database
from storage.search import MAX_QUERY_CHARS
from tests.test_cli import REPO, write_site, zhengwen
from tests.test_query import ALL, build_archive

#: Every reader of the archive, with the arguments it needs besides --archive/--db.
READERS: dict[str, tuple[str, ...]] = {
    "stats": ("stats",),
    "runs": ("runs",),
    "history": ("history", "http://alpha.example/a/1.html"),
    "query": ("query",),
    "export": ("export", "--format", "jsonl", "--out", "out.jsonl"),
    "check-archive": ("check-archive",),
    # Runs until stopped on a good archive; every test here gives it a bad one.
    "serve": ("serve",),
}
#: The commands that write an archive (creating it when missing), and those that open none
#: (``new-site`` writes a site config; its sample crawl goes to a temporary archive it removes).
WRITERS = frozenset({"crawl", "demo", "reextract", "ingest", "schedule", "worker", "enqueue"})
NO_ARCHIVE = frozenset({"extract", "check-site", "new-site", "status"})


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single ``error:`` line of a failed command (asserting the exit code and the form)."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    build_archive(root)
    return root


# -- item 6: a database URL of an unsupported kind ------------------------------------------


def _commands_with_db(tmp_path: Path) -> dict[str, tuple[str, ...]]:
    site = write_site(tmp_path, "http://127.0.0.1:9/")
    return {
        **READERS,
        "crawl": ("crawl", str(site)),
        "reextract": ("reextract",),
        "ingest": ("ingest", "old.warc.gz"),
        "schedule": ("schedule", str(site)),
    }


@pytest.mark.parametrize("url", ["mysql://user:s3cret@db.example/news", "foo://bar"])
@pytest.mark.parametrize(
    "command",
    ["stats", "runs", "history", "query", "export", "crawl", "reextract", "ingest", "schedule"],
)
def test_an_unsupported_database_scheme_is_one_line_exit_3(
    tmp_path: Path, command: str, url: str
) -> None:
    args = _commands_with_db(tmp_path)[command]
    archive = tmp_path / "a"
    result = zhengwen(*args, "--archive", str(archive), "--db", url, cwd=tmp_path)
    line = one_error_line(result, 3)
    scheme = url.split("://")[0]
    assert f"unsupported database URL scheme {scheme!r}" in line
    assert "sqlite:///" in line and "postgresql+psycopg://" in line, "names what is supported"
    assert "s3cret" not in result.stderr + result.stdout
    assert not archive.exists(), "nothing is created for a database that cannot be used"


def test_a_database_driver_that_is_not_installed_is_one_line_exit_3(tmp_path: Path) -> None:
    result = zhengwen("stats", "--db", "postgresql+psycopg2://u:s3cret@127.0.0.1/db", cwd=tmp_path)
    line = one_error_line(result, 3)
    assert "psycopg2" in line and "not installed" in line and "postgresql+psycopg://" in line
    assert "s3cret" not in line


def test_the_environment_variable_is_checked_like_the_option(tmp_path: Path) -> None:
    env_url = "mysql://user@db.example/news"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "stats"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "ZHENGWEN_DB_URL": env_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "unsupported database URL scheme 'mysql'" in one_error_line(proc, 3)


def test_archive_refuses_an_unsupported_url() -> None:
    from storage.query import Archive, ArchiveError

    with pytest.raises(ArchiveError, match="unsupported database URL scheme 'foo'"):
        Archive("foo://bar")


# -- item 8: one exit code per fault, whichever command meets it -----------------------------


@pytest.mark.parametrize("command", [*READERS, "sql", "reextract"])
def test_a_missing_archive_is_exit_3_for_every_command(tmp_path: Path, command: str) -> None:
    args = {**READERS, "sql": ("sql", "SELECT 1"), "reextract": ("reextract",)}[command]
    missing = tmp_path / "missing"
    line = one_error_line(zhengwen(*args, "--archive", str(missing), cwd=tmp_path), 3)
    assert f"no archive at {missing}" in line
    assert not missing.exists(), "a reader creates nothing"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [*READERS, "sql", "reextract", "crawl", "demo", "schedule"])
def test_an_archive_that_is_a_file_is_exit_3_for_every_command(
    tmp_path: Path, command: str
) -> None:
    site = write_site(tmp_path, "http://127.0.0.1:9/")
    args = {
        **READERS,
        "sql": ("sql", "SELECT 1"),
        "reextract": ("reextract",),
        "crawl": ("crawl", str(site)),
        "demo": ("demo", "--articles", "1"),
        "schedule": ("schedule", str(site)),
    }[command]
    not_a_folder = tmp_path / "archive.txt"
    not_a_folder.write_text("notes\n", encoding="utf-8")
    result = zhengwen(*args, "--archive", str(not_a_folder), cwd=tmp_path)
    line = one_error_line(result, 3)
    assert str(not_a_folder) in line and "not a folder" in line
    assert not_a_folder.read_text(encoding="utf-8") == "notes\n"


def test_every_read_only_command_is_in_the_readers_tested_here() -> None:
    """Issue 15, item 5: read-only commands never create files; a new command is either a
    writer or one of the readers the tests below run."""
    from crawler.cli import cli

    assert set(cli.commands) - WRITERS - NO_ARCHIVE == {*READERS, "sql"}


def _tree(root: Path) -> dict[str, int]:
    """Every path below ``root`` with its size (folders: -1)."""
    return {
        str(p.relative_to(root)): (-1 if p.is_dir() else p.stat().st_size) for p in root.rglob("*")
    }


@pytest.mark.parametrize("command", sorted(READERS))
def test_a_missing_sqlite_database_is_exit_3_and_not_created(tmp_path: Path, command: str) -> None:
    """Issue 15, item 5: ``stats --db sqlite:///<new path>`` created the database file. No
    reader creates a file or folder for a SQLite URL that names no database, whatever its form."""
    (tmp_path / "a-folder").mkdir()
    before = _tree(tmp_path)
    for url in (
        f"sqlite:///{tmp_path / 'nope.sqlite'}",
        f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.sqlite'}",
        "sqlite:///relative.sqlite",
        f"sqlite:///{tmp_path / 'a-folder'}",
        "sqlite://",
    ):
        result = zhengwen(*READERS[command], "--db", url, cwd=tmp_path)
        assert "no archive database" in one_error_line(result, 3), url
        assert _tree(tmp_path) == before, url


@pytest.mark.parametrize("command", [*sorted(READERS), "sql"])
def test_an_archive_folder_without_a_database_is_exit_3_and_left_as_it_is(
    tmp_path: Path, command: str
) -> None:
    """An empty archive folder, and one holding the 0-byte ``zhengwen.sqlite`` a crawl on a full
    disk leaves: each reader says so in one line (exit 3) and creates nothing (no database,
    no ``-wal``/``-shm``/``-journal``, no parquet or export file)."""
    args = {**READERS, "sql": ("sql", "SELECT 1")}[command]
    empty = tmp_path / "empty"
    empty.mkdir()
    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / "zhengwen.sqlite").touch()
    before = _tree(tmp_path)
    result = zhengwen(*args, "--archive", str(empty), cwd=tmp_path)
    if command == "sql":  # reads Parquet only: a folder without parquet/ holds no rows
        assert result.returncode == 0, result.stderr
        assert _tree(tmp_path) == before
        return
    assert f"no archive at {empty}" in one_error_line(result, 3)
    assert _tree(tmp_path) == before
    result = zhengwen(*args, "--archive", str(zero), cwd=tmp_path)
    assert "holds no zhengwen archive" in one_error_line(result, 3)
    assert _tree(tmp_path) == before


def test_an_export_to_a_missing_folder_is_a_usage_error(archive_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "news.csv"
    result = zhengwen(
        "export", "--archive", str(archive_dir), "--format", "csv", "--out", str(out), cwd=tmp_path
    )
    assert "no folder" in one_error_line(result, 2)
    assert list(tmp_path.iterdir()) == []


def _first_line_then_close(*args: str, cwd: Path) -> tuple[int, str]:
    """Run zhengwen with stdout to a pipe, read one line and close the pipe (as ``| head -1``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    try:
        stderr = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.stderr.close()
    return code, stderr


@pytest.mark.parametrize(
    "args",
    [
        ("sql", "SELECT range AS n, 'row' AS label FROM range(3000000)", "--format", "csv"),
        ("sql", "SELECT range AS n FROM range(3000000)", "--format", "jsonl"),
        ("query", "--limit", "0", "--format", "jsonl"),
        ("query", "--limit", "0"),
        ("runs", "--json", "--limit", "1000"),
    ],
    ids=["sql-csv", "sql-jsonl", "query-jsonl", "query-table", "runs-json"],
)
def test_a_closed_output_pipe_stops_quietly(big_archive: Path, args: tuple[str, ...]) -> None:
    """``zhengwen ... | head``: no message and exit 141 (128 + SIGPIPE), as cat or grep."""
    code, stderr = _first_line_then_close(*args, "--archive", str(big_archive), cwd=big_archive)
    assert stderr == ""
    assert code == 141


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive whose query output and run list outgrow a pipe's buffer (64 KiB)."""
    from datetime import UTC, datetime

    from storage.article import Article
    from storage.db import Database
    from storage.paths import ArchivePaths

    paths = ArchivePaths(tmp_path_factory.mktemp("big")).ensure()
    with Database(paths.default_db_url) as db:
        db.create_schema()
        db.upsert_articles(
            [
                Article(
                    url=f"http://big.example/a/{i}.html",
                    site="big",
                    title=f"第{i}篇稿件",
                    body=f"第{i}篇正文。" + "这是一段足够长的新闻正文，用来填满管道的缓冲区。" * 20,
                    published_at=datetime(2020, 1, 1, tzinfo=UTC),
                )
                for i in range(1500)
            ]
        )
        for _ in range(600):
            db.finish_run(db.start_run("big", "manual"), "ok", {"pages_fetched": 1})
    return paths.root


# -- item 8b: hostile input ------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["99999999999999999999", str(2**63)])
def test_a_limit_beyond_any_count_means_no_limit(archive_dir: Path, limit: str) -> None:
    base = ("--archive", str(archive_dir))
    result = zhengwen("query", *base, "--limit", limit, "--format", "jsonl", cwd=archive_dir)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(ALL)
    result = zhengwen("query", *base, "--q", "Shenzhen", "--limit", limit, cwd=archive_dir)
    assert result.returncode == 0, result.stderr
    result = zhengwen("runs", *base, "--limit", limit, "--json", cwd=archive_dir)
    assert result.returncode == 0, result.stderr


RUNAWAY = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r"


def test_a_runaway_sql_query_stops_at_its_time_budget(archive_dir: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = zhengwen(
        "sql", RUNAWAY, "--archive", str(archive_dir), "--timeout", "2", cwd=tmp_path, timeout=60
    )
    elapsed = time.monotonic() - started
    line = one_error_line(result, 1)
    assert "time budget of 2 s" in line and "--timeout" in line
    assert elapsed < 30
    assert list(tmp_path.iterdir()) == [], "nothing written (no spill files either)"


def test_a_sql_query_stops_at_its_memory_budget(archive_dir: Path, tmp_path: Path) -> None:
    hog = "SELECT string_agg(repeat('x', 1000), '') FROM range(10000000)"
    result = zhengwen(
        "sql", hog, "--archive", str(archive_dir), "--memory-limit", "64MB", cwd=tmp_path
    )
    line = one_error_line(result, 1)
    assert "memory budget of 64MB" in line and "--memory-limit" in line
    assert list(tmp_path.iterdir()) == [], "nothing spilled to disk"


@pytest.mark.parametrize("value", ["lots", "-1GB", "1XB", ""])
def test_a_bad_memory_limit_is_a_usage_error(archive_dir: Path, value: str) -> None:
    result = zhengwen(
        "sql", "SELECT 1", "--archive", str(archive_dir), "--memory-limit", value, cwd=archive_dir
    )
    assert "--memory-limit" in one_error_line(result, 2)


def test_the_sql_budget_has_a_default(archive_dir: Path) -> None:
    """Without options a query runs under the documented default budget (60 s, 1GB)."""
    from storage.query import DEFAULT_SQL_MEMORY, DEFAULT_SQL_TIMEOUT, read_only_sql

    assert (DEFAULT_SQL_TIMEOUT, DEFAULT_SQL_MEMORY) == (60.0, "1GB")
    result = read_only_sql(archive_dir / "parquet", "SELECT current_setting('memory_limit')")
    (row,) = list(result.rows)
    assert row[0] in ("1GB", "953.6 MiB", "1000.0 MB", "1.0 GB")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "--timeout SECONDS" in readme and "--memory-limit SIZE" in readme


def test_usage_errors_are_one_line_too(archive_dir: Path) -> None:
    result = zhengwen("query", "--archive", str(archive_dir), "--limit", "-1", cwd=archive_dir)
    line = one_error_line(result, 2)
    assert "--limit" in line and "zhengwen query --help" in line
    result = zhengwen("no-such-command", cwd=archive_dir)
    assert "no-such-command" in one_error_line(result, 2)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--until", "9999-12-31T23:59:59.999999+00:00", len(ALL) - 1),  # all dated articles
        ("--until", "9999-12-31", len(ALL) - 1),
        ("--since", "0001-01-01T00:00+14:00", len(ALL) - 1),  # before year 1 in UTC
        ("--until", "0001-01-01T00:00+14:00", 0),
        ("--since", "9999-12-31T23:59:59.999999-14:00", 0),  # after year 9999 in UTC
    ],
)
def test_dates_at_the_ends_of_time_are_bounds_not_errors(
    archive_dir: Path, option: str, value: str, expected: int
) -> None:
    """The same class as --limit: an extreme value is a bound, not a traceback or exit 3."""
    result = zhengwen(
        "query", "--archive", str(archive_dir), option, value, "--format", "jsonl",
        cwd=archive_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == expected


# -- issue 15, item 10: user inputs past their bounds ---------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def db_archive(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    """The sample archive on SQLite (an archive folder) or PostgreSQL (--db): the CLI's
    arguments that name it."""
    if request.param == "sqlite":
        root = tmp_path / "archive"
        build_archive(root)
        return ("--archive", str(root))
    from tests.test_query import FIXED_NOW, sample_articles

    url: str = request.getfixturevalue("pg_url")
    with Database(url) as db:
        db.create_schema()
        db.upsert_articles(sample_articles(), seen_at=FIXED_NOW)
    return ("--db", url, "--archive", str(tmp_path / "archive"))


@pytest.mark.parametrize("command", ["query", "export"])
@pytest.mark.parametrize(
    "q", ["驻" * 20_000, '"' + "ab " * 5_000 + '"', "x" * (MAX_QUERY_CHARS + 1)]
)
def test_a_search_query_past_its_length_bound_is_a_usage_error(
    db_archive: tuple[str, ...], tmp_path: Path, command: str, q: str
) -> None:
    """PostgreSQL failed a 20,000-character phrase with "stack depth limit exceeded" (exit 3),
    SQLite answered nothing: both now refuse it the same way, naming the bound."""
    extra = ("--format", "jsonl", "--out", "out.jsonl") if command == "export" else ()
    result = zhengwen(command, *db_archive, *extra, "--q", q, cwd=tmp_path)
    line = one_error_line(result, 2)
    assert f"at most {MAX_QUERY_CHARS} characters" in line and f"{len(q)}" in line
    assert len(line) < 300, "the refused query is not echoed whole"
    assert not (tmp_path / "out.jsonl").exists()


def test_a_search_query_at_its_length_bound_runs(
    db_archive: tuple[str, ...], tmp_path: Path
) -> None:
    for q in ("驻" * MAX_QUERY_CHARS, '"' + "ab " * ((MAX_QUERY_CHARS - 2) // 3) + '"'):
        assert len(q) <= MAX_QUERY_CHARS
        result = zhengwen("query", *db_archive, "--q", q, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "no articles match"


def test_the_query_length_is_checked_before_the_archive_is_opened(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = zhengwen("query", "--archive", str(missing), "--q", "驻" * 20_000, cwd=tmp_path)
    assert f"at most {MAX_QUERY_CHARS} characters" in one_error_line(result, 2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--tz", "x" * 300, "unknown time zone"),  # was an OSError (file name too long): exit 1
        ("--since", "x" * 100_000, "bad date"),
        ("--until", "2020-" + "1" * 100_000, "bad date"),
    ],
)
def test_long_filter_values_are_one_short_usage_error(
    archive_dir: Path, option: str, value: str, expected: str
) -> None:
    result = zhengwen(
        "query", "--archive", str(archive_dir), "--since", "2020", option, value, cwd=archive_dir
    )
    line = one_error_line(result, 2)
    assert expected in line and len(line) < 300, line[:300]
