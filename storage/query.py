"""Reading the archive: `Archive`, the one entry point for notebooks, the CLI and exports.

An `Archive` reads the SQL archive (one row per canonical URL, its current version) without
starting Scrapy and without ever creating or migrating anything: a wrong path is an error, not
a new empty archive. Rows are streamed in bounded batches (``yield_per``; server-side cursors on
PostgreSQL), so iterating over millions of articles keeps memory flat.

Filter rules (also in docs/query.md):

- ``site``, ``source``, ``author``, ``category``: exact, case-sensitive equality with the stored
  value (``source="新华社"`` does not match ``"新华社客户端"``); use ``q`` for words.
- ``since`` / ``until``: a `date`, a `datetime` or an ISO 8601 string (``"2020"``,
  ``"2020-10"``, ``"2020-10-03"``, ``"2020-10-03T21:26+08:00"``). A value without an offset
  (a bare year, month, date, or a naive time) is read in ``tz`` (IANA name, default UTC).
  ``since`` includes the start of what it names; ``until`` includes the whole period it names
  (``until="2020-10"`` ends before 2020-11-01 00:00 in ``tz``) and, for a time, that instant.
  Articles without ``published_at`` never match a time filter.
- ``q``: full-text search (`storage.search`): all terms must match, a run of Chinese characters
  is a phrase, Latin words whole and case-insensitive; hits come ranked, with a snippet.
- ``exclude_duplicates``: only originals (``duplicate_of`` is null; docs/duplicates.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, Unpack
from weakref import WeakSet
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    JSON,
    Column,
    Row,
    Select,
    Text,
    cast,
    func,
    inspect,
    null,
    select,
    type_coerce,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from storage.article import Article, field_names
from storage.db import Database, RunInfo, _to_article
from storage.diskfull import first_line, store_error_line
from storage.models import Base, UTCDateTime
from storage.paths import ArchivePaths, db_url_problem, redact_url, sqlite_path

if TYPE_CHECKING:
    import pyarrow as pa

_ARTICLES: Final = Base.metadata.tables["articles"]
#: Rows fetched per round trip: bounds memory while streaming whatever the archive's size.
BATCH_SIZE: Final = 2000
FIELDS: Final[tuple[str, ...]] = tuple(field_names())
_CONVERTED: Final = frozenset(
    c.name for c in _ARTICLES.columns if isinstance(c.type, (UTCDateTime, JSON))
)
"""Columns whose values SQLAlchemy converts one by one on the way out."""
Order = Literal["published", "site", "rank"]
_ORDERS: Final = ("published", "site", "rank")
_PARTIAL_DATE: Final = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


class ArchiveError(Exception):
    """The archive cannot be opened: missing folder or database, not an archive, unreachable."""


class QueryError(ValueError):
    """A bad filter value (date, time zone, field name, order); the message says which."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One full-text match: the article, its rank (lower is better) and a marked snippet."""

    article: Article
    rank: float
    snippet: str


@dataclass(frozen=True, slots=True)
class SiteSummary:
    site: str
    articles: int
    first_published_at: datetime | None
    last_published_at: datetime | None
    last_run_started_at: datetime | None
    last_run_status: str | None


class FilterArgs(TypedDict, total=False):
    """The filter keywords shared by `Archive.articles`, `Archive.table` and `export`."""

    site: str | None
    since: str | date | None
    until: str | date | None
    source: str | None
    author: str | None
    category: str | None
    q: str | None
    exclude_duplicates: bool
    tz: str | tzinfo


