"""Finding a portal's articles: learned URL shapes, zero-config crawling and ``new-site``.

Pure modules (`learn`, `pages`) know nothing of Scrapy; `zeroconfig` is the spider's side.
"""
