"""Ctrl-C and SIGTERM during a crawl, as a terminal user and a scheduler expect.

Scrapy's own handlers log "shutting down gracefully" to the log file only, are installed only
once the reactor runs (a signal in the first seconds raised KeyboardInterrupt inside Twisted, or
killed the process with its run left ``running``), and on a second signal stop the reactor
without flushing what was extracted. Here, from the start of `crawler.runner.run_crawl`:

1. the first signal says on the terminal that the crawl is stopping and how many requests are
   in flight, and closes the spider (reason ``shutdown``: the run is recorded ``interrupted``,
   exit 0); arriving before the spider is open, it closes the spider as soon as it opens.
   Requests not sent yet are dropped and counted as ``skipped.not_sent`` (those waiting in the
   scheduler, for their turn under ``download_delay``, or for robots.txt): with a delay of an
   hour the crawl would otherwise wait an hour for each before it could close;
2. a second signal abandons the requests in flight (their connections are aborted; those pages
   count as ``skipped.abandoned``, not as errors) while the pipelines still store what was
   extracted and the run is still recorded ``interrupted``;
3. a third one stops at once, storing nothing more.

Messages are written with `os.write`: a signal handler must not write to a buffered stream the
interrupted code may be writing to.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from scrapy.exceptions import IgnoreRequest

from crawler.drops import SKIP_PREFIX

logger = logging.getLogger(__name__)

#: The stats flag the second signal sets (read by the retry middleware and the spider).
ABANDONING = "zhengwen/abandoning"
#: What the second signal's aborted requests are counted as (``skipped.abandoned``).
ABANDONED = "abandoned"
#: The stats flag the first signal sets once the spider closes: no request is sent from then on.
STOPPING = "zhengwen/stopping"
#: What the requests the first signal keeps from being sent are counted as (``skipped.not_sent``).
NOT_SENT = "not_sent"


class Abandoned(Exception):
    """The failure of a request that a second interrupt abandoned before it was sent."""


class NotSent(IgnoreRequest):
    """A request the crawl's stop kept from being sent (counted as ``skipped.not_sent``)."""


