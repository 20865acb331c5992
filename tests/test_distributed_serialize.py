"""A queued request's dict (`crawler.distributed.scheduler.request_dict`) is Scrapy's
``Request.to_dict`` found faster, and survives the JSON of `crawler.distributed.serialize`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import scrapy
from scrapy.http import FormRequest
from scrapy.utils.request import request_from_dict

from crawler.distributed import serialize
from crawler.distributed.scheduler import request_dict


class Base(scrapy.Spider):
    name = "serialize-test"

    def inherited(self, response: Any) -> None:
        pass


class Site(Base):
    def parse_page(self, response: Any) -> None:
        pass

    def on_error(self, failure: Any) -> None:
        pass


class Aliased(Site):
    alias = Site.parse_page


def _requests(spider: Site) -> list[scrapy.Request]:
    return [
        scrapy.Request("http://127.0.0.1:1/a", callback=spider.parse_page),
        scrapy.Request(
            "http://127.0.0.1:1/b",
            callback=spider.inherited,
            errback=spider.on_error,
            priority=7,
            meta={"depth": 2, "seen": datetime(2020, 10, 3, 21, 26, tzinfo=UTC)},
            headers={"Accept-Language": "zh-CN"},
            dont_filter=True,
        ),
        scrapy.Request("http://127.0.0.1:1/c", callback=spider.inherited, errback=spider.on_error),
        scrapy.Request("http://127.0.0.1:1/d"),
        FormRequest("http://127.0.0.1:1/e", formdata={"q": "正文"}, callback=spider.parse_page),
    ]


@pytest.mark.parametrize("index", range(5))
def test_the_dict_is_scrapys(index: int) -> None:
    spider = Site()
    request = _requests(spider)[index]
    assert request_dict(request, spider) == request.to_dict(spider=spider)


@pytest.mark.parametrize("index", range(5))
def test_a_request_survives_the_queue(index: int) -> None:
    spider = Site()
    request = _requests(spider)[index]
    back = request_from_dict(
        serialize.loads(serialize.dumps(request_dict(request, spider))), spider=spider
    )
    assert type(back) is type(request)
    for attr in ("url", "method", "body", "priority", "dont_filter", "meta", "callback", "errback"):
        assert getattr(back, attr) == getattr(request, attr), attr
    assert back.headers == request.headers


def test_a_method_shadowed_on_the_instance_is_found_by_scrapys_search() -> None:
    spider = Aliased()
    callback = spider.parse_page
    spider.parse_page = lambda response: None  # type: ignore[method-assign]
    request = scrapy.Request("http://127.0.0.1:1/a", callback=callback)
    # The method's own name now names something else: the search finds it under its alias.
    assert request_dict(request, spider)["callback"] == "alias"


def test_a_callback_that_is_not_a_spider_method_is_refused() -> None:
    spider = Site()
    with pytest.raises(ValueError, match="not an instance method"):
        request_dict(scrapy.Request("http://127.0.0.1:1/a", callback=print), spider)
