"""Run one crawl of one site in this process and report what happened.

Twisted's reactor cannot be restarted, so a process runs one crawl; tests and the scheduler
start a subprocess per crawl.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.config import SiteConfig
from crawler.extensions import RunCounters, config_failure, run_status
from crawler.halt import HALT, HALT_DETAIL
from crawler.interrupt import Interrupts
from crawler.lock import SiteLock, SiteLockHeld
from crawler.logfile import degrade_root_log_file
from crawler.memory import limit_malloc_arenas
from storage.db import Database
from storage.diskfull import first_line, is_disk_full, no_space_message
from storage.paths import ArchivePaths, db_url_problem, redact_url, sqlite_path


class StorageUnavailable(RuntimeError):
    """The archive's database cannot be opened; nothing was fetched."""


@dataclass(frozen=True, slots=True)
class CrawlResult:
    site: str
    run_id: str | None
    status: str
    finish_reason: str
    counters: RunCounters
    elapsed: float
    log_file: Path | None
    drift: tuple[str, ...] = ()
    #: Why the crawl was stopped before its end (crawler.halt), in one line; None if it was not.
    halt: str | None = None
    #: Why a crawl that ran to its end failed for its site config (`config_failure`), or None.
    failure: str | None = None


def check_storage(paths: ArchivePaths, db_url: str) -> None:
    """Open the archive before any request so a bad URL fails fast with one line."""
    problem = db_url_problem(db_url)  # also for callers that did not go through the CLI
    if problem is not None:
        raise StorageUnavailable(problem)
    try:
        paths.ensure()
    except OSError as exc:
        raise StorageUnavailable(
            _cannot(f"create the archive folder {paths.root}", exc, paths.root)
        ) from None
    db_file = sqlite_path(db_url)
    new_files = _new_sqlite_files(db_file)
    db = None
    try:
        db = Database(db_url)
        db.create_schema()
    except Exception as exc:  # any driver error: the user needs the cause, not a traceback
        if db is not None:
            db.dispose()
            db = None
        # A database this start created and could not fill (a full disk leaves a 0-byte
        # zhengwen.sqlite) is removed: a later reader would take it for an empty archive.
        for leftover in new_files:
            leftover.unlink(missing_ok=True)
        raise StorageUnavailable(
            _cannot(f"open the database {redact_url(db_url)}", exc, db_file or paths.root)
        ) from None
    finally:
        if db is not None:
            db.dispose()


def _new_sqlite_files(db_file: str | None) -> list[Path]:
    """The files of a SQLite database that does not exist yet (it, its journal, WAL and shared
    memory), which a failed first open should not leave behind; none for an existing one."""
    if db_file is None or Path(db_file).exists():
        return []
    return [Path(db_file + suffix) for suffix in ("", "-journal", "-wal", "-shm")]


def _cannot(what: str, exc: BaseException, path: str | Path) -> str:
    """One line for a store that cannot be opened: a full disk named as such, else the cause."""
    if is_disk_full(exc):
        return f"cannot {what}: {no_space_message(exc, path)}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot {what}: {exc.strerror}"
    return f"cannot {what}: {first_line(exc)}"


def take_site_lock(paths: ArchivePaths, site: str, db_url: str, trigger: str) -> SiteLock:
    """The site's run lock (crawler.lock), then the stale ``running`` rows of the site closed.

    Holding the lock proves no live process owns those rows: they were left by a run killed
    before it could record its end, and would otherwise stay ``running`` forever.
    """
    lock = SiteLock(paths.root, site, trigger=trigger, db_url=db_url)
    try:
        lock.acquire()
    except OSError as exc:
        raise StorageUnavailable(
            _cannot(f"create the lock file {lock.path}", exc, lock.path)
        ) from None
    try:
        with Database(db_url) as db:
            cluster = db.cluster_run(site)
            if cluster is not None:
                where = cluster.counters.get("cluster", {}).get("redis", "a Redis")
                raise SiteLockHeld(site, f"cluster run {cluster.id} on {where}")
            db.interrupt_stale_runs(site)
    except BaseException:
        lock.release()
        raise
    return lock