@dataclass(frozen=True, slots=True)
class Filters:
    """What `Archive.articles` selects, with the time bounds already resolved to instants.

    ``since``/``until`` keep what the caller wrote (for the dataset card); ``start`` (inclusive)
    and ``end`` (exclusive) are the UTC instants compared with ``published_at``.
    """

    site: str | None = None
    source: str | None = None
    author: str | None = None
    category: str | None = None
    q: str | None = None
    exclude_duplicates: bool = False
    since: str | None = None
    until: str | None = None
    tz: str = "UTC"
    start: datetime | None = field(default=None, compare=False)
    end: datetime | None = field(default=None, compare=False)

    @classmethod
    def build(cls, **args: Unpack[FilterArgs]) -> Filters:
        """Validated filters; a bad date, time zone or empty ``q`` raises `QueryError`."""
        unknown = set(args) - set(FilterArgs.__annotations__)
        if unknown:
            raise QueryError(f"unknown filter {', '.join(sorted(unknown))}")
        zone = parse_tz(args.get("tz", "UTC"))
        since, until, q = args.get("since"), args.get("until"), args.get("q")
        if q is not None and not q.strip():
            raise QueryError("empty search query (q)")
        if q is not None:
            from storage.search import query_length_problem

            problem = query_length_problem(q)
            if problem is not None:
                raise QueryError(problem)
        return cls(
            site=args.get("site"),
            source=args.get("source"),
            author=args.get("author"),
            category=args.get("category"),
            q=q,
            exclude_duplicates=bool(args.get("exclude_duplicates", False)),
            since=None if since is None else _show(since),
            until=None if until is None else _show(until),
            tz=str(args.get("tz", "UTC")),
            start=None if since is None else time_bound(since, zone, end=False),
            end=None if until is None else time_bound(until, zone, end=True),
        )

    def args(self) -> FilterArgs:
        """The keywords that build these filters again (``export(archive, out, fmt,
        **filters.args())``)."""
        return FilterArgs(
            site=self.site,
            since=self.since,
            until=self.until,
            source=self.source,
            author=self.author,
            category=self.category,
            q=self.q,
            exclude_duplicates=self.exclude_duplicates,
            tz=self.tz,
        )

    def only_q(self) -> bool:
        """A search and nothing else (no field, time or duplicate filter)."""
        others = (self.site, self.source, self.author, self.category, self.start, self.end)
        return self.q is not None and not self.exclude_duplicates and others == (None,) * 6

    def describe(self) -> dict[str, Any]:
        """The filters that were set, as plain values (dataset card, logs)."""
        out: dict[str, Any] = {}
        for name in ("site", "since", "until", "source", "author", "category", "q"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.since is not None or self.until is not None:
            out["tz"] = self.tz
        if self.exclude_duplicates:
            out["exclude_duplicates"] = True
        return out


def parse_tz(tz: str | tzinfo) -> tzinfo:
    """A `tzinfo` for an IANA name ("UTC" included), or a `QueryError` naming the bad one."""
    if isinstance(tz, tzinfo):
        return tz
    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise QueryError(
            f"unknown time zone {quoted(tz)} (an IANA name like Asia/Shanghai)"
        ) from None


#: Characters of a refused value that an error message repeats.
SHOWN_CHARS: Final = 60


def quoted(value: str) -> str:
    """``value`` quoted for an error message, cut to `SHOWN_CHARS` (a 100,000-character
    argument is not repeated whole on the terminal)."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}… ({len(value)} characters)"


def _show(value: str | date) -> str:
    return value.isoformat() if isinstance(value, date) else value


_FIRST_INSTANT: Final = datetime.min.replace(tzinfo=UTC)
_LAST_INSTANT: Final = datetime.max.replace(tzinfo=UTC)


def time_bound(value: str | date, tz: tzinfo, *, end: bool) -> datetime:
    """The instant a ``since`` (inclusive) or ``until`` (exclusive, ``end=True``) value names.

    A year, month or date covers its whole period in ``tz``; a time is one instant, which
    ``until`` includes (hence the microsecond: stored times have microsecond precision). An
    instant beyond what a UTC datetime holds (the end of 9999 plus a microsecond, year 1 at
    +14:00) is the first or last instant: a bound, not an overflow deep in the database driver.
    """
    try:
        bound = _time_bound(value, tz, end=end)
        bound.astimezone(UTC)  # how the database compares it
        return bound
    except OverflowError:
        year = value.year if isinstance(value, date) else int(value.strip()[:4] or 0)
        return _FIRST_INSTANT if year <= 1 else _LAST_INSTANT


def _time_bound(value: str | date, tz: tzinfo, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        instant = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return instant + timedelta(microseconds=1) if end else instant
    if isinstance(value, date):
        value = value.isoformat()
    text = value.strip()
    m = _PARTIAL_DATE.match(text)
    if m is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(
                f"bad date {quoted(value)}: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 time "
                "like 2020-10-03T21:26+08:00"
            ) from None
        return _time_bound(parsed, tz, end=end)
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        start = datetime(year, month, day, tzinfo=tz)
    except ValueError as exc:
        raise QueryError(f"bad date {quoted(value)}: {exc}") from None
    if not end:
        return start
    try:
        if m[3]:
            nxt = start.date() + timedelta(days=1)
        elif m[2]:
            nxt = date(year + month // 12, month % 12 + 1, 1)
        else:
            nxt = date(year + 1, 1, 1)
    except (ValueError, OverflowError):  # the end of 9999: no later bound
        return _LAST_INSTANT
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)


def check_fields(fields: Sequence[str] | None) -> list[str]:
    """The chosen columns in the given order (all of `Article`'s by default), or a clear error."""
    if fields is None:
        return list(FIELDS)
    chosen = [f.strip() for f in fields if f.strip()]
    unknown = [f for f in chosen if f not in FIELDS]
    if unknown:
        raise QueryError(
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(u if len(u) <= SHOWN_CHARS else u[:SHOWN_CHARS] + '…' for u in unknown)}; "
            f"valid fields: {', '.join(FIELDS)}"
        )
    if not chosen:
        raise QueryError(f"no fields chosen; valid fields: {', '.join(FIELDS)}")
    if len(set(chosen)) != len(chosen):
        raise QueryError(f"a field is named twice in {', '.join(chosen)}")
    return chosen


def arrow_schema(fields: Sequence[str]) -> pa.Schema:
    """The Parquet schema (`storage.parquet.SCHEMA`, ``site`` included) cut to ``fields``."""
    import pyarrow as pa

    from storage.parquet import SCHEMA

    return pa.schema([SCHEMA.field(f) for f in fields], metadata=SCHEMA.metadata)


class Archive(AbstractContextManager["Archive"]):
    """A read-only view of one archive: a folder (its SQLite file) or a database URL.

    Example::

        with Archive("archive") as archive:
            for hit in archive.articles(q="驻点招商", limit=5):
                print(hit.article.title, hit.snippet)
    """

    def __init__(self, path_or_url: str | os.PathLike[str]) -> None:
        self._db, self.name = open_read_only(path_or_url)
        self.url = self._db.url
        self.dialect: str = self._db.dialect
        self._indexed = False
        self._streams: WeakSet[Generator[Any]] = WeakSet()

    def __repr__(self) -> str:
        return f"Archive({self.name!r})"

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the iterators still open (a partly read stream holds a connection), then
        the engine."""
        for stream in list(self._streams):
            stream.close()
        self._db.dispose()

    # -- articles ---------------------------------------------------------------------------

    def articles(
        self,
        *,
        limit: int | None = None,
        order: Order | None = None,
        **filters: Unpack[FilterArgs],
    ) -> Iterator[Article] | Iterator[SearchHit]:
        """Matching articles, streamed: `Article` values, or `SearchHit` values when ``q`` is set.

        ``order``: ``"published"`` (newest first; the default without ``q``), ``"rank"`` (best
        match first; the default with ``q``) or ``"site"`` (site, then oldest first: the export
        order). Ties are broken by ``url_hash`` (equal ranks, on SQLite: by the order in which
        the articles were indexed), so the order is deterministic. On SQLite, the first page
        (a ``limit``) of a query matching more than `storage.search.RANK_WINDOW` articles ranks
        the most recently indexed ones of them (see docs/search.md).
        """
        chosen = Filters.build(**filters)
        rows = self.rows(chosen, FIELDS, order=order, limit=limit)
        if chosen.q is None:
            return (_to_article(row._mapping) for row in rows)
        return self._hits(rows, chosen.q)

    def _hits(self, rows: Iterator[Row[Any]], q: str) -> Iterator[SearchHit]:
        for row in rows:
            yield search_hit(_to_article(row._mapping), float(row._mapping["rank"]), q)

    def table(
        self,
        *,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        order: Order | None = None,
        **filters: Unpack[FilterArgs],
    ) -> pa.Table:
        """The matching articles as a pyarrow Table with the Parquet schema (or ``fields``).

        Holds the whole result in memory: for large selections use `storage.export.export`.
        """
        import pyarrow as pa

        chosen = check_fields(fields)
        batches = list(self.batches(Filters.build(**filters), chosen, order=order, limit=limit))
        return pa.Table.from_batches(batches, schema=arrow_schema(chosen))

    def batches(
        self,
        filters: Filters,
        fields: Sequence[str],
        *,
        order: Order | None = None,
        limit: int | None = None,
        size: int = BATCH_SIZE,
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``size`` rows: the bounded unit of every export."""
        import pyarrow as pa

        schema = arrow_schema(fields)
        width = len(fields)
        # On SQLite, datetimes and JSON lists come as the stored text and are converted a column
        # at a time below (SQLAlchemy's per-value conversion was most of an export's CPU).
        text = self.dialect == "sqlite"
        times = [i for i, t in enumerate(schema.types) if pa.types.is_timestamp(t)]
        lists = [i for i, t in enumerate(schema.types) if pa.types.is_list(t)]

        def batch(chunk: Sequence[Sequence[Any]]) -> pa.RecordBatch:
            # Column by column: several times faster than converting a dict per row. (Rows may
            # carry rank and tie after the fields: only the first `width` columns are kept.)
            columns: list[Any] = list(zip(*chunk, strict=True))[:width]
            for i in lists:
                if text:
                    columns[i] = [
                        [] if v is None or v == "[]" else _json_list(v) for v in columns[i]
                    ]
                else:
                    columns[i] = [v or [] for v in columns[i]]
            if text:
                for i in times:  # naive UTC "2020-10-03 13:26:54.000000"
                    naive = pa.array(columns[i], pa.string()).cast(pa.timestamp("us"))
                    columns[i] = naive.cast(schema.types[i])
            return pa.RecordBatch.from_arrays(
                [pa.array(c, type=t) for c, t in zip(columns, schema.types, strict=True)],
                schema=schema,
            )

        order = self._check(filters, order, limit)
        limit = _no_larger_than_sql(limit)
        if text and not (order == "rank" and limit is not None):
            # Straight from the DBAPI cursor: the stored-text columns need no conversion, so
            # SQLAlchemy's row objects would only cost time (a fifth of an export's CPU).
            stmt = self._ordered(self._select(filters, fields, stored_text=True), order, limit)
            chunks = self._tuples_of(stmt, size)
            self._streams.add(chunks)
            for chunk in chunks:
                yield batch(chunk)
            return
        rows: list[Sequence[Any]] = []
        for row in self.rows(filters, fields, order=order, limit=limit, stored_text=text):
            rows.append(row)
            if len(rows) >= size:
                yield batch(rows)
                rows = []
        if rows:
            yield batch(rows)

    def count(self, filters: Filters) -> int:
        """How many articles match (the total of an export's progress bar)."""
        stmt = self._select(filters, ["url_hash"], ranked=False)
        with self._db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())

    def rows(
        self,
        filters: Filters,
        fields: Sequence[str],
        *,
        order: Order | None = None,
        limit: int | None = None,
        stored_text: bool = False,
    ) -> Iterator[Row[Any]]:
        """SQL rows of ``fields`` (plus ``rank`` with ``q``), streamed in the given order.

        ``stored_text``: datetime and JSON columns as the database stores them, unconverted
        (`batches` converts them a column at a time)."""
        order = self._check(filters, order, limit)
        limit = _no_larger_than_sql(limit)
        # Building the statement raises on a bad q.
        stmt = self._ordered(self._select(filters, fields, stored_text=stored_text), order, limit)
        if order == "rank" and limit is not None and self.dialect == "sqlite":
            stream = self._first_page(filters, fields, limit, stmt, stored_text)
        else:
            stream = self._rows_of(stmt)
        self._streams.add(stream)
        return stream

    @staticmethod
    def _check(filters: Filters, order: Order | None, limit: int | None) -> Order:
        """The order to use (the default for the filters), or `QueryError`."""
        if order is None:
            order = "rank" if filters.q is not None else "published"
        if order not in _ORDERS:
            raise QueryError(f"unknown order {order!r}; one of {', '.join(_ORDERS)}")
        if order == "rank" and filters.q is None:
            raise QueryError("order 'rank' needs a search query (q)")
        if limit is not None and limit < 0:
            raise QueryError(f"limit must be >= 0, got {limit}")
        return order

    def _ordered(self, stmt: Select[Any], order: Order, limit: int | None) -> Select[Any]:
        a = _ARTICLES.c
        if order == "published":
            stmt = stmt.order_by(a.published_at.desc().nulls_last(), a.url_hash)
        elif order == "site":
            stmt = stmt.order_by(a.site, a.published_at.asc().nulls_last(), a.url_hash)
        else:
            stmt = stmt.order_by("rank", "tie")
        if limit is not None:
            stmt = stmt.limit(limit)
        return stmt

    def _first_page(
        self,
        filters: Filters,
        fields: Sequence[str],
        limit: int,
        every: Select[Any],
        stored_text: bool,
    ) -> Generator[Row[Any]]:
        """The best ``limit`` hits, ranking the `search.RANK_WINDOW` newest matches of a broad
        query first; when fewer than ``limit`` of those pass the other filters, ``every`` (the
        query ranking every match)."""
        from storage import search

        with self._db.engine.connect() as conn:
            since = search.window_start(conn, filters.q or "", search.RANK_WINDOW)
        alone = filters.only_q()
        if since is None and not alone:
            yield from self._rows_of(every)
            return
        # The best `limit` are picked inside the index when nothing else filters.
        bounded = self._select(
            filters, fields, since, top=limit if alone else None, stored_text=stored_text
        )
        page = list(self._rows_of(self._ordered(bounded, "rank", limit)))
        if len(page) == limit or since is None:
            yield from page
            return
        yield from self._rows_of(every)

    def _rows_of(self, stmt: Select[Any]) -> Generator[Row[Any]]:
        with self._db.engine.connect() as conn:
            result = conn.execution_options(yield_per=BATCH_SIZE).execute(stmt)
            try:
                yield from result
            finally:
                result.close()  # a server-side cursor must close before its connection

    def _tuples_of(self, stmt: Select[Any], size: int) -> Generator[Sequence[Any]]:
        """Lists of up to ``size`` rows as the DBAPI cursor returns them: no conversion."""
        with self._db.engine.connect() as conn:
            result = conn.execute(stmt)
            try:
                while chunk := result.cursor.fetchmany(size):
                    yield chunk
            finally:
                result.close()

    def _check_search_index(self) -> None:
        """A reader cannot build the index (`Database.create_schema` does, on every crawl):
        an archive whose index is not complete is an error that says how to complete it."""
        if not self._indexed:
            from storage import search

            with self._db.engine.connect() as conn:
                problem = search.index_problem(conn)
            if problem is not None:
                raise ArchiveError(
                    f"the full-text index of {self.name} is {problem}, and reading never "
                    "writes: the next `zhengwen crawl` or `zhengwen reextract` into the archive "
                    "brings it up to date (from Python: storage.db.Database(URL).create_schema())"
                )
            self._indexed = True

    def _select(
        self,
        filters: Filters,
        fields: Sequence[str],
        since_id: int | None = None,
        *,
        top: int | None = None,
        stored_text: bool = False,
        ranked: bool = True,
    ) -> Select[Any]:
        """SELECT ``fields`` of what ``filters`` select, with ``rank`` and ``tie`` for a search
        (``ranked=False``: without them, for counting)."""
        a = _ARTICLES.c
        # A column an older archive lacks reads as a typed NULL (readers never migrate).
        present = {c.name for c in self._db.article_columns() if isinstance(c, Column)}
        columns: list[Any] = [
            a[f] if f in present else cast(null(), a[f].type).label(f) for f in fields
        ]
        if stored_text:
            columns = [
                type_coerce(c, Text).label(c.name) if c.name in _CONVERTED else c for c in columns
            ]
        if filters.q is None:
            stmt = select(*columns)
        else:
            from storage import search

            self._check_search_index()
            matches = search.matching(
                filters.q, self.dialect, since_id=since_id, top=top, ranked=ranked
            ).subquery("matches")
            if ranked:
                stmt = select(*columns, matches.c.rank, matches.c.tie).join_from(
                    _ARTICLES, matches, matches.c.url_hash == a.url_hash
                )
            else:  # counted: the matches drive (each article looked up once)
                stmt = select(*columns).select_from(
                    search.PinnedJoin(matches, _ARTICLES, matches.c.url_hash == a.url_hash)
                )
        for name in ("site", "source", "author", "category"):
            value = getattr(filters, name)
            if value is not None:
                stmt = stmt.where(a[name] == value)
        if filters.start is not None:
            stmt = stmt.where(a.published_at >= filters.start)
        if filters.end is not None:
            stmt = stmt.where(a.published_at < filters.end)
        if filters.exclude_duplicates:
            stmt = stmt.where(a.duplicate_of.is_(None))
        return stmt

    # -- single records ---------------------------------------------------------------------

    def article(self, url: str) -> Article | None:
        """The current version of the article a URL names (as in exports), or None: its
        stored URL, or a variant of it (`storage.db.Database.find_url`: ``#top``, ``HTTP://``,
        spaces around it, the default port, the path percent-encoded or not)."""
        found = self._db.find_url(url)
        return None if found is None else self._db.get_article(found)

    def sites(self) -> list[SiteSummary]:
        """Per site: article count, first/last publication time, the latest crawl run."""
        return [SiteSummary(**row) for row in self._db.site_stats()]

    def runs(self, site: str | None = None, limit: int | None = None) -> list[RunInfo]:
        """Crawl runs, most recent first (all of them unless ``limit``)."""
        return self._db.runs(site, limit=_no_larger_than_sql(limit) or MAX_SQL_LIMIT)


