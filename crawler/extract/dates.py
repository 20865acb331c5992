"""Publication dates: Chinese and international forms to tz-aware datetimes in the site's zone.

A date is only ever read from the page (meta tags, JSON-LD, ``<time>``, the info line under the
headline); when the page has none the answer is None, never the crawl time. A time of day is
kept when the page gives one; a bare date becomes midnight in the site's zone.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from crawler.extract.dom import Line, meta_values
from crawler.extract.patterns import (
    CJK_DATE_RE,
    DATE_LABEL_RE,
    DATE_LINES_AFTER_TITLE,
    EN_DMY_RE,
    EN_MDY_RE,
    META_MODIFIED,
    META_PUBLISHED,
    MONTHS,
    NUMERIC_DATE_RE,
    RFC2822_RE,
    UPDATED_LABEL_RE,
    URL_YEAR_RES,
    YEARLESS_DATE_RE,
)


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def _build(
    zone: tzinfo,
    y: str,
    mo: str | int,
    d: str,
    h: str | int | None = None,
    mi: str | None = None,
    s: str | None = None,
    offset: str | None = None,
) -> datetime | None:
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if offset:
        # An explicit offset is a fact about the instant; show it in the site's zone.
        return dt.replace(tzinfo=_offset(offset)).astimezone(zone)
    return dt.replace(tzinfo=zone)


def _hour12(hour: str | None, meridiem: str | None) -> int | None:
    if hour is None:
        return None
    h = int(hour)
    if meridiem:
        m = meridiem.lower().replace(".", "")
        if m in ("pm", "下午", "晚上") and h < 12:
            h += 12
        elif m in ("am", "凌晨", "上午") and h == 12:
            h = 0
    return h


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")[:3]]


def parse_date(text: str, tz: str | tzinfo = "Asia/Shanghai") -> datetime | None:
    """The first date (and time) in `text`, or None.

    Accepts ISO 8601, ``2020-10-03 21:26:54``, ``2020/10/03``, ``2020.10.03``,
    ``2020年10月3日 21:26``, ``October 3, 2020 9:26 PM``, ``3 Oct 2020`` and RFC 2822 dates.
    Times without an offset are read in `tz`.
    """
    if not text:
        return None
    zone = _zone(tz)
    if RFC2822_RE.match(text):
        # HTTP/RSS dates carry their zone (GMT, +0000) after the time; read them whole.
        rfc = _rfc2822(text, zone)
        if rfc is not None:
            return rfc
    candidates: list[tuple[int, datetime]] = []
    if m := NUMERIC_DATE_RE.search(text):
        y, mo, d, h, mi, s, off = m.groups()
        dt = _build(zone, y, mo, d, h, mi, s, off)
        if dt:
            candidates.append((m.start(), dt))
    if m := CJK_DATE_RE.search(text):
        y, mo, d, meridiem, h, mi, s = m.groups()
        dt = _build(zone, y, mo, d, _hour12(h, meridiem), mi, s)
        if dt:
            candidates.append((m.start(), dt))
    if m := EN_MDY_RE.search(text):
        mon, d, y, h, mi, s, ap = m.groups()
        dt = _build(zone, y, _month(mon), d, _hour12(h, ap), mi, s)
        if dt:
            candidates.append((m.start(), dt))
    if m := EN_DMY_RE.search(text):
        d, mon, y, h, mi, s, ap = m.groups()
        dt = _build(zone, y, _month(mon), d, _hour12(h, ap), mi, s)
        if dt:
            candidates.append((m.start(), dt))
    if candidates:
        return min(candidates, key=lambda c: c[0])[1]
    return None


def _rfc2822(text: str, zone: tzinfo) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone)
    return parsed.astimezone(zone)


def _first(texts: Iterable[str], tz: str | tzinfo) -> datetime | None:
    for text in texts:
        dt = parse_date(text, tz)
        if dt is not None:
            return dt
    return None


def _time_elements(tree: Any) -> Iterable[str]:
    for el in tree.iter("time"):
        value = el.get("datetime") or el.get("content") or el.text_content()
        if value:
            yield value


def _labelled(lines: list[Line], start: int, label: Any) -> Iterable[str]:
    """Text after a date label (``发布时间:``) in the lines from `start` on."""
    for line in lines[start:]:
        m = label.search(line.text)
        if m:
            yield line.text[m.end() :]


def year_from_url(url: str | None) -> int | None:
    """The publication year an article URL carries, if any (``/2019/1008/``, ``/19/0907/``)."""
    if not url:
        return None
    path = url.split("://", 1)[-1].split("/", 1)[-1]
    for rx in URL_YEAR_RES:
        m = rx.search("/" + path)
        if m:
            year = int(m.group(1))
            return year if year >= 1990 else 2000 + year
    return None


def parse_yearless(text: str, year: int, tz: str | tzinfo) -> datetime | None:
    """``10-08 12:00`` read in `year` (taken from the URL: never guessed from the crawl day)."""
    m = YEARLESS_DATE_RE.search(text)
    if not m:
        return None
    mo, d, h, mi, s = m.groups()
    return _build(_zone(tz), str(year), mo, d, h, mi, s)


def find_published(
    tree: Any,
    lines: list[Line],
    title_index: int | None,
    jsonld: dict[str, Any],
    tz: str | tzinfo,
    url: str | None = None,
) -> datetime | None:
    """The publication time, most trustworthy source first.

    Machine-readable declarations (meta, JSON-LD, ``<time>``) come first because they carry
    the full time and often the offset. Page text is searched from the headline on: above it
    sit header clocks (``2020年10月04日 星期日``) that show the crawl day, not the article's.
    """
    found = _first(meta_values(tree, META_PUBLISHED), tz)
    if found is None and isinstance(jsonld.get("datePublished"), str):
        found = parse_date(jsonld["datePublished"], tz)
    if found is None:
        found = _first(_time_elements(tree), tz)
    start = title_index or 0
    if found is None:
        found = _first(_labelled(lines, start, DATE_LABEL_RE), tz)
    if found is None and title_index is not None:
        window = lines[title_index : title_index + DATE_LINES_AFTER_TITLE]
        found = _first((line.text for line in window), tz)
        year = year_from_url(url) if found is None else None
        if year is not None:
            found = next(
                (dt for line in window if (dt := parse_yearless(line.text, year, tz))), None
            )
    return found


def find_updated(
    tree: Any, lines: list[Line], title_index: int | None, jsonld: dict[str, Any], tz: str | tzinfo
) -> datetime | None:
    found = _first(meta_values(tree, META_MODIFIED), tz)
    if found is None and isinstance(jsonld.get("dateModified"), str):
        found = parse_date(jsonld["dateModified"], tz)
    if found is None:
        found = _first(_labelled(lines, title_index or 0, UPDATED_LABEL_RE), tz)
    return found
