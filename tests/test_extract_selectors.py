"""A site's selectors that match nothing are said, not silently replaced by the heuristics
(issue 14, item 13): the extraction `Report` lists them and the crawl's stats count them."""

from __future__ import annotations

import pytest

from crawler.extract.core import extract_with_report
from crawler.extract.dom import compile_selector
from crawler.extract.errors import ExtractionError, NotAnArticle
from crawler.extract.options import ExtractOptions
from crawler.extract.report import Report
from storage.article import Article

URL = "https://news.example.com/a/1.html"
PARAS = "".join(
    f"<p>这是第{i}段正文，讲述了一个完整的新闻事件，内容足够长，可以被识别为文章的一部分。</p>"
    for i in range(4)
)
PAGE = (
    "<html><head><meta charset='utf-8'><title>测试新闻标题_示例网</title></head><body>"
    "<h1 class='headline'>测试新闻标题</h1>"
    "<p class='info'>来源：新华网 2021-05-06 07:08</p>"
    f"<div class='content'>{PARAS}</div></body></html>"
).encode()


def extract(selectors: dict[str, str], report: Report | None = None) -> tuple[Article, Report]:
    return extract_with_report(PAGE, URL, ExtractOptions(selectors=selectors), report=report)


def test_selectors_that_match_nothing_are_listed_and_counted() -> None:
    article, report = extract(
        {
            "title": "h1.title",  # the page calls it h1.headline
            "author": "//span[@class='byline']",
            "body": "div.content",
            "source": "p.info",
        }
    )
    assert sorted(report.unmatched_selectors) == ["author", "title"]
    counters = report.counters()
    assert counters["selector_unmatched/title"] == 1
    assert counters["selector_unmatched/author"] == 1
    assert not any(
        k.startswith("selector_unmatched/") and k.endswith(("body", "source")) for k in counters
    )
    assert report.to_dict()["unmatched_selectors"] == report.unmatched_selectors
    # The heuristics still fill the field: the warning is the news, not a failure.
    assert article.title == "测试新闻标题"


def test_matching_selectors_are_not_reported() -> None:
    _, report = extract({"title": "h1.headline", "body": "div.content", "lead": "p.none"})
    assert report.unmatched_selectors == ["lead"]
    _, report = extract({"title": "h1.headline", "body": "div.content"})
    assert report.unmatched_selectors == []
    assert not any(k.startswith("selector_unmatched/") for k in report.counters())


def test_a_field_asked_for_twice_is_listed_once() -> None:
    # core looks the lead selector up more than once per page.
    _, report = extract({"lead": "p.standfirst"})
    assert report.unmatched_selectors == ["lead"]


def test_a_body_selector_that_matches_nothing_is_named_in_the_failure() -> None:
    report = Report()
    with pytest.raises(NotAnArticle) as info:
        extract({"body": "div.article-body"}, report)
    assert report.unmatched_selectors == ["body"]
    assert "body selector" in str(info.value)
    assert info.value.reason == "not_article"


def test_a_published_at_selector_whose_text_is_no_date_is_reported() -> None:
    # The same silent fallback: the selector matched, but what it picked is not a date.
    article, report = extract({"published_at": "h1.headline"})
    assert report.unmatched_selectors == []
    assert report.unusable_selectors == ["published_at"]
    assert report.counters()["selector_unusable/published_at"] == 1
    assert article.published_at is not None, "the heuristics still find the date"


@pytest.mark.parametrize("workers", [0, 1])
def test_the_crawl_counts_selectors_that_matched_nothing(workers: int) -> None:
    """In-process and through the worker pool, as `zhengwen/extract/selector_unmatched/<field>`:
    a crawl's stats show a site whose selectors stopped matching."""
    import asyncio
    from datetime import UTC, datetime

    from crawler.items import RawPage
    from pipelines.extract import ExtractPipeline
    from tests.test_pipelines import Stats

    class CrawlStats(Stats):
        def set_value(self, key: str, value: int) -> None:
            self.values[key] = value

    stats = CrawlStats()
    options = ExtractOptions(site="s", selectors={"title": "h1.title", "body": "div.content"})
    pipe = ExtractPipeline(stats, options, workers=workers, timeout=60)
    pipe.open_spider()
    try:
        page = RawPage(URL, PAGE, 200, "s", datetime(2024, 1, 1, tzinfo=UTC))
        article = asyncio.run(pipe.process_item(page))
    finally:
        pipe.close_spider()
    assert article.title == "测试新闻标题"
    assert stats.values["zhengwen/extract/selector_unmatched/title"] == 1
    assert "zhengwen/extract/selector_unmatched/body" not in stats.values


@pytest.mark.parametrize(
    "selector",
    [
        "//div[@class='content']",
        "(//h1)[1]",
        "//p[contains(., '正文') and not(@class)][position() mod 2 = 0]",
        "//div[count(p) > 2]/p[string-length() > 3]/text()",
        "div.content > p:nth-child(2n+1)",
        "p:contains('正文')",
        "a[hreflang|=en]",
    ],
)
def test_xpath_1_core_and_css_selectors_compile_and_run(selector: str) -> None:
    from lxml import html

    run = compile_selector(selector)
    run(html.fromstring(PAGE))  # no error on a page either


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ("//p[php:function('system','id')]", "namespace prefix 'php:'"),
        ("//p[re:test(., 'a')]", "namespace prefix 're:'"),
        ("//x:p", "namespace prefix 'x:'"),
        ("//p[$x]", "variables"),
        ("//p[foo()]", "foo() is not a function of XPath 1.0's core library"),
        ("//p[substring(.)]", "substring() takes 2-3 arguments, given 1"),
        ("svg|title", "namespace prefix 'svg:'"),
    ],
)
def test_selectors_that_fail_on_every_page_are_refused_when_compiled(
    selector: str, why: str
) -> None:
    """Issue 15, item 9: lxml compiles these and fails only on a page (``bad_selector`` for
    every page of a crawl); they are refused when the config loads."""
    with pytest.raises(ExtractionError) as info:
        compile_selector(selector)
    assert info.value.reason == "bad_selector"
    assert why in str(info.value.__cause__)