#: The largest LIMIT both databases take (a signed 64-bit integer); no archive holds more rows.
MAX_SQL_LIMIT: Final = 2**63 - 1


def search_hit(
    article: Article, rank: float, q: str, *, mark: tuple[str, str] = ("【", "】")
) -> SearchHit:
    """The hit of ``article`` for ``q``: a snippet of its body around the match (of its title
    when the body does not hold it), each matched term between ``mark``."""
    from storage.search import snippet

    text = snippet(article.body, q, mark=mark)
    if mark[0] not in text and article.title:  # the match is in the title only
        text = snippet(article.title, q, mark=mark)
    return SearchHit(article, rank, text)


def _no_larger_than_sql(limit: int | None) -> int | None:
    """``limit``, or None (no limit) for one beyond any count that SQL cannot even take
    (``--limit 99999999999999999999`` means "all of them")."""
    return None if limit is None or limit > MAX_SQL_LIMIT else limit


def _json_list(stored: str) -> list[str]:
    """A stored JSON list column (``tags``, ``images``) that is not ``[]``; JSON null is empty.
    (The caller tests NULL and ``[]``, nearly every value, without a call.)"""
    value = json.loads(stored)
    return [] if value is None else list(value)


def open_read_only(path_or_url: str | os.PathLike[str]) -> tuple[Database, str]:
    """The archive's SQL database opened read-only (`Database` ``read_only``), and its name for
    messages; `ArchiveError` when there is none to read. Creates, migrates and writes nothing:
    the way in for every reader (`Archive`, ``zhengwen stats``, ``runs``, ``history``), unlike
    `storage.db.open_database`, the writers' one-liner that creates the schema."""
    url, name = _resolve(path_or_url)
    db = None
    try:
        db = Database(url, read_only=True)
        tables = inspect(db.engine).get_table_names()
    except (SQLAlchemyError, ImportError, ArgumentError, ValueError) as exc:
        if db is not None:
            db.dispose()
        line = store_error_line(exc, sqlite_path(url))
        raise ArchiveError(f"cannot open the database {name}: {line}") from None
    if _ARTICLES.name not in tables:
        db.dispose()
        raise ArchiveError(f"{name} holds no zhengwen archive (no articles table)")
    return db, name


