"""Publication dates: Chinese and international forms to tz-aware datetimes in the site's zone.

A date is only ever read from the page (meta tags, JSON-LD, ``<time>``, the info line under the
headline); when the page has none the answer is None, never the crawl time. A time of day is
kept when the page gives one; a bare date becomes midnight in the site's zone.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from crawler.extract.dom import Line, meta_values
from crawler.extract.patterns import (
    CJK_DATE_RE,
    DATE_LABEL_RE,
    DATE_LINES_AFTER_TITLE,
    EN_DMY_RE,
    EN_MDY_RE,
    HEADER_WINDOW,
    MAX_INFO_LINE,
    META_MODIFIED,
    META_PUBLISHED,
    MONTHS,
    NUMERIC_DATE_RE,
    RFC2822_RE,
    SCRIPT_DATE_RE,
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
    found = _parse(text, _zone(tz)) if text else None
    return found[0] if found else None


def _parse(text: str, zone: tzinfo) -> tuple[datetime, bool] | None:
    """`parse_date` with whether the text gave a time of day (a bare date reads as midnight)."""
    if RFC2822_RE.match(text):
        # HTTP/RSS dates carry their zone (GMT, +0000) after the time; read them whole.
        rfc = _rfc2822(text, zone)
        if rfc is not None:
            return rfc, True
    candidates: list[tuple[int, datetime, bool]] = []
    if m := NUMERIC_DATE_RE.search(text):
        y, mo, d, h, mi, s, off = m.groups()
        dt = _build(zone, y, mo, d, h, mi, s, off)
        if dt:
            candidates.append((m.start(), dt, h is not None))
    if m := CJK_DATE_RE.search(text):
        y, mo, d, meridiem, h, mi, s = m.groups()
        dt = _build(zone, y, mo, d, _hour12(h, meridiem), mi, s)
        if dt:
            candidates.append((m.start(), dt, h is not None))
    if m := EN_MDY_RE.search(text):
        mon, d, y, h, mi, s, ap = m.groups()
        dt = _build(zone, y, _month(mon), d, _hour12(h, ap), mi, s)
        if dt:
            candidates.append((m.start(), dt, h is not None))
    if m := EN_DMY_RE.search(text):
        d, mon, y, h, mi, s, ap = m.groups()
        dt = _build(zone, y, _month(mon), d, _hour12(h, ap), mi, s)
        if dt:
            candidates.append((m.start(), dt, h is not None))
    if candidates:
        _pos, dt, has_time = min(candidates, key=lambda c: c[0])
        return dt, has_time
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


def _time_elements(tree: Any) -> tuple[list[str], list[str]]:
    """``<time>`` values in one walk: machine attributes (``datetime``, ``content``), then bare
    texts. A bare ``<time>2019-09-06</time>`` is page text like any other, and often sits in a
    sidebar list of other articles, so it ranks below the info line under the headline."""
    attrs: list[str] = []
    texts: list[str] = []
    for el in tree.iter("time"):
        value = el.get("datetime") or el.get("content")
        if value:
            attrs.append(value)
        else:
            text = el.text_content()
            if text.strip():
                texts.append(text)
    return attrs, texts


def _script_dates(tree: Any) -> Iterable[str]:
    """Publication times in the JSON state of ``<script>`` blocks (see `SCRIPT_DATE_RE`)."""
    for el in tree.iter("script"):
        text = el.text
        if text and (m := SCRIPT_DATE_RE.search(text)):
            yield m.group(1)


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


def parse_yearless(
    text: str, year: int | Callable[[int, int], int | None] | None, tz: str | tzinfo
) -> datetime | None:
    """``10-08 12:00`` read in `year`: a number, or a function of (month, day) giving one.

    The year comes from the page (its URL, a machine date on the same day), never from the
    crawl day. A two-digit year the text carries itself (``18-03-08 23:16``) comes first.
    """
    m = YEARLESS_DATE_RE.search(text)
    if not m:
        return None
    yy, mo, d, h, mi, s = m.groups()
    if yy:
        full: int | None = 2000 + int(yy)
    elif callable(year):
        full = year(int(mo), int(d))
    else:
        full = year
    if full is None:
        return None
    return _build(_zone(tz), str(full), mo, d, h, mi, s)


def _year_finder(
    tree: Any, jsonld: dict[str, Any], url: str | None, zone: tzinfo
) -> Callable[[int, int], int | None]:
    """Where a year-less shown date gets its year: the URL's year, else the year of a machine
    date (published or modified: Baijiahao declares only ``dateUpdate``) on the same month and
    day. A modified date on another day says nothing about the year, so it is not used."""

    def find(month: int, day: int) -> int | None:
        year = year_from_url(url)
        if year is not None:
            return year
        texts = list(meta_values(tree, META_PUBLISHED + META_MODIFIED))
        texts += [
            v for k in ("datePublished", "dateModified") if isinstance(v := jsonld.get(k), str)
        ]
        for text in texts:
            dt = parse_date(text, zone)
            if dt is not None and (dt.month, dt.day) == (month, day):
                return dt.year
        return None

    return find


def _info_line_date(
    lines: list[Line], title_index: int, zone: tzinfo, years: Callable[[int, int], int | None]
) -> tuple[datetime, bool] | None:
    """The date shown in the info line under the headline, and whether it has a time.

    An ``更新时间`` on that line is the update, not the publication: only the text before it
    counts. App-style pages split the line into one block per piece (``2019`` / ``09/07`` /
    ``19:02``), so the year-less form is searched over the window's lines joined.
    """
    window = lines[title_index + 1 : title_index + 1 + DATE_LINES_AFTER_TITLE]
    for line in window:
        if found := _shown_date(line.text, zone):
            return found
    joined = " ".join(line.text for line in window)
    dt = parse_yearless(joined, years, zone)
    return (dt, True) if dt is not None else None


def _header_date(
    lines: list[Line], body_start: int, zone: tzinfo, floor: int = 0
) -> tuple[datetime, bool] | None:
    """The date nearest above the body (within `HEADER_WINDOW` lines and below `floor`), else on
    a short line among the body's first (a post's heading and its date line open the body when
    the headline was not found)."""
    above = list(reversed(lines[max(floor, body_start - HEADER_WINDOW) : body_start]))
    top = [line for line in lines[body_start : body_start + 3] if len(line.text) <= 40]
    for line in [*above, *top]:
        if line.link_ratio > 0.5 or len(line.text) > MAX_INFO_LINE:
            continue
        if found := _shown_date(line.text, zone):
            return found
    return None


def _shown_date(text: str, zone: tzinfo) -> tuple[datetime, bool] | None:
    """The publication date a header line shows; an ``更新时间`` on it is the update, not the
    publication, so only the text before it counts."""
    if m := UPDATED_LABEL_RE.search(text):
        text = text[: m.start()]
    return _parse(text, zone) if text else None


def _refine(machine: datetime, shown: tuple[datetime, bool] | None) -> datetime:
    """The machine date, unless the info line shows another time of day on the same day.

    Portals stamp ``article:published_time`` when the page is (re)generated and pages such as
    Sina's show the editor's time (``19:55``, their ``weibo: article:create_at``) beside a meta
    of ``19:56:29`` or even hours later; a meta may also give the bare day (People's Daily
    ``publishdate``). What the reader sees under the headline is the publication time (and what
    the annotation rules record). Another day means the info line held some other date, so the
    machine date stays; a shown time equal to the minute keeps the machine date's seconds.
    """
    if shown is None:
        return machine
    dt, has_time = shown
    if machine.time() == time(0, 0) and abs((dt.date() - machine.date()).days) == 1:
        # A midnight meta carries only a day, and often one shifted by a zone mistake
        # (``PubDate 2022-01-28 00:00:00`` over a page showing 2022-01-27): the shown day wins.
        return dt
    if (
        has_time
        and dt.date() == machine.date()
        and (dt.hour, dt.minute) != (machine.hour, machine.minute)
    ):
        return dt
    return machine


def find_published(
    tree: Any,
    lines: list[Line],
    title_index: int | None,
    jsonld: dict[str, Any],
    tz: str | tzinfo,
    url: str | None = None,
    body_start: int | None = None,
) -> datetime | None:
    """The publication time, most trustworthy source first.

    Machine-readable declarations (meta, JSON-LD, ``<time datetime>``) come first because they
    carry the full date and often the offset; the info line under the headline may correct
    their time of day (`_refine`). Page text is searched from the headline on: above it sit
    header clocks (``2020年10月04日 星期日``) that show the crawl day, not the article's. Bare
    ``<time>`` texts and JSON in scripts are last resorts for pages that show nothing else.
    """
    zone = _zone(tz)
    # The <time> walk is only made when meta and JSON-LD are silent: most pages have a meta.
    time_texts: list[str] = []
    machine = _first(meta_values(tree, META_PUBLISHED), zone)
    if machine is None and isinstance(jsonld.get("datePublished"), str):
        machine = parse_date(jsonld["datePublished"], zone)
    if machine is None:
        time_attrs, time_texts = _time_elements(tree)
        machine = _first(time_attrs, zone)
    shown = None
    years = _year_finder(tree, jsonld, url, zone)
    if title_index is not None:
        shown = _info_line_date(lines, title_index, zone, years)
    if shown is None and body_start is not None:
        # No headline located (or no date under it): the date line of the article's header,
        # the nearest above the body's first line.
        # Above a located headline sit header clocks (today's date), never the article's.
        floor = title_index + 1 if title_index is not None and title_index < body_start else 0
        shown = _header_date(lines, body_start, zone, floor)
    if machine is not None:
        return _refine(machine, shown)
    if shown is not None:
        return shown[0]
    return (
        _first(_labelled(lines, title_index or 0, DATE_LABEL_RE), zone)
        or _first(time_texts, zone)
        or _first(_script_dates(tree), zone)
    )


def find_updated(
    tree: Any, lines: list[Line], title_index: int | None, jsonld: dict[str, Any], tz: str | tzinfo
) -> datetime | None:
    found = _first(meta_values(tree, META_MODIFIED), tz)
    if found is None and isinstance(jsonld.get("dateModified"), str):
        found = parse_date(jsonld["dateModified"], tz)
    if found is None:
        found = _first(_labelled(lines, title_index or 0, UPDATED_LABEL_RE), tz)
    return found
