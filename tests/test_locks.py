"""storage.locks: the schema lock on PostgreSQL, the WAL switch retried on SQLite, and schema
creation by many processes at once on a fresh database (real SQLite, real PostgreSQL)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from storage.locks import SCHEMA_LOCK_KEY, enable_wal, is_locked_error, schema_lock
from storage.raw import RawIndex
from tests.test_crawl_e2e import crawl_env

PROCESSES = 8


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()


def try_lock(engine: Engine) -> bool:
    """Whether another session can take the schema lock now (released again at once)."""
    with engine.connect() as conn:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY}).scalar()
        )
        if got:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
        conn.commit()
    return got


def waiting_for_lock(engine: Engine) -> int:
    """Sessions waiting for an advisory lock they were not granted yet."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


def test_schema_lock_excludes_other_sessions_until_the_block_ends(pg_engine: Engine) -> None:
    assert try_lock(pg_engine)
    with schema_lock(pg_engine):
        assert not try_lock(pg_engine)
    assert try_lock(pg_engine)


def test_schema_lock_is_released_when_the_block_raises(pg_engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"), schema_lock(pg_engine):
        raise RuntimeError("boom")
    assert try_lock(pg_engine)


def test_a_second_holder_waits_for_the_first(pg_engine: Engine) -> None:
    entered = threading.Event()

    def second() -> None:
        with schema_lock(pg_engine):
            entered.set()

    with schema_lock(pg_engine):
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 60
        while waiting_for_lock(pg_engine) == 0:
            assert time.monotonic() < deadline, "the second holder never asked for the lock"
            time.sleep(0.02)
        assert not entered.is_set(), "the second holder got in while the first held the lock"
    thread.join(timeout=60)
    assert entered.is_set()


def test_schema_lock_is_a_plain_block_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    try:
        with schema_lock(engine):
            pass
    finally:
        engine.dispose()


def fresh_sqlite(path: Path) -> sqlite3.Connection:
    """A rollback-journal database with one table, opened in autocommit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    return conn


def test_enable_wal_retries_while_another_connection_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    holder = fresh_sqlite(path)
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)  # no busy wait of its own
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            holder.execute("COMMIT")

    try:
        assert enable_wal(conn, sleep=sleep) == "wal"
        assert len(pauses) == 3, "retried until the holder let go"
        assert all(0 < p <= 0.75 for p in pauses), "short pauses, at most 0.5 s with jitter"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
        holder.close()


def test_enable_wal_gives_up_after_its_timeout_with_the_locked_error(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    holder = fresh_sqlite(path)
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            enable_wal(conn, timeout=0)
        assert is_locked_error(raised.value)
    finally:
        conn.close()
        holder.close()


def test_enable_wal_does_not_retry_other_errors() -> None:
    class Broken:
        def execute(self, sql: str, /) -> Any:
            raise sqlite3.OperationalError("disk I/O error")

    slept: list[float] = []
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        enable_wal(Broken(), sleep=slept.append)
    assert slept == []
    assert not is_locked_error(sqlite3.OperationalError("disk I/O error"))
    assert not is_locked_error(ValueError("database is locked"))


# Each process opens its storage, says "ready", waits for the go file, then does the work.
_RACER = """
import sys, time
from pathlib import Path
kind, target, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if kind == "schema":
    from storage.db import Database
    db = Database(target)
    work = db.create_schema
else:
    from storage.raw import RawIndex
    work = lambda: RawIndex(Path(target)).close()
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
work()
print("done", flush=True)
"""


def race(tmp_path: Path, kind: str, target: str) -> list[subprocess.CompletedProcess[str]]:
    """`PROCESSES` interpreters doing the same storage work, released at the same moment."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, kind, target, str(go)],
            env=crawl_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
        go.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_many_processes_create_the_schema_of_a_fresh_database_at_once(
    tmp_path: Path, db_url: str
) -> None:
    results = race(tmp_path, "schema", db_url)
    assert [r.stderr for r in results if r.returncode != 0] == []
    assert all(r.stdout == "done\n" for r in results)


def test_many_processes_open_a_fresh_raw_index_at_once(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "index.sqlite"
    results = race(tmp_path, "raw", str(path))
    assert [r.stderr for r in results if r.returncode != 0] == []
    index = RawIndex(path)
    try:
        assert index.count() == 0
        assert index.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        index.close()
