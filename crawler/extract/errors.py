"""Typed extraction failures: the pipeline turns each into a recorded drop reason."""

from __future__ import annotations


class ExtractionError(Exception):
    """The page could not be turned into an Article. ``reason`` is a stable stats key."""

    reason = "extract_error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class NotAnArticle(ExtractionError):
    """The page parsed but holds no article text (a list page, an index, an empty page)."""

    reason = "not_article"


class UndecodableError(ExtractionError):
    """The bytes are not text in any encoding we could find (binary served as text/html)."""

    reason = "undecodable"


class PageTooLarge(ExtractionError):
    """The page is past a size limit checked before parsing (`crawler.extract.limits`): bytes
    (``too_large``) or tags (``too_many_tags``). Such a page costs seconds to minutes to parse
    and is never an article a reader could read."""

    reason = "too_large"


class ExtractionTimeout(ExtractionError):
    """The page used up its time budget (`ExtractOptions.time_budget`) before extraction ended.

    Same stats key as a page whose worker process the pool killed after its wall-clock timeout.
    """

    reason = "extract_timeout"
