"""Body candidates and the rules that cannot eat an article (issue #13), on real-world-shaped
snippets: each test is a way one extractor or one rule alone lost a whole article."""

from __future__ import annotations

import pytest

from crawler.extract import extract
from crawler.extract.candidates import Candidate, choose, class_tokens, from_dom
from crawler.extract.cleanup import clean_body
from crawler.extract.dom import parse

PARAS = [
    "记者从市交通委获悉，今年全市将新建改建道路一百二十公里，进一步完善城市路网结构，缓解交通拥堵。",
    "据介绍，新建道路主要集中在城市副中心和南部地区，预计年底前全部完工并投入使用，方便群众出行。",
    "市交通委有关负责人表示，将加强施工组织管理，尽量减少施工对周边居民生活和道路通行的影响。",
    "此外，今年还将新增公交专用道三十公里，优化调整公交线路五十条，提升公共交通的吸引力。",
    "据悉，相关部门还将同步推进慢行系统建设，新建自行车道和步道，打造安全舒适的出行环境。",
]
URL = "https://www.city.example.cn/news/2021/0305/1.html"
TITLE = "全市今年新建改建道路120公里"
NAV = "".join(f"<li><a href='/c/{i}.html'>栏目频道第{i}个入口链接</a></li>" for i in range(30))
HEADLINES = "".join(
    f"<li><a href='/n/{i}.html'>某地召开第{i}次工作推进会议部署下一阶段重点任务</a></li>"
    for i in range(20)
)


def page(article: str, before: str = "", after: str = "", title: str = TITLE) -> bytes:
    return (
        f"<html><head><meta charset='utf-8'><title>{title}_城市日报网</title></head><body>"
        f"<div class='nav'><ul>{NAV}</ul></div>{before}"
        f"<h1>{title}</h1><div class='info'>来源：城市日报　发布时间：2021-03-05 09:30</div>"
        f"{article}{after}"
        f"<div class='hot'><ul>{HEADLINES}</ul></div>"
        "<div class='footer'>版权所有：城市日报网 京ICP备12345678号</div></body></html>"
    ).encode()


def paras(items: list[str], suffix: str = "") -> str:
    return "".join(f"<p>{p}{suffix}</p>" for p in items)


def clean(c: Candidate) -> list[str]:
    return clean_body(c.lines, TITLE, None).lines


def no_third() -> Candidate:
    raise AssertionError("readability was not needed here")


# --- rules that cannot eat an article ----------------------------------------------------------


def test_paragraphs_that_all_end_in_a_read_more_link_are_kept() -> None:
    # A site whose every paragraph ends in 【详细】 lost all of them to the "read more" rule.
    article = extract(page(f"<div class='content'>{paras(PARAS, '【详细】')}</div>"), URL)
    for text in PARAS:
        assert text in article.body


def test_a_single_teaser_ending_in_read_more_is_still_removed() -> None:
    teaser = "<p>延伸：本市另有多条道路将于下月开工建设【详细】</p>"
    article = extract(page(f"<div class='content'>{paras(PARAS)}{teaser}</div>"), URL)
    assert "延伸" not in article.body
    assert PARAS[-1] in article.body


def test_a_container_named_like_a_caption_class_keeps_its_paragraphs() -> None:
    # ``LeftPhotoInfo`` held one site's whole article; ``photo[-_]?info`` matched inside it.
    article = extract(page(f"<div class='LeftPhotoInfo'>{paras(PARAS)}</div>"), URL)
    for text in PARAS:
        assert text in article.body


def test_a_real_caption_class_still_drops_its_caption() -> None:
    html = (
        f"<div class='content'><p>{PARAS[0]}</p><p><img src='/a.jpg'></p>"
        f"<p class='pic_info'>新建成的城市主干道</p>{paras(PARAS[1:])}</div>"
    )
    article = extract(page(html), URL)
    assert "新建成的城市主干道" not in article.body
    assert PARAS[1] in article.body


def test_class_tokens_are_whole_words() -> None:
    assert class_tokens("LeftPhotoInfo news_list") == {"left", "photo", "info", "news", "list"}
    assert "comment" not in class_tokens("commentary-box")


