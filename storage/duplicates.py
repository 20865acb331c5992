"""Exact and near copies across sites: the band index and links to the earliest copy.

A syndicated story (光明网's article on ten portals) is one group; every member but the
earliest copy has ``duplicate_of`` = the earliest copy's ``url_hash``. Earliest means: earliest
``published_at`` (a copy without a date cannot claim to be first), then earliest
``first_seen``, then the URL, so the choice is deterministic. Exact copies (same
``content_hash`` under another URL) and near copies (simhash within
`storage.simhash.THRESHOLD` bits, found through the ``simhash_bands`` index) are linked alike.

Links are kept in SQL, in the same transaction as the article upsert: when a copy arrives that
is earlier than its group's original, the whole group is re-linked to it, and an article that
bridges two groups merges them. Invariant: ``duplicate_of`` is null (an original) or names an
original. Parquet rows are immutable versions and keep the link known when they were written;
SQL holds the current links.

Writers are serialised while they link (SQLite's ``BEGIN IMMEDIATE`` already does it; on
PostgreSQL a transaction-level advisory lock taken before the upsert), so two crawls of
different sites writing copies of one story at the same time still end in one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import Row, Table, insert, inspect, or_, select, text, union, update
from sqlalchemy.orm import Session, sessionmaker

from storage.article import Article, url_hash
from storage.models import Base
from storage.simhash import THRESHOLD, bands, hamming

Kind = Literal["exact", "near"]

_A: Final[Table] = Base.metadata.tables["articles"]
_B: Final[Table] = Base.metadata.tables["simhash_bands"]
_COLS: Final = (
    _A.c.url_hash,
    _A.c.url,
    _A.c.published_at,
    _A.c.first_seen,
    _A.c.simhash,
    _A.c.content_hash,
    _A.c.duplicate_of,
    _A.c.canonical_url,
)
_CHUNK: Final = 500
#: The columns `upgrade` adds (and fills) itself.
OWNED: Final = frozenset({"simhash", "duplicate_of"})
# pg_advisory_xact_lock key for "linking duplicates"; any constant unused by other locks.
_PG_LOCK_KEY: Final = 0x7A68_656E_6764_7570
_NEVER: Final = datetime.max.replace(tzinfo=UTC)


def lock(s: Session) -> None:
    """Serialise article writers on PostgreSQL for the rest of the transaction.

    Taken before the upsert, not before linking: a writer holding row locks from its upsert
    while waiting for this lock could otherwise deadlock with the holder re-linking those rows.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def index_and_link(s: Session, articles: Sequence[Article]) -> dict[str, Kind]:
    """Band rows and links for articles just upserted (new or changed text).

    Returns url_hash -> "exact"/"near" for those that are copies of another article.
    """
    if not articles:
        return {}
    hashes = [a.url_hash for a in articles]
    for i in range(0, len(hashes), _CHUNK):
        s.execute(_B.delete().where(_B.c.url_hash.in_(hashes[i : i + _CHUNK])))
    s.execute(insert(_B), [r for a in articles for r in band_rows(a.url_hash, a.simhash)])
    # Most articles have no copy: a few queries for the whole batch find which have one, and
    # only those are linked one by one (each link reads the groups as the earlier ones left
    # them). An article with no copy is in no other article's group, so unlinking it first
    # changes nothing for the rest.
    linked = _with_copies(s, articles)
    alone = sorted({a.url_hash for a in articles} - linked)
    for i in range(0, len(alone), _CHUNK):
        s.execute(
            update(_A)
            .where(_A.c.url_hash.in_(alone[i : i + _CHUNK]), _A.c.duplicate_of.is_not(None))
            .values(duplicate_of=None)
        )
    kinds: dict[str, Kind] = {}
    for article in articles:
        if article.url_hash in linked:
            kind = _link(s, article)
            if kind is not None:
                kinds[article.url_hash] = kind
    return kinds


