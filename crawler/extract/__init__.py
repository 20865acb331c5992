"""Extraction: HTML bytes + URL + site options -> `Article`, with no Scrapy and no I/O.

The package is pure so it can be tested with golden files and reused outside the crawler
(re-extraction from the raw archive, notebooks).
"""

from __future__ import annotations

from crawler.extract.core import extract
from crawler.extract.dates import parse_date
from crawler.extract.decode import decode_html
from crawler.extract.errors import ExtractionError, NotAnArticle, UndecodableError
from crawler.extract.options import ExtractOptions

__all__ = [
    "ExtractOptions",
    "ExtractionError",
    "NotAnArticle",
    "UndecodableError",
    "decode_html",
    "extract",
    "parse_date",
]
