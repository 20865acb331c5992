"""Body text: trafilatura finds the article container, we restore what it drops.

trafilatura is tuned for the Western web and can drop short lines inside the article: on news
portals those are the sub-headings (``南下:走出去 驻下来``). We therefore map its paragraphs back
onto the page's own rendered lines and re-insert the short heading-like lines that sit between
two paragraphs it kept. A per-site ``body`` selector replaces the heuristics altogether.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trafilatura
from trafilatura.settings import use_config

from crawler.extract.dom import Line, Page, block_lines, select, squash

#: Longest line we re-insert between two kept paragraphs: sub-headings are short, while a long
#: dropped line is more likely something trafilatura was right to drop (a caption, an ad blurb).
MAX_RESTORED_LINE = 40
#: A kept line whose text is at least this share link text is a headline list or menu item.
MAX_LINK_RATIO = 0.6
#: Shortest link text counted as a headline when testing flattened lines for link text.
MIN_LINK_TEXT = 4
#: A gap of more dropped lines than this between two kept paragraphs is a widget (related-news
#: box, image gallery), not a sub-heading.
MAX_GAP = 2


#: Below MIN_EXTRACTED_SIZE (default 250 characters) trafilatura gives up on its own result and
#: falls back to the whole page's text flattened into one line. On news portals a short result
#: is usually a genuine brief, so the floor is lowered: the brief reaches validation, which drops
#: it as too short (a reason the user can act on) instead of "not an article". On the zh truth
#: pages this also raised mean body F1 from 0.923 to 0.926.
MIN_EXTRACTED_SIZE = "10"


def _config() -> Any:
    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", MIN_EXTRACTED_SIZE)
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", MIN_EXTRACTED_SIZE)
    return config


_CONFIG = _config()


@dataclass(slots=True)
class RawBody:
    lines: list[str]
    images: list[str] = field(default_factory=list)


def from_selector(page: Page, selector: str) -> RawBody:
    """The text of every element the site's body selector matches, in document order."""
    lines: list[str] = []
    images: list[str] = []
    for el in select(page.tree, selector):
        if isinstance(el, str):
            lines.extend(p for p in el.splitlines() if p.strip())
            continue
        lines.extend(line.text for line in block_lines(el))
        images.extend(img.get("src") for img in el.iter("img") if img.get("src"))
    return RawBody(lines, images)


def from_trafilatura(page: Page) -> RawBody:
    """trafilatura's paragraphs, with dropped sub-headings restored from the page."""
    postbody = _bare_body(page)
    if postbody is None:
        return RawBody([])
    images = [g.get("src") for g in postbody.iter("graphic") if g.get("src")]
    lines = [line.text for line in block_lines(postbody)]
    return RawBody(restore_dropped(lines, page.lines, page.tree), images)


def _bare_body(page: Page) -> Any:
    doc = trafilatura.bare_extraction(
        page.tree,
        url=page.url,
        # Metadata is ours (portals need 来源, editor, …); skipping trafilatura's saves time.
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        # Images are collected for the record, and bold markup marks sub-headings.
        include_images=True,
        include_formatting=True,
        # Neither favor_precision (drops most of a 163.com article) nor favor_recall (pulls in
        # sidebars): the default balance, with our link-density and stop-marker passes after it.
        config=_CONFIG,
    )
    # as_dict=False (the default) returns a Document whose ``body`` is the output XML tree.
    return getattr(doc, "body", None)


def _link_texts(tree: Any) -> set[str]:
    """Squashed texts of the page's links, long enough to be headlines rather than 更多 / >>."""
    out: set[str] = set()
    for a in tree.iter("a"):
        key = squash(a.text_content())
        if len(key) >= MIN_LINK_TEXT:
            out.add(key)
    return out


def _mostly_links(text: str, links: set[str]) -> bool:
    """trafilatura's fallback can flatten a headline list into one line that matches no page
    line; it is still link text, which is what we test here."""
    key = squash(text)
    covered = sum(len(link) for link in links if link in key)
    return covered >= MAX_LINK_RATIO * len(key)


def restore_dropped(kept: list[str], page_lines: list[Line], tree: Any = None) -> list[str]:
    """Re-insert short heading-like page lines that fall between two kept lines.

    Kept lines are matched to page lines in order; link-dominated ones are dropped. Lines are matched to page lines in order; a page line is only restored when it sits
    in a small gap between two matches and looks like a sub-heading (heading tag or all bold,
    the way CMS templates mark sub-headings).
    """
    keys = [squash(k) for k in kept]
    positions: list[int | None] = []
    cursor = 0
    page_keys = [squash(line.text) for line in page_lines]
    for key in keys:
        found = None
        for j in range(cursor, len(page_keys)):
            if page_keys[j] == key:
                found = j
                break
        positions.append(found)
        if found is not None:
            cursor = found + 1
    out: list[str] = []
    previous: int | None = None
    links: set[str] | None = None
    for text, pos in zip(kept, positions, strict=True):
        if pos is not None and page_lines[pos].link_ratio >= MAX_LINK_RATIO:
            # Related-news lists and menus are links; article paragraphs are not.
            continue
        if pos is None and tree is not None:
            links = _link_texts(tree) if links is None else links
            if _mostly_links(text, links):
                continue
        if pos is not None and previous is not None and 0 < pos - previous - 1 <= MAX_GAP:
            out.extend(
                page_lines[j].text for j in range(previous + 1, pos) if _heading_like(page_lines[j])
            )
        out.append(text)
        if pos is not None:
            previous = pos
    return out


def _heading_like(line: Line) -> bool:
    """Only lines marked as headings (h2-h6 or all bold): an unmarked short line in a gap is as
    likely a caption or a widget label as a sub-heading."""
    return line.heading and len(line.text) <= MAX_RESTORED_LINE


def extract_body(page: Page, selectors: Any) -> RawBody:
    selector = selectors.get("body") if selectors else None
    if selector:
        return from_selector(page, selector)
    return from_trafilatura(page)
