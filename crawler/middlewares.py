"""Downloader middlewares: the private-address guard, the redirect guard, retries with backoff.

Every request these refuse is counted once, where it is refused, under a stats key a user sees in
the run record (`crawler.drops`), and raised as `Refused` so the spider's errback knows it is
already counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from w3lib.url import canonicalize_url, safe_url_string

from crawler.addresses import AddressPolicy, is_private_host
from crawler.addresses import host_port as _host_port
from crawler.addresses import is_ip as _is_ip
from crawler.config import host_in_domains
from crawler.drops import ERROR_PREFIX, RETRY_PREFIX, SKIP_PREFIX
from crawler.interrupt import abandoning

logger = logging.getLogger(__name__)

#: request.meta key: seconds the retry middleware waits before sending this retry.
RETRY_DELAY_META = "zhengwen_retry_delay"
#: request.meta key: the Retry-After (seconds) of the response that is being retried.
RETRY_AFTER_META = "zhengwen_retry_after"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Refused(IgnoreRequest):
    """A request refused by zhengwen's policy, already counted under ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class PrivateAddressGuard:
    """Refuse requests to private, loopback and link-local addresses unless the site allows them.

    A redirect or a link on a hostile page must not turn the crawler against the network it runs
    in (cloud metadata at 169.254.169.254, admin panels on 10.x). IP literals are refused at
    once; a host name is resolved first and refused if its (IPv4) address is private. The lookup
    goes through the reactor's resolver, Scrapy's cached one that the download then asks too, so
    with DNSCACHE_ENABLED (the default) the address checked is the address connected to: a
    name that answers a public address first and 10.x next (DNS rebinding) does not get through.
    A name that does not resolve is left to the download to fail.
    """

    def __init__(
        self,
        stats: Any,
        allow_private: bool,
        allowed_hosts: tuple[str, ...] = (),
        resolve: Callable[[str], Any] | None = None,
    ) -> None:
        self.stats = stats
        self.policy = AddressPolicy(allow_private, allowed_hosts)
        #: host name -> Deferred of its IPv4 address (twisted's reactor.resolve); None: literal
        #: checks only.
        self.resolve = resolve

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateAddressGuard:
        policy = AddressPolicy.of_site(getattr(crawler.spider, "site", None))
        return cls(crawler.stats, policy.allow_all, tuple(policy.hosts), _resolve)

    def process_request(self, request: Any) -> Coroutine[Any, Any, None] | None:
        host, port = _host_port(request.url)
        if self.policy.allows(host, port):
            return None
        if is_private_host(host):
            self._refuse(request.url, host)
        if self.resolve is None or _is_ip(host) or not host:
            return None
        return self._check_resolved(request.url, host)

    async def _check_resolved(self, url: str, host: str) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future

        try:
            address = await maybe_deferred_to_future(self.resolve(host))  # type: ignore[misc]
        except Exception:
            return  # the download reports the DNS failure under its own kind
        if is_private_host(str(address)):
            self._refuse(url, f"{host} ({address})")

    def _refuse(self, url: str, what: str) -> None:
        self.stats.inc_value(f"{ERROR_PREFIX}private_address")
        # The start URL of a portal on a private network lands here too: name the key that
        # allows it (`zhengwen check-site` says so before a crawl, for IP literals).
        logger.warning(
            "Refused request to a private address %s: %s (a site on a private network needs "
            "allow_private in its config)",
            what,
            url,
        )
        raise Refused("private_address", f"private address refused: {url}")


def _resolve(host: str) -> Any:
    """A Deferred of the host's address from the reactor's resolver (Scrapy's DNS cache)."""
    from twisted.internet import reactor

    return reactor.resolve(host)  # type: ignore[arg-type]


class RedirectGuard:
    """Judge a redirect before Scrapy's RedirectMiddleware follows it.

    Placed at 610: ``process_response`` runs from the highest order down, so this sees the 3xx
    before RedirectMiddleware (600) builds the next request. Refused, each with its reason: a
    redirect to a private address (``errors/private_address``), out of the site's allowed
    domains (``skipped/offsite_redirect``), back to a URL of its own chain
    (``errors/redirect_loop``: the dupefilter would drop it without a word) and past
    ``REDIRECT_MAX_TIMES`` (``errors/too_many_redirects``).
    """

    def __init__(
        self, stats: Any, domains: tuple[str, ...], policy: AddressPolicy, max_redirects: int
    ) -> None:
        self.stats = stats
        self.domains = domains
        self.policy = policy
        self.max_redirects = max_redirects

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedirectGuard:
        site = getattr(crawler.spider, "site", None)
        return cls(
            crawler.stats,
            tuple(getattr(site, "allowed_domains", ())),
            AddressPolicy.of_site(site),
            crawler.settings.getint("REDIRECT_MAX_TIMES"),
        )

    def process_response(self, request: Any, response: Any) -> Any:
        location = response.headers.get(b"Location")
        if (
            response.status not in REDIRECT_STATUSES
            or location is None
            # The cases where RedirectMiddleware hands the 3xx to the spider instead.
            or request.meta.get("dont_redirect")
            or request.meta.get("handle_httpstatus_all")
            or response.status in request.meta.get("handle_httpstatus_list", ())
        ):
            return response
        # The target as RedirectMiddleware computes it (scheme-relative '//host/x' included).
        target = urljoin(request.url, safe_url_string(location))
        if urlsplit(target).scheme not in ("http", "https"):
            return response
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if self.policy.refuses(target):
            self._refuse(ERROR_PREFIX, "private_address", request.url, target, logging.WARNING)
        if self.domains and not host_in_domains(_host_port(target)[0], self.domains):
            self._refuse(SKIP_PREFIX, "offsite_redirect", request.url, target, logging.INFO)
        if canonicalize_url(target) in {canonicalize_url(u) for u in chain}:
            self._refuse(ERROR_PREFIX, "redirect_loop", request.url, target, logging.WARNING)
        if len(chain) > self.max_redirects:
            self._refuse(ERROR_PREFIX, "too_many_redirects", request.url, target, logging.WARNING)
        return response

    def _refuse(self, prefix: str, reason: str, url: str, target: str, level: int) -> None:
        self.stats.inc_value(f"{prefix}{reason}")
        logger.log(level, "Redirect not followed (%s): %s -> %s", reason, url, target)
        raise Refused(reason, f"{url} -> {target}")


