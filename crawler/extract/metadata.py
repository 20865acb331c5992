"""Article metadata trafilatura does not give news portals: 来源, editor, breadcrumb category,
site name, lead, tags, language, images and the canonical URL.

Each finder takes the parsed `Page` and returns a value or None; a field the page does not have
stays None (or empty), never a guess dressed up as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.extract.cleanup import byline_of, normalize_names
from crawler.extract.dom import (
    Line,
    Page,
    block_lines,
    clean_space,
    first_meta,
    meta_values,
    squash,
)
from crawler.extract.patterns import (
    AUTHOR_CLASS_RE,
    AUTHOR_LABEL_RE,
    AUTHOR_PLACEHOLDERS,
    BREADCRUMB_LABEL_RE,
    BREADCRUMB_SKIP,
    BREADCRUMB_SPLIT_RE,
    BREADCRUMB_XPATH,
    BYLINE_ORG_RE,
    CARD_XPATH,
    CJK_DATE_RE,
    COPYRIGHT_HOLDER_RE,
    EDITOR_RE,
    HEADER_ANCESTORS,
    HEADER_LINES,
    HEADER_WINDOW,
    HEADLINE_TAGS,
    INFO_LINE_NOISE_RE,
    LEAD_RE,
    META_DESCRIPTION,
    META_IMAGE,
    META_KEYWORDS,
    META_LANGUAGE,
    META_SECTION,
    META_SITE_NAME,
    META_SOURCE,
    META_TITLE,
    NOT_PERSON_RE,
    NOT_PICTURE_TOKENS,
    NUMERIC_DATE_RE,
    ORG_VERIFIED_RE,
    PROSE_LINE_RE,
    SITE_NAME_SUFFIX_RE,
    SOURCE_CLASS_RE,
    SOURCE_PLACEHOLDERS,
    SOURCE_RE,
    TITLE_SEPARATORS_RE,
    YEARLESS_DATE_RE,
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


def title_tag(page: Page) -> str | None:
    """The page's ``<title>`` text, whitespace collapsed, or None."""
    el = page.tree.find(".//title")
    if el is None:
        return None
    return clean_space(el.text_content()) or None


_TAG_TEXT_RE = re.compile(r"<[^>]{0,200}>|[\ue000-\uf8ff]")


def tidy_title(title: str | None) -> str | None:
    """Markup typed into a meta title (``…力量<div>``) and private-use glyphs (icon fonts) are no
    part of a headline."""
    if not title:
        return title
    return clean_space(_TAG_TEXT_RE.sub("", title)) or None


def find_title(page: Page, ld: dict[str, Any]) -> tuple[str | None, int | None]:
    """The headline as shown, and its line index in `page.lines`.

    An ``<h1>`` that also appears in ``<title>``/og:title is the headline (portals put the logo
    in an h1 too, which the cross-check rejects); else og:title or JSON-LD headline; else the
    ``<title>`` minus its site suffix.
    """
    doc_title = title_tag(page) or ""
    meta_title = first_meta(page.tree, META_TITLE) or _ld_name(ld.get("headline")) or ""
    refs = squash(doc_title + "\n" + meta_title)
    h1s = [clean_space(h.text_content()) for h in page.tree.iter("h1")]
    h1s = [h for h in h1s if 1 < len(h) <= MAX_TITLE]
    title = next((h for h in h1s if squash(h) in refs), None)
    # The logo is often the h1 and the headline an h2, both in ``<title>`` (``headline 松花江网``):
    # the longer heading ``<title>`` carries is the headline.
    h2s = [clean_space(h.text_content()) for h in page.tree.iter("h2")]
    longer = [h for h in h2s if 1 < len(h) <= MAX_TITLE and squash(h) in refs]
    if title is not None and longer:
        best = max(longer, key=len)
        if len(squash(best)) > 2 * len(squash(title)):
            title = best
    if title is None and meta_title:
        title = strip_site_suffix(meta_title)
    if title is None and doc_title:
        title = strip_site_suffix(doc_title)
    if title is None and h1s:
        title = h1s[0]
    title = tidy_title(title)
    if not title:
        return None, None
    return title, line_index(page.lines, title)


