"""Re-extraction: run today's extractor over the raw archive's article pages, offline.

A better extractor should improve everything already fetched, not only what is fetched next.
For each article URL in the WARC files this takes the newest fetch, finds the payload it
carried (a revisit points back to the response that holds the bytes), extracts, validates as
the crawl does, and stores a new version only where the content hash differs from SQL's.

Crawl-time fields are rebuilt from the archive so that a restored article is the one the crawl
stored: ``fetched_at`` and ``crawl_run_id`` of the response whose payload was extracted,
``first_seen``/``last_seen`` of the URL's first and last archived fetch (for a row SQL already
has, the upsert keeps its ``first_seen``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crawler.extract.errors import ExtractionError
from crawler.extract.options import ExtractOptions
from storage.article import Article
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from storage.raw import PROFILE_NOT_MODIFIED, iter_warc_files
from storage.raw_read import (
    FileProblem,
    RawReadError,
    RecordHead,
    charset_of,
    read_payload,
    scan_file,
)
from storage.validation import body_length

if TYPE_CHECKING:
    from crawler.config import SiteConfig

logger = logging.getLogger(__name__)

#: Articles per store write (one Parquet part per partition, one SQL transaction).
BATCH = 200


@dataclass(slots=True)
class ReextractSummary:
    files: int = 0
    records_read: int = 0
    """WARC records read (every type), in the files scanned."""
    pages: int = 0
    """Article URLs re-extracted (after the --site / --since filters)."""
    unchanged: int = 0
    changed: int = 0
    new: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    problems: list[FileProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        return (
            f"reextract: {self.files} files, {self.records_read} records read, "
            f"{self.pages} article pages; articles {self.unchanged} unchanged, "
            f"{self.changed} changed, {self.new} new, {sum(self.failed.values())} failed "
            f"({reasons}); damaged files {len(self.problems)}"
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One article URL as the archive knows it: where its bytes are, and when it was fetched."""

    url: str
    site: str
    payload: RecordHead
    """The response record holding the bytes to extract."""
    first_seen: datetime
    last_seen: datetime


Progress = Callable[[int, int], None]


