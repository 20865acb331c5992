"""Discovery: where a portal says its articles are, without walking its HTML.

Sitemaps (robots.txt's ``Sitemap:`` lines, the default paths, indexes, Google News sitemaps) and
RSS/Atom feeds, parsed into one `Entry` type. Pure parsing and per-run bookkeeping: no Scrapy
engine here; the `portal` spider fetches and calls in (``crawler/spiders/portal.py``).
"""

from crawler.discovery.entries import Entry, Limits, Parsed
from crawler.discovery.feeds import feed_links, parse_feed
from crawler.discovery.run import DiscoveryRun
from crawler.discovery.sitemaps import default_sitemap_urls, parse_sitemap, sitemaps_from_robots

__all__ = [
    "DiscoveryRun",
    "Entry",
    "Limits",
    "Parsed",
    "default_sitemap_urls",
    "feed_links",
    "parse_feed",
    "parse_sitemap",
    "sitemaps_from_robots",
]