def _title_refs(page: Page) -> str:
    """``<title>`` and og:title squashed together: what a headline is checked against."""
    return squash((title_tag(page) or "") + (first_meta(page.tree, META_TITLE) or ""))


def confirmed_headline(page: Page, title: str | None) -> bool:
    """Whether `title` is an ``<h1>`` that ``<title>``/og:title also carries (`find_title`'s
    first and surest rule)."""
    if not title:
        return False
    key = squash(title)
    refs = _title_refs(page)
    return key in refs and any(squash(h.text_content()) == key for h in page.tree.iter("h1"))


def body_start(page: Page, body_lines: list[str]) -> int | None:
    """Index in `page.lines` of the body's first line (None when it is not a page line)."""
    for text in body_lines[:3]:
        found = line_index(page.lines, text)
        if found is not None:
            return found
    return None


def headline_above(page: Page, start: int, current: str | None) -> tuple[str, int] | None:
    """A headline found without ``<title>``: a heading line (h1-h3, or all bold) within
    `HEADER_WINDOW` lines above the body, nearest first.

    Used when the headline was not confirmed by an ``<h1>`` matching ``<title>``: a page whose
    ``<title>`` is only the site's name (``松花江网``) then still gets its headline. A heading
    that ``<title>`` contains wins over a nearer one.
    """
    refs = _title_refs(page)
    window = range(max(0, start - HEADER_WINDOW), start)
    found: list[tuple[str, int]] = []
    for i in reversed(window):
        line = page.lines[i]
        text = line.text
        if not (4 <= len(text) <= MAX_TITLE) or line.link_ratio > 0.5 or PROSE_LINE_RE.search(text):
            continue
        if line.tag in ("h1", "h2", "h3") or line.heading:
            found.append((text, i))
    if not found:
        return None
    key = squash(current) if current else ""
    if key and any(squash(t) in key or key in squash(t) for t, _ in found):
        # The headline we have is shown there (whole, or split over several heading lines).
        return None
    for text, i in found:
        if squash(text) in refs:
            return text, i
    return found[0]


def strip_site_name(title: str, names: list[str]) -> str:
    """``播客热潮迅速蔓延 东区办事处`` -> the headline, when ``东区办事处`` is the site's name
    (og:site_name, the copyright holder): a suffix or prefix equal to a known name goes, with
    whatever separator (a space too) stood between."""
    for name in names:
        key = name.strip()
        if len(key) < 2 or key == title:
            continue
        for cut in (title.removesuffix(key), title.removeprefix(key)):
            rest = TITLE_SEPARATORS_RE.sub(" ", cut).strip(" -_|｜»·:：")
            if cut != title and len(rest) >= 4:
                return rest
    return title


def line_index(lines: list[Line], text: str) -> int | None:
    key = squash(text)
    for i, line in enumerate(lines):
        if (line.key or squash(line.text)) == key:
            return i
    for i, line in enumerate(lines):
        if key and key in (line.key or squash(line.text)):
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
    doc_title = title_tag(page)
    if doc_title and title and squash(title) in squash(doc_title):
        parts = [p.strip() for p in TITLE_SEPARATORS_RE.split(doc_title) if p.strip()]
        rest = [p for p in parts if squash(p) not in squash(title)]
        if rest and len(parts) > 1:
            # The site is the last segment (``headline_channel_site``).
            return _tidy_site_name(rest[-1])
        tail = clean_space(doc_title).removeprefix(clean_space(title)).strip()
        if tail and tail != clean_space(doc_title) and len(tail) <= 30:
            # ``headline 松花江网``: a space is the only separator.
            return _tidy_site_name(tail)
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


# --- the header under the headline: info line, author card, publisher ---------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """The account a platform page shows in its author card (Baijiahao, 澎湃号, 企鹅号)."""

    name: str
    publisher: bool
    """Verified as an organisation (or named like one): the 来源, not the writer."""