def _resolve(path_or_url: str | os.PathLike[str]) -> tuple[str, str]:
    """(database URL, name for messages) without creating anything."""
    raw = os.fspath(path_or_url)
    if "://" in raw:
        problem = db_url_problem(raw)
        if problem is not None:
            raise ArchiveError(problem)
        parsed = make_url(raw)
        if parsed.get_backend_name() == "sqlite":
            # SQLite creates a missing file on connect: refuse before that can happen.
            db_file = parsed.database
            if not db_file or db_file == ":memory:" or not Path(db_file).is_file():
                raise ArchiveError(f"no archive database at {redact_url(raw)}")
        return raw, redact_url(raw)
    path = Path(raw)
    if path.is_file():
        return f"sqlite:///{path.absolute()}", str(path)
    paths = ArchivePaths(path)
    if not path.is_dir():
        raise ArchiveError(f"no archive at {path} (no such folder)")
    if not paths.sqlite_path.is_file():
        raise ArchiveError(
            f"no archive at {path} (no {paths.sqlite_path.name}); "
            "run `zhengwen crawl` or `zhengwen demo` first"
        )
    return paths.default_db_url, str(path)


# -- read-only SQL over the Parquet dataset ------------------------------------------------------


class SqlError(ValueError):
    """A query `read_only_sql` refuses (not one SELECT) or that DuckDB rejects."""


