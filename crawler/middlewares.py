"""Downloader middlewares."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

from crawler.drops import ERROR_PREFIX

logger = logging.getLogger(__name__)


def is_private_host(host: str) -> bool:
    """True for loopback, private, link-local and other non-public IP literals and 'localhost'.

    Hostnames are judged by their literal form only; resolving them here would block the
    reactor (DNS-level checks belong to the resolver, not to this guard).
    """
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_global


class PrivateAddressGuard:
    """Refuse requests to private, loopback and link-local addresses unless the site allows them.

    A redirect or a link on a hostile page must not turn the crawler against the network it runs
    in (cloud metadata at 169.254.169.254, admin panels on 10.x).
    """

    def __init__(self, stats: Any, allow_private: bool) -> None:
        self.stats = stats
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateAddressGuard:
        site = getattr(crawler.spider, "site", None)
        return cls(crawler.stats, bool(getattr(site, "allow_private", False)))

    def process_request(self, request: Any) -> None:
        if self.allow_private:
            return None
        host = urlsplit(request.url).hostname or ""
        if is_private_host(host):
            self.stats.inc_value(f"{ERROR_PREFIX}private_address")
            logger.warning("Refused request to a private address: %s", request.url)
            raise IgnoreRequest(f"private address refused: {request.url}")
        return None
