"""Full-text search over the archive that works for Chinese, on SQLite (FTS5) and PostgreSQL.

Neither database segments Chinese words, so we tokenize in Python and give both the same
space-separated token string (`tokens`):

- text is NFKC-normalised and case-folded first, so ``ＡＢＣ１２３`` and ``abc123`` are one word;
- a run of Latin letters or digits (any script without the CJK ones) is one token;
- a run of CJK characters (Han, kana, hangul) becomes its overlapping character bigrams followed
  by its last character alone: ``驻点招商`` -> ``驻点 点招 招商 商``. Bigrams need no dictionary
  and match any word of two or more characters as a phrase; the trailing unigram makes every
  character findable, whether it starts a bigram or ends a run.

A query is read the same way: each whitespace-separated term (or ``"quoted phrase"``) is a
phrase of its tokens, and all terms must match. A run's trailing unigram is kept in a query only
where something follows it in the phrase, and then as a prefix (``商*`` matches ``商`` at a run's
end and ``商工`` inside one); a single CJK character is such a prefix too. So ``驻点招商`` finds
exactly that sequence, ``驻点 招商`` finds both words anywhere, ``商`` finds every 商.

SQLite: an FTS5 table with the ``ascii`` tokenizer, which splits our token string on spaces
only and leaves every non-ASCII character alone (unicode61 would apply its Unicode 6.1 tables
to CJK characters added since). Its rowids come from ``article_search_keys`` because the rowids
of ``articles`` (a TEXT primary key) may change on VACUUM. PostgreSQL: a ``tsvector`` per
article (title weight A, body weight B) under a GIN index. Both are written in the transaction
of the article upsert (`index_articles`), so the index never disagrees with a committed row.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from operator import add
from typing import Any, Final, Literal, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnClause
from sqlalchemy.sql.selectable import Join


class SearchQueryError(ValueError):
    """A query with nothing to search for (empty, only punctuation or operators)."""


TOKENS_VERSION: Final = "1"
"""Bumped whenever `tokens` changes: `ensure_index` then rebuilds the index of an archive."""

TITLE_WEIGHT: Final = 5.0
"""bm25 weight of the title column against 1.0 for the body: a title names the subject."""

MAX_TOKEN: Final = 128
"""Longer "words" (base64, long digit strings) are not indexed: nobody searches for them, and
PostgreSQL refuses lexemes over 2 KB."""

MAX_TERMS: Final = 32
MAX_QUERY_CHARS: Final = 1000
"""The longest query (in characters) searched: a phrase becomes a chain of as many tokens as it
has characters, and PostgreSQL's parser gives up on a chain of some thousands ("stack depth
limit exceeded"). A thousand characters is several paragraphs of Chinese, and the same bound
holds on SQLite."""
RANK_WINDOW: Final = 10_000
"""On SQLite, a first page (a query with a limit) of a query matching more articles than this
ranks the ``RANK_WINDOW`` most recently indexed matches, not all of them: ranking costs a few
microseconds per match, so a word found in a quarter of a million articles would take most of a
second (`Archive.rows` falls back to ranking every match when that window holds too few hits
that pass the other filters). Unlimited queries (exports) rank every match."""
_BATCH: Final = 1000
_CHUNK: Final = 500

# Han (with radicals, 々 〇 and the Suzhou numerals), hiragana, katakana (not the ・ middle dot)
# and hangul: the scripts written without spaces between words.
_CJK: Final = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3041-\u3096"
    "\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f"
)
_PIECE: Final = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
_QUERY_PART: Final = re.compile(r'"([^"]*)"?|([^\s"]+)')
_SEPARATOR: Final = re.compile(r"[\W_]")

Kind = Literal["word", "bigram", "tail", "single"]
"""A word; a CJK bigram; the last character of a CJK run of two or more; a lone CJK char."""


class _Piece(NamedTuple):  # a tuple: snippets make hundreds per hit
    token: str
    start: int
    end: int
    kind: Kind


def _normalize(text: str) -> str:
    """NFKC, then case folding: the form both the index and the queries are in.

    Equal to ``unicodedata.normalize("NFKC", text).casefold()``, several times faster on
    real text: CPython's NFKC decomposes and recomposes the whole string as soon as one
    character changes, and Chinese text always has some (full-width ，：（）, "…", no-break
    spaces). Each character that NFKC changes on its own is replaced by its normal form first;
    the result is normalised as a whole only when still needed (combining sequences).
    """
    changes, normal = _compatibility()
    text = changes.sub(lambda m: normal[m.group()], text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


@functools.cache
def _compatibility() -> tuple[re.Pattern[str], dict[str, str]]:
    """The characters of the BMP that NFKC changes on their own (about 3,700; found once, in
    0.1 s) and their normal forms. Replacing a character by its NFKC form leaves the string's
    NFKC unchanged (the same compatibility decomposition), so the replacement is exact; the
    others (mathematical letters, ...) are left to the whole-string normalisation."""
    normal: dict[str, str] = {}
    for code in range(0x10000):  # the BMP: its class compiles to a table; the rest is rare
        ch = chr(code)
        if unicodedata.decomposition(ch) and (to := unicodedata.normalize("NFKC", ch)) != ch:
            normal[ch] = to
    ranges: list[list[int]] = []
    for code in map(ord, normal):  # in order: a character class of ranges, matched fast
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    spans = "".join(
        re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges
    )
    return re.compile(f"[{spans}]"), normal


def _pieces(norm: str, begin: int = 0, end: int | None = None) -> Iterator[_Piece]:
    """The tokens of normalised text (of ``norm[begin:end]``) with their spans in ``norm``."""
    for m in _PIECE.finditer(norm, begin, len(norm) if end is None else end):
        run, start, stop = m.group(), m.start(), m.end()
        if m.group(1) is None:
            if len(run) <= MAX_TOKEN:
                yield _Piece(run, start, stop, "word")
            continue
        if len(run) == 1:
            yield _Piece(run, start, stop, "single")
            continue
        for i in range(len(run) - 1):
            yield _Piece(run[i : i + 2], start + i, start + i + 2, "bigram")
        yield _Piece(run[-1], stop - 1, stop, "tail")


def tokens(text: str) -> str:
    """The index's document text for a title or body: our tokens, space-separated.

    The same tokens as `_pieces` (a test checks it), without the spans: this runs on every
    article written, so it builds no object per token.
    """
    out: list[str] = []
    for m in _PIECE.finditer(_normalize(text)):
        run = m.group()
        if m.group(1) is None:
            if len(run) <= MAX_TOKEN:
                out.append(run)
            continue
        out.extend(map(add, run, run[1:]))
        out.append(run[-1])
    return " ".join(out)


# -- queries -------------------------------------------------------------------------------

Term = tuple[tuple[str, bool], ...]
"""One query term: a phrase of (token, is_prefix)."""


def _term(text: str, prefix: bool) -> Term:
    pieces = list(_pieces(_normalize(text)))
    out: list[tuple[str, bool]] = []
    for i, p in enumerate(pieces):
        last = i == len(pieces) - 1
        if p.kind == "tail":
            if not last:  # something follows: the run's end may be 商 or 商X in the text
                out.append((p.token, True))
        elif p.kind == "single":
            out.append((p.token, True))
        else:
            out.append((p.token, prefix and last and p.kind == "word"))
    return tuple(out)


def query_length_problem(q: str) -> str | None:
    """Why ``q`` is too long to search (`MAX_QUERY_CHARS`), or None."""
    if len(q) <= MAX_QUERY_CHARS:
        return None
    return (
        f"search query too long: {len(q)} characters, at most {MAX_QUERY_CHARS} characters "
        "are searched"
    )


def parse_query(q: str) -> list[Term]:
    """The terms of a query (all must match); raises `SearchQueryError` when there are none or
    the query is longer than `MAX_QUERY_CHARS`."""
    problem = query_length_problem(q)
    if problem is not None:
        raise SearchQueryError(problem)
    terms: list[Term] = []
    for m in _QUERY_PART.finditer(q):
        quoted, bare = m.group(1), m.group(2)
        if quoted is not None:
            term = _term(quoted, False)
        else:
            term = _term(bare.rstrip("*"), bare.endswith("*"))
        if term and term not in terms:
            terms.append(term)
    if not terms:
        raise SearchQueryError(f"nothing to search for in {q!r}: give a word or some characters")
    if len(terms) > MAX_TERMS:
        raise SearchQueryError(f"too many search terms ({len(terms)}; at most {MAX_TERMS})")
    return terms


def _fts5_expression(terms: Sequence[Term]) -> str:
    def string(token: str, prefix: bool) -> str:
        quoted = '"' + token.replace('"', '""') + '"'
        return quoted + " *" if prefix else quoted

    return " AND ".join(" + ".join(string(t, p) for t, p in term) for term in terms)


def _tsquery(terms: Sequence[Term]) -> str:
    def operand(token: str, prefix: bool) -> str:
        quoted = "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + ":*" if prefix else quoted

    return " & ".join("(" + " <-> ".join(operand(t, p) for t, p in term) + ")" for term in terms)


_FTS: Final = table("article_search", column("rowid", Integer))
_FTS_ME: Final[ColumnClause[Any]] = literal_column("article_search")


def _fts_match(terms: Sequence[Term]) -> Any:
    """``article_search MATCH '<terms>'``: the FTS5 condition of a query's terms."""
    return _FTS_ME.op("MATCH")(literal(_fts5_expression(terms), String))


