"""The last pass over body lines: drop portal chrome, lift bylines and leads out of the text.

trafilatura finds the article container well but keeps what old CMS templates put inside it:
the 来源/日期 info line, ``(责任编辑:…)``, a font-size widget's ``cm``, 上一篇/下一篇 links. These
are recognisable line by line, so the rules here are per-line patterns from `patterns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.extract.dom import squash
from crawler.extract.patterns import (
    BYLINE_LINE_RES,
    CHROME_LINE_RES,
    CJK_DATE_RE,
    EN_DATE_WORDS_RE,
    EN_DMY_RE,
    EN_MDY_RE,
    INFO_LABEL_RE,
    LEAD_RE,
    MAX_INFO_LINE,
    MIN_NAV_SEPARATORS,
    NOT_NAMES,
    NUMERIC_DATE_RE,
    STOP_LINE_RES,
    STOP_MIN_SHARE,
    STRAY_LATIN_RE,
    TRAILING_BYLINE_RE,
)

_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_NAV_SPLIT_RE = re.compile(r"\s*[|｜]\s*")
#: A byline line is short; a longer line starting with 记者 is a sentence about a reporter.
MAX_BYLINE_LINE = 30
#: Bylines sit within the first or last few lines (after a 原标题 note, before an editor line).
BYLINE_EDGE = 3


def is_cjk_text(text: str) -> bool:
    """True when Han characters make up a fair share of the letters (a Chinese page)."""
    sample = text[:5000]
    letters = sum(ch.isalpha() for ch in sample)
    return letters > 0 and len(_CJK_RE.findall(sample)) >= 0.3 * letters


_DATE_RES = (NUMERIC_DATE_RE, CJK_DATE_RE, EN_MDY_RE, EN_DMY_RE)


def _has_date(text: str) -> bool:
    return any(rx.search(text) for rx in _DATE_RES)


def is_info_line(text: str) -> bool:
    """The 来源/日期/作者 line under a headline, or a bare date line."""
    if len(text) > MAX_INFO_LINE:
        return False
    labels = len(INFO_LABEL_RE.findall(text))
    if labels >= 2 or (labels == 1 and _has_date(text)):
        return True
    # A line that is only a date and time (``2020-10-03 21:26``) says nothing a reader needs.
    stripped = EN_DATE_WORDS_RE.sub("", text)
    for rx in _DATE_RES:
        stripped = rx.sub("", stripped)
    stripped = stripped.strip(" |/-:：,")
    return _has_date(text) and len(stripped) <= 4


def is_nav_line(text: str) -> bool:
    """Footer/menu links rendered as ``返回首页 | 关于我们 | …``: many short items."""
    parts = [p for p in _NAV_SPLIT_RE.split(text) if p]
    if len(parts) <= MIN_NAV_SEPARATORS:
        return False
    return sum(len(p) for p in parts) / len(parts) <= 8


def is_chrome(text: str, cjk: bool) -> bool:
    """True when a whole line is portal furniture rather than article text."""
    if any(rx.search(text) for rx in CHROME_LINE_RES):
        return True
    if is_info_line(text) or is_nav_line(text):
        return True
    return cjk and bool(STRAY_LATIN_RE.match(text))


def byline_of(text: str) -> str | None:
    """The name(s) in a byline line (``记者 张三``, ``文/李四``, ``By Jane Doe``), else None."""
    if len(text) > MAX_BYLINE_LINE:
        return None
    for rx in BYLINE_LINE_RES:
        m = rx.match(text.strip())
        if m:
            return normalize_names(m.group(1))
    return None


def normalize_names(names: str) -> str:
    """Several names joined the one way: ``张三、李四`` (Latin names keep their spaces)."""
    if re.search(r"[A-Za-z]", names):
        return " ".join(names.split())
    parts = [p for p in re.split(r"[\s、,，]+", names.strip()) if p]
    return "、".join(parts)


def split_trailing_byline(text: str) -> tuple[str, str | None]:
    """``…局面。(王法)`` -> (``…局面。``, ``王法``); a line without one comes back unchanged."""
    m = TRAILING_BYLINE_RE.search(text)
    if not m or m.group(1) in NOT_NAMES:
        return text, None
    return text[: m.start()].rstrip(), normalize_names(m.group(1))


@dataclass(slots=True)
class Cleaned:
    lines: list[str]
    author: str | None = None
    lead: str | None = None


def cut_at_stop(lines: list[str]) -> list[str]:
    """Everything from the first end-of-article marker on, past half the body, is not article."""
    total = sum(len(line) for line in lines) or 1
    seen = 0
    for i, line in enumerate(lines):
        if seen >= STOP_MIN_SHARE * total and any(rx.search(line.strip()) for rx in STOP_LINE_RES):
            return lines[:i]
        seen += len(line)
    return lines


def clean_body(lines: list[str], title: str | None, lead: str | None) -> Cleaned:
    """Drop chrome lines, take a byline at either end into ``author`` and a 导读 into ``lead``.

    The headline and the lead are dropped when the extractor kept them, so the body never starts
    with text the record already holds in another field.
    """
    cjk = is_cjk_text("".join(lines))
    title_key = squash(title) if title else None
    lead_key = squash(lead) if lead else None
    kept = [t.strip() for t in cut_at_stop(lines) if t.strip()]
    # Portals often print the lead box and then open the article with the very same paragraph.
    # Only a repeated copy is the lead box; a single line equal to the lead is the paragraph.
    lead_copies = sum(1 for t in kept if lead_key and squash(t) == lead_key)
    out = Cleaned(lines=[])
    for text in kept:
        key = squash(text)
        if key == title_key:
            continue
        if lead_key and key == lead_key and lead_copies > 1:
            lead_copies -= 1
            continue
        m = LEAD_RE.match(text)
        if m and (len(text) < 400):
            out.lead = out.lead or m.group(1).strip()
            continue
        if is_chrome(text, cjk):
            continue
        out.lines.append(text)

    # Bylines: a short line at the start or end, or a name in parentheses closing the last line.
    n = len(out.lines)
    for index in [*range(min(BYLINE_EDGE, n)), *range(max(0, n - BYLINE_EDGE), n)]:
        name = byline_of(out.lines[index])
        if name:
            out.author = name
            del out.lines[index]
            break
    if out.lines:
        rest, name = split_trailing_byline(out.lines[-1])
        if name:
            out.author = out.author or name
            if rest:
                out.lines[-1] = rest
            else:
                out.lines.pop()
    return out
