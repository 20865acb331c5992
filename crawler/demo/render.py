"""HTML of the demo portal, shaped like the small Chinese portals zhengwen is built for.

The pages carry what makes such sites hard: GBK bytes declared as gb2312, navigation and
breadcrumb, an info line with 来源 and 日期, a 导读 block, full-width indentation, a byline glued
to the last paragraph, an editor line, a stray ``cm`` token, a 热点新闻 sidebar and a long footer.
Relative links on list pages, absolute ones elsewhere, as CMS templates mix them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs

from crawler.demo.content import ArticleTruth, Portal

ENCODING = "gbk"
"""Bytes on the wire; the pages *declare* gb2312 (a subset), as many real portals do."""
INDENT = "\u3000\u3000"
ARTICLE_RE = re.compile(r"^/([a-z]+)/(\d{4})-(\d{2})/(\d{2})/content_(\d+)\.html$")
LIST_RE = re.compile(r"^/([a-z]+)/(?:index(?:_(\d+))?\.html)?$")

CSS = """body{margin:0;font:14px/1.8 "SimSun",serif;color:#333}a{color:#036;text-decoration:none}
.w1000{width:1000px;margin:0 auto}.top{background:#eee;font-size:12px}.logo{font-size:32px;
color:#b00;padding:12px 0}.nav{background:#b00}.nav a{color:#fff;padding:0 14px;line-height:36px}
.main_left{float:left;width:700px}.main_right{float:right;width:280px}.clear{clear:both}
.info{color:#888;font-size:12px;text-align:center}.daodu{background:#f6f6f6;padding:8px}
h1{text-align:center;font-size:22px}.footer{border-top:2px solid #b00;text-align:center;
font-size:12px;color:#666;margin-top:20px}.page a,.page span{margin:0 3px}"""


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    article: ArticleTruth | None = None
    """Set for article pages, so the server can add Last-Modified and answer conditionals."""

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'


def route(portal: Portal, path: str, query: str = "") -> Page:
    """The page for a request path; 404 for anything the portal does not have."""
    if path == "/robots.txt":
        return Page(200, b"User-agent: *\nDisallow: /admin/\n", "text/plain")
    if path == "/static/style.css":
        return Page(200, CSS.encode("ascii"), "text/css")
    if path in ("/", "/index.html"):
        return _html(portal, 200, home(portal))
    if path == "/about.html":
        return _html(portal, 200, about(portal))
    if path == "/search":
        return _html(portal, 200, search(portal, _query_text(query)))
    if path in ("/admin/", "/admin/index.html"):
        return _html(portal, 200, _layout(portal, "采编系统登录", "<p>请输入用户名和密码。</p>"))
    m = ARTICLE_RE.match(path)
    if m:
        art = portal.article(path)
        if art is None:
            return _html(portal, 404, not_found(portal))
        page = _html(portal, 200, article(portal, art))
        return Page(page.status, page.body, page.content_type, page.headers, art)
    m = LIST_RE.match(path)
    if m and portal.section(m.group(1)):
        number = int(m.group(2) or 1)
        if m.group(2) != "1" and 1 <= number <= portal.page_count(m.group(1)):
            return _html(portal, 200, listing(portal, m.group(1), number))
    return _html(portal, 404, not_found(portal))


def _html(portal: Portal, status: int, text: str) -> Page:
    ctype = "text/html"
    if portal.header_charset:
        ctype += f"; charset={portal.header_charset}"
    # A character GBK lacks (a search echoing U+FFFD from a mangled query) is written as an
    # HTML character reference, as a GBK portal's template engine does, not a server error.
    return Page(status, text.encode(ENCODING, errors="xmlcharrefreplace"), ctype)


def _query_text(query: str) -> str:
    """Search terms arrive UTF-8 from browsers but GBK from this site's own (GBK) form."""
    raw = parse_qs(query, encoding="latin-1").get("q", [""])[0].encode("latin-1")
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return ""


# --- chrome -------------------------------------------------------------------------------------


def _layout(portal: Portal, title: str, main: str, sidebar: bool = True) -> str:
    nav = "".join(
        f'<li><a href="/{s.slug}/index.html">{escape(s.name)}</a></li>' for s in portal.sections
    )
    side = _sidebar(portal) if sidebar else ""
    name = escape(portal.site_name)
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{escape(title)}_{name}官网</title>
<meta name="keywords" content="{name},法治,扶贫,民生,新闻" />
<link href="/static/style.css" rel="stylesheet" type="text/css" />
<script type="text/javascript">var _hmt = _hmt || [];</script>
</head>
<body>
<a name="top"></a>
<div class="top"><div class="w1000">欢迎访问{name}官网 | <a href="/search?q=%B7%F6%C6%B6">站内搜索</a> \
| <a href="/about.html">关于我们</a></div></div>
<div class="header w1000"><div class="logo"><a href="/">{name}</a></div></div>
<div class="nav"><div class="w1000"><ul><li><a href="/">首页</a></li>{nav}</ul></div></div>
<div class="w1000 main">
{main}
{side}
<div class="clear"></div>
</div>
{_footer(portal)}
</body>
</html>
"""


def _sidebar(portal: Portal) -> str:
    hot = [a for a in (portal.by_id(i) for i in portal.hot_ids) if a is not None]
    items = "".join(f'<li><a href="{a.path}">{escape(a.title)}</a></li>' for a in hot)
    return f"""<div class="main_right">
<div class="hot"><h3>热点新闻</h3><ul>{items}</ul></div>
<div class="ad"><p>广告位招租 联系电话:010-6000 0000</p></div>
</div>"""


def _footer(portal: Portal) -> str:
    name = escape(portal.site_name)
    return f"""<div class="footer w1000">
<p><a href="/">返回首页</a> | <a href="/about.html">关于我们</a> | <a href="/about.html#jobs">\
招聘启事</a> | <a href="/about.html#terms">免责条款</a> | 广告服务 | 投稿通道 | 专家团队 \
| 工作人员查询 | 联系我们</p>
<p>版权所有:{name}网,北京晨讯文化传媒有限公司(示例站点,内容为程序生成)</p>
<p>客服电话:010-6000 0000 邮箱:service@fzcb.example</p>
<p>备案/许可证编号为:京ICP备00000000号-1</p>
<p>全国公安网络备案:11000000000000</p>
<p>信息支持:城市管理法治研究中心 技术支持:晨讯文化传媒.{name}网</p>
<p>免责声明:转载本网原创内容请注明出处。本网部分内容来源于互联网,如有侵犯到您的合法权益\
 请联系本网客服,我们将尽快处理,谢谢合作!</p>
</div>
<div class="gotop"><a href="#top">回到顶部</a></div>"""


# --- pages --------------------------------------------------------------------------------------


def article(portal: Portal, art: ArticleTruth) -> str:
    info = f"来源:{escape(art.source)}&nbsp;&nbsp;&nbsp;"
    if art.author_style == "reporter" and art.author:
        info += f"作者:记者 {escape(art.author)}&nbsp;&nbsp;&nbsp;"
    if not portal.hide_dates:
        info += f"日期:{art.published_at:%Y-%m-%d %H:%M:%S}"
    lead = ""
    if art.lead is not None:
        lead = f'<div class="daodu"><b>导读:</b> {escape(art.lead)}</div>'
    paras: list[str] = []
    last = len(art.body) - 1
    for i, text in enumerate(art.body):
        if i in art.headings:
            paras.append(f'<p style="text-align:center"><strong>{escape(text)}</strong></p>')
            continue
        if i == last and art.author and art.author_style == "byline":
            text += f"({art.author})"
        elif i == last and art.author and art.author_style == "byline_fullwidth":
            text += f"（{art.author}）"
        paras.append(f"<p>{INDENT}{escape(text)}</p>")
    body = "\n".join(paras)
    section = portal.section(art.section_slug)
    crumb_name = escape(section.name if section else art.section)
    main = f"""<div class="main_left">
<div class="position">当前位置:<a href="/">首页</a> &gt; \
<a href="/{art.section_slug}/index.html">{crumb_name}</a> &gt; 正文</div>
<div class="article">
<h1>{escape(art.title)}</h1>
<div class="info">{info}</div>
{lead}
<div class="content">
{body}
</div>
<div class="editor">(责任编辑:{escape(art.editor or "")})</div>
<div class="cm">cm</div>
<div class="share">分享到:微信 微博 QQ空间</div>
{_prev_next(portal, art)}
</div>
</div>"""
    return _layout(portal, art.title, main)


def _prev_next(portal: Portal, art: ArticleTruth) -> str:
    items = portal.section_articles(art.section_slug)
    i = next((n for n, a in enumerate(items) if a.path == art.path), 0)
    newer = items[i - 1] if i > 0 else None
    older = items[i + 1] if i + 1 < len(items) else None
    prev = f'<a href="{older.path}">{escape(older.title)}</a>' if older else "没有了"
    nxt = f'<a href="{newer.path}">{escape(newer.title)}</a>' if newer else "没有了"
    return f'<div class="prenext"><p>上一篇:{prev}</p><p>下一篇:{nxt}</p></div>'


def listing(portal: Portal, slug: str, number: int) -> str:
    section = portal.section(slug)
    assert section is not None
    items = portal.section_articles(slug)
    chunk = items[(number - 1) * portal.per_page : number * portal.per_page]
    rows = (
        "\n".join(
            f'<li><span class="date">{a.published_at:%Y-%m-%d}</span>'
            f'<a href=".{a.path[len(slug) + 1 :]}" title="{escape(a.title)}" target="_blank">'
            f"{escape(a.title)}</a></li>"
            for a in chunk
        )
        or "<li>暂无内容</li>"
    )
    main = f"""<div class="main_left">
<div class="position">当前位置:<a href="/">首页</a> &gt; {escape(section.name)}</div>
<ul class="list">
{rows}
</ul>
{_pager(len(items), number, portal.page_count(slug))}
</div>"""
    return _layout(portal, section.name, main)


def _page_name(number: int) -> str:
    return "index.html" if number == 1 else f"index_{number}.html"


def _pager(total: int, number: int, pages: int) -> str:
    parts = [f"共{total}条 页次:{number}/{pages}", f'<a href="{_page_name(1)}">首页</a>']
    parts.append(f'<a href="{_page_name(number - 1)}">上一页</a>' if number > 1 else "上一页")
    for n in range(1, pages + 1):
        parts.append(
            f'<span class="current">{n}</span>'
            if n == number
            else f'<a href="{_page_name(n)}">{n}</a>'
        )
    parts.append(f'<a href="{_page_name(number + 1)}">下一页</a>' if number < pages else "下一页")
    parts.append(f'<a href="{_page_name(pages)}">尾页</a>')
    return '<div class="page">' + " ".join(parts) + "</div>"


def home(portal: Portal) -> str:
    latest = portal.articles()[:12]
    top = "\n".join(
        f'<li><a href="{a.path}">{escape(a.title)}</a> <span>{a.published_at:%m-%d}</span></li>'
        for a in latest
    )
    blocks = []
    for s in portal.sections:
        heads = "".join(
            f'<li><a href="{a.path}">{escape(a.title)}</a></li>'
            for a in portal.section_articles(s.slug)[:6]
        )
        blocks.append(
            f'<div class="block"><h2><a href="/{s.slug}/index.html">{escape(s.name)}</a>'
            f'<a class="more" href="/{s.slug}/index.html">更多&gt;&gt;</a></h2><ul>{heads}</ul></div>'
        )
    main = f"""<div class="main_left">
<div class="latest"><h2>最新资讯</h2><ul>
{top}
</ul></div>
{"".join(blocks)}
<div class="login"><a href="/admin/index.html">采编人员登录</a></div>
</div>"""
    return _layout(portal, "首页", main)


def about(portal: Portal) -> str:
    name = escape(portal.site_name)
    main = f"""<div class="main_left"><h1>关于我们</h1>
<p>{name}是一家示例性质的法治新闻门户,所有内容均由程序生成,仅用于测试。</p>
<p><a name="jobs"></a>招聘启事:暂无。</p><p><a name="terms"></a>免责条款:见页脚。</p></div>"""
    return _layout(portal, "关于我们", main, sidebar=False)


def search(portal: Portal, q: str) -> str:
    hits = [a for a in portal.articles() if q and q in a.title + a.body_text][:20]
    rows = "".join(f'<li><a href="{a.path}">{escape(a.title)}</a></li>' for a in hits)
    main = f"""<div class="main_left"><h2>搜索“{escape(q)}”的结果,共{len(hits)}条</h2>
<ul>{rows or "<li>没有找到相关内容</li>"}</ul></div>"""
    return _layout(portal, "站内搜索", main)


def not_found(portal: Portal) -> str:
    main = '<div class="main_left"><h1>404</h1><p>您访问的页面不存在或已被删除。</p></div>'
    return _layout(portal, "页面不存在", main, sidebar=False)
