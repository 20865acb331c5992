"""Body candidates: several independent guesses at the article, and the one visible place where
they are compared and one is chosen.

One extractor alone fails in ways the others do not: trafilatura sometimes keeps only the first
of several article containers (Wired splits the text between ads), sometimes a nav bar or a list
of headlines, sometimes the whole page with its legal notices; readability fails on other pages.
So the body has three candidates:

- ``trafilatura``: trafilatura's paragraphs with the sub-headings it drops put back
  (`crawler.extract.body`), the precise default;
- ``dom``: our own scorer, one pass over the rendered lines: the block element whose lines have
  the largest net *prose value* (sentence text counts for, link text and short unpunctuated
  lines against), so the tightest container that holds the article and little else wins;
- ``readability``: readability-lxml, an independent implementation of the classic algorithm,
  consulted only when the first two disagree (it costs as much as trafilatura).

`choose` compares them by the characters their lines share (agreement) and by prose quality, and
says why it chose what it chose (shown by ``zhengwen extract --explain``).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawler.extract.cleanup import has_date
from crawler.extract.dom import Line, Page, block_lines, squash
from crawler.extract.metadata import title_tag

#: Sentence punctuation: a line holding one is prose (or part of it); headlines, menus, labels
#: and widget text rarely carry any.
PROSE_PUNCT_RE = re.compile(r"[。，！？；、]|[.!?,;][\s\"'”’)]|[.!?]$")
#: Value of a character of a line without sentence punctuation, relative to a prose character:
#: sub-headings and short captions belong to the article but prove nothing about a container.
PLAIN_WEIGHT = 0.3
#: Cost of a link character: menus, headline lists and tag clouds are links; articles are not.
LINK_WEIGHT = 1.0
#: Fixed cost of a line (in characters): a container of many tiny lines (a widget, a table of
#: figures in a sidebar) is less likely the article than one of few long ones.
LINE_COST = 2.0
#: Classes and ids whose whole tokens say "not the article" (tokens are the class split at
#: spaces, ``-``, ``_`` and camelCase humps, so ``LeftPhotoInfo`` is left/photo/info and never
#: matches ``comment``): lines inside such an element count against a container.
CHROME_TOKENS = frozenset(
    {
        "comment",
        "comments",
        "reply",
        "replies",
        "footer",
        "foot",
        "sidebar",
        "aside",
        "nav",
        "navbar",
        "menu",
        "breadcrumb",
        "breadcrumbs",
        "crumb",
        "related",
        "recommend",
        "recommended",
        "share",
        "sharing",
        "social",
        "ad",
        "ads",
        "advert",
        "advertisement",
        "banner",
        "sponsor",
        "promo",
        "copyright",
        "disclaimer",
        "pager",
        "pagination",
        "toolbar",
        "popup",
        "modal",
        "cookie",
        "newsletter",
        "subscribe",
        "hot",
        "rank",
        "ranking",
        "tags",
    }
)
#: ... unless the element holds more than this share of the page's prose value.
MAX_CHROME_SHARE = 0.5
_TOKEN_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
#: A link-heavy line is never part of a candidate's text.
MAX_LINK_RATIO = 0.6


def class_tokens(value: str) -> set[str]:
    """``"news_list LeftPhotoInfo"`` -> {news, list, left, photo, info}."""
    return {t.lower() for t in _TOKEN_RE.findall(value)}


_CHROME_CACHE: dict[str, bool] = {}


def chrome_marked(el: Any) -> bool:
    """Whether an element's class or id has a whole token of a chrome word."""
    marks = f"{el.get('class') or ''} {el.get('id') or ''}"
    if not marks.strip():
        return False
    hit = _CHROME_CACHE.get(marks)
    if hit is None:
        hit = bool(class_tokens(marks) & CHROME_TOKENS)
        if len(_CHROME_CACHE) < 10_000:
            _CHROME_CACHE[marks] = hit
    return hit


def is_prose(text: str) -> bool:
    return bool(PROSE_PUNCT_RE.search(text))


def line_value(line: Line) -> float:
    """What a line adds to a container holding it: sentence text counts for it, link text and
    the line's fixed cost against it (see the weights above)."""
    n = len(line.key or squash(line.text))
    links = n * line.link_ratio
    text = n - links
    weight = 1.0 if is_prose(line.text) else PLAIN_WEIGHT
    if line.caption:
        weight = PLAIN_WEIGHT
    return text * weight - links * LINK_WEIGHT - LINE_COST


@dataclass(slots=True)
class Candidate:
    name: str
    lines: list[str]
    images: list[str] = field(default_factory=list)
    note: str = ""
    """Where it came from (the container the DOM scorer picked …), for ``--explain``."""
    one_of_posts: bool = False
    """The DOM scorer kept one post of a page of several (a blog archive, a forum thread)."""


