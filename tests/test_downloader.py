"""crawler.downloader: a site's first request is not held back by its download delay, however
long ago the machine booted; the next ones are spaced as Scrapy spaces them."""

from __future__ import annotations

from time import monotonic

from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import settings as project
from crawler.downloader import Downloader

#: Longer than any machine's uptime: the stock downloader would hold the first request back.
DELAY = 1e8


def _downloader() -> Downloader:
    settings = {k: v for k, v in vars(project).items() if k.isupper()}
    settings["DOWNLOAD_DELAY"] = DELAY
    crawler = get_crawler(settings_dict=settings)
    downloader = Settings(settings)["DOWNLOADER"]
    assert downloader == "crawler.downloader.Downloader"
    downloader = Downloader(crawler)
    # The idle-slot collector is a reactor timer; no reactor runs in this test.
    downloader._start_slot_gc = lambda: None  # type: ignore[method-assign]
    return downloader


def _penalty(slot: object) -> float:
    # What Scrapy's Downloader._process_queue waits before sending the slot's next request.
    return slot.download_delay() - monotonic() + slot.lastseen  # type: ignore[attr-defined]


def test_the_first_request_to_a_site_goes_at_once() -> None:
    downloader = _downloader()
    _key, slot = downloader._get_slot(Request("http://127.0.0.1:1/robots.txt"))
    assert _penalty(slot) <= 0


def test_a_used_slot_keeps_its_delay() -> None:
    downloader = _downloader()
    request = Request("http://127.0.0.1:1/a.html")
    _key, slot = downloader._get_slot(request)
    slot.lastseen = monotonic()  # what _process_queue records when it sends a request
    _key, again = downloader._get_slot(Request("http://127.0.0.1:1/b.html"))
    assert again is slot
    assert _penalty(again) > DELAY / 2