def matching(
    q: str,
    dialect: str,
    *,
    since_id: int | None = None,
    top: int | None = None,
    ranked: bool = True,
) -> Select[Any]:
    """SELECT ``url_hash``, ``rank`` (lower = better) and ``tie`` of the articles matching `q`.

    An index lookup on either database. Callers join it to ``articles`` on ``url_hash``, add
    their filters, ORDER BY rank, tie and LIMIT. ``tie`` breaks equal ranks (exact copies rank
    alike): the index row id on SQLite (earliest indexed first), ``url_hash`` on PostgreSQL.

    SQLite only: ``since_id`` (from `window_start`) keeps the matches indexed from that index
    row on (FTS5 reads only that part of each document list, so only those are ranked); ``top``
    keeps the best ``top`` in (rank, tie) order before anything is joined, for a query with no
    other filter (each join costs more than ranking the match).

    ``ranked=False``: ``url_hash`` alone, for counting matches (no rank computed: on SQLite
    bm25 reads each match's column sizes and phrase positions).
    """
    terms = parse_query(q)
    if dialect == "sqlite":
        keys = table("article_search_keys", column("id", Integer), column("url_hash", String))
        if not ranked:
            # The matches drive the join (read in index order, each looked up by row id), so
            # that a LIMIT stops the reading: ``keys.id IN (matches)`` would first collect every
            # match, all 300,000 of a common word.
            ids = select(_FTS.c.rowid.label("id")).where(_fts_match(terms))
            if since_id is not None:
                ids = ids.where(_FTS.c.rowid >= since_id)
            found = ids.subquery("hits")
            return select(keys.c.url_hash.label("url_hash")).select_from(
                PinnedJoin(found, keys, keys.c.id == found.c.id)
            )
        bm25 = func.bm25(_FTS_ME, TITLE_WEIGHT, 1.0, type_=Float).label("rank")
        hits = select(_FTS.c.rowid.label("id"), bm25).where(_fts_match(terms))
        if since_id is not None:
            hits = hits.where(_FTS.c.rowid >= since_id)
        if top is not None:
            hits = hits.order_by(bm25, _FTS.c.rowid).limit(top)
        found = hits.subquery("hits")
        return select(
            keys.c.url_hash.label("url_hash"), found.c.rank, found.c.id.label("tie")
        ).select_from(found.join(keys, keys.c.id == found.c.id))
    if dialect == "postgresql":
        s = table("article_search", column("url_hash", String), column("tsv"))
        query = func.to_tsquery(
            literal_column("'simple'::regconfig"), literal(_tsquery(terms), String)
        )
        # Normalisation 1 divides by 1 + log(length): a long text does not win by length alone.
        if not ranked:
            return select(s.c.url_hash.label("url_hash")).where(s.c.tsv.op("@@")(query))
        rank = -func.ts_rank(s.c.tsv, query, 1, type_=Float)
        return select(
            s.c.url_hash.label("url_hash"), rank.label("rank"), s.c.url_hash.label("tie")
        ).where(s.c.tsv.op("@@")(query))
    raise NotImplementedError(f"search is implemented for SQLite and PostgreSQL, not {dialect}")


