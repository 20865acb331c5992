"""Extraction quality per run, and drift: a site's pages suddenly extracting worse (a redesign).

Pure functions over the counters stored in ``crawl_runs``; the crawler records, this judges.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

#: The fields whose presence is tracked: a redesign usually loses one of these first.
TRACKED = ("body", "title", "date")
#: Runs with fewer article pages than this say little about a site's usual rates (a re-run
#: that found two new articles), so they are neither judged nor used as the baseline.
MIN_PAGES = 10
#: How far (absolute share) below its usual rate a field may fall before it is flagged: wide
#: enough that a day with a few photo galleries without dates is not an alert.
MARGIN = 0.15
#: Baseline: the median of this many most recent judged runs.
HISTORY = 5


def quality(pages: int, with_body: int, with_title: int, with_date: int) -> dict[str, Any]:
    """Shares of article pages that extracted with a body, a title and a date."""
    if pages <= 0:
        return {"pages": 0}
    return {
        "pages": pages,
        "body": round(with_body / pages, 3),
        "title": round(with_title / pages, 3),
        "date": round(with_date / pages, 3),
    }


def drift(current: Mapping[str, Any], previous: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """Human-readable flags, e.g. ``"date 0.41 (usual 0.98)"``; empty when nothing dropped.

    ``previous`` are earlier runs' quality dicts, newest first.
    """
    if int(current.get("pages", 0)) < MIN_PAGES:
        return []
    history = [q for q in previous if q and int(q.get("pages", 0)) >= MIN_PAGES][:HISTORY]
    if not history:
        return []
    flags = []
    for key in TRACKED:
        past = [float(q[key]) for q in history if key in q]
        if not past or key not in current:
            continue
        usual = statistics.median(past)
        if float(current[key]) < usual - MARGIN:
            flags.append(f"{key} {float(current[key]):.2f} (usual {usual:.2f})")
    return flags