def _with_copies(s: Session, articles: Sequence[Article]) -> set[str]:
    """The url_hashes of ``articles`` that `copies_of` finds a copy of (the same candidates,
    checked by the same `_is_copy`), by chunked queries for the whole batch instead of one
    query per article."""
    cols = (_A.c.url_hash, _A.c.simhash, _A.c.content_hash, _A.c.canonical_url)
    rows: dict[str, Any] = {}

    def fetch(where_col: Any, values: Iterable[Any], *extra: Any, join: bool = False) -> None:
        ordered = sorted(set(values))
        for i in range(0, len(ordered), _CHUNK):
            q = select(*cols)
            if join:
                q = q.join(_B, _B.c.url_hash == _A.c.url_hash)
            for r in s.execute(q.where(where_col.in_(ordered[i : i + _CHUNK]), *extra)):
                rows[r.url_hash] = r

    by_band: dict[int, set[int]] = {}
    for a in articles:
        for i, v in enumerate(bands(a.simhash)):
            by_band.setdefault(i, set()).add(v)
    for i, values in by_band.items():
        fetch(_B.c.value, values, _B.c.band == i, join=True)
    fetch(_A.c.content_hash, (a.content_hash for a in articles))
    named = {url_hash(a.canonical_url) for a in articles if a.canonical_url}
    fetch(_A.c.url_hash, named)
    fetch(_A.c.canonical_url, (a.url for a in articles))

    near: dict[tuple[int, int], list[Any]] = {}
    same_text: dict[str, list[Any]] = {}
    naming: dict[str, list[Any]] = {}
    for r in rows.values():
        for i, v in enumerate(bands(r.simhash)):
            near.setdefault((i, v), []).append(r)
        same_text.setdefault(r.content_hash, []).append(r)
        if r.canonical_url:
            naming.setdefault(r.canonical_url, []).append(r)
    found: set[str] = set()
    for a in articles:
        named = _named(a)
        candidates = [
            *same_text.get(a.content_hash, ()),
            *naming.get(a.url, ()),
            *(rows[h] for h in named if h in rows),
            *(r for i, v in enumerate(bands(a.simhash)) for r in near.get((i, v), ())),
        ]
        if any(_is_copy(r, a, named) for r in candidates):
            found.add(a.url_hash)
    return found


def _named(article: Article) -> set[str]:
    """The url_hash of the URL the article names as canonical, when that is another URL."""
    named = {url_hash(article.canonical_url)} if article.canonical_url else set()
    named.discard(article.url_hash)
    return named


def _is_copy(row: Any, article: Article, named: set[str]) -> bool:
    """Whether the stored ``row`` is a copy of ``article`` (``named``: `_named` of it)."""
    return row.url_hash != article.url_hash and (
        row.content_hash == article.content_hash
        or hamming(row.simhash, article.simhash) <= THRESHOLD
        or row.url_hash in named
        or row.canonical_url == article.url
    )


def band_rows(url_hash: str, value: int) -> list[dict[str, Any]]:
    return [{"url_hash": url_hash, "band": i, "value": v} for i, v in enumerate(bands(value))]


def copies_of(s: Session, article: Article) -> list[Row[Any]]:
    """Stored articles (any site, not this URL) with the same text or a simhash within
    `THRESHOLD`: candidates from an indexed lookup, then checked bit by bit."""
    b = _B.c
    band_match = or_(
        *[(b.band == i) & (b.value == v) for i, v in enumerate(bands(article.simhash))]
    )
    near = select(*_COLS).join(_B, b.url_hash == _A.c.url_hash).where(band_match)
    exact = select(*_COLS).where(_A.c.content_hash == article.content_hash)
    queries = [near, exact]
    # A page that names another publisher's URL as canonical is a syndicated copy of it (and
    # pages naming this one are copies of it), whatever their texts' differences.
    named = _named(article)
    if named:
        queries.append(select(*_COLS).where(_A.c.url_hash.in_(named)))
    queries.append(select(*_COLS).where(_A.c.canonical_url == article.url))
    rows = s.execute(union(*queries)).all()
    return [r for r in rows if _is_copy(r, article, named)]


def _order(published_at: datetime | None, first_seen: datetime | None, url: str) -> tuple[Any, ...]:
    return (published_at is None, published_at or _NEVER, first_seen or _NEVER, url)


def _kind(article: Article, copies: Iterable[Row[Any]]) -> Kind:
    return "exact" if any(c.content_hash == article.content_hash for c in copies) else "near"


