"""Extraction: HTML bytes + URL + site options -> `Article`, with no Scrapy and no I/O.

The package is pure so it can be tested with golden files and reused outside the crawler
(re-extraction from the raw archive, notebooks).

Names are imported on first use (PEP 562): the crawler process needs `ExtractOptions` and
`ExtractionError` but not trafilatura and lxml, which only the extraction workers load.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from crawler.extract.errors import (
    ExtractionError,
    ExtractionTimeout,
    NotAnArticle,
    PageTooLarge,
    UndecodableError,
)
from crawler.extract.options import ExtractOptions

if TYPE_CHECKING:
    from crawler.extract.core import extract
    from crawler.extract.dates import parse_date
    from crawler.extract.decode import decode_html

_WHERE = {
    "extract": "crawler.extract.core",
    "parse_date": "crawler.extract.dates",
    "decode_html": "crawler.extract.decode",
}

__all__ = [
    "ExtractOptions",
    "ExtractionError",
    "ExtractionTimeout",
    "NotAnArticle",
    "PageTooLarge",
    "UndecodableError",
    "decode_html",
    "extract",
    "parse_date",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'crawler.extract' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
