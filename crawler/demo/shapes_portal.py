"""Two more portals with the demo's articles, shaped unlike it, for zero-config discovery.

- ``ids`` (issue 16's portal c): HTML lists with pagination only, article URLs that are numeric
  ids without a date (``/news/12345.shtml``), sections at ``/channel/<slug>/`` paged as
  ``list_N.shtml``, GBK bytes declared as gbk, bodies as ``<br>``-separated lines.
- ``misleading`` (portal d): list pages that look like dated articles (week archives at
  ``/2020/10/05/`` paged as ``/2020/10/05/index_2.html``), half the articles without a date in
  their URL (``/story/1234.html``), tag and author pages listing articles, a printer-friendly
  copy of every article (``?print=1``, with a canonical link), tracking parameters on links.

Both are served over real HTTP by the demo server (`serve_shapes`), which counts requests; the
truth of what a crawl must store is `ShapesPortal.article_urls`. Used by the zero-config tests
(tests/test_zero_config_e2e.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from crawler.demo import bank
from crawler.demo.content import ArticleTruth, Portal
from crawler.demo.render import Page
from crawler.demo.server import PortalServer, _Handler

Layout = Literal["ids", "misleading"]
TAGS = ("law", "poverty", "economy", "health", "education", "transport", "environment", "culture")


class ShapesPortal:
    """One of the two portals over a generated `Portal`'s articles (read-only)."""

    def __init__(self, portal: Portal, layout: Layout, per_page: int | None = None) -> None:
        self.portal = portal
        self.layout = layout
        self.per_page = per_page or (20 if layout == "ids" else 3)
        self.encoding = "gbk" if layout == "ids" else "utf-8"
        self.items = portal.articles()  # newest first
        self.paths = {a.article_id: self._path(a) for a in self.items}
        self.by_path = {p: a for a in self.items for p in [self.paths[a.article_id]]}

    @classmethod
    def generate(cls, layout: Layout, n_articles: int = 120, seed: int = 1616) -> ShapesPortal:
        return cls(Portal.generate(n_articles=n_articles, seed=seed), layout)

    def _path(self, art: ArticleTruth) -> str:
        if self.layout == "ids":
            return f"/news/{art.article_id}.shtml"
        if art.article_id % 2:
            return f"/{art.published_at:%Y/%m/%d}/{art.article_id}.html"
        return f"/story/{art.article_id}.html"

    def article_urls(self, base: str) -> set[str]:
        """What a crawl must store: every article's URL (without tracking parameters)."""
        return {base.rstrip("/") + self.paths[a.article_id] for a in self.items}

    # --- routing --------------------------------------------------------------------------------

    def route(self, path: str, query: str) -> Page:
        if path == "/robots.txt":
            return Page(200, b"User-agent: *\nDisallow:\n", "text/plain")
        if path == "/feed.pdf":
            return Page(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf")
        args = parse_qs(query)
        art = self.by_path.get(path)
        if art is not None:
            if self.layout == "misleading" and args.get("print") == ["1"]:
                return self._html(self._print(art))
            return self._html(self._article(art))
        if path in ("/", "/index.shtml", "/index.html"):
            return self._html(self._home())
        page = self._list_route(path) or self._other_route(path, args)
        return page or self._html(self._layout("页面不存在", "<p>404</p>"), 404)

    def _html(self, text: str, status: int = 200) -> Page:
        ctype = "text/html; charset=GBK" if self.layout == "ids" else "text/html; charset=utf-8"
        return Page(status, text.encode(self.encoding), ctype)

    # --- shared chrome --------------------------------------------------------------------------

    def _layout(self, title: str, main: str, canonical: str | None = None) -> str:
        charset = self.encoding
        nav = " | ".join(
            f'<a href="{self._section_url(s.slug, 1)}">{escape(s.name)}</a>'
            for s in self.portal.sections
        )
        link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
        hot = "".join(
            f'<li><a href="{self._href(a, "hot")}">{escape(a.title)}</a></li>'
            for a in self.items[5:10]
        )
        extra = (
            '<a href="/about.shtml">关于本网</a> | <a href="/contact.shtml">联系我们</a>'
            if self.layout == "ids"
            else '<a href="/search?q=law">搜索</a> | <a href="/about.html">关于我们</a>'
        )
        return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{charset}"><title>{escape(title)} - 示例新闻网</title>
{link}</head>
<body><div id="top">示例新闻网 | <a href="/">首页</a> | {nav} | {extra}</div>
<div id="main">{main}</div>
<div id="side"><h3>热门文章</h3><ul>{hot}</ul></div>
<div id="foot"><p>示例新闻网版权所有，未经授权禁止复制或建立镜像，违者依法追究法律责任。</p>
<p>地址：示例市示例区示例路一号 邮编：100000 联系电话：010-00000000 电子邮箱：news@example.invalid</p>
<p>互联网新闻信息服务许可证编号：00000000000 京ICP备00000000号 京公网安备00000000000000号</p></div>
</body></html>"""

    def _href(self, art: ArticleTruth, where: str) -> str:
        """An article link as the portal writes it: with tracking parameters on portal (d)."""
        path = self.paths[art.article_id]
        if self.layout == "misleading":
            if where == "home":
                return f"{path}?from=home&spm=c1.{art.article_id}"
            if where in ("tag", "author"):
                return f"{path}?utm_source={where}&utm_medium=web"
        return path

    def _section_url(self, slug: str, number: int) -> str:
        if self.layout == "ids":
            return f"/channel/{slug}/" if number == 1 else f"/channel/{slug}/list_{number}.shtml"
        return f"/tag/{TAGS[[s.slug for s in self.portal.sections].index(slug)]}.html"

    # --- pages ----------------------------------------------------------------------------------

    def _home(self) -> str:
        latest = "".join(
            f'<li><a href="{self._href(a, "home")}">{escape(a.title)}</a></li>'
            for a in self.items[:10]
        )
        more = ""
        if self.layout == "misleading":
            weeks = "".join(
                f'<li><a href="{self._week_url(w, 1)}">{w:%Y年%m月%d日}当周</a></li>'
                for w in self._weeks()
            )
            tags = " ".join(f'<a href="/tag/{t}.html">{t}</a>' for t in TAGS)
            more = f"<h2>往期回顾</h2><ul>{weeks}</ul><div class='tags'>{tags}</div>"
        return self._layout("首页", f"<h2>最新</h2><ul>{latest}</ul>{more}")

    def _article(self, art: ArticleTruth) -> str:
        i = self.items.index(art)
        near = [a for a in (self.items[i - 1] if i else None, *self.items[i + 1 : i + 3]) if a]
        related = "".join(
            f'<li><a href="{self._href(a, "related")}">{escape(a.title)}</a></li>' for a in near
        )
        when = f"{art.published_at:%Y年%m月%d日 %H:%M}"
        if self.layout == "ids":
            body = "<br>\n".join(f"\u3000\u3000{escape(t)}" for t in art.body)
            main = f"""<div class="crumb"><a href="/">首页</a> &gt;
<a href="{self._section_url(art.section_slug, 1)}">{escape(art.section)}</a></div>
<h1>{escape(art.title)}</h1>
<div class="time-source">{when} 来源：{escape(art.source)}</div>
<div id="artibody">{body}</div>
<div class="related"><h3>相关新闻</h3><ul>{related}</ul></div>"""
            return self._layout(art.title, main)
        path = self.paths[art.article_id]
        tags = " ".join(f'<a href="/tag/{t}.html">{t}</a>' for t in self._tags(art))
        author = ""
        if art.author:
            author = f'作者：<a href="/author/{self._author_no(art)}/">{escape(art.author)}</a> '
        body = "\n".join(f"<p>{escape(t)}</p>" for t in art.body)
        main = f"""<h1>{escape(art.title)}</h1>
<div class="meta">{author}{when} 来源：{escape(art.source)}</div>
<div class="content">{body}</div>
<div class="tools"><a href="{path}?print=1">打印本页</a> 标签：{tags}</div>
<div class="related"><h3>相关阅读</h3><ul>{related}</ul></div>"""
        return self._layout(art.title, main, canonical=path)

    def _print(self, art: ArticleTruth) -> str:
        body = "\n".join(f"<p>{escape(t)}</p>" for t in art.body)
        path = self.paths[art.article_id]
        return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(art.title)}</title>
<link rel="canonical" href="{path}"></head>
<body onload="window.print()"><h1>{escape(art.title)}</h1>
<p>{art.published_at:%Y-%m-%d %H:%M} 来源：{escape(art.source)}</p>{body}</body></html>"""

    def _rows(self, arts: Sequence[ArticleTruth], where: str) -> str:
        return "".join(
            f'<li><a href="{self._href(a, where)}">{escape(a.title)}</a>'
            f"<span>({a.published_at:%Y-%m-%d})</span></li>"
            for a in arts
        )

    def _list_page(self, title: str, arts: Sequence[ArticleTruth], number: int, url: str) -> str:
        pages = max(1, -(-len(arts) // self.per_page))
        chunk = arts[(number - 1) * self.per_page : number * self.per_page]
        pager = " ".join(
            f"<b>{n}</b>" if n == number else f'<a href="{self._page_url(url, n)}">{n}</a>'
            for n in range(1, pages + 1)
        )
        if number < pages:
            pager += f' <a href="{self._page_url(url, number + 1)}">下一页</a>'
        main = f"<h2>{escape(title)}</h2><ul class='list'>{self._rows(chunk, 'list')}</ul>"
        return self._layout(title, f"{main}<div class='pager'>共{len(arts)}条 {pager}</div>")

    def _page_url(self, first: str, n: int) -> str:
        if n == 1:
            return first
        return first + (f"list_{n}.shtml" if self.layout == "ids" else f"index_{n}.html")

    def _list_route(self, path: str) -> Page | None:
        parts = [p for p in path.split("/") if p]
        if self.layout == "ids" and len(parts) >= 2 and parts[0] == "channel":
            section = self.portal.section(parts[1])
            if section is None or len(parts) > 3:
                return None
            number = _page_number(parts[2] if len(parts) == 3 else "", "list_", ".shtml")
            arts = [a for a in self.items if a.section_slug == section.slug]
            return self._paged(section.name, arts, number, f"/channel/{section.slug}/")
        if self.layout == "misleading" and len(parts) in (3, 4) and parts[0].isdigit():
            first = "/" + "/".join(parts[:3]) + "/"
            for week in self._weeks():
                if self._week_url(week, 1) == first:
                    number = _page_number(parts[3] if len(parts) == 4 else "", "index_", ".html")
                    arts = [a for a in self.items if self._week(a) == week]
                    return self._paged(f"{week:%Y年%m月%d日}当周", arts, number, first)
        return None

    def _paged(
        self, title: str, arts: Sequence[ArticleTruth], number: int | None, first: str
    ) -> Page | None:
        pages = max(1, -(-len(arts) // self.per_page))
        if number is None or not 1 <= number <= pages:
            return None
        return self._html(self._list_page(title, arts, number, first))

    def _other_route(self, path: str, args: dict[str, list[str]]) -> Page | None:
        if path in ("/about.shtml", "/contact.shtml", "/about.html"):
            return self._html(self._layout("关于", "<p>示例新闻网由程序生成，仅供测试。</p>"))
        if self.layout != "misleading":
            return None
        if path == "/search":
            q = (args.get("q") or [""])[0]
            hits = [a for a in self.items if q in self._tags(a)][:10]
            return self._html(self._layout("搜索", f"<ul>{self._rows(hits, 'search')}</ul>"))
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "tag" and parts[1].removesuffix(".html") in TAGS:
            tag = parts[1].removesuffix(".html")
            arts = [a for a in self.items if tag in self._tags(a)]
            return self._html(self._layout(f"标签：{tag}", f"<ul>{self._rows(arts, 'tag')}</ul>"))
        if len(parts) == 2 and parts[0] == "author" and parts[1].isdigit():
            arts = [a for a in self.items if a.author and self._author_no(a) == int(parts[1])]
            if arts:
                rows = self._rows(arts, "author")
                return self._html(self._layout(f"作者：{arts[0].author}", f"<ul>{rows}</ul>"))
        return None

    # --- (d)'s groupings ------------------------------------------------------------------------

    @staticmethod
    def _tags(art: ArticleTruth) -> tuple[str, ...]:
        return (TAGS[art.article_id % len(TAGS)], TAGS[(art.article_id // 3) % len(TAGS)])

    @staticmethod
    def _author_no(art: ArticleTruth) -> int:
        return bank.REPORTERS.index(art.author) + 1 if art.author in bank.REPORTERS else 0

    @staticmethod
    def _week(art: ArticleTruth) -> date:
        day = art.published_at.date()
        return day - timedelta(days=day.weekday())

    def _weeks(self) -> list[date]:
        return sorted({self._week(a) for a in self.items}, reverse=True)

    @staticmethod
    def _week_url(week: date, number: int) -> str:
        return f"/{week:%Y/%m/%d}/"


def _page_number(leaf: str, prefix: str, suffix: str) -> int | None:
    if not leaf:
        return 1
    digits = leaf.removeprefix(prefix).removesuffix(suffix)
    if leaf.startswith(prefix) and leaf.endswith(suffix) and digits.isdigit() and digits != "1":
        return int(digits)
    return None


class _ShapesHandler(_Handler):
    site: ShapesPortal

    def _respond(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        with self.server.requests_lock:
            self.server.requests.append(self.path)
        page = self.site.route(parts.path, parts.query)
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(page.body)


def serve_shapes(site: ShapesPortal, host: str = "127.0.0.1", port: int = 0) -> PortalServer:
    """Serve a shapes portal in a daemon thread (``.url``, ``.requests`` as for the demo)."""
    handler = type("Handler", (_ShapesHandler,), {"site": site})
    return PortalServer(site.portal, host, port, handler)
