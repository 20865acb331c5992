"""``zhengwen serve``: the read-only web interface (``web/``) on a local port."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from crawler.bounds import NumberRange
from crawler.cli_common import EXIT_FAILED, EXIT_STORAGE, EXIT_USAGE
from crawler.cli_common import fail as _fail


def serve_command(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> click.Command:
    @click.command("serve")
    @archive_option
    @db_option
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option(
        "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port."
    )
    @click.option(
        "--reuse-seconds",
        type=NumberRange(0, 86_400, unit="seconds").click_type(),
        default=30.0,
        show_default=True,
        help="Reuse a search's count and facets and the per-site summary for this long while "
        "no run starts or ends (0: recount on every request).",
    )
    @click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=None,
        metavar="N",
        help="Server processes sharing the port (default: one per CPU, at most 4; each holds "
        "its own connections and figures, about 80 MB).",
    )
    def serve(
        archive: Path,
        db_url: str | None,
        host: str,
        port: int,
        reuse_seconds: float,
        workers: int | None,
    ) -> None:
        """Browse the archive in a web browser: search, articles with their versions and
        diffs, raw captures (sandboxed), sites with articles per day, runs. Read-only: the
        archive is opened as `zhengwen query` opens it. Every page also answers
        ?format=json. Listens on 127.0.0.1 unless --host says otherwise.

        Example: zhengwen serve --archive archive --port 8080
        """
        from storage.browse import ArchiveBrowser
        from storage.paths import ArchivePaths
        from storage.query import ArchiveError

        _check_host(host)
        try:
            browser = ArchiveBrowser(db_url or archive, reuse_seconds=reuse_seconds)
        except ArchiveError as exc:
            _fail(str(exc), EXIT_STORAGE)
            return
        try:
            listener = _bind(host, port)
        except SystemExit:
            browser.close()
            raise
        raw_dir = ArchivePaths(archive).raw_dir if archive.is_dir() else None
        from web.app import create_app, default_workers, run_servers

        processes = workers or default_workers()
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"zhengwen serve: http://{shown}:{port}/ ({browser.name}, read-only, {processes} "
            f"process{'es' if processes > 1 else ''}; Ctrl-C stops)"
        )
        if processes > 1:
            browser.close()  # each process opens its own (no connection crosses a fork)

        def opened() -> tuple[Any, Callable[[], None]]:
            own = (
                browser
                if processes == 1
                else ArchiveBrowser(db_url or archive, reuse_seconds=reuse_seconds)
            )
            return create_app(own, raw_dir=raw_dir), own.close

        sys.stdout.flush()
        if run_servers(opened, listener, processes) != 0:
            _fail("a server process failed (see the lines above)", EXIT_FAILED)

    return serve


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            _fail(f"--host {host!r} is not an IP address (127.0.0.1, 0.0.0.0, ::1 …)", EXIT_USAGE)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket: a port in use is one line, not a server's traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is in use (--port chooses another)", EXIT_FAILED)
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
    sock.listen(128)
    return sock