class Header:
    """What the page shows between the headline and the article.

    The author card and the source element are looked up in the DOM only when asked for: most
    pages name their writer and label their 来源, and never need them.
    """

    __slots__ = ("_cards", "_page", "_title_index", "chinese", "lines")

    def __init__(
        self, page: Page | None, title_index: int | None, lines: list[Line], chinese: bool
    ) -> None:
        self._page = page
        self._title_index = title_index
        self._cards: tuple[Account | None, str | None] | None = None
        self.lines = lines
        # Author cards and unlabelled info lines are Chinese portal and platform conventions; on
        # English pages the same classes hold "By …", dates and "View author archive" links.
        self.chinese = chinese

    def _lookup(self) -> tuple[Account | None, str | None]:
        if self._cards is None:
            if self._page is None or self._title_index is None or not self.chinese:
                self._cards = (None, None)
            else:
                self._cards = _cards(self._page, self._title_index, self.lines)
        return self._cards

    @property
    def account(self) -> Account | None:
        """The account in the author card (``author-name``, ``news_paike_author``)."""
        return self._lookup()[0]

    @property
    def source(self) -> str | None:
        """The text of an element the template classes as the source (``a_source``)."""
        return self._lookup()[1]


_DATE_RES = (NUMERIC_DATE_RE, CJK_DATE_RE, YEARLESS_DATE_RE)
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
#: A label in front of a value (``发布时间：``); times (``04:04``) have digits before the colon.
_LABEL_COLON_RE = re.compile(r"[\u4e00-\u9fffA-Za-z]\s*[:：]")


def _has_date(text: str) -> bool:
    return any(rx.search(text) for rx in _DATE_RES)


def _plain_name(text: str) -> bool:
    """A bare account or publisher name: short, no label, no date, not a placeholder."""
    return (
        2 <= len(text) <= 20
        and not _LABEL_COLON_RE.search(text)
        and not _has_date(text)
        and text not in AUTHOR_PLACEHOLDERS
        and text not in SOURCE_PLACEHOLDERS
        and not text.isdigit()
    )


def find_header(page: Page, title_index: int | None, title: str | None = None) -> Header:
    """The lines under the headline, up to the first line of prose."""
    if title is None and title_index is not None:
        title = page.lines[title_index].text
    chinese = bool(title and _CJK_RE.search(title))
    if title_index is None:
        return Header(None, None, [], chinese)
    zone = page.lines[title_index + 1 : title_index + 1 + HEADER_LINES]
    # The header ends where the article starts: the first line that reads like prose.
    cut = next((i for i, line in enumerate(zone) if PROSE_LINE_RE.search(line.text)), len(zone))
    return Header(page, title_index, zone[:cut], chinese)


def _cards(page: Page, title_index: int, zone: list[Line]) -> tuple[Account | None, str | None]:
    """The author card and the source element shown in the header lines.

    Templates class the elements that hold the author and the publisher (``author-name``,
    ``news_paike_author``, ``a_source``, ``media-user``); comments and related lists reuse those
    classes, so an element counts only when its text is shown in the header lines. One XPath
    over the box around the headline; only the few short candidates are rendered.
    """
    keys = [squash(line.text) for line in zone]
    account: Account | None = None
    source: str | None = None
    box = _headline_box(page, title_index)
    for el in box.xpath(CARD_XPATH) if box is not None else ():
        marks = f"{el.get('class') or ''} {el.get('id') or ''}"
        wants_author = account is None and AUTHOR_CLASS_RE.search(marks)
        wants_source = source is None and SOURCE_CLASS_RE.search(marks)
        if not (wants_author or wants_source):
            continue
        text = squash(el.text_content())
        if len(text) < 2 or len(text) > 80 or not any(text[:2] in key for key in keys):
            continue
        lines = block_lines(el)
        name = lines[0].text if lines else ""
        if not _plain_name(name) or not any(squash(name) in key for key in keys):
            continue
        if wants_author:
            rest = " ".join(line.text for line in lines[1:])
            publisher = bool(ORG_VERIFIED_RE.search(rest) or NOT_PERSON_RE.search(name))
            account = Account(name, publisher)
        else:
            source = name
        if account and source:
            break
    return account, source


