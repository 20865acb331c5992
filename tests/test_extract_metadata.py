"""Metadata, bylines, chrome lines, selectors and English pages, on real-looking snippets."""

from __future__ import annotations

import pytest

from crawler.extract import ExtractionError, ExtractOptions, NotAnArticle, extract
from crawler.extract.cleanup import (
    byline_of,
    clean_body,
    dateline_byline,
    is_chrome,
    split_trailing_byline,
)

PARAS = [
    "记者从市交通委获悉，今年全市将新建改建道路一百二十公里，进一步完善城市路网结构，缓解交通拥堵。",
    "据介绍，新建道路主要集中在城市副中心和南部地区，预计年底前全部完工并投入使用，方便群众出行。",
    "市交通委有关负责人表示，将加强施工组织管理，尽量减少施工对周边居民生活和道路通行的影响。",
]


def cn_page(
    head: str = "", before: str = "", inside_top: str = "", inside_end: str = "", after: str = ""
) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        "<html><head><meta charset='utf-8'><title>全市今年新建改建道路120公里_北京日报网</title>"
        f"{head}</head><body><div class='nav'><a href='/'>首页</a> <a href='/bj/'>北京</a></div>"
        f"{before}<h1>全市今年新建改建道路120公里</h1>"
        "<div class='info'>来源：北京日报　发布时间：2021-03-05 09:30</div>"
        f"<div class='article'>{inside_top}{body}{inside_end}</div>{after}"
        "<div class='footer'>版权所有：北京日报网 京ICP备12345678号</div></body></html>"
    ).encode()


URL = "https://www.bjd.example.cn/news/2021/0305/1.html"


def test_basic_fields() -> None:
    a = extract(cn_page(before="<div class='crumb'>当前位置：首页 &gt; 北京 &gt; 正文</div>"), URL)
    assert a.title == "全市今年新建改建道路120公里"
    assert a.source == "北京日报"
    assert a.category == "北京"
    assert a.site_name == "北京日报网"
    assert a.language == "zh"
    assert a.published_at is not None and a.published_at.isoformat() == "2021-03-05T09:30:00+08:00"
    assert a.body.split("\n") == PARAS
    assert a.url == URL and a.fetched_url == URL


@pytest.mark.parametrize(
    ("inside_top", "inside_end", "author"),
    [
        ("", "<p>市交通委将持续推进道路建设工作。(王法)</p>", "王法"),
        ("", "<p>市交通委将持续推进道路建设工作。（王法）</p>", "王法"),
        ("<p>本报记者 张三</p>", "", "张三"),
        # Names keep the page's own separator: spaces stay spaces, 、 stays 、.
        ("<p>记者 张三 李四</p>", "", "张三 李四"),
        ("<p>澎湃新闻记者 段彦超 廖艳</p>", "", "段彦超 廖艳"),
        ("<p>文/李四</p>", "", "李四"),
        ("<p>作者:王五</p>", "", "王五"),
        ("<p>【文/观察者网专栏作者 王文】</p>", "", "王文"),
        ("<p>执笔/叨叨姐、胡一刀&amp;李小飞刀</p>", "", "叨叨姐、胡一刀&李小飞刀"),
        ("<p>《棱镜》作者 周纯</p>", "", "周纯"),
        ("<p>原创： 路闻卓立编译 人民币交易与研究</p>", "", "路闻卓立"),
        ("", "<p>采写：南都见习记者 林子沛</p>", "林子沛"),
        ("", "<p>扬子晚报记者 张楠</p>", "张楠"),
    ],
)
def test_byline_forms(inside_top: str, inside_end: str, author: str) -> None:
    a = extract(cn_page(inside_top=inside_top, inside_end=inside_end), URL)
    assert a.author == author
    assert author.split("、")[0] not in a.body
    assert a.body.split("\n")[:3] == PARAS


def test_trailing_parenthesis_that_is_not_a_name() -> None:
    assert split_trailing_byline("新华社北京3月5日电。(完)") == ("新华社北京3月5日电。(完)", None)
    assert split_trailing_byline("匹配“9+3”县(区),在外出") == ("匹配“9+3”县(区),在外出", None)
    # A closing publisher credit is the source's business, not a writer.
    assert split_trailing_byline("道路建设工作。（新华社）") == ("道路建设工作。（新华社）", None)


