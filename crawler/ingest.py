"""Backfill from web archives: WARC, ARC and WACZ files fed through the crawl's extraction and
storage instead of the network (`zhengwen ingest`).

For each file: the records are read in order (`storage.warc_in`); a 2xx HTML response whose
URL belongs to a configured site (its domains, article patterns and deny patterns) or, with
no site given, any 2xx HTML page, is extracted in the crawl's process pool; an article is
what passes the crawl's validation (and, with no site given, has a publication date: list
and home pages have none). Articles are stored in batches with ``fetched_at`` = the record's
WARC-Date, in capture order (`Database.upsert_captures`: an older capture never replaces a
newer one as current), and each stored version keeps where it came from (``ingest_sources``:
file, offset, record id).

A revisit record is resolved against the response it repeats (same payload digest, or the
record it refers to) and stored as a capture at its own date. Every record not used is
counted under a reason (`IngestSummary.skipped`), every page that did not become an
article under its extraction reason (`IngestSummary.failed`).

Idempotent and resumable: each file's progress is saved after every stored batch
(``ingest_files``: the offset up to which every record is stored); a file read to its end is
not read again, an interrupted one resumes at that offset.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import logging
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from crawler.config import host_in_domains
from crawler.extract.errors import ExtractionError
from crawler.extract.options import ExtractOptions
from crawler.pool import ExtractionPool, Task, spawn_python
from storage.article import Article
from storage.db import Database
from storage.models import Base
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from storage.raw_read import charset_of
from storage.validation import body_length
from storage.warc_in import (
    SKIP_REASONS,
    Capture,
    Item,
    Position,
    Revisit,
    Skip,
    is_archive,
    read_archive,
)

if TYPE_CHECKING:
    from crawler.config import SiteConfig

logger = logging.getLogger(__name__)

_FILES: Final = Base.metadata.tables["ingest_files"]
_SOURCES: Final = Base.metadata.tables["ingest_sources"]

#: Pages whose results are collected at once; twice as many are in the extraction pool's
#: hands at most (their HTML is held until extracted).
BATCH: Final = 200
#: Articles stored at once (one Parquet part per date partition per store, then one SQL
#: transaction), and the file's progress saved after each store. A backfill spreads over
#: many publication dates: small stores would write many tiny part files.
STORE_BATCH: Final = 1000
#: The crawl's shortest body (pipelines.validate's default).
MIN_BODY_CHARS: Final = 50
#: With no site given, a page's site is named after its registered domain, times without an
#: offset are read in UTC.
UNCONFIGURED_TZ: Final = "UTC"

#: Reasons a record is not used, beyond `storage.warc_in.SKIP_REASONS`.
INGEST_SKIPS: Final = {
    "off_site": "the URL is on none of the given sites' domains, or matches a deny pattern",
    "not_article_url": "on a given site, but its URL matches none of its article patterns",
    "outside_dates": "the capture date is outside --since/--until",
    "revisit_unresolved": "a revisit of a payload found in none of the files read",
    "reader_failed": "the process reading a file ended before its end (the log says why); "
    "the next ingest resumes that file where it stopped",
}


class IngestError(Exception):
    """Bad arguments (no such file, nothing to read): one line, exit 2."""


@dataclass(slots=True)
class IngestSummary:
    files: int = 0
    files_skipped: int = 0
    """Files ingested before, to their end: not read again."""
    files_resumed: int = 0
    records: int = 0
    captures: int = 0
    revisits: int = 0
    pages: int = 0
    """Captures extracted (on a given site, or any page with no site given)."""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    past: int = 0
    """Older captures kept as past versions of a URL stored with a newer one."""
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    pending: int = 0
    """Articles extracted and checked, waiting for the next store (for the progress line)."""

    @property
    def articles(self) -> int:
        return self.new + self.updated + self.unchanged + self.past

    def line(self) -> str:
        def counts(c: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"

        return (
            f"ingest: {self.files} files ({self.files_skipped} already ingested, "
            f"{self.files_resumed} resumed), {self.records} records, {self.captures} HTML "
            f"captures, {self.revisits} revisits, {self.pages} pages extracted; articles "
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.past} "
            f"past versions; records skipped {sum(self.skipped.values())} "
            f"({counts(self.skipped)}); pages failed {sum(self.failed.values())} "
            f"({counts(self.failed)}); {self.seconds:.1f} s"
        )


Progress = Callable[["IngestSummary", str], None]


def expand(patterns: Sequence[str]) -> list[Path]:
    """Files and globs (``data/*.warc.gz``, ``**`` allowed) to archive files, in order, each
    once; a pattern that names nothing is an `IngestError`."""
    found: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            files = [p for p in matches if p.is_file() and is_archive(p)]
            if not files:
                raise IngestError(f"{pattern}: matches no WARC, ARC or WACZ file")
        else:
            path = Path(pattern)
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file() and is_archive(p))
                if not files:
                    raise IngestError(f"{pattern}: a folder with no WARC, ARC or WACZ file")
            elif not path.is_file():
                raise IngestError(f"{pattern}: no such file")
            else:
                files = [path]
        found += files
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def file_key(path: Path) -> str:
    """The file's identity: its size and a digest of its first MiB."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        digest = hashlib.sha1(fh.read(1 << 20)).hexdigest()
    return f"{size}-{digest}"


_NOT_NAME: Final = re.compile(r"[^a-z0-9_-]+")


def site_name_of(host: str) -> str:
    """A site name for a host with no config: its registered domain (``news.bbc.co.uk`` ->
    ``bbc-co-uk``), as a valid site name."""
    from crawler.config import _suffix_list

    parts = _suffix_list()(host)
    domain = parts.top_domain_under_public_suffix or host
    return _NOT_NAME.sub("-", domain.lower()).strip("-")[:64] or "unknown"


#: Hosts whose site is remembered (`Sites.match`); past it the memo starts again.
HOSTS_REMEMBERED: Final = 100_000
_V = TypeVar("_V")


class Sites:
    """Which site a captured URL belongs to, and its extraction options."""

    def __init__(self, configs: Sequence[SiteConfig]) -> None:
        self.configs = list(configs)
        self.compiled = [(c, c.compiled()) for c in self.configs]
        self.options: dict[str, ExtractOptions] = {
            c.name: ExtractOptions.from_site(c) for c in self.configs
        }
        # Per host: the sites whose domains hold it, or its site name with no site given (an
        # archive file repeats a few thousand hosts over and over).
        self._hosts: dict[str, list[tuple[SiteConfig, Any]]] = {}
        self._names: dict[str, str] = {}

    @staticmethod
    def _remember(memo: dict[str, _V], host: str, value: _V) -> _V:
        if len(memo) >= HOSTS_REMEMBERED:
            memo.clear()
        memo[host] = value
        return value

    def match(self, url: str) -> tuple[str, ExtractOptions] | str:
        """(site, options), or the reason the URL is not ingested."""
        host = (urlsplit(url).hostname or "").lower()
        if not self.configs:
            name = self._names.get(host)
            if name is None:
                name = self._remember(self._names, host, site_name_of(host))
            if name not in self.options:
                self.options[name] = ExtractOptions(
                    site=name, timezone=UNCONFIGURED_TZ, domains=(host,)
                )
            return name, self.options[name]
        on_domain = False
        sites = self._hosts.get(host)
        if sites is None:
            sites = self._remember(
                self._hosts,
                host,
                [(c, p) for c, p in self.compiled if host_in_domains(host, c.allowed_domains)],
            )
        for config, patterns in sites:
            if any(p.search(url) for p in patterns.deny):
                continue
            on_domain = True
            # A site without article patterns (zero-config) takes every page that extracts.
            if not patterns.article or any(p.search(url) for p in patterns.article):
                return config.name, self.options[config.name]
        return "not_article_url" if on_domain else "off_site"

    @property
    def strict(self) -> bool:
        """No site given: only pages with a publication date are taken for articles."""
        return not self.configs


@dataclass(slots=True)
class _Job:
    capture: Capture
    site: str
    key: str
    """The file's `file_key` (for `ingest_sources`)."""
    future: Future[Article]


@dataclass(slots=True)
class _File:
    """A file being read: where its reading stands."""

    path: Path
    key: str
    start: int
    safe: int
    """Every record before this offset is stored: where the file resumes."""
    counters: Counter[str] = field(default_factory=Counter)
    refs: dict[str, tuple[Path, int]] = field(default_factory=dict)
    marks: deque[tuple[int, int]] = field(default_factory=deque)
    """(jobs handed on so far, offset) after each record: once that many jobs are stored,
    the offset is safe."""


class Router:
    """Which captures are extracted, and with which site's options: the dates, then the
    sites. Built alike in the ingest and in each reader process."""

    def __init__(self, sites: Sites, since: date | None, until: date | None) -> None:
        self.sites, self.since, self.until = sites, since, until

    def route(self, url: str, captured: datetime) -> tuple[str, ExtractOptions] | str:
        """(site, options) of a capture to extract, else the reason it is not."""
        day = captured.astimezone(UTC).date()
        if (self.since is not None and day < self.since) or (
            self.until is not None and day > self.until
        ):
            return "outside_dates"
        return self.sites.match(url)

    def wanted(self, url: str, captured: datetime) -> str | None:
        """Asked before a record's payload is read: None to read it, else why not."""
        routed = self.route(url, captured)
        return routed if isinstance(routed, str) else None


def ingest(
    files: Sequence[Path],
    *,
    archive: Path,
    db_url: str | None = None,
    sites: Sequence[SiteConfig] = (),
    since: date | None = None,
    until: date | None = None,
    workers: int | None = None,
    readers: int = 1,
    progress: Progress | None = None,
    progress_every: float = 2.0,
) -> IngestSummary:
    """Ingest ``files`` into the archive; see the module's docstring. ``readers``: files read
    at once, each by a process of its own (1: read here, one after another)."""
    started = time.monotonic()
    paths = ArchivePaths(archive)
    paths.root.mkdir(parents=True, exist_ok=True)
    db = Database(db_url or paths.default_db_url)
    summary = IngestSummary()
    try:
        db.create_schema()
        with ExtractionPool(ExtractOptions(), workers=workers) as pool:
            run = _Ingest(db, paths, Sites(sites), pool, summary, since, until)
            run.progress, run.every = progress, progress_every
            if readers > 1 and len(files) > 1:
                run.in_readers(files, readers, list(sites))
            else:
                for path in files:
                    run.file(path)
            run.unresolved()
    finally:
        db.dispose()
        summary.seconds = time.monotonic() - started
    return summary


class _Ingest:
    def __init__(
        self,
        db: Database,
        paths: ArchivePaths,
        sites: Sites,
        pool: ExtractionPool,
        summary: IngestSummary,
        since: date | None,
        until: date | None,
    ) -> None:
        self.db = db
        self.paths = paths
        self.sites = sites
        self.pool = pool
        self.summary = summary
        self.router = Router(sites, since, until)
        self.reading: dict[str, _File] = {}
        self.jobs: list[_Job] = []
        self.submitted = 0
        """Jobs handed to the extraction pool so far."""
        self.collected = 0
        """Of those, the ones whose results are collected (the oldest first)."""
        self.stored = 0
        """Of those, the ones whose results are stored (or that failed): where files resume."""
        self.ready: list[tuple[Article, _Job]] = []
        """Collected articles waiting for the next store."""
        #: Payload digest / record id -> (file, offset) of the responses read (for revisits).
        self.payloads: dict[str, tuple[Path, int]] = {}
        self.waiting: list[tuple[Revisit, str]] = []
        self.parquet_keys: dict[str, set[tuple[str, str]]] = {}
        self.progress: Progress | None = None
        self.every = 2.0
        self.last_report = time.monotonic()

    # --- one file -----------------------------------------------------------------------------

    def file(self, path: Path) -> None:
        f = self.open(path)
        if f is not None:
            for item in read_archive(path, f.start, self.router.wanted):
                self.consume(f, item)
            self.close(f, complete=True)

    def in_readers(self, files: Sequence[Path], readers: int, sites: list[SiteConfig]) -> None:
        """Up to ``readers`` files at once, each read by a process of its own (`reader_main`),
        whose records are handled here as they come, file by file."""
        from multiprocessing.connection import wait

        pending = list(reversed(files))
        active: dict[Connection, tuple[_File, subprocess.Popen[bytes]]] = {}
        try:
            while pending or active:
                while pending and len(active) < readers:
                    path = pending.pop()
                    f = self.open(path)
                    if f is not None:
                        r = self.router
                        conn, proc = _start_reader(path, f.start, sites, r.since, r.until)
                        active[conn] = (f, proc)
                if not active:  # every file left was ingested before
                    break
                for ready in wait(list(active)):
                    conn = cast(Connection, ready)
                    f, proc = active[conn]
                    try:
                        batch = conn.recv()
                    except (EOFError, OSError):
                        batch = False
                    if isinstance(batch, list):
                        for item in batch:
                            self.consume(f, item)
                        continue
                    del active[conn]
                    conn.close()
                    code = proc.wait()
                    if batch is None:
                        self.close(f, complete=True)
                    else:  # the reader died: what it handed on is stored, the rest next time
                        logger.error("%s: its reader process ended (exit %s)", f.path, code)
                        self.summary.skipped["reader_failed"] += 1
                        self.close(f, complete=False)
        finally:
            for conn, (_f, proc) in active.items():
                conn.close()
                proc.kill()
                proc.wait()

    def open(self, path: Path) -> _File | None:
        """Start reading ``path`` (None: read to its end before, not again)."""
        s = self.summary
        s.files += 1
        key = file_key(path)
        state = self._state(key)
        start = 0
        if state is not None and state["done"]:
            s.files_skipped += 1
            logger.info("%s: ingested before (%s); not read again", path, state["updated_at"])
            return None
        if state is not None and state["next_offset"] > 0:
            start = int(state["next_offset"])
            s.files_resumed += 1
        self._save(key, path, start, done=False, new=state is None)
        f = _File(path, key, start, start)
        self.reading[key] = f
        return f

    def consume(self, f: _File, item: Item) -> None:
        s = self.summary
        if isinstance(item, Position):
            s.records += 1
            f.counters["records"] += 1
            # Every record before here has been handed on: safe once its jobs are stored.
            f.marks.append((self.submitted, item.offset if item.offset is not None else 0))
            if item.offset is not None:  # the record can be read again at its offset
                self.payloads.update(f.refs)
            f.refs = {}
            if len(self.jobs) >= 2 * BATCH:
                # The oldest batch is collected (and stored, once STORE_BATCH articles wait)
                # while the newer one is extracted: the extraction processes are not left idle.
                self._drain(BATCH)
                self._checkpoint()
            self._report(f.path.name)
        elif isinstance(item, Skip):
            s.skipped[item.reason] += 1
            f.counters[f"skipped.{item.reason}"] += 1
            if item.reason in SKIP_REASONS:  # damage, not a filter: say which record
                logger.info("%s@%d: %s: %s", item.source, item.offset, item.reason, item.message)
        elif isinstance(item, Revisit):
            s.revisits += 1
            self._revisit(item, f.key)
        else:
            s.captures += 1
            # Kept for revisits once the record is known to be re-readable (not in a WACZ
            # member or a whole-file gzip, which cannot be entered mid-way).
            f.refs = {r: (f.path, item.offset) for r in (item.payload_digest, item.record_id) if r}
            self._capture(item, f.key)

    def close(self, f: _File, *, complete: bool) -> None:
        self._drain()
        self._checkpoint()
        del self.reading[f.key]
        self._save(f.key, f.path, f.safe, done=complete, counters=f.counters)
        self._report(f.path.name, force=True)

    def _checkpoint(self) -> None:
        """Each open file's progress, as far as its records' jobs are stored, is saved (when
        it moved)."""
        for f in self.reading.values():
            safe = f.safe
            while f.marks and f.marks[0][0] <= self.stored:
                f.safe = f.marks.popleft()[1]
            if f.safe != safe:
                self._save(f.key, f.path, f.safe, done=False, counters=f.counters)

    def _capture(self, capture: Capture, key: str) -> None:
        s = self.summary
        matched = self.router.route(capture.url, capture.date)  # again for a resolved revisit
        if isinstance(matched, str):
            s.skipped[matched] += 1
            return
        site, options = matched
        s.pages += 1
        task = Task(
            capture.body,
            capture.url,
            http_encoding=charset_of(capture.content_type),
            options=options,
        )
        self.jobs.append(_Job(capture, site, key, self.pool.submit(task)))
        self.submitted += 1

    def _revisit(self, revisit: Revisit, key: str, *, last_chance: bool = False) -> None:
        """A capture of the payload the revisit repeats; one whose response has not been read
        yet waits for the end (`unresolved`), unless this is its ``last_chance``."""
        original = self.payloads.get(revisit.payload_digest or "") or self.payloads.get(
            revisit.refers_to or ""
        )
        if original is None and not last_chance:
            self.waiting.append((revisit, key))
            return
        capture = _reread(*original) if original is not None else None
        if capture is None:
            self.summary.skipped["revisit_unresolved"] += 1
            return
        self._capture(_as_revisit(capture, revisit), key)

    def unresolved(self) -> None:
        """Revisits read before the response they repeat (in a later file): resolved now."""
        waiting, self.waiting = self.waiting, []
        for revisit, key in waiting:
            self._revisit(revisit, key, last_chance=True)
        self._drain()

    # --- extraction results and storage ------------------------------------------------------

    def _drain(self, oldest: int | None = None) -> None:
        """Collect the results of the ``oldest`` jobs handed on, and store what is collected
        once it is `STORE_BATCH` articles; by default, collect and store everything."""
        if oldest is None and self.jobs:
            # What is collected is stored while the pool still extracts the last pages: the
            # end of a file then waits on storing those pages only, not on a whole batch.
            self._flush()
        n = len(self.jobs) if oldest is None else min(oldest, len(self.jobs))
        jobs, self.jobs = self.jobs[:n], self.jobs[n:]
        s = self.summary
        articles = self.ready
        for job in jobs:
            try:
                article = job.future.result()
            except ExtractionError as exc:
                s.failed[exc.reason] += 1
                continue
            except Exception as exc:  # a pool failure on one page must not end the ingest
                s.failed["extract_crash"] += 1
                logger.warning("Extraction failed on %s: %r", job.capture.url, exc)
                continue
            reason = self._invalid(article)
            if reason is not None:
                s.failed[reason] += 1
                continue
            at = job.capture.date
            job.capture = dataclasses.replace(job.capture, body=b"")  # the HTML is done with
            articles.append(
                (
                    article.replace(
                        site=job.site, fetched_at=at, first_seen=at, last_seen=at, crawl_run_id=None
                    ),
                    job,
                )
            )
        self.collected += n
        if oldest is None or len(articles) >= STORE_BATCH or not articles:
            self._flush()
        s.pending = len(self.ready)

    def _flush(self) -> None:
        """Store the articles collected so far: every job collected is then stored."""
        articles, self.ready = self.ready, []
        if articles:
            self._store(articles)
        self.stored = self.collected

    def _invalid(self, article: Article) -> str | None:
        n = body_length(article.body)
        if n == 0:
            return "no_body"
        if n < MIN_BODY_CHARS:
            return "too_short"
        if not article.title:
            return "no_title"
        if self.sites.strict and article.published_at is None:
            return "not_article"
        return None

    def _store(self, pairs: list[tuple[Article, _Job]]) -> None:
        """Parquet first, then SQL (SQL is the index of what is stored), then the sources."""
        by_site: dict[str, list[Article]] = defaultdict(list)
        for article, _ in pairs:
            by_site[article.site].append(article)
        for site, articles in by_site.items():
            tz = ZoneInfo(self.sites.options[site].timezone)
            dataset = ParquetDataset(self.paths.parquet_dir, partition_tz=tz)
            if site not in self.parquet_keys:
                self.parquet_keys[site] = dataset.keys(site)
            keys = self.parquet_keys[site]
            fresh: dict[tuple[str, str], Article] = {}
            for a in articles:
                if (a.url_hash, a.content_hash) not in keys:
                    fresh.setdefault((a.url_hash, a.content_hash), a)
            dataset.write_batch(list(fresh.values()))
            keys.update(fresh)
        done = self.db.upsert_captures([a for a, _ in pairs])
        s = self.summary
        s.new += done.new
        s.updated += done.updated
        s.unchanged += done.unchanged
        s.past += done.past
        self._sources(pairs)

    def _sources(self, pairs: Iterable[tuple[Article, _Job]]) -> None:
        rows = {
            (a.url_hash, a.content_hash, _utc(j.capture.date)): {
                "url_hash": a.url_hash,
                "content_hash": a.content_hash,
                "captured_at": j.capture.date,
                "source": j.capture.source,
                "offset": j.capture.offset,
                "record_id": j.capture.record_id,
                "file_key": j.key,
            }
            for a, j in pairs
        }
        c = _SOURCES.c
        hashes = sorted({k[0] for k in rows})
        with self.db.engine.begin() as conn:
            existing: set[tuple[str, str, datetime]] = set()
            for i in range(0, len(hashes), 500):  # one query per 500 URLs, not one per row
                found = conn.execute(
                    select(c.url_hash, c.content_hash, c.captured_at).where(
                        c.url_hash.in_(hashes[i : i + 500])
                    )
                )
                existing.update((u, h, _utc(t)) for u, h, t in found)
            fresh = [r for k, r in rows.items() if k not in existing]
            if fresh:
                conn.execute(insert(_SOURCES), fresh)

    # --- the file's saved progress -----------------------------------------------------------

    def _state(self, key: str) -> dict[str, Any] | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(select(_FILES).where(_FILES.c.file_key == key)).first()
        return None if row is None else dict(row._mapping)

    def _save(
        self,
        key: str,
        path: Path,
        offset: int,
        *,
        done: bool,
        new: bool = False,
        counters: Counter[str] | None = None,
    ) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {"path": str(path), "next_offset": offset, "done": done}
        values["updated_at"] = now
        if counters is not None:
            values["counters"] = dict(counters)
        with self.db.engine.begin() as conn:
            if new:
                conn.execute(
                    insert(_FILES).values(
                        file_key=key,
                        size=path.stat().st_size,
                        started_at=now,
                        counters={},
                        **values,
                    )
                )
            else:
                conn.execute(update(_FILES).where(_FILES.c.file_key == key).values(**values))

    def _report(self, name: str, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_report >= self.every:
            self.last_report = now
            self.progress(self.summary, name)


#: Records sent by a reader process in one message.
READER_BATCH: Final = 64


def _start_reader(
    path: Path,
    start: int,
    sites: list[SiteConfig],
    since: date | None,
    until: date | None,
) -> tuple[Connection, subprocess.Popen[bytes]]:
    """A process reading ``path`` from ``start`` (`reader_main`): a fresh interpreter, as the
    extraction pool's workers are."""
    process, conn = spawn_python(
        "crawler.ingest", "reader_main", (list(sys.path), path, start, sites, since, until)
    )
    return conn, process


def reader_main(fd: int) -> None:
    """A reader process: the records of one file, in lists of `READER_BATCH`, then None. It
    ends early when the ingest goes away (its socket closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingest's to handle
    conn = Connection(fd)
    try:
        search_path, path, start, sites, since, until = conn.recv()
        sys.path[:] = search_path
        router = Router(Sites(sites), since, until)
        batch: list[Item] = []
        for item in read_archive(path, start, router.wanted):
            batch.append(item)
            if len(batch) >= READER_BATCH:
                conn.send(batch)
                batch = []
        if batch:
            conn.send(batch)
        conn.send(None)
    except (EOFError, OSError):  # the ingest is gone
        return
    finally:
        conn.close()


def _utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite gives it back without an offset)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _reread(path: Path, offset: int) -> Capture | None:
    """The response record at ``offset`` of ``path`` again, or None (not there any more)."""
    items = read_archive(path, offset)
    try:
        first = next(items, None)
    finally:
        items.close()
    return first if isinstance(first, Capture) and first.offset == offset else None


def _as_revisit(original: Capture, revisit: Revisit) -> Capture:
    """The original's payload, captured again at the revisit's URL and date."""
    return Capture(
        revisit.source,
        revisit.offset,
        revisit.url,
        revisit.date,
        revisit.record_id,
        original.status,
        original.content_type,
        original.body,
        original.payload_digest,
    )
