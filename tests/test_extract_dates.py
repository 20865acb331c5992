"""Date forms found on Chinese and international news pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crawler.extract import ExtractOptions, extract, parse_date

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2020-10-03 21:26:54", "2020-10-03T21:26:54+08:00"),
        ("来源:光明网   日期:2020-10-03 21:26:54", "2020-10-03T21:26:54+08:00"),
        ("2020年10月3日 21:26", "2020-10-03T21:26:00+08:00"),
        ("2020年10月03日21:26", "2020-10-03T21:26:00+08:00"),
        ("2020年10月3日 下午3:05", "2020-10-03T15:05:00+08:00"),
        ("2020/10/03", "2020-10-03T00:00:00+08:00"),
        ("2020.10.03 08:05", "2020-10-03T08:05:00+08:00"),
        ("发布时间：2019-09-07 13:43:45", "2019-09-07T13:43:45+08:00"),
        ("2020-10-03T13:26:54Z", "2020-10-03T21:26:54+08:00"),
        ("2020-10-03T21:26:54+08:00", "2020-10-03T21:26:54+08:00"),
        ("October 3, 2020 9:26 PM", "2020-10-03T21:26:00+08:00"),
        ("Published 3 Oct 2020", "2020-10-03T00:00:00+08:00"),
        ("Sat, 03 Oct 2020 13:26:54 GMT", "2020-10-03T21:26:54+08:00"),
    ],
)
def test_parse_date_forms(text: str, want: str) -> None:
    got = parse_date(text, "Asia/Shanghai")
    assert got is not None
    assert got.isoformat() == want
    assert got.tzinfo is not None


def test_parse_date_other_zone() -> None:
    got = parse_date("2020-10-03 21:26", "Europe/Berlin")
    assert got == datetime(2020, 10, 3, 21, 26, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize("text", ["", "3小时前", "刚刚", "no date here", "2020-13-45"])
def test_parse_date_none(text: str) -> None:
    assert parse_date(text) is None


def _page(head: str, body: str) -> bytes:
    return (
        f"<html><head><meta charset='utf-8'><title>标题测试新闻_测试网</title>{head}</head><body>"
        f"<div class='top'>2020年10月04日 星期日</div><h1>标题测试新闻</h1>{body}"
        "<div class='content'><p>这是一段足够长的正文内容，用来测试日期提取是否正确，"
        "正文里面没有别的日期信息，只有普通的叙述文字和标点符号。</p>"
        "<p>第二段正文继续叙述事情的经过，同样不包含任何日期，以免干扰测试结果。</p></div>"
        "</body></html>"
    ).encode()


@pytest.mark.parametrize(
    ("head", "body", "want"),
    [
        (
            "<meta property='article:published_time' content='2020-10-03T21:26:54+08:00'>",
            "",
            "2020-10-03T21:26:54+08:00",
        ),
        ("<meta name='publishdate' content='2020-10-03 21:26'>", "", "2020-10-03T21:26:00+08:00"),
        (
            '<script type=\'application/ld+json\'>{"@type": "NewsArticle", '
            '"datePublished": "2020-10-03T21:26:54+08:00"}</script>',
            "",
            "2020-10-03T21:26:54+08:00",
        ),
        ("", "<div class='info'>发布时间:2020-10-03 21:26:54</div>", "2020-10-03T21:26:54+08:00"),
        ("", "<div class='info'>日期：2020年10月3日 21:26</div>", "2020-10-03T21:26:00+08:00"),
        ("", "<div class='info'>时间:2020/10/03</div>", "2020-10-03T00:00:00+08:00"),
        ("", "<div>2020-10-03 21:26 来源：新华网</div>", "2020-10-03T21:26:00+08:00"),
        (
            "",
            "<time datetime='2020-10-03T21:26:54+08:00'>10月3日</time>",
            "2020-10-03T21:26:54+08:00",
        ),
    ],
)
def test_published_from_page(head: str, body: str, want: str) -> None:
    article = extract(_page(head, body), "https://news.example.cn/a.html")
    assert article.published_at is not None
    assert article.published_at.isoformat() == want


def test_header_clock_is_not_the_publication_date() -> None:
    """The header shows today's date above the headline; it must not become published_at."""
    article = extract(_page("", ""), "https://news.example.cn/a.html")
    assert article.published_at is None


def test_offset_is_kept_as_instant() -> None:
    got = parse_date("2020-10-03T21:26:54-04:00")
    assert got == datetime(2020, 10, 3, 21, 26, 54, tzinfo=timezone(timedelta(hours=-4)))


def test_site_timezone_option() -> None:
    page = _page("", "<div class='info'>发布时间:2020-10-03 21:26:54</div>")
    article = extract(page, "https://x.example/a.html", ExtractOptions(timezone="Asia/Tokyo"))
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2020-10-03T21:26:54+09:00"


@pytest.mark.parametrize(
    ("url", "year"),
    [
        ("https://news.example.com/2019/1008/c1234.html", 2019),
        ("http://www.fzcb.example/jzfp/2020-10/03/content_1.html", 2020),
        ("https://money.163.com/19/0907/13/EOFOC8MJ00258105.html", 2019),
        ("https://www.example.com/a/20211008/123.html", 2021),
        ("https://baijiahao.example.com/s?id=1646789012345", None),
        (None, None),
    ],
)
def test_year_from_url(url: str | None, year: int | None) -> None:
    from crawler.extract.dates import year_from_url

    assert year_from_url(url) == year


def test_yearless_date_takes_the_year_from_the_url() -> None:
    page = (
        "<html><head><meta charset='utf-8'></head><body><h1>深圳驻点招商成果丰硕</h1>"
        "<div class='info'><span>加拿大必读</span> <span>10-08 12:00</span></div>"
        "<div class='content'><p>"
        + "九月以来，驻点招商工作队先后拜访企业两千余家，签约项目数十个。" * 3
        + "</p></div></body></html>"
    ).encode()
    a = extract(page, "https://news.example.com/2019/1008/c1.html")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2019-10-08T12:00:00+08:00"
    # Without a year anywhere, the date stays unknown rather than guessed from today.
    assert extract(page, "https://news.example.com/s?id=1").published_at is None
