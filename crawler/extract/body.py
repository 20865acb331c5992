"""Body text: trafilatura finds the article container, we restore what it drops.

trafilatura is tuned for the Western web and can drop short lines inside the article: on news
portals those are the sub-headings (``南下:走出去 驻下来``), and with images on it loses the text
right under a picture. We therefore map its paragraphs back onto the page's own rendered lines,
re-insert what it dropped between two paragraphs it kept, and drop the kept lines the page marks
as captions or link lists. A per-site ``body`` selector replaces the heuristics altogether.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trafilatura
from trafilatura.settings import use_config

from crawler.extract.cleanup import is_stop_line
from crawler.extract.dom import Line, Page, block_lines, select, squash
from crawler.extract.patterns import LIST_DATE_RES

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
    out_lines = block_lines(postbody)
    lines = [line.text for line in out_lines]
    after_image = [line.after_image for line in out_lines]
    return RawBody(restore_dropped(lines, page.lines, page.tree, after_image), images)


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
        # trafilatura's own comparison with its readability and jusText ports is skipped: our
        # candidates (crawler.extract.candidates) are that second opinion, and one run of it
        # costs a fifth of the page.
        fast=True,
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
    line; it is still link text, which is what we test here. Timestamps do not count against
    it: a list item ``headline 2018-03-02 08:58:39`` joins a linked headline with its date."""
    for rx in LIST_DATE_RES:
        text = rx.sub("", text)
    key = squash(text)
    if not key:
        return False
    covered = sum(len(link) for link in links if link in key)
    return covered >= MAX_LINK_RATIO * len(key)


def _positions(keys: list[str], page_lines: list[Line]) -> list[int | None]:
    """Each kept line's page line, matched in order (None when it matches none)."""
    positions: list[int | None] = []
    cursor = 0
    page_keys = [line.key or squash(line.text) for line in page_lines]
    for key in keys:
        found = None
        for j in range(cursor, len(page_keys)):
            if page_keys[j] == key:
                found = j
                break
        positions.append(found)
        if found is not None:
            cursor = found + 1
    return positions


def restore_dropped(
    kept: list[str],
    page_lines: list[Line],
    tree: Any = None,
    after_image: list[bool] | None = None,
) -> list[str]:
    """Put back the page lines trafilatura dropped between two kept lines, drop what it kept
    but the page marks as a link list or a caption.

    Kept lines are matched to page lines in order. Between two matches we restore:

    - short sub-headings (heading tag or all bold, the way CMS templates mark them) in a small
      gap;
    - the text right under a picture: with images on, trafilatura loses the text that follows
      the block holding a picture (WeChat-style posts of ``<br>``-separated lines lose a line
      under every image). When a ``graphic`` precedes the next kept line in its output, the
      gap's lines that directly follow a picture on the page (within `MAX_GAP` lines of the kept
      line) come back, captions and links excepted;
    - a stop marker (``推荐阅读``, ``延伸 · 推荐``) that trafilatura dropped while keeping the
      teasers under it, so that the cleanup's stop pass still sees where the article ends.
    """
    positions = _positions([squash(k) for k in kept], page_lines)
    images = after_image or [False] * len(kept)
    captions = _captions_hold(kept, positions, page_lines)
    out: list[str] = []
    previous: int | None = None
    links: set[str] | None = None
    for text, pos, image in zip(kept, positions, images, strict=True):
        if pos is not None and page_lines[pos].link_ratio >= MAX_LINK_RATIO:
            # Related-news lists and menus are links; article paragraphs are not.
            continue
        if pos is not None and page_lines[pos].caption and captions:
            # Still a landmark: the gap before the next kept line starts after it.
            previous = pos
            continue
        if pos is None and tree is not None:
            links = _link_texts(tree) if links is None else links
            if _mostly_links(text, links):
                continue
        if pos is not None and previous is not None and pos - previous > 1:
            out.extend(_gap_lines(page_lines, previous + 1, pos, image))
        out.append(text)
        if pos is not None:
            previous = pos
    return out


#: Captions are dropped only while they are at most this share of the kept text: a page whose
#: every paragraph is "a caption" has its article in a box named like one (``LeftPhotoInfo``).
MAX_CAPTION_SHARE = 0.5


def _captions_hold(kept: list[str], positions: list[int | None], page_lines: list[Line]) -> bool:
    """Whether the caption rule may apply on this page (it is bounded like every rule)."""
    total = sum(len(k) for k in kept) or 1
    caption = sum(
        len(k)
        for k, pos in zip(kept, positions, strict=True)
        if pos is not None and page_lines[pos].caption
    )
    return caption <= MAX_CAPTION_SHARE * total


def _gap_lines(page_lines: list[Line], start: int, end: int, image: bool) -> list[str]:
    """The page lines worth restoring from a gap ``[start, end)`` between two kept lines."""
    gap = page_lines[start:end]
    stops = [line.text for line in gap if is_stop_line(line.text)]
    if stops:
        return stops[:1]
    if start > 0 and is_stop_line(page_lines[start - 1].text):
        # Under a 相关新闻 label the bold lines are linked headlines, not sub-headings.
        return []
    # Text right under a picture, within MAX_GAP lines of the kept line.
    near = len(gap) - MAX_GAP
    out: list[str] = []
    for i, line in enumerate(gap):
        if line.caption:
            continue
        if image and i >= near and line.after_image and line.link_ratio < MAX_LINK_RATIO:
            out.append(line.text)
        elif len(gap) <= MAX_GAP and _heading_like(line):
            out.append(line.text)
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
