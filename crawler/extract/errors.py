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
