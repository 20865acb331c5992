"""What an article URL looks like on one portal, learned from the pages a crawl fetched.

A URL is reduced to its *shape*: path segments become tokens (``{Y}`` a year, ``{D2}`` a month
or day after one, ``{YMD}`` an eight-digit date, ``{N}`` a numeric id, ``{n}`` a small number
such as a page, ``{S}`` a slug of words, ``{W}`` a word, literals kept), the suffix and the
query's keys stay as written, tracking parameters go. Each shape keeps counts of what its
fetched pages turned out to be (`crawler.discovery.pages`) and how many new article links its
pages gave; a shape never seen yet borrows from a more general one (every word a ``{W}``) and
then from a prior read off the shape itself. Pure functions and plain classes: no Scrapy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PageKind = Literal["article", "list", "other", "duplicate"]

#: Query keys that only say where a click came from (share buttons, analytics): removed before
#: a URL is matched or requested, so that one article linked with ``?utm_source=a`` and
#: ``?spm=b`` is fetched once. Only keys no CMS uses to select content.
TRACKING_KEYS = frozenset(
    {"spm", "from", "ref", "fbclid", "gclid", "scene", "wfr", "isappinstalled"}
)
TRACKING_PREFIXES = ("utm_",)

#: Leaf names that mark a list page (section index, pagination) rather than an article.
LIST_WORDS = frozenset({"index", "list", "default", "more", "page", "p", "node", "channel"})

#: A shape's pages are tried this many times before its counts decide (an unseen shape gets
#: a few fetches at high priority, so a small sample sees every kind of page at least once).
EXPLORE = 3
#: Weight of the prior, in pages: after two fetched pages the evidence outweighs the guess.
PRIOR_WEIGHT = 2.0
#: A shape is written as an article pattern when at least this share of its pages were
#: articles: one stub or error page among many must not lose the shape.
ARTICLE_SHARE = 0.8

_RUN_RE = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]+")
_DATE_SEP_RE = re.compile(r"(?:19|20)\d{2}[-_](?:0?[1-9]|1[0-2])(?:[-_](?:0?[1-9]|[12]\d|3[01]))?")
_SLUG_RE = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+){2,}")
_EXT_RE = re.compile(r"\.([A-Za-z][A-Za-z0-9]{1,4})$")

#: Regexes of the class tokens, for the patterns `new-site` writes.
TOKEN_REGEX = {
    "Y": r"\d{4}",
    "YM": r"\d{6}",
    "YMD": r"\d{8}",
    "D2": r"\d{1,2}",
    "n": r"\d+",
    "N": r"\d+",
    "W": r"[A-Za-z]+",
    "S": r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+",
    "H": r"[0-9A-Za-z]{16,}",
    "X": r"[^/?#]+",
}
_DATES = frozenset({"Y", "YM", "YMD"})


def clean_url(url: str) -> str:
    """The URL without its fragment and tracking parameters (`TRACKING_KEYS`)."""
    parts = urlsplit(url)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _tracking(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_KEYS or key.startswith(TRACKING_PREFIXES)


Token = str
"""A class name (``Y``, ``N`` …), or ``L``/``P``/``E``/``Q`` + text: a literal word, a
separator, a suffix (``.html``), a query key."""


@dataclass(frozen=True, slots=True)
class Shape:
    """A URL's shape at two levels: `exact` keeps directory words, `general` makes every whole
    word a ``{W}``; `prior` is the article probability guessed from the shape alone."""

    segments: tuple[tuple[Token, ...], ...]
    slash: bool
    """The path ends with ``/``."""
    query: tuple[tuple[str, Token], ...]
    prior: float

    def key(self, general: bool = False) -> str:
        segs = self._level(general)
        path = "/" + "/".join("".join(_show(t) for t in seg) for seg in segs)
        if self.slash and segs:
            path += "/"
        if self.query:
            path += "?" + "&".join(f"{k}={_show(v)}" for k, v in self.query)
        return path

    @property
    def exact(self) -> str:
        return self.key(False)

    @property
    def general(self) -> str:
        return self.key(True)

    def regex(self, general: bool = False) -> str:
        """A regex searched in the absolute URL, as site configs' ``[urls]`` patterns are."""
        segs = self._level(general)
        path = "/".join("".join(_regex(t) for t in seg) for seg in segs)
        tail = "/" if self.slash and segs else ""
        query = ""
        if self.query:
            query = r"\?" + "&".join(f"{re.escape(k)}={_regex(v)}" for k, v in self.query)
        return rf"^https?://[^/]+/{path}{tail}{query}$"

    def _level(self, general: bool) -> tuple[tuple[Token, ...], ...]:
        last = len(self.segments) - 1
        return tuple(
            _as_word(seg) if general or i == last else seg for i, seg in enumerate(self.segments)
        )


