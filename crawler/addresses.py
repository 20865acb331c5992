"""Which addresses a site may reach: the private-address policy, without Scrapy.

Shared by the crawl's guards (`crawler.middlewares`) and by `zhengwen check-site`, which must
say before any request that a start URL on a private address will be refused (and by which key
it is allowed), without resolving a name.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit


def is_private_host(host: str) -> bool:
    """True for loopback, private, link-local and other non-public IP literals and 'localhost'.

    A host name is judged by its literal form here; `PrivateAddressGuard` also resolves names,
    so that a public-looking name pointing at 10.x is refused as well.
    """
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_global


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def host_port(url: str) -> tuple[str, int | None]:
    """The URL's host (lower case) and port (the scheme's default when none is written)."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


class AddressPolicy:
    """Which private addresses a site may reach: none (default), all (``allow_private = true``)
    or only the listed ``host``/``host:port`` (``allow_private = ["127.0.0.1:8765"]``)."""

    def __init__(self, allow_all: bool, hosts: tuple[str, ...] = ()) -> None:
        self.allow_all = allow_all
        self.hosts = frozenset(h.lower() for h in hosts)

    @classmethod
    def of_site(cls, site: Any) -> AddressPolicy:
        return cls(
            bool(getattr(site, "allow_private", False)),
            tuple(getattr(site, "private_hosts", ())),
        )

    def allows(self, host: str, port: int | None) -> bool:
        """The URL's own host (and port) is allowed to be private."""
        return self.allow_all or host in self.hosts or f"{host}:{port}" in self.hosts

    def refuses(self, url: str) -> bool:
        """Refused on its literal form alone (an IP literal or localhost), before any lookup."""
        host, port = host_port(url)
        return not self.allows(host, port) and is_private_host(host)