class PinnedJoin(Join):
    """An inner join whose left side stays the outer loop: ``CROSS JOIN`` on SQLite (its
    documented way to fix the join order), a plain ``JOIN`` elsewhere.

    Counting a search's matches under other filters (a site, a year) must be driven by the
    matches: SQLite's planner would otherwise start from the filter's index and probe the
    full-text index once per article of the site (seconds for a rare word on a large site).
    """

    inherit_cache = True


@compiles(PinnedJoin, "sqlite")
def _cross_join(element: PinnedJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = compiler.process(element.left, **kw)
    right = compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


def window_start(conn: Connection, q: str, window: int = RANK_WINDOW) -> int | None:
    """SQLite: the index row id from which the `window` most recently indexed matches of `q`
    start, or None when `q` matches at most `window` articles (nothing to leave out).

    Walks the matches newest first without ranking them (FTS5 reads document lists in either
    direction), so it costs a fraction of ranking them.
    """
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    stmt = (
        select(_FTS.c.rowid)
        .where(_fts_match(parse_query(q)))
        .order_by(_FTS.c.rowid.desc())
        .limit(1)
        .offset(window)
    )
    after = conn.execute(stmt).scalar()
    return None if after is None else int(after) + 1


# -- index maintenance ---------------------------------------------------------------------

_SQLITE_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS article_search_keys "
    "(id INTEGER PRIMARY KEY, url_hash VARCHAR(40) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS article_search USING fts5(title, body, tokenize='ascii')",
    # Deleting an article deletes its index entry (PostgreSQL does it by ON DELETE CASCADE).
    "CREATE TRIGGER IF NOT EXISTS article_search_forget AFTER DELETE ON articles BEGIN "
    "DELETE FROM article_search WHERE rowid = "
    "(SELECT id FROM article_search_keys WHERE url_hash = old.url_hash); "
    "DELETE FROM article_search_keys WHERE url_hash = old.url_hash; END",
    "CREATE TABLE IF NOT EXISTS article_search_meta "
    "(key VARCHAR(32) PRIMARY KEY, value TEXT NOT NULL)",
)
_PG_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS article_search (url_hash VARCHAR(40) PRIMARY KEY "
    "REFERENCES articles (url_hash) ON DELETE CASCADE, tsv TSVECTOR NOT NULL) "
    "WITH (toast_tuple_target = 8160)",
    # Keep tsvectors in the table's own pages where they fit (compressed), not in TOAST: the
    # planner prices a sequential scan by those pages, and with the vectors out of line the
    # table looked tiny, so it scanned (and decompressed) every vector instead of using GIN.
    "ALTER TABLE article_search ALTER COLUMN tsv SET STORAGE MAIN",
    "CREATE INDEX IF NOT EXISTS ix_article_search_tsv ON article_search USING GIN (tsv)",
    "CREATE TABLE IF NOT EXISTS article_search_meta "
    "(key VARCHAR(32) PRIMARY KEY, value TEXT NOT NULL)",
)
_PG_INSERT_SQL: Final = (
    "INSERT INTO article_search (url_hash, tsv) VALUES (:u, "
    "setweight(to_tsvector('simple', :t), 'A') || setweight(to_tsvector('simple', :b), 'B')) "
    "ON CONFLICT (url_hash) DO "
)
_PG_UPSERT: Final = text(_PG_INSERT_SQL + "UPDATE SET tsv = EXCLUDED.tsv")
_PG_INSERT: Final = text(_PG_INSERT_SQL + "NOTHING")
_SQLITE_KEYS: Final = text(
    "INSERT INTO article_search_keys (url_hash) VALUES (:u) ON CONFLICT (url_hash) DO NOTHING"
)
_SQLITE_IDS: Final = text(
    "SELECT url_hash, id FROM article_search_keys WHERE url_hash IN :us"
).bindparams(bindparam("us", expanding=True))
_SQLITE_DELETE: Final = text("DELETE FROM article_search WHERE rowid = :id")
_SQLITE_INSERT: Final = text("INSERT INTO article_search (rowid, title, body) VALUES (:id, :t, :b)")


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"search is implemented for SQLite and PostgreSQL, not {name}")
    return name