def _as_word(seg: tuple[Token, ...]) -> tuple[Token, ...]:
    """A segment that is one word (``news``, ``news.html``) as ``{W}`` (suffix kept)."""
    if seg and seg[0].startswith("L") and all(t.startswith("E") for t in seg[1:]):
        return ("W", *seg[1:])
    return seg


def _literal(t: Token) -> bool:
    return t[:1] in ("L", "P", "E") and t not in TOKEN_REGEX


def _show(t: Token) -> str:
    return t[1:] if _literal(t) else "{" + t + "}"


def _regex(t: Token) -> str:
    return re.escape(t[1:]) if _literal(t) else TOKEN_REGEX[t]


def shape_of(url: str) -> Shape:
    """The shape of a URL (tracking parameters ignored)."""
    parts = urlsplit(clean_url(url))
    raw = [s for s in parts.path.split("/") if s]
    slash = parts.path.endswith("/")
    segments: list[tuple[Token, ...]] = []
    dated = 0  # day/month tokens still expected after a year
    leaf_words: list[str] = []
    for i, seg in enumerate(raw):
        leaf = i == len(raw) - 1
        tokens, dated = _segment(seg, leaf and not slash, dated)
        segments.append(tokens)
        if leaf:
            leaf_words = [t[1:].lower() for t in tokens if t.startswith("L")]
    query = tuple(
        (k, _value(v))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _tracking(k)
    )
    shape = Shape(tuple(segments), slash, query, 0.0)
    return Shape(shape.segments, slash, query, _prior(shape, leaf_words))


