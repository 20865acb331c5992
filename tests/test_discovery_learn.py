"""The URL shape learner and the page judge of zero-config discovery (crawler/discovery)."""

from __future__ import annotations

import re

import lxml.html

from crawler.discovery.learn import EXPLORE, Learner, clean_url, shape_of
from crawler.discovery.pages import Node, Template, judge, units, walk

H = "http://portal.example"


#: URL path → (exact shape, general shape).
SHAPES = {
    "/jzfp/2020-10/03/content_1234.html": (
        "/jzfp/{Y}-{D2}/{D2}/content_{N}.html",
        "/{W}/{Y}-{D2}/{D2}/content_{N}.html",
    ),
    "/news/12345.shtml": ("/news/{N}.shtml", "/{W}/{N}.shtml"),
    "/channel/yaowen/list_2.shtml": ("/channel/yaowen/list_{n}.shtml", "/{W}/{W}/list_{n}.shtml"),
    "/2020/10/03/index_2.html": ("/{Y}/{D2}/{D2}/index_{n}.html",) * 2,
    "/20201003/1234.html": ("/{YMD}/{N}.html",) * 2,
    "/a/city-opens-new-road": ("/a/{S}", "/{W}/{S}"),
    "/tag/law.html": ("/tag/{W}.html", "/{W}/{W}.html"),
    "/show.php?id=1234&utm_source=x": ("/{W}.php?id={N}",) * 2,
    "/": ("/", "/"),
}


def test_shapes_tokenise_dates_ids_slugs_and_suffixes() -> None:
    for url, (exact, general) in SHAPES.items():
        shape = shape_of(H + url)
        assert (shape.exact, shape.general) == (exact, general), url
        assert re.search(shape.regex(), H + url.replace("&utm_source=x", "")), url


def test_priors_tell_article_shapes_from_list_shapes() -> None:
    articles = ["/2020/10/03/1234.html", "/news/12345.shtml", "/a/city-opens-new-road"]
    lists = ["/2020/10/03/index_2.html", "/channel/yaowen/", "/news/index.html", "/list.php?page=2"]
    assert all(shape_of(H + u).prior >= 0.5 for u in articles)
    assert all(shape_of(H + u).prior < 0.5 for u in lists)


def test_tracking_parameters_and_fragments_are_stripped() -> None:
    assert clean_url(H + "/a/1.html?utm_source=x&spm=1.2&id=3#top") == H + "/a/1.html?id=3"
    assert clean_url(H + "/a/1.html?from=home") == H + "/a/1.html"
    assert clean_url(H + "/a/1.html?print=1") == H + "/a/1.html?print=1"


def test_evidence_overrides_the_prior() -> None:
    learner = Learner()
    # An id-shaped URL that turns out to be a list on this portal.
    for i in range(4):
        learner.observe(f"{H}/node/{100 + i}", "list", found=5)
    assert learner.article_score(f"{H}/node/200") < 0.5
    # A word-shaped URL that turns out to be an article.
    for word in ("alpha", "beta", "gamma"):
        learner.observe(f"{H}/story/{word}.html", "article")
    assert learner.kind(f"{H}/story/delta.html") == "article"


def test_shapes_that_were_never_articles_and_give_nothing_new_are_not_followed() -> None:
    learner = Learner()
    for i in range(EXPLORE):
        learner.observe(f"{H}/story/{i}.html?print=1", "duplicate")
    assert learner.kind(f"{H}/story/99.html?print=1") is None
    # A list shape keeps being followed while its pages give new articles.
    for i in range(EXPLORE):
        learner.observe(f"{H}/news/list_{i + 2}.shtml", "list", found=20)
    assert learner.kind(f"{H}/news/list_9.shtml") == "list"
    # The general shape does not stop a new exact shape with pages of its own.
    for tag in ("a", "b", "c"):
        learner.observe(f"{H}/tag/{tag}/", "list", found=0)
    assert learner.kind(f"{H}/tag/d/") is None
    learner.observe(f"{H}/sports/", "list", found=12)
    assert learner.kind(f"{H}/sports/") == "list"


