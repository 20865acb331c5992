"""The bundled demo portal: a generated GBK Chinese news site served on loopback.

It lets `zhengwen demo` and the end-to-end tests crawl something realistic without the
internet, and compare what was archived against the known truth (`crawler.demo.content`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from crawler.config import SiteConfig, load_site_file

DEMO_TOML = Path(__file__).resolve().parent / "demo.toml"


def demo_site(server_url: str) -> SiteConfig:
    """The demo site config rebased on a running server (`PortalServer.url`), which binds a free
    port, so the checked-in placeholder start URL is never fetched."""
    host = urlsplit(server_url).hostname
    if host is None:
        raise ValueError(f"expected an http URL such as http://127.0.0.1:8765, got {server_url!r}")
    return load_site_file(DEMO_TOML).with_start([server_url.rstrip("/") + "/"], [host])