def test_trailing_byline_before_promotion_lines() -> None:
    end = "<p>市交通委将持续推进道路建设工作。(李楠)</p><p>扫描下方二维码关注官方微信。</p>"
    a = extract(cn_page(inside_end=end), URL)
    assert a.author == "李楠"
    assert "(李楠)" not in a.body


@pytest.mark.parametrize(
    ("first", "author"),
    [
        ("新华社巴黎12月9日电（记者唐霁）法国9日再次爆发全国跨行业大罢工。", "唐霁"),
        ("新京报快讯（记者 裴剑飞）今日有网友爆料，有60万个账号在暗网出售。", "裴剑飞"),
        ("本报讯（记者 张三 通讯员 李四）昨天，全市道路建设工作会议召开。", "张三"),
    ],
)
def test_dateline_byline_stays_in_body(first: str, author: str) -> None:
    assert dateline_byline(first) == author
    a = extract(cn_page(inside_top=f"<p>{first}</p>"), URL)
    assert a.author == author
    assert a.body.split("\n")[0] == first


@pytest.mark.parametrize(
    "line",
    [
        "当前位置:首页 > 精准扶贫 > 正文",
        "来源:光明网   日期:2020-10-03 21:26:54",
        "2020-10-03 21:26",
        "(责任编辑:)",
        "（责任编辑：张三）",
        "cm",
        "返回首页 | 关于我们 | 招聘启事 | 免责条款 | 广告服务 | 联系我们",
        "版权所有:法制晨报网,北京讯闻",
        "备案/许可证编号为:京ICP备20000290号",
        "京公网安备 11010802030821号",
        "全国公安网络备案:11010802030821",
        "客服电话:010-69960698 邮箱:2838403369@qq.com",
        "免责声明:转载本网原创内容请注明出处。",
        "回到顶部",
        "分享到：",
        "扫一扫在手机打开当前页",
        "上一篇:贵州:织牢织密防返贫监测网",
        "下一篇：扶贫车间开进村",
        "相关阅读",
        "【打印】【关闭】",
        "打印 关闭窗口",
        "字号：大 中 小",
        "（原标题：民警电话遭停机）",
        "广告位招租 联系电话:010-6000 0000",
        "【广告】",
    ],
)
def test_chrome_lines(line: str) -> None:
    assert is_chrome(line, cjk=True)


@pytest.mark.parametrize(
    "line", [*PARAS, "南下:走出去 驻下来", "2019年11月20日,派驻首批167名投促干部赴深圳。"]
)
def test_article_lines_are_not_chrome(line: str) -> None:
    assert not is_chrome(line, cjk=True)


def test_stray_latin_kept_on_english_pages() -> None:
    assert not is_chrome("cm", cjk=False)


def test_clean_body_moves_lead_and_drops_title() -> None:
    cleaned = clean_body(
        ["标题", "导读: 这是导读内容。", *PARAS, "(责任编辑:)", "cm"], "标题", None
    )
    assert cleaned.lines == PARAS
    assert cleaned.lead == "这是导读内容。"


def test_byline_of() -> None:
    assert byline_of("记者 张三") == "张三"
    assert byline_of("文|李四") == "李四"
    assert byline_of("By Jane Doe") == "Jane Doe"
    assert byline_of("记者从市交通委获悉，今年全市将新建改建道路一百二十公里。") is None
    assert byline_of("石佳/中国青年报") == "石佳"
    # A photo credit names the photographer, a sidebar heading names nobody.
    assert byline_of("新华社记者 张三 摄") is None
    assert byline_of("作者最新文章") is None


INFO = "<div class='info'>来源：北京日报　发布时间：2021-03-05 09:30</div>"


def info_page(info: str, inside_top: str = "", inside_end: str = "", head: str = "") -> bytes:
    """`cn_page` with its labelled info line replaced by `info` (the header under the h1)."""
    page = cn_page(inside_top=inside_top, inside_end=inside_end, head=head)
    assert INFO.encode() in page
    return page.replace(INFO.encode(), info.encode())


