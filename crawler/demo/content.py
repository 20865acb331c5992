"""The demo portal's content: deterministic articles and the truth the crawler must recover.

Each article is generated from a seeded `random.Random`, so a test can rebuild exactly what the
portal serves and compare the archive against it field by field. The portal is mutable (add,
edit, remove) so incremental-crawl tests can change the site between two runs.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from crawler.demo import bank
from crawler.demo.bank_sections import SECTIONS, SectionBank

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_SEED = 20201003
AuthorStyle = Literal["byline", "byline_fullwidth", "reporter", "none"]


@dataclass(frozen=True, slots=True)
class Section:
    slug: str
    """URL segment: ``/jzfp/index.html``."""
    name: str
    """Shown in the navigation and breadcrumb; the article's category."""


@dataclass(frozen=True, slots=True)
class ArticleTruth:
    """What a careful reader gets from one article page: the expected extraction result."""

    article_id: int
    path: str
    """Absolute URL path: ``/jzfp/2020-10/03/content_1234.html``."""
    section_slug: str
    section: str
    """Category as the breadcrumb shows it (``精准扶贫``)."""
    title: str
    published_at: datetime
    """Aware, Asia/Shanghai, whole seconds, as the page's info line shows it."""
    source: str
    """来源 as shown, ``本站`` included."""
    author: str | None
    editor: str | None
    """None when the page shows an empty ``(责任编辑:)``."""
    lead: str | None
    """The 导读 block, or None when the page has none."""
    body: tuple[str, ...]
    """Paragraphs in reading order, sub-headings included, byline and indentation excluded."""
    headings: tuple[int, ...] = ()
    """Indexes into `body` of the paragraphs rendered as sub-headings."""
    author_style: AuthorStyle = "none"
    """How the page shows the author: ``(王法)`` / ``（王法）`` after the last paragraph,
    ``作者:记者 王法`` in the info line, or not at all."""
    updated_at: datetime | None = None
    """Set by `Portal.edit_article`; the server's Last-Modified."""

    @property
    def body_text(self) -> str:
        return "\n".join(self.body)

    @property
    def last_modified(self) -> datetime:
        return self.updated_at or self.published_at

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.path


SECTION_LIST: tuple[Section, ...] = tuple(Section(b.slug, b.name) for b in SECTIONS)
_BANKS: dict[str, SectionBank] = {b.slug: b for b in SECTIONS}


# --- text generation ----------------------------------------------------------------------------


class _Slots(dict[str, str]):
    """Fills a template: fixed per-article context first, fresh random values otherwise."""

    def __init__(self, rng: random.Random, context: dict[str, str]) -> None:
        super().__init__(context)
        self.rng = rng
        self.used: set[str] = set()
        r = rng
        self.makers: dict[str, Callable[[], str]] = {
            "name": lambda: person(r),
            "n": lambda: str(r.randint(2, 30)),
            "nn": lambda: str(r.randint(10, 99)),
            "nnn": lambda: str(r.randint(100, 999)),
            "nnnn": lambda: str(r.randint(1000, 9999)),
            "wan": lambda: f"{r.randint(11, 99) / 10}万",
            "yi": lambda: f"{r.randint(1000, 99999) / 100:.2f}亿元",
            "pct": lambda: f"{r.randint(50, 999) / 10}%",
            "m": lambda: str(r.randint(1, 12)),
            "d": lambda: str(r.randint(1, 28)),
            "slogan": lambda: r.choice(bank.SLOGANS),
        }

    def __missing__(self, key: str) -> str:
        return self.makers[key]()


def person(rng: random.Random, gbk_only: bool = False) -> str:
    """A Chinese name; about one in twelve uses a GBK-only character, as real rosters do."""
    given = rng.choice(bank.GIVEN)
    if gbk_only or rng.random() < 0.08:
        given = (
            rng.choice(bank.GBK_ONLY) if rng.random() < 0.5 else given + rng.choice(bank.GBK_ONLY)
        )
    elif rng.random() < 0.6:
        given += rng.choice(bank.GIVEN)
    return rng.choice(bank.SURNAMES) + given


def _fill(template: str, slots: _Slots) -> str:
    return template.format_map(slots)


def _pick(rng: random.Random, options: Sequence[str], slots: _Slots) -> str:
    """A choice not yet used in this article when possible: a reader notices a repeated line."""
    choice = rng.choice(options)
    for _ in range(10):
        if choice not in slots.used:
            break
        choice = rng.choice(options)
    slots.used.add(choice)
    return choice


def _sentence(rng: random.Random, sb: SectionBank, slots: _Slots) -> str:
    kind = rng.random()
    if kind < 0.45:
        opening = _pick(rng, bank.OPENS, slots)
        action = _pick(rng, sb.actions, slots)
        text = f"{opening}，{rng.choice(sb.subjects)}{action}，{rng.choice(sb.results)}。"
    elif kind < 0.6:
        action = _pick(rng, sb.actions, slots)
        text = f"{rng.choice(sb.subjects)}{action}，{rng.choice(sb.results)}。"
    elif kind < 0.8:
        text = _pick(rng, sb.facts, slots)
    elif kind < 0.9:
        text = _pick(rng, bank.GENERIC, slots)
    else:
        text = _quote(rng, sb, slots)
    return _fill(text, slots)