def _headline_box(page: Page, title_index: int) -> Any:
    """The element a few levels above the headline, where templates put the header."""
    key = squash(page.lines[title_index].text)
    for el in page.tree.iter(*HEADLINE_TAGS):
        if squash(el.text_content()) == key:
            box = el
            for _ in range(HEADER_ANCESTORS):
                parent = box.getparent()
                if parent is None or parent.tag == "html":
                    break
                box = parent
                if parent.tag == "body":
                    # A headline straight under <body>: its header is a sibling, in the body.
                    break
            return box
    return None


def _labelled_source(lines: list[Line]) -> str | None:
    """The first 来源 label's value that names a publisher (``来源：网络`` does not)."""
    for line in lines:
        for m in SOURCE_RE.finditer(line.text):
            value = m.group(1).strip()
            if value and value not in SOURCE_PLACEHOLDERS:
                return value
    return None


def _unlabelled_source(zone: list[Line], author: str | None) -> str | None:
    """The publisher shown without a label under the headline.

    ``2019年09月07日 04:04 北京日报`` (Sina), ``原创 南方都市报 2019-09-09 16:01`` (Toutiao),
    ``2019-09-05 11:10 游民星空[整理]``: a date and one name. ``石佳/中国青年报`` or ``新华社`` on
    a line beside the date (The Paper): a publisher-like name. Several names beside the date are
    the writers (``2020-06-05 20:35 叨叨姐 胡一刀``), and so is a name equal to the byline.
    """
    head = zone[:4]
    writer = squash(author) if author else None
    for i, line in enumerate(head):
        text = line.text
        if len(text) > 60 or _LABEL_COLON_RE.search(text):
            continue
        if _has_date(text):
            rest = text
            for rx in _DATE_RES:
                rest = rx.sub(" ", rest)
            tokens = INFO_LINE_NOISE_RE.sub(" ", rest).split()
            if len(tokens) == 1 and _plain_name(tokens[0]) and squash(tokens[0]) != writer:
                return tokens[0]
            continue
        m = BYLINE_ORG_RE.match(text)
        near = head[max(0, i - 1) : i] + head[i + 1 : i + 2]
        if m and any(_has_date(n.text) for n in near):
            return m.group(1)
    return None


def find_source(
    page: Page, title_index: int | None, header: Header | None = None, author: str | None = None
) -> str | None:
    """The 来源 publisher.

    A label under the headline; else the element the template classes as the source; else a
    label further down (a reprint's ``来源：无锡交警`` at the end of the text) or, failing that,
    anywhere (the sidebar above can carry others); else the unlabelled name on the info line;
    else what the page declares in meta.
    """
    header = header or find_header(page, title_index)
    start = title_index or 0
    found = (
        _labelled_source(header.lines)
        or header.source
        or _labelled_source(page.lines[start:])
        or (_labelled_source(page.lines[:start]) if start else None)
        or (_unlabelled_source(header.lines, author) if header.chinese else None)
    )
    return found or first_meta(page.tree, META_SOURCE)


def find_editor(page: Page, title_index: int | None) -> str | None:
    """责任编辑; an empty ``(责任编辑:)`` means no editor, hence None."""
    found = _search_lines(page.lines, title_index or 0, EDITOR_RE)
    found = (found or "").strip(" )）]】")
    return found or None


def find_author(page: Page, title_index: int | None) -> str | None:
    """A labelled 作者/记者 or a byline line just under the headline (``作者：未知`` is none)."""
    start = title_index or 0
    for line in page.lines[start : start + LEAD_LINES_AFTER_TITLE]:
        m = AUTHOR_LABEL_RE.search(line.text)
        if m and m.group(1) not in AUTHOR_PLACEHOLDERS:
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