def index_articles(conn: Connection, rows: Iterable[tuple[str, str | None, str]]) -> None:
    """Insert or replace the index entries of (url_hash, title, body) rows, in the caller's
    transaction (the article upsert's, so the index commits or rolls back with the rows)."""
    _index(conn, rows, replace=True)


def _index(conn: Connection, rows: Iterable[tuple[str, str | None, str]], *, replace: bool) -> None:
    dialect = _dialect(conn)
    batch: dict[str, tuple[str, str]] = {}
    for url_hash, title, body in rows:
        batch[url_hash] = (tokens(title or ""), tokens(body))
        if len(batch) >= _CHUNK:
            _write(conn, dialect, batch, replace)
            batch = {}
    if batch:
        _write(conn, dialect, batch, replace)


def _write(
    conn: Connection, dialect: str, batch: dict[str, tuple[str, str]], replace: bool
) -> None:
    """``replace=False`` (the backfill) leaves an existing entry alone: it was written by an
    upsert that ran since the backfill read the row, so it holds the newer text."""
    if dialect == "postgresql":
        stmt = _PG_UPSERT if replace else _PG_INSERT
        conn.execute(stmt, [{"u": u, "t": t, "b": b} for u, (t, b) in batch.items()])
        return
    if not replace:
        present = {u for u, _ in conn.execute(_SQLITE_IDS, {"us": list(batch)})}
        batch = {u: v for u, v in batch.items() if u not in present}
        if not batch:
            return
    conn.execute(_SQLITE_KEYS, [{"u": u} for u in batch])
    ids: dict[str, int] = {u: i for u, i in conn.execute(_SQLITE_IDS, {"us": list(batch)})}
    conn.execute(_SQLITE_DELETE, [{"id": ids[u]} for u in batch])
    conn.execute(_SQLITE_INSERT, [{"id": ids[u], "t": t, "b": b} for u, (t, b) in batch.items()])


