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


def _info_page(head: str, info: str, url_body: str = "") -> bytes:
    return (
        f"<html><head><meta charset='utf-8'>{head}</head><body>"
        "<div class='clock'>2020年10月04日 星期日</div>"
        f"<h1>英国美女在殡仪馆工作太痛苦转行当美人鱼</h1>{info}"
        "<div class='content'><p>"
        + "英国汉普郡的一位女士放弃了她在殡仪馆的工作，转而从事水下表演的工作。" * 3
        + f"</p>{url_body}</div></body></html>"
    ).encode()


def test_yearless_info_line_takes_the_year_from_a_machine_date_on_the_same_day() -> None:
    """Baijiahao: spans rendered without a space (``10-0812:00``), no year in the URL; the
    ``dateUpdate`` itemprop on the same day gives the year, the info line the minute."""
    info = (
        "<div class='article-source'><span class='date'>发布时间：10-08</span>"
        "<span class='time'>12:00</span><span>优质原创作者</span></div>"
    )
    same_day = "<meta itemprop='dateUpdate' content='2019-10-08 12:00:57'>"
    a = extract(_info_page(same_day, info), "https://baijiahao.example.com/s?id=1646796218")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2019-10-08T12:00:00+08:00"
    # An update on another day says nothing about the year: unknown, not guessed.
    other_day = "<meta itemprop='dateUpdate' content='2019-12-01 09:00:00'>"
    b = extract(_info_page(other_day, info), "https://baijiahao.example.com/s?id=1646796218")
    assert b.published_at is None


def test_two_digit_year_on_the_info_line() -> None:
    info = (
        "<div class='article-source'><span class='date'>发布时间：18-03-08</span>"
        "<span class='time'>23:16</span></div>"
    )
    a = extract(_info_page("", info), "https://baijiahao.example.com/s?id=1594379932")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2018-03-08T23:16:00+08:00"


def test_info_line_split_into_blocks() -> None:
    """QQ news renders year, month/day and time as three blocks; the URL gives the year."""
    info = "<div class='a'><div>2019</div><div>09/07</div><div>19:02</div></div><div>扬眼</div>"
    a = extract(_info_page("", info), "https://new.example.com/omn/20190907/20190907A081B0.html")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2019-09-07T19:02:00+08:00"


@pytest.mark.parametrize(
    ("head", "info", "want"),
    [
        # The meta stamps the page's generation; the info line shows the editor's time.
        (
            "<meta property='article:published_time' content='2019-09-07T06:52:51+08:00'>",
            "<div class='date-source'><span class='date'>2019年09月07日 04:04</span>"
            "<a>北京日报</a></div>",
            "2019-09-07T04:04:00+08:00",
        ),
        # A bare-day meta gets its time of day from the info line.
        (
            "<meta name='publishdate' content='2019-06-15'>",
            "<div class='box01'>2019年06月15日08:18&nbsp;&nbsp;来源：人民网</div>",
            "2019-06-15T08:18:00+08:00",
        ),
        # Same minute: the meta keeps its seconds.
        (
            "<meta property='article:published_time' content='2019-11-25T18:57:38+08:00'>",
            "<div class='date-source'>2019年11月25日 18:57 参考消息</div>",
            "2019-11-25T18:57:38+08:00",
        ),
        # Another day on the info line is some other date: the meta stays.
        (
            "<meta property='article:published_time' content='2019-09-07T06:52:51+08:00'>",
            "<div>2019年09月05日 10:00 北京日报</div>",
            "2019-09-07T06:52:51+08:00",
        ),
        # An update time on the info line does not replace the publication time.
        (
            "<meta property='article:published_time' content='2019-09-07T06:52:51+08:00'>",
            "<div>更新时间：2019-09-07 09:08</div>",
            "2019-09-07T06:52:51+08:00",
        ),
    ],
)
def test_info_line_time_refines_the_meta(head: str, info: str, want: str) -> None:
    a = extract(_info_page(head, info), "https://news.example.cn/c/doc-1.shtml")
    assert a.published_at is not None
    assert a.published_at.isoformat() == want


def test_bare_time_texts_rank_below_the_info_line() -> None:
    """``<time>`` without a datetime attribute in a sidebar list is not the article's date."""
    sidebar = "<ul><li><a>另一篇文章</a><time>2019-09-06</time></li></ul>"
    info = "<aside><span>2019-09-05 11:10 游民星空[整理]</span></aside>"
    a = extract(_info_page("", info, sidebar), "https://ol.example.com/news/201909/1220000.shtml")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2019-09-05T11:10:00+08:00"


def test_script_state_is_the_last_resort() -> None:
    state = (
        '<script>window.DATA = {"title": "运营商手机促销方式曝光", '
        '"pubtime": "2019-09-07 19:02:26", "media": "扬眼"};</script>'
    )
    a = extract(_info_page(state, "<div>昨天</div>"), "https://news.example.cn/topic/7PM49")
    assert a.published_at is not None
    assert a.published_at.isoformat() == "2019-09-07T19:02:26+08:00"
    # A shown date wins over the script's.
    b = extract(
        _info_page(state, "<div>2019-09-08 08:00</div>"), "https://news.example.cn/topic/7PM49"
    )
    assert b.published_at is not None
    assert b.published_at.isoformat() == "2019-09-08T08:00:00+08:00"


def test_a_midnight_meta_a_day_off_yields_to_the_date_the_page_shows() -> None:
    # ``PubDate 2022-01-28 00:00:00`` carries only a day (shifted by a zone mistake); the
    # header under the headline shows 2022-01-27.
    article = extract(
        _page(
            "<meta name='PubDate' content='2022-01-28 00:00:00'>",
            "<div class='info'>发布日期：2022-01-27</div>",
        ),
        "https://news.example.cn/a.html",
    )
    assert article.published_at is not None
    assert article.published_at.date().isoformat() == "2022-01-27"


def test_a_meta_time_of_day_is_kept_when_the_page_shows_another_day() -> None:
    article = extract(
        _page(
            "<meta name='PubDate' content='2022-01-28 10:15:00'>",
            "<div class='info'>发布日期：2022-01-27</div>",
        ),
        "https://news.example.cn/a.html",
    )
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2022-01-28T10:15:00+08:00"
