"""What a reader browsing the archive asks beyond `storage.query.Archive`: facet counts of a
search, an article's versions, its copies and its raw capture, a site's articles per day, one
run. The web interface (``web/``) is built on this and nothing else; every call is a read.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Date, Select, String, cast, func, select

from storage.article import Article
from storage.db import ArticleVersion, RunInfo, _to_article
from storage.models import Base
from storage.query import Archive, Filters, SiteSummary, search_hit

_ARTICLES: Final = Base.metadata.tables["articles"]
_RUNS: Final = Base.metadata.tables["crawl_runs"]

#: Facet values shown per facet (the largest counts).
FACET_LIMIT: Final = 24
#: Matches counted: a selection of this many or more is "at least" this many, with facet
#: counts of its first this many matches (`ArchiveBrowser.tally`).
COUNT_CAP: Final = 10_000


@dataclass(frozen=True, slots=True)
class Tally:
    """How many articles a selection holds and its counts per site and per publication month
    (UTC), largest first for sites, newest first for months; ``undated`` counts articles
    without a date. ``capped``: the count stopped at the cap, ``total`` or more match, and the
    counts are those of the first ``total`` matches the database yields (a sample)."""

    total: int
    capped: bool
    sites: list[tuple[str, int]]
    months: list[tuple[str, int]]
    undated: int

    def pages(self, size: int) -> int:
        return max(1, -(-self.total // size))


@dataclass(frozen=True, slots=True)
class Capture:
    """Where the raw response of a page lies in the archive's WARC files."""

    url: str
    file: Path
    offset: int
    warc_date: str
    status: int


#: Seconds (by default) the per-site summary and a selection's tally are reused while no run
#: starts or ends: the summary counts every article (a scan of the whole table on a large archive), a
#: tally up to 10,000 matches, and each page of a search shows the same tally. A crawl adds
#: articles at most every few seconds anyway.
REUSE_TTL: Final = 30.0
#: Tallies and rankings kept (the most recently used).
TALLIES_KEPT: Final = 256
#: Ids ranked at once (`ArchiveBrowser.ranking`): the first five pages of 20. Search engines
#: keep such a window of each query's ordered ids (Solr's queryResultWindowSize), since a
#: reader who opens page 1 often opens the next ones.
RANKED_AT_ONCE: Final = 100


