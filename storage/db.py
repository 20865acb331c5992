"""The SQL archive: one `Database` per URL, SQLite by default, PostgreSQL by giving its URL.

Nothing here is global: a `Database` owns its engine and sessionmaker and is disposed by its
owner, so tests, pipelines and notebooks can hold several at once.

SQLite durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` only survives a crash
of the process; after a power loss or OS crash the last commits can roll back. The archive's
rule is that an acknowledged write is durable, and we commit once per batch, so one fsync per
batch is a cheap price. Writes open with ``BEGIN IMMEDIATE`` so that a second writer waits on
the busy timeout instead of failing when it upgrades a read lock mid-transaction.

Readers (``Database(url, read_only=True)``: `storage.query.Archive`, ``zhengwen stats`` …) can
never write: SQLite is opened with ``mode=ro`` and ``PRAGMA query_only``, PostgreSQL sessions
with ``default_transaction_read_only``, so an archive on read-only media or owned by another
user can be read, and reading never changes a byte of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict
from urllib.parse import quote

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    bindparam,
    case,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from storage import duplicates, search, testhooks
from storage.article import Article, field_names, url_variants
from storage.article import url_hash as hash_url
from storage.locks import enable_wal, schema_lock
from storage.models import COVER_INDEX, STATUSES, TRIGGERS, Base, CrawlRunRow, UTCDateTime
from storage.paths import redact_url
from storage.validation import validate_article

BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite writer waits for another one (a batch commit takes milliseconds)."""

# Rows per IN (...) lookup: far below SQLite's and PostgreSQL's bind-parameter limits.
_CHUNK: Final = 500
_WRITE: Final = "zhengwen_write"
_ARTICLES: Final[Table] = Base.metadata.tables["articles"]
_RUNS: Final[Table] = Base.metadata.tables["crawl_runs"]
_VERSIONS: Final[Table] = Base.metadata.tables["article_versions"]
_FETCH: Final[Table] = Base.metadata.tables["fetch_state"]
#: Keys per page of `Database.version_pages` (and so rows per re-export batch of them).
VERSION_PAGE: Final = 5000
#: HTTP answers that mean the page was removed (RFC 9110: 410 is deliberate, 404 may be).
GONE_STATUSES: Final = frozenset({404, 410})
_FIELDS: Final = tuple(field_names())
_TUPLE_FIELDS: Final = frozenset({"tags", "images"})


@dataclass(slots=True)
class CaptureResult:
    """What `Database.upsert_captures` did: as `UpsertResult`, plus the older captures kept
    as past versions (``past``)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    past: int = 0


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


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    """One stored version of an article (see `Database.versions`)."""

    version: int
    content_hash: str
    title: str | None
    body: str
    first_seen: datetime
    last_seen: datetime
    crawl_run_id: str | None
    extraction_version: int
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionKey:
    """One version SQL holds, by its key: what a Parquet row of it must carry."""

    url_hash: str
    content_hash: str
    version: int | None
    """Its number in ``article_versions``; None for a current article without a version row
    (written by a zhengwen from before versions were kept)."""


@dataclass(frozen=True, slots=True)
class KnownPage:
    """An archived article as the next crawl sees it: whether and how to re-check it."""

    article_url: str
    """The article's canonical URL (its ``articles`` key)."""
    fetch_url: str
    """The URL the crawler fetched it from (a re-check requests this one)."""
    published_at: datetime | None
    first_seen: datetime
    etag: str | None
    last_modified: str | None
    gone_at: datetime | None


@dataclass(frozen=True, slots=True)
class FetchUpdate:
    """One answer to a fetch of an article URL, for `Database.record_fetches`.

    ``article_url`` names the archived article a 304 confirms (its ``last_seen`` moves); None for
    a first fetch, whose article is stored by the upsert.
    """

    url: str
    site: str
    status: int
    at: datetime
    etag: str | None = None
    last_modified: str | None = None
    article_url: str | None = None


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


