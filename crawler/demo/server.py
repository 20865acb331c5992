"""Serve a `Portal` over real HTTP on loopback, for `zhengwen demo` and the end-to-end tests.

Real HTTP (not a mocked downloader) so that the crawl goes through Scrapy's whole stack: robots.txt,
headers, charset sniffing, conditional requests. The server renders the portal's *current* state
on every request, so a test can edit the site between two crawls.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from crawler.demo.content import DEFAULT_SEED, Portal
from crawler.demo.render import Page, route


class _Server(ThreadingHTTPServer):
    # Handler threads must not keep the interpreter (or a test run) alive.
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], portal: Portal, handler: type[_Handler] | None = None
    ) -> None:
        self.portal = portal
        self.requests: list[str] = []
        #: (monotonic arrival time, path) of each request, in arrival order.
        self.request_log: list[tuple[float, str]] = []
        self.requests_lock = threading.Lock()
        super().__init__(address, handler or _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def version_string(self) -> str:
        """A plain server token, like the nginx in front of most portals."""
        return "nginx"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        arrived = time.monotonic()
        with self.server.requests_lock:
            self.server.requests.append(self.path)
            self.server.request_log.append((arrived, self.path))
        portal = self.server.portal
        with portal.lock:
            page = route(portal, parts.path, parts.query)
        headers = dict(page.headers)
        if page.article is not None:
            headers["Last-Modified"] = format_datetime(
                page.article.last_modified.astimezone(UTC), usegmt=True
            )
            headers["ETag"] = page.etag
            if self._not_modified(page):
                self.send_response(304)
                for key in ("Last-Modified", "ETag"):
                    self.send_header(key, headers[key])
                self.end_headers()
                return
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(page.body)

    def _not_modified(self, page: Page) -> bool:
        """ETag first, as RFC 9110 says; If-Modified-Since only when no If-None-Match is sent."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return page.etag in {t.strip() for t in inm.split(",")} or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims is None or page.article is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and page.article.last_modified <= since

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one stderr line per request would drown test and demo output."""


class PortalServer:
    """A running demo portal; stop it with `.stop()` or use it as a context manager."""

    def __init__(
        self,
        portal: Portal,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: type[_Handler] | None = None,
    ) -> None:
        """``handler``: a subclass of the portal's request handler (the fault portal of the
        tests answers some paths its own way and hands the rest to the portal)."""
        self.portal = portal
        self._server = _Server((host, port), portal, handler)
        self.host = host
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"demo-portal-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def requests(self) -> list[str]:
        """Request paths (with query) in arrival order, e.g. to check robots.txt was honoured."""
        with self._server.requests_lock:
            return list(self._server.requests)

    @property
    def request_log(self) -> list[tuple[float, str]]:
        """(arrival time on `time.monotonic`, path) of each request, in arrival order."""
        with self._server.requests_lock:
            return list(self._server.request_log)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> PortalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    portal: Portal, host: str = "127.0.0.1", port: int = 0, handler: type[_Handler] | None = None
) -> PortalServer:
    """Start serving in a daemon thread; port 0 picks a free port (see `.url`)."""
    return PortalServer(portal, host, port, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m crawler.demo.server``: browse the demo portal by hand until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.server", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--charset", default=None, help="add '; charset=X' to Content-Type")
    args = parser.parse_args(argv)
    portal = Portal.generate(n_articles=args.articles, seed=args.seed, header_charset=args.charset)
    try:
        with serve(portal, args.host, args.port) as server:
            print(
                f"demo portal {portal.site_name}: {server.url}/ ({args.articles} articles); "
                "Ctrl-C stops",
                flush=True,
            )
            threading.Event().wait()
    except KeyboardInterrupt:
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
