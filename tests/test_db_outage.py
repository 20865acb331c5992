"""Waiting out a lost database (storage.outage): the policy, and real PostgreSQL connections
cut by a relay or killed by ``pg_terminate_backend`` in the middle of a write."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from storage import Database
from storage.duplicates import _PG_LOCK_KEY
from storage.outage import Outage, database_outage, database_transient
from tests.tcp_cut import CuttableRelay, relay
from tests.test_storage_sql import make


def _lost() -> OperationalError:
    return OperationalError("INSERT ...", {}, ConnectionError("server closed the connection"))


def test_an_outage_is_waited_out_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    outage = database_outage(60)
    failures = [_lost(), _lost(), _lost()]
    slept: list[float] = []

    def write() -> str:
        if failures:
            raise failures.pop()
        return "stored"

    with caplog.at_level(logging.WARNING, logger="zhengwen.outage"):
        assert outage.call("writing", write, sleep=slept.append) == "stored"
    assert slept == [0.1, 0.2, 0.4]  # backoff doubling from 0.1 s
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("The database is unavailable (writing: OperationalError")
    assert lines[1].startswith("The database is back after")
    assert outage.outages == 1 and not outage.down


def test_other_errors_are_raised_at_once() -> None:
    outage = database_outage(60)
    slept: list[float] = []
    integrity = IntegrityError("INSERT ...", {}, ValueError("duplicate key"))
    for error in (integrity, ValueError("bad row")):

        def fail(error: Exception = error) -> None:
            raise error

        with pytest.raises(type(error)):
            outage.call("writing", fail, sleep=slept.append)
    assert slept == [] and outage.outages == 0


def test_sqlite_errors_are_not_outages() -> None:
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    assert not database_transient(locked)
    assert database_transient(_lost())


def test_no_waiting_when_the_limit_is_zero_and_the_limit_ends_a_long_one() -> None:
    with pytest.raises(OperationalError):
        database_outage(0).call("writing", _raise_lost, sleep=lambda _s: None)
    outage = Outage("The database", 0.05, database_transient, first=0.01, most=0.01)
    with pytest.raises(OperationalError):
        outage.call("writing", _raise_lost)  # gives up after 0.05 s of outage
    assert outage.outages == 1


def _raise_lost() -> None:
    raise _lost()


# --- real PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_relay(pg_url: str) -> Iterator[CuttableRelay]:
    """A relay to the test's PostgreSQL that the test can cut (`tests.tcp_cut`)."""
    url = make_url(pg_url)
    with relay(url.host or "127.0.0.1", url.port or 5432) as r:
        yield r


def _count(pg_url: str) -> tuple[int, int]:
    engine = create_engine(pg_url, poolclass=NullPool)
    with engine.connect() as c:
        articles = c.execute(text("SELECT count(*) FROM articles")).scalar_one()
        versions = c.execute(text("SELECT count(*) FROM article_versions")).scalar_one()
    engine.dispose()
    return int(articles), int(versions)


def wait_for(condition: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_write_waits_while_postgresql_is_cut_off_and_lands_once(
    pg_url: str, pg_relay: CuttableRelay
) -> None:
    cut = pg_relay
    db = Database(cut.url_for(pg_url))
    try:
        db.create_schema()
        db.upsert_articles([make(1)])
        outage = database_outage(60)
        cut.cut()
        done: list[object] = []
        writer = threading.Thread(
            target=lambda: done.append(
                outage.call("writing", lambda: db.upsert_articles([make(2), make(1)]))
            )
        )
        writer.start()
        wait_for(lambda: outage.down and cut.refused >= 2)  # it met the outage and retried
        assert writer.is_alive() and not done
        cut.restore()
        writer.join(60)
        assert not writer.is_alive()
        assert outage.outages == 1 and not outage.down
    finally:
        db.dispose()
    assert _count(pg_url) == (2, 2)  # nothing lost, nothing twice


def test_a_connection_killed_mid_transaction_is_retried(pg_url: str) -> None:
    db = Database(pg_url)
    admin = create_engine(pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        db.create_schema()
        db.upsert_articles([make(1)])
        outage = database_outage(60)
        with admin.connect() as holder, admin.connect() as killer:
            # The writer's transaction blocks on the archive's writer lock, held here...
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            writer = threading.Thread(
                target=lambda: outage.call(
                    "writing", lambda: db.upsert_articles([make(2), make(3)])
                )
            )
            writer.start()

            def blocked() -> list[int]:
                return list(
                    killer.execute(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        )
                    ).scalars()
                )

            wait_for(blocked)
            # ... and its connection is killed inside it, as an operator or a failover would.
            for pid in blocked():
                killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            wait_for(lambda: outage.outages == 1)
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            writer.join(60)
            assert not writer.is_alive()
        assert not outage.down
        # An idle pooled connection killed between writes is replaced at checkout (pre-ping).
        with admin.connect() as killer:
            killer.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        db.upsert_articles([make(4)])
    finally:
        db.dispose()
        admin.dispose()
    assert _count(pg_url) == (4, 4)


def test_a_refused_redis_password_is_no_outage() -> None:
    import redis

    from storage.outage import redis_transient

    assert redis_transient(redis.ConnectionError("Connection refused"))
    assert redis_transient(redis.BusyLoadingError("loading the dataset"))
    # A subclass of ConnectionError, but waiting never makes a wrong password right.
    assert not redis_transient(redis.AuthenticationError("invalid password"))
    assert not redis_transient(redis.ResponseError("WRONGTYPE"))
