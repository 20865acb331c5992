"""Query parameters of the web pages, validated: a bad value is a 400 with a message that says
which, never a traceback. Every page's parameters come through here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from storage.query import Filters, QueryError

#: Results per page, and the deepest page served (deeper pages re-read everything before them:
#: refine the search instead, or export).
PAGE_SIZE: Final = 20
MAX_PAGE: Final = 50
#: A value longer than this is refused whole (the search box has its own bound, below).
MAX_VALUE_CHARS: Final = 300
#: Parameters a search page understands; anything else is refused, so that a typo is visible.
SEARCH_KEYS: Final = (
    "q",
    "site",
    "since",
    "until",
    "tz",
    "source",
    "author",
    "category",
    "dups",
    "order",
    "page",
    "format",
)
ORDERS: Final = ("rank", "published")
_ID: Final = re.compile(r"[0-9a-f]{40}")
_RUN_ID: Final = re.compile(r"[0-9A-Za-z._-]{1,64}")


class BadRequest(ValueError):
    """A parameter the page cannot take: shown as a 400 page (or JSON error)."""


def one(params: Mapping[str, Any], key: str, *, limit: int = MAX_VALUE_CHARS) -> str | None:
    """The parameter's value, stripped; None when absent or empty."""
    values = params.getlist(key) if hasattr(params, "getlist") else [params.get(key)]
    values = [v for v in values if v is not None]
    if len(values) > 1:
        raise BadRequest(f"{key} is given {len(values)} times")
    if not values:
        return None
    value = str(values[0]).strip()
    if len(value) > limit:
        raise BadRequest(f"{key} is too long ({len(value)} characters; at most {limit})")
    if "\x00" in value:
        raise BadRequest(f"{key} holds a NUL character")
    return value or None


def wants_json(params: Mapping[str, Any]) -> bool:
    fmt = one(params, "format")
    if fmt not in (None, "html", "json"):
        raise BadRequest(f"unknown format {fmt!r}: html or json")
    return fmt == "json"


@dataclass(frozen=True, slots=True)
class Search:
    """A search page's request: filters, order and page, and its canonical query string."""

    filters: Filters
    order: str
    page: int
    values: dict[str, str]

    def query(self, **changes: str | int | None) -> str:
        """This search's query string with ``changes`` (None removes a key); page 1 and the
        default order are left out, so that one search has one URL."""
        values: dict[str, Any] = {**self.values, **changes}
        if str(values.get("page")) == "1":
            values.pop("page")
        kept = {k: v for k, v in values.items() if v is not None and v != ""}
        return urlencode([(k, kept[k]) for k in SEARCH_KEYS if k in kept])


def search(params: Mapping[str, Any]) -> Search:
    unknown = sorted(set(params.keys()) - set(SEARCH_KEYS))
    if unknown:
        raise BadRequest(f"unknown parameter {', '.join(unknown)[:MAX_VALUE_CHARS]}")
    from storage.search import MAX_QUERY_CHARS

    values = {k: v for k in SEARCH_KEYS if (v := one(params, k, limit=_limit(k, MAX_QUERY_CHARS)))}
    values.pop("format", None)
    dups = values.get("dups")
    if dups not in (None, "exclude", "include"):
        raise BadRequest("dups is exclude or include")
    order = values.get("order") or ("rank" if values.get("q") else "published")
    if order not in ORDERS:
        raise BadRequest(f"unknown order {order!r}: {' or '.join(ORDERS)}")
    if order == "rank" and not values.get("q"):
        raise BadRequest("order rank needs a search query (q)")
    page = _page(values.get("page"))
    try:
        filters = Filters.build(
            q=values.get("q"),
            site=values.get("site"),
            since=values.get("since"),
            until=values.get("until"),
            tz=values.get("tz") or "UTC",
            source=values.get("source"),
            author=values.get("author"),
            category=values.get("category"),
            exclude_duplicates=dups == "exclude",
        )
    except QueryError as exc:
        raise BadRequest(str(exc)) from None
    return Search(filters, order, page, values)


def _limit(key: str, query_chars: int) -> int:
    return query_chars if key == "q" else MAX_VALUE_CHARS


def _page(value: str | None) -> int:
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadRequest(f"page is a number from 1 to {MAX_PAGE} (refine the search, or export)")
    return int(value)


def article_id(value: str) -> str:
    """An article id: the 40 hex digits of its URL hash (nothing else reaches the database)."""
    if not _ID.fullmatch(value):
        raise BadRequest("an article id is 40 hexadecimal digits")
    return value


def run_id(value: str) -> str:
    if not _RUN_ID.fullmatch(value):
        raise BadRequest("a run id is letters, digits, '.', '_' or '-' (at most 64)")
    return value


def version(params: Mapping[str, Any], key: str) -> int | None:
    value = one(params, key)
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
        raise BadRequest(f"{key} is a version number")
    return int(value)
