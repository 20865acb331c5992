"""Shared fixtures: golden-file updates, real PostgreSQL databases, the repo's paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from storage.db import Database

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED = REPO.parent / "shared"

PG_ADMIN_URL = os.environ.get(
    "ZHENGWEN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/**/expected.json from the current extractor (review the diff!)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


#: Articles of the test portal the `portal` fixture serves (end-to-end crawl tests).
N_ARTICLES = 30


@pytest.fixture
def portal() -> Portal:
    """A fresh demo portal per test (tests edit it between crawls)."""
    return Portal.generate(n_articles=N_ARTICLES, seed=424242)


@pytest.fixture
def server(portal: Portal) -> Iterator[PortalServer]:
    """The `portal` served over real HTTP on 127.0.0.1 for the test's duration."""
    with serve(portal) as running:
        yield running


def _service_missing(what: str, exc: BaseException) -> None:
    """Skip locally, but under CI a missing service is a failure (DEVELOPERS' rule)."""
    msg = f"{what} not reachable: {exc}"
    if IN_CI:
        pytest.fail(msg + " (CI=true: the service must be there)")
    pytest.skip(msg)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped on exit; skips (fails under CI)
    when the service is absent."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, ImportError) as exc:
        _service_missing("PostgreSQL", exc)
    name = f"zw_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A `Database` with its schema on `db_url` (SQLite and PostgreSQL), disposed afterwards."""
    database = Database(db_url)
    database.create_schema()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each SQL test runs on the embedded SQLite and on the real PostgreSQL service."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    url: str = request.getfixturevalue("pg_url")
    return url