def _describe(el: Any) -> str:
    tag = el.tag if isinstance(el.tag, str) else "?"
    ident = el.get("id")
    cls = el.get("class")
    return tag + (f"#{ident}" if ident else "") + (f".{'.'.join(cls.split())}" if cls else "")


def from_dom(page: Page) -> Candidate:
    """The block element whose lines have the largest net prose value, its lines without link
    lists and captions.

    Lines inside elements marked as chrome (`CHROME_TOKENS`) count against any container that
    holds them, so an article that shares its box with a comment thread is still told apart.
    Ties go to the smaller element. Then, when the winner is a list of several posts (a blog's
    month archive, a forum thread), only the post that holds the headline (else the first) is
    kept: `_one_post`.
    """
    lines = page.lines
    if not lines:
        return Candidate("dom", [])
    values = [line_value(line) for line in lines]
    positive = sum(v for v in values if v > 0)
    for el, (start, end) in page.spans.items():
        if chrome_marked(el):
            # Bounded like every rule: a wrapper named ``ad_body`` or ``hot-news`` that holds
            # most of the page's prose is the article's box, whatever its name says.
            if sum(v for v in values[start:end] if v > 0) > MAX_CHROME_SHARE * positive:
                continue
            for i in range(start, end):
                values[i] = -abs(values[i])
    run_start, run_end, run_value = _best_run(values)
    if run_value <= 0:
        return Candidate("dom", [], note="no lines with a positive prose value")
    # The best element, when it is worth most of the best run: its structure is a cleaner
    # boundary. Old table layouts put the article's text straight into a cell it shares with
    # the sidebar; there no element comes close, and the run itself is the candidate.
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    holder: Any = None
    value = 0.0
    for el, (start, end) in page.spans.items():
        score = prefix[end] - prefix[start]
        if (
            holder is None
            or score > value
            or (score == value and end - start < _size(page, holder))
        ):
            holder, value = el, score
    images: list[str] = []
    post = None
    if holder is not None and value >= HOLDER_SHARE * run_value:
        note = f"{_describe(holder)} (value {value:.0f})"
        post = _one_post(page, holder)
        if post is not None:
            note += f", post {_describe(post)} of several"
            holder = post
        start, end = page.spans[holder]
        images = [img.get("src") for img in holder.iter("img") if img.get("src")]
    else:
        start, end = run_start, run_end
        note = f"lines {start}-{end} (value {run_value:.0f})"
    text = [
        line.text
        for line in lines[start:end]
        if line.link_ratio < MAX_LINK_RATIO and not line.caption
    ]
    return Candidate("dom", text, images, note, one_of_posts=post is not None)


#: The best element is the candidate when its value is at least this share of the best run's.
HOLDER_SHARE = 0.8


def _size(page: Page, el: Any) -> int:
    start, end = page.spans[el]
    return end - start


def _best_run(values: list[float]) -> tuple[int, int, float]:
    """The contiguous lines with the largest sum of values (Kadane), as ``(start, end, sum)``:
    the densest stretch of prose on the page, wherever its element boundaries are."""
    best = (0, 0, 0.0)
    start, total = 0, 0.0
    for i, v in enumerate(values):
        if total <= 0:
            start, total = i, 0.0
        total += v
        if total > best[2]:
            best = (start, i + 1, total)
    return best


#: A container is a list of posts when at least this many of its children look alike (same tag
#: and class), open with a heading, show a date and hold this much prose (posts vary in length:
#: a blog archive's first post may be a tenth of the page).
MIN_POSTS = 2
MIN_POST_PROSE = 100


def _one_post(page: Page, container: Any) -> Any:
    """The post to keep when `container` holds several posts alike, else None.

    A post is a child element that repeats (same tag and class as a sibling), holds a fair share
    of the container's prose, opens with a heading (a short line without sentence punctuation:
    the post's title or its poster) and shows a date: chunks of one article split between ads
    repeat too, but open with prose and carry no dates. The post that shows the headline
    (``<title>`` text) wins, else the first: a blog's archive page and a forum thread are about
    their first post.
    """
    spans = page.spans
    groups: dict[tuple[str, str], list[Any]] = {}
    for child in container:
        if child in spans and isinstance(child.tag, str):
            groups.setdefault((child.tag, child.get("class") or ""), []).append(child)
    for members in groups.values():
        dated = [m for m in members if _post_like(page.lines[slice(*spans[m])], True)]
        if len(dated) < MIN_POSTS:
            continue
        # The group is a list of posts; a post whose date sits outside its box still counts.
        posts = [m for m in members if _post_like(page.lines[slice(*spans[m])], False)]
        title = squash(title_tag(page) or "")
        for post in posts:
            first = squash(page.lines[spans[post][0]].text)
            if title and first and first in title:
                return post
        return posts[0]
    return None


