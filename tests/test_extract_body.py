"""Body rules: captions, text under pictures, stop markers, promotions, on real-looking snippets."""

from __future__ import annotations

import lxml.html
import pytest

from crawler.extract import extract
from crawler.extract.body import _mostly_links, restore_dropped
from crawler.extract.cleanup import clean_body, cut_at_stop, is_chrome, is_stop_line
from crawler.extract.dom import Line, block_lines, parse

PARAS = [
    "记者从市交通委获悉，今年全市将新建改建道路一百二十公里，进一步完善城市路网结构，缓解交通拥堵。",
    "据介绍，新建道路主要集中在城市副中心和南部地区，预计年底前全部完工并投入使用，方便群众出行。",
    "市交通委有关负责人表示，将加强施工组织管理，尽量减少施工对周边居民生活和道路通行的影响。",
    "此外，今年还将新增公交专用道三十公里，优化调整公交线路五十条，提升公共交通的吸引力。",
]
URL = "https://www.bjd.example.cn/news/2021/0305/1.html"
TITLE = "全市今年新建改建道路120公里"


def page(article: str, after: str = "", head: str = "") -> bytes:
    return (
        f"<html><head><meta charset='utf-8'><title>{TITLE}_北京日报网</title>{head}</head><body>"
        f"<h1>{TITLE}</h1><div class='info'>来源：北京日报　发布时间：2021-03-05 09:30</div>"
        f"<div class='article'>{article}</div>{after}"
        "<div class='footer'>版权所有：北京日报网 京ICP备12345678号</div></body></html>"
    ).encode()


def paras(items: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in items)


def lines_of(html: str) -> list[Line]:
    return block_lines(lxml.html.fragment_fromstring(html, create_parent="div"))


# --- dom: parsing and captions -----------------------------------------------------------------


def test_stray_html_end_from_an_included_header_does_not_hide_the_article() -> None:
    html = (
        "<html><head><meta charset='utf-8'></head><body><div class='header'>首页</div></body></html>"
        "<!--end header--><div class='content'><p>第十届全国人民代表大会常务委员会第二十八次会议"
        "听取了说明。</p></div></body></html>"
    )
    p = parse(html, URL)
    assert [line.text for line in p.lines][-1].startswith("第十届全国人民代表大会")


def test_a_comment_inside_a_paragraph_does_not_cut_it() -> None:
    # React pages (aeb 702d1d, the New York Times) put ``<!-- -->`` between a paragraph's text
    # runs; trafilatura handed a tree that kept them returned only the words before the first.
    en = [
        "When President Trump's advisers suggested that Beijing resume buying farm products as "
        "part of a trade deal, he was not satisfied with the figure they had reached so far.",
        "The cabinet members gathered around him laughed, and the talks went on for weeks "
        "without a date being set for the signing of the first phase of the agreement.",
        "Executives across the world say they have no choice but to postpone some hiring and "
        "investment while the uncertainty lasts, according to surveys published this week.",
    ]
    body = (
        f"<p>When <!-- --> <a href='/x'>President Trump's advisers</a> <!-- -->"
        f"{en[0][len('When President Trump’s advisers') :]}</p>"
        + "".join(f"<p>{t}</p>" for t in en[1:])
    )
    html = (
        "<html><head><meta charset='utf-8'><title>Trade talks</title></head><body>"
        f"<h1>Trade talks</h1><article>{body}</article></body></html>"
    )
    article = extract(html.encode(), "https://news.example.com/2019/trade.html")
    assert article.body.splitlines()[0].startswith("When President Trump's advisers suggested")
    assert "not satisfied" in article.body


def test_centered_short_line_under_a_picture_is_a_caption() -> None:
    # 163.com: the picture in p.f_center, its caption in the next centered paragraph.
    lines = lines_of(
        f"<p>{PARAS[0]}</p><p class='f_center'><img src='a.jpg'></p>"
        "<p style='text-align: center; '>姚明场边支招周琦。视频截图</p>"
        f"<p>{PARAS[1]}</p>"
    )
    assert [line.caption for line in lines] == [False, True, False]


