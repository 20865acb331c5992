"""Checks shared by the SQL and Parquet writers, so both stores refuse the same bad records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final, get_type_hints

from storage.article import Article

#: Site names become folder names (``site=<name>``) and SQL keys: the same rule as
#: ``sites/<name>.toml``, so no name can climb out of the archive or differ only in case.
SITE_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")  # "$" accepts a final "\n"

#: Derived from the type hints, so a new datetime field on `Article` is checked too.
DATETIME_FIELDS: Final = tuple(
    name for name, hint in get_type_hints(Article).items() if hint in (datetime, datetime | None)
)


def body_length(body: str) -> int:
    """Characters that carry text: whitespace does not make a page an article."""
    return sum(map(len, body.split()))  # split() cuts at exactly what str.isspace() is


def validate_site(site: str) -> str:
    """The site name, if it is safe as a path component and a key; ValueError otherwise."""
    if not isinstance(site, str) or not SITE_NAME_RE.match(site):
        raise ValueError(
            f"site name must be lowercase letters, digits, '-' or '_' (at most 64), got {site!r}"
        )
    return site


def validate_article(article: Article) -> None:
    """Refuse what a store would otherwise silently reinterpret.

    A naive datetime would be read as UTC by Arrow and by SQLite's text format alike: an
    offset the page never gave, which is exactly the invented value the archive forbids.
    """
    validate_site(article.site)
    for name in DATETIME_FIELDS:
        value = getattr(article, name)
        if value is None:
            continue
        if not isinstance(value, datetime):
            raise TypeError(f"{name} of {article.url} is {type(value).__name__}, not a datetime")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} of {article.url} is naive ({value.isoformat()})")
