"""``zhengwen serve``: a read-only web interface onto an archive (Starlette, Jinja2 templates).

Every page is rendered on the server from `storage.browse.ArchiveBrowser` (a read-only
connection, SQLite or PostgreSQL alike) and also answers ``?format=json`` with the same data.
No script runs in any page; stored text is escaped by the templates (autoescape), and a page's
raw HTML capture is served only under a ``sandbox`` Content-Security-Policy, in a sandboxed
frame. Every asset is served from ``web/static``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage.browse import ArchiveBrowser
from web import views
from web.params import BadRequest, wants_json

logger = logging.getLogger("zhengwen.web")

HERE: Final = Path(__file__).parent

#: Pages computed at once (each in a thread; the others wait their turn, first come first
#: served). A page is mostly Python (templates, snippets) holding the GIL, with the database
#: reads in between: a few threads keep both cores busy, while many (Starlette's default is
#: 40) spend the time handing the GIL over. On the benchmark archive (docs/benchmarks.md), 4
#: served 50 clients about 1.5 times as fast as 40, with a lower p95.
PAGE_THREADS: Final = 4

#: Pages may load only their own stylesheet and images; no script, no frame but the raw
#: capture (itself sandboxed), no form posting elsewhere.
PAGE_CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)


class SecurityHeaders:
    """Adds the page policy to every response that has none of its own, and the time the
    response took to start (``Server-Timing: app;dur=MS``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # Time from the request to the response's start (bench/web.py reads it).
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.1f}".encode()))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"SAMEORIGIN"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mark"] = views.mark_snippet
    env.filters["when"] = views.when
    return env


def create_app(
    archive: ArchiveBrowser, raw_dir: Path | None = None, *, threads: int = PAGE_THREADS
) -> Starlette:
    """The web application over an open archive (the caller closes it); at most ``threads``
    pages are computed at once."""
    env = templates()
    limiter: list[anyio.CapacityLimiter] = []  # made in the server's event loop, on first use

    def page(
        view: Callable[..., views.Result | Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not limiter:
                limiter.append(anyio.CapacityLimiter(threads))
            return await anyio.to_thread.run_sync(compute, request, limiter=limiter[0])

        def compute(request: Request) -> Response:
            try:
                as_json = wants_json(request.query_params)
                with archive.one_view():  # one runs state for the whole page
                    result = view(archive, request, raw_dir=raw_dir)
            except BadRequest as exc:
                return _error(env, request, 400, str(exc))
            except views.NotFound as exc:
                return _error(env, request, 404, str(exc))
            if isinstance(result, Response):
                return result
            if as_json:
                return JSONResponse(views.jsonable(result.data))
            html = env.get_template(result.template).render(
                **result.data, **result.extra, request=request
            )
            return HTMLResponse(html)

        return endpoint

    routes = [
        Route("/", page(views.search)),
        Route("/export.{fmt}", page(views.export)),
        Route("/article/{id}", page(views.article)),
        Route("/article/{id}/diff", page(views.diff)),
        Route("/article/{id}/raw", page(views.raw)),
        Route("/sites", page(views.sites)),
        Route("/sites/{site}", page(views.site)),
        Route("/runs/{run_id}", page(views.run)),
        Route("/api", page(views.api)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error(env, request, code, "no such page" if code == 404 else str(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return _error(env, request, 500, "the archive could not answer (see the server's log)")

    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: not_found, 500: server_error},
    )


def _error(env: Environment, request: Request, code: int, message: str) -> Response:
    if request.query_params.get("format") == "json":
        return JSONResponse({"error": message, "status": code}, status_code=code)
    html = env.get_template("error.html").render(code=code, message=message, request=request)
    return HTMLResponse(html, status_code=code)


def default_workers() -> int:
    """One server process per CPU, at most 4 (where processes can be forked)."""
    import os

    if not hasattr(os, "fork"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def run_servers(
    open_app: Callable[[], tuple[Any, Callable[[], None]]], listener: Any, processes: int
) -> int:
    """Serve on ``listener`` in ``processes`` processes (forked, each opening its own app with
    ``open_app`` and closing it at the end) until Ctrl-C or SIGTERM; the exit status: 0, or 1
    when a process failed. The kernel hands each new connection to one of them."""
    import os
    import signal

    if processes == 1 or not hasattr(os, "fork"):
        app, close = open_app()
        try:
            run_server(app, listener)
        finally:
            close()
        return 0
    children: list[int] = []
    parent = os.getpid()
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child (tests/test_web_cli.py)
            code = 0
            _stop_when_orphaned(parent)
            try:
                app, close = open_app()
                try:
                    run_server(app, listener)
                finally:
                    close()
            except BaseException as exc:  # one line in the log; the parent reports the exit
                logger.error("server process %d: %s: %s", os.getpid(), type(exc).__name__, exc)
                code = 1
            os._exit(code)
        children.append(pid)

    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    failed = False
    running = list(children)
    while running:
        pid, status = os.wait()
        if pid not in running:
            continue
        running.remove(pid)
        if os.waitstatus_to_exitcode(status) != 0 and not stopping:
            failed = True
        if running and not stopping:  # one process ended on its own: stop the others too
            stop(signal.SIGTERM, None)
    return 1 if failed else 0


def _stop_when_orphaned(parent: int, every: float = 0.5) -> None:
    """In a server process: stop (as SIGTERM does) once the command that forked it is gone,
    e.g. killed with SIGKILL, so that no orphan keeps the port or the archive open."""
    import os
    import signal
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_server(app: Any, listener: Any, log_level: str = "warning") -> None:
    """Serve ``app`` on an already bound socket until Ctrl-C or SIGTERM, then return (the
    command exits 0, as a stopped crawl does)."""
    import signal

    import uvicorn

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-sends the signal to the handler
    # that was there before it: this one, which only lets the command end normally.
    def stopped(_signum: int, _frame: Any) -> None:
        return None

    signal.signal(signal.SIGINT, stopped)
    signal.signal(signal.SIGTERM, stopped)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])
