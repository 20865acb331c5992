"""Waiting out a service's outage: one policy for the database and for Redis.

A worker of the cluster (docs/distributed.md) talks to two services it does not own. When one
of them goes away for a moment (a restart, a failover, connections killed by an operator), the
worker waits and tries again instead of failing the crawl: what it was writing is retried whole
(the archive's upserts and the queue's operations are idempotent), and nothing is lost.

`Outage` is the policy, shared by every place that waits: a backoff from ``first`` doubling to
``most`` seconds, one warning when an outage starts, one line when the service is back, a count
in the crawl's stats, and a ``limit`` after which the error is raised (the caller then fails as
it would have without waiting). Callers that cannot block (the reactor) use `failed` and
`recovered` and do their own non-blocking sleep; the others use `call`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("zhengwen.outage")

BACKOFF_FIRST = 0.1
BACKOFF_MOST = 5.0


class Outage:
    """The outage state of one service, safe to share between threads."""

    def __init__(
        self,
        service: str,
        limit: float,
        transient: Callable[[BaseException], bool],
        *,
        stats: Any = None,
        stat: str | None = None,
        log: logging.Logger = logger,
        first: float = BACKOFF_FIRST,
        most: float = BACKOFF_MOST,
    ) -> None:
        self.service = service
        self.limit = limit
        self.transient = transient
        self.stats = stats
        self.stat = stat
        self.log = log
        self.first = first
        self.most = most
        self.down_since: float | None = None
        self.outages = 0
        #: The outage outlasted ``limit``: calls are tried once, without waiting, until one
        #: succeeds (the caller is stopping; it must not wait the limit out again).
        self.gave_up = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException, what: str) -> bool:
        """Record a failed call; True when the caller should wait and try again, False when
        the error is not an outage or the outage has lasted longer than ``limit``."""
        if self.limit <= 0 or not self.transient(exc):
            return False
        now = time.monotonic()
        with self._lock:
            if self.down_since is None:
                self.down_since = now
                self.outages += 1
                self.log.warning(
                    "%s is unavailable (%s: %s: %s); waiting for it%s",
                    self.service,
                    what,
                    type(exc).__name__,
                    _first_line(exc),
                    f" up to {self.limit:.0f} s" if self.limit != float("inf") else "",
                )
                if self.stats is not None and self.stat:
                    self.stats.inc_value(self.stat)
            if now - self.down_since <= self.limit and not self.gave_up:
                return True
            self.gave_up = True
            return False

    def recovered(self) -> None:
        """Record a successful call (logs once when it ends an outage)."""
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            down = time.monotonic() - self.down_since
            self.down_since = None
            self.gave_up = False
        self.log.warning("%s is back after %.1f s", self.service, down)

    def delays(self) -> Iterator[float]:
        """The backoff schedule of one retrying call."""
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.most)

    def call(
        self, what: str, fn: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep
    ) -> T:
        """``fn()``, called again after a backoff for as long as it fails with an outage."""
        delays = self.delays()
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not self.failed(exc, what):
                    raise
                sleep(next(delays))
                continue
            self.recovered()
            return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def database_transient(exc: BaseException) -> bool:
    """A database error that a later retry of the same transaction may not meet: the
    connection was lost or refused, the server is shutting down or restarting, or the
    transaction lost a deadlock or serialisation conflict. SQLite's errors (a locked or full
    file) are not outages and are handled where they happen (storage.diskfull)."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        module = type(exc.orig).__module__ if exc.orig is not None else ""
        if module.startswith("sqlite3"):
            return False
        return isinstance(exc, (sa.OperationalError, sa.InterfaceError))
    return False


def redis_transient(exc: BaseException) -> bool:
    """A Redis error that means "not reachable now" (refused, reset, timed out, loading its
    data after a restart), not a wrong command or a refused password."""
    import redis
    from redis.exceptions import AuthorizationError

    if isinstance(exc, (redis.AuthenticationError, AuthorizationError)):
        return False  # subclasses of ConnectionError, but no wait makes them pass
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError))


def database_outage(limit: float, stats: Any = None) -> Outage:
    return Outage(
        "The database",
        limit,
        database_transient,
        stats=stats,
        stat="zhengwen/storage/db_outages",
    )
