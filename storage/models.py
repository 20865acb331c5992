"""SQL tables: SQLAlchemy 2 typed declarative models.

`ArticleRow` mirrors `storage.article.Article` column for column and in the same order; the check
at the bottom of this module refuses to import if they drift, so a new `Article` field cannot be
silently missing from the SQL archive.

Datetimes are stored as UTC instants (`UTCDateTime`): SQLite has no time zone type, and a
``timestamptz`` in PostgreSQL does not keep the offset either, so both dialects agree on "the
same instant, returned in UTC". The original offset (e.g. +08:00) is not kept in SQL.

``article_versions`` keeps one row per distinct content hash of a URL, written in the same
transaction as the upsert of ``articles`` (which holds the current version), so an edit never
loses the old text. ``fetch_state`` is what the crawler knows of a URL it fetched: the HTTP
validators for conditional re-checks, and when the page disappeared (404/410).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from storage.article import field_names

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TRIGGERS: Final = ("manual", "schedule")
STATUSES: Final = ("running", "ok", "failed", "interrupted")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, the same instant as an aware UTC datetime out, on every dialect.

    Naive datetimes are refused: converting one would invent an offset the page never gave.
    SQLite receives naive UTC (its text format drops the offset, so it must already be UTC for
    ordering and comparisons to be right); PostgreSQL receives aware UTC for ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} (times must carry an offset)")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL so that tags/counters can be queried and indexed there; plain JSON (text)
# elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


#: The index that covers a search match's site, date and copy link (see `ArticleRow`).
COVER_INDEX: Final = "ix_articles_url_hash_cover"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class ArticleRow(Base):
    """The current version of each canonical URL (one row per ``url_hash``)."""

    __tablename__ = "articles"

    # Queries filter by site and time and page in time order (`storage.query`): one composite
    # index answers "site S, month M, newest first, LIMIT 20" in a few page reads, and a
    # site-only filter through its prefix. (Separate site and time indexes made SQLite walk one
    # of them and test the other condition on every row: over a second on 1M articles.)
    #
    # A search's count and facets join every match (up to 10,000) to its site, date and copy
    # link: ``ix_articles_url_hash_cover`` answers that from the index alone. Without it each
    # match reads its row, and on SQLite ``published_at`` lies after the body, in the row's
    # overflow pages (a common word on 1M articles: 5x slower).
    __table_args__ = (
        Index("ix_articles_site_published", "site", "published_at", "url_hash"),
        Index(COVER_INDEX, "url_hash", "site", "published_at", "duplicate_of"),
    )

    url: Mapped[str] = mapped_column(Text)
    site: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    lead: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    editor: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    language: Mapped[str | None] = mapped_column(String(35))  # longest BCP 47 tag in practice
    images: Mapped[list[str]] = mapped_column(JSONType)
    fetched_url: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None]
    # Filled by the upsert when the Article does not carry them, hence NOT NULL here.
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    # A soft reference: articles may be imported without a recorded run, so no foreign key.
    crawl_run_id: Mapped[str | None] = mapped_column(String(36))
    extraction_version: Mapped[int]
    url_hash: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # Signed 64-bit simhash of the body; near copies are found through `SimhashBandRow`.
    simhash: Mapped[int] = mapped_column(BigInteger)
    # url_hash of the group's earliest copy, kept by `storage.duplicates` (re-linked when an
    # earlier copy arrives); no foreign key, so a batch can link rows in any order.
    duplicate_of: Mapped[str | None] = mapped_column(String(40), index=True)
    # The canonical URL the page declares, also another publisher's (`Article.canonical_url`).
    canonical_url: Mapped[str | None] = mapped_column(Text)


class SimhashBandRow(Base):
    """The candidate index for near copies: each article's simhash cut into 16-bit bands.

    Two bodies within ``storage.simhash.THRESHOLD`` (3) bits share at least one of the four
    bands (pigeonhole), so an indexed equality lookup on (band, value) finds every near copy
    among millions of rows; the few candidates are then checked by Hamming distance.
    Written in the same transaction as the article upsert (``storage.duplicates``).
    """

    __tablename__ = "simhash_bands"
    __table_args__ = (Index(None, "band", "value"),)

    url_hash: Mapped[str] = mapped_column(
        String(40), ForeignKey("articles.url_hash", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int]


class ArticleVersionRow(Base):
    """One version of an article: a distinct content hash of a URL, with when it was seen.

    ``version`` counts from 1 in the order versions were first seen. If a page reverts to an
    earlier text, that version's ``last_seen`` moves again rather than adding a duplicate.
    ``record`` is the whole `Article` of that version as JSON (ISO 8601 times), so a version
    can be restored or exported field by field.
    """

    __tablename__ = "article_versions"

    url_hash: Mapped[str] = mapped_column(
        String(40), ForeignKey("articles.url_hash", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int]
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    crawl_run_id: Mapped[str | None] = mapped_column(String(36))
    extraction_version: Mapped[int]
    record: Mapped[dict[str, Any]] = mapped_column(JSONType)


class FetchStateRow(Base):
    """What the crawler knows of a fetched URL beyond the article: validators and removal.

    Keyed by the hash of the *fetched* URL (what the next run will request), which differs from
    ``articles.url_hash`` when a page names another canonical URL; hence no foreign key.
    """

    __tablename__ = "fetch_state"
    __table_args__ = (Index(None, "site", "gone_at"),)

    url_hash: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    site: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    """The server's Last-Modified header, verbatim: it goes back as If-Modified-Since."""
    last_status: Mapped[int]
    last_checked: Mapped[datetime]
    gone_at: Mapped[datetime | None]
    """First time the URL answered 404/410 after it had been archived; None while it is live."""


class CrawlRunRow(Base):
    """One crawl of one site, opened at start and closed with its counters."""

    __tablename__ = "crawl_runs"
    __table_args__ = (
        CheckConstraint(f'"trigger" IN {TRIGGERS!r}', name="trigger"),
        CheckConstraint(f'"status" IN {STATUSES!r}', name="status"),
        Index(None, "site", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    # Free-form: pages fetched, articles new/updated/unchanged, dropped by reason, errors by kind.
    counters: Mapped[dict[str, Any]] = mapped_column(JSONType)
    settings_digest: Mapped[str | None] = mapped_column(String(128))


class IngestFileRow(Base):
    """A web-archive file `zhengwen ingest` read (or is reading): where to resume, and what
    it found. Keyed by the file's identity (size and a digest of its first MiB), not its
    path: the same CC-NEWS file moved elsewhere is not ingested twice."""

    __tablename__ = "ingest_files"

    file_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    """Every record before this byte is stored (0 where the file cannot be entered mid-way)."""
    done: Mapped[bool]
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    counters: Mapped[dict[str, Any]] = mapped_column(JSONType)


class IngestSourceRow(Base):
    """Where an ingested version came from: its archive file, record offset and WARC ids."""

    __tablename__ = "ingest_sources"

    url_hash: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str | None] = mapped_column(Text)
    file_key: Mapped[str] = mapped_column(String(80))


ARTICLE_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in ArticleRow.__table__.columns)

if list(ARTICLE_COLUMNS) != field_names():  # pragma: no cover - guards future edits
    raise RuntimeError(
        f"storage.models.ArticleRow columns {ARTICLE_COLUMNS} differ from Article fields "
        f"{field_names()}: add the new field to both (and to docs/schema.md)"
    )
