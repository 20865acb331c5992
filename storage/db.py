"""The SQL archive: one `Database` per URL, SQLite by default, PostgreSQL by giving its URL.

Nothing here is global: a `Database` owns its engine and sessionmaker and is disposed by its
owner, so tests, pipelines and notebooks can hold several at once.

SQLite durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` only survives a crash
of the process; after a power loss or OS crash the last commits can roll back. The archive's
rule is that an acknowledged write is durable, and we commit once per batch, so one fsync per
batch is a cheap price. Writes open with ``BEGIN IMMEDIATE`` so that a second writer waits on
the busy timeout instead of failing when it upgrades a read lock mid-transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

from sqlalchemy import Connection, Engine, Insert, Table, case, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from storage.article import Article, field_names
from storage.article import url_hash as hash_url
from storage.models import STATUSES, TRIGGERS, Base, CrawlRunRow
from storage.paths import redact_url
from storage.validation import validate_article

BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite writer waits for another one (a batch commit takes milliseconds)."""

# Rows per IN (...) lookup: far below SQLite's and PostgreSQL's bind-parameter limits.
_CHUNK: Final = 500
_WRITE: Final = "zhengwen_write"
_ARTICLES: Final[Table] = Base.metadata.tables["articles"]
_RUNS: Final[Table] = Base.metadata.tables["crawl_runs"]
_FIELDS: Final = tuple(field_names())
_TUPLE_FIELDS: Final = frozenset({"tags", "images"})


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one batch did; duplicates of a URL inside the batch count once (the last wins)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    site: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counters: dict[str, Any]
    settings_digest: str | None


class SiteStats(TypedDict):
    site: str
    articles: int
    first_published_at: datetime | None
    last_published_at: datetime | None
    last_run_started_at: datetime | None
    last_run_status: str | None