def test_unexplored_shapes_come_first() -> None:
    learner = Learner()
    first = learner.priority(f"{H}/news/1.shtml", "article")
    for i in range(EXPLORE):
        learner.issued(f"{H}/news/{i}.shtml")
    assert learner.priority(f"{H}/news/9.shtml", "article") < first
    assert learner.priority(f"{H}/news/list_2.shtml", "list") > learner.priority(
        f"{H}/news/9.shtml", "article"
    )


def test_patterns_generalise_over_sections_and_separate_pagination() -> None:
    learner = Learner()
    for section in ("jzfp", "fzyw"):
        for i in range(3):
            learner.observe(f"{H}/{section}/2020-10/0{i + 1}/content_{1000 + i}.html", "article")
        learner.observe(f"{H}/{section}/index.html", "list", found=10)
        learner.observe(f"{H}/{section}/index_2.html", "list", found=10)
    learner.observe(f"{H}/about.html", "other")
    for i in range(3):
        learner.observe(f"{H}/tag/t{i}.html", "list", found=0)
    p = learner.patterns()
    assert p.article == (r"^https?://[^/]+/[A-Za-z]+/\d{4}\-\d{1,2}/\d{1,2}/content_\d+\.html$",)
    new_section = f"{H}/shms/2021-01/05/content_77.html"
    assert re.search(p.article[0], new_section)
    assert any(re.search(x, f"{H}/shms/index.html") for x in p.listing)
    assert any(re.search(x, f"{H}/shms/index_7.html") for x in p.pagination)
    assert not any(re.search(x, f"{H}/tag/t9.html") for x in p.listing + p.pagination)
    assert not any(re.search(x, f"{H}/about.html") for x in p.article + p.listing)


def _page(html: str, template: Template, learner: Learner | None = None) -> str:
    root = lxml.html.fromstring(html)
    nodes = list(walk(root, lambda h: H + h))
    learner = learner or Learner()
    return judge(nodes, template, lambda u: learner.article_score(u) >= 0.5).kind


CHROME = (
    "<div id=nav><a href='/'>首页</a><a href='/news/'>新闻</a></div>{}"
    "<div id=foot><p>版权所有示例新闻网，未经授权禁止复制或建立镜像，违者依法追究法律责任。</p></div>"
)
SENTENCE = "记者从市交通运输局获悉，今年全市新建改建农村公路一百二十公里，惠及沿线群众三万余人。"


def test_the_template_is_learned_and_left_out() -> None:
    template = Template()
    assert _page(CHROME.format(""), template) == "other"
    # The footer alone is long prose: once seen on an earlier page it counts for nothing.
    assert _page(CHROME.format("<p>短讯</p>"), template) == "other"


def test_articles_lists_and_teaser_lists_are_told_apart() -> None:
    template = Template()
    _page(CHROME.format(""), template)
    body = "".join(f"<p>{SENTENCE}</p>" for _ in range(3))
    article = CHROME.format(f"<h1>标题</h1><div>2020-10-03 10:00</div>{body}")
    assert _page(article, template) == "article"
    rows = "".join(
        f"<li><a href='/news/{1000 + i}.shtml'>第{i}条新闻标题很长很长</a></li>" for i in range(10)
    )
    assert _page(CHROME.format(f"<ul>{rows}</ul>"), template) == "list"
    teasers = "".join(
        f"<li><a href='/news/{2000 + i}.shtml'>第{i}条新闻的标题很长很长</a><p>{SENTENCE}</p></li>"
        for i in range(10)
    )
    assert _page(CHROME.format(f"<ul>{teasers}</ul>"), template) == "list"


def test_units_count_cjk_characters_and_words() -> None:
    assert units("记者 from Beijing 2020") == 5
    assert units("") == 0


def test_walk_skips_scripts_and_reports_links() -> None:
    root = lxml.html.fromstring(
        "<div><script>var x = 1;</script>text <a href='/a'>link</a> tail</div>"
    )
    assert list(walk(root, lambda h: H + h)) == [
        Node("text"),
        Node("link", H + "/a"),
        Node("tail"),
    ]