def _configure_sqlite(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Python 3.11's sqlite3 opens transactions late and always DEFERRED; we emit BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            # The busy timeout first: it applies to everything below.
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if read_only:
                cur.execute("PRAGMA query_only=ON")
            else:
                enable_wal(cur)  # retried: a fresh archive opened by several crawls at once
                cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _read_only_engine_args(url: str) -> dict[str, Any]:
    """`create_engine` arguments that make every connection of ``url`` read-only."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or path.startswith("file:"):
            raise ValueError(f"a read-only database needs a SQLite file path, not {url!r}")

        def connect() -> sqlite3.Connection:
            return _open_sqlite_read_only(path)

        return {"creator": connect}
    # libpq's options: every transaction of the session is READ ONLY, whatever a caller runs.
    return {"connect_args": {"options": "-c default_transaction_read_only=on"}}


def _open_sqlite_read_only(path: str) -> sqlite3.Connection:
    """``path`` opened with ``mode=ro``: SQLite never writes the file, whoever runs this.

    A WAL database needs its ``-shm`` index to be read; a reader that cannot create it (the
    folder is on read-only media or another user's) is refused with SQLITE_READONLY_* or
    SQLITE_CANTOPEN. Then, when no write-ahead log holds commits (so no writer is active and
    nothing is missing from the file), the file is opened ``immutable``: read as it is, without
    locks or the index. A log with content is an error: read without it, the archive would
    silently lack its latest commits.
    """
    uri = "file:" + quote(path)
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL index
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        name = getattr(exc, "sqlite_errorname", "")
        if not name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            raise
        try:
            pending = os.path.getsize(f"{path}-wal") > 0
        except FileNotFoundError:
            pending = False
        if pending:
            raise sqlite3.OperationalError(
                f"{exc}: cannot read {path} without write access to its folder while its "
                "write-ahead log (-wal) holds commits; open it once where it can be written "
                "(any zhengwen crawl, or sqlite3) to fold them into the file"
            ) from None
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)


class Database:
    """Engine + sessionmaker for one archive database; call `dispose` (or use ``with``)."""

    def __init__(self, url: str, *, echo: bool = False, read_only: bool = False) -> None:
        """``read_only``: the database refuses every write (see the module docstring); for
        readers, which must work on an archive they cannot write and must not change."""
        self.url = url
        self.read_only = read_only
        self._present_columns: set[str] | None = None
        self.engine: Engine = create_engine(
            url,
            echo=echo,
            json_serializer=_json_dumps,
            # A server's connection found dead at checkout (restarted, killed by an operator)
            # is replaced instead of failing the next statement (storage.outage retries the
            # rest).
            pool_pre_ping=make_url(url).get_backend_name() != "sqlite",
            **(_read_only_engine_args(url) if read_only else {}),
        )
        self.dialect: str = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, read_only=read_only)
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
        """Create missing tables and indexes and upgrade an older archive (idempotent;
        migrations take over once released).

        Safe when several processes do it at once on a fresh database (crawls of different
        sites starting together): on PostgreSQL the whole of it runs under `schema_lock`; on
        SQLite every step is a ``BEGIN IMMEDIATE`` transaction, which waits for another
        writer instead of failing (see storage.locks).
        """
        writes = self.engine.execution_options(**{_WRITE: True})
        with schema_lock(self.engine):
            Base.metadata.create_all(writes)
            # Nullable columns added since (canonical_url …) first: the duplicates upgrade
            # reads them.
            _add_missing_columns(self._writes)
            duplicates.upgrade(self._writes)  # archives from before simhash/duplicate_of
            # create_all adds no index to a table that exists: an archive written by an older
            # zhengwen gets the indexes added since here (each one checked first: cheap).
            with self._writes.begin() as s:
                conn = s.connection()
                for table in Base.metadata.sorted_tables:
                    for index in table.indexes:
                        index.create(conn, checkfirst=True)
                if conn.dialect.name == "sqlite":
                    _describe_cover_index(conn)
            search.ensure_index(writes)

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
            duplicates.lock(s)
            existing = self._content_hashes_of(s, list(batch))
            versions = self._versions_of(s, list(batch))
            self._backfill_versions(s, existing, versions)
            s.execute(self._upsert_statement(), rows)
            self._write_versions(s, batch, versions, now)
            # New and changed texts join the band index and their copy group.
            changed = [a for h, a in batch.items() if existing.get(h) != a.content_hash]
            duplicates.index_and_link(s, changed)
            # Unchanged rows keep their stored title and body, hence their index entry.
            search.index_articles(s.connection(), [(a.url_hash, a.title, a.body) for a in changed])
            testhooks.crashpoint("sql.before_commit")
        testhooks.crashpoint("sql.after_commit")
        new = sum(1 for h in batch if h not in existing)
        unchanged = sum(1 for h, a in batch.items() if existing.get(h) == a.content_hash)
        return UpsertResult(new=new, updated=len(batch) - new - unchanged, unchanged=unchanged)

    def upsert_captures(self, articles: Sequence[Article]) -> CaptureResult:
        """Articles read from web archives, each with ``fetched_at`` its capture time, stored
        in capture order whatever order they come in: a URL's newest capture is its current
        row; an older capture with another text becomes a past version (numbers follow the
        capture times) and moves ``first_seen`` back, without replacing the current row."""
        result = CaptureResult()
        ordered = sorted(articles, key=lambda a: a.fetched_at or datetime.min.replace(tzinfo=UTC))
        while ordered:  # rounds with one capture per URL, oldest first
            round_: dict[str, Article] = {}
            later: list[Article] = []
            for a in ordered:
                if a.url_hash in round_:
                    later.append(a)
                else:
                    round_[a.url_hash] = a
            ordered = later
            stored = self._fetched_at_of(list(round_))
            current: list[Article] = []
            past: list[Article] = []
            for h, a in round_.items():
                at = stored.get(h)
                if at is not None and a.fetched_at is not None and a.fetched_at < at:
                    past.append(a)
                else:
                    current.append(a)
            done = self.upsert_articles(current)
            result.new += done.new
            result.updated += done.updated
            result.unchanged += done.unchanged
            result.past += self._add_past_versions(past)
        return result

    def _fetched_at_of(self, hashes: Sequence[str]) -> dict[str, datetime | None]:
        with self.engine.connect() as conn:
            return self._column_of(conn, _ARTICLES.c.fetched_at, hashes)

    def _add_past_versions(self, articles: Sequence[Article]) -> int:
        """Older captures of stored URLs: a new text is a version placed by its capture time;
        a known one only moves that version's ``first_seen`` back. Returns versions added."""
        if not articles:
            return 0
        added = 0
        v, a = _VERSIONS.c, _ARTICLES.c
        with self._writes.begin() as s:
            known = self._versions_of(s, [x.url_hash for x in articles])
            for art in articles:
                at = art.fetched_at
                versions = known.get(art.url_hash, {})
                if art.content_hash not in versions:
                    row = _version_row(art, 0, at)
                    row["first_seen"] = row["last_seen"] = at
                    s.execute(insert(_VERSIONS), [row])
                    added += 1
                else:
                    s.execute(
                        update(_VERSIONS)
                        .where(v.url_hash == art.url_hash, v.content_hash == art.content_hash)
                        .values(first_seen=case((v.first_seen > at, at), else_=v.first_seen))
                    )
                s.execute(
                    update(_ARTICLES)
                    .where(a.url_hash == art.url_hash)
                    .values(first_seen=case((a.first_seen > at, at), else_=a.first_seen))
                )
                order = s.execute(
                    select(v.content_hash)
                    .where(v.url_hash == art.url_hash)
                    .order_by(v.first_seen, v.version)
                ).scalars()
                for number, content in enumerate(list(order), 1):
                    s.execute(
                        update(_VERSIONS)
                        .where(v.url_hash == art.url_hash, v.content_hash == content)
                        .values(version=number)
                    )
        return added

    @staticmethod
    def _row(article: Article, now: datetime) -> dict[str, Any]:
        row = article.to_dict()
        row["first_seen"] = article.first_seen or now
        row["last_seen"] = article.last_seen or now
        return row

    @staticmethod
    def _versions_of(s: Session, hashes: Sequence[str]) -> dict[str, dict[str, int]]:
        """url_hash -> {content_hash: version number} of the stored versions."""
        found: dict[str, dict[str, int]] = {}
        v = _VERSIONS.c
        for i in range(0, len(hashes), _CHUNK):
            stmt = select(v.url_hash, v.content_hash, v.version).where(
                v.url_hash.in_(hashes[i : i + _CHUNK])
            )
            for u, c, n in s.execute(stmt):
                found.setdefault(u, {})[c] = n
        return found

    @staticmethod
    def _backfill_versions(
        s: Session, existing: Mapping[str, str], versions: dict[str, dict[str, int]]
    ) -> None:
        """Store the current text of rows about to change that have no version row yet (an
        archive written before versions were kept), so the upsert cannot lose it."""
        missing = [u for u, c in existing.items() if c not in versions.get(u, {})]
        for i in range(0, len(missing), _CHUNK):
            stmt = select(_ARTICLES).where(_ARTICLES.c.url_hash.in_(missing[i : i + _CHUNK]))
            for row in s.execute(stmt).mappings():
                article = _to_article(row)
                known = versions.setdefault(article.url_hash, {})
                number = max(known.values(), default=0) + 1
                s.execute(insert(_VERSIONS), [_version_row(article, number, None)])
                known[article.content_hash] = number

    @staticmethod
    def _write_versions(
        s: Session,
        batch: Mapping[str, Article],
        versions: dict[str, dict[str, int]],
        now: datetime,
    ) -> None:
        """A new row per new content hash; a known one (unchanged, or reverted) only moves its
        ``last_seen`` forward."""
        new_rows: list[dict[str, Any]] = []
        seen: list[dict[str, Any]] = []
        for u, article in batch.items():
            known = versions.setdefault(u, {})
            at = article.last_seen or now
            if article.content_hash in known:
                seen.append({"u": u, "c": article.content_hash, "at": at})
                continue
            number = max(known.values(), default=0) + 1
            known[article.content_hash] = number
            new_rows.append(_version_row(article, number, now))
        if new_rows:
            s.execute(insert(_VERSIONS), new_rows)
        if seen:
            v = _VERSIONS.c
            at_ = bindparam("at", type_=UTCDateTime())
            s.execute(
                update(_VERSIONS)
                .where(v.url_hash == bindparam("u"), v.content_hash == bindparam("c"))
                .values(last_seen=case((at_ > v.last_seen, at_), else_=v.last_seen)),
                seen,
            )

    @staticmethod
    def _content_hashes_of(s: Session, hashes: Sequence[str]) -> dict[str, str]:
        return Database._column_of(s, _ARTICLES.c.content_hash, hashes)

    @staticmethod
    def _column_of(s: Session | Connection, column: Any, hashes: Sequence[str]) -> dict[str, Any]:
        """url_hash -> ``column`` of the stored articles among ``hashes``."""
        found: dict[str, Any] = {}
        for i in range(0, len(hashes), _CHUNK):
            chunk = hashes[i : i + _CHUNK]
            stmt = select(_ARTICLES.c.url_hash, column).where(_ARTICLES.c.url_hash.in_(chunk))
            found.update({u: v for u, v in s.execute(stmt)})
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

    def count_articles(self, site: str | None = None, *, exclude_duplicates: bool = False) -> int:
        stmt = select(func.count()).select_from(_ARTICLES)
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        if exclude_duplicates:
            stmt = stmt.where(_ARTICLES.c.duplicate_of.is_(None))
        with self.sessions() as s:
            return int(s.execute(stmt).scalar_one())

    def article_columns(self) -> list[Any]:
        """The ``articles`` columns to select a whole row: every column of the model, a typed
        NULL for one an archive written by an older zhengwen lacks (a reader never migrates it,
        and a null is what the field means for those rows)."""
        if self._present_columns is None:
            with self.engine.connect() as conn:
                self._present_columns = {
                    c["name"] for c in inspect(conn).get_columns(_ARTICLES.name)
                }
        present = self._present_columns
        return [
            c if c.name in present or not present else cast(null(), c.type).label(c.name)
            for c in _ARTICLES.columns
        ]

    def find_url(self, url: str) -> str | None:
        """The stored URL of the article that ``url`` names, or None.

        Tries ``url`` as given, then the forms of `storage.article.url_variants` (spaces and
        ``#fragment`` gone, scheme and host in lower case, no default port, the path
        percent-encoded or decoded), each first as an article's URL, then as the URL an
        article was fetched from (its page declared another canonical URL on its site).
        """
        variants = url_variants(url)
        hashes = [hash_url(v) for v in variants]
        a, f = _ARTICLES.c, _FETCH.c
        with self.sessions() as s:
            stored = dict(s.execute(select(a.url_hash, a.url).where(a.url_hash.in_(hashes))).all())
            for h in hashes:
                if h in stored:
                    return str(stored[h])
            fetched = dict(
                s.execute(select(f.url_hash, f.site).where(f.url_hash.in_(hashes))).all()
            )
            for v, h in zip(variants, hashes, strict=True):
                if h in fetched:
                    found = s.execute(
                        select(a.url).where(a.site == fetched[h], a.fetched_url == v).limit(1)
                    ).scalar()
                    if found is not None:
                        return str(found)
        return None

    def get_article(self, url: str) -> Article | None:
        """The stored article for a canonical URL (times in UTC), or None."""
        stmt = select(*self.article_columns()).where(_ARTICLES.c.url_hash == hash_url(url))
        with self.sessions() as s:
            row = s.execute(stmt).mappings().first()
        return None if row is None else _to_article(row)

    def versions(self, url: str) -> list[ArticleVersion]:
        """Every stored version of a canonical URL, oldest first (empty when unknown)."""
        v = _VERSIONS.c
        stmt = select(_VERSIONS).where(v.url_hash == hash_url(url)).order_by(v.version)
        with self.sessions() as s:
            return [
                ArticleVersion(
                    version=r["version"],
                    content_hash=r["content_hash"],
                    title=r["title"],
                    body=r["body"],
                    first_seen=r["first_seen"],
                    last_seen=r["last_seen"],
                    crawl_run_id=r["crawl_run_id"],
                    extraction_version=r["extraction_version"],
                    record=dict(r["record"]),
                )
                for r in s.execute(stmt).mappings()
            ]

    def version_pages(
        self, site: str | None = None, *, page: int = VERSION_PAGE
    ) -> Iterator[list[VersionKey]]:
        """Every version SQL holds (of one site), in pages of at most ``page`` keys.

        Keyset pages over the primary keys (``article_versions``, then the current articles
        that have no version row), each read in a short transaction of its own: memory stays
        bounded by ``page`` and no snapshot is held while the caller works on a page.
        """
        if page < 1:
            raise ValueError(f"page must be at least 1, got {page}")
        v, a = _VERSIONS.c, _ARTICLES.c
        versions = select(v.url_hash, v.content_hash, v.version)
        current = select(a.url_hash, a.content_hash, null()).outerjoin(
            _VERSIONS, (v.url_hash == a.url_hash) & (v.content_hash == a.content_hash)
        )
        current = current.where(v.url_hash.is_(None))
        if site is not None:
            versions = versions.join(_ARTICLES, a.url_hash == v.url_hash).where(a.site == site)
            current = current.where(a.site == site)
        for stmt, key in ((versions, (v.url_hash, v.content_hash)), (current, (a.url_hash,))):
            after: tuple[str, ...] | None = None
            while True:
                query = stmt.order_by(*key).limit(page)
                if after is not None:
                    query = query.where(tuple_(*key) > tuple_(*after))
                with self.sessions() as s:
                    rows = [VersionKey(u, c, n) for u, c, n in s.execute(query)]
                if not rows:
                    break
                yield rows
                last = rows[-1]
                after = (last.url_hash, last.content_hash)[: len(key)]

    def versions_as_articles(self, keys: Sequence[VersionKey]) -> list[Article]:
        """The Articles of stored versions: the ``articles`` row for a current version, the
        version's ``record`` for an older one. Keys SQL no longer holds are left out."""
        wanted: dict[str, set[str]] = {}
        for k in keys:
            wanted.setdefault(k.url_hash, set()).add(k.content_hash)
        hashes = list(wanted)
        out: list[Article] = []
        current: dict[str, str] = {}
        v = _VERSIONS.c
        with self.sessions() as s:
            for i in range(0, len(hashes), _CHUNK):
                chunk = hashes[i : i + _CHUNK]
                stmt = select(*self.article_columns()).where(_ARTICLES.c.url_hash.in_(chunk))
                for row in s.execute(stmt).mappings():
                    article = _to_article(row)
                    current[article.url_hash] = article.content_hash
                    if article.content_hash in wanted[article.url_hash]:
                        out.append(article)
            older = [u for u, c in current.items() if wanted[u] - {c}]
            for i in range(0, len(older), _CHUNK):
                stmt = select(v.url_hash, v.content_hash, v.record).where(
                    v.url_hash.in_(older[i : i + _CHUNK])
                )
                for u, c, record in s.execute(stmt):
                    if c in wanted[u] and c != current[u]:
                        out.append(_record_article(record))
        return out

    def fetch_state(self, url: str) -> dict[str, Any] | None:
        """The crawler's record of a fetched URL (validators, last status, ``gone_at``)."""
        stmt = select(_FETCH).where(_FETCH.c.url_hash == hash_url(url))
        with self.sessions() as s:
            row = s.execute(stmt).mappings().first()
        return None if row is None else dict(row)

    def known_pages(self, site: str) -> dict[str, KnownPage]:
        """The site's archived articles by URL (canonical and fetched URL both map to the same
        entry), with the validators of their last fetch: what an incremental crawl consults
        before requesting an article page.

        Validators count only when the article holds what their fetch brought, i.e. its
        ``last_seen`` is not older than the fetch (the article upsert after a 200 and the 304
        confirmation both move it). A fetch answer is committed in its own transaction before
        the article is extracted and stored; when the crawl is killed in between (or the page
        was dropped), its validators describe a text the archive does not have, and a
        conditional request with them would get a 304 and never store that text.
        """
        a, f = _ARTICLES.c, _FETCH.c
        out: dict[str, KnownPage] = {}
        with self.sessions() as s:
            state = {
                r.url: (r.etag, r.last_modified, r.gone_at, r.last_checked)
                for r in s.execute(
                    select(f.url, f.etag, f.last_modified, f.gone_at, f.last_checked).where(
                        f.site == site
                    )
                )
            }
            rows = s.execute(
                select(a.url, a.fetched_url, a.published_at, a.first_seen, a.last_seen).where(
                    a.site == site
                ),
                execution_options={"yield_per": 5000},
            )
            for url, fetched, published, first_seen, last_seen in rows:
                fetched = fetched or url
                etag, modified, gone, checked = (
                    state.get(fetched) or state.get(url) or (None, None, None, None)
                )
                if checked is not None and checked > last_seen:
                    etag = modified = None
                page = KnownPage(url, fetched, published, first_seen, etag, modified, gone)
                out[url] = page
                out[fetched] = page
        return out

    def record_fetches(self, updates: Sequence[FetchUpdate]) -> None:
        """Store the answers to article fetches in one transaction: validators for the next
        conditional request, removal (404/410 sets ``gone_at`` once, a later 200 clears it),
        and ``last_seen`` of the articles a 304 confirmed."""
        if not updates:
            return
        rows: dict[str, dict[str, Any]] = {}
        for u in updates:
            gone = u.status in GONE_STATUSES
            rows[hash_url(u.url)] = {
                "url_hash": hash_url(u.url),
                "url": u.url,
                "site": u.site,
                "etag": u.etag,
                "last_modified": u.last_modified,
                "last_status": u.status,
                "last_checked": u.at,
                "gone_at": u.at if gone else None,
            }
        confirmed: list[dict[str, Any]] = sorted(
            (
                {"u": hash_url(u.article_url), "at": u.at}
                for u in updates
                if u.status == 304 and u.article_url
            ),
            key=lambda row: str(row["u"]),
        )
        # Rows in one order (by key) for every writer: two workers' batches touching the same
        # pages then lock them in the same order and cannot deadlock on PostgreSQL.
        with self._writes.begin() as s:
            s.execute(self._fetch_upsert_statement(), [rows[k] for k in sorted(rows)])
            if confirmed:
                at = bindparam("at", type_=UTCDateTime())
                a = _ARTICLES.c
                s.execute(
                    update(_ARTICLES)
                    .where(a.url_hash == bindparam("u"))
                    .values(last_seen=case((at > a.last_seen, at), else_=a.last_seen)),
                    confirmed,
                )

    def _fetch_upsert_statement(self) -> Insert:
        if self.dialect == "postgresql":
            stmt: Any = postgresql.insert(_FETCH)
        elif self.dialect == "sqlite":
            stmt = sqlite.insert(_FETCH)
        else:
            raise NotImplementedError(
                f"fetch state is implemented for SQLite and PostgreSQL, not {self.dialect}"
            )
        x, f = stmt.excluded, _FETCH.c
        # Not IN (...): an expanding parameter cannot be used in an executemany.
        validators = or_(x.last_status == 200, x.last_status == 304)
        result: Insert = stmt.on_conflict_do_update(
            index_elements=[f.url_hash],
            set_={
                "url": x.url,
                "site": x.site,
                # A 304 may omit the validators: keep the ones we have.
                "etag": case((validators, func.coalesce(x.etag, f.etag)), else_=f.etag),
                "last_modified": case(
                    (validators, func.coalesce(x.last_modified, f.last_modified)),
                    else_=f.last_modified,
                ),
                "last_status": x.last_status,
                "last_checked": x.last_checked,
                "gone_at": case(
                    (x.gone_at.is_(None), None), else_=func.coalesce(f.gone_at, x.gone_at)
                ),
            },
        )
        return result

    def removed(self, site: str | None = None) -> dict[str, datetime]:
        """URLs of archived pages that answered 404/410, with when that was first seen."""
        f = _FETCH.c
        stmt = select(f.url, f.gone_at).where(f.gone_at.is_not(None))
        if site is not None:
            stmt = stmt.where(f.site == site)
        with self.sessions() as s:
            return {u: g for u, g in s.execute(stmt)}

    def iter_articles(
        self, site: str | None = None, *, exclude_duplicates: bool = False
    ) -> Iterator[Article]:
        """All articles (of one site), streamed in ``url_hash`` order, so memory stays flat.

        ``exclude_duplicates`` leaves out exact and near copies (``duplicate_of`` set), keeping
        the earliest copy of each story, whichever site it is on.
        """
        stmt = select(*self.article_columns()).order_by(_ARTICLES.c.url_hash)
        if site is not None:
            stmt = stmt.where(_ARTICLES.c.site == site)
        if exclude_duplicates:
            stmt = stmt.where(_ARTICLES.c.duplicate_of.is_(None))
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
        counters: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a run as ``running`` before crawling, so a crash still leaves a trace.
        ``counters``: what the row says while it runs (a cluster run names its Redis)."""
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
            counters=dict(counters or {}),
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

    def interrupt_stale_runs(self, site: str, *, now: datetime | None = None) -> int:
        """Mark the site's ``running`` rows ``interrupted``; returns how many.

        Only for a caller that holds the site's run lock (crawler.lock): then no live process
        can own those rows, so they were left by a crawl that was killed before it could close.
        A run of the cluster (``counters.cluster``) is no process's: it is never taken for dead
        here (`cluster_run` finds it; its workers record its end).
        """
        stmt = select(CrawlRunRow).where(CrawlRunRow.site == site, CrawlRunRow.status == "running")
        with self._writes.begin() as s:
            stale = [r for r in s.scalars(stmt) if "cluster" not in (r.counters or {})]
            for run in stale:
                run.status = "interrupted"
                run.counters = {**run.counters, "finish_reason": "process died"}
                run.finished_at = now or datetime.now(UTC)
        return len(stale)

    def cluster_run(self, site: str) -> RunInfo | None:
        """The site's run in progress on a cluster of workers (`zhengwen enqueue`), if any."""
        stmt = select(CrawlRunRow).where(CrawlRunRow.site == site, CrawlRunRow.status == "running")
        with self.sessions() as s:
            rows = [r for r in s.scalars(stmt) if "cluster" in (r.counters or {})]
            return _to_run(rows[0]) if rows else None

    def run(self, run_id: str) -> RunInfo | None:
        """One run by its id."""
        with self.sessions() as s:
            row = s.get(CrawlRunRow, run_id)
            return _to_run(row) if row is not None else None

    def versions_of_run(self, run_id: str) -> tuple[int, int]:
        """(new, changed): the articles whose version this run stored first (version 1) and
        the ones it stored a new text of. What the archive took, whichever process stored it
        and however often a page was fetched (a cluster run's counters)."""
        v = _VERSIONS.c
        stmt = select(
            func.count().filter(v.version == 1), func.count().filter(v.version > 1)
        ).where(v.crawl_run_id == run_id)
        with self.sessions() as s:
            new, changed = s.execute(stmt).one()
        return int(new or 0), int(changed or 0)

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


def _record_article(record: Mapping[str, Any]) -> Article:
    """An `Article` from a version's ``record`` (`Article.to_json_dict`: ISO 8601 times);
    fields a record from an older zhengwen lacks take their defaults."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Article):
        if f.name not in record:
            continue
        value = record[f.name]
        if value is not None and "datetime" in str(f.type):
            value = datetime.fromisoformat(value)
        elif f.name in _TUPLE_FIELDS:
            value = tuple(value or ())
        values[f.name] = value
    return Article(**values)


def _version_row(article: Article, number: int, now: datetime | None) -> dict[str, Any]:
    first = article.last_seen or article.first_seen or now or datetime.now(UTC)
    return {
        "url_hash": article.url_hash,
        "content_hash": article.content_hash,
        "version": number,
        "title": article.title,
        "body": article.body,
        "first_seen": first,
        "last_seen": first,
        "crawl_run_id": article.crawl_run_id,
        "extraction_version": article.extraction_version,
        "record": article.to_json_dict(),
    }


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


#: What SQLite's planner assumes of a table it has no statistics for (``sqlite3LogEst``
#: 200): the row count given with the cover index's statistics, so that no other plan changes.
_SQLITE_DEFAULT_ROWS: Final = 1_048_576


def _describe_cover_index(conn: Connection) -> None:
    """Tell SQLite's planner that `COVER_INDEX` finds one row per URL hash, as the primary key
    does (the documented way: a row of ``sqlite_stat1``). Without statistics it prefers the
    unique primary key for ``url_hash = ?`` and reads each matched row, which the cover index
    exists to avoid. A real ``ANALYZE`` of the archive replaces the row with the same figures.
    """
    stat = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if stat is None:
        conn.exec_driver_sql("ANALYZE sqlite_schema")  # creates sqlite_stat1, analyses nothing
    elif conn.exec_driver_sql("SELECT 1 FROM sqlite_stat1 WHERE idx = ?", (COVER_INDEX,)).first():
        return
    conn.exec_driver_sql(
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('articles', ?, ?)",
        (COVER_INDEX, f"{_SQLITE_DEFAULT_ROWS} 1 1 1 1"),
    )


def _add_missing_columns(sessions: sessionmaker[Session]) -> None:
    """Add the nullable ``articles`` columns an archive written by an older zhengwen lacks
    (``ALTER TABLE … ADD COLUMN``: null for the rows already there). Columns that need values
    computed for old rows have their own upgrade (`storage.duplicates.upgrade`)."""
    table = Base.metadata.tables["articles"]
    with sessions.begin() as s:
        conn = s.connection()
        present = {c["name"] for c in inspect(conn).get_columns("articles")}
        for col in table.columns:
            if col.name not in present and col.nullable and col.name not in duplicates.OWNED:
                kind = col.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE articles ADD COLUMN {col.name} {kind}")
