"""Scrapy's per-response check for generator callbacks that return a value is switched off
(``WARN_ON_GENERATOR_RETURN_VALUE``, crawler/settings.py: it cost ~15 ms of CPU per page).
The same check runs here, once, over every generator method of every spider we ship."""

from __future__ import annotations

import inspect

import pytest
from scrapy.utils.misc import is_generator_with_return_value

from crawler.distributed.spider import ClusterPortalSpider
from crawler.spiders.portal import PortalSpider

SPIDERS = [PortalSpider, ClusterPortalSpider]


def _generator_methods() -> list[tuple[str, object]]:
    found = {}
    for spider in SPIDERS:
        for _name, member in inspect.getmembers(spider, inspect.isgeneratorfunction):
            if member.__module__.startswith("crawler."):
                found[f"{member.__module__}.{member.__qualname__}"] = member
    return sorted(found.items())


def test_the_project_switches_scrapys_per_response_check_off() -> None:
    from scrapy.settings import Settings

    from crawler import settings as project

    assert Settings(vars(project)).getbool("WARN_ON_GENERATOR_RETURN_VALUE") is False


def test_there_are_generator_callbacks_to_check() -> None:
    names = [name for name, _ in _generator_methods()]
    assert any(name.endswith(".parse_list") for name in names)
    assert any(name.endswith(".parse_seed") for name in names)


@pytest.mark.parametrize(("name", "method"), _generator_methods())
def test_no_generator_method_returns_a_value(name: str, method: object) -> None:
    assert not is_generator_with_return_value(method), (  # type: ignore[arg-type]
        f"{name} is a generator with `return <value>`: the value is lost"
    )


def _returns_a_value(response: object) -> object:
    yield response
    return 2


def test_the_check_catches_a_generator_that_returns_a_value() -> None:
    assert is_generator_with_return_value(_returns_a_value)