def _quote(rng: random.Random, sb: SectionBank, slots: _Slots, speaker: str | None = None) -> str:
    who = speaker or rng.choice(sb.speakers)
    if rng.random() < 0.5:
        return f"“{_pick(rng, sb.quotes, slots)}。”{who}说。"
    return f"{who}表示：“{_pick(rng, sb.quotes, slots)}。”"


def _paragraph(rng: random.Random, sb: SectionBank, slots: _Slots) -> str:
    return "".join(_sentence(rng, sb, slots) for _ in range(rng.randint(1, 3)))


def _body(rng: random.Random, sb: SectionBank, slots: _Slots, gbk_name: bool) -> list[str]:
    texts = [_paragraph(rng, sb, slots) for _ in range(rng.randint(4, 10))]
    if gbk_name:
        speaker = _fill(rng.choice(sb.speakers).replace("{name}", person(rng, True)), slots)
        texts.insert(rng.randint(1, len(texts) - 1), _fill(_quote(rng, sb, slots, speaker), slots))
    future = _fill(rng.choice(sb.futures), slots)
    texts.append(f"下一步，{_fill(rng.choice(sb.subjects), slots)}将{future}。")
    return texts


def _with_headings(
    rng: random.Random, sb: SectionBank, texts: list[str]
) -> tuple[list[str], tuple[int, ...]]:
    """Sub-headings only in long articles, before roughly evenly spaced paragraphs, as in the seed."""
    if len(texts) < 6 or rng.random() < 0.6:
        return texts, ()
    count = min(3, 12 - len(texts)) if len(texts) < 12 else 0
    if count < 2:
        return texts, ()
    chosen = rng.sample(sb.headings, count)
    step = len(texts) // (count + 1)
    out: list[str] = []
    headings: list[int] = []
    for i, text in enumerate(texts):
        if i and i % step == 0 and chosen:
            headings.append(len(out))
            out.append(chosen.pop(0))
        out.append(text)
    return out, tuple(headings)


def _lead(rng: random.Random, body: Sequence[str]) -> str | None:
    """Like the seed: 导读 is the first paragraph cut at a fixed length, mid-sentence or not."""
    roll = rng.random()
    if roll < 0.3:
        return None
    first = body[0]
    if roll < 0.5:
        return first.split("。")[0] + "。"
    return first[: rng.randint(60, 100)]


def _published(rng: random.Random) -> datetime:
    day = datetime(2020, 1, 1, tzinfo=TZ) + timedelta(days=rng.randrange(366))
    return day + timedelta(seconds=rng.randint(6 * 3600, 24 * 3600 - 1))


def _weighted_source(rng: random.Random) -> str:
    names = [s for s, _ in bank.SOURCES]
    return rng.choices(names, weights=[w for _, w in bank.SOURCES])[0]


def _article(
    rng: random.Random, article_id: int, sb: SectionBank, published: datetime, gbk_name: bool
) -> ArticleTruth:
    prov, city, counties, villages = rng.choice(bank.PLACES)
    slots = _Slots(
        rng,
        {
            "prov": prov,
            "city": city,
            "county": rng.choice(counties),
            "village": rng.choice(villages),
            "topic": rng.choice(sb.topics),
            "company": f"{rng.choice(bank.COMPANY_PREFIX)}{rng.choice(sb.topics)}科技有限公司",
        },
    )
    title = _fill(rng.choice(sb.titles), slots)
    texts, headings = _with_headings(rng, sb, _body(rng, sb, slots, gbk_name))
    style: AuthorStyle = rng.choices(
        ("byline", "byline_fullwidth", "reporter", "none"), weights=(6, 2, 2, 1)
    )[0]
    author = None if style == "none" else rng.choice(bank.REPORTERS)
    return ArticleTruth(
        article_id=article_id,
        path=f"/{sb.slug}/{published:%Y-%m}/{published:%d}/content_{article_id}.html",
        section_slug=sb.slug,
        section=sb.name,
        title=title,
        published_at=published,
        source=_weighted_source(rng),
        author=author,
        editor=None if rng.random() < 0.2 else rng.choice(bank.EDITORS),
        lead=_lead(rng, texts),
        body=tuple(texts),
        headings=headings,
        author_style=style,
    )


# --- the portal ---------------------------------------------------------------------------------