class SqlBudgetError(SqlError):
    """A query stopped because it ran out of its time or memory budget."""


#: Seconds a `read_only_sql` query may run (results included) unless told otherwise.
DEFAULT_SQL_TIMEOUT: Final = 60.0
#: DuckDB's memory_limit for a `read_only_sql` query unless told otherwise.
DEFAULT_SQL_MEMORY: Final = "1GB"
_MEMORY_SIZE: Final = re.compile(r"^\d+(\.\d+)?\s*(B|[KMGT]i?B)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SqlResult:
    columns: list[str]
    rows: Iterator[tuple[Any, ...]]


def read_only_sql(
    parquet_dir: Path,
    query: str,
    *,
    timeout: float | None = DEFAULT_SQL_TIMEOUT,
    memory_limit: str = DEFAULT_SQL_MEMORY,
) -> SqlResult:
    """Run one SELECT in DuckDB over the Parquet dataset, as the ``articles`` view.

    Two locks, so that a query cannot write or read anything else: the statement must parse as
    exactly one SELECT (``WITH``, ``FROM x``, ``DESCRIBE``, ``SUMMARIZE`` are SELECTs to
    DuckDB), and the connection has no file-system access at all (``enable_external_access``
    off, configuration locked, no extension autoloading) because the dataset is handed to DuckDB
    as a pyarrow dataset rather than as paths. ``articles`` has one row per stored version
    (usually one per URL) plus the ``site`` and ``date`` partition columns.

    And a budget, because a read-only query can still run forever (``WITH RECURSIVE`` without
    an end) or take all memory: after ``timeout`` seconds (None: no limit), counted until the
    last row is read, a timer interrupts the query (DuckDB's ``interrupt``); DuckDB's
    ``memory_limit`` bounds its memory, with spilling to disk switched off (it would write
    temporary files). Either raises `SqlBudgetError`.
    """
    import duckdb

    from storage.parquet import ParquetDataset

    if not _MEMORY_SIZE.match(memory_limit.strip()):
        raise SqlError(f"bad memory limit {memory_limit!r}: a size such as 500MB, 1GB or 2GiB")
    if timeout is not None and not timeout > 0:
        raise SqlError(f"bad timeout {timeout!r}: a number of seconds above 0")
    if timeout is not None and timeout > threading.TIMEOUT_MAX:
        timeout = None  # longer than a timer can wait: no limit, as asked
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
    )
    budget = _Budget(con, timeout, memory_limit.strip())
    try:
        dataset = ParquetDataset(parquet_dir)
        source = dataset._dataset() if dataset.root.is_dir() else dataset.read_table()
        con.register("articles", source)
        try:
            con.execute(f"SET memory_limit = '{budget.memory}'")
        except duckdb.Error as exc:
            raise SqlError(f"bad memory limit {memory_limit!r}: {first_line(exc)}") from None
        con.execute("SET temp_directory = ''")  # no spilling: nothing written, a hard limit
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            raise SqlError(first_line(exc)) from None
        if len(statements) != 1:
            raise SqlError(f"give exactly one SELECT statement (got {len(statements)})")
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise SqlError(
                f"only a read-only SELECT query is allowed, not {kind.name} "
                "(zhengwen sql never writes; use `zhengwen export` to write files)"
            )
        budget.start()
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise budget.error(exc) from None
        columns = [d[0] for d in cursor.description or []]
    except BaseException:
        budget.stop()
        con.close()
        raise
    return SqlResult(columns, _fetch(con, cursor, budget))