def _ok_status(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def plan_pages(
    heads: Iterable[RecordHead],
    *,
    site: str | None = None,
    since: date | None = None,
    failed: Counter[str] | None = None,
) -> list[Page]:
    """The newest fetch of each article URL, resolved to the response that carries its bytes.

    A fetch is a 2xx response, a revisit of one, or a 304 (server-not-modified) answer;
    ``since`` keeps URLs whose newest fetch is on or after that UTC date.
    """
    events: dict[str, list[RecordHead]] = defaultdict(list)
    by_id: dict[str, RecordHead] = {}
    for h in heads:
        if h.warc_type not in ("response", "revisit") or h.kind != "article" or not h.site:
            continue
        if site is not None and h.site != site:
            continue
        is_304 = h.warc_type == "revisit" and h.profile == PROFILE_NOT_MODIFIED
        if not (_ok_status(h.status) or is_304):
            continue
        if h.warc_type == "response":
            by_id[h.record_id] = h
        events[h.url].append(h)
    pages: list[Page] = []
    for url in sorted(events):
        fetches = sorted(events[url], key=lambda h: h.date)
        latest = fetches[-1]
        if since is not None and latest.date.date() < since:
            continue
        payload = _payload_of(latest, fetches, by_id)
        if payload is None:
            if failed is not None:
                failed["payload_missing"] += 1
            logger.warning("No archived payload for %s (revisit of a missing record)", url)
            continue
        pages.append(Page(url, payload.site or "", payload, fetches[0].date, latest.date))
    return pages


def _payload_of(
    latest: RecordHead, fetches: list[RecordHead], by_id: dict[str, RecordHead]
) -> RecordHead | None:
    if latest.warc_type == "response":
        return latest
    if latest.refers_to and latest.refers_to in by_id:
        return by_id[latest.refers_to]
    earlier = [
        h
        for h in fetches
        if h.warc_type == "response"
        and h.date <= latest.date
        and (latest.payload_digest is None or h.payload_digest == latest.payload_digest)
    ]
    return earlier[-1] if earlier else None


class NoSiteConfig(Exception):
    """A site has no config file and no options recorded by a crawl: re-extracting it with
    defaults would undo its selectors, time zone and encoding, so it is refused."""


def recorded_options(paths: ArchivePaths, site: str) -> tuple[ExtractOptions, Path] | None:
    """The extraction options the site's newest recorded crawl ran with, and their file
    (``archive/configs/<site>/<run id>.json``, written by `crawler.extensions.record_options`)."""
    folder = paths.configs_dir / site
    files = (
        sorted(folder.glob("*.json"), key=lambda f: f.stat().st_mtime) if folder.is_dir() else []
    )
    for path in reversed(files):
        try:
            return ExtractOptions.from_json(path.read_text(encoding="utf-8")), path
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("Unreadable recorded options %s", path)
    return None


class _Options:
    """ExtractOptions per site: the given config, else sites/<name>.toml (the site's current
    config), else the options its newest crawl recorded in the archive; else `NoSiteConfig`."""

    def __init__(self, config: SiteConfig | None, notes: list[str], paths: ArchivePaths) -> None:
        self.config = config
        self.notes = notes
        self.paths = paths
        self.cache: dict[str, ExtractOptions | None] = {}

    def __call__(self, site: str) -> ExtractOptions:
        if site not in self.cache:
            self.cache[site] = self._resolve(site)
        options = self.cache[site]
        if options is None:
            raise NoSiteConfig(site)
        return options

    def _resolve(self, site: str) -> ExtractOptions | None:
        from crawler.config import ConfigError, resolve_site

        if self.config is not None and self.config.name == site:
            return ExtractOptions.from_site(self.config)
        try:
            return ExtractOptions.from_site(resolve_site(site))
        except ConfigError:
            pass
        found = recorded_options(self.paths, site)
        if found is None:
            message = (
                f"no site config for {site!r} (sites/{site}.toml) and no options recorded by "
                f"a crawl in {self.paths.configs_dir}: its pages are skipped; pass "
                f"--site path/to/{site}.toml"
            )
            self.notes.append(message)
            logger.warning(message)
            return None
        options, path = found
        message = (
            f"note: {site}: no sites/{site}.toml; using the options its crawl recorded ({path})"
        )
        self.notes.append(message)
        logger.info(message)
        return options


def reextract(
    archive: Path,
    db_url: str | None = None,
    *,
    site: str | None = None,
    config: SiteConfig | None = None,
    since: date | None = None,
    min_body_chars: int = 50,
    progress: Progress | None = None,
    progress_every: float = 2.0,
) -> ReextractSummary:
    """Re-extract the archive's article pages; store what changed. Never fetches anything.

    ``config`` (a loaded site config) wins over looking ``site`` up by name. A page that fails
    is counted under its reason in ``summary.failed``; a damaged WARC file is reported in
    ``summary.problems`` and the rest of it skipped.
    """
    if config is not None:
        site = config.name
    paths = ArchivePaths(archive)
    summary = ReextractSummary()
    heads: list[RecordHead] = []
    for path in iter_warc_files(paths.raw_dir, site):
        scan = scan_file(path)
        summary.files += 1
        summary.records_read += len(scan.records)
        heads.extend(scan.records)
        if scan.problem is not None:
            summary.problems.append(scan.problem)
            logger.warning("%s: %s", scan.problem.file, scan.problem.message)
    pages = plan_pages(heads, site=site, since=since, failed=summary.failed)
    del heads
    summary.pages = len(pages)
    if not pages:
        return summary
    options_for = _Options(config, summary.warnings, paths)
    db = Database(db_url or paths.default_db_url)
    try:
        db.create_schema()
        _Run(db, paths, options_for, summary, min_body_chars).run(pages, progress, progress_every)
    finally:
        db.dispose()
    return summary


class _Run:
    def __init__(
        self,
        db: Database,
        paths: ArchivePaths,
        options_for: _Options,
        summary: ReextractSummary,
        min_body_chars: int,
    ) -> None:
        self.db = db
        self.paths = paths
        self.options_for = options_for
        self.summary = summary
        self.min_body_chars = min_body_chars
        self.known: dict[str, dict[str, str]] = {}
        self.owner: dict[str, dict[str, str]] = {}
        self.parquet_keys: dict[str, set[tuple[str, str]]] = {}
        self.seen: set[str] = set()
        self.pending: list[Article] = []

    def run(self, pages: list[Page], progress: Progress | None, every: float) -> None:
        last = time.monotonic()
        for done, page in enumerate(pages, 1):
            self.one(page)
            if len(self.pending) >= BATCH:
                self.write()
            if progress is not None and (time.monotonic() - last >= every or done == len(pages)):
                progress(done, len(pages))
                last = time.monotonic()
        self.write()

    def one(self, page: Page) -> None:
        failed = self.summary.failed
        try:
            body = read_payload(page.payload.file, page.payload.offset)
        except RawReadError as exc:
            failed[exc.reason] += 1
            logger.warning("%s: %s", page.url, exc)
            return
        try:
            options = self.options_for(page.site)
        except NoSiteConfig:
            failed["no_site_config"] += 1
            return
        try:
            from crawler.extract.core import extract

            article = extract(
                body, page.url, options, http_encoding=charset_of(page.payload.content_type)
            )
        except ExtractionError as exc:
            failed[exc.reason] += 1
            return
        except Exception as exc:  # an extractor bug on one page must not end the run
            failed["extract_crash"] += 1
            logger.warning("Extractor crashed on %s: %r", page.url, exc)
            return
        reason = self.invalid(article)
        if reason is not None:
            failed[reason] += 1
            return
        article = article.replace(
            fetched_at=page.payload.date,
            first_seen=page.first_seen,
            last_seen=page.last_seen,
            crawl_run_id=page.payload.run_id,
        )
        if article.url_hash in self.seen:
            failed["duplicate_url"] += 1
            return
        self.seen.add(article.url_hash)
        known = self.known_of(article.site)
        previous = known.get(article.url_hash)
        if previous == article.content_hash:
            self.summary.unchanged += 1
            return
        owner = self.owner[article.site].get(article.content_hash)
        if owner is not None and owner != article.url_hash:
            failed["duplicate_content"] += 1
            return
        if previous is None:
            self.summary.new += 1
        else:
            self.summary.changed += 1
        known[article.url_hash] = article.content_hash
        self.owner[article.site][article.content_hash] = article.url_hash
        self.pending.append(article)

    def invalid(self, article: Article) -> str | None:
        """The crawl's validation rules (pipelines.validate), so both store the same pages."""
        n = body_length(article.body)
        if n == 0:
            return "no_body"
        if n < self.min_body_chars:
            return "too_short"
        if not article.title:
            return "no_title"
        return None

    def known_of(self, site: str) -> dict[str, str]:
        if site not in self.known:
            self.known[site] = self.db.known_hashes(site)
            self.owner[site] = {c: u for u, c in self.known[site].items()}
        return self.known[site]

    def write(self) -> None:
        """Parquet first, then SQL: SQL is the index of what is acknowledged (as in a crawl)."""
        if not self.pending:
            return
        by_site: dict[str, list[Article]] = defaultdict(list)
        for article in self.pending:
            by_site[article.site].append(article)
        for site, articles in by_site.items():
            tz = ZoneInfo(self.options_for(site).timezone)
            dataset = ParquetDataset(self.paths.parquet_dir, partition_tz=tz)
            if site not in self.parquet_keys:
                self.parquet_keys[site] = dataset.keys(site)
            keys = self.parquet_keys[site]
            fresh = [a for a in articles if (a.url_hash, a.content_hash) not in keys]
            dataset.write_batch(fresh)
            keys.update((a.url_hash, a.content_hash) for a in fresh)
            self.db.upsert_articles(articles)
        self.pending.clear()