_OBJECTS: Final = {
    "sqlite": (
        "article_search_keys",
        "article_search",
        "article_search_forget",
        "article_search_meta",
    ),
    "postgresql": ("article_search", "ix_article_search_tsv", "article_search_meta"),
}


def _present(conn: Connection, dialect: str) -> bool:
    """Whether every index object exists: checked first because on PostgreSQL even ``CREATE
    INDEX IF NOT EXISTS`` takes a lock that waits for every open writer of the table."""
    names = _OBJECTS[dialect]
    if dialect == "sqlite":
        stmt = text("SELECT count(*) FROM sqlite_master WHERE name IN :names")
    else:
        stmt = text(
            "SELECT count(*) FROM pg_class WHERE relname IN :names AND pg_table_is_visible(oid)"
        )
    stmt = stmt.bindparams(bindparam("names", expanding=True))
    return bool(conn.execute(stmt, {"names": list(names)}).scalar_one() == len(names))


def index_problem(conn: Connection) -> str | None:
    """Why the index cannot answer a search as it is (missing, built by another tokenizer,
    incomplete), or None. Only reads: for readers, which may not build it (`ensure_index`)."""
    dialect = _dialect(conn)
    if not _present(conn, dialect):
        return "missing"
    version = conn.execute(
        text("SELECT value FROM article_search_meta WHERE key = 'tokens_version'")
    ).scalar()
    if version != TOKENS_VERSION:
        return "built by another version of zhengwen"
    keys = "article_search_keys" if dialect == "sqlite" else "article_search"
    indexed = conn.execute(text(f"SELECT count(*) FROM {keys}")).scalar_one()
    articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    if indexed != articles:
        return f"incomplete ({indexed} of {articles} articles indexed)"
    return None


