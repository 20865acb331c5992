"""`extract`: one HTML page to one `Article`, as a pure function.

Order of precedence for every field: the site's selector (a human looked at the page), then
what the page declares for machines (meta, JSON-LD), then what it shows readers (labels, the
breadcrumb, bylines). Each step lives in its own module; this one only wires them together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crawler.extract import body as body_mod
from crawler.extract import candidates, dates, metadata
from crawler.extract.candidates import Candidate
from crawler.extract.cleanup import Cleaned, byline_of, chrome_rule, clean_body, normalize_names
from crawler.extract.decode import decode
from crawler.extract.dom import Page, clean_space, first_meta, parse, select, squash, text_of
from crawler.extract.errors import NotAnArticle
from crawler.extract.limits import check_size, checkpoint, time_budget
from crawler.extract.options import ExtractOptions
from crawler.extract.patterns import (
    AUTHOR_PLACEHOLDERS,
    EDITOR_RE,
    LEAD_RE,
    META_AUTHOR,
    META_SITE_NAME,
    NOT_PERSON_RE,
    SOURCE_RE,
)
from crawler.extract.report import Report
from storage.article import Article


def _selected(page: Page, selectors: Mapping[str, str], name: str) -> str | None:
    """Text of the first element a site selector picks for a field, or None."""
    selector = selectors.get(name)
    if not selector:
        return None
    for el in select(page.tree, selector):
        if not isinstance(el, str):
            for attr in ("datetime", "content"):
                value = el.get(attr)
                if name == "published_at" and value:
                    return clean_space(value)
        text = text_of(el)
        if text:
            return text
    return None


def _strip_label(value: str | None, rx: Any) -> str | None:
    """A selector often picks ``来源:光明网``; keep only the value after the label."""
    if value is None:
        return None
    m = rx.search(value)
    return m.group(1).strip() if m else value


def extract(
    html: bytes,
    url: str,
    options: ExtractOptions | None = None,
    *,
    http_encoding: str | None = None,
) -> Article:
    """Turn page bytes into an Article. Raises only `ExtractionError` subclasses.

    ``url`` is the fetched URL (``Article.fetched_url``); the record's ``url`` is the canonical
    one the page declares. ``http_encoding`` is the charset from the Content-Type header, if any.
    Crawl-time fields (``fetched_at`` …) are left for the caller. A page past the options' size
    limits or time budget raises `PageTooLarge` or `ExtractionTimeout` (`crawler.extract.limits`).
    """
    return extract_with_report(html, url, options, http_encoding=http_encoding)[0]


def extract_with_report(
    html: bytes,
    url: str,
    options: ExtractOptions | None = None,
    *,
    http_encoding: str | None = None,
    report: Report | None = None,
) -> tuple[Article, Report]:
    """`extract`, and the `Report` of how: the charset, replaced characters, the body candidate
    chosen and why, and every line a rule removed (``zhengwen extract --explain``). A `report`
    passed in is filled as extraction goes, so it tells how far a failing page got."""
    opts = options or ExtractOptions()
    check_size(html, opts.max_bytes, opts.max_tags)
    report = report if report is not None else Report()
    with time_budget(opts.time_budget):
        return _extract(html, url, opts, http_encoding, report), report


def _extract(
    html: bytes, url: str, opts: ExtractOptions, http_encoding: str | None, report: Report
) -> Article:
    sel = opts.selectors
    # The line-rule cache serves the candidates of one page; a page never profits from the last
    # one's lines (nor would a benchmark that repeats its pages).
    chrome_rule.cache_clear()
    text, report.codec, report.replaced = decode(html, opts.encoding, http_encoding)
    checkpoint()
    page = parse(text, url)
    checkpoint()
    ld = metadata.jsonld(page)
    # Said, not silently replaced by the heuristics below (`zhengwen extract --site` warns, the
    # crawl counts them); the body selector is judged where it is used.
    report.unmatched_selectors = [
        name
        for name, css in sel.items()
        if css and name != "body" and not _selected(page, sel, name)
    ]

    title, title_index = metadata.find_title(page, ld)
    selected_title = _selected(page, sel, "title")
    if selected_title:
        title = selected_title
        title_index = metadata.line_index(page.lines, title)

    lead = _strip_label(_selected(page, sel, "lead"), LEAD_RE) or metadata.find_lead(
        page, title_index
    )
    cleaned, images = _body(page, text, sel, title, lead, report)
    if not "".join(cleaned.lines).strip():
        why = (
            ": the site's body selector matched nothing"
            if "body" in report.unmatched_selectors
            else ""
        )
        raise NotAnArticle(f"no article text on the page{why}", reason="not_article")
    start = metadata.body_start(page, cleaned.lines)
    if start is not None and not selected_title and not metadata.confirmed_headline(page, title):
        # The headline from the header above the body, when <title> alone named it (or named
        # only the site).
        better = metadata.headline_above(page, start, title)
        if better is not None:
            title, title_index = better
            if cleaned.lines and squash(cleaned.lines[0]) == squash(title):
                del cleaned.lines[0]
    names = [n for n in (opts.site_name, first_meta(page.tree, META_SITE_NAME)) if n]
    if title and not selected_title:
        title = metadata.strip_site_name(title, names)
    site_name = opts.site_name or metadata.find_site_name(page, title)
    body = "\n".join(cleaned.lines)
    # A 导读 found only inside the body beats a meta description.
    shown_lead = _shown_lead(page, title_index)
    if cleaned.lead and not _selected(page, sel, "lead") and not shown_lead:
        lead = cleaned.lead
    elif not _selected(page, sel, "lead") and not shown_lead:
        lead = metadata.plausible_lead(
            lead, title, body, [*names, *([site_name] if site_name else [])]
        )

    published = _selected(page, sel, "published_at")
    published_at: datetime | None = (
        dates.parse_date(published, opts.timezone) if published else None
    )
    if published and published_at is None:
        report.unusable_selectors.append("published_at")
    published_at = published_at or dates.find_published(
        page.tree, page.lines, title_index, ld, opts.timezone, url, body_start=start
    )
    updated_at = dates.find_updated(page.tree, page.lines, title_index, ld, opts.timezone)
    checkpoint()

    author, source = _author_and_source(page, sel, title, title_index, ld, cleaned.author)
    editor = _strip_label(_selected(page, sel, "editor"), EDITOR_RE)
    if editor is None:
        editor = metadata.find_editor(page, title_index)
    checkpoint()
    key, canonical = metadata.article_key(page, opts.domains)
    return Article(
        url=key,
        canonical_url=canonical,
        site=opts.site,
        body=body,
        title=title,
        lead=lead,
        published_at=published_at,
        updated_at=updated_at if updated_at != published_at else None,
        source=source,
        author=author,
        editor=editor or None,
        category=_selected(page, sel, "category") or metadata.find_category(page, title),
        site_name=site_name,
        tags=metadata.find_tags(page, ld),
        language=opts.language or metadata.find_language(page, body),
        images=metadata.find_images(page, images),
        fetched_url=url,
    )


def _body(
    page: Page,
    text: str,
    sel: Mapping[str, str],
    title: str | None,
    lead: str | None,
    report: Report,
) -> tuple[Cleaned, list[str]]:
    """The cleaned body lines and the body's images: the site's selector when it has one (a
    human looked at the page), else the candidate `candidates.choose` picks."""
    if sel.get("body"):
        raw = body_mod.from_selector(page, sel["body"])
        if not raw.lines:
            report.unmatched_selectors.append("body")
        checkpoint()
        out = clean_body(raw.lines, title, lead)
        report.candidate, report.reason = "selector", "the site's body selector"
        report.removed, report.kept_by_bound = out.removed, out.kept_by_bound
        return out, raw.images
    cleaned: dict[str, Cleaned] = {}

    def clean(c: Candidate) -> list[str]:
        checkpoint()
        cleaned[c.name] = clean_body(c.lines, title, lead)
        return cleaned[c.name].lines

    primary = body_mod.from_trafilatura(page)
    checkpoint()
    dom = candidates.from_dom(page)
    choice = candidates.choose(
        Candidate("trafilatura", primary.lines, primary.images),
        dom,
        lambda: candidates.from_readability(page),
        clean,
    )
    checkpoint()
    chosen = cleaned[choice.name]
    report.candidate, report.reason, report.scores = choice.name, choice.reason, choice.scores
    report.dom_note = dom.note
    kept = set(choice.lines)
    report.removed = [
        *chosen.removed,
        *(("candidate-trim", line) for line in chosen.lines if line not in kept),
    ]
    report.kept_by_bound = chosen.kept_by_bound
    return Cleaned(choice.lines, chosen.author, chosen.lead), choice.images


def _shown_lead(page: Page, title_index: int | None) -> bool:
    start = title_index or 0
    return any(LEAD_RE.match(line.text) for line in page.lines[start : start + 12])


def _author_and_source(
    page: Page,
    sel: Mapping[str, str],
    title: str | None,
    title_index: int | None,
    ld: dict[str, Any],
    body_author: str | None,
) -> tuple[str | None, str | None]:
    """The writer and the 来源 publisher, decided together because a platform account is one or
    the other.

    The writer: the selector, then a byline near the headline, then one in the body, then the
    account in the author card under the headline (a Baijiahao or 澎湃号 post is written by its
    account), then declared metadata, which comes last because Chinese portals fill
    ``<meta name=author>`` with the site or the CMS account. An account verified as an
    organisation, or one on a page that names its writer, is the publisher instead: it becomes
    the 来源 when the page shows no other.
    """
    header = metadata.find_header(page, title_index, title)
    selected = _selected(page, sel, "author")
    if selected:
        written: str | None = byline_of(selected) or normalize_names(selected)
    else:
        written = metadata.find_author(page, title_index) or body_author
    source = _strip_label(_selected(page, sel, "source"), SOURCE_RE) or metadata.find_source(
        page, title_index, header, written
    )
    # The DOM lookup behind ``header.account`` runs only when the writer or the 来源 is missing.
    account = header.account if written is None or source is None else None
    author = written
    if author is None and account and not account.publisher:
        author = account.name
    if author is None:
        for declared in (metadata.ld_author(ld), first_meta(page.tree, META_AUTHOR)):
            if declared and _plausible_person(declared, page, source, header.chinese):
                author = declared
                break
    if source is None and account and account.name != author:
        source = account.name
    return author, source


def _plausible_person(name: str, page: Page, source: str | None, chinese: bool) -> bool:
    """Reject declared "authors" that are the site, the publisher, a CMS user id or placeholder,
    and, on Chinese pages, one the page never shows its readers: there the field holds the CMS
    account that typed the story in (English sites fill it with the writer, whose byline may be
    drawn by a script the saved page lacks)."""
    if any(ch in name for ch in "@,，-_|/") or len(name) > 40:
        return False
    if NOT_PERSON_RE.search(name) or name in AUTHOR_PLACEHOLDERS or re.search(r"\d", name):
        return False
    key = squash(name).casefold()
    if source and key == squash(source).casefold():
        return False
    site = metadata.find_site_name(page, None) or ""
    if site and (name in site or site in name):
        return False
    return not chinese or key in squash("".join(line.text for line in page.lines)).casefold()
