"""The one small object that carries a site's extraction options (instead of a long parameter list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crawler.extract import limits

if TYPE_CHECKING:
    from crawler.config import SiteConfig


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    site: str = "adhoc"
    """Site config name stored on every Article."""
    site_name: str | None = None
    """Display name; when None it is read from the page (og:site_name, title suffix, footer)."""
    timezone: str = "Asia/Shanghai"
    """Zone for page times that carry no offset."""
    encoding: str | None = None
    """Forced encoding; when None the bytes are sniffed (BOM, meta, HTTP header, detection)."""
    language: str | None = None
    selectors: Mapping[str, str] = field(default_factory=dict)
    """Per-field CSS/XPath overrides (keys from crawler.config.SELECTOR_FIELDS)."""
    domains: tuple[str, ...] = ()
    """The site's domains: a declared canonical URL off them is another publisher's and never
    the article's key (`crawler.extract.metadata.article_key`). Empty: the fetched URL's host."""
    time_budget: float | None = limits.TIME_BUDGET
    """CPU seconds one page may take (`crawler.extract.limits`); None: no budget."""
    max_bytes: int = limits.MAX_PAGE_BYTES
    """Larger pages are refused before parsing (``too_large``)."""
    max_tags: int = limits.MAX_TAGS
    """Pages with more ``<`` than this are refused before parsing (``too_many_tags``)."""

    def to_json(self) -> str:
        """The options as JSON (what a crawl records in the archive, `from_json` reads back)."""
        import json

        data = {
            "site": self.site,
            "site_name": self.site_name,
            "timezone": self.timezone,
            "encoding": self.encoding,
            "language": self.language,
            "selectors": dict(self.selectors),
            "domains": list(self.domains),
        }
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExtractOptions:
        import json

        data = json.loads(text)
        return cls(
            site=str(data["site"]),
            site_name=data.get("site_name"),
            timezone=str(data.get("timezone") or "Asia/Shanghai"),
            encoding=data.get("encoding"),
            language=data.get("language"),
            selectors={str(k): str(v) for k, v in (data.get("selectors") or {}).items()},
            domains=tuple(str(d) for d in data.get("domains") or ()),
        )

    @classmethod
    def from_site(cls, cfg: SiteConfig) -> ExtractOptions:
        return cls(
            site=cfg.name,
            site_name=cfg.site_name,
            timezone=cfg.timezone,
            encoding=cfg.encoding,
            language=cfg.language,
            selectors=dict(cfg.selectors),
            domains=tuple(cfg.allowed_domains),
        )
