"""Scrapy settings for zhengwen: polite, bounded defaults for crawling news portals.

Per-site politeness (delay, concurrency, robots, depth, page limit) is applied by the `portal`
spider from the site config; everything here is the default a user gets without asking.
"""

from __future__ import annotations

from scrapy.settings import default_settings as _scrapy_defaults

BOT_NAME = "zhengwen"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "zhengwen/0.1 (news archive crawler; +https://pypi.org/project/zhengwen/)"

# Politeness: obey robots.txt and adapt to the server's latency.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
# One request in flight per server on average: a news portal is somebody else's production box.
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5

# Bounded fetching: a news page is rarely over 2 MB; 10 MB covers image-heavy pages without
# letting one broken endpoint stream gigabytes into memory.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Retries wait (crawler.middlewares.BackoffRetryMiddleware): base * 2**(n-1) seconds, capped, or
# the server's Retry-After; a Retry-After past ZHENGWEN_RETRY_AFTER_MAX gives the page up.
ZHENGWEN_RETRY_BACKOFF_BASE = 2.0
ZHENGWEN_RETRY_BACKOFF_MAX = 60.0
ZHENGWEN_RETRY_AFTER_MAX = 120.0
# A page given up is logged once, as a warning, by the spider's errback with its reason.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
REDIRECT_MAX_TIMES = 5
# Traps (calendars, endless pagination) are bounded by depth; sites may lower it.
DEPTH_LIMIT = 8
DEPTH_PRIORITY = 0

COOKIES_ENABLED = False
# A site's first request is never held back by its delay on a machine booted less than the
# delay ago (crawler.downloader: Scrapy's monotonic clock starts every site at "boot").
DOWNLOADER = "crawler.downloader.Downloader"
# Scrapy's dupefilter with 8 bytes a seen request (crawler.dupefilter).
DUPEFILTER_CLASS = "crawler.dupefilter.CompactDupeFilter"
TELNETCONSOLE_ENABLED = False
# Scrapy checks every callback, for every response, for a generator that returns a value: it
# reads the method's source and walks its syntax tree each time, since its cache is keyed by
# the bound method, a new object per access. Measured at about 15 ms of CPU per article page
# (a quarter of the crawler process's own CPU). tests/test_settings.py runs the same check
# once over every spider callback instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy >= 2.19 starts an HTTP server on localhost that runs Python code sent to it (token
# in a file under the user's profile): a code-execution surface a crawler of untrusted sites
# does not need. Switched off, and, with the telnet console, taken out of EXTENSIONS_BASE:
# Scrapy imports every listed extension even when disabled, and remote control's aiohttp
# import alone costs the crawler process about 15 MB.
REMOTE_CONTROL_ENABLED = False
_unused_extensions = ("RemoteControl", "TelnetConsole")
EXTENSIONS_BASE = {
    name: order
    for name, order in _scrapy_defaults.EXTENSIONS_BASE.items()
    if name.rsplit(".", 1)[-1] not in _unused_extensions
}
LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.ZhengwenLogFormatter"

DOWNLOADER_MIDDLEWARES = {
    # Before Scrapy's OffsiteMiddleware (50): a redirect to 169.254.169.254 is refused as a
    # private address, the stronger reason, not merely as offsite.
    "crawler.middlewares.PrivateAddressGuard": 40,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # Sees a 3xx before RedirectMiddleware (600) follows it: loops, offsite, private targets.
    "crawler.middlewares.RedirectGuard": 610,
    # Raw WARC archive: 880 is past every header-adding middleware (the request record shows
    # what was sent) and before HttpCompression (590) decompresses and Redirect (600) / Retry
    # (550) act, so the archived body is the one received. docs/raw-archive.md.
    "crawler.rawarchive.RawArchiveMiddleware": 880,
    # Last before the download: once a first interrupt stops the crawl, nothing more is sent.
    "crawler.interrupt.NotSentGate": 990,
}

ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    # SQL is the index of what is acknowledged. The Parquet writer skips keys its dataset holds
    # and, when a run opens, re-exports any SQL row a crash kept out of Parquet.
    "pipelines.parquet_writer.ParquetWriterPipeline": 400,
    "pipelines.sql_writer.SqlWriterPipeline": 500,
}

EXTENSIONS = {
    "crawler.extensions.RunRecord": 100,
    "crawler.extensions.Progress": 200,
    "crawler.extensions.MemoryTrim": 300,
}

# zhengwen's own settings.
ZHENGWEN_ARCHIVE_DIR = "archive"
ZHENGWEN_DB_URL = None  # None: sqlite file inside the archive folder
# Store writes happen in batches off the reactor thread: a batch is written when it holds
# ZHENGWEN_BATCH_SIZE articles or its oldest article has waited ZHENGWEN_BATCH_SECONDS.
ZHENGWEN_BATCH_SIZE = 200
ZHENGWEN_BATCH_SECONDS = 2.0
# Seconds a crawl waits out a lost database server (PostgreSQL restarted, connections killed),
# retrying the batch it was writing, before it fails; 0: fail at once. `zhengwen worker` sets it
# from --outage (storage.outage).
ZHENGWEN_OUTAGE_SECONDS = 0.0
# At the start of a crawl, copy into the archive folder's Parquet the versions the database holds
# that it lacks (a crash, or other folders sharing the database). `zhengwen worker` turns it off.
ZHENGWEN_PARQUET_RECONCILE = True
# Extraction worker processes: None = one per core; 0 = extract in the crawler process.
ZHENGWEN_EXTRACT_WORKERS = None
# Seconds one page may take in a worker before the worker is killed and the page recorded as
# failed (extract_timeout).
ZHENGWEN_EXTRACT_TIMEOUT = 30.0
# Below this many characters of body (CJK characters count one each) a page is a stub, a
# gallery or a redirect notice rather than an article: news briefs are rarely under 50.
ZHENGWEN_MIN_BODY_CHARS = 50
# Later runs skip archived articles outside the site's re-check window ([incremental]
# recheck_days) and re-check recent ones with conditional requests. False: fetch everything.
ZHENGWEN_INCREMENTAL = True
ZHENGWEN_TRIGGER = "manual"
ZHENGWEN_PROGRESS = False
ZHENGWEN_PROGRESS_INTERVAL = 1.0
# Every fetched exchange into raw/<site>/*.warc.gz (re-extraction without the network); False
# switches the archive off. A file is closed and a new one started after ZHENGWEN_RAW_MAX_BYTES.
ZHENGWEN_RAW_ARCHIVE = True
ZHENGWEN_RAW_MAX_BYTES = 100 * 1024 * 1024
# Seconds between handing the crawler's free heap pages back to the system (crawler.memory);
# 0 switches it off. Extraction workers do the same every WORKER_TRIM_PAGES pages.
ZHENGWEN_MALLOC_TRIM_SECONDS = 10.0