def test_caption_after_br_in_a_centered_paragraph() -> None:
    # gamersky: <p align=center><a><img></a><br>caption</p>
    lines = lines_of(
        "<p align='center'><a href='/img/1.jpg'><img src='1.jpg' alt='游民星空'></a><br>"
        "我不要你觉得，我就要我觉得。横批：明言明语</p>"
    )
    assert lines[0].caption and lines[0].after_image


def test_line_repeating_the_image_alt_is_a_caption() -> None:
    lines = lines_of(
        "<p><img alt='“救命啊SOS”纸团。沙坪坝区公安分局供图' src='a.jpg'>"
        "“救命啊SOS”纸团。沙坪坝区公安分局供图</p>"
    )
    assert lines[0].caption


def test_caption_classes_mark_captions_and_credits() -> None:
    lines = lines_of(
        "<figure><img src='a.jpg'><div class='Figure-content'>"
        "<div class='Figure-caption'>Kevin Mayer, the Disney executive</div>"
        "<div class='Figure-credit'>(Walt Disney Co.)</div></div></figure>"
        "<p>An undisclosed number of customers signed up.</p>"
    )
    assert [line.caption for line in lines] == [True, True, False]


def test_paragraph_under_a_picture_is_not_a_caption() -> None:
    lines = lines_of(
        f"<div style='text-align:center'><img src='a.jpg'></div>{PARAS[0]}<br>{PARAS[1]}"
        f"<p style='text-align:center'><img src='b.jpg'></p><p>{PARAS[2]}</p>"
    )
    # Not centered itself, and too long for a caption: paragraphs, but marked as under a picture.
    assert [line.caption for line in lines] == [False, False, False]
    assert [line.after_image for line in lines] == [True, False, True]


def test_image_after_text_marks_the_next_line() -> None:
    lines = lines_of("<p>第一行文字<img src='a.jpg'></p><p>第二行文字</p>")
    assert [line.after_image for line in lines] == [False, True]


# --- body: restoring what trafilatura dropped ----------------------------------------------------


def test_text_under_a_picture_is_restored() -> None:
    # The Paper (WeChat-style posts): with images on, trafilatura loses the text right after the
    # block holding a picture; a graphic precedes the next line it kept.
    page_lines = lines_of(
        f"<div class='news_txt'>四条国际航线抢先看！<div style='text-align:center'>"
        f"<img src='a.gif'></div>{PARAS[0]}<br>{PARAS[1]}</div>"
    )
    kept = ["四条国际航线抢先看！", PARAS[1]]
    assert restore_dropped(kept, page_lines, None, [False, True]) == [
        "四条国际航线抢先看！",
        PARAS[0],
        PARAS[1],
    ]


def test_caption_under_a_picture_is_not_restored_and_a_kept_one_is_dropped() -> None:
    page_lines = lines_of(
        f"<p>{PARAS[0]}</p><p style='text-align:center'><img src='a.jpg'></p>"
        f"<p style='text-align:center'>姚明场边支招周琦。视频截图</p><p>{PARAS[1]}</p>"
    )
    assert restore_dropped([PARAS[0], PARAS[1]], page_lines, None, [False, True]) == PARAS[:2]
    kept = [PARAS[0], "姚明场边支招周琦。视频截图", PARAS[1]]
    assert restore_dropped(kept, page_lines, None, [False, True, False]) == PARAS[:2]


def test_stop_marker_dropped_by_trafilatura_is_put_back() -> None:
    # 163.com's 延伸 · 推荐 box: trafilatura dropped the title but kept the teaser under it.
    teaser = "近日，四川江油一社区女民警在开展辖区核查工作时，平均日拨100余个电话，被停机。"
    page_lines = lines_of(
        paras(PARAS[:3]) + "<div class='special_tag_ttl'>延伸 · 推荐</div>"
        f"<p><a href='/1.html'>女警一天打100电话被停机</a></p><p>{teaser}</p>"
    )
    out = restore_dropped([*PARAS[:3], teaser], page_lines)
    assert out == [*PARAS[:3], "延伸 · 推荐", teaser]
    assert cut_at_stop(out) == PARAS[:3]


def test_bold_links_under_a_related_label_are_not_sub_headings() -> None:
    page_lines = lines_of(
        "<p><b>相关新闻：</b></p><p><b><a href='/1'>直播2019年苹果发布会</a></b></p>"
        f"<p>{PARAS[0]}</p>"
    )
    assert restore_dropped(["相关新闻：", PARAS[0]], page_lines) == ["相关新闻：", PARAS[0]]


