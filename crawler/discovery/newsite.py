"""``zhengwen new-site URL``: a zero-config crawl of a small sample, written as a site config.

The sample is crawled into a throw-away archive with the same discovery as ``zhengwen crawl
URL``; the spider reports what it learned (`zeroconfig.REPORT_SETTING`): the article, list and
pagination patterns of `crawler.discovery.learn`, and what the pages declared (encoding,
language, UTC offsets), from which the config's ``encoding`` and ``timezone`` are guessed.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.config import SiteConfig, parse_site
from crawler.discovery.zeroconfig import REPORT_SETTING, SAMPLE_SETTING

#: Pages fetched for the sample when --sample is not given: enough for a few pages of every
#: kind (each URL shape is explored `learn.EXPLORE` times first) on a portal of a few sections.
DEFAULT_SAMPLE = 30


class NewSiteError(Exception):
    """The sample could not make a config; the message is one line, ``code`` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Sample:
    report: dict[str, Any]
    articles: list[Any]
    """`storage.article.Article` values extracted from the sample, newest first."""
    result: Any
    """The sample crawl's `CrawlResult`."""


def crawl_sample(site: SiteConfig, pages: int) -> Sample:
    """Crawl at most ``pages`` pages of a zero-config site into a temporary archive."""
    from crawler.runner import run_crawl
    from storage.query import Archive

    with tempfile.TemporaryDirectory(prefix="zhengwen-new-site-") as tmp:
        report_file = Path(tmp) / "report.json"
        result = run_crawl(
            site,
            Path(tmp) / "archive",
            None,
            max_pages=pages,
            extra_settings={
                REPORT_SETTING: str(report_file),
                SAMPLE_SETTING: True,
                "ZHENGWEN_RAW_ARCHIVE": False,
            },
        )
        report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
        with Archive(Path(tmp) / "archive") as archive:
            articles = list(archive.articles(order="published"))
    return Sample(report, articles, result)


def guess_timezone(report: dict[str, Any], articles: list[Any]) -> str:
    """The zone the sample's times are in: an offset the pages print (``+08:00`` on Chinese
    pages is Beijing time; else the fixed-offset ``Etc/GMT`` zone), else Asia/Shanghai for
    Chinese pages, else UTC."""
    chinese = _language(report, articles) == "zh"
    offsets: dict[str, int] = report.get("offsets") or {}
    if offsets:
        offset = Counter(offsets).most_common(1)[0][0]
        sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[4:6])
        if offset == "+08:00" and chinese:
            return "Asia/Shanghai"
        if minutes == 0:
            # IANA's Etc zones count the other way round: UTC+8 is Etc/GMT-8.
            return "UTC" if hours == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return "Asia/Shanghai" if chinese else "UTC"


def _language(report: dict[str, Any], articles: list[Any]) -> str | None:
    declared: dict[str, int] = report.get("languages") or {}
    if declared:
        return Counter(declared).most_common(1)[0][0]
    found = Counter(a.language.split("-")[0] for a in articles if a.language)
    return found.most_common(1)[0][0] if found else None


def declared_encoding(report: dict[str, Any]) -> str | None:
    """The encoding most pages declare, as the decoder a browser uses for that label (pages
    declaring gb2312 are read as GB18030, which covers the GBK characters they really hold)."""
    from w3lib.encoding import resolve_encoding

    declared: dict[str, int] = report.get("encodings") or {}
    if not declared:
        return None
    label = Counter(declared).most_common(1)[0][0]
    return resolve_encoding(label) or label


def config_text(site: SiteConfig, sample: Sample) -> str:
    """The TOML of the learned config (checked by `parse_site` before it is returned)."""
    report = sample.report
    article = report.get("article") or []
    if not article or not sample.articles:
        raise NewSiteError(
            f"no article found in a sample of {sample.result.counters.pages_fetched} pages of "
            f"{site.start_urls[0]}; try a larger --sample",
            1,
        )
    lines = [
        f"# Written by `zhengwen new-site {site.path}` from a sample of its pages;",
        "# check it before the first crawl (`zhengwen check-site`, `zhengwen extract --site`).",
        f"name = {_str(site.name)}",
        f"start_urls = [{', '.join(_str(u) for u in site.start_urls)}]",
        f"allowed_domains = [{', '.join(_str(d) for d in site.allowed_domains)}]",
        f"timezone = {_str(guess_timezone(report, sample.articles))}",
    ]
    encoding = declared_encoding(report)
    if encoding:
        lines.append(f"encoding = {_str(encoding)}")
    if site.private_hosts:
        lines.append(f"allow_private = [{', '.join(_str(h) for h in site.private_hosts)}]")
    for key in ("sitemaps", "feeds"):
        found = report.get(key) or []
        if found:
            lines.append(f"{key} = [{', '.join(_str(u) for u in found)}]")
    lines += ["", "[urls]"]
    for key, values in (
        ("article", article),
        ("list", report.get("list") or []),
        ("pagination", report.get("pagination") or []),
    ):
        if values:
            lines.append(f"{key} = [{', '.join(_regex(v) for v in values)}]")
    if site.politeness.download_delay == 0:
        lines += ["", "[politeness]", "download_delay = 0"]
    text = "\n".join(lines) + "\n"
    parse_site(tomllib.loads(text), site.name, check_start_urls=True)
    return text


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _regex(value: str) -> str:
    """A regex as a TOML literal string (no escapes to double) when it holds no quote."""
    return f"'{value}'" if "'" not in value and "\n" not in value else _str(value)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def preview_rows(articles: list[Any], timezone: str) -> list[tuple[str, ...]]:
    """The preview table: title, time (on the site's clock), source, body length."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    rows: list[tuple[str, ...]] = [("title", "published", "source", "body")]
    for a in articles:
        title = a.title or "-"
        rows.append(
            (
                title if len(title) <= 30 else title[:29] + "…",
                _when(a.published_at, zone),
                a.source or "-",
                str(len(a.body)),
            )
        )
    return rows


def _when(value: Any, zone: Any) -> str:
    return value.astimezone(zone).isoformat(timespec="minutes") if value is not None else "-"
