"""Downloader middleware: every fetched response, with its request, into the raw WARC archive.

Placement (``DOWNLOADER_MIDDLEWARES`` 880, between DownloaderStats 850 and HttpCache 900): its
``process_request`` runs after every middleware that adds headers (User-Agent, Accept-Encoding,
conditional-request headers), so the request record shows what was sent; its
``process_response`` runs first on the way back, before HttpCompressionMiddleware (590)
decompresses, RedirectMiddleware (600) follows and RetryMiddleware (550) retries. The WARC
payload is therefore the body *as received* (still gzip when the server gzipped, with its
``Content-Encoding``), redirects and failed attempts are archived too, and a WARC tool replays
the exchange faithfully. See docs/raw-archive.md.

Writing happens on a background thread (`storage.batch.BatchWriter`): a WARC write plus the
per-batch fsync must not stall the reactor.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.drops import ERROR_PREFIX
from crawler.halt import storage_failed
from pipelines.common import archive_paths
from storage.batch import BatchWriter, StorageError
from storage.raw import DEFAULT_MAX_BYTES, Exchange, RawArchiveWriter

logger = logging.getLogger(__name__)

#: Set on request.meta when the response arrives; the spider stamps the Article's
#: ``fetched_at`` with it, so re-extraction from the WARC date reproduces it exactly.
FETCHED_AT_META = "zhengwen_fetched_at"

#: Exchanges per background batch (one fsync and one index commit each), and the longest an
#: exchange waits before its batch is written.
BATCH_ITEMS = 64
BATCH_SECONDS = 1.0


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Scrapy Headers → one (name, value) pair per value, bytes read as latin-1 (lossless)."""
    pairs: list[tuple[str, str]] = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values:
            pairs.append((key, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return pairs


class RawArchiveMiddleware:
    def __init__(
        self,
        stats: Any,
        raw_dir: Path,
        site: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.stats = stats
        self.site = site
        self.writer = RawArchiveWriter(raw_dir, max_bytes)
        self.batch: BatchWriter[Exchange] = BatchWriter(
            self._write, BATCH_ITEMS, BATCH_SECONDS, name="zhengwen-raw", max_pending_batches=8
        )
        self.raw_dir = raw_dir
        self.failed = False
        self.crawler: Any = None

    def durable_writers(self) -> list[BatchWriter[Exchange]]:
        """For the cluster's lease tracker (crawler.distributed.tracker)."""
        return [self.batch]

    @classmethod
    def from_crawler(cls, crawler: Any) -> RawArchiveMiddleware:
        settings = crawler.settings
        if not settings.getbool("ZHENGWEN_RAW_ARCHIVE", True):
            raise NotConfigured("ZHENGWEN_RAW_ARCHIVE is off")
        site = getattr(crawler.spider, "site", None)
        name = site.name if site is not None else str(getattr(crawler.spider, "name", "unknown"))
        mw = cls(
            crawler.stats,
            archive_paths(settings).raw_dir,
            name,
            settings.getint("ZHENGWEN_RAW_MAX_BYTES", DEFAULT_MAX_BYTES),
        )
        mw.crawler = crawler
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def process_response(self, request: Any, response: Any) -> Any:
        fetched_at = datetime.now(UTC)
        request.meta[FETCHED_AT_META] = fetched_at
        if self.failed:
            return response
        exchange = Exchange(
            url=response.url,
            site=self.site,
            status=int(response.status),
            body=response.body,
            fetched_at=fetched_at,
            method=request.method,
            request_headers=_header_pairs(request.headers),
            request_body=request.body or b"",
            response_headers=_header_pairs(response.headers),
            protocol=getattr(response, "protocol", None) or "HTTP/1.1",
            kind=request.meta.get("kind"),
            run_id=self.stats.get_value("zhengwen/run_id"),
        )
        try:
            self.batch.put(exchange)
        except StorageError as exc:
            self._fail(exc)
        return response

    def _write(self, batch: list[Exchange]) -> None:
        """Runs on the writer thread: records, then one fsync and index commit per batch."""
        for exchange in batch:
            written = self.writer.write(exchange)
            self.stats.inc_value("zhengwen/raw/records")
            self.stats.inc_value("zhengwen/raw/bytes", written.bytes)
            if written.record_type == "revisit":
                self.stats.inc_value("zhengwen/raw/revisits")
        self.writer.flush()

    def _fail(self, exc: BaseException) -> None:
        """The archive cannot be written: say so once and count it. The crawl goes on storing
        the articles, unless the disk is full (`crawler.halt`: the article stores are next)."""
        if not self.failed:
            self.failed = True
            self.stats.inc_value(f"{ERROR_PREFIX}raw_storage")
            halted = None
            if self.crawler is not None:
                halted = storage_failed(self.crawler, "raw", exc, self.raw_dir, fatal=False)
            if halted is None:
                logger.error("Raw archive writes stopped: %s", exc)

    def spider_closed(self) -> None:
        try:
            self.batch.close()
        except StorageError as exc:
            self._fail(exc)
        try:
            self.writer.close()
        except Exception as exc:  # an fsync/rename failure must be visible, not a traceback
            self._fail(exc)
        self.stats.set_value("zhengwen/raw/files", len(self.writer.closed_files))