@pytest.mark.parametrize(
    ("info", "source"),
    [
        # Sina: date, then the publisher, no label.
        ("<div class='date-source'><span>2019年09月07日 04:04</span> 北京日报</div>", "北京日报"),
        # Toutiao: an 原创 mark, the account, the date.
        (
            "<div class='article-sub'><span>原创</span> <span>南方都市报</span> "
            "<span>2019-09-09 16:01:46</span></div>",
            "南方都市报",
        ),
        (
            "<div class='article-sub'><span>中国网</span> <span>2019-11-25 10:37:31</span></div>",
            "中国网",
        ),
        # A role tag and a comment count beside the name.
        ("<aside><span>2019-09-05 11:10 游民星空[整理]</span> <a>1</a></aside>", "游民星空"),
        # The Paper: the publisher on its own line beside the date.
        ("<div class='news_about'><p>新华社</p><p>2020-01-03 18:13</p></div>", "新华社"),
        # QQ: the category link runs into the source; the template classes the source.
        (
            "<div class='a_Info'><span class='a_catalog'><a href='/c'>金融市场</a></span>"
            "<span class='a_source'>棱镜</span><span class='a_time'>2019-09-23 07:48</span></div>",
            "棱镜",
        ),
        # Several names beside the date are writers, not a publisher.
        ("<div>2020-06-05 20:35 叨叨姐 胡一刀 李小飞刀</div>", None),
    ],
)
def test_unlabelled_source_under_headline(info: str, source: str | None) -> None:
    assert extract(info_page(info), URL).source == source


def test_writer_and_publisher_line() -> None:
    a = extract(info_page("<div><p>石佳/中国青年报</p><p>2019-09-24 09:10</p></div>"), URL)
    assert (a.author, a.source) == ("石佳", "中国青年报")


def test_placeholder_source_label_does_not_beat_the_info_line() -> None:
    # ``来源：网络`` closing a reprint means "from the internet": no publisher.
    page = info_page("<div>华夏人文 2020-03-09 18:14:21</div>", inside_end="<p>来源：网络</p>")
    assert extract(page, URL).source == "华夏人文"


def test_source_label_in_text_beats_the_unlabelled_account() -> None:
    page = info_page(
        "<p class='time'><span>2019-05-17</span><span> · </span><span>苏皖城市报道</span></p>",
        inside_end="<p><strong>来源：无锡交警</strong></p>",
    )
    assert extract(page, URL).source == "无锡交警"


def _bjh_card(name: str, verified: str) -> str:
    return (
        "<div class='article-desc'><div class='author-icon'><img src='a.jpg'></div>"
        f"<div class='author-txt'><p class='author-name'>{name}</p>"
        "<div class='article-source'><span class='date'>发布时间：10-08</span>"
        f"<span class='time'>12:00</span><span class='account-authentication'>{verified}</span>"
        "</div></div></div>"
    )


def test_platform_account_is_the_author() -> None:
    a = extract(info_page(_bjh_card("加拿大必读", "优质原创作者")), URL)
    assert (a.author, a.source) == ("加拿大必读", None)


def test_account_verified_as_an_organisation_is_the_source() -> None:
    a = extract(info_page(_bjh_card("IT之家", "青岛软媒网络科技有限公司")), URL)
    assert (a.author, a.source) == (None, "IT之家")


def test_account_of_a_page_with_a_byline_is_the_source() -> None:
    card = (
        "<div><div class='time'>2019 09/07 19:02</div><a class='author' href='/a/1'>"
        "<div>扬眼</div><span class='qiehao'>企鹅号</span></a></div>"
    )
    a = extract(info_page(card, inside_end="<p>扬子晚报记者 张楠</p>"), URL)
    assert (a.author, a.source) == ("张楠", "扬眼")


def test_author_classes_outside_the_header_do_not_count() -> None:
    comments = "<div class='comments'><div class='tie-author'>往事随风</div></div>"
    page = cn_page().replace(b"<div class='footer'>", comments.encode() + b"<div class='footer'>")
    assert extract(page, URL).author is None


