"""Scrapy's downloader, with the first request to a site never held back by the delay.

Scrapy 2.19 spaces a site's requests by ``DOWNLOAD_DELAY`` using ``time.monotonic()`` and starts
each site's slot with ``lastseen = 0``: "last request at the machine's boot". On a machine up
for less than the delay (a fresh VM, a CI runner, a container host just started) the first
request to every site waits for the rest of the delay: with ``download_delay = 30`` and 10 s of
uptime, 20 s for nothing; with an hour's delay, up to an hour. Here a new slot starts as "never
used", so its first request goes at once, as it does on a machine that has been up for long.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader import Downloader as ScrapyDownloader

#: "Long ago" on the monotonic clock (finite: Scrapy formats it as a timestamp in its repr).
NEVER = -1e9


class Downloader(ScrapyDownloader):
    def _get_slot(self, request: Any, spider: Any = None) -> tuple[str, Any]:
        fresh = self.get_slot_key(request) not in self.slots
        key, slot = super()._get_slot(request)
        if fresh:
            slot.lastseen = NEVER
        return key, slot