def build_settings(
    paths: ArchivePaths,
    db_url: str,
    *,
    trigger: str = "manual",
    progress: bool = False,
    log_file: Path | None = None,
    log_level: str = "INFO",
    extra: dict[str, Any] | None = None,
) -> Any:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ZHENGWEN_ARCHIVE_DIR", str(paths.root), priority="cmdline")
    settings.set("ZHENGWEN_DB_URL", db_url, priority="cmdline")
    settings.set("ZHENGWEN_TRIGGER", trigger, priority="cmdline")
    settings.set("ZHENGWEN_PROGRESS", progress, priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if log_file is not None:
        settings.set("LOG_FILE", str(log_file), priority="cmdline")
    for key, value in (extra or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def _run_seconds(db_url: str, site: str, run_id: str | None) -> float | None:
    """The run's duration as its record has it (what `zhengwen runs` shows), so the summary
    and the runs table agree; None when the record cannot be read."""
    if run_id is None:
        return None
    db = Database(db_url)
    try:
        record = next((r for r in db.runs(site, limit=5) if r.id == run_id), None)
    except Exception:  # the summary falls back to the process's own clock
        return None
    finally:
        db.dispose()
    if record is None or record.finished_at is None:
        return None
    return (record.finished_at - record.started_at).total_seconds()


def run_crawl(
    site: SiteConfig,
    archive: Path,
    db_url: str | None = None,
    *,
    max_pages: int | None = None,
    trigger: str = "manual",
    progress: bool = False,
    log_level: str = "INFO",
    extra_settings: dict[str, Any] | None = None,
) -> CrawlResult:
    """Crawl ``site`` into the archive. Raises StorageUnavailable or SiteLockHeld (another run
    of the site is in progress) before fetching anything. SIGINT/SIGTERM are handled from
    here on (`crawler.interrupt`)."""
    limit_malloc_arenas()
    # Our handlers from the first moment: a signal before the reactor runs is handled too.
    interrupts = Interrupts()
    interrupts.install()
    try:
        return _run_crawl(
            site,
            archive,
            db_url,
            interrupts,
            max_pages=max_pages,
            trigger=trigger,
            progress=progress,
            log_level=log_level,
            extra_settings=extra_settings,
        )
    finally:
        interrupts.restore()


def _run_crawl(
    site: SiteConfig,
    archive: Path,
    db_url: str | None,
    interrupts: Interrupts,
    *,
    max_pages: int | None,
    trigger: str,
    progress: bool,
    log_level: str,
    extra_settings: dict[str, Any] | None,
) -> CrawlResult:
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.portal import PortalSpider

    paths = ArchivePaths(archive)
    url = db_url or paths.default_db_url
    check_storage(paths, url)
    lock = take_site_lock(paths, site.name, url, trigger)
    try:
        if max_pages is not None:
            site = dataclasses.replace(site, max_pages=max_pages)
        logs = paths.root / "logs"
        try:
            logs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(_cannot(f"create the log folder {logs}", exc, logs)) from None
        log_file = logs / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{site.name}.log"
        settings = build_settings(
            paths,
            url,
            trigger=trigger,
            progress=progress,
            log_file=log_file,
            log_level=log_level,
            extra=extra_settings,
        )
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(PortalSpider)
        interrupts.attach(crawler)
        started = time.monotonic()
        degrade_root_log_file()
        process.crawl(crawler, site=site)
        degrade_root_log_file()  # the crawler's settings may have re-installed the handler
        process.start(install_signal_handlers=False)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        counters = RunCounters.from_stats(stats)
        reason = str(stats.get(HALT) or stats.get("finish_reason", "unknown"))
        run_id = stats.get("zhengwen/run_id")
        status = str(stats.get("zhengwen/run_status") or run_status(reason, counters))
        return CrawlResult(
            site=site.name,
            run_id=run_id,
            status=status,
            finish_reason=reason,
            counters=counters,
            elapsed=_run_seconds(url, site.name, run_id) or time.monotonic() - started,
            log_file=log_file,
            drift=tuple(stats.get("zhengwen/drift") or ()),
            halt=str(stats.get(HALT_DETAIL) or "") or None,
            failure=config_failure(counters) if status == "failed" else None,
        )
    finally:
        lock.release()
