"""Pipelines and middlewares as plain classes (from_crawler passes plain values to __init__)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.drops import ZhengwenDrop
from crawler.middlewares import PrivateAddressGuard, is_private_host
from pipelines.dedupe import DedupePipeline
from pipelines.validate import ValidatePipeline
from storage.article import Article
from storage.db import Database
from storage.validation import body_length

BODY = "这是一篇足够长的新闻正文，用来通过校验。" * 4


class Stats:
    """The part of Scrapy's stats collector the components use, backed by a Counter."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] += count

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("192.168.0.1", True),
        ("[::1]", True),
        ("localhost", True),
        ("news.example.com", False),
        ("8.8.8.8", False),
    ],
)
def test_is_private_host(host: str, private: bool) -> None:
    assert is_private_host(host) is private


def test_private_address_guard_refuses_and_counts() -> None:
    stats = Stats()
    guard = PrivateAddressGuard(stats, allow_private=False)
    with pytest.raises(IgnoreRequest):
        guard.process_request(Request("http://169.254.169.254/latest/meta-data/"))
    assert guard.process_request(Request("https://news.example.com/a.html")) is None
    assert stats.values["zhengwen/errors/private_address"] == 1
    assert (
        PrivateAddressGuard(stats, allow_private=True).process_request(Request("http://127.0.0.1/"))
        is None
    )


@pytest.mark.parametrize(
    ("article", "reason"),
    [
        (Article(url="http://x/1", site="s", title="标题", body=" \n "), "no_body"),
        (Article(url="http://x/1", site="s", title="标题", body="太短的正文。"), "too_short"),
        (Article(url="http://x/1", site="s", title=None, body=BODY), "no_title"),
    ],
)
def test_validate_drops_with_reason(article: Article, reason: str) -> None:
    stats = Stats()
    with pytest.raises(ZhengwenDrop) as info:
        ValidatePipeline(stats, min_body_chars=50).process_item(article)
    assert info.value.reason == reason
    assert stats.values[f"zhengwen/dropped/{reason}"] == 1
    assert stats.values[f"zhengwen/validate/dropped/{reason}"] == 1


def test_validate_passes_an_article() -> None:
    article = Article(url="http://x/1", site="s", title="标题", body=BODY)
    assert ValidatePipeline(Stats(), 50).process_item(article) is article


def test_dedupe_new_changed_unchanged_duplicate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.sqlite'}"
    stored = Article(url="http://x/1", site="s", title="一", body=BODY)
    with Database(url) as db:
        db.create_schema()
        db.upsert_articles([stored])
    stats = Stats()
    pipe = DedupePipeline(stats, url, "s")
    pipe.open_spider()
    assert pipe.process_item(stored) is stored  # unchanged: passes on to bump last_seen
    with pytest.raises(ZhengwenDrop) as info:
        pipe.process_item(stored.replace(url="http://x/1?from=rss"))
    assert info.value.reason == "duplicate_content"
    with pytest.raises(ZhengwenDrop) as info:
        pipe.process_item(stored.replace(body=BODY + "更新。"))
    assert info.value.reason == "duplicate_url"  # one canonical URL once per run
    other = "另一篇报道：记者走访三个村庄，春耕备耕进展顺利，农资供应充足。"
    fresh = Article(url="http://x/2", site="s", title="二", body=other * 3)
    assert pipe.process_item(fresh) is fresh
    assert stats.values["zhengwen/articles/unchanged"] == 1
    assert stats.values["zhengwen/articles/new"] == 1


#: Every character str.isspace() calls whitespace (Unicode's, the ASCII separators included).
WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]


@given(st.lists(st.sampled_from([*WHITESPACE, "a", "中", "。", "\u200b", "\ufeff"]), max_size=60))
def test_body_length_counts_the_characters_that_are_not_whitespace(chars: list[str]) -> None:
    text = "".join(chars)
    assert body_length(text) == len([c for c in text if not c.isspace()])
