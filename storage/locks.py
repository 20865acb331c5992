"""Serialising schema creation and upgrades between processes that start together.

Every crawl (and ``reextract``) brings the schema up to date on its way in
(`storage.db.Database.create_schema`). Crawls of different sites may legitimately start at the
same moment on a database that does not exist yet, so the schema work must not race:

- PostgreSQL: ``CREATE TABLE IF NOT EXISTS`` is not safe against itself (two sessions both see
  the table missing and the loser fails on ``pg_type_typname_nsp_index``). `schema_lock` holds
  a session-level ``pg_advisory_lock`` on a connection of its own around the whole schema work,
  so one process creates or upgrades while the others wait, then find everything in place. The
  lock ends with its connection, so a killed holder cannot leave it behind.
- SQLite: every DDL transaction is a ``BEGIN IMMEDIATE`` one (a ``BEGIN`` that upgrades a read
  lock to a write lock fails at once with "database is locked" instead of waiting on the busy
  timeout), and the switch to WAL, which needs the file to itself, is retried with backoff by
  `enable_wal`. SQLite needs no lock of its own here: its write lock is the lock.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol

from sqlalchemy import Engine, text

#: ``pg_advisory_lock`` key of "creating or upgrading the schema": a constant no other lock of
#: zhengwen uses (site locks hash the site name, duplicates use their own constant).
SCHEMA_LOCK_KEY: Final = 0x7A68_656E_6773_6368

#: How long `enable_wal` keeps retrying: as long as a writer waits for another (db.BUSY_TIMEOUT_MS).
WAL_TIMEOUT_SECONDS: Final = 30.0
_FIRST_PAUSE: Final = 0.01
_LONGEST_PAUSE: Final = 0.5


class _Executes(Protocol):
    def execute(self, sql: str, /) -> Any: ...


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold the schema lock of ``engine``'s database for the ``with`` block (PostgreSQL only;
    on other databases the block runs as is, see the module docstring).

    The lock is taken on a connection of its own, in autocommit, so no transaction of the
    schema work (run on other connections) is held open by it.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
            except Exception:
                # A broken connection already released the lock; never pool it again.
                conn.invalidate()
                raise


def is_locked_error(exc: BaseException) -> bool:
    """Whether a SQLite error is "another connection holds the lock" (worth a retry)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def enable_wal(
    conn: _Executes,
    *,
    timeout: float = WAL_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """``PRAGMA journal_mode=WAL`` on a SQLite connection, retried while the file is locked.

    Changing the journal mode needs the file to itself; on a fresh archive that several
    processes open at once, the busy timeout does not always apply to it and the pragma fails
    with "database is locked". Pauses grow from 10 ms to 0.5 s (with jitter, so processes that
    collided do not collide again) until ``timeout`` seconds have passed; then the last error
    is raised. Returns the journal mode now in force (``memory`` for an in-memory database).
    """
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while True:
        try:
            row = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return str(row[0]) if row else ""
        except sqlite3.OperationalError as exc:
            if not is_locked_error(exc) or time.monotonic() >= deadline:
                raise
        sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, _LONGEST_PAUSE)