@pytest.mark.parametrize(
    ("meta", "shown", "author"),
    [
        ("李雷", "<span>作者 李雷</span>", "李雷"),
        # The CMS account that typed the story in, never shown to readers.
        ("马娟", "", None),
        # A CMS user id, the publisher, a placeholder.
        ("104363", "<span>104363</span>", None),
        ("北京日报", "", None),
        ("未知", "<span>未知</span>", None),
    ],
)
def test_declared_author(meta: str, shown: str, author: str | None) -> None:
    page = cn_page(head=f"<meta name='author' content='{meta}'>").replace(
        b"</div><div class='article'>", f"{shown}</div><div class='article'>".encode(), 1
    )
    assert extract(page, URL).author == author


def test_unknown_author_label_is_no_author() -> None:
    page = cn_page(inside_end="<div class='gs_bot_author'>作者：未知　责任编辑：棒棒不是糖</div>")
    assert extract(page, URL).author is None


def test_editor_lead_tags_images() -> None:
    head = (
        "<meta name='keywords' content='道路,交通 、 北京'>"
        "<meta property='og:image' content='/img/cover.jpg'>"
    )
    page = cn_page(
        head=head,
        inside_top="<p><img src='pic/1.jpg'></p>",
        inside_end="<p>（责任编辑：赵六）</p>",
        before="",
    ).replace(
        b"<div class='article'>",
        "<div class='lead'>摘要：全市将新建改建道路。</div><div class='article'>".encode(),
    )
    a = extract(page, URL)
    assert a.editor == "赵六"
    assert a.lead == "全市将新建改建道路。"
    assert a.tags == ("道路", "交通", "北京")
    # Images come from the body only: og:image alone (a share card, a logo) is not one.
    assert a.images == ("https://www.bjd.example.cn/news/2021/0305/pic/1.jpg",)
    assert "赵六" not in a.body


@pytest.mark.parametrize(
    ("head", "want"),
    [
        ("<link rel='canonical' href='/news/1.html'>", "https://www.bjd.example.cn/news/1.html"),
        (
            "<meta property='og:url' content='https://m.bjd.example.cn/1'>",
            "https://m.bjd.example.cn/1",
        ),
        ("<link rel='canonical' href='javascript:void(0)'>", URL),
        ("", URL),
    ],
)
def test_canonical_url(head: str, want: str) -> None:
    a = extract(cn_page(head=head), URL)
    assert a.url == want
    assert a.fetched_url == URL


def test_site_name_from_options_and_og() -> None:
    a = extract(cn_page(), URL, ExtractOptions(site="bjd", site_name="北京日报"))
    assert a.site_name == "北京日报" and a.site == "bjd"
    a = extract(cn_page(head="<meta property='og:site_name' content='京报网官网'>"), URL)
    assert a.site_name == "京报网"


def test_selectors_override() -> None:
    page = cn_page(
        after="<div id='meta'><span class='src'>来源：人民日报</span>"
        "<span class='who'>李雷</span><time>2021年3月6日 10:00</time></div>"
    )
    opts = ExtractOptions(
        selectors={
            "body": "div.article",
            "source": "span.src",
            "author": "//span[@class='who']",
            "published_at": "#meta time",
            "title": "title",
        }
    )
    a = extract(page, URL, opts)
    assert a.source == "人民日报"
    assert a.author == "李雷"
    assert a.published_at is not None and a.published_at.isoformat() == "2021-03-06T10:00:00+08:00"
    assert a.body.split("\n") == PARAS


def test_bad_selector_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError) as info:
        extract(cn_page(), URL, ExtractOptions(selectors={"body": "div[["}))
    assert info.value.reason == "bad_selector"


def test_list_page_is_not_an_article() -> None:
    links = "".join(f"<li><a href='/n/{i}.html'>新闻标题第{i}条</a></li>" for i in range(30))
    page = f"<html><head><meta charset='utf-8'></head><body><ul>{links}</ul></body></html>"
    with pytest.raises(NotAnArticle):
        extract(page.encode(), "https://x.example/list/")


