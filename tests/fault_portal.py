"""The fault portal: the demo portal over real HTTP on 127.0.0.1, with one page or path for each
way the web misbehaves (tests/test_faults.py, docs/reliability.md).

It is the demo portal (`crawler.demo`) served by the demo's own server with a request handler
that answers the fault paths itself and hands every other path to the portal. Some faults sit on
real article URLs of the portal (a 503 before the article, a connection reset in its middle), so
the truth of what should be archived stays the portal's; the others live under ``/fault/`` and
``/trap/``, linked from the list page ``/fault/``.

The handler never trusts the client to behave either: a page that never answers waits for the
server to stop, and a streamed page stops when the client hangs up.
"""

from __future__ import annotations

import functools
import gzip
import io
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from html import escape

from crawler.demo import render
from crawler.demo.content import ArticleTruth, Portal
from crawler.demo.server import PortalServer, _Handler, serve

#: Seconds a 429 of the portal asks the crawler to wait before it retries.
RETRY_AFTER = 2
#: A Retry-After no crawler should honour in a run (one day): the page is given up at once.
RETRY_AFTER_TOO_LONG = 86_400
#: Nesting of the deeply nested page: far past libxml2's tree depth of 256, well under the
#: extractor's tag limit, so the page is parsed, not refused for its size.
NESTING = 5_000
#: The single line of the one-line page.
LONG_LINE_BYTES = 5 * 1024 * 1024
ROBOTS = b"User-agent: *\nDisallow: /admin/\nDisallow: /fault/members/\n"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of the portal: where it is and what kind it is (the table's row)."""

    kind: str
    path: str
    article: ArticleTruth | None = None
    """The portal article whose URL carries the fault, if any."""


@dataclass
class FaultState:
    """What the handler serves and what it saw: shared by the handler threads of one server."""

    portal: Portal
    size_limit: int
    canary_url: str
    private_hostname: str
    routes: dict[str, Callable[[FaultHandler, bool], None]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    hits: list[tuple[str, float]] = field(default_factory=list)
    """(path, time.monotonic()) of every request, fault paths and portal paths alike."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    bomb: bytes = b""

    def seen(self, path: str) -> list[float]:
        with self.lock:
            return [t for p, t in self.hits if p == path]

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.hits if p.startswith(prefix))

    def attempts(self, path: str) -> int:
        return len(self.seen(path))

    def fault(self, kind: str) -> Fault:
        return next(f for f in self.faults if f.kind == kind)


class FaultHandler(_Handler):
    """The demo portal's handler, with the fault paths answered here first."""

    state: FaultState  # set on a subclass per server (`serve_faults`)

    def _respond(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        with self.state.lock:
            self.state.hits.append((self.path, time.monotonic()))
        if path == "/robots.txt":
            self._send(200, ROBOTS, "text/plain", send_body)
            return
        answer = self.state.routes.get(path)
        if path.startswith("/trap/cal/"):
            answer = _calendar
        elif path.startswith("/trap/list/index_"):
            answer = _pagination
        if answer is None:
            super()._respond(send_body)
            return
        with self.server.requests_lock:
            self.server.requests.append(self.path)
        answer(self, send_body)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        send_body: bool = True,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def finish(self) -> None:
        """A fault that cut the connection leaves nothing to flush; that is not an error."""
        try:
            super().finish()
        except OSError:
            pass


# --- the faults ---------------------------------------------------------------------------------


def _article_html(portal: Portal, art: ArticleTruth) -> str:
    with portal.lock:
        return render.article(portal, art)


def _transient(status: int, failures: int, retry_after: int | None = None) -> Callable[..., None]:
    """``failures`` answers ``status``, then the article: a server that recovers."""

    def answer(h: FaultHandler, send_body: bool) -> None:
        if h.state.attempts(h.path) <= failures:
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            h._send(status, b"<html><body>busy</body></html>", send_body=send_body, headers=headers)
            return
        _Handler._respond(h, send_body)

    return answer


def _always(status: int, headers: dict[str, str] | None = None) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        h._send(status, b"<html><body>error</body></html>", send_body=send_body, headers=headers)

    return answer


def _never_answers(h: FaultHandler, send_body: bool) -> None:
    """Reads the request, then says nothing until the server stops."""
    h.state.stopping.wait(timeout=600)
    h.close_connection = True


def _reset_mid_body(art: ArticleTruth) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        body = _article_html(h.state.portal, art).encode(render.ENCODING)
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    return answer


def _truncated(art: ArticleTruth) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        body = _article_html(h.state.portal, art).encode(render.ENCODING)
        h._send(200, body, "text/html", send_body, length=len(body) + 4096)
        h.close_connection = True

    return answer


def _stream_huge(declare_length: bool) -> Callable[..., None]:
    """50 times the size limit, streamed in 1 MB writes until done or the client hangs up."""

    def answer(h: FaultHandler, send_body: bool) -> None:
        total = 50 * h.state.size_limit
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        if declare_length:
            h.send_header("Content-Length", str(total))
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        if not send_body:
            return
        chunk = b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>\n"
        sent = 0
        try:
            while sent < total and not h.state.stopping.is_set():
                h.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            return

    return answer


def _gzip_bomb(h: FaultHandler, send_body: bool) -> None:
    h._send(
        200,
        h.state.bomb,
        "text/html; charset=utf-8",
        send_body,
        headers={"Content-Encoding": "gzip"},
    )


@functools.cache
def _make_bomb(decompressed: int) -> bytes:
    """A gzip body of ``decompressed`` bytes of blank HTML, about 1,000 times smaller."""
    out = io.BytesIO()
    block = b" " * (1024 * 1024)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(b"<html><body>")
        for _ in range(decompressed // len(block)):
            gz.write(block)
    return out.getvalue()


def _redirect(location: Callable[[FaultState], str], status: int = 302) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        h._send(status, b"", send_body=send_body, headers={"Location": location(h.state)})

    return answer


def _chain(h: FaultHandler, send_body: bool) -> None:
    """/fault/chain.html?n=1 -> ?n=2 -> ...: a redirect that never ends (every URL new)."""
    n = int(h.path.partition("?n=")[2] or 0)
    h._send(302, b"", send_body=send_body, headers={"Location": f"/fault/chain.html?n={n + 1}"})


def _static(body: bytes, content_type: str, **headers: str) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        h._send(200, body, content_type, send_body, headers=dict(headers))

    return answer


def _article_as(
    art: ArticleTruth, transform: Callable[[str], bytes], content_type: str
) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        body = transform(_article_html(h.state.portal, art))
        h._send(200, body, content_type, send_body)

    return answer


def _nested(html: str) -> bytes:
    """The article's text under NESTING open elements, with tags closed out of order, unclosed
    and stray: the markup of a broken CMS template."""
    opened = "<div><span>" * (NESTING // 2)
    broken = html.replace('<div class="content">', '<div class="content">' + opened, 1)
    broken = broken.replace("</p>", "<b><i></b></i>").replace("</h1>", "</td></tr></h1>")
    return broken.encode(render.ENCODING)


def _one_line(html: str) -> bytes:
    """The whole page on one line, with a 5 MB inline state object (minified templates)."""
    state = "<script>window.__STATE__='" + "a" * LONG_LINE_BYTES + "';</script>"
    return html.replace("\n", " ").replace("</head>", state + "</head>", 1).encode(render.ENCODING)


def _calendar(h: FaultHandler, send_body: bool) -> None:
    """A calendar with a link to the day before and the day after, forever."""
    day = date.fromisoformat(h.path.rsplit("/", 1)[1].removesuffix(".html"))
    links = "".join(
        f'<a href="/trap/cal/{d.isoformat()}.html">{d.isoformat()}</a> '
        for d in (day - timedelta(days=1), day + timedelta(days=1))
    )
    h._send(200, f"<html><body><h1>{day}</h1>{links}</body></html>".encode(), send_body=send_body)


def _pagination(h: FaultHandler, send_body: bool) -> None:
    """List pages that always have a next page (a CMS whose pager never ends)."""
    n = int(h.path.rsplit("_", 1)[1].removesuffix(".html"))
    body = f'<html><body><p>第{n}页</p><a href="/trap/list/index_{n + 1}.html">下一页</a></body>'
    h._send(200, body.encode(), send_body=send_body)


def _empty(art: ArticleTruth) -> ArticleTruth:
    return replace(art, body=(), lead=None, headings=())


def build(state: FaultState) -> None:
    """Every fault of the portal into ``state.routes`` and ``state.faults``."""
    arts = state.portal.articles()
    on_article: list[tuple[str, Callable[[ArticleTruth], Callable[..., None]]]] = [
        ("http_500_transient", lambda a: _transient(500, 1)),
        ("http_502_transient", lambda a: _transient(502, 1)),
        ("http_503_transient", lambda a: _transient(503, 2)),
        ("http_429_retry_after", lambda a: _transient(429, 1, RETRY_AFTER)),
        ("timeout", lambda a: _never_answers),
        ("connection_reset", _reset_mid_body),
        ("truncated_body", _truncated),
        (
            "gb2312_declared_utf8_sent",
            lambda a: _article_as(
                a, lambda html: html.encode("utf-8"), "text/html; charset=gb2312"
            ),
        ),
        (
            "utf8_declared_gb2312_sent",
            lambda a: _article_as(
                a,
                lambda html: html.replace("charset=gb2312", "charset=utf-8").encode("gb2312"),
                "text/html; charset=utf-8",
            ),
        ),
        ("nested_malformed", lambda a: _article_as(a, _nested, "text/html")),
        ("long_line", lambda a: _article_as(a, _one_line, "text/html")),
    ]
    # Articles whose text is plain GB2312 (no GBK-only characters), so that the page declared
    # UTF-8 and sent as GB2312 can be encoded at all.
    usable = [a for a in arts if _encodes(a, "gb2312")]
    chosen = iter(usable)
    for kind, make in on_article:
        art = next(chosen)
        state.routes[art.path] = make(art)
        state.faults.append(Fault(kind, art.path, art))
    empty = next(chosen)
    state.routes[empty.path] = _empty_page(empty)
    state.faults.append(Fault("empty_article", empty.path, empty))

    canary = state.canary_url.rstrip("/")
    port = canary.rsplit(":", 1)[1]
    at_fault: list[tuple[str, str, Callable[..., None]]] = [
        ("http_503_permanent", "/fault/down.html", _always(503)),
        (
            "http_429_retry_after_too_long",
            "/fault/rate-limited.html",
            _always(429, {"Retry-After": str(RETRY_AFTER_TOO_LONG)}),
        ),
        ("too_large_declared", "/fault/huge-declared.html", _stream_huge(True)),
        ("too_large_streamed", "/fault/huge.html", _stream_huge(False)),
        ("gzip_bomb", "/fault/bomb.html", _gzip_bomb),
        ("redirect_loop", "/fault/loop-a.html", _redirect(lambda s: "/fault/loop-b.html")),
        ("redirect_loop_back", "/fault/loop-b.html", _redirect(lambda s: "/fault/loop-a.html")),
        ("redirect_endless", "/fault/chain.html", _chain),
        (
            "redirect_offsite",
            "/fault/moved-away.html",
            _redirect(lambda s: "http://news.other-portal.example/a/1.html", 301),
        ),
        (
            "redirect_link_local",
            "/fault/metadata.html",
            _redirect(lambda s: "http://169.254.169.254/latest/meta-data/"),
        ),
        ("redirect_private_10", "/fault/intranet.html", _redirect(lambda s: "http://10.0.0.1/")),
        (
            "redirect_loopback_other_port",
            "/fault/loopback.html",
            _redirect(lambda s: f"{canary}/admin.html"),
        ),
        (
            "redirect_hostname_private",
            "/fault/hostname.html",
            _redirect(lambda s: f"http://{s.private_hostname}:{port}/admin.html"),
        ),
        ("robots_disallowed", "/fault/members/salaries.html", _always(200)),
        (
            "binary_as_html",
            "/fault/binary.html",
            _static(_binary(), "text/html"),
        ),
    ]
    for kind, path, answer in at_fault:
        state.routes[path] = answer
        state.faults.append(Fault(kind, path))
    state.faults.append(Fault("calendar_trap", "/trap/cal/2024-01-01.html"))
    state.faults.append(Fault("pagination_trap", "/trap/list/index_1.html"))
    state.routes["/fault/"] = _fault_index
    state.bomb = _make_bomb(50 * state.size_limit)


def _empty_page(art: ArticleTruth) -> Callable[..., None]:
    def answer(h: FaultHandler, send_body: bool) -> None:
        body = _article_html(h.state.portal, _empty(art)).encode(render.ENCODING)
        h._send(200, body, "text/html", send_body)

    return answer


def _encodes(art: ArticleTruth, encoding: str) -> bool:
    try:
        "".join((art.title, art.body_text, art.source, art.lead or "")).encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _binary() -> bytes:
    """A PNG signature and 64 KB of noise: an image served as text/html."""
    noise = random.Random(7).randbytes(64 * 1024)
    return b"\x89PNG\r\n\x1a\n" + noise


def _fault_index(h: FaultHandler, send_body: bool) -> None:
    """The list page linking every fault that no portal list page links."""
    rows = [f.path for f in h.state.faults if f.article is None and f.kind != "redirect_loop_back"]
    links = "".join(f'<li><a href="{escape(p)}">{escape(p)}</a></li>\n' for p in rows)
    body = f'<html><head><meta charset="utf-8"><title>故障</title></head><body><ul>\n{links}</ul>'
    h._send(200, (body + "</body></html>").encode(), send_body=send_body)


def handler_for(state: FaultState) -> type[FaultHandler]:
    """A handler class bound to one server's state (the server builds one handler a request)."""
    return type("BoundFaultHandler", (FaultHandler,), {"state": state})


@dataclass(frozen=True, slots=True)
class RunningFaults:
    server: PortalServer
    canary: PortalServer
    state: FaultState

    @property
    def url(self) -> str:
        return self.server.url

    def hits(self) -> Counter[str]:
        with self.state.lock:
            return Counter(p for p, _ in self.state.hits)


@contextmanager
def serve_faults(portal: Portal, size_limit: int) -> Iterator[RunningFaults]:
    """The fault portal and its canary (a second server on 127.0.0.1 that must see no request:
    the private-address redirects point at it) for the duration of the block."""
    with serve(Portal.generate(n_articles=1, seed=1)) as canary:
        state = FaultState(portal, size_limit, canary.url, private_hostname())
        build(state)
        server = serve(portal, handler=handler_for(state))
        try:
            yield RunningFaults(server, canary, state)
        finally:
            state.stopping.set()
            server.stop()


def private_hostname() -> str:
    """This machine's host name: on most machines it resolves to a loopback or private address
    (/etc/hosts), which is what the guard must catch for a name that is not an IP literal."""
    return socket.gethostname().lower()


def resolves_private(hostname: str) -> bool:
    import ipaddress

    try:
        infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return any(not ipaddress.ip_address(i[4][0]).is_global for i in infos)


def site_toml(
    server_url: str,
    *,
    hostname: str,
    max_depth: int,
    start_paths: tuple[str, ...] = ("/", "/fault/"),
    max_pages: int | None = None,
) -> str:
    """The fault portal's site config: the demo's patterns plus the fault pages and traps;
    private addresses allowed for the portal's own host and port only."""
    host_port = server_url.removeprefix("http://")
    starts = ", ".join(f'"{server_url}{p}"' for p in start_paths)
    budget = f"max_pages = {max_pages}\n" if max_pages is not None else ""
    return f"""name = "faults"
site_name = "法治晨报"
start_urls = [{starts}]
allowed_domains = ["127.0.0.1", "{hostname}"]
timezone = "Asia/Shanghai"
allow_private = ["{host_port}"]
max_depth = {max_depth}
{budget}
[urls]
article = ['/[a-z]+/\\d{{4}}-\\d{{2}}/\\d{{2}}/content_\\d+\\.html$', '/fault/[a-z-]+\\.html$', '/fault/members/[a-z]+\\.html$']
list = ['/[a-z]+/(index\\.html)?$', '/trap/cal/\\d{{4}}-\\d{{2}}-\\d{{2}}\\.html$']
pagination = ['/[a-z]+/index_\\d+\\.html$', '/trap/list/index_\\d+\\.html$']
deny = ['/search\\b', '/about\\.html$', '/static/']

[politeness]
download_delay = 0
concurrency = 8
obey_robots = true

[incremental]
recheck_days = 0
"""