def _json_dumps(value: Any) -> str:
    # Readable Chinese in SQLite's text JSON (``sqlite3`` shell, DB browsers); same data either way.
    return json.dumps(value, ensure_ascii=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Python 3.11's sqlite3 opens transactions late and always DEFERRED; we emit BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """Engine + sessionmaker for one archive database; call `dispose` (or use ``with``)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, echo=echo, json_serializer=_json_dumps)
        self.dialect: str = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self._writes: sessionmaker[Session] = sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables and indexes (idempotent; migrations take over once released)."""
        Base.metadata.create_all(self.engine)

    # -- articles ---------------------------------------------------------------------------

    def upsert_articles(
        self, articles: Iterable[Article], *, seen_at: datetime | None = None
    ) -> UpsertResult:
        """Insert or update a batch in one transaction; re-running the same batch adds nothing.

        New URL: inserted. Same URL, other content hash: every column replaced except
        ``first_seen``. Same content hash: only ``last_seen`` moves (and never backwards).
        ``first_seen``/``last_seen`` missing on an Article default to `seen_at` (now).
        """
        now = seen_at or datetime.now(UTC)
        batch: dict[str, Article] = {}
        for article in articles:
            validate_article(article)
            batch[article.url_hash] = article
        if not batch:
            return UpsertResult()
        rows = [self._row(a, now) for a in batch.values()]
        with self._writes.begin() as s:
            existing = self._content_hashes_of(s, list(batch))
            s.execute(self._upsert_statement(), rows)
        new = sum(1 for h in batch if h not in existing)
        unchanged = sum(1 for h, a in batch.items() if existing.get(h) == a.content_hash)
        return UpsertResult(new=new, updated=len(batch) - new - unchanged, unchanged=unchanged)

    @staticmethod
    def _row(article: Article, now: datetime) -> dict[str, Any]:
        row = article.to_dict()
        row["first_seen"] = article.first_seen or now
        row["last_seen"] = article.last_seen or now
        return row

    @staticmethod
    def _content_hashes_of(s: Session, hashes: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(hashes), _CHUNK):
            chunk = hashes[i : i + _CHUNK]
            stmt = select(_ARTICLES.c.url_hash, _ARTICLES.c.content_hash).where(
                _ARTICLES.c.url_hash.in_(chunk)
            )
            found.update({u: c for u, c in s.execute(stmt)})
        return found

    def _upsert_statement(self) -> Insert:
        if self.dialect == "postgresql":
            pg = postgresql.insert(_ARTICLES)
            return pg.on_conflict_do_update(
                index_elements=[_ARTICLES.c.url_hash], set_=self._on_conflict_set(pg.excluded)
            )
        if self.dialect == "sqlite":
            lite = sqlite.insert(_ARTICLES)
            return lite.on_conflict_do_update(
                index_elements=[_ARTICLES.c.url_hash], set_=self._on_conflict_set(lite.excluded)
            )
        raise NotImplementedError(
            f"upsert is implemented for SQLite and PostgreSQL, not {self.dialect}"
        )

    @staticmethod
    def _on_conflict_set(excluded: Any) -> dict[str, Any]:
        # One statement for all three cases, decided row by row in SQL, so a concurrent writer
        # between our lookup and the insert can skew the counts but never the stored data.
        same = _ARTICLES.c.content_hash == excluded.content_hash
        values: dict[str, Any] = {
            "last_seen": case(
                (excluded.last_seen > _ARTICLES.c.last_seen, excluded.last_seen),
                else_=_ARTICLES.c.last_seen,
            )
        }
        for name in _FIELDS:
            if name not in ("url_hash", "first_seen", "last_seen"):
                values[name] = case((same, _ARTICLES.c[name]), else_=excluded[name])
        return values

    def known_hashes(self, site: str | None = None) -> dict[str, str]:
        """url_hash → content_hash, for deciding new/changed/unchanged before writing."""
        stmt = select(_ARTICLES.c.url_hash, _ARTICLES.c.content_hash)
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        with self.sessions() as s:
            return {u: c for u, c in s.execute(stmt)}

    def content_hashes(self, site: str | None = None) -> set[str]:
        stmt = select(_ARTICLES.c.content_hash).distinct()
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        with self.sessions() as s:
            return set(s.scalars(stmt))

    def has_content_hash(self, content_hash: str) -> bool:
        stmt = select(_ARTICLES.c.url_hash).where(_ARTICLES.c.content_hash == content_hash)
        with self.sessions() as s:
            return s.execute(stmt.limit(1)).first() is not None

    def count_articles(self, site: str | None = None) -> int:
        stmt = select(func.count()).select_from(_ARTICLES)
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        with self.sessions() as s:
            return int(s.execute(stmt).scalar_one())

    def get_article(self, url: str) -> Article | None:
        """The stored article for a canonical URL (times in UTC), or None."""
        stmt = select(_ARTICLES).where(_ARTICLES.c.url_hash == hash_url(url))
        with self.sessions() as s:
            row = s.execute(stmt).mappings().first()
        return None if row is None else _to_article(row)

    def iter_articles(self, site: str | None = None) -> Iterator[Article]:
        """All articles (of one site), streamed in ``url_hash`` order, so memory stays flat."""
        stmt = select(_ARTICLES).order_by(_ARTICLES.c.url_hash)
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        with self.sessions() as s:
            result = s.execute(stmt, execution_options={"yield_per": 1000})
            for row in result.mappings():
                yield _to_article(row)

    # -- crawl runs -------------------------------------------------------------------------

    def start_run(
        self,
        site: str,
        trigger: str,
        settings_digest: str | None = None,
        *,
        started_at: datetime | None = None,
    ) -> str:
        """Record a run as ``running`` before crawling, so a crash still leaves a trace."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {TRIGGERS}, got {trigger!r}")
        run_id = str(uuid.uuid4())
        run = CrawlRunRow(
            id=run_id,
            site=site,
            trigger=trigger,
            started_at=started_at or datetime.now(UTC),
            finished_at=None,
            status="running",
            counters={},
            settings_digest=settings_digest,
        )
        with self._writes.begin() as s:
            s.add(run)
        return run_id

    def finish_run(
        self,
        run_id: str,
        status: str,
        counters: Mapping[str, Any] | None = None,
        *,
        finished_at: datetime | None = None,
    ) -> None:
        if status not in STATUSES or status == "running":
            raise ValueError(
                f"a finished run's status is ok, failed or interrupted, not {status!r}"
            )
        values = dict(counters or {})
        json.dumps(values)  # fail here, with the caller on the stack, not inside the flush
        with self._writes.begin() as s:
            run = s.get(CrawlRunRow, run_id)
            if run is None:
                raise KeyError(f"no crawl run {run_id!r}")
            run.status = status
            run.counters = values
            run.finished_at = finished_at or datetime.now(UTC)

    def runs(self, site: str | None = None, limit: int = 50) -> list[RunInfo]:
        """Most recent first."""
        stmt = select(CrawlRunRow).order_by(CrawlRunRow.started_at.desc(), CrawlRunRow.id)
        if site is not None:
            stmt = stmt.where(CrawlRunRow.site == site)
        with self.sessions() as s:
            return [_to_run(r) for r in s.scalars(stmt.limit(limit))]

    def site_stats(self) -> list[SiteStats]:
        """Per site (with articles or runs): article count, published range, the latest run."""
        a = _ARTICLES.c
        per_site = select(
            a.site, func.count(), func.min(a.published_at), func.max(a.published_at)
        ).group_by(a.site)
        latest = (
            select(_RUNS.c.site, func.max(_RUNS.c.started_at).label("started_at"))
            .group_by(_RUNS.c.site)
            .subquery()
        )
        last_runs = select(_RUNS.c.site, _RUNS.c.started_at, _RUNS.c.status).join(
            latest,
            (latest.c.site == _RUNS.c.site) & (latest.c.started_at == _RUNS.c.started_at),
        )
        out: dict[str, SiteStats] = {}
        with self.sessions() as s:
            for site, count, first, last in s.execute(per_site):
                out[site] = SiteStats(
                    site=site,
                    articles=int(count),
                    first_published_at=first,
                    last_published_at=last,
                    last_run_started_at=None,
                    last_run_status=None,
                )
            for site, started, status in s.execute(last_runs):
                stats = out.setdefault(
                    site,
                    SiteStats(
                        site=site,
                        articles=0,
                        first_published_at=None,
                        last_published_at=None,
                        last_run_started_at=None,
                        last_run_status=None,
                    ),
                )
                stats["last_run_started_at"] = started
                stats["last_run_status"] = status
        return [out[k] for k in sorted(out)]


def open_database(url: str, *, create: bool = True) -> Database:
    """A `Database` with its schema in place: the one-liner for notebooks and scripts."""
    db = Database(url)
    if create:
        try:
            db.create_schema()
        except BaseException:
            db.dispose()
            raise
    return db


def _to_article(row: Mapping[Any, Any]) -> Article:
    values: dict[str, Any] = {name: row[name] for name in _FIELDS}
    for name in _TUPLE_FIELDS:
        values[name] = tuple(values[name] or ())
    return Article(**values)


def _to_run(r: CrawlRunRow) -> RunInfo:
    return RunInfo(
        id=r.id,
        site=r.site,
        trigger=r.trigger,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=r.status,
        counters=dict(r.counters),
        settings_digest=r.settings_digest,
    )
