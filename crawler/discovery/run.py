"""One run's reading of a site's sitemaps and feeds: what is fetched, what is skipped and why.

The spider asks `DiscoveryRun.want` before fetching a sitemap or feed and hands each body to
`read_sitemap` / `read_feed`; every bound that bites is counted through ``count(reason)``
(the spider counts it as ``zhengwen/skipped/<reason>``, so the run record and the summary show
it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Literal

from w3lib.url import canonicalize_url

from crawler.discovery.entries import Limits, Parsed
from crawler.discovery.feeds import parse_feed
from crawler.discovery.sitemaps import parse_sitemap

Kind = Literal["sitemap", "feed"]


class DiscoveryRun:
    """Per-run state: sitemaps and feeds seen, fetches and entries charged to the caps.

    ``since``: sitemaps of an index whose ``lastmod`` is older than this instant (the last
    successful run's start less the re-check window) were read by an earlier run and are not
    fetched again (``sitemap_unchanged``); None on a first run.
    """

    def __init__(
        self,
        limits: Limits,
        tz: tzinfo,
        count: Callable[[str], None],
        since: datetime | None = None,
    ) -> None:
        self.limits = limits
        self.tz = tz
        self.count = count
        self.since = since
        self.seen: set[str] = set()
        self.fetches = 0
        self.entries = 0
        self.covered = False
        #: The sitemaps (read at the top, not through an index) and feeds that listed
        #: something this run, in the order read: what ``new-site`` writes into a config.
        self.found: dict[Kind, list[str]] = {"sitemap": [], "feed": []}
        """A sitemap or feed listed article entries this run (or an index listed sitemaps read
        by an earlier run): list pages beyond the start pages are then not walked."""

    def want(self, url: str, kind: Kind, depth: int = 0, lastmod: datetime | None = None) -> bool:
        """Whether to fetch this sitemap or feed; a refusal is counted with its reason."""
        key = canonicalize_url(url)
        if key in self.seen:
            self.count(f"{kind}_seen")
            return False
        if depth > self.limits.max_depth:
            self.count("sitemap_too_deep")
            return False
        if lastmod is not None and self.since is not None and lastmod < self.since:
            self.seen.add(key)
            self.covered = True
            self.count("sitemap_unchanged")
            return False
        if self.fetches >= self.limits.max_fetches:
            self.count("discovery_fetches_cap")
            return False
        self.seen.add(key)
        self.fetches += 1
        return True

    def found_useful(self, url: str, kind: Kind) -> None:
        """``url`` (a top-level sitemap or a feed) listed entries or sitemaps."""
        if url not in self.found[kind]:
            self.found[kind].append(url)

    def read_sitemap(self, body: bytes, url: str) -> Parsed:
        return self._take(parse_sitemap(body, url, self.tz, self.limits))

    def read_feed(self, body: bytes, url: str) -> Parsed:
        return self._take(parse_feed(body, url, self.limits))

    def _take(self, parsed: Parsed) -> Parsed:
        for reason in parsed.skips:
            self.count(reason)
        room = max(0, self.limits.max_entries - self.entries)
        if len(parsed.entries) > room:
            parsed.entries = parsed.entries[:room]
            self.count("discovery_entries_cap")
        self.entries += len(parsed.entries)
        return parsed
