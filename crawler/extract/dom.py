"""The parsed page and the few DOM helpers every other module shares.

The document is parsed once; metadata, dates and body all read the same tree and the same list of
rendered lines, so extraction costs one parse plus trafilatura's own copy.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from crawler.extract.errors import ExtractionError, NotAnArticle
from crawler.extract.limits import CHECK_EVERY, checkpoint
from crawler.extract.patterns import (
    BLOCK_START_RE,
    BLOCK_TAGS,
    BOLD_TAGS,
    CENTER_CLASS_RE,
    CENTER_STYLE_RE,
    END_TAG_RE,
    HEADING_TAGS,
    IMAGE_TAGS,
    MAX_CAPTION,
    SKIP_TAGS,
    caption_class,
)
from crawler.extract.xpath import xpath_problem

#: Comments and processing instructions are dropped at parse time, as trafilatura's own loader
#: does: trafilatura given a tree that still holds them cuts a paragraph at the first comment
#: inside it (React pages put ``<!-- -->`` between a paragraph's text runs, so ``When <!-- -->
#: <a>President …</a>`` came out as ``When``: aeb page 702d1d lost 40 % of its text).
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
_WS_RE = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
#: Characters XML 1.0 forbids. libxml2's HTML parser keeps them in the tree, but lxml refuses to
#: set them as text, so trafilatura crashed (ValueError) when it rewrote such a node: U+FFFE
#: from bytes decoded under a wrong UTF-16 label, found by bench/fuzz.py. Vertical tab and form
#: feed are spaces to a reader; the rest carry no text.
_NOT_XML_RE = re.compile(r"[\x00-\x08\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NOT_XML_SPACE_RE = re.compile(r"[\x0b\x0c]")


def clean_space(text: str) -> str:
    """Collapse every kind of space (&nbsp;, ideographic space, zero-width) to one ASCII space."""
    return _WS_RE.sub(" ", text).strip()


def squash(text: str) -> str:
    """Text with all whitespace removed: the key for comparing lines across renderings."""
    return _WS_RE.sub("", text)


@dataclass(frozen=True, slots=True)
class Line:
    """One rendered line of the page: its text and whether it looks like a heading."""

    text: str
    heading: bool = False
    tag: str = ""
    link_ratio: float = 0.0
    """Share of the line's characters inside ``<a>``: near 1 for menus and headline lists."""
    after_image: bool = False
    """An image sits between the previous line and this one (trafilatura loses such tails)."""
    caption: bool = False
    """A short line right under an image that is centered or repeats the image's alt text."""
    key: str = ""
    """The text without whitespace (`squash`), computed once: lines are compared by it often."""


@dataclass(slots=True)
class Page:
    """A parsed page with its rendered lines computed once."""

    tree: Any
    url: str
    lines: list[Line] = field(default_factory=list)
    spans: dict[Any, tuple[int, int]] = field(default_factory=dict)
    """Each block element's ``[start, end)`` range in `lines` (`block_lines`)."""


def parse(text: str, url: str) -> Page:
    """Parse decoded HTML. An XML declaration is stripped: lxml refuses str input that has one."""
    text = _XML_DECL_RE.sub("", text, count=1)
    text = _NOT_XML_SPACE_RE.sub(" ", _NOT_XML_RE.sub("", text))
    text = _drop_premature_end(text)
    if not text.strip():
        raise NotAnArticle("empty page", reason="empty")
    try:
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise NotAnArticle(f"unparsable HTML: {exc}", reason="unparsable") from exc
    page = Page(tree=tree, url=url)
    body = tree.find("body")
    root = body if body is not None else tree
    page.lines = block_lines(root, page.spans)
    page.spans[root] = (0, len(page.lines))
    return page


def _drop_premature_end(text: str) -> str:
    """Remove ``</body>``/``</html>`` that close a page early.

    Server-side includes paste a header fragment with its own ``</html>`` above the article;
    browsers ignore the stray tag and keep rendering, but libxml2 drops everything after it, the
    article included. Pages without such a tag pay one regex search.
    """
    first = END_TAG_RE.search(text)
    if first is None:
        return text
    last_block = None
    for block in BLOCK_START_RE.finditer(text, first.end()):
        last_block = block.start()
    if last_block is None:
        return text
    # End tags and block starts cannot overlap (each begins with its own ``<``), so the end tags
    # that start before the last block are exactly those with a block after them.
    start = first.start()
    return text[:start] + END_TAG_RE.sub("", text[start:last_block]) + text[last_block:]