def retry_after_seconds(value: bytes | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds from now; None if absent or
    unreadable (the backoff then decides)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (RETRY_TIMES, RETRY_HTTP_CODES, RETRY_EXCEPTIONS), spaced out.

    Scrapy sends a retry as soon as the scheduler hands it back: three hits in a second on a
    server that just said 503. Here retry *n* waits ``ZHENGWEN_RETRY_BACKOFF_BASE * 2**(n-1)``
    seconds (at most ``ZHENGWEN_RETRY_BACKOFF_MAX``), or the server's ``Retry-After`` when it
    sends one. A Retry-After longer than ``ZHENGWEN_RETRY_AFTER_MAX`` is not waited for: the
    page is given up at once and recorded as its HTTP status. The wait happens in
    ``process_request`` of the retry, before the request enters the site's download slot, so
    other pages of the site keep going; a waiting retry holds one of ``CONCURRENT_REQUESTS``.
    Retries are counted by reason under ``zhengwen/retries/``.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("ZHENGWEN_RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("ZHENGWEN_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("ZHENGWEN_RETRY_AFTER_MAX", 120.0)

    def process_request(self, request: Any) -> Coroutine[Any, Any, None] | None:
        delay = request.meta.pop(RETRY_DELAY_META, None)
        if not delay:
            return None
        return _sleep(float(delay))

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is not None and wait > self.retry_after_max:
            # Not a retry: the page fails as its status (errors/http_429) in the spider.
            self.crawler.stats.inc_value("zhengwen/retry/retry_after_too_long")
            logger.info(
                "Not retrying %s: Retry-After %.0f s is over ZHENGWEN_RETRY_AFTER_MAX (%.0f s)",
                request.url,
                wait,
                self.retry_after_max,
            )
            return response
        request.meta[RETRY_AFTER_META] = wait
        try:
            return super().process_response(request, response)
        finally:
            request.meta.pop(RETRY_AFTER_META, None)

    def _retry(self, request: Any, reason: Any) -> Any:
        if abandoning(self.crawler.stats):
            return None  # a second interrupt abandoned the requests in flight: no retry either
        retry = super()._retry(request, reason)
        if retry is None:
            return None
        attempt = int(retry.meta.get("retry_times", 1))
        after = retry.meta.pop(RETRY_AFTER_META, None)
        if after is not None:
            delay = float(after)
        else:
            delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
        retry.meta[RETRY_DELAY_META] = delay
        # An HTTP status arrives as its message ("503 Service Unavailable"), a failure as the
        # exception.
        kind = f"http_{reason.split()[0]}" if isinstance(reason, str) else fetch_error_kind(reason)
        self.crawler.stats.inc_value(f"{RETRY_PREFIX}{kind}")
        logger.info(
            "Retrying %s in %.1f s (%s; retry %d of %d)%s",
            request.url,
            delay,
            kind,
            attempt,
            request.meta.get("max_retry_times", self.max_retry_times),
            " as Retry-After asks" if after is not None else "",
        )
        return retry


async def _sleep(seconds: float) -> None:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import reactor, task

    await maybe_deferred_to_future(task.deferLater(reactor, seconds))


def fetch_error_kind(exc: BaseException | None) -> str:
    """A short stable name for a fetch failure, for counters (``http_404``, ``timeout``, ...)."""
    from scrapy import exceptions as sx
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import defer
    from twisted.internet import error as tx

    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, sx.ResponseDataLossError):
        # Twisted's ResponseFailed lists why the body ended early: a reset (ConnectionLost)
        # rather than a clean close that came before Content-Length was reached.
        reasons = getattr(exc.__cause__, "reasons", []) or []
        if any(r.check(tx.ConnectionLost) for r in reasons):
            return "connection_reset"
        return "data_loss"
    for kind, classes in (
        ("dns", (sx.CannotResolveHostError, tx.DNSLookupError)),
        ("connection_refused", (sx.DownloadConnectionRefusedError, tx.ConnectionRefusedError)),
        ("timeout", (sx.DownloadTimeoutError, tx.TimeoutError, tx.TCPTimedOutError)),
        # DOWNLOAD_MAXSIZE: refused on its Content-Length, or cancelled once past it.
        ("too_large", (sx.DownloadCancelledError, defer.CancelledError)),
        ("connection_lost", (tx.ConnectionLost, tx.ConnectionDone)),
    ):
        if isinstance(exc, classes):
            return kind
    name = type(exc).__name__ if exc is not None else "unknown"
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
