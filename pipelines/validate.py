"""Drop what is not a usable article, each with a recorded reason."""

from __future__ import annotations

from typing import Any

from crawler.drops import drop
from storage.article import Article
from storage.validation import body_length


class ValidatePipeline:
    def __init__(self, stats: Any, min_body_chars: int) -> None:
        self.stats = stats
        self.min_body_chars = min_body_chars

    @classmethod
    def from_crawler(cls, crawler: Any) -> ValidatePipeline:
        return cls(crawler.stats, crawler.settings.getint("ZHENGWEN_MIN_BODY_CHARS", 50))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        n = body_length(item.body)
        if n == 0:
            raise drop(self.stats, "validate", "no_body", "the page has no body text", item.url)
        if n < self.min_body_chars:
            raise drop(
                self.stats,
                "validate",
                "too_short",
                f"body has {n} characters, fewer than {self.min_body_chars}",
                item.url,
            )
        if not item.title:
            raise drop(self.stats, "validate", "no_title", "no headline found", item.url)
        return item
