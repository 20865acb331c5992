"""Discovery: where a portal's articles are.

Sitemaps (robots.txt's ``Sitemap:`` lines, the default paths, indexes, Google News sitemaps) and
RSS/Atom feeds, parsed into one `Entry` type; learned URL shapes and page judging for a portal
without a config (zero-config crawling and ``new-site``). Pure modules (`sitemaps`, `feeds`,
`learn`, `pages`) know nothing of Scrapy; the `portal` spider fetches and calls in
(``crawler/spiders/portal.py``), `zeroconfig` is its side of the learning.
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
