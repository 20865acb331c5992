"""Scrapy extensions: the run record in SQL, the live progress line, the heap trim."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.drops import (
    DISCOVERED_PREFIX,
    DROP_PREFIX,
    ERROR_PREFIX,
    RETRY_PREFIX,
    SKIP_PREFIX,
    collect,
)
from crawler.halt import HALT, HALT_DETAIL, halted, storage_failed
from crawler.memory import release_free_memory
from pipelines.common import db_url
from storage.db import Database
from storage.diskfull import first_line
from storage.paths import ArchivePaths
from storage.quality import drift, quality

logger = logging.getLogger(__name__)


def settings_digest(site: Any, settings: Any) -> str:
    """Identifies the configuration a run used, so runs with different settings can be told apart."""
    keys = (
        "ZHENGWEN_MIN_BODY_CHARS",
        "DEPTH_LIMIT",
        "DOWNLOAD_DELAY",
        "ROBOTSTXT_OBEY",
        "CLOSESPIDER_PAGECOUNT",
    )
    # Without settings (a run enqueued on the cluster): the workers apply the project's own.
    get = settings.get if settings is not None else (lambda _k: None)
    text = repr(site) + "".join(f"|{k}={get(k)}" for k in keys)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RunCounters:
    """The counters of one run, read from Scrapy stats; what the run record and the summary show."""

    pages_fetched: int
    list_pages: int
    article_pages: int
    articles_new: int
    articles_changed: int
    articles_unchanged: int
    """Fetched and the same text as archived, plus re-checks answered 304 Not Modified."""
    articles_not_modified: int
    articles_removed: int
    """Archived articles whose re-check answered 404/410 (marked, never deleted)."""
    dropped: dict[str, int]
    errors: dict[str, int]
    skipped: dict[str, int]
    bytes: int
    quality: dict[str, Any]
    retries: dict[str, int] = field(default_factory=dict)
    """Retries by reason (``http_503``, ``timeout``); a retried page may still be archived."""
    discovered: dict[str, int] = field(default_factory=dict)
    """Article pages fetched by how their URL was found: ``news_sitemap``, ``sitemap``,
    ``feed``, ``list`` (a link of a start or list page), ``recheck`` (an archived article)."""

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> RunCounters:
        skipped = {
            "robots": int(stats.get("robotstxt/forbidden", 0)),
            "offsite": int(stats.get("offsite/filtered", 0)),
            "max_pages": int(stats.get("zhengwen/spider/skipped/max_pages", 0)),
            "depth": int(stats.get("depth/request_ignored_count", 0)),
            "url_too_long": int(stats.get("urllength/request_ignored_count", 0)),
            "archived": int(stats.get("zhengwen/incremental/skipped/archived", 0)),
            "removed_before": int(stats.get("zhengwen/incremental/skipped/removed", 0)),
            **collect(stats, SKIP_PREFIX),
        }
        not_modified = int(stats.get("zhengwen/incremental/not_modified", 0))
        new = int(stats.get("zhengwen/articles/new", 0))
        changed = int(stats.get("zhengwen/articles/changed", 0))
        if stats.get(HALT):
            # Counted when they passed the dedupe step; a halted run reports what SQL took.
            new = min(new, int(stats.get("zhengwen/sql/new", 0)))
            changed = min(changed, int(stats.get("zhengwen/sql/updated", 0)))
        return cls(
            # Pages of the site: robots.txt is fetched too but is no page (a --max-pages 5 run
            # reported "fetched 6").
            pages_fetched=max(
                0,
                int(stats.get("downloader/response_count", 0))
                - int(stats.get("robotstxt/response_count", 0)),
            ),
            list_pages=int(stats.get("zhengwen/spider/list_pages", 0)),
            article_pages=int(stats.get("zhengwen/spider/article_pages", 0)),
            articles_new=new,
            articles_changed=changed,
            articles_unchanged=int(stats.get("zhengwen/articles/unchanged", 0)) + not_modified,
            articles_not_modified=not_modified,
            articles_removed=int(stats.get("zhengwen/incremental/removed", 0)),
            dropped=collect(stats, DROP_PREFIX),
            errors=_errors(stats),
            skipped={k: v for k, v in skipped.items() if v},
            bytes=int(stats.get("downloader/response_bytes", 0)),
            quality=quality(
                int(stats.get("zhengwen/quality/pages", 0)),
                int(stats.get("zhengwen/quality/body", 0)),
                int(stats.get("zhengwen/quality/title", 0)),
                int(stats.get("zhengwen/quality/date", 0)),
            ),
            retries=collect(stats, RETRY_PREFIX),
            discovered=collect(stats, DISCOVERED_PREFIX),
        )

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @property
    def stored(self) -> int:
        return self.articles_new + self.articles_changed


def _errors(stats: dict[str, Any]) -> dict[str, int]:
    """Fetch errors by kind, and a spider callback that raised (a bug or a page that broke it:
    its links are lost, which must show in the record, not only in the log)."""
    errors = collect(stats, ERROR_PREFIX)
    raised = int(stats.get("spider_exceptions/count", 0))
    if raised:
        errors["spider_exception"] = raised
    return errors


#: Drop reasons that are the site config's fault, not the pages', with what to do: a run whose
#: every dropped article was dropped for one of them, and that kept none, failed.
CONFIG_DROP_REASONS = {
    "bad_selector": "the site's [selectors] fail on its pages; try one page with "
    "`zhengwen extract PAGE.html --site SITE`",
}


def config_failure(counters: RunCounters) -> str | None:
    """Why the run failed for its config (every article dropped for one config reason), or
    None."""
    if counters.stored or counters.articles_unchanged:
        return None
    for reason, fix in CONFIG_DROP_REASONS.items():
        n = counters.dropped.get(reason, 0)
        if n and n == sum(counters.dropped.values()):
            return f"every article page ({n}) was dropped as {reason}: {fix}"
    return None


def run_status(finish_reason: str, counters: RunCounters) -> str:
    """'failed' when nothing could be fetched, a store write failed or every article was
    dropped for the site's config (`config_failure`), 'interrupted' on a stop by signal, else
    'ok'."""
    if finish_reason == "shutdown":
        return "interrupted"
    if counters.pages_fetched == 0 or counters.errors.get("storage"):
        return "failed"
    if finish_reason not in ("finished", "closespider_pagecount", "closespider_itemcount"):
        return "failed"
    if config_failure(counters) is not None:
        return "failed"
    return "ok"


class RunRecord:
    """One `crawl_runs` row per run: created when the spider opens, completed when it closes."""

    def __init__(
        self, stats: Any, url: str, trigger: str, digest: str, archive: Path | None = None
    ) -> None:
        self.stats = stats
        self.url = url
        self.trigger = trigger
        self.digest = digest
        self.archive = archive
        self.run_id: str | None = None
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunRecord:
        site = getattr(crawler.spider, "site", None)
        ext = cls(
            crawler.stats,
            db_url(crawler.settings),
            crawler.settings.get("ZHENGWEN_TRIGGER", "manual"),
            settings_digest(site, crawler.settings),
            Path(crawler.settings.get("ZHENGWEN_ARCHIVE_DIR") or "archive"),
        )
        ext.crawler = crawler
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        site = getattr(spider, "site", None)
        # A worker of the cluster joins a run that `zhengwen enqueue` created; its end is
        # recorded by the worker that sees the run finished (crawler.distributed.cluster).
        self.run_id = getattr(spider, "cluster_run_id", None)
        if self.run_id is None:
            db = Database(self.url)
            try:
                db.create_schema()
                self.run_id = db.start_run(
                    site.name if site else spider.name, self.trigger, self.digest
                )
            finally:
                db.dispose()
        spider.run_id = self.run_id
        self.stats.set_value("zhengwen/run_id", self.run_id)
        if site is not None and self.archive is not None:
            try:
                record_options(self.archive, site, self.run_id)
            except OSError as exc:
                # Without the snapshot only a later reextract without the config file is worse
                # off; a full disk stops the crawl (crawler.halt), anything else is said once.
                halt = None
                if self.crawler is not None:
                    halt = storage_failed(self.crawler, "config", exc, self.archive, fatal=False)
                if halt is None:
                    logger.warning(
                        "Could not record the extraction options of run %s: %s",
                        self.run_id,
                        first_line(exc),
                    )

    def spider_closed(self, spider: Any, reason: str) -> None:
        run_id = self.run_id
        if run_id is None or getattr(spider, "cluster_run_id", None) is not None:
            return
        # A halt (crawler.halt) is the reason, also when it came while the spider was closing.
        reason = halted(self.stats) or reason
        counters = RunCounters.from_stats(self.stats.get_stats())
        status = run_status(reason, counters)
        self.stats.set_value("zhengwen/run_status", status)
        try:
            self._finish(spider, run_id, reason, status, counters)
        except Exception as exc:
            # The run stays ``running`` in the database; the next run of the site, holding its
            # lock, marks it ``interrupted``. Said in one line: on a full disk the cause is
            # already said, and a traceback would only bury it.
            logger.error("Could not record the end of run %s: %s", self.run_id, first_line(exc))

    def _finish(
        self, spider: Any, run_id: str, reason: str, status: str, counters: RunCounters
    ) -> None:
        site = getattr(spider, "site", None)
        with Database(self.url) as db:
            flags = end_run(
                db,
                site.name if site else spider.name,
                run_id,
                reason,
                status,
                counters,
                self.stats.get_value(HALT_DETAIL),
            )
        self.stats.set_value("zhengwen/drift", flags)


def end_run(
    db: Database,
    site: str,
    run_id: str,
    reason: str,
    status: str,
    counters: RunCounters,
    halt_detail: str | None = None,
) -> list[str]:
    """Write a run's end (status, counters, drift flags against the site's earlier ok runs)
    into ``crawl_runs``; returns the drift flags."""
    earlier = [
        r.counters.get("quality")
        for r in db.runs(site, limit=20)
        if r.id != run_id and r.status == "ok"
    ]
    flags = drift(counters.quality, earlier)
    record = {**counters.as_dict(), "finish_reason": reason, "drift": flags}
    if halt_detail:
        record["halt"] = halt_detail
    failure = config_failure(counters) if status == "failed" else None
    if failure is not None:
        record["failure"] = failure
    db.finish_run(run_id, status, record)
    return list(flags)


def record_end(db: Database, site: str, run_id: str, reason: str, stats: dict[str, Any]) -> str:
    """`end_run` from a stats mapping (a cluster run's summed counters); returns the status."""
    reason = str(stats.get(HALT) or reason)
    counters = RunCounters.from_stats(stats)
    status = run_status(reason, counters)
    end_run(db, site, run_id, reason, status, counters, stats.get(HALT_DETAIL))
    return status


def record_options(archive: Path, site: Any, run_id: str) -> Path:
    """Write the extraction options of this run to ``archive/configs/<site>/<run id>.json``
    (atomically): a later ``zhengwen reextract`` of the site uses them when the config file is
    gone, instead of re-extracting with defaults that undo the config's selectors.

    Written under a unique, locked temp name (`storage.tempfiles`), after removing what a run
    killed while writing here left behind."""
    from crawler.extract.options import ExtractOptions
    from storage import tempfiles

    path = ArchivePaths(archive).config_snapshot(site.name, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tempfiles.sweep(path.parent)
    with tempfiles.locked_temp(path) as tmp:
        tmp.write_text(ExtractOptions.from_site(site).to_json(), encoding="utf-8")
        os.replace(tmp, path)
    return path


def progress_line(site: str, stats: dict[str, Any], elapsed: float) -> str:
    c = RunCounters.from_stats(stats)
    rate = c.pages_fetched / elapsed if elapsed > 0 else 0.0
    return (
        f"[{site}] pages {c.pages_fetched} | articles {c.articles_new} new, {c.articles_changed} changed,"
        f" {c.articles_unchanged} unchanged | dropped {sum(c.dropped.values())}"
        f" | errors {sum(c.errors.values())} | {rate:.1f} pages/s"
    )


class Progress:
    """A live progress line on stderr: rewritten in place on a terminal, a line every 10 s otherwise."""

    def __init__(self, stats: Any, interval: float, out: TextIO) -> None:
        self.stats = stats
        self.out = out
        self.tty = out.isatty()
        self.interval = interval if self.tty else max(interval, 10.0)
        self.loop: task.LoopingCall | None = None
        self.started = time.monotonic()
        self.site = "?"

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        if not crawler.settings.getbool("ZHENGWEN_PROGRESS"):
            raise NotConfigured
        ext = cls(
            crawler.stats, crawler.settings.getfloat("ZHENGWEN_PROGRESS_INTERVAL", 1.0), sys.stderr
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        site = getattr(spider, "site", None)
        self.site = site.name if site else spider.name
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def show(self) -> None:
        line = progress_line(self.site, self.stats.get_stats(), time.monotonic() - self.started)
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def spider_closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.tty:
            self.out.write("\r\x1b[2K")
            self.out.flush()
        else:
            # Logs of scheduled runs get the final state even when the run took under 10 s.
            self.show()


class MemoryTrim:
    """Every ``ZHENGWEN_MALLOC_TRIM_SECONDS`` (0: never) hand the heap's free pages back to the
    system (crawler.memory): keeps a long crawl's RSS flat. Counted in ``zhengwen/memory/trims``."""

    def __init__(self, stats: Any, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> MemoryTrim:
        interval = crawler.settings.getfloat("ZHENGWEN_MALLOC_TRIM_SECONDS", 10.0)
        if interval <= 0:
            raise NotConfigured
        ext = cls(crawler.stats, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.loop = task.LoopingCall(self.trim)
        self.loop.start(self.interval, now=False)

    def trim(self) -> None:
        if release_free_memory():
            self.stats.inc_value("zhengwen/memory/trims")

    def spider_closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
