"""Extraction stand-ins for the pool tests: the real extractor, except on marked URLs.

Spawned workers import this module by name, so it lives in the tests package.
"""

from __future__ import annotations

import os
import time
from typing import Any

from crawler.extract import extract
from storage.article import Article


def hang_or_crash(html: bytes, url: str, options: Any, http_encoding: str | None = None) -> Article:
    if "slow" in url:
        time.sleep(1.0)
    if "hang" in url:
        time.sleep(3600)
    if "crash" in url:
        os._exit(3)
    if "bug" in url:
        raise KeyError("a bug in a rule")
    return extract(html, url, options, http_encoding=http_encoding)
