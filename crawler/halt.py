"""Stop a crawl at the first store failure it cannot go on from.

A background writer (`storage.batch.BatchWriter`) that failed stays failed: every later article
would be dropped as ``storage_error`` one by one, each with its traceback, while the crawl goes
on fetching pages it cannot keep. So the first failure of an article store (SQL or Parquet), or
a full disk anywhere in the archive (the raw archive, the fetch state), halts the crawl instead:

- it is said once: one ERROR log line, and one line on the terminal from `zhengwen crawl`
  (``zhengwen/halt/detail``), naming the disk and the path when the disk is full;
- the spider is closed with the reason (``disk_full`` or ``storage_failed``), so no new request
  is made and the run is recorded ``failed`` with that reason (when the database can still be
  written; else the next run of the site marks it ``interrupted``);
- pages that arrive afterwards (the requests that were in flight) are counted as
  ``skipped.<reason>``, not as dropped articles of the site: nothing is wrong with them, and
  as nothing of them was stored the next run fetches them again.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from scrapy.exceptions import DropItem

from crawler.drops import SKIP_PREFIX
from storage.diskfull import first_line, is_disk_full, no_space_message

logger = logging.getLogger(__name__)

#: Stats keys: why the crawl was halted, and the one line that says so.
HALT = "zhengwen/halt/reason"
HALT_DETAIL = "zhengwen/halt/detail"
DISK_FULL = "disk_full"
STORAGE_FAILED = "storage_failed"


class Unstored(DropItem):
    """An item that came after the crawl was halted: not stored, and no drop of the site (it
    is counted as ``skipped.<reason>`` by `count_unstored`)."""

    def __init__(self) -> None:
        super().__init__("not stored: the crawl was stopped", log_level="DEBUG")


def halted(stats: Any) -> str | None:
    """The halt reason, or None while the crawl may store."""
    if stats is None:
        return None
    reason = stats.get_value(HALT)
    return str(reason) if reason else None


def count_unstored(stats: Any) -> bool:
    """When the crawl is halted, count one more page that came too late to be stored as
    ``skipped.<reason>`` and return True."""
    reason = halted(stats)
    if reason is None:
        return False
    stats.inc_value(f"{SKIP_PREFIX}{reason}")
    return True


def storage_failed(
    crawler: Any,
    store: str,
    exc: BaseException,
    path: str | os.PathLike[str] | None = None,
    *,
    fatal: bool = True,
) -> str | None:
    """Record a failed write of ``store`` and halt the crawl if it cannot go on.

    ``fatal``: whether any failure of this store halts (the article stores); a store the
    crawl can do without (the raw archive, the fetch state) halts only on a full disk. Returns
    the halt reason, None when the crawl goes on. Only the first halt is logged and acted on.
    """
    stats = crawler.stats
    already = halted(stats)
    if already is not None:
        return already
    if is_disk_full(exc):
        reason, detail = DISK_FULL, no_space_message(exc, path)
    elif fatal:
        reason, detail = STORAGE_FAILED, f"the {store} store cannot be written: {first_line(exc)}"
    else:
        return None
    stats.set_value(HALT, reason)
    stats.set_value(HALT_DETAIL, detail)
    logger.error("Stopping the crawl (%s): %s", reason, detail)
    _close_soon(crawler, reason)
    return reason


def _close_soon(crawler: Any, reason: str) -> None:
    """Close the spider with ``reason`` from the reactor thread (callers may be on a writer
    thread); a spider already closing is left to close."""
    from twisted.internet import reactor

    def close() -> None:
        from scrapy.utils.defer import deferred_from_coro

        engine = getattr(crawler, "engine", None)
        if engine is None or getattr(engine, "spider", None) is None:
            return
        slot = getattr(engine, "_slot", None)
        if slot is not None and getattr(slot, "closing", None) is not None:
            return  # already closing (finished, interrupted): its own reason stands
        deferred_from_coro(engine.close_spider_async(reason=reason)).addErrback(lambda _f: None)

    reactor.callFromThread(close)
