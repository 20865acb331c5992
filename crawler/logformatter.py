"""Log drops as one short line (reason + URL) instead of Scrapy's default dump of the whole item,
which for an article is its entire body text."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class ZhengwenLogFormatter(LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        url = getattr(exception, "url", None) or getattr(item, "url", None) or "?"
        return {
            "level": logging.INFO,
            "msg": "Dropped %(url)s: %(exception)s",
            "args": {"url": url, "exception": exception},
        }

    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult:
        return {
            "level": logging.DEBUG,
            "msg": "Stored %(url)s",
            "args": {"url": getattr(item, "url", "?")},
        }