@dataclass
class Portal:
    """The whole site's state; the server renders from it on every request."""

    seed: int = DEFAULT_SEED
    site_name: str = bank.SITE_NAME
    sections: tuple[Section, ...] = SECTION_LIST
    per_page: int = 10
    header_charset: str | None = None
    """When set (``gbk``), HTML responses say ``; charset=…``; by default they do not, so
    clients must sniff the ``<meta>`` that declares gb2312 for GBK bytes."""
    hot_ids: tuple[int, ...] = ()
    """The sidebar's 热点新闻, fixed at generation so that pages do not churn."""
    hide_dates: bool = False
    """A "redesign" for drift tests: article pages stop printing their publication time."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _articles: dict[str, ArticleTruth] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(
        cls, n_articles: int = 48, seed: int = DEFAULT_SEED, header_charset: str | None = None
    ) -> Portal:
        rng = random.Random(seed)
        order = [SECTIONS[i % len(SECTIONS)] for i in range(n_articles)]
        rng.shuffle(order)
        dates = sorted(_published(rng) for _ in range(n_articles))
        portal = cls(seed=seed, header_charset=header_charset)
        next_id, seen_gbk = 1000, set()
        for sb, published in zip(order, dates, strict=True):
            next_id += rng.randint(1, 9)
            needs_gbk = sb.slug not in seen_gbk
            seen_gbk.add(sb.slug)
            portal._put_unique(rng, next_id, sb, published, needs_gbk)
        ids = sorted(a.article_id for a in portal._articles.values())
        portal.hot_ids = tuple(rng.sample(ids, min(8, len(ids))))
        return portal

    def _put_unique(
        self, rng: random.Random, article_id: int, sb: SectionBank, published: datetime, gbk: bool
    ) -> ArticleTruth:
        """Regenerate until title and body are new: dedupe must never see two equal articles."""
        titles = {a.title for a in self._articles.values()}
        bodies = {a.body_text for a in self._articles.values()}
        for _ in range(100):
            art = _article(rng, article_id, sb, published, gbk)
            if art.title not in titles and art.body_text not in bodies:
                self._articles[art.path] = art
                return art
        raise RuntimeError("sentence bank too small for this many articles")

    # --- reading ---

    def articles(self) -> list[ArticleTruth]:
        """All live articles, newest first (a snapshot)."""
        with self.lock:
            items = list(self._articles.values())
        return sorted(items, key=lambda a: (a.published_at, a.article_id), reverse=True)

    def section_articles(self, slug: str) -> list[ArticleTruth]:
        return [a for a in self.articles() if a.section_slug == slug]

    def article(self, path: str) -> ArticleTruth | None:
        with self.lock:
            return self._articles.get(path)

    def by_id(self, article_id: int) -> ArticleTruth | None:
        with self.lock:
            return next((a for a in self._articles.values() if a.article_id == article_id), None)

    def section(self, slug: str) -> Section | None:
        return next((s for s in self.sections if s.slug == slug), None)

    def page_count(self, slug: str) -> int:
        return max(1, -(-len(self.section_articles(slug)) // self.per_page))

    # --- changing ---

    def add_article(
        self, section_slug: str | None = None, published_at: datetime | None = None
    ) -> ArticleTruth:
        """Publish one more generated article (newest unless `published_at` says otherwise)."""
        with self.lock:
            existing = self.articles()
            next_id = max((a.article_id for a in existing), default=1000) + 1
            rng = random.Random(f"{self.seed}/add/{next_id}")
            slug = section_slug or rng.choice(self.sections).slug
            if published_at is None:
                latest = existing[0].published_at if existing else datetime(2020, 12, 31, tzinfo=TZ)
                published_at = latest + timedelta(seconds=rng.randint(600, 7200))
            return self._put_unique(rng, next_id, _BANKS[slug], published_at, False)

    def edit_article(
        self,
        path: str,
        body: Iterable[str] | None = None,
        *,
        updated_at: datetime | None = None,
        **changes: object,
    ) -> ArticleTruth:
        """Change an article in place (default: one more paragraph before the last one).

        `changes` are other `ArticleTruth` fields (``title=…``). The URL stays the same.
        """
        with self.lock:
            old = self._require(path)
            if body is None:
                rng = random.Random(f"{self.seed}/edit/{path}/{len(old.body)}")
                extra = f"记者{rng.randint(2, 12)}月{rng.randint(1, 28)}日回访时了解到，" + (
                    f"相关工作又取得新进展，已有{rng.randint(100, 999)}户群众从中受益。"
                )
                body = (*old.body[:-1], extra, old.body[-1])
            elif "headings" not in changes:
                body = tuple(body)
                changes["headings"] = tuple(
                    i for i in old.headings if i < len(body) and body[i] == old.body[i]
                )
            stamp = updated_at or datetime.now(TZ).replace(microsecond=0)
            new = replace(old, body=tuple(body), updated_at=stamp, **changes)  # type: ignore[arg-type]
            self._articles[path] = new
            return new

    def edit_body(self, path: str, body: Iterable[str] | None = None) -> ArticleTruth:
        return self.edit_article(path, body)

    def remove_article(self, path: str) -> ArticleTruth:
        """Unpublish: the URL answers 404 and list pages no longer link to it."""
        with self.lock:
            return self._articles.pop(self._require(path).path)

    def _require(self, path: str) -> ArticleTruth:
        art = self._articles.get(path)
        if art is None:
            raise KeyError(f"no article at {path}")
        return art