def test_a_rule_that_would_remove_most_of_the_body_is_not_applied() -> None:
    lines = [f"{p}【详细】" for p in PARAS]
    cleaned = clean_body(lines, TITLE, None)
    assert cleaned.lines == lines
    assert cleaned.kept_by_bound == ["read-more"]


def test_every_removal_is_logged_with_its_rule() -> None:
    lines = ["当前位置：首页 > 新闻 > 正文", *PARAS, "(责任编辑:张三)"]
    cleaned = clean_body(lines, TITLE, None)
    assert cleaned.lines == PARAS
    assert ("breadcrumb", lines[0]) in cleaned.removed
    assert ("stop-marker", lines[-1]) in cleaned.removed


# --- candidates --------------------------------------------------------------------------------


def test_nav_first_page_falls_back_to_the_dom_candidate() -> None:
    primary = Candidate("trafilatura", [f"栏目频道第{i}个入口" for i in range(12)])
    dom = from_dom(parse(page(f"<div class='content'>{paras(PARAS)}</div>").decode(), URL))
    choice = choose(primary, dom, lambda: Candidate("readability", []), clean)
    assert choice.name == "dom"
    assert choice.lines == PARAS


def test_empty_primary_is_not_the_end_of_the_page() -> None:
    dom = from_dom(parse(page(f"<div class='content'>{paras(PARAS)}</div>").decode(), URL))
    choice = choose(Candidate("trafilatura", []), dom, lambda: Candidate("readability", []), clean)
    assert choice.lines == PARAS


def test_nav_first_page_is_extracted() -> None:
    # The page opens with a long headline list before the article.
    html = page(f"<div class='content'>{paras(PARAS)}</div>", before=f"<ul>{HEADLINES}</ul>")
    article = extract(html, URL)
    assert all(p in article.body for p in PARAS)
    assert "工作推进会议" not in article.body


def test_legal_notice_after_the_article_is_trimmed_to_what_dom_confirms() -> None:
    notice = [
        "反侵权公告：",
        "根据《中华人民共和国著作权法》等法律法规，未经书面许可，擅自转载本报社作品的，将涉嫌侵犯著作权。",
    ]
    primary = Candidate("trafilatura", [*PARAS, *notice])
    dom = Candidate("dom", list(PARAS))
    choice = choose(primary, dom, no_third, clean)
    assert choice.lines == PARAS
    assert "trimmed" in choice.reason


def test_agreeing_candidates_keep_the_primary() -> None:
    # trafilatura's sub-heading (restored from the page) stays, inside the span both confirm.
    primary = Candidate("trafilatura", [PARAS[0], "南下：走出去 驻下来", *PARAS[1:]])
    dom = Candidate("dom", list(PARAS))
    choice = choose(primary, dom, no_third, clean)
    assert choice.name == "trafilatura" and choice.lines[1] == "南下：走出去 驻下来"


def test_a_primary_holding_one_of_several_containers_is_completed_when_readability_agrees() -> None:
    primary = Candidate("trafilatura", PARAS[:1])
    dom = Candidate("dom", list(PARAS))
    called = []

    def third() -> Candidate:
        called.append(1)
        return Candidate("readability", list(PARAS))

    choice = choose(primary, dom, third, clean)
    assert called and choice.name == "dom" and choice.lines == PARAS


def test_a_primary_inside_dom_is_kept_when_nothing_confirms_the_rest() -> None:
    primary = Candidate("trafilatura", PARAS[:4])
    comments = [
        f"网友{i}：这条路修好以后上下班方便多了，希望早日通车，为城市建设点赞。" for i in range(6)
    ]
    dom = Candidate("dom", [*PARAS[:4], *comments])
    choice = choose(primary, dom, lambda: Candidate("readability", PARAS[:4]), clean)
    assert choice.lines == PARAS[:4]


# --- several posts on one page ----------------------------------------------------------------