def on_domains(url: str, domains: Sequence[str]) -> bool:
    """Whether `url`'s host is one of `domains` or below one (``news.example.com`` is on
    ``example.com``)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for domain in domains:
        d = domain.lower().strip().lstrip(".").rstrip(".")
        if d and (host == d or host.endswith("." + d)):
            return True
    return False


#: Second-level labels under a country code that are registries, not sites: the site of
#: ``news.sina.com.cn`` is ``sina.com.cn``, not ``com.cn``.
_REGISTRY_LABELS = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "or", "ne", "go"})


def site_domain(host: str) -> str:
    """The domain a host's site is registered under (``www.bjd.example.cn`` ->
    ``example.cn``, ``news.sina.com.cn`` -> ``sina.com.cn``): with no configured domains, a
    canonical URL under it is the same site's (``m.`` and ``www.`` variants of a page)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2 or all(part.isdigit() for part in labels):
        return host
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _REGISTRY_LABELS else 2
    return ".".join(labels[-keep:])


def public_suffix(domain: str) -> bool:
    """Whether ``domain`` is a top-level domain (``com``, ``cn``) or a registry under a country
    code (``com.cn``, ``co.uk``): no site's own domain. ``localhost`` is a host."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) == 1:
        return labels[0] != "localhost"
    return len(labels) == 2 and len(labels[1]) == 2 and labels[0] in _REGISTRY_LABELS


def article_key(page: Page, domains: Sequence[str]) -> tuple[str, str | None]:
    """The article's key URL and the canonical URL the page declares.

    A canonical on the site's own domains is the key: URL variants of one page (tracking
    parameters, mobile paths) merge. A canonical off them names another publisher (a syndicated
    copy on sina or ifeng names the original): the article still belongs to the URL it was
    crawled from, and the canonical is kept beside it.
    """
    declared = find_canonical(page)
    canonical = declared if declared != page.url else None
    own = domains or (site_domain(urlsplit(page.url).hostname or ""),)
    if canonical is None or on_domains(canonical, own):
        return declared, canonical
    return page.url, canonical


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
    """The body's pictures, without icons, QR codes, avatars and emoji (`NOT_PICTURE_TOKENS` in
    the file name or path). og:image comes first when the body shows it too: it is the picture
    the portal chose for the story; alone it is often the site's logo or a share card."""
    body: list[str] = []
    for src in body_images:
        full = absolute(src, page.url)
        if full and full not in body and not _not_a_picture(full):
            body.append(full)
    declared = [absolute(src, page.url) for src in meta_values(page.tree, META_IMAGE)]
    first = [d for d in declared if d and d in body][:1]
    return tuple(dict.fromkeys([*first, *body]))


_URL_TOKEN_RE = re.compile(r"[a-z]+|\d+")


def _not_a_picture(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return bool(set(_URL_TOKEN_RE.findall(path)) & NOT_PICTURE_TOKENS) or path.endswith(".svg")


def plausible_lead(
    lead: str | None, title: str | None, body: str, site_names: Sequence[str] = ()
) -> str | None:
    """A lead from the page's description meta, unless it is no standfirst: the headline again,
    the body's opening cut off (an automatic excerpt), or too short to say anything."""
    if not lead:
        return None
    key = squash(lead).rstrip(".…。")
    if len(key) < 10:
        return None
    if title and (key == squash(title) or key in squash(title)):
        return None
    if squash(body).startswith(key[: max(10, int(len(key) * 0.9))]):
        return None
    if title and squash(title) in key:
        # ``电力,利益集团左右电力体制改革 …``: keywords and the headline, not a standfirst.
        return None
    parts = [p for p in re.split(r"[,，、|｜;；]", lead) if p.strip()]
    if len(parts) >= 3 and max(len(p.strip()) for p in parts) <= 8:
        return None  # a keyword list
    for name in site_names:
        if name and len(name) >= 2 and lead.lstrip().startswith(name):
            return None  # the site describing itself (``松花江网，是经…批准的新闻网站``)
    return lead