#: A post's heading is at most this long.
MAX_POST_HEADING = 60


def _post_like(lines: list[Line], dated: bool) -> bool:
    if _prose_chars(lines) < MIN_POST_PROSE:
        return False
    head = lines[0].text
    if len(head) > MAX_POST_HEADING or (is_prose(head) and not lines[0].heading):
        return False
    return not dated or any(has_date(line.text) for line in lines)


def _prose_chars(lines: list[Line]) -> int:
    return sum(len(line.text) for line in lines if is_prose(line.text) and line.link_ratio < 0.5)


def from_readability(page: Page) -> Candidate:
    """readability-lxml's summary of the page, rendered to lines like everything else."""
    import lxml.html
    from readability import Document

    try:
        # Our parsed tree, copied (readability edits what it is given): a copy costs a tenth of
        # a parse. No URL: links need not be made absolute for text.
        summary = Document(copy.deepcopy(page.tree)).summary(html_partial=True)
        tree = lxml.html.fragment_fromstring(summary, create_parent="div")
    except Exception as exc:  # readability raises bare exceptions on pages it cannot parse
        return Candidate("readability", [], note=f"failed: {type(exc).__name__}")
    out = [line for line in block_lines(tree) if line.link_ratio < MAX_LINK_RATIO]
    images = [img.get("src") for img in tree.iter("img") if img.get("src")]
    return Candidate("readability", [line.text for line in out], images)


# --- the choice ---------------------------------------------------------------------------------


def chars(lines: list[str]) -> int:
    return sum(len(squash(line)) for line in lines)


def prose_chars(lines: list[str]) -> int:
    return sum(len(squash(line)) for line in lines if is_prose(line))


class _Index:
    """A candidate's lines prepared for `shared`: squashed keys, their counts, and the whole text
    (for a line of one candidate inside a longer line of the other)."""

    __slots__ = ("keys", "whole")

    def __init__(self, lines: list[str]) -> None:
        keys = [squash(line) for line in lines]
        self.keys = Counter(keys)
        self.whole = "\n".join(keys)

    def confirms(self, key: str) -> bool:
        return bool(key) and (key in self.keys or (len(key) >= 8 and key in self.whole))


def shared(a: list[str], b: list[str] | _Index) -> int:
    """Characters of `a`'s lines that `b` also has (a line of `a` inside a longer line of `b`,
    or the reverse, counts: extractors split and join paragraphs differently). A repeated line
    counts as often as `b` has it: an extractor that doubles the text does not agree with one
    that has it once."""
    index = b if isinstance(b, _Index) else _Index(b)
    left = Counter(index.keys)
    n = 0
    for line in a:
        key = squash(line)
        if not key:
            continue
        if left[key] > 0:
            left[key] -= 1
            n += len(key)
        elif key not in left and len(key) >= 8 and key in index.whole:
            n += len(key)
    return n


#: Two candidates agree when each has at least this share of its characters in the other.
AGREE = 0.8
#: The primary is trimmed to the span another candidate confirms only if that removes at most
#: this share of it, unless a third candidate also leaves the removed lines out.
MAX_TRIM = 0.4
#: A candidate is weak (a nav bar, a headline list, a stub) below this share of the prose of
#: the best other candidate.
WEAK = 0.3