class _Budget:
    """The time and memory budget of one `read_only_sql` query: the timer that interrupts it,
    and the error that says which budget it ran out of."""

    def __init__(self, con: Any, timeout: float | None, memory: str) -> None:
        self.con, self.timeout, self.memory = con, timeout, memory
        self.timer: threading.Timer | None = None
        self.expired = False

    def start(self) -> None:
        if self.timeout is None:
            return
        self.timer = threading.Timer(self.timeout, self._interrupt)
        self.timer.daemon = True  # never keeps the process alive after the query is gone
        self.timer.start()

    def _interrupt(self) -> None:
        self.expired = True
        try:
            self.con.interrupt()
        except Exception:  # the connection closed meanwhile: nothing left to stop
            pass

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def error(self, exc: Exception) -> SqlError:
        import duckdb

        if isinstance(exc, duckdb.InterruptException) and self.expired:
            return SqlBudgetError(
                f"the query ran out of its time budget of {self.timeout:g} s and was stopped; "
                "add a LIMIT or a WHERE, or give it more time with --timeout SECONDS"
            )
        if isinstance(exc, duckdb.OutOfMemoryException):
            return SqlBudgetError(
                f"the query ran out of its memory budget of {self.memory} and was stopped "
                f"({first_line(exc)}); add a LIMIT or a WHERE, or give it more memory with "
                "--memory-limit SIZE"
            )
        return SqlError(first_line(exc))


def _fetch(con: Any, cursor: Any, budget: _Budget) -> Iterator[tuple[Any, ...]]:
    import duckdb

    try:
        while True:
            try:
                chunk = cursor.fetchmany(BATCH_SIZE)
            except duckdb.Error as exc:
                raise budget.error(exc) from None
            if not chunk:
                return
            yield from chunk
    finally:
        budget.stop()
        con.close()