def ensure_index(engine: Engine, *, batch_size: int = _BATCH) -> int:
    """Create the index if missing and index every article not in it yet; returns how many.

    Idempotent and cheap when the index is complete (two counts). An archive from before the
    index, or rows written around `index_articles`, are indexed in batches of `batch_size`,
    one transaction each: memory stays flat and an interrupted backfill resumes where it
    stopped. When `TOKENS_VERSION` changed, the index is emptied and rebuilt.
    """
    if not 1 <= batch_size <= 10_000:  # it is also the length of an IN (...) list
        raise ValueError(f"batch_size must be between 1 and 10,000, got {batch_size}")
    with engine.begin() as conn:
        dialect = _dialect(conn)
        if not _present(conn, dialect):
            for ddl in _SQLITE_DDL if dialect == "sqlite" else _PG_DDL:
                conn.exec_driver_sql(ddl)
        version = conn.execute(
            text("SELECT value FROM article_search_meta WHERE key = 'tokens_version'")
        ).scalar()
        if version not in (None, TOKENS_VERSION):
            # Emptied together with the version, so an interrupted rebuild resumes.
            conn.exec_driver_sql("DELETE FROM article_search")
            if dialect == "sqlite":
                conn.exec_driver_sql("DELETE FROM article_search_keys")
            conn.exec_driver_sql("DELETE FROM article_search_meta WHERE key = 'tokens_version'")
        keys = "article_search_keys" if dialect == "sqlite" else "article_search"
        indexed = conn.execute(text(f"SELECT count(*) FROM {keys}")).scalar_one()
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        if version == TOKENS_VERSION and indexed == articles:
            return 0
    # Walk the primary key in pages and look each page up in the index: index-driven on both
    # databases, where an anti-join ORDER BY ... LIMIT may be planned as a scan of the whole
    # table per batch (quadratic over a large archive).
    page = text("SELECT url_hash FROM articles WHERE url_hash > :after ORDER BY url_hash LIMIT :n")
    present = text(f"SELECT url_hash FROM {keys} WHERE url_hash IN :us").bindparams(
        bindparam("us", expanding=True)
    )
    fetch = text("SELECT url_hash, title, body FROM articles WHERE url_hash IN :us").bindparams(
        bindparam("us", expanding=True)
    )
    done, after = 0, ""
    while True:
        with engine.begin() as conn:
            hashes = list(conn.execute(page, {"after": after, "n": batch_size}).scalars())
            if not hashes:
                _set_version(conn, dialect)
                if done and dialect == "postgresql":
                    # Statistics for the planner's estimate of how many rows a query matches.
                    conn.exec_driver_sql("ANALYZE article_search")
                return done
            missing = sorted(set(hashes) - set(conn.execute(present, {"us": hashes}).scalars()))
            if missing:
                rows = [(u, t, b) for u, t, b in conn.execute(fetch, {"us": missing})]
                _index(conn, rows, replace=False)
        done += len(missing)
        after = hashes[-1]


def _set_version(conn: Connection, dialect: str) -> None:
    conn.execute(text("DELETE FROM article_search_meta WHERE key = 'tokens_version'"))
    conn.execute(
        text("INSERT INTO article_search_meta (key, value) VALUES ('tokens_version', :v)"),
        {"v": TOKENS_VERSION},
    )


# -- snippets ------------------------------------------------------------------------------


_normalize_char: Final = functools.lru_cache(maxsize=1 << 16)(_normalize)
"""`_normalize` of one character, cached: a snippet of text whose normalisation changes its
length maps every character, and most of them recur (a few thousand in any language)."""