def _groups(s: Session, copies: Sequence[Row[Any]], include: str | None) -> list[Row[Any]]:
    """The originals of the groups the copies belong to (a copy whose original row is gone
    stands for its group itself), plus the row `include` when given."""
    roots = {c.duplicate_of or c.url_hash for c in copies}
    wanted = roots | ({include} if include else set())
    found = {r.url_hash: r for r in s.execute(select(*_COLS).where(_A.c.url_hash.in_(wanted)))}
    orphans = [c for c in copies if (c.duplicate_of or c.url_hash) not in found]
    return [*found.values(), *orphans]


def _link(s: Session, article: Article) -> Kind | None:
    copies = copies_of(s, article)
    me = _A.c.url_hash == article.url_hash
    if not copies:
        s.execute(update(_A).where(me, _A.c.duplicate_of.is_not(None)).values(duplicate_of=None))
        return None
    group = _groups(s, copies, article.url_hash)
    first = min(group, key=lambda r: _order(r.published_at, r.first_seen, r.url))
    others = {r.url_hash for r in group} - {first.url_hash}
    members = or_(_A.c.url_hash.in_(others), _A.c.duplicate_of.in_(others))
    s.execute(update(_A).where(members).values(duplicate_of=first.url_hash))
    s.execute(update(_A).where(_A.c.url_hash == first.url_hash).values(duplicate_of=None))
    return _kind(article, copies)


def find_original(sessions: sessionmaker[Session], article: Article) -> tuple[str, Kind] | None:
    """Read-only: the url_hash of the earliest stored copy of `article` and how it matched,
    or None when nothing stored is a copy (or `article` itself would be the earliest).

    For the dedupe stage, so the Parquet row and the run's stats carry the link; the SQL
    upsert links again, authoritatively, in its own transaction.
    """
    with sessions() as s:
        copies = copies_of(s, article)
        if not copies:
            return None
        group = _groups(s, copies, None)
    first = min(group, key=lambda r: _order(r.published_at, r.first_seen, r.url))
    mine = _order(article.published_at, article.first_seen or datetime.now(UTC), article.url)
    if mine < _order(first.published_at, first.first_seen, first.url):
        return None
    return first.url_hash, _kind(article, copies)


def upgrade(sessions: sessionmaker[Session]) -> bool:
    """Bring an ``articles`` table from before near-duplicate detection up to date.

    Adds the ``simhash`` and ``duplicate_of`` columns (and the index), then computes every
    row's simhash, fills the band index and links the copies, in one transaction: an archive
    written by an older zhengwen opens as if it had been written by this one. Returns whether
    anything was done. (Alembic migrations replace this once the schema is released.)
    """
    with sessions.begin() as s:
        conn = s.connection()
        present = {c["name"] for c in inspect(conn).get_columns("articles")}
        if {"simhash", "duplicate_of"} <= present:
            return False
        dialect = conn.dialect
        for name in ("simhash", "duplicate_of"):
            if name not in present:
                col = _A.c[name]
                ddl = f"ALTER TABLE articles ADD COLUMN {name} {col.type.compile(dialect=dialect)}"
                conn.exec_driver_sql(ddl + (" NOT NULL DEFAULT 0" if name == "simhash" else ""))
        for index in _A.indexes:
            if "duplicate_of" in index.columns:
                index.create(conn, checkfirst=True)
        _backfill(s)
    return True


def _backfill(s: Session) -> None:
    keys = list(s.scalars(select(_A.c.url_hash).order_by(_A.c.url_hash)))
    articles: list[Article] = []
    for i in range(0, len(keys), _CHUNK):
        stmt = select(_A.c.url_hash, _A.c.url, _A.c.site, _A.c.title, _A.c.body, _A.c.content_hash)
        for r in s.execute(stmt.where(_A.c.url_hash.in_(keys[i : i + _CHUNK]))):
            article = Article(
                url=r.url, site=r.site, body=r.body, title=r.title, content_hash=r.content_hash
            )
            s.execute(update(_A).where(_A.c.url_hash == r.url_hash).values(simhash=article.simhash))
            articles.append(article)
    if articles:
        s.execute(insert(_B), [r for a in articles for r in band_rows(a.url_hash, a.simhash)])
        for article in articles:
            _link(s, article)
