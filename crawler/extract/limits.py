"""What one page may cost: limits checked before parsing, and a time budget checked while
extracting, so that a broken or hostile page is skipped with a reason instead of stalling the
process that extracts it.

The crawl already bounds a page's wall-clock time: its pool kills a worker after 30 s
(`crawler.pool`). Re-extraction and ``zhengwen extract`` call the extractor in their own process,
where nothing could kill it; these bounds hold wherever `extract` runs.

- **Before parsing**, two counts over the bytes (a few milliseconds for 10 MB): the size and the
  number of ``<`` (an upper bound on the number of tags). Parsing and trafilatura cost time in
  proportion to the tags, about 0.1 ms each; the largest real page of the evaluation set has
  6,500 ``<``.
- **Nesting depth** needs no check of ours: libxml2 stops building the tree at depth 256, so a
  page of 100,000 nested tags parses as cheaply as a short one (tests/test_fuzz_extract.py).
- **While extracting**, `checkpoint()` raises `ExtractionTimeout` once the page has used its
  budget of CPU seconds. It is called between the phases of `extract` and every few hundred
  elements in the walks over the tree; a phase of third-party code (lxml's parse, trafilatura)
  runs to its end, which the limits above keep short. CPU time of the extracting thread, not
  wall-clock time: a machine busy with other work must not make real pages time out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from crawler.extract.errors import ExtractionTimeout, PageTooLarge

#: The crawl's download limit (Scrapy's DOWNLOAD_MAXSIZE in crawler/settings.py) is 10 MB, so a
#: crawled page never hits this one; a saved file given to ``zhengwen extract`` may. The largest
#: page of the evaluation set is 1.5 MB.
MAX_PAGE_BYTES = 10 * 1024 * 1024
#: About 5 s of parsing and trafilatura on one core, 7.7x the largest real page seen (6,491).
MAX_TAGS = 50_000
#: CPU seconds one page may use: real pages take under 0.3 s; the pool's wall-clock kill comes
#: at 30 s, so a slow page is skipped here first, without the cost of a new worker process.
TIME_BUDGET = 10.0
#: Elements walked between two checkpoints: reading the thread's CPU clock costs about 0.3 us.
CHECK_EVERY = 256

_deadline: ContextVar[float | None] = ContextVar("zhengwen_extract_deadline", default=None)


def check_size(html: bytes, max_bytes: int = MAX_PAGE_BYTES, max_tags: int = MAX_TAGS) -> None:
    """Raise `PageTooLarge` for a page past the limits, before anything parses it."""
    if len(html) > max_bytes:
        raise PageTooLarge(
            f"page of {len(html):,} bytes, over the limit of {max_bytes:,}", reason="too_large"
        )
    tags = html.count(b"<")
    if tags > max_tags:
        raise PageTooLarge(
            f"page of {tags:,} tags, over the limit of {max_tags:,}", reason="too_many_tags"
        )


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Give the code inside a budget of CPU seconds; None means no budget."""
    if seconds is None:
        yield
        return
    token = _deadline.set(time.thread_time() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def checkpoint() -> None:
    """Raise `ExtractionTimeout` if the current budget is spent (no-op outside a budget)."""
    deadline = _deadline.get()
    if deadline is not None and time.thread_time() > deadline:
        raise ExtractionTimeout("page over its extraction time budget", reason="extract_timeout")