def test_subheading_dropped_by_trafilatura_is_restored() -> None:
    body = (
        "".join(f"<p>{p}</p>" for p in PARAS[:2]) + "<p><b>第二部分</b></p>" + f"<p>{PARAS[2]}</p>"
    )
    page = f"<html><head><meta charset='utf-8'></head><body><h1>标题</h1><div>{body}</div></body></html>"
    a = extract(page.encode(), URL)
    assert a.body.split("\n") == [PARAS[0], PARAS[1], "第二部分", PARAS[2]]


ENGLISH = b"""<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<title>Council approves new cycle lanes | Riverside Gazette</title>
<meta property="og:site_name" content="Riverside Gazette">
<meta name="author" content="Jane Doe">
</head><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Council approves new cycle lanes</h1>
<p class="byline">By Jane Doe</p><p>Published October 3, 2020 9:26 PM</p>
<p>The city council voted on Tuesday to build twelve miles of protected cycle lanes across the
riverside district, a plan campaigners have pushed for nearly a decade.</p>
<h2>What changes</h2>
<p>Work will begin next spring on the main road between the station and the old market, where
most collisions involving cyclists were recorded over the past five years.</p>
<p>Councillors said the scheme would be paid for from the transport budget and a national grant,
and that residents would be consulted on the exact routes before construction.</p>
</article><footer>Copyright 2020 Riverside Gazette. All rights reserved.</footer></body></html>"""


def test_english_page() -> None:
    a = extract(
        ENGLISH,
        "https://gazette.example.com/news/cycle-lanes",
        ExtractOptions(timezone="Europe/London"),
    )
    assert a.title == "Council approves new cycle lanes"
    assert a.site_name == "Riverside Gazette"
    assert a.language == "en"
    assert a.author == "Jane Doe"
    assert a.published_at is not None and a.published_at.isoformat() == "2020-10-03T21:26:00+01:00"
    lines = a.body.split("\n")
    assert lines[0].startswith("The city council voted")
    assert "What changes" in lines
    assert lines[-1].endswith("before construction.")
    assert "Copyright" not in a.body


def test_lead_equal_to_first_paragraph_keeps_the_paragraph() -> None:
    # Portals often fill the 导读 box with the first paragraph verbatim: the body keeps it.
    a = extract(cn_page(inside_top=f"<div class='lead'>导读：{PARAS[0]}</div>"), URL)
    assert a.lead == PARAS[0]
    assert a.body.splitlines() == PARAS


def test_repeated_lead_box_is_dropped_once() -> None:
    page = cn_page(
        inside_top=f"<div class='lead'>{PARAS[0]}</div>",
        head=f"<meta name='description' content='{PARAS[0]}'>",
    )
    a = extract(page, URL)
    assert a.body.splitlines() == PARAS


def test_author_label_with_reporter_role() -> None:
    page = cn_page().replace(
        "来源：北京日报　发布时间".encode(),
        "来源：北京日报　作者：本报记者 吴昊　发布时间".encode(),
    )
    assert extract(page, URL).author == "吴昊"
    page = cn_page().replace(
        "来源：北京日报　发布时间".encode(), "来源：北京日报　作者:记者 王法　发布时间".encode()
    )
    assert extract(page, URL).author == "王法"


def test_short_brief_is_extracted_not_mistaken_for_a_non_article() -> None:
    # trafilatura alone returns nothing under 250 characters; the brief must reach validation,
    # which drops it as too short, a reason the user can see and act on.
    page = (
        "<html><head><meta charset='utf-8'><title>简讯_示例网</title></head><body>"
        "<h1>市政府召开新闻发布会</h1><div class='info'>来源：本站　发布时间：2021-03-05 09:30</div>"
        "<div class='content'><p>今天上午，市政府召开新闻发布会，通报有关情况。(周洁)</p></div>"
        "<div class='footer'>版权所有：示例网</div></body></html>"
    ).encode()
    a = extract(page, URL)
    assert a.body == "今天上午，市政府召开新闻发布会，通报有关情况。"
    assert a.author == "周洁"