def _segment(seg: str, leaf: bool, dated: int) -> tuple[tuple[Token, ...], int]:
    if "%" in seg or not seg.isascii():
        return ("X",), 0
    ext = ""
    if leaf:
        m = _EXT_RE.search(seg)
        if m:
            ext, seg = m.group(0).lower(), seg[: m.start()]
    if _DATE_SEP_RE.fullmatch(seg):
        parts = re.split(r"([-_])", seg)
        dates = ["Y"] + [("P" + p if p in "-_" else "D2") for p in parts[1:]]
        return (*dates, *(("E" + ext,) if ext else ())), max(0, 3 - (len(parts) + 1) // 2)
    if _SLUG_RE.fullmatch(seg) and sum(r.isalpha() for r in _RUN_RE.findall(seg)) >= 3:
        return ("S", *(("E" + ext,) if ext else ())), 0
    runs = _RUN_RE.findall(seg)
    if len(seg) >= 16 and any(c.isdigit() for c in seg) and any(c.isalpha() for c in seg):
        if len(runs) > 6 or re.fullmatch(r"[0-9a-fA-F]+", seg):
            return ("H", *(("E" + ext,) if ext else ())), 0
    tokens: list[Token] = []
    for run in runs:
        if run.isdigit():
            kind, dated = _digits(run, dated)
            tokens.append(kind)
        elif run.isalpha():
            tokens.append("L" + run)
        else:
            tokens.append("P" + run)
    if ext:
        tokens.append("E" + ext)
    return tuple(tokens), dated


def _digits(run: str, dated: int) -> tuple[Token, int]:
    """A digit run's class, and how many month/day numbers may still follow a year."""
    n = len(run)
    if n == 8 and _is_date(run[:4], run[4:6], run[6:]):
        return "YMD", 0
    if n == 6 and _is_date(run[:4], run[4:], "01"):
        return "YM", 1
    if n == 4 and 1990 <= int(run) <= 2099:
        return "Y", 2
    if n <= 2 and dated:
        return "D2", dated - 1
    return ("n" if n <= 2 else "N"), 0


def _is_date(y: str, m: str, d: str) -> bool:
    return 1990 <= int(y) <= 2099 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31


def _value(v: str) -> Token:
    if v.isdigit():
        return "n" if len(v) <= 2 else "N"
    if v.isalpha() and v.isascii():
        return "W"
    return "X" if v else "L"


def _prior(shape: Shape, leaf_words: list[str]) -> float:
    """The article probability of a shape never fetched. Why these numbers: dated paths and
    numeric ids are how CMSs name articles, list words and small page numbers how they name
    lists; a bare word page (``about.html``) is usually neither. Evidence replaces them after
    `PRIOR_WEIGHT` pages."""
    flat = [t for seg in shape.segments for t in seg]
    leaf = shape.segments[-1] if shape.segments else ()
    values = [v for _, v in shape.query]
    small = "n" in leaf or "n" in values
    if any(w in LIST_WORDS for w in leaf_words) or (small and not ({"N", "H", "S"} & set(leaf))):
        return 0.05
    dated = bool(_DATES & set(flat))
    ident = bool({"N", "H", "S"} & set(leaf)) or "N" in values
    if dated and ident:
        return 0.85
    if ident:
        return 0.7
    if shape.slash or not shape.segments:
        return 0.1
    return 0.5 if dated else 0.2


# --- evidence -----------------------------------------------------------------------------------


@dataclass
class ShapeStats:
    """What the pages of one shape turned out to be (`PageKind` counts) and gave."""

    kinds: Counter[str] = field(default_factory=Counter)
    issued: int = 0
    found: int = 0
    """New article links the shape's pages gave (requests issued for them)."""
    recent: list[int] = field(default_factory=list)
    """`found` of its last `EXPLORE` pages: a shape whose pages stopped giving new articles."""

    @property
    def fetched(self) -> int:
        return self.kinds.total()

    @property
    def article(self) -> int:
        return self.kinds["article"]

    @property
    def listing(self) -> int:
        return self.kinds["list"]

    def add(self, kind: PageKind, found: int) -> None:
        self.kinds[kind] += 1
        self.found += found
        self.recent = [*self.recent[-(EXPLORE - 1) :], found]

    @property
    def spent(self) -> bool:
        """Its pages were never articles and the last few gave no new article link: tag,
        author, print and search pages once the lists have been walked."""
        return self.article == 0 and len(self.recent) >= EXPLORE and sum(self.recent) == 0

    def as_dict(self) -> dict[str, int]:
        return {"issued": self.issued, "found": self.found, **self.kinds}


@dataclass(frozen=True, slots=True)
class LearnedPatterns:
    article: tuple[str, ...]
    listing: tuple[str, ...]
    pagination: tuple[str, ...]


class Learner:
    """Counts per shape (exact and general) and the decisions the zero-config spider asks."""

    def __init__(self) -> None:
        self.exact: dict[str, ShapeStats] = {}
        self.general: dict[str, ShapeStats] = {}
        self.shapes: dict[str, Shape] = {}

    def _stats(self, shape: Shape) -> tuple[ShapeStats, ShapeStats]:
        key = shape.exact
        if key not in self.exact:
            self.shapes[key] = shape
        return (
            self.exact.setdefault(key, ShapeStats()),
            self.general.setdefault(shape.general, ShapeStats()),
        )

    def issued(self, url: str) -> None:
        for s in self._stats(shape_of(url)):
            s.issued += 1

    def issued_count(self, url: str) -> int:
        stats = self.exact.get(shape_of(url).exact)
        return stats.issued if stats is not None else 0

    def observe(self, url: str, kind: PageKind, found: int = 0) -> None:
        """What a fetched page turned out to be, and how many new article links it gave."""
        for s in self._stats(shape_of(url)):
            s.add(kind, found)

    def _evidence(self, shape: Shape, least: int = 1) -> ShapeStats | None:
        """The exact shape's counts, else the general one's, once they hold `least` pages."""
        for stats in (self.exact.get(shape.exact), self.general.get(shape.general)):
            if stats is not None and stats.fetched >= least:
                return stats
        return None

    def article_score(self, url: str) -> float:
        shape = shape_of(url)
        s = self._evidence(shape)
        if s is None:
            return shape.prior
        return (s.article + shape.prior * PRIOR_WEIGHT) / (s.fetched + PRIOR_WEIGHT)

    def kind(self, url: str) -> Literal["article", "list"] | None:
        """How to request a link: as a likely article, as a list, or not at all (`spent`)."""
        shape = shape_of(url)
        exact = self.exact.get(shape.exact)
        # The general shape may only stop a link whose exact shape has no pages of its own:
        # one spent tag shape must not stop a new section that shares its general shape.
        s = exact if exact is not None and exact.fetched else self.general.get(shape.general)
        if s is not None and s.spent:
            return None
        return "article" if self.article_score(url) >= 0.5 else "list"

    def priority(self, url: str, kind: str) -> int:
        """Scrapy priority: a shape's first few links first (a sample sees every kind of page),
        then articles, then lists by how many new articles their pages gave."""
        shape = shape_of(url)
        exact = self.exact.get(shape.exact)
        explore = 20 if exact is None or exact.issued < EXPLORE else 0
        if kind == "article":
            return 10 + explore
        s = self._evidence(shape)
        found = s.found / s.fetched if s is not None else 2.0
        return explore + min(int(found), 8) + 1

    # --- patterns -------------------------------------------------------------------------------

    def patterns(self) -> LearnedPatterns:
        """Regexes for a site config: article shapes, list shapes whose pages gave articles,
        and of those the ones numbered like pages (pagination). A general shape is written when
        every fetched exact shape under it is of the kind (two sections of the same layout make
        one pattern that also covers a third); else the exact shapes that are."""
        article = self._regexes(self._is_article, lambda group: True)
        # A list shape counts when its pages gave new articles; a page 2 whose articles were
        # all met before still counts when its general shape (every section's page 2) gave some.
        lists = self._regexes(
            lambda s: s.listing > 0 and s.article == 0,
            lambda group: sum(s.found for s in group) > 0,
        )
        paged = tuple(p for p in lists if _numbered(p))
        return LearnedPatterns(article, tuple(p for p in lists if p not in paged), paged)

    def _is_article(self, s: ShapeStats) -> bool:
        return s.article > 0 and s.article >= ARTICLE_SHARE * s.fetched

    def _regexes(
        self, good: Callable[[ShapeStats], bool], useful: Callable[[list[ShapeStats]], bool]
    ) -> tuple[str, ...]:
        groups: dict[str, list[str]] = {}
        for key, stats in self.exact.items():
            if stats.fetched:
                groups.setdefault(self.shapes[key].general, []).append(key)
        out: list[str] = []
        for _, keys in sorted(groups.items()):
            chosen = [k for k in keys if good(self.exact[k])]
            if len(chosen) == len(keys) and useful([self.exact[k] for k in keys]):
                shape = self.shapes[chosen[0]]
                out.append(shape.regex(general=len(keys) >= 2))
                continue
            out.extend(self.shapes[k].regex() for k in sorted(chosen) if useful([self.exact[k]]))
        return tuple(dict.fromkeys(out))

    def report(self) -> dict[str, dict[str, int]]:
        return {k: s.as_dict() for k, s in sorted(self.exact.items())}


def _numbered(regex: str) -> bool:
    """A list pattern whose last segment or query carries a number: pagination."""
    tail = regex.rsplit("/", 1)[-1] if not regex.endswith("/$") else regex.rsplit("/", 2)[-2]
    return r"\d" in tail


def matching(patterns: Iterable[str], url: str) -> bool:
    return any(re.search(p, url) for p in patterns)
