"""Article metadata trafilatura does not give news portals: 来源, editor, breadcrumb category,
site name, lead, tags, language, images and the canonical URL.

Each finder takes the parsed `Page` and returns a value or None; a field the page does not have
stays None (or empty), never a guess dressed up as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.extract.cleanup import byline_of, normalize_names
from crawler.extract.dom import Line, Page, clean_space, first_meta, meta_values, squash
from crawler.extract.patterns import (
    AUTHOR_LABEL_RE,
    BREADCRUMB_LABEL_RE,
    BREADCRUMB_SKIP,
    BREADCRUMB_SPLIT_RE,
    BREADCRUMB_XPATH,
    COPYRIGHT_HOLDER_RE,
    EDITOR_RE,
    LEAD_RE,
    META_DESCRIPTION,
    META_IMAGE,
    META_KEYWORDS,
    META_LANGUAGE,
    META_SECTION,
    META_SITE_NAME,
    META_SOURCE,
    META_TITLE,
    SITE_NAME_SUFFIX_RE,
    SOURCE_RE,
    TITLE_SEPARATORS_RE,
)

#: The longest text we accept as a headline; longer "h1"s are whole paragraphs in bad markup.
MAX_TITLE = 200
#: The lead lives above the body; past this many lines after the headline a 摘要 is something else.
LEAD_LINES_AFTER_TITLE = 12
_KEYWORD_SPLIT_RE = re.compile(r"\s*[,，;；、|]\s*")


# --- JSON-LD ------------------------------------------------------------------------------------


def jsonld(page: Page) -> dict[str, Any]:
    """The first NewsArticle-like JSON-LD object (merged over @graph), or {}."""
    for script in page.tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        for obj in _objects(data):
            kind = obj.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and ("Article" in k or k == "Report") for k in kinds):
                return obj
    return {}


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _objects(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _objects(data["@graph"])


def _ld_name(value: Any) -> str | None:
    if isinstance(value, str):
        return clean_space(value) or None
    if isinstance(value, dict):
        return _ld_name(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_ld_name(v) for v in value) if n]
        return "、".join(names) if names else None
    return None


# --- title and site name ------------------------------------------------------------------------


def _title_tag(page: Page) -> str | None:
    el = page.tree.find(".//title")
    if el is None:
        return None
    return clean_space(el.text_content()) or None


def find_title(page: Page, ld: dict[str, Any]) -> tuple[str | None, int | None]:
    """The headline as shown, and its line index in `page.lines`.

    An ``<h1>`` that also appears in ``<title>``/og:title is the headline (portals put the logo
    in an h1 too, which the cross-check rejects); else og:title or JSON-LD headline; else the
    ``<title>`` minus its site suffix.
    """
    doc_title = _title_tag(page) or ""
    meta_title = first_meta(page.tree, META_TITLE) or _ld_name(ld.get("headline")) or ""
    refs = squash(doc_title + "\n" + meta_title)
    h1s = [clean_space(h.text_content()) for h in page.tree.iter("h1")]
    h1s = [h for h in h1s if 1 < len(h) <= MAX_TITLE]
    title = next((h for h in h1s if squash(h) in refs), None)
    if title is None and meta_title:
        title = strip_site_suffix(meta_title)
    if title is None and doc_title:
        title = strip_site_suffix(doc_title)
    if title is None and h1s:
        title = h1s[0]
    if not title:
        return None, None
    return title, line_index(page.lines, title)


def line_index(lines: list[Line], text: str) -> int | None:
    key = squash(text)
    for i, line in enumerate(lines):
        if squash(line.text) == key:
            return i
    for i, line in enumerate(lines):
        if key and key in squash(line.text):
            return i
    return None


def strip_site_suffix(title: str) -> str:
    """``驻蹲开放前沿,引进优强企业_法制晨报`` -> the headline (the longest segment)."""
    parts = [p for p in TITLE_SEPARATORS_RE.split(title) if p.strip()]
    if len(parts) < 2:
        return title.strip()
    return max(parts, key=len).strip()


def _tidy_site_name(name: str | None) -> str | None:
    if not name:
        return None
    name = SITE_NAME_SUFFIX_RE.sub("", clean_space(name)).strip(" -_|")
    return name or None


def find_site_name(page: Page, title: str | None) -> str | None:
    """og:site_name, else what ``<title>`` adds to the headline, else the copyright holder."""
    name = first_meta(page.tree, META_SITE_NAME)
    if name:
        return _tidy_site_name(name)
    doc_title = _title_tag(page)
    if doc_title and title and squash(title) in squash(doc_title):
        parts = [p.strip() for p in TITLE_SEPARATORS_RE.split(doc_title) if p.strip()]
        rest = [p for p in parts if squash(p) not in squash(title)]
        if rest:
            # The site is the last segment (``headline_channel_site``).
            return _tidy_site_name(rest[-1])
    for line in reversed(page.lines):
        m = COPYRIGHT_HOLDER_RE.search(line.text)
        if m:
            return _tidy_site_name(m.group(1))
    return None


# --- labelled fields in the page text -----------------------------------------------------------


def _search_lines(lines: list[Line], start: int, rx: re.Pattern[str]) -> str | None:
    for line in lines[start:]:
        m = rx.search(line.text)
        if m:
            return m.group(1).strip()
    return None


def find_source(page: Page, title_index: int | None) -> str | None:
    """The 来源 publisher, searched from the headline down (the sidebar above can carry others)."""
    found = _search_lines(page.lines, title_index or 0, SOURCE_RE)
    if found is None and title_index:
        found = _search_lines(page.lines, 0, SOURCE_RE)
    return found or first_meta(page.tree, META_SOURCE)


def find_editor(page: Page, title_index: int | None) -> str | None:
    """责任编辑; an empty ``(责任编辑:)`` means no editor, hence None."""
    found = _search_lines(page.lines, title_index or 0, EDITOR_RE)
    found = (found or "").strip(" )）]】")
    return found or None


def find_author(page: Page, title_index: int | None) -> str | None:
    """A labelled 作者/记者 or a byline line just under the headline."""
    start = title_index or 0
    for line in page.lines[start : start + LEAD_LINES_AFTER_TITLE]:
        m = AUTHOR_LABEL_RE.search(line.text)
        if m:
            return normalize_names(m.group(1))
        name = byline_of(line.text)
        if name:
            return name
    return None


def ld_author(ld: dict[str, Any]) -> str | None:
    return _ld_name(ld.get("author"))


def find_lead(page: Page, title_index: int | None) -> str | None:
    """A 导读/摘要 shown under the headline, else the page's description."""
    start = title_index or 0
    for line in page.lines[start : start + LEAD_LINES_AFTER_TITLE]:
        m = LEAD_RE.match(line.text)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return first_meta(page.tree, META_DESCRIPTION)


