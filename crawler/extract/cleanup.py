"""The last pass over body lines: drop portal chrome, lift bylines and leads out of the text.

trafilatura finds the article container well but keeps what old CMS templates put inside it:
the 来源/日期 info line, ``(责任编辑:…)``, a font-size widget's ``cm``, 上一篇/下一篇 links. These
are recognisable line by line, so the rules here are per-line patterns from `patterns`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from crawler.extract.dom import squash
from crawler.extract.limits import CHECK_EVERY, checkpoint
from crawler.extract.patterns import (
    AUTHOR_PLACEHOLDERS,
    BYLINE_LINE_RES,
    CHROME_LINE_NAMES,
    CHROME_LINE_RES,
    CJK_DATE_RE,
    DATELINE_BYLINE_RE,
    EN_DATE_WORDS_RE,
    EN_DMY_RE,
    EN_MDY_RE,
    INFO_LABEL_RE,
    LEAD_RE,
    MAX_INFO_LINE,
    MAX_RULE_SHARE,
    MIN_NAV_SEPARATORS,
    MIN_RULE_PROSE_LINES,
    NOT_NAMES,
    NOT_PERSON_RE,
    NUMERIC_DATE_RE,
    PROSE_END_RE,
    STOP_LINE_RES,
    STOP_MIN_SHARE,
    STRAY_LATIN_RE,
    TITLE_VARIANT_MAX_RATIO,
    TITLE_VARIANT_MIN_SHARE,
    TRAILING_BYLINE_RE,
)

_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_NAV_SPLIT_RE = re.compile(r"\s*[|｜]\s*")
#: A byline line is short; a longer line starting with 记者 is a sentence about a reporter.
MAX_BYLINE_LINE = 30
#: Bylines sit within the first or last few lines (after a 原标题 note, before an editor line).
BYLINE_EDGE = 3
#: At the top a 划重点 box of three or four bullet points can come before the byline.
BYLINE_HEAD = 6
#: A ``(王法)`` closing the article can be followed by a few lines of promotion the container
#: kept (a WeChat QR-code note, a bookmark dialog); it is looked for this far from the end.
TRAILING_BYLINE_EDGE = 4
#: The dateline paragraph (``新华社巴黎12月9日电（记者唐霁）…``) is the first or, after a promo
#: line, the second or third.
DATELINE_EDGE = 3


def is_cjk_text(text: str) -> bool:
    """True when Han characters make up a fair share of the letters (a Chinese page)."""
    sample = text[:5000]
    letters = sum(ch.isalpha() for ch in sample)
    return letters > 0 and len(_CJK_RE.findall(sample)) >= 0.3 * letters


_DATE_RES = (NUMERIC_DATE_RE, CJK_DATE_RE, EN_MDY_RE, EN_DMY_RE)


def has_date(text: str) -> bool:
    """Whether a line shows a full date (numeric, Chinese, or English month names)."""
    return any(rx.search(text) for rx in _DATE_RES)


def is_info_line(text: str) -> bool:
    """The 来源/日期/作者 line under a headline, or a bare date line."""
    if len(text) > MAX_INFO_LINE:
        return False
    labels = len(INFO_LABEL_RE.findall(text))
    if labels >= 2 or (labels == 1 and has_date(text)):
        return True
    # A line that is only a date and time (``2020-10-03 21:26``) says nothing a reader needs.
    stripped = EN_DATE_WORDS_RE.sub("", text)
    for rx in _DATE_RES:
        stripped = rx.sub("", stripped)
    stripped = stripped.strip(" |/-:：,")
    return has_date(text) and len(stripped) <= 4


def is_nav_line(text: str) -> bool:
    """Footer/menu links rendered as ``返回首页 | 关于我们 | …``: many short items."""
    parts = [p for p in _NAV_SPLIT_RE.split(text) if p]
    if len(parts) <= MIN_NAV_SEPARATORS:
        return False
    return sum(len(p) for p in parts) / len(parts) <= 8


@lru_cache(maxsize=8192)
def chrome_rule(text: str, cjk: bool) -> str | None:
    """The name of the rule that finds a whole line to be portal furniture, else None.

    Cached: every body candidate of a page goes through the cleanup, and they share most lines
    (the cache is cleared for each page, `crawler.extract.core`).
    """
    for name, rx in zip(CHROME_LINE_NAMES, CHROME_LINE_RES, strict=True):
        if rx.search(text):
            return name
    if is_stop_line(text):
        return "stop-marker"
    if is_info_line(text):
        return "info-line"
    if is_nav_line(text):
        return "nav-line"
    if cjk and STRAY_LATIN_RE.match(text):
        return "stray-latin"
    return None


def is_chrome(text: str, cjk: bool) -> bool:
    """True when a whole line is portal furniture rather than article text."""
    return chrome_rule(text, cjk) is not None


def byline_of(text: str) -> str | None:
    """The name(s) in a byline line (``记者 张三``, ``文/李四``, ``By Jane Doe``), else None."""
    if len(text) > MAX_BYLINE_LINE:
        return None
    for rx in BYLINE_LINE_RES:
        m = rx.match(text.strip())
        if m and m.group(1) not in AUTHOR_PLACEHOLDERS:
            return normalize_names(m.group(1))
    return None


def normalize_names(names: str) -> str:
    """Names as the page writes them, spaces collapsed: ``段彦超 廖艳`` stays so, and so does
    ``张三、李四`` (the annotators keep the page's own separator, and so does the record)."""
    return " ".join(names.split()).strip(" ,，、")


def split_trailing_byline(text: str) -> tuple[str, str | None]:
    """``…局面。(王法)`` -> (``…局面。``, ``王法``); a line without one comes back unchanged.

    ``(完)`` and the like are not names, nor is a closing ``（新华社）``: that credits the
    publisher, not the writer.
    """
    m = TRAILING_BYLINE_RE.search(text)
    if not m or m.group(1) in NOT_NAMES or NOT_PERSON_RE.search(m.group(1)):
        return text, None
    return text[: m.start()].rstrip(), normalize_names(m.group(1))


def dateline_byline(text: str) -> str | None:
    """The reporter in ``新京报快讯（记者 裴剑飞）今日…``; the paragraph itself stays in the body."""
    m = DATELINE_BYLINE_RE.match(text)
    return normalize_names(m.group(1)) if m else None


def lift_byline(lines: list[str]) -> str | None:
    """Take the writer's byline out of body `lines` (in place) and return the name(s).

    In order: a byline line near the top or at the end, a name in parentheses closing one of the
    last paragraphs, the reporter after the dateline of the first paragraphs (which is kept).
    """
    found: str | None = None
    n = len(lines)
    for index in [*range(min(BYLINE_HEAD, n)), *range(max(BYLINE_HEAD, n - BYLINE_EDGE), n)]:
        found = byline_of(lines[index])
        if found:
            del lines[index]
            break
    # A closing (王法) leaves the body even when a byline line named the writer already.
    n = len(lines)
    for index in range(n - 1, max(-1, n - 1 - TRAILING_BYLINE_EDGE), -1):
        rest, name = split_trailing_byline(lines[index])
        if name:
            if rest:
                lines[index] = rest
            else:
                del lines[index]
            found = found or name
            break
    for text in lines[:DATELINE_EDGE]:
        if found:
            break
        found = dateline_byline(text)
    return found


@dataclass(slots=True)
class Cleaned:
    lines: list[str]
    author: str | None = None
    lead: str | None = None
    removed: list[tuple[str, str]] = field(default_factory=list)
    """(rule, line) for every line taken out of the body, in order: ``--explain`` shows them."""
    kept_by_bound: list[str] = field(default_factory=list)
    """Rules not applied on this page because they would have removed too much of it."""


def is_title_variant(key: str, title_key: str | None) -> bool:
    """A body line opening the article that is the headline reworded (``大魔王`` for ``周琦``):
    syndicated copies repeat the source's own headline above the text. Compared as a bag of
    characters, which is how Chinese headlines vary; a sentence (with 。) is never one."""
    if not title_key or "。" in key or len(key) > TITLE_VARIANT_MAX_RATIO * len(title_key):
        return False
    shared = sum((Counter(key) & Counter(title_key)).values())
    return shared >= TITLE_VARIANT_MIN_SHARE * max(len(key), len(title_key))


def is_stop_line(text: str) -> bool:
    """An end-of-article marker: 责任编辑, a 相关阅读 box title, a QR-code sign-off."""
    text = text.strip()
    return any(rx.search(text) for rx in STOP_LINE_RES)


def _prose_weight(line: str) -> int:
    """A line's weight when judging how much article precedes a stop marker: its length when it
    ends like a sentence, else nothing (headline lists and menus carry no full stop)."""
    line = line.strip()
    return len(line) if PROSE_END_RE.search(line) else 0


def cut_at_stop(lines: list[str]) -> list[str]:
    """Everything from the first end-of-article marker on, past half the body, is not article.

    "Half" is counted in prose: a sidebar of headlines flattened after the 责任编辑 line can be
    longer than the article, but it is not made of sentences. Lines without any sentence ending
    fall back to plain length.
    """
    return lines[: _stop_index(lines)]


def _stop_index(lines: list[str]) -> int:
    weights = [_prose_weight(line) for line in lines]
    if not any(weights):
        weights = [len(line) for line in lines]
    total = sum(weights) or 1
    seen = 0
    for i, line in enumerate(lines):
        if seen >= STOP_MIN_SHARE * total and is_stop_line(line):
            return i
        seen += weights[i]
    return len(lines)


#: Rules that take out what the record holds elsewhere (the headline, the lead), never article
#: text: the bound on rules does not apply to them.
_STRUCTURAL = frozenset({"title", "title-variant", "lead", "lead-copy"})


def _is_prose_line(text: str) -> bool:
    return len(text) >= 20 and bool(PROSE_END_RE.search(text) or "。" in text or "，" in text)


def clean_body(lines: list[str], title: str | None, lead: str | None) -> Cleaned:
    """Drop chrome lines, take a byline at either end into ``author`` and a 导读 into ``lead``.

    The headline and the lead are dropped when the extractor kept them, so the body never starts
    with text the record already holds in another field. Every removal is logged with its
    rule; a line rule that would remove more than `MAX_RULE_SHARE` of the body's characters,
    prose included, is not applied on this page (rules cannot eat an article).
    """
    cjk = is_cjk_text("".join(lines))
    title_key = squash(title) if title else None
    lead_key = squash(lead) if lead else None
    stripped = [t.strip() for t in lines if t.strip()]
    stop = _stop_index(stripped)
    kept = stripped[:stop]
    out = Cleaned(lines=[])
    out.removed.extend(
        ("stop-marker" if i == 0 else "after-stop-marker", t) for i, t in enumerate(stripped[stop:])
    )
    # Portals often print the lead box and then open the article with the very same paragraph.
    # Only a repeated copy is the lead box; a single line equal to the lead is the paragraph.
    lead_copies = sum(1 for t in kept if lead_key and squash(t) == lead_key)
    decisions: list[str | None] = []
    seen_text = False
    for n, text in enumerate(kept, 1):
        if n % CHECK_EVERY == 0:
            checkpoint()
        key = squash(text)
        rule: str | None = None
        if key == title_key:
            rule = "title"
        elif cjk and not seen_text and is_title_variant(key, title_key):
            rule = "title-variant"
        elif lead_key and key == lead_key and lead_copies > 1:
            lead_copies -= 1
            rule = "lead-copy"
        else:
            m = LEAD_RE.match(text)
            if m and len(text) < 400:
                out.lead = out.lead or m.group(1).strip()
                rule = "lead"
            else:
                rule = chrome_rule(text, cjk)
        decisions.append(rule)
        seen_text = seen_text or rule is None
    out.kept_by_bound = _overreaching(kept, decisions)
    for text, rule in zip(kept, decisions, strict=True):
        if rule is None or rule in out.kept_by_bound:
            out.lines.append(text)
        else:
            out.removed.append((rule, text))
    out.author = lift_byline(out.lines)
    return out


def _overreaching(lines: list[str], decisions: list[str | None]) -> list[str]:
    """Line rules that would remove more than `MAX_RULE_SHARE` of the body's characters,
    including at least `MIN_RULE_PROSE_LINES` lines of prose: on this page they are wrong."""
    total = sum(len(t) for t in lines) or 1
    removed: dict[str, int] = {}
    prose: dict[str, int] = {}
    for text, rule in zip(lines, decisions, strict=True):
        if rule is None or rule in _STRUCTURAL:
            continue
        removed[rule] = removed.get(rule, 0) + len(text)
        prose[rule] = prose.get(rule, 0) + _is_prose_line(text)
    return [
        rule
        for rule, n in removed.items()
        if n > MAX_RULE_SHARE * total and prose[rule] >= MIN_RULE_PROSE_LINES
    ]