OTHER = [
    "那时候读初中，广播里经常放的是刑警系列，每天放学后就开始听，一集也没漏掉，每集都很悬念。",
    "如今的我，还是喜欢看侦探小说以及电影电视等，每次借碟，还是以侦探片为主，而且目不转睛地看。",
    "小破案故事总是挺有意思的，所以我爱看以及收集这方面的题目，让大家一起分享一下，欢迎留言。",
    "那会儿小女生们爱玩跳房子，它在有些地方也叫做踢田，那算是最廉价的游戏，一支粉笔就够了。",
]
POSTS = [
    ("湘菜粤菜 兵分两路", "2005年6月14日", PARAS[:3]),
    ("爱上侦探小说", "2005年6月12日", OTHER[:3]),
    ("跳房子踢毽子跳皮筋", "2005年6月10日", [*OTHER[3:], *PARAS[3:]]),
]


def blog_archive() -> bytes:
    posts = "".join(
        f"<div class='post'><h3>{title}</h3><p>{day} 发表</p>{paras(body)}</div>"
        for title, day, body in POSTS
    )
    return (
        "<html><head><meta charset='utf-8'><title>海姑娘的博客 2005年6月</title></head><body>"
        f"<div class='nav'><ul>{NAV}</ul></div><div class='main'>{posts}</div>"
        "<div class='footer'>版权所有 博客网</div></body></html>"
    ).encode()


def test_a_blog_archive_page_keeps_its_first_post() -> None:
    article = extract(blog_archive(), "http://blog.example.com/archives.php?date=200506")
    assert all(p in article.body for p in PARAS[:3])
    assert not any(p in article.body for p in [*OTHER, *PARAS[3:]])


def test_chunks_of_one_article_are_not_posts() -> None:
    # Wired splits an article between ads into alike boxes; they open with prose, carry no date.
    chunks = "".join(f"<div class='chunk'>{paras(PARAS[i : i + 2])}</div>" for i in (0, 2, 4))
    dom = from_dom(parse(page(f"<div class='article'>{chunks}</div>").decode(), URL))
    assert not dom.one_of_posts
    assert all(p in dom.lines for p in PARAS)


@pytest.mark.parametrize("marker", ["comment", "footer", "sidebar"])
def test_a_comment_box_inside_the_article_box_is_not_the_article(marker: str) -> None:
    comments = "".join(
        f"<p>网友{i}：这条路修好以后上下班方便多了，希望早日通车，为城市建设点赞。</p>"
        for i in range(3)
    )
    html = page(f"<div class='box'>{paras(PARAS)}<div class='{marker}-list'>{comments}</div></div>")
    dom = from_dom(parse(html.decode(), URL))
    assert dom.lines[-1] == PARAS[-1]


# --- chrome seen on sites nobody tuned for ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("地址：北京市朝阳区东三环中路1号 邮编：100020 电话：010-65001234", "contact-footer"),
        ("城市摄影队 周斌 摄", "photo-credit"),
        ("摄影/张艳", "photo-credit"),
        ("您所在的位置： 首页 > 快讯 > 正文", "breadcrumb"),
        ("- THE END -", "end-mark"),
        ("转载请注明出处：城市日报网", "reprint-notice"),
        ("返回搜狐，查看更多", "more-link"),
        ("来源于：", "empty-label"),
        ("作者： 来源： 发布日期：", "empty-label"),
    ],
)
def test_chrome_lines_of_unseen_sites(line: str, rule: str) -> None:
    from crawler.extract.cleanup import chrome_rule

    assert chrome_rule(line, cjk=True) == rule
    cleaned = clean_body([*PARAS, line], TITLE, None)
    assert cleaned.lines == PARAS and (rule, line) in cleaned.removed


@pytest.mark.parametrize(
    "line",
    [
        "据悉，投诉电话：12345，办公地址：市民服务中心三楼，工作日均可前往办理。",
        "他说，摄影是他坚持了二十年的爱好，每个周末都会带着相机去郊外拍摄。",
        "文章最后写道，故事到这里并没有结束，真正的考验才刚刚开始。",
    ],
)
def test_prose_that_mentions_the_same_words_is_kept(line: str) -> None:
    from crawler.extract.cleanup import chrome_rule

    assert chrome_rule(line, cjk=True) is None


# --- metadata found without relying on <title> ------------------------------------------------