def find_category(page: Page, title: str | None) -> str | None:
    """article:section, else the last breadcrumb item that is neither 首页, 正文 nor the title."""
    section = first_meta(page.tree, META_SECTION)
    if section:
        return section
    crumbs: list[str] = []
    for line in page.lines:
        m = BREADCRUMB_LABEL_RE.search(line.text)
        if m:
            crumbs.append(line.text[m.end() :])
            break
    if not crumbs:
        crumbs = [clean_space(el.text_content()) for el in page.tree.xpath(BREADCRUMB_XPATH)]
    title_key = squash(title) if title else ""
    for crumb in crumbs:
        items = [clean_space(i) for i in BREADCRUMB_SPLIT_RE.split(crumb)]
        items = [
            i
            for i in items
            if i and i not in BREADCRUMB_SKIP and squash(i) != title_key and len(i) <= 20
        ]
        if items:
            return items[-1]
    return None


# --- tags, language, images, canonical ----------------------------------------------------------


def find_tags(page: Page, ld: dict[str, Any]) -> tuple[str, ...]:
    raw = list(meta_values(page.tree, META_KEYWORDS))
    keywords = ld.get("keywords")
    if isinstance(keywords, list):
        raw.extend(k for k in keywords if isinstance(k, str))
    elif isinstance(keywords, str):
        raw.append(keywords)
    tags: list[str] = []
    for value in raw:
        parts = _KEYWORD_SPLIT_RE.split(value)
        if len(parts) == 1 and re.search(r"[\u4e00-\u9fff]", value):
            # Chinese keyword lists are often space-separated; English ones hold multi-word tags.
            parts = value.split()
        for part in parts:
            part = part.strip()
            if part and part not in tags:
                tags.append(part)
    return tuple(tags)


def find_language(page: Page, body: str) -> str | None:
    """``<html lang>`` or a language meta, as a lower-case primary subtag; else a script guess."""
    declared = (
        page.tree.get("lang") or page.tree.get("xml:lang") or first_meta(page.tree, META_LANGUAGE)
    )
    if declared:
        primary = re.split(r"[-_]", declared.strip())[0].lower()
        if re.fullmatch(r"[a-z]{2,3}", primary):
            return primary
    sample = body[:3000]
    letters = sum(ch.isalpha() for ch in sample) or 1
    if len(re.findall(r"[\u3040-\u30ff]", sample)) > 0.05 * letters:
        return "ja"
    if len(re.findall(r"[\uac00-\ud7af]", sample)) > 0.3 * letters:
        return "ko"
    if len(re.findall(r"[\u4e00-\u9fff]", sample)) > 0.3 * letters:
        return "zh"
    return None


def absolute(url: str, base: str) -> str | None:
    """`url` resolved against `base`, only when it is an http(s) URL."""
    try:
        full = urljoin(base, url.strip())
    except ValueError:
        return None
    return full if urlsplit(full).scheme in ("http", "https") else None


def find_canonical(page: Page) -> str:
    """``<link rel=canonical>``, else og:url, resolved against the fetched URL; else the URL."""
    for link in page.tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = link.get("href")
        if "canonical" in rels and href:
            full = absolute(href, page.url)
            if full:
                return full
    og = first_meta(page.tree, ("og:url",))
    if og:
        full = absolute(og, page.url)
        if full:
            return full
    return page.url


def find_images(page: Page, body_images: list[str]) -> tuple[str, ...]:
    """og:image first (the picture a portal chose to represent the story), then body images."""
    out: list[str] = []
    for src in [*meta_values(page.tree, META_IMAGE), *body_images]:
        full = absolute(src, page.url)
        if full and full not in out:
            out.append(full)
    return tuple(out)
