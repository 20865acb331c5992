"""Every dropped page or item has a reason a user can see: one helper to count and raise."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

#: Stats key prefix shared by all components, so the run record can collect drops by reason.
DROP_PREFIX = "zhengwen/dropped/"
ERROR_PREFIX = "zhengwen/errors/"
#: Requests not made by policy (an offsite redirect), as opposed to fetches that failed.
SKIP_PREFIX = "zhengwen/skipped/"
#: Retries by reason (``http_503``, ``timeout``): the page may still have been archived.
RETRY_PREFIX = "zhengwen/retries/"
#: Article pages fetched by how their URL was found (``news_sitemap``, ``feed``, ``list`` …).
DISCOVERED_PREFIX = "zhengwen/discovery/articles/"


class ZhengwenDrop(DropItem):
    """A DropItem that carries a stable, machine-readable reason (a stats key)."""

    def __init__(self, reason: str, message: str, url: str | None = None) -> None:
        super().__init__(f"{reason}: {message}", log_level="INFO")
        self.reason = reason
        self.url = url


def drop(
    stats: Any, component: str, reason: str, message: str, url: str | None = None
) -> ZhengwenDrop:
    """Count the drop under the component and under the global reason, and build the exception."""
    stats.inc_value(f"zhengwen/{component}/dropped/{reason}")
    stats.inc_value(f"{DROP_PREFIX}{reason}")
    return ZhengwenDrop(reason, message, url)


def collect(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    """Counters under one prefix, e.g. drops by reason, from a stats dict."""
    return {k[len(prefix) :]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}