def _mapped(text: str) -> tuple[str, list[int] | None]:
    """The normalised text and, for each of its characters, the index of the original one
    (None when they correspond one to one, as in almost all text)."""
    norm = _normalize(text)
    if len(norm) == len(text):
        return norm, None
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        n = _normalize_char(ch)
        out.append(n)
        where.extend([i] * len(n))
    return "".join(out), where


def _matches(pieces: Sequence[_Piece], terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Spans (in the normalised text) where a term's phrase occurs."""
    at: dict[str, list[int]] = {}
    for i, p in enumerate(pieces):
        at.setdefault(p.token, []).append(i)
    spans: list[tuple[int, int]] = []
    for term in terms:
        first, prefix = term[0]
        if prefix:
            starts = [i for tok, found in at.items() if tok.startswith(first) for i in found]
        else:
            starts = at.get(first, [])
        for i in starts:
            window = pieces[i : i + len(term)]
            if len(window) < len(term) or not all(
                p.token == t or (pre and p.token.startswith(t))
                for p, (t, pre) in zip(window, term, strict=True)
            ):
                continue
            last, (t, pre) = window[-1], term[-1]
            # A CJK prefix (商* against 商工) marks the character, not the bigram.
            end = last.start + len(t) if pre and last.kind != "word" else last.end
            spans.append((window[0].start, end))
    return spans


def _first_matches(norm: str, terms: Sequence[Term], width: int) -> list[tuple[int, int]]:
    """The matches from the first one to at least `width` characters past it.

    Snippets are cut for every hit of a results page, so the text is tokenized only from the
    first place where a term's first token occurs as plain text (no match can start earlier),
    and only as far as the window needs.
    """
    found = [k for k in (norm.find(term[0][0]) for term in terms) if k >= 0]
    if not found:
        return []
    begin = min(found)
    # Back to a separator, so that the first word is not cut in two.
    while begin > 0 and not _SEPARATOR.match(norm, begin - 1):
        begin -= 1
    stop = min(found) + 2 * width + 64
    while True:
        after = _SEPARATOR.search(norm, stop)
        stop = after.start() if after else len(norm)
        pieces = list(_pieces(norm, begin, stop))
        spans = _matches(pieces, terms)
        if stop == len(norm) or (spans and min(spans)[0] + width + 64 < stop):
            return spans
        stop = begin + 2 * (stop - begin)


@functools.lru_cache(maxsize=256)
def _snippet_terms(q: str) -> tuple[Term, ...]:
    """`parse_query`, kept for the other hits of a results page (one snippet each)."""
    return tuple(parse_query(q))


def snippet(text: str, q: str, width: int = 80, mark: tuple[str, str] = ("【", "】")) -> str:
    """About `width` characters of `text` around the first match of `q`, each matched term
    wrapped in `mark`, "…" where the window cuts the text. Whitespace runs become one space.

    Matching is the index's (same tokens), so what is highlighted is what was found. Text
    that does not contain `q` (the title matched) gives its beginning.
    """
    if width < 1:
        raise ValueError(f"width must be positive, got {width}")
    terms = _snippet_terms(q)
    flat = " ".join(unicodedata.normalize("NFC", text).split())
    norm, where = _mapped(flat)
    found = _first_matches(norm, terms, width)
    if where is not None:
        found = [(where[s], where[e - 1] + 1) for s, e in found]
    spans = sorted(found)
    start = 0
    if spans:
        first_start, first_end = spans[0]
        lead = max(0, width - (first_end - first_start)) // 3
        start = max(0, first_start - lead)
        start = max(0, min(start, len(flat) - width))
    end = min(len(flat), start + width)
    merged: list[list[int]] = []
    for i, (s, e) in enumerate(spans):
        if i > 0 and (s < start or e > end):
            continue  # a half-marked word reads as a different match; only the first is clipped
        s, e = max(s, start), min(e, end)
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    parts = ["…" if start > 0 else ""]
    at = start
    for s, e in merged:
        parts += [flat[at:s], mark[0], flat[s:e], mark[1]]
        at = e
    parts += [flat[at:end], "…" if end < len(flat) else ""]
    return "".join(parts)