class NotSentGate:
    """Downloader middleware, last before the download: once the crawl is stopping, a request
    that reaches it (released by robots.txt or a retry's backoff) is not sent."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NotSentGate:
        return cls(crawler.stats)

    def process_request(self, request: Any) -> None:
        if self.stats.get_value(STOPPING):
            self.stats.inc_value(f"{SKIP_PREFIX}{NOT_SENT}")
            raise NotSent("not sent: the crawl is stopping")


def _reactor() -> Any:
    """The running Twisted reactor (imported late: it is installed by Scrapy's settings)."""
    from twisted.internet import reactor

    return reactor


def _say(text: str) -> None:
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


class Interrupts:
    """Signal handling for one crawl: `install` before anything starts, `attach` the crawler once
    it exists, `restore` when the crawl is over."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.count = 0
        self.signame = ""
        self.crawler: Any = None
        self._previous: dict[int, Any] = {}
        self._stop_when_open = False

    def install(self) -> None:
        from crawler import early_signals

        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        if early_signals.RECEIVED:
            # A signal while the process started (`crawler.early_signals`): stop once open.
            self.count = 1
            self.signame = signal.Signals(early_signals.RECEIVED[0]).name
            self._stop_when_open = True

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def attach(self, crawler: Any) -> None:
        """The crawler whose spider a signal closes; connects to its spider_opened."""
        from scrapy import signals

        self.crawler = crawler
        crawler.signals.connect(self._spider_opened, signal=signals.spider_opened)

    @property
    def abandoning(self) -> bool:
        return self.count >= 2

    # --- in the signal handler: flags and os.write only, the work goes to the reactor ---------

    def _on_signal(self, signum: int, _frame: Any) -> None:
        reactor = _reactor()

        self.count += 1
        self.signame = signal.Signals(signum).name
        again = "Ctrl-C" if signum == signal.SIGINT else self.signame
        if self.count == 1:
            in_flight = self._in_flight()
            _say(
                f"\nzhengwen: {self.signame}: stopping: finishing {in_flight} request"
                f"{'' if in_flight == 1 else 's'} in flight and storing what was extracted; "
                f"{again} again to abandon them\n"
            )
            reactor.callFromThread(self._stop)
        elif self.count == 2:
            _say(
                f"zhengwen: {self.signame} again: abandoning the requests in flight; storing what "
                f"was extracted ({again} once more to stop at once, storing nothing more)\n"
            )
            reactor.callFromThread(self._abandon)
        else:
            _say(f"zhengwen: {self.signame} a third time: stopping now\n")
            reactor.callFromThread(self._force)

    def _in_flight(self) -> int:
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        return len(getattr(downloader, "active", ()) or ())

    # --- in the reactor -------------------------------------------------------------------------

    def _stop(self) -> None:
        crawler = self.crawler
        if crawler is None or getattr(crawler, "spider", None) is None:
            self._stop_when_open = True  # the spider is not open yet: close it when it opens
            return
        self._close(crawler)

    def _spider_opened(self, spider: Any) -> None:
        if self._stop_when_open:
            # After the other spider_opened handlers (the run record is created there).
            _reactor().callLater(0, self._close, self.crawler)

    def _close(self, crawler: Any) -> None:
        """Scrapy's graceful stop: the engine closes the spider with reason ``shutdown``. The
        engine only stops once it runs (it starts just after the spider opens): until then this
        looks again every 50 ms."""
        from scrapy.utils.defer import deferred_from_coro

        engine = getattr(crawler, "engine", None)
        if engine is None or not engine.running:
            if crawler.crawling:
                _reactor().callLater(0.05, self._close, crawler)
            return
        crawler.stats.set_value("zhengwen/interrupted", self.signame)
        crawler.stats.set_value(STOPPING, True)
        deferred_from_coro(crawler.stop_async()).addErrback(lambda _failure: None)
        # The engine takes nothing more from the scheduler once stopping: what it holds is
        # never sent. What waits in the downloader's slots would be sent at its turn, which
        # `download_delay` may put an hour away: it is dropped now.
        scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
        unsent = len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else 0
        if unsent:
            crawler.stats.inc_value(f"{SKIP_PREFIX}{NOT_SENT}", unsent)
        dropped = _fail_queued(engine, lambda: NotSent("not sent: the crawl is stopping"))
        if dropped:
            crawler.stats.inc_value(f"{SKIP_PREFIX}{NOT_SENT}", dropped)
        logger.info("Stopping: %d requests not sent", unsent + dropped)

    def _abandon(self) -> None:
        """Abort the connections of the requests in flight: their downloads fail at once, are
        counted as abandoned (`count_abandoned`), and the spider's close goes on to store."""
        reactor = _reactor()

        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.set_value(ABANDONING, True)
        if not self.crawler or not getattr(self.crawler, "crawling", False):
            self._stop()
        # Requests waiting in the downloader's slots would start as soon as the aborted ones
        # free their place: they fail at once instead.
        _fail_queued(
            getattr(self.crawler, "engine", None),
            lambda: Abandoned("abandoned by a second interrupt"),
        )
        aborted = 0
        for selectable in {*reactor.getReaders(), *reactor.getWriters()}:
            # TCP client connections (the downloads) have a connector; listening ports, the
            # waker and DNS sockets have not.
            abort = getattr(selectable, "abortConnection", None)
            if abort is not None and getattr(selectable, "connector", None) is not None:
                abort()
                aborted += 1
        logger.info("Second interrupt: %d downloads in flight aborted", aborted)

    def _force(self) -> None:
        reactor = _reactor()

        try:
            reactor.stop()
        except Exception:  # already stopping
            pass


def _fail_queued(engine: Any, error: Any) -> int:
    """Fail the requests waiting in the downloader's slots (not sent yet) with ``error()``;
    returns how many."""
    failed = 0
    for slot in list(getattr(getattr(engine, "downloader", None), "slots", {}).values()):
        while slot.queue:
            _request, queued = slot.queue.popleft()
            queued.errback(error())
            failed += 1
    return failed


def abandoning(stats: Any) -> bool:
    """Whether a second signal abandoned the requests in flight (no retries from then on)."""
    return bool(stats is not None and stats.get_value(ABANDONING))


def count_abandoned(stats: Any) -> bool:
    """True (and counted as ``skipped.abandoned``) when a failed fetch is one the second signal
    abandoned: it is no error of the site."""
    if not abandoning(stats):
        return False
    stats.inc_value(f"{SKIP_PREFIX}{ABANDONED}")
    return True