class _Recent:
    """Values reused for ``ttl`` seconds while the archive's runs state (`ArchiveBrowser.
    _runs_state`) is the one they were computed in; the least recently used go beyond `size`.
    Computed outside the lock: a slow value does not hold up the others."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._values: OrderedDict[Any, tuple[float, tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any, state: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._values.get(key)
            if found is not None and time.monotonic() - found[0] < self.ttl and found[1] == state:
                self._values.move_to_end(key)
                self.hits += 1
                return found[2]
            self.misses += 1
        value = compute()
        with self._lock:
            self._values[key] = (time.monotonic(), state, value)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


class ArchiveBrowser(Archive):
    """`Archive` plus the reads of a browsing reader (read-only, like its base)."""

    def __init__(
        self, path_or_url: Any, *, count_cap: int = COUNT_CAP, reuse_seconds: float = REUSE_TTL
    ) -> None:
        super().__init__(path_or_url)
        self.count_cap = count_cap
        self._sites = _Recent(1, reuse_seconds)
        self._tallies = _Recent(TALLIES_KEPT, reuse_seconds)
        self._rankings = _Recent(TALLIES_KEPT, reuse_seconds)
        self._view = threading.local()  # `one_view`

    def sites(self) -> list[SiteSummary]:
        """`Archive.sites`, reused for up to ``reuse_seconds`` while no run started or ended
        (the front page and every site page read it)."""
        return list(self._sites.get(None, self._runs_state(), super().sites))

    @contextmanager
    def one_view(self) -> Iterator[None]:
        """Within this block (one web request, in one thread) the runs state is read once:
        the figures reused between requests are checked against the same state."""
        self._view.state = None
        self._view.active = True
        try:
            yield
        finally:
            self._view.active = False
            self._view.state = None

    def _runs_state(self) -> tuple[Any, ...]:
        """What changes when a run starts or ends (``crawl_runs`` is small: no scan of the
        articles): a summary cached before a crawl's end is not reused after it."""
        view = self._view
        if getattr(view, "active", False) and view.state is not None:
            return view.state  # type: ignore[no-any-return]
        r = _RUNS.c
        stmt = select(func.count(), func.max(r.started_at), func.max(r.finished_at))
        with self._db.engine.connect() as conn:
            state = tuple(conn.execute(stmt).one())
        if getattr(view, "active", False):
            view.state = state
        return state

    def page(
        self, filters: Filters, *, page: int, size: int, order: str | None = None
    ) -> list[Any]:
        """Page ``page`` (from 1) of the selection: `SearchHit` values with ``q``, else `Article`
        values.

        The order is taken from a ranking of the selection's ids (`ranking`), reused while
        the reader pages through it; the articles themselves are read afresh."""
        want = page * size
        order = order or ("rank" if filters.q else "published")
        chosen = self.ranking(filters, order, want)[want - size : want]
        found = self._by_hash([h for h, _ in chosen])
        articles = [(found[h], rank) for h, rank in chosen if h in found]  # none deleted since
        if filters.q is None:
            return [a for a, _ in articles]
        return [search_hit(a, float(r or 0.0), filters.q, mark=MARKS) for a, r in articles]

    def ranking(self, filters: Filters, order: str, want: int) -> list[tuple[str, float | None]]:
        """The ids (url hashes) of the first ``want`` articles of the selection in ``order``,
        with their rank for a search: `RANKED_AT_ONCE` at a time (the ids alone, no text) and
        reused for up to ``reuse_seconds`` while no run starts or ends, so that the next
        pages of a search cost a read of their own rows only."""
        depth = -(-want // RANKED_AT_ONCE) * RANKED_AT_ONCE

        def rank() -> list[tuple[str, float | None]]:
            rows = self.rows(filters, ["url_hash"], order=order, limit=depth)  # type: ignore[arg-type]
            if filters.q is None:
                return [(str(r.url_hash), None) for r in rows]
            return [(str(r.url_hash), float(r._mapping["rank"])) for r in rows]

        ranked: list[tuple[str, float | None]] = self._rankings.get(
            (filters, order, depth), self._runs_state(), rank
        )
        return ranked[:want]

    def _by_hash(self, hashes: Sequence[str]) -> dict[str, Article]:
        if not hashes:
            return {}
        stmt = select(*self._db.article_columns()).where(_ARTICLES.c.url_hash.in_(hashes))
        with self._db.engine.connect() as conn:
            return {r.url_hash: _to_article(r._mapping) for r in conn.execute(stmt)}

    def tally(self, filters: Filters) -> Tally:
        """`count_tally`, reused for up to ``reuse_seconds`` while no run started or ended:
        each page of a search, and each reader of a shared search URL, shows the same one."""
        return self._tallies.get(  # type: ignore[no-any-return]
            filters, self._runs_state(), lambda: self.count_tally(filters)
        )

    def tally_statement(self, filters: Filters) -> Select[Any]:
        """`count_tally`'s GROUP BY (site, month, count) over at most ``count_cap`` matches."""
        chosen = self._select(filters, ["site", "published_at"], ranked=False)
        inner = chosen.limit(self.count_cap).subquery()
        month = _month(inner.c.published_at, self.dialect).label("month")
        stmt = select(inner.c.site, month, func.count()).group_by(inner.c.site, month)
        return stmt

    def count_tally(self, filters: Filters) -> Tally:
        """The count and the per site and per month counts of what ``filters`` select (a site
        or month filter of the caller narrows them too), in one GROUP BY over at most
        ``count_cap`` matches, unranked, read from the cover index where the archive has it.

        A common word matches a large part of a big archive: an exact count and exact facets
        cost a pass over all its matches (seconds on a million articles), and a reader needs to
        know "at least 10,000" and where most of them lie, not the exact figures."""
        stmt = self.tally_statement(filters)
        with self._db.engine.connect() as conn:
            groups = [(str(s), m, int(n)) for s, m, n in conn.execute(stmt)]
        seen = sum(n for _, _, n in groups)
        sites: dict[str, int] = {}
        months: dict[str, int] = {}
        undated = 0
        for site, m, n in groups:
            sites[site] = sites.get(site, 0) + n
            if m is None:
                undated += n
            else:
                months[str(m)[:7]] = months.get(str(m)[:7], 0) + n
        return Tally(
            total=seen,
            capped=seen >= self.count_cap,  # exactly as many is read as more
            sites=sorted(sites.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_LIMIT],
            months=sorted(months.items(), reverse=True),
            undated=undated,
        )

    def article_by_id(self, url_hash: str) -> Article | None:
        """The current version of the article whose URL hash (its id in links) is given."""
        stmt = select(*self._db.article_columns()).where(_ARTICLES.c.url_hash == url_hash)
        with self._db.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _to_article(row._mapping)

    def versions(self, url: str) -> list[ArticleVersion]:
        """Every stored version of the article, oldest first."""
        return self._db.versions(url)

    def removed_at(self, article: Article) -> datetime | None:
        """When the page was first found gone from its site (404/410 on a re-check)."""
        state = self._db.fetch_state(article.fetched_url or article.url)
        return None if state is None else state.get("gone_at")

    def copies(self, article: Article, limit: int = 50) -> list[Article]:
        """Articles stored as copies of this one (``duplicate_of`` is its URL hash)."""
        a = _ARTICLES.c
        stmt = (
            select(*self._db.article_columns())
            .where(a.duplicate_of == article.url_hash)
            .order_by(a.published_at.asc().nulls_last(), a.url_hash)
            .limit(limit)
        )
        with self._db.engine.connect() as conn:
            return [_to_article(r._mapping) for r in conn.execute(stmt)]

    def run(self, run_id: str) -> RunInfo | None:
        return self._db.run(run_id)

    def per_day(
        self, site: str, days: int = 90, today: date | None = None
    ) -> list[tuple[date, int]]:
        """Articles published per UTC day over the last ``days`` days up to the site's latest
        article (or ``today``), zeros included, oldest first."""
        a = _ARTICLES.c
        with self._db.engine.connect() as conn:
            last = conn.execute(select(func.max(a.published_at)).where(a.site == site)).scalar()
        if last is None:
            return []
        if isinstance(last, str):  # SQLite may hand the stored text back
            last = datetime.fromisoformat(last)
        end = today or last.astimezone(UTC).date()
        start = end - timedelta(days=days - 1)
        day = _day(a.published_at, self.dialect)
        stmt = (
            select(day.label("day"), func.count())
            .where(a.site == site)
            .where(a.published_at >= datetime(start.year, start.month, start.day, tzinfo=UTC))
            .where(
                a.published_at
                < datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
            )
            .group_by("day")
        )
        with self._db.engine.connect() as conn:
            counts = {str(d)[:10]: int(n) for d, n in conn.execute(stmt)}
        return [
            (start + timedelta(days=i), counts.get((start + timedelta(days=i)).isoformat(), 0))
            for i in range(days)
        ]

    def capture(self, article: Article, raw_dir: Path | None) -> Capture | None:
        """The raw capture of the article's page in ``raw_dir``'s WARC files (the index the
        crawler keeps, opened read-only), or None when there is none."""
        if raw_dir is None:
            return None
        from storage.raw import INDEX_NAME

        index = raw_dir / INDEX_NAME
        if not index.is_file():
            return None
        conn = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            for url in dict.fromkeys([article.fetched_url, article.url]):
                if not url:
                    continue
                row = conn.execute(
                    "SELECT file, offset, warc_date, status FROM raw_latest WHERE url = ?", (url,)
                ).fetchone()
                if row is not None:
                    file = (raw_dir / row[0]).resolve()
                    if raw_dir.resolve() not in file.parents or not file.is_file():
                        return None  # an index row pointing outside the archive is not served
                    return Capture(url, file, int(row[1]), str(row[2]), int(row[3]))
        except sqlite3.Error:
            return None
        finally:
            conn.close()
        return None


#: Snippet marks that no stored text holds (control characters), turned into HTML by the web
#: layer after escaping: 【】, the default marks, are common in Chinese text itself.
MARKS: Final = ("\x02", "\x03")


def _month(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.substr(cast(column, String), 1, 7)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")


def _day(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.substr(cast(column, String), 1, 10)
    return cast(func.timezone("UTC", column), Date)