#: Class attribute -> (caption class, center class). Pages reuse a few dozen class strings over
#: thousands of elements, so each is tested once.
_CLASS_FLAGS: dict[str, tuple[bool, bool]] = {}


_NO_FLAGS = (False, False)


def _class_flags(cls: str) -> tuple[bool, bool]:
    flags = _CLASS_FLAGS.get(cls)
    if flags is None:
        flags = (caption_class(cls), bool(CENTER_CLASS_RE.search(cls)))
        if len(_CLASS_FLAGS) < 10_000:
            _CLASS_FLAGS[cls] = flags
    return flags


def _centered(el: Any, tag: str, center_class: bool) -> bool:
    """Whether a block is centered by ``align``, inline style, a ``*center`` class or <center>."""
    if center_class or tag == "center":
        return True
    align = el.get("align")
    if align and align.lower() == "center":
        return True
    style = el.get("style")
    return bool(style and "center" in style and CENTER_STYLE_RE.search(style))


def _tag(el: Any) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def block_lines(root: Any, spans: dict[Any, tuple[int, int]] | None = None) -> list[Line]:
    """Text of `root` as a reader sees it: one line per block element or ``<br>``.

    Works on lxml.html trees and on trafilatura's output XML alike (its ``head``, ``item``,
    ``row``... are in `BLOCK_TAGS`). A line is a heading when its element is h2-h6 or when all of
    its text sits inside bold markup, the way old CMS templates mark sub-headings. A line is a
    caption when most of it sits in an element classed as one (``image-caption``,
    ``Figure-credit``), or when it directly follows an image, is short, and is centered or
    repeats the image's alt text: the ways CMS editors set captions apart from paragraphs.

    With `spans`, every block element that renders lines gets its ``[start, end)`` range of
    indexes into the result: lines come in document order, so an element's lines are contiguous
    (what the DOM body candidate scores, `crawler.extract.candidates`).
    """
    out: list[Line] = []
    buf: list[str] = []
    bold: list[bool] = []
    # Characters of the current line inside links and inside caption elements.
    counts = [0, 0]
    # Images since the last emitted line: one before any of this line's text, the alt text of
    # the last one, and one after some of its text (which sits above the *next* line).
    image: list[Any] = [False, "", False]

    def flush(tag: str, centered: bool) -> None:
        if not buf:
            return
        text = clean_space("".join(buf))
        if text:
            heading = tag in HEADING_TAGS or (bool(bold) and all(bold))
            key = squash(text)
            total = len(key) or 1
            after_image = bool(image[0])
            caption = counts[1] * 2 > total or (
                after_image
                and len(key) <= MAX_CAPTION
                and (centered or (bool(image[1]) and key == image[1]))
            )
            out.append(
                Line(text, heading, tag, min(1.0, counts[0] / total), after_image, caption, key)
            )
            image[0], image[2] = image[2], False
            if not image[0]:
                image[1] = ""
        buf.clear()
        bold.clear()
        counts[0] = counts[1] = 0

    def add(text: str | None, is_bold: bool, in_link: bool, in_cap: bool) -> None:
        if text:
            buf.append(text)
            if text.strip():
                bold.append(is_bold)
                if in_link or in_cap:
                    n = len(squash(text))
                    counts[0] += n if in_link else 0
                    counts[1] += n if in_cap else 0

    walked = [0]

    def walk(el: Any, bold_: bool, link: bool, cap: bool, block: str, centered: bool) -> None:
        for child in el:
            walked[0] += 1
            if walked[0] % CHECK_EVERY == 0:
                checkpoint()
            tag = child.tag
            tag = tag.lower() if isinstance(tag, str) else ""
            if not tag or tag in SKIP_TAGS:
                # Comments and processing instructions have tails that are page text.
                add(child.tail, bold_, link, cap)
                continue
            if tag in ("br", "lb"):
                flush(block, centered)
                add(child.tail, bold_, link, cap)
                continue
            cls = child.get("class")
            cap_class, center_class = _class_flags(cls) if cls else _NO_FLAGS
            child_cap = cap or cap_class or tag == "figure"
            if tag in IMAGE_TAGS:
                image[2 if bold else 0] = True
                image[1] = squash(child.get("alt") or "")
            elif tag in BLOCK_TAGS:
                flush(block, centered)
                child_centered = centered or _centered(child, tag, center_class)
                start = len(out)
                add(child.text, bold_, link, child_cap)
                walk(child, bold_, link, child_cap, tag, child_centered)
                flush(tag, child_centered)
                if spans is not None and len(out) > start:
                    spans[child] = (start, len(out))
            else:
                child_bold = bold_ or tag in BOLD_TAGS
                child_link = link or tag in ("a", "ref")
                start = len(out)
                add(child.text, child_bold, child_link, child_cap)
                walk(child, child_bold, child_link, child_cap, block, centered)
                if spans is not None and len(out) > start + 1:
                    # An inline element that holds blocks (``<font>`` or ``<span id=text>``
                    # around an old CMS's paragraphs) is a container too. Its first line may
                    # have begun before it; that approximation is harmless to a score.
                    spans[child] = (start, len(out))
            add(child.tail, bold_, link, cap)

    tag = _tag(root)
    add(root.text, False, False, False)
    walk(root, False, False, False, tag, False)
    flush(tag, False)
    return out


