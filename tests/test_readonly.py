"""Issue 14, item 7: the readers of an archive open it read-only and never write to it.

The readers are ``zhengwen stats``, ``runs``, ``history``, ``query``, ``sql``, ``export`` and
`storage.Archive`. What each test proves, and what it does not:

- `test_readers_work_on_an_archive_they_cannot_write` is the real case: the archive folder and
  its files are made read-only (``chmod a-w``) and, because the tests run as root, where chmod
  stops no write, every reader runs as the unprivileged user ``nobody`` (uid 65534, set in the
  child process), so the kernel refuses any write exactly as on another user's archive or
  read-only media. It proves that every reader answers there, and that the folder's listing (no
  ``-wal``, ``-shm`` or ``-journal`` file), the database's bytes and its mtime are unchanged.
  Run as a user other than root, it needs no uid change (chmod is enough).
- `test_a_reader_sees_what_a_live_writer_committed` proves that the fallback used on read-only
  media (SQLite's ``immutable``, which ignores the write-ahead log) is not taken while a writer
  holds commits in the log: a reader that cannot write still sees them.
- `test_readers_leave_a_writable_archive_unchanged` runs as the owner: the database's bytes and
  mtime are unchanged and no folder is created. SQLite itself may add its ``-shm``/``-wal``
  index files beside a WAL database it can write next to; that is not a write to the archive.
- `test_a_read_only_database_refuses_writes` proves the mode, not the permissions: even as root,
  a `Database` opened read-only (SQLite ``mode=ro`` + ``query_only``; PostgreSQL
  ``default_transaction_read_only``) refuses an INSERT.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_cli import REPO, zhengwen
from tests.test_query import ALL, ALPHA1, build_archive

NOBODY = 65534


def _reachable_by_others(path: Path) -> bool:
    """Whether another user can get to `path`: every folder above it lets others through (a
    clone inside a private temporary folder does not)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


def _as_reader() -> dict[str, object]:
    """subprocess arguments that make the child unable to write what chmod made read-only: as
    root, the user ``nobody``, when it can reach this interpreter and checkout (else `root_only`
    tests skip: root writes through chmod); another user needs nothing."""
    python = Path(sys.executable)
    reachable = all(_reachable_by_others(p) for p in (python, python.resolve(), REPO / "x"))
    if os.geteuid() == 0 and reachable:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


def root_only() -> bool:
    """Root, with no second user that can run this checkout: chmod cannot stop the reader."""
    return os.geteuid() == 0 and not _as_reader()


def run_reader(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **_as_reader(),  # type: ignore[call-overload]
    )


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder``: (mtime in ns, sha256 of the bytes)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(folder))] = (path.stat().st_mtime_ns, digest)
        else:
            out[str(path.relative_to(folder)) + "/"] = (path.stat().st_mtime_ns, "")
    return out


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to its owner)."""
    root = Path(tempfile.mkdtemp(prefix="zw-readonly-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        for path in [root, *root.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(root)


def make_read_only(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        mode = path.stat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~0o222 | 0o444 | (0o111 if path.is_dir() else 0))


READER_COMMANDS = [
    ("stats",),
    ("stats", "--json"),
    ("runs",),
    ("history", ALPHA1, "--no-diff"),
    ("query", "--format", "jsonl"),
    ("query", "--q", "驻点招商"),
    ("sql", "SELECT count(*) AS n FROM articles"),
]


def test_readers_work_on_an_archive_they_cannot_write(shared_root: Path) -> None:
    if root_only():
        pytest.skip("needs a second user who can reach this checkout: root writes through chmod")
    archive = shared_root / "archive"
    build_archive(archive)
    out = shared_root / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    make_read_only(archive)
    before = snapshot(archive)
    for args in READER_COMMANDS:
        done = run_reader("-m", "crawler.cli", *args, "--archive", str(archive), cwd=out)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr == "", (args, done.stderr)
    done = run_reader(
        "-m", "crawler.cli", "export", "--archive", str(archive), "--format", "jsonl",
        "--out", str(out / "a.jsonl"), "--quiet", cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len((out / "a.jsonl").read_text(encoding="utf-8").splitlines()) == len(ALL)
    api = (
        "import sys\nfrom storage import Archive\n"
        "with Archive(sys.argv[1]) as a:\n"
        "    print(len(list(a.articles())), len(a.sites()), len(a.runs()))\n"
        "    print(a.article(sys.argv[2]).title)\n"
        "    print(len(list(a.articles(q='驻点招商'))))\n"
    )
    done = run_reader("-c", api, str(archive), ALPHA1, cwd=out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{len(ALL)} 3 2", "Shenzhen 扶贫 report", "1"]
    assert snapshot(archive) == before, "nothing in the archive changed, nothing was added"


def test_a_reader_sees_what_a_live_writer_committed(shared_root: Path) -> None:
    archive = shared_root / "archive"
    build_archive(archive)
    archive.chmod(0o755)
    db_file = ArchivePaths(archive).sqlite_path
    db_file.chmod(0o644)
    writer = sqlite3.connect(db_file, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the commit stays in the -wal file
        writer.execute("UPDATE articles SET title = 'CHANGED' WHERE url = ?", (ALPHA1,))
        (archive / "zhengwen.sqlite-shm").chmod(0o644)
        (archive / "zhengwen.sqlite-wal").chmod(0o644)
        if not _as_reader():
            pytest.skip(
                "needs a second user who can reach this checkout: the reader must not own the folder"
            )
        done = run_reader(
            "-m", "crawler.cli", "query", "--site", "alpha", "--format", "jsonl",
            "--archive", str(archive), cwd=shared_root,
        )  # fmt: skip
        assert (archive / "zhengwen.sqlite-wal").stat().st_size > 0, "the commit is in the log"
    finally:
        writer.close()
    assert done.returncode == 0, done.stderr
    titles = {
        json.loads(line)["url"]: json.loads(line)["title"] for line in done.stdout.splitlines()
    }
    assert titles[ALPHA1] == "CHANGED"


def test_readers_leave_a_writable_archive_unchanged(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    build_archive(archive)
    shutil.rmtree(archive / "parquet")
    shutil.rmtree(archive / "raw")
    db_file = ArchivePaths(archive).sqlite_path
    before = (db_file.stat().st_mtime_ns, db_file.read_bytes())
    for args in READER_COMMANDS[:-1]:
        done = zhengwen(*args, "--archive", str(archive), cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    with Database(ArchivePaths(archive).default_db_url, read_only=True) as db:
        assert db.site_stats()
    assert (db_file.stat().st_mtime_ns, db_file.read_bytes()) == before
    created = {p.name for p in archive.iterdir()} - {db_file.name}
    assert created <= {"zhengwen.sqlite-wal", "zhengwen.sqlite-shm"}, "no folder was created"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_read_only_database_refuses_writes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        build_archive(tmp_path / "archive")
        url = ArchivePaths(tmp_path / "archive").default_db_url
    else:
        url = request.getfixturevalue("pg_url")
        with Database(url) as db:
            db.create_schema()
    with Database(url, read_only=True) as db:
        with pytest.raises(SQLAlchemyError, match=r"read-?only"):
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM crawl_runs"))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM articles")).scalar() is not None


def test_a_reader_of_an_empty_postgresql_database_creates_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, inspect

    for command in (("stats",), ("runs",), ("history", ALPHA1), ("query",)):
        done = zhengwen(*command, "--db", pg_url, cwd=tmp_path)
        assert done.returncode == 3, (command, done.stderr)
        assert done.stderr.startswith("error: ") and "no zhengwen archive" in done.stderr
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