@dataclass(slots=True)
class Choice:
    """The chosen body lines, and the reasoning, for ``--explain``."""

    name: str
    lines: list[str]
    images: list[str]
    reason: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per candidate: characters, prose characters, agreement with the others."""


def _span(primary: list[str], other: list[str]) -> tuple[int, int] | None:
    """Indexes of the first and last line of `primary` that `other` confirms."""
    index = _Index(other)
    confirmed = [i for i, line in enumerate(primary) if index.confirms(squash(line))]
    if not confirmed:
        return None
    return confirmed[0], confirmed[-1] + 1


def choose(
    primary: Candidate,
    dom: Candidate,
    third: Callable[[], Candidate],
    clean: Callable[[Candidate], list[str]],
) -> Choice:
    """Pick (or trim) the body among the candidates.

    `clean` is the line cleanup every candidate goes through before it is compared (chrome lines
    removed), and `third` makes the readability candidate, only when needed:

    1. both agree (each has 80 % of its characters in the other): the primary, trafilatura's;
    2. one is weak (under 30 % of the other's prose: a nav bar, a list of headlines, an empty
       result): the other; if both are weak, the best of the three;
    3. the DOM candidate lies inside the primary: the primary trimmed to the lines the DOM
       candidate confirms (legal notices, a second post, a related list after the article go),
       if that drops at most 40 % of it or readability leaves the dropped lines out too;
    4. the primary lies inside the DOM candidate (trafilatura kept one of several containers):
       the DOM candidate if readability confirms what it adds, else the primary;
    5. otherwise the candidate readability agrees with most.
    """
    p_lines, d_lines = clean(primary), clean(dom)
    scores = {primary.name: _score(p_lines), dom.name: _score(d_lines)}
    p_in_d = _share(p_lines, d_lines)
    d_in_p = _share(d_lines, p_lines)
    scores[primary.name]["in_" + dom.name] = round(p_in_d, 3)
    scores[dom.name]["in_" + primary.name] = round(d_in_p, 3)
    p_prose, d_prose = prose_chars(p_lines), prose_chars(d_lines)

    def pick(c: Candidate, lines: list[str], reason: str) -> Choice:
        return Choice(c.name, lines, c.images, reason, scores)

    if p_in_d >= AGREE and d_in_p >= AGREE:
        span = _span(p_lines, d_lines)
        if span and (span[0] > 0 or span[1] < len(p_lines)):
            trimmed = p_lines[span[0] : span[1]]
            return pick(primary, trimmed, "trafilatura and dom agree; trimmed to dom's span")
        return pick(primary, p_lines, "trafilatura and dom agree")
    if d_prose and p_prose < WEAK * d_prose and d_in_p < AGREE:
        r = _third(third, clean, scores)
        if r is not None and prose_chars(r[1]) > d_prose and _share(d_lines, r[1]) < AGREE:
            return pick(r[0], r[1], "trafilatura is weak, readability has more prose than dom")
        return pick(dom, d_lines, "trafilatura is weak (little prose): dom")
    if p_prose and d_prose < WEAK * p_prose and p_in_d < AGREE and d_in_p < AGREE:
        return pick(primary, p_lines, "dom is weak: trafilatura")
    if not p_prose and not d_prose:
        r = _third(third, clean, scores)
        if r is not None and prose_chars(r[1]):
            return pick(r[0], r[1], "only readability found prose")
        # Menus, headline lists and link farms flattened into lines: no sentence anywhere is no
        # article (the page is dropped as not_article, with this reason in --explain).
        return pick(primary, [], "no candidate has a sentence of prose: no article")
    if d_in_p >= AGREE:
        if dom.one_of_posts:
            return pick(dom, d_lines, "dom kept one post of several that trafilatura joined")
        span = _span(p_lines, d_lines)
        if span is None:
            return pick(primary, p_lines, "dom inside trafilatura, nothing to trim")
        trimmed = p_lines[span[0] : span[1]]
        removed = chars(p_lines) - chars(trimmed)
        if removed <= MAX_TRIM * chars(p_lines):
            return pick(primary, trimmed, f"trafilatura trimmed to dom's span ({removed} chars)")
        # Too much to drop on one candidate's word: readability decides, and the span both
        # confirm (readability may find article parts dom's container missed) is kept.
        r = _third(third, clean, scores)
        if r is None or _share(r[1], p_lines) < AGREE:
            return pick(primary, p_lines, "dom inside trafilatura, trim not confirmed")
        r_span = _span(p_lines, r[1]) or span
        both = (min(span[0], r_span[0]), max(span[1], r_span[1]))
        trimmed = p_lines[both[0] : both[1]]
        removed = chars(p_lines) - chars(trimmed)
        return pick(
            primary,
            trimmed,
            f"trafilatura trimmed to what dom and readability confirm ({removed} chars)",
        )
    if p_in_d >= AGREE:
        r = _third(third, clean, scores)
        p_index = _Index(p_lines)
        added = [line for line in d_lines if not p_index.confirms(squash(line))]
        if r is not None and _share(added, r[1]) >= AGREE:
            return pick(dom, d_lines, "trafilatura inside dom, readability confirms the rest")
        return pick(primary, p_lines, "trafilatura inside dom, the rest not confirmed")
    r = _third(third, clean, scores)
    if r is None or not r[1]:
        return pick(primary, p_lines, "candidates disagree, no third vote: trafilatura")
    p_vote, d_vote = _share(r[1], p_lines), _share(r[1], d_lines)
    if d_vote > p_vote:
        return pick(dom, d_lines, "candidates disagree, readability sides with dom")
    return pick(primary, p_lines, "candidates disagree, readability sides with trafilatura")


def _third(
    third: Callable[[], Candidate],
    clean: Callable[[Candidate], list[str]],
    scores: dict[str, dict[str, float]],
) -> tuple[Candidate, list[str]] | None:
    c = third()
    lines = clean(c)
    scores[c.name] = _score(lines)
    return (c, lines) if lines else None


def _share(a: list[str], b: list[str]) -> float:
    total = chars(a)
    return shared(a, b) / total if total else 0.0


def _score(lines: list[str]) -> dict[str, float]:
    return {"chars": chars(lines), "prose_chars": prose_chars(lines), "lines": len(lines)}