def bare(head: str, body: str) -> bytes:
    return (
        f"<html><head><meta charset='utf-8'>{head}</head><body>"
        f"<div class='nav'><ul>{NAV}</ul></div>{body}"
        "<div class='footer'>版权所有 城市日报网</div></body></html>"
    ).encode()


def test_a_page_without_a_locatable_headline_still_gets_its_date() -> None:
    # No <title>, no h1: the 发布时间 line above the article is the only date on the page.
    html = bare(
        "",
        "<div class='top'><span>发布时间：2021-03-05 09:30</span><span>浏览次数：120</span></div>"
        f"<div class='text'>{paras(PARAS)}</div>",
    )
    article = extract(html, URL)
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2021-03-05T09:30:00+08:00"


def test_an_unlabelled_date_line_above_the_body_is_the_date_when_no_headline_matches() -> None:
    html = bare(
        "<title>城市日报网</title>",
        f"<div>2021-03-05 09:30 城市日报</div><div class='text'>{paras(PARAS)}</div>",
    )
    assert extract(html, URL).published_at.isoformat() == "2021-03-05T09:30:00+08:00"  # type: ignore[union-attr]


def test_headline_in_an_h2_when_the_h1_is_the_logo() -> None:
    html = bare(
        f"<title>{TITLE} 城市日报网</title>",
        f"<h1>城市日报网</h1><h2>{TITLE}</h2><div>2021-03-05 09:30</div>"
        f"<div class='text'>{paras(PARAS)}</div>",
    )
    article = extract(html, URL)
    assert article.title == TITLE
    assert article.site_name == "城市日报网"


def test_headline_from_the_header_when_title_names_only_the_site() -> None:
    html = bare(
        "<title>城市日报网</title>",
        f"<div class='logo'>城市日报网</div><div class='t'><b>{TITLE}</b></div>"
        f"<div>2021-03-05 09:30</div><div class='text'>{paras(PARAS)}</div>",
    )
    article = extract(html, URL)
    assert article.title == TITLE
    assert TITLE not in article.body


def test_a_site_suffix_after_a_space_is_removed_by_the_site_name() -> None:
    html = bare(
        f"<title>{TITLE} 东区办事处</title><meta property='og:site_name' content='东区办事处'>",
        f"<div class='text'>{paras(PARAS)}</div>",
    )
    assert extract(html, URL).title == TITLE


@pytest.mark.parametrize(
    "description",
    [
        TITLE,  # the headline again
        PARAS[0][:30] + "...",  # the body cut off
        "道路,交通,北京,城市",  # keywords
        "城市日报网，是经批准的新闻网站，本地重点新闻网站。",  # the site describing itself
    ],
)
def test_a_description_that_is_no_standfirst_is_no_lead(description: str) -> None:
    html = bare(
        f"<title>{TITLE}_城市日报网</title><meta property='og:site_name' content='城市日报网'>"
        f"<meta name='description' content='{description}'>",
        f"<h1>{TITLE}</h1><div class='text'>{paras(PARAS)}</div>",
    )
    assert extract(html, URL).lead is None


def test_a_real_description_is_the_lead() -> None:
    lead = "今年全市道路建设提速，多条主干道将在年内完工通车。"
    html = bare(
        f"<title>{TITLE}_城市日报网</title><meta name='description' content='{lead}'>",
        f"<h1>{TITLE}</h1><div class='text'>{paras(PARAS)}</div>",
    )
    assert extract(html, URL).lead == lead


def test_images_are_the_body_pictures_only() -> None:
    body = (
        f"<div class='text'><p>{PARAS[0]}</p><p><img src='/pic/2021/road.jpg'></p>"
        f"{paras(PARAS[1:])}<p><img src='/images/qrcode.png'></p>"
        "<p><img src='/static/avatar/u1.jpg'></p></div>"
        "<div class='side'><img src='/ad/banner.jpg'></div>"
    )
    html = bare(
        f"<title>{TITLE}_城市日报网</title><meta property='og:image' content='/pic/2021/road.jpg'>",
        f"<h1>{TITLE}</h1>{body}",
    )
    assert extract(html, URL).images == ("https://www.city.example.cn/pic/2021/road.jpg",)
