"""What a fetched page is (article, list, other), judged from its content alone.

Cheap enough for the crawl's reactor thread: one walk over the lxml tree Scrapy already built.
The site's template (menus, footers, sidebars) repeats on every page, so text and links seen on
earlier pages of the same crawl (`Template`) are left out; what is left is the page's own. An
article's own text is one long stretch uninterrupted by headline links (its body); a list's own
content is links to article-shaped URLs, with at most a short teaser between two of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

#: Elements whose text a reader never sees as content.
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "head", "select", "textarea", "button"}
)
_UNIT_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+")
_DATE_RE = re.compile(
    r"(?:19|20)\d{2}\s*(?:[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}|年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)"
)

#: A text node shorter than this (in units: a CJK character or a Latin word each) is a label,
#: a date or a pager ("共48条 页次:1/5"), not prose; it neither adds to a run nor breaks one.
MIN_NODE = 10
#: A link whose text is this long is a headline: it ends a run of text (a teaser between two
#: headlines is not an article body); shorter links (inline words, "more") do not.
HEADLINE = 8
#: The longest run of the page's own text that makes it an article whatever else it holds
#: (an article with a long comment section under it): several paragraphs.
RUN_LONG = 200
#: The shortest body of an article whose run is most of the page's own text: a news brief is
#: two or three sentences; a teaser list never has one run holding half its text.
RUN_MIN = 40
#: Links to article-shaped URLs not in the template that make a page a list: more than the
#: previous/next links of an article.
LIST_LINKS = 3

PageClass = Literal["article", "list", "other"]


def units(text: str) -> int:
    """Length in reading units: a CJK character or a Latin/digit word each."""
    return len(_UNIT_RE.findall(text))


@dataclass(frozen=True, slots=True)
class Node:
    text: str
    href: str | None = None
    """Set for a link (its absolute URL)."""


def walk(root: Any, resolve: Callable[[str], str]) -> Iterator[Node]:
    """The visible text nodes and links of a parsed page, in document order."""
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        el, tail_only = stack.pop()
        if tail_only:
            if el.tail and el.tail.strip():
                yield Node(" ".join(el.tail.split()))
            continue
        tag = el.tag if isinstance(el.tag, str) else ""
        stack.append((el, True))
        if tag.lower() in _SKIP or not tag:
            continue
        if tag.lower() == "a" and el.get("href"):
            yield Node(" ".join(el.text_content().split()), resolve(el.get("href")))
            continue
        if el.text and el.text.strip():
            yield Node(" ".join(el.text.split()))
        stack.extend((child, False) for child in reversed(el))


class Template:
    """Text and link targets seen on earlier pages of the crawl: the site's template.

    A string counts as template once two earlier pages showed it (one earlier page while only
    one has been seen): a headline shown on a list and on the article itself is not template,
    a footer on every page is. Bounded: past `cap` entries nothing new is remembered."""

    def __init__(self, cap: int = 500_000) -> None:
        self.pages = 0
        self.seen: dict[int, int] = {}
        self.cap = cap

    def has(self, key: str) -> bool:
        if not self.pages:
            return False
        return self.seen.get(hash(key), 0) >= min(2, self.pages)

    def learn(self, keys: set[str]) -> None:
        self.pages += 1
        for key in keys:
            h = hash(key)
            if h in self.seen:
                self.seen[h] += 1
            elif len(self.seen) < self.cap:
                self.seen[h] = 1


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: PageClass
    run: int
    """Longest run of the page's own text, in units."""
    own: int
    """All of the page's own text, in units."""
    article_links: int
    """Links to article-shaped URLs outside the template."""
    dated: bool


def judge(
    nodes: list[Node],
    template: Template,
    is_article_url: Callable[[str], bool],
    meta_date: bool = False,
) -> Verdict:
    """Article, list or other, then the page's strings are learned as template candidates."""
    run = best = own = 0
    dated = meta_date
    keys: set[str] = set()
    links: set[str] = set()
    for node in nodes:
        key = node.href if node.href is not None else node.text
        keys.add(key)
        if template.has(key):
            continue
        size = units(node.text)
        if node.href is not None:
            if node.href not in links and is_article_url(node.href):
                links.add(node.href)
            if size >= HEADLINE:
                run = 0
            continue
        if not dated and _DATE_RE.search(node.text):
            dated = True
        if size < MIN_NODE:
            continue
        run += size
        own += size
        best = max(best, run)
    template.learn(keys)
    kind: PageClass = "other"
    if best >= RUN_LONG or (best >= RUN_MIN and 2 * best >= own):
        kind = "article"
    elif len(links) >= LIST_LINKS:
        kind = "list"
    return Verdict(kind, best, own, len(links), dated)