def text_of(el: Any) -> str:
    """Single-line text of an element (or an XPath string result)."""
    if isinstance(el, str):
        return clean_space(el)
    if _tag(el) in ("meta",):
        return clean_space(el.get("content") or "")
    return " ".join(line.text for line in block_lines(el))


#: What lxml and cssselect raise for a selector they cannot compile or run. cssselect's
#: `SelectorError` includes valid CSS it cannot translate to XPath, such as parsel's ``p::text``
#: that Scrapy users write; until issue 7 it failed the page with an untyped exception.
_SELECTOR_ERRORS = (etree.XPathError, SelectorError, ValueError, SyntaxError)


#: The prefix of the functions lxml binds itself for its CSS translation (``:contains()``).
_LXML_CSS_PREFIX = frozenset({"__lxml_internal_css"})


def compile_selector(selector: str) -> Callable[[Any], Any]:
    """A per-site selector compiled: XPath when it starts with ``/`` or ``(``, CSS otherwise.
    Raises `ExtractionError` (``bad_selector``); site configs call it when they load.

    What lxml compiles but cannot run on any page is refused too (`xpath_problem`): namespace
    prefixes (``php:function``), variables, functions outside XPath 1.0's core library; for
    CSS, its translation to XPath (a namespace ``svg|title``)."""
    run: Callable[[Any], Any]
    try:
        if selector.lstrip().startswith(("/", "(")):
            run = etree.XPath(selector)
            problem = xpath_problem(selector)
        else:
            run = css = CSSSelector(selector)
            problem = xpath_problem(css.path, _LXML_CSS_PREFIX)
        if problem is not None:
            raise ValueError(problem)
    except _SELECTOR_ERRORS as exc:
        raise _bad_selector(selector, exc) from exc
    return run


def select(tree: Any, selector: str) -> list[Any]:
    """Elements (or strings) matching a per-site selector (`compile_selector`). A broken
    selector is a site-config error worth surfacing loudly."""
    run = compile_selector(selector)
    try:
        result = run(tree)
    except _SELECTOR_ERRORS as exc:
        raise _bad_selector(selector, exc) from exc
    return list(result) if isinstance(result, list) else [str(result)]


def _bad_selector(selector: str, exc: Exception) -> ExtractionError:
    return ExtractionError(f"bad selector {selector!r}: {exc}", reason="bad_selector")


#: Each page's meta index, built once: fields look up meta tags about twenty times per page.
_META_INDEX: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def _meta_index(tree: Any) -> dict[str, list[str]]:
    index = _META_INDEX.get(tree)
    if index is None:
        index = {}
        for meta in tree.iter("meta"):
            content = clean_space(meta.get("content") or "")
            if not content:
                continue
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = meta.get(attr)
                if key:
                    index.setdefault(key.strip().lower(), []).append(content)
        _META_INDEX[tree] = index
    return index


def meta_values(tree: Any, names: tuple[str, ...]) -> Iterator[str]:
    """Non-empty ``content`` of ``<meta name|property|itemprop=...>`` in the order of `names`."""
    index = _meta_index(tree)
    for name in names:
        yield from index.get(name.lower(), ())


def first_meta(tree: Any, names: tuple[str, ...]) -> str | None:
    return next(meta_values(tree, names), None)
