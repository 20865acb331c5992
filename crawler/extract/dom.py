"""The parsed page and the few DOM helpers every other module shares.

The document is parsed once; metadata, dates and body all read the same tree and the same list of
rendered lines, so extraction costs one parse plus trafilatura's own copy.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from crawler.extract.errors import ExtractionError, NotAnArticle
from crawler.extract.patterns import BLOCK_TAGS, BOLD_TAGS, HEADING_TAGS, SKIP_TAGS

_WS_RE = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


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


@dataclass(slots=True)
class Page:
    """A parsed page with its rendered lines computed once."""

    tree: Any
    url: str
    lines: list[Line] = field(default_factory=list)


def parse(text: str, url: str) -> Page:
    """Parse decoded HTML. An XML declaration is stripped: lxml refuses str input that has one."""
    text = _XML_DECL_RE.sub("", text, count=1)
    if not text.strip():
        raise NotAnArticle("empty page", reason="empty")
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise NotAnArticle(f"unparsable HTML: {exc}", reason="unparsable") from exc
    page = Page(tree=tree, url=url)
    body = tree.find("body")
    page.lines = block_lines(body if body is not None else tree)
    return page


def _tag(el: Any) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def block_lines(root: Any) -> list[Line]:
    """Text of `root` as a reader sees it: one line per block element or ``<br>``.

    Works on lxml.html trees and on trafilatura's output XML alike (its ``head``, ``item``,
    ``row``... are in `BLOCK_TAGS`). A line is a heading when its element is h2-h6 or when all of
    its text sits inside bold markup, the way old CMS templates mark sub-headings.
    """
    out: list[Line] = []
    buf: list[str] = []
    bold: list[bool] = []
    linked = [0]

    def flush(tag: str) -> None:
        text = clean_space("".join(buf))
        if text:
            heading = tag in HEADING_TAGS or (bool(bold) and all(bold))
            total = len(squash("".join(buf))) or 1
            out.append(Line(text, heading, tag, min(1.0, linked[0] / total)))
        buf.clear()
        bold.clear()
        linked[0] = 0

    def add(text: str | None, is_bold: bool, in_link: bool) -> None:
        if text:
            buf.append(text)
            if text.strip():
                bold.append(is_bold)
                if in_link:
                    linked[0] += len(squash(text))

    def walk(el: Any, in_bold: bool, in_link: bool, block: str) -> None:
        for child in el:
            tag = _tag(child)
            if not tag or tag in SKIP_TAGS:
                # Comments and processing instructions have tails that are page text.
                add(child.tail, in_bold, in_link)
                continue
            if tag in ("br", "lb"):
                flush(block)
            elif tag in BLOCK_TAGS:
                flush(block)
                add(child.text, in_bold, in_link)
                walk(child, in_bold, in_link, tag)
                flush(tag)
            else:
                child_bold = in_bold or tag in BOLD_TAGS
                child_link = in_link or tag in ("a", "ref")
                add(child.text, child_bold, child_link)
                walk(child, child_bold, child_link, block)
            add(child.tail, in_bold, in_link)

    tag = _tag(root)
    add(root.text, False, False)
    walk(root, False, False, tag)
    flush(tag)
    return out


def text_of(el: Any) -> str:
    """Single-line text of an element (or an XPath string result)."""
    if isinstance(el, str):
        return clean_space(el)
    if _tag(el) in ("meta",):
        return clean_space(el.get("content") or "")
    return " ".join(line.text for line in block_lines(el))


def select(tree: Any, selector: str) -> list[Any]:
    """Elements (or strings) matching a per-site selector: XPath when it starts with ``/`` or
    ``(``, CSS otherwise. A broken selector is a site-config error worth surfacing loudly."""
    try:
        if selector.lstrip().startswith(("/", "(")):
            result = tree.xpath(selector)
            if not isinstance(result, list):
                return [str(result)]
            return list(result)
        return list(CSSSelector(selector)(tree))
    except (etree.XPathError, ValueError, SyntaxError) as exc:
        raise ExtractionError(f"bad selector {selector!r}: {exc}", reason="bad_selector") from exc


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