def test_headline_with_its_timestamp_is_link_text() -> None:
    # xinhuanet: the headline is the link, its timestamp sits in a div beside it.
    links = {'大数据"坑熟客",技术之罪需规则规避'}
    assert _mostly_links('大数据"坑熟客",技术之罪需规则规避 2018-03-02 08:58:39', links)
    assert not _mostly_links(PARAS[0], links)


# --- cleanup: stop markers and chrome lines ------------------------------------------------------


def test_stop_share_counts_prose_not_headline_lists() -> None:
    # guancha: a sidebar flattened after the editor line is longer than the article itself.
    sidebar = ["华为发布业界首款5G SoC芯片：麒麟990 5G2019-09-06朝鲜驻西班牙使馆遭劫" * 6] * 3
    lines = [*PARAS[:2], "责任编辑: 于文凯", *sidebar]
    assert cut_at_stop(lines) == PARAS[:2]


def test_stop_marker_before_half_the_prose_does_not_cut() -> None:
    lines = [PARAS[0], "相关新闻", *PARAS[1:]]
    assert cut_at_stop(lines) == lines


@pytest.mark.parametrize(
    "line",
    [
        "责编|陈梦莹",
        "校对丨黄慧敏",
        "来源|广州参考、广州南沙发布、羊城晚报",
        "来源：新华社",
        "本文原标题：《定了！广州南沙邮轮母港即将开通！》",
        "“2018十大经济年度人物评选”火热进行中！【点击投票】Pick你心目中的商业领袖",
        "专注苹果新闻报道。扫描下方二维码关注苹果汇官方微信(或微信中搜：appleinc2012)。",
        "文脉颂中华 人民网文化频道与媒体团一同实地走访六大书院。 【详细】",
        "相关资讯请关注:逆水寒专区",
        "资料图",
        "已收藏!",
        "知道了",
        "������",
        "↓↓↓",
    ],
)
def test_chrome_lines(line: str) -> None:
    assert is_chrome(line, cjk=True)


@pytest.mark.parametrize(
    "line",
    [
        "市民扫描了一个陌生二维码后，手机里的钱被转走，警方提醒不要随意扫码。",
        "来源地的检疫证明必须随车携带，这是法律规定。",
        "问题来了",
        "___",
    ],
)
def test_not_chrome(line: str) -> None:
    assert not is_chrome(line, cjk=True)


@pytest.mark.parametrize(
    ("line", "stop"),
    [
        ("延伸 · 推荐", True),
        ("责编|陈梦莹", True),
        ("扫描下方二维码解锁更多技能", True),
        ("市民扫描了一个陌生二维码后，手机里的钱被转走。", False),
    ],
)
def test_stop_lines(line: str, stop: bool) -> None:
    assert is_stop_line(line) is stop


def test_reworded_headline_opening_the_body_is_dropped() -> None:
    lines = ["姚明对周琦说了啥？大魔王上下半场判若两人", *PARAS[:2]]
    out = clean_body(lines, "姚明对周琦说了啥？周琦上下半场判若两人", None)
    assert out.lines == PARAS[:2]


def test_sentence_sharing_the_headline_words_is_kept() -> None:
    first = "全市今年新建改建道路120公里。"
    assert clean_body([first, PARAS[0]], TITLE, None).lines == [first, PARAS[0]]


# --- end to end ----------------------------------------------------------------------------------


def test_wechat_style_post_end_to_end() -> None:
    article = (
        f"{PARAS[0]}<br>{PARAS[1]}<br>{PARAS[2]}<br>{PARAS[3]}<br>"
        "责编|陈梦莹<br>校对|黄慧敏<br>扫描下方二维码解锁更多技能<br>1、回复【公租房】查看最新消息"
    )
    a = extract(page(article), URL)
    assert a.body.split("\n") == PARAS


def test_caption_in_the_article_is_left_out_end_to_end() -> None:
    article = (
        paras(PARAS[:2]) + "<p class='f_center'><img src='https://img.example.cn/a.jpg'></p>"
        "<p style='text-align:center'>施工现场。记者 王五 摄</p>" + paras(PARAS[2:])
    )
    a = extract(page(article), URL)
    assert a.body.split("\n") == PARAS
