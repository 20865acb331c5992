"""A large, realistic, pre-rendered news portal and the static server the crawl benchmark uses.

Two halves:

* ``build(folder, n_articles, seed)`` renders the portal once into ``folder/pages.bin`` (all
  response bodies back to back) and ``folder/index.json`` (path -> offset, length, kind). The
  pages are the demo portal's (``crawler.demo``: GBK bytes declared gb2312, 来源/日期 info line,
  导读, byline, editor line, 热点新闻), padded per page, deterministically, to 30-80 KB with what
  real portals carry around an article: inline CSS and JS (analytics, ad slots, embedded JSON of
  headlines), long sidebars of headline links, a comment widget and a footer link farm. The demo
  portal's own pages are ~5 KB, and extraction cost grows with page size, so an unpadded portal
  would flatter every figure.
* ``python bench/portal_static.py FOLDER`` serves that folder on 127.0.0.1 (HTTP/1.1,
  keep-alive, one asyncio loop, bodies sliced from an mmap). It does no rendering per request so
  that, on a small machine, the server takes as little CPU as possible from the crawler it is
  measured against; the benchmark still measures its CPU and reports it separately.
  ``--latency SECONDS`` answers every request that long after it arrived, as a real portal's
  application server does (a timer on the loop, so a waiting request holds up no other
  connection); the default, 0, answers at once.

``Portal.generate`` is quadratic in the number of articles (each new article is checked against
all earlier ones) and renders list pages by sorting every article, so a 50,000-article portal is
built from chunks of ``CHUNK`` articles, each its own seeded demo portal with article ids moved
into a range of its own; the section list pages are rendered once over all chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import random
import re
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.demo.content import ArticleTruth, Portal

#: Bump when the pages change: the build cache is keyed on it. (4: the few pages over 80 KB
#: are padded again; every other page is byte-identical to 3.)
VERSION = 4
#: Articles per generated demo portal: Portal.generate stays fast (0.2 s) at this size.
CHUNK = 500
#: Ids of chunk k are k * ID_STRIDE + (the demo's id); the demo's ids stay below 1000 + 9 * CHUNK.
ID_STRIDE = 10_000
#: Articles per section list page. Real portals show 20-50; 50 keeps the full pager the demo
#: renders (a link per list page) to a few hundred links at 50,000 articles.
PER_PAGE = 50
MIN_KB, MAX_KB = 30, 80
ROBOTS = b"User-agent: *\nDisallow: /admin/\n"
ARTICLE_PATTERN = r"/[a-z]+/\d{4}-\d{2}/\d{2}/content_\d+\.html$"
LIST_PATTERN = r"/[a-z]+/(index\.html)?$"
PAGINATION_PATTERN = r"/[a-z]+/index_\d+\.html$"


# --- padding: the chrome real portals wrap around an article ------------------------------------

_CSS_SELECTORS = (
    ".news_list li a",
    ".hot_rank em",
    ".side_box h3",
    ".comment_list .ctext",
    ".footer_links a",
    ".tab_nav li.on",
    ".pic_news img",
    ".video_list .play",
    ".zt_box .more",
    ".share_bar a.wx",
    "#header .search input",
    ".breadcrumb span",
)
_CSS_PROPS = (
    "color:#333",
    "color:#c00",
    "font-size:12px",
    "font-size:14px",
    "line-height:26px",
    "margin:0 auto",
    "padding:4px 8px",
    "overflow:hidden",
    "white-space:nowrap",
    "text-overflow:ellipsis",
    "border-bottom:1px dashed #ddd",
    "background:url(/static/img/sprite.png) no-repeat -20px -40px",
    "display:inline-block",
    "float:left",
    "width:300px",
    "height:250px",
)
_SIDE_BOXES = ("24小时排行", "相关新闻", "图片新闻", "专题推荐", "热门视频", "编辑推荐", "本周热读")
_COMMENTS = (
    "说得好！{city}的经验值得推广。",
    "支持！希望{county}继续加油，把好事办实。",
    "《{title}》这篇报道很及时，点赞。",
    "我就是{prov}人，家乡这几年变化确实大。",
    "{slogan}",
    "希望有关部门多听听基层群众的声音。",
    "政策好不好，老百姓心里有杆秤。",
    "转发了，让更多人看到{city}的变化。",
    "请问{county}的补贴怎么申请？有没有具体流程？",
    "文章写得很实在，没有空话套话。",
)
_LINK_SUFFIXES = ("政法网", "法院网", "检察网", "司法厅", "公安厅", "日报", "新闻网", "人民政府")


class _Budget:
    """Appends rendered items until a byte budget (GBK bytes) is spent: sizes land near a target
    without re-encoding the whole page after every item."""

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.parts: list[str] = []

    def fill(self, make: Callable[[int], str], limit: int = 5000) -> str:
        for i in range(limit):  # bounded: an item is never empty, so the budget always runs out
            if self.left <= 0:
                break
            item = make(i)
            size = len(item.encode("gbk"))
            # Keep the item only when it brings the block closer to its budget than leaving it
            # out: blocks then miss their budget by at most half an item either way.
            if size - self.left > self.left and self.parts:
                break
            self.left -= size
            self.parts.append(item)
        return "".join(self.parts)


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _css(rng: random.Random, budget: int) -> str:
    def rule(i: int) -> str:
        props = ";".join(rng.sample(_CSS_PROPS, rng.randint(2, 6)))
        return f"{rng.choice(_CSS_SELECTORS)}_{i}{{{props}}}\n"

    return '<style type="text/css">\n' + _Budget(budget).fill(rule) + "</style>\n"


def _js(rng: random.Random, budget: int, heads: Sequence[ArticleTruth]) -> str:
    def block(i: int) -> str:
        kind = i % 3
        if kind == 0:
            return (
                f'var _adSlot{i} = {{"id":"ad_{_hex(rng, 8)}","w":{rng.choice((300, 728, 960))},'
                f'"h":{rng.choice((90, 250, 60))},"src":"//static.adnet.example/js/{_hex(rng, 16)}.js",'
                f'"refresh":{rng.randint(30, 120)}}};\n'
            )
        if kind == 1:
            picks = rng.sample(list(heads), min(len(heads), rng.randint(4, 10)))
            data = ",".join(
                f'{{"t":"{a.title}","u":"{a.path}","c":{rng.randint(1, 9999)}}}' for a in picks
            )
            return f"var hotSearch{i} = [{data}];\n"
        return (
            '(function(){var s=document.createElement("script");'
            f's.src="//hm.stats.example/hm.js?{_hex(rng, 32)}";'
            's.async=true;var x=document.getElementsByTagName("script")[0];'
            "x.parentNode.insertBefore(s,x);})();\n"
        )

    return '<script type="text/javascript">\n' + _Budget(budget).fill(block) + "</script>\n"


def _sidebar(rng: random.Random, budget: int, heads: Sequence[ArticleTruth]) -> str:
    spend = _Budget(budget)

    def box(i: int) -> str:
        items = []
        for n in range(rng.randint(10, 30)):
            a = rng.choice(heads)
            items.append(
                f'<li><em class="n{n + 1}">{n + 1}</em><a href="{a.path}" target="_blank" '
                f'title="{escape(a.title)}">{escape(a.title)}</a>'
                f"<span>{a.published_at:%m-%d}</span></li>"
            )
        name = _SIDE_BOXES[i % len(_SIDE_BOXES)]
        return (
            f'<div class="side_box box{i}"><h3><span>{name}</span>'
            f'<a class="more" href="/{heads[0].section_slug}/index.html">更多</a></h3>'
            f'<ul class="news_list">{"".join(items)}</ul></div>\n'
        )

    return f'<div class="main_right side_more">\n{spend.fill(box)}</div>\n'


def _comments(rng: random.Random, budget: int, art: ArticleTruth) -> str:
    from crawler.demo import bank

    prov, city, counties, _ = rng.choice(bank.PLACES)

    def comment(i: int) -> str:
        text = rng.choice(_COMMENTS).format(
            city=city,
            county=rng.choice(counties),
            prov=prov,
            title=art.title,
            slogan=rng.choice(bank.SLOGANS),
        )
        who = rng.choice(bank.SURNAMES) + rng.choice(bank.GIVEN)
        return (
            f'<li class="comment_item" data-id="{_hex(rng, 10)}"><div class="user">'
            f'<img src="/static/avatar/{rng.randint(1, 64)}.png" alt="" />'
            f'<span class="name">网友{escape(who)}</span><span class="ip">{prov}网友</span>'
            f'<span class="time">{art.published_at:%Y-%m-%d} {rng.randint(8, 23):02d}:'
            f'{rng.randint(0, 59):02d}</span></div><p class="ctext">{escape(text)}</p>'
            f'<div class="act"><a href="javascript:;">支持({rng.randint(0, 300)})</a> '
            f'<a href="javascript:;">反对({rng.randint(0, 40)})</a> '
            '<a href="javascript:;">回复</a></div></li>\n'
        )

    return (
        '<div class="comment_box" id="comment"><h3>网友评论</h3>'
        '<p class="tip">文明上网，理性发言。评论仅代表网友个人观点。</p>'
        f'<ul class="comment_list">\n{_Budget(budget).fill(comment)}</ul>'
        '<div class="more_comment"><a href="javascript:;">查看更多评论</a></div></div>\n'
    )


def _link_farm(rng: random.Random, budget: int) -> str:
    from crawler.demo import bank

    def link(i: int) -> str:
        prov = rng.choice(bank.PLACES)[rng.choice((0, 1))]
        host = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8)))
        sep = " | " if i % 12 else "<br />\n"
        return (
            f'<a href="http://www.{host}.gov.cn/" target="_blank">'
            f"{prov}{rng.choice(_LINK_SUFFIXES)}</a>{sep}"
        )

    return (
        '<div class="friend_links w1000"><h3>友情链接</h3><div class="links">\n'
        f"{_Budget(budget).fill(link)}</div></div>\n"
    )


def pad(
    html: str, rng: random.Random, heads: Sequence[ArticleTruth], art: ArticleTruth | None
) -> bytes:
    """The demo page with chrome added until it weighs 30-80 KB (GBK), as portals' pages do.

    Shares of the padding (CSS 12 %, JS 20 %, sidebars 33 %, comments 15 %, link farm 20 %)
    follow a rough look at the seed portals; list pages have no comments and a longer sidebar.
    """
    base = len(html.encode("gbk"))
    # 2 KB inside the bounds: each block misses its budget by up to half an item.
    target = rng.randint((MIN_KB + 2) * 1024, (MAX_KB - 2) * 1024)
    page = _padded(html, rng, heads, art, max(0, target - base))
    for _ in range(4):  # bounded: the rare page whose blocks all overshoot is padded again, less
        if len(page) <= MAX_KB * 1024:
            break
        target -= len(page) - MAX_KB * 1024 + 1024
        page = _padded(html, rng, heads, art, max(0, target - base))
    return page


def _padded(
    html: str,
    rng: random.Random,
    heads: Sequence[ArticleTruth],
    art: ArticleTruth | None,
    extra: int,
) -> bytes:
    css, js, side, comm, farm = (int(extra * s) for s in (0.12, 0.20, 0.33, 0.15, 0.20))
    if art is None:
        side, comm = side + comm, 0
    head = _css(rng, css) + _js(rng, js // 2, heads)
    html = html.replace("</head>", head + "</head>", 1)
    html = html.replace(
        '<div class="clear"></div>', _sidebar(rng, side, heads) + '<div class="clear"></div>', 1
    )
    if art is not None and comm:
        start = html.find('<div class="prenext">')
        end = html.find("</div>", start) + len("</div>")
        if start >= 0:
            html = html[:end] + "\n" + _comments(rng, comm, art) + html[end:]
    farm_html = _link_farm(rng, farm)
    html = html.replace('<div class="footer w1000">', farm_html + '<div class="footer w1000">', 1)
    html = html.replace("</body>", _js(rng, js - js // 2, heads) + "</body>", 1)
    return html.encode("gbk")


# --- the portal ---------------------------------------------------------------------------------


def _chunk(seed: int, k: int, n: int) -> Portal:
    """Demo portal number ``k``, its article ids moved to ``k * ID_STRIDE + id``."""
    from crawler.demo.content import Portal

    portal = Portal.generate(n_articles=n, seed=seed + k)
    portal.per_page = PER_PAGE
    moved: dict[str, ArticleTruth] = {}
    for art in portal.articles():
        new_id = k * ID_STRIDE + art.article_id
        path = re.sub(r"content_\d+\.html$", f"content_{new_id}.html", art.path)
        moved[path] = replace(art, article_id=new_id, path=path)
    portal._articles = moved
    portal.hot_ids = tuple(k * ID_STRIDE + i for i in portal.hot_ids)
    return portal


def _index_portal(chunks: Sequence[Portal]) -> Portal:
    """One portal over every chunk's articles, for the home page and the section lists.

    The demo's Portal sorts all articles on every list render and finds hot articles by a linear
    scan: fine for 48 articles, quadratic for 50,000, so the lookups are cached here.
    """
    from crawler.demo.content import Portal

    class _Cached(Portal):
        def articles(self) -> list[ArticleTruth]:
            cached: list[ArticleTruth] | None = self.__dict__.get("_all")
            if cached is None:
                cached = super().articles()
                self.__dict__["_all"] = cached
                self.__dict__["_ids"] = {a.article_id: a for a in cached}
                self.__dict__["_sections"] = {}
            return cached

        def section_articles(self, slug: str) -> list[ArticleTruth]:
            sections: dict[str, list[ArticleTruth]] = self.__dict__.setdefault("_sections", {})
            if slug not in sections:
                sections[slug] = [a for a in self.articles() if a.section_slug == slug]
            return sections[slug]

        def by_id(self, article_id: int) -> ArticleTruth | None:
            self.articles()
            ids: dict[int, ArticleTruth] = self.__dict__["_ids"]
            return ids.get(article_id)

    index = _Cached(seed=chunks[0].seed, per_page=PER_PAGE, hot_ids=chunks[0].hot_ids)
    for chunk in chunks:
        index._articles.update(chunk._articles)
    return index


def build(folder: Path, n_articles: int, seed: int) -> dict[str, Any]:
    """Render the portal into ``folder`` unless an identical build is there; return its index."""
    from crawler.demo import render

    index_file = folder / "index.json"
    if index_file.exists():
        index: dict[str, Any] = json.loads(index_file.read_text(encoding="utf-8"))
        if (index.get("version"), index.get("articles"), index.get("seed")) == (
            VERSION,
            n_articles,
            seed,
        ):
            return index
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [CHUNK] * (n_articles // CHUNK) + ([n_articles % CHUNK] if n_articles % CHUNK else [])
    chunks = [_chunk(seed, k, n) for k, n in enumerate(sizes)]
    site = _index_portal(chunks)
    pages: dict[str, list[Any]] = {}
    tmp = folder / "pages.bin.tmp"
    with tmp.open("wb") as out:

        def put(path: str, body: bytes, kind: str, ctype: str = "text/html") -> None:
            pages[path] = [out.tell(), len(body), kind, ctype]
            out.write(body)

        put("/robots.txt", ROBOTS, "robots", "text/plain")
        everything = site.articles()
        home = render.home(site)
        put("/", pad(home, random.Random(f"{seed}:/"), everything[:300], None), "home")
        for section in site.sections:
            heads = site.section_articles(section.slug)
            for number in range(1, site.page_count(section.slug) + 1):
                name = "index.html" if number == 1 else f"index_{number}.html"
                path = f"/{section.slug}/{name}"
                rng = random.Random(f"{seed}:{path}")
                page = pad(render.listing(site, section.slug, number), rng, heads[:300], None)
                put(path, page, "list")
                if number == 1:
                    pages[f"/{section.slug}/"] = pages[path]
        for chunk in chunks:
            heads = chunk.articles()
            for art in heads:
                rng = random.Random(f"{seed}:{art.path}")
                put(art.path, pad(render.article(chunk, art), rng, heads, art), "article")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(folder / "pages.bin")
    index = {"version": VERSION, "articles": n_articles, "seed": seed, "pages": pages}
    tmp_index = folder / "index.json.tmp"
    tmp_index.write_text(json.dumps(index), encoding="utf-8")
    tmp_index.replace(index_file)
    return index


# --- the server ---------------------------------------------------------------------------------


class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1 for a crawler: GET/HEAD, keep-alive, pipelining, 404; each answer
    ``latency`` seconds after its request arrived."""

    def __init__(
        self, pages: dict[bytes, tuple[int, int, bytes]], data: memoryview, latency: float = 0.0
    ) -> None:
        self.pages = pages
        self.data = data
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        #: Request heads waiting for their latency, oldest first. Every head waits the same
        #: time, so each timer answers the oldest one: pipelined answers keep their order.
        self.waiting: deque[bytes] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for _ in range(1000):  # bounded: each turn consumes one request head
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536 and self.transport is not None:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            if self.latency > 0:
                self.waiting.append(head)
                asyncio.get_running_loop().call_later(self.latency, self._answer_oldest)
            elif not self._answer(head):
                return

    def _answer_oldest(self) -> None:
        if not self.waiting:
            return
        head = self.waiting.popleft()
        if self.transport is None or self.transport.is_closing():
            self.waiting.clear()  # closed (by the client, or after a "Connection: close")
            return
        self._answer(head)

    def _answer(self, head: bytes) -> bool:
        assert self.transport is not None
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3:
            self.transport.close()
            return False
        method, target, version = parts
        lowered = rest.lower()
        close = b"connection: close" in lowered or version == b"HTTP/1.0"
        page = self.pages.get(target.split(b"?", 1)[0])
        if page is None:
            status, body, ctype = b"404 Not Found", memoryview(b"not found"), b"text/plain"
        else:
            offset, length, ctype = page
            status, body = b"200 OK", self.data[offset : offset + length]
        self.transport.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nServer: nginx\r\nContent-Type: "
            + ctype
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + (b"\r\nConnection: close" if close else b"")
            + b"\r\n\r\n"
        )
        if method != b"HEAD":
            self.transport.write(body)
        if close:
            self.transport.close()
            return False
        return True


async def _serve(folder: Path, host: str, port: int, latency: float = 0.0) -> None:
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    with (folder / "pages.bin").open("rb") as f:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    pages = {
        path.encode("ascii"): (offset, length, ctype.encode("ascii"))
        for path, (offset, length, _kind, ctype) in index["pages"].items()
    }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Http(pages, data, latency), host, port, backlog=512)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY http://{host}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """``python bench/portal_static.py FOLDER [--port P] [--latency S]``: serve a built portal
    until killed."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="answer each request this long after it arrived (default 0: at once)",
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark portal serves loopback only")
    if not 0 <= args.latency <= 60:
        parser.error("--latency must be between 0 and 60 seconds")
    try:
        asyncio.run(_serve(args.folder, args.host, args.port, args.latency))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
