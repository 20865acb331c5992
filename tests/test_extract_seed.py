"""The seed page (法制晨报): the issue's acceptance list, checked independently of expected.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extract import ExtractOptions, extract
from storage.article import Article

PAGE = Path(__file__).resolve().parent / "golden" / "fazhi-chenbao" / "seed" / "page.html"
URL = "http://www.fzcb.org.cn/html/jingzhunfupin/2020/1003/1181.html"
LEAD = (
    "9月27日,省委书记、省人大常委会主任孙志刚,省委副书记、省长谌贻琴率贵州省党政代表团到深圳市"
    "学习考察,专程看望了贵州驻深圳招商工作队,高度肯定深圳驻点招商工作,并出席深圳招商成果集中"
    "签约仪式。现场签约"
)


@pytest.fixture(scope="module")
def article() -> Article:
    return extract(PAGE.read_bytes(), URL, ExtractOptions(site="fazhi-chenbao"))


def test_page_is_gb2312_declared_with_gbk_only_characters() -> None:
    raw = PAGE.read_bytes()
    assert b"charset=gb2312" in raw
    text = raw.decode("gb18030")
    with pytest.raises(UnicodeEncodeError):
        text.encode("gb2312")
    assert "喆" in text and "堃" in text


def test_fields(article: Article) -> None:
    assert article.title == "驻蹲开放前沿,引进优强企业"
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2020-10-03T21:26:54+08:00"
    assert article.source == "光明网"
    assert article.category == "精准扶贫"
    assert article.site_name == "法制晨报"
    assert article.author == "王法"
    assert article.editor is None
    assert article.lead == LEAD
    assert article.site == "fazhi-chenbao"
    assert article.url == URL
    assert article.fetched_url == URL
    assert article.fetched_at is None and article.first_seen is None


def test_body_bounds_and_subheadings(article: Article) -> None:
    lines = article.body.split("\n")
    assert lines[0].startswith("9月27日,省委书记")
    assert lines[-1].endswith("招商引资局面。")
    for heading in ("南下:走出去 驻下来", "逆行:等不得 等不起", "合力:想办法 建机制"):
        assert heading in lines


@pytest.mark.parametrize(
    "chrome",
    [
        "当前位置",
        "导读",
        "(责任编辑:)",
        "返回首页",
        "版权所有",
        "ICP",
        "公安网络备案",
        "客服电话",
        "免责声明",
        "回到顶部",
        "(王法)",
        "热点新闻",
        "上一篇",
        "法制晨报官网",
    ],
)
def test_body_has_no_chrome(article: Article, chrome: str) -> None:
    assert chrome not in article.body


def test_no_stray_cm_line(article: Article) -> None:
    assert "cm" not in article.body.split("\n")


def test_body_matches_seed_paragraphs(article: Article) -> None:
    seed = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "fazhi-chenbao-article.txt"
    if not seed.is_file():
        pytest.skip("seed text not available")
    lines = [line.strip() for line in seed.read_text(encoding="utf-8").split("\n")]
    start = next(i for i, line in enumerate(lines) if line.startswith("9月27日,省委书记"))
    end = next(i for i, line in enumerate(lines) if line.endswith("(王法)"))
    want = [line for line in lines[start : end + 1] if line]
    want[-1] = want[-1].removesuffix("(王法)")
    assert article.body.split("\n") == want
