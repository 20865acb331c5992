"""Site configs: ``sites/<name>.toml`` parsed into a frozen `SiteConfig`.

Sites are data: a new portal should need a config file, not code. A config is checked completely
before any request is made, and every problem is reported as a `ConfigError` naming the file, the
key and what was expected, so a user can fix it without reading a traceback.
"""

from __future__ import annotations

import codecs
import functools
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.bounds import NumberRange
from storage.validation import SITE_NAME_RE

NAME_RE = SITE_NAME_RE  # one rule: a config's name is the site name its archive stores
SELECTOR_FIELDS = (
    "title",
    "published_at",
    "body",
    "lead",
    "source",
    "author",
    "editor",
    "category",
)

#: The range of every numeric key, checked when the config loads (README, "Site configs").
NUMERIC_KEYS: Mapping[str, NumberRange] = {
    "max_pages": NumberRange(1, 10_000_000, integer=True),
    "max_depth": NumberRange(1, 1000, integer=True),
    "politeness.download_delay": NumberRange(0, 3600, unit="seconds"),
    "politeness.concurrency": NumberRange(1, 64, integer=True),
    "incremental.recheck_days": NumberRange(0, 36_500, unit="days"),
}


class ConfigError(ValueError):
    """A site config that cannot be used; the message is one line meant for the user.

    It holds every problem found in the file (``problems``, as (key, expected) pairs, in the
    order they were found), so a user fixes them in one pass; ``key`` and ``expected`` are the
    first. The message joins them with ``; `` (no problem text contains one)."""

    def __init__(
        self, file: str, key: str, expected: str, more: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.file, self.key, self.expected = file, key, expected
        self.problems: list[tuple[str, str]] = [(key, expected), *more]
        super().__init__(f"{file}: " + "; ".join(f"{k}: {e}" for k, e in self.problems))


@dataclass(frozen=True, slots=True)
class Politeness:
    download_delay: float = 0.5
    """Seconds between requests to the site (AutoThrottle may raise it, never lower it)."""
    concurrency: int = 4
    """Concurrent requests to the site."""
    obey_robots: bool = True


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    article_patterns: tuple[str, ...]
    """Regexes (searched in the absolute URL) that mark article pages."""
    list_patterns: tuple[str, ...] = ()
    """Regexes for list/section pages to walk. Start URLs are always list pages."""
    pagination_patterns: tuple[str, ...] = ()
    """Regexes for pagination links of list pages (followed like list pages)."""
    deny_patterns: tuple[str, ...] = ()
    site_name: str | None = None
    """Display name (``法制晨报``); when unset, extraction reads it from the page."""
    timezone: str = "Asia/Shanghai"
    encoding: str | None = None
    """Force this encoding instead of trusting headers and ``<meta charset>``."""
    language: str | None = None
    selectors: Mapping[str, str] = field(default_factory=dict)
    """Per-field CSS/XPath overrides for pages where the heuristics fail."""
    max_pages: int | None = None
    """Upper bound of pages fetched per run (list + article), None for no bound."""
    max_depth: int = 8
    """Link depth from a start URL; bounds pagination/calendar traps."""
    allow_private: bool = False
    """Allow fetching private/loopback addresses (demo and test portals only)."""
    private_hosts: tuple[str, ...] = ()
    """The only private addresses allowed (``host`` or ``host:port``), when ``allow_private`` is
    a list: a portal on an intranet host is crawled, the rest of the network stays refused."""
    politeness: Politeness = field(default_factory=Politeness)
    schedule: str | None = None
    """Cron expression (5 fields, in the site's time zone) for `zhengwen schedule`; None: manual."""
    sitemaps: tuple[str, ...] = ()
    """Sitemaps (or sitemap indexes) to read besides those robots.txt announces."""
    feeds: tuple[str, ...] = ()
    """RSS/Atom feeds to read besides those the start and list pages announce."""
    discover: bool = True
    """Look for sitemaps (robots.txt, ``/sitemap.xml``, ``/sitemap_index.xml``) and feeds
    (``<link rel="alternate">``) by itself; the configured ``sitemaps`` and ``feeds`` are read
    either way."""
    recheck_days: float = 2.0
    """Articles published (else first seen) within this many days are re-checked on later runs
    with a conditional request; older archived articles are not fetched again. 0: never."""
    path: str | None = None
    """The file this config was read from, for messages."""

    def compiled(self) -> CompiledPatterns:
        return CompiledPatterns(
            article=tuple(re.compile(p) for p in self.article_patterns),
            listing=tuple(re.compile(p) for p in self.list_patterns),
            pagination=tuple(re.compile(p) for p in self.pagination_patterns),
            deny=tuple(re.compile(p) for p in self.deny_patterns),
        )

    def with_start(self, start_urls: list[str], allowed_domains: list[str]) -> SiteConfig:
        """The same site served elsewhere (the demo portal binds a free port)."""
        from dataclasses import replace

        return replace(self, start_urls=tuple(start_urls), allowed_domains=tuple(allowed_domains))


@dataclass(frozen=True, slots=True)
class CompiledPatterns:
    article: tuple[re.Pattern[str], ...]
    listing: tuple[re.Pattern[str], ...]
    pagination: tuple[re.Pattern[str], ...]
    deny: tuple[re.Pattern[str], ...]


# --- validation ---------------------------------------------------------------------------------


class _Reader:
    """Pulls typed values out of the parsed TOML. A bad value is recorded (file-wide, in
    ``problems``) and read as absent, so the rest of the file is still checked."""

    def __init__(
        self,
        file: str,
        data: Mapping[str, Any],
        prefix: str = "",
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        self.file, self.data, self.prefix = file, data, prefix
        self.seen: set[str] = set()
        self.problems: list[tuple[str, str]] = [] if problems is None else problems
        #: The table itself was of the wrong type: its keys are not reported missing as well.
        self.broken = False

    def err(self, key: str, expected: str) -> None:
        self.problems.append((self.prefix + key, expected))

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        expected: str,
        default: Any = None,
        required: bool = False,
    ) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required and not self.broken:
                self.err(key, f"missing (expected {expected})")
            return default
        value = self.data[key]
        # bool is an int subclass: `concurrency = true` must not pass as 1.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.err(key, f"expected {expected}, got {value!r}")
            return default
        if not isinstance(value, kind):
            self.err(key, f"expected {expected}, got {type(value).__name__} {value!r}")
            return default
        return value

    def number(self, key: str, default: Any = None) -> Any:
        """A numeric key in its range (`NUMERIC_KEYS`); a bad value is recorded, read as absent."""
        self.seen.add(key)
        if key not in self.data:
            return default
        problem = NUMERIC_KEYS[self.prefix + key].problem(self.data[key])
        if problem is not None:
            self.err(key, problem)
            return default
        return self.data[key]

    def str_list(
        self,
        key: str,
        expected: str,
        required: bool = False,
        check: Callable[[str], str | None] | None = None,
    ) -> tuple[str, ...]:
        """The valid items (each bad one is recorded)."""
        value = self.get(key, (list, str), expected, default=[], required=required)
        items = [value] if isinstance(value, str) else value
        good: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                self.err(f"{key}[{i}]", f"expected {expected}, got {item!r}")
                continue
            problem = check(item) if check is not None else None
            if problem:
                self.err(f"{key}[{i}]", f"{problem}, got {item!r}")
                continue
            good.append(item)
        if required and self.data.get(key) == []:
            self.err(key, f"expected {expected}, got an empty list")
        return tuple(good)

    def table(self, key: str) -> _Reader:
        present = key in self.data
        value = self.get(key, dict, "a table", default={})
        reader = _Reader(self.file, value, f"{self.prefix}{key}.", self.problems)
        reader.broken = present and not isinstance(self.data[key], dict)
        return reader

    def reject_unknown(self) -> None:
        known = ", ".join(sorted(self.seen))
        for key in sorted(set(self.data) - self.seen):
            self.err(key, f"unknown key (expected one of: {known})")

    def raise_problems(self) -> None:
        if self.problems:
            (key, expected), *more = self.problems
            raise ConfigError(self.file, key, expected, more)


def _selector_problem(value: str) -> str | None:
    """Why a selector cannot be used (compiled as the extractor will: XPath when it starts with
    ``/`` or ``(``, CSS otherwise), or None. Found here, not on the first page of a crawl."""
    from crawler.extract.dom import compile_selector
    from crawler.extract.errors import ExtractionError

    try:
        compile_selector(value)
    except ExtractionError as exc:
        return f"not a usable selector ({exc.__cause__}): {value!r}"
    return None


def _regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"expected a valid regular expression ({exc})"
    return None


def _cron_problem(expr: str) -> str | None:
    from datetime import datetime

    from cronsim import CronSim, CronSimError

    if len(expr.split()) != 5:
        return "minute hour day month weekday"
    try:
        CronSim(expr, datetime(2020, 1, 1))
    except CronSimError as exc:
        return str(exc).rstrip(".")
    return None


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an absolute http(s) URL"
    return None


def host_in_domains(host: str, domains: tuple[str, ...] | list[str]) -> bool:
    """The host is one of the domains or a subdomain of one (ports play no part)."""
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in domains)


_LABEL_RE = re.compile(r"[\w-]+")


@functools.cache
def _suffix_list() -> Any:
    """The Public Suffix List snapshot bundled with tldextract: never fetched, never cached to
    disk (a config check must work offline and write nothing)."""
    import tldextract

    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` is itself a public suffix (``com``, ``cn``, ``com.cn``, ``co.uk``, and
    the private registries such as ``github.io``):
    no site's own domain. A single-label name that is no suffix (``localhost``, an intranet
    host such as ``newsserver``) is a host."""
    parts = _suffix_list()(domain.lower().rstrip("."))
    return not parts.domain and bool(parts.suffix)


def _domain_problem(domain: str) -> str | None:
    """Why an ``allowed_domains`` entry cannot be used: not a bare domain name (a URL, a
    wildcard, empty labels), or a public suffix (``*``, ``com``, ``com.cn`` would let the crawl
    follow links to every site under it)."""
    if "/" in domain or ":" in domain or any(c.isspace() for c in domain):
        return "expected a bare domain name such as 'www.example.com'"
    if "*" in domain:
        return (
            "expected a domain without wildcards (a domain includes its subdomains: "
            "'example.com' covers 'news.example.com')"
        )
    if not all(_LABEL_RE.fullmatch(label) for label in domain.split(".")):
        return "expected a domain name of letters, digits and '-' separated by dots"
    if is_public_suffix(domain):
        return (
            "expected the site's own domain, not a public suffix (a top-level domain or a "
            "registry such as 'com.cn') that covers every site under it"
        )
    return None


def _host_port_problem(entry: str) -> str | None:
    host, sep, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if not host or "/" in host or " " in host or (sep and not port.isdigit()):
        return "expected a host or host:port such as '10.0.0.5:8080'"
    return None


def _allow_private(r: _Reader) -> tuple[bool, tuple[str, ...]]:
    """``allow_private``: true (every private address), false, or a list of the only private
    ``host``/``host:port`` the crawl may reach."""
    expected = "true, false or a list of 'host' / 'host:port'"
    value = r.get("allow_private", (bool, list), expected, default=False)
    if isinstance(value, bool):
        return value, ()
    hosts = r.str_list("allow_private", "a 'host' or 'host:port'", check=_host_port_problem)
    if value == []:
        r.err("allow_private", f"expected {expected}, got an empty list")
    return False, tuple(h.lower() for h in hosts)


def parse_site(
    data: Mapping[str, Any], file: str = "<config>", *, check_start_urls: bool = False
) -> SiteConfig:
    """Validate parsed TOML and build a SiteConfig. Raises one ConfigError naming every problem
    of the file: each check reads a bad value as absent and the checks go on.

    ``check_start_urls`` (`zhengwen check-site`): also refuse start URLs the crawl would refuse
    at its first request (`start_url_problems`)."""
    r = _Reader(file, data)
    name = r.get("name", str, "a site name of lowercase letters, digits, '-' or '_'", required=True)
    if name is not None and not NAME_RE.match(name):
        r.err("name", f"expected lowercase letters, digits, '-' or '_' (at most 64), got {name!r}")
    start_urls = r.str_list(
        "start_urls", "an absolute http(s) URL", required=True, check=_url_problem
    )
    domains = r.str_list("allowed_domains", "a domain name", check=_domain_problem)
    if not domains:
        domains = tuple(sorted({urlsplit(u).hostname or "" for u in start_urls}))
    site_name = r.get("site_name", str, "a string")
    tz = r.get(
        "timezone", str, "an IANA time zone such as 'Asia/Shanghai'", default="Asia/Shanghai"
    )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.err("timezone", f"expected an IANA time zone such as 'Asia/Shanghai', got {tz!r}")
    encoding = r.get("encoding", str, "an encoding name such as 'gb18030'")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            r.err(
                "encoding",
                f"expected an encoding Python knows (e.g. 'gb18030', 'utf-8'), got {encoding!r}",
            )
    language = r.get("language", str, "a language code such as 'zh'")
    max_pages = r.number("max_pages")
    max_depth = r.number("max_depth", default=8)
    allow_private, private_hosts = _allow_private(r)

    sitemaps = r.str_list("sitemaps", "an absolute http(s) URL", check=_url_problem)
    feeds = r.str_list("feeds", "an absolute http(s) URL", check=_url_problem)
    r.problems.extend(_offsite_problems("sitemaps", data.get("sitemaps"), sitemaps, domains))
    r.problems.extend(_offsite_problems("feeds", data.get("feeds"), feeds, domains))
    discover = r.get("discover", bool, "true or false", default=True)

    urls = r.table("urls")
    article = urls.str_list("article", "a regular expression", required=True, check=_regex_problem)
    listing = urls.str_list("list", "a regular expression", check=_regex_problem)
    pagination = urls.str_list("pagination", "a regular expression", check=_regex_problem)
    deny = urls.str_list("deny", "a regular expression", check=_regex_problem)
    urls.reject_unknown()

    sel = r.table("selectors")
    selectors: dict[str, str] = {}
    for key in SELECTOR_FIELDS:
        value = sel.get(key, str, "a CSS selector or an XPath starting with '/'")
        if value is None:
            continue
        if not value.strip():
            sel.err(key, "expected a CSS selector or XPath, got an empty string")
            continue
        problem = _selector_problem(value)
        if problem is not None:
            sel.err(key, problem)
            continue
        selectors[key] = value
    sel.reject_unknown()

    pol = r.table("politeness")
    delay = pol.number("download_delay", default=0.5)
    conc = pol.number("concurrency", default=4)
    robots = pol.get("obey_robots", bool, "true or false", default=True)
    pol.reject_unknown()
    schedule = r.get("schedule", str, "a cron expression such as '0 */2 * * *'")
    if schedule is not None:
        problem = _cron_problem(schedule)
        if problem:
            r.err("schedule", f"expected a 5-field cron expression ({problem}), got {schedule!r}")
    inc = r.table("incremental")
    recheck = inc.number("recheck_days", default=2.0)
    inc.reject_unknown()
    r.reject_unknown()
    if check_start_urls:
        positions = _positions(data.get("start_urls"))
        policy = (allow_private, private_hosts)
        r.problems.extend(start_url_problems(start_urls, domains, policy, positions))
    r.raise_problems()

    return SiteConfig(
        name=name,
        start_urls=start_urls,
        allowed_domains=domains,
        article_patterns=article,
        list_patterns=listing,
        pagination_patterns=pagination,
        deny_patterns=deny,
        site_name=site_name,
        timezone=tz,
        encoding=encoding,
        language=language,
        selectors=selectors,
        max_pages=max_pages,
        max_depth=max_depth,
        allow_private=allow_private,
        private_hosts=private_hosts,
        politeness=Politeness(float(delay), conc, robots),
        schedule=schedule,
        recheck_days=float(recheck),
        sitemaps=sitemaps,
        feeds=feeds,
        discover=discover,
        path=file,
    )


def _positions(value: Any) -> dict[str, int]:
    """Each item's first position in a list of the file, for messages (bad items are left out
    of the config, so positions in it need not be the file's)."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return {item: i for i, item in reversed(list(enumerate(items))) if isinstance(item, str)}


def _offsite_problems(
    key: str, raw: Any, urls: Sequence[str], domains: Sequence[str]
) -> list[tuple[str, str]]:
    """Sitemap and feed URLs outside ``allowed_domains``: the crawl would skip them as offsite."""
    index = _positions(raw)
    out: list[tuple[str, str]] = []
    for url in urls:
        host = urlsplit(url).hostname or ""
        if not host_in_domains(host, tuple(domains)):
            out.append(
                (
                    f"{key}[{index.get(url, 0)}]",
                    f"{url} is outside allowed_domains ({', '.join(domains)}): the crawl would "
                    f"skip it as offsite; add {host} to allowed_domains",
                )
            )
    return out


def start_url_problems(
    start_urls: Sequence[str],
    domains: Sequence[str],
    allow_private: tuple[bool, tuple[str, ...]],
    index: Mapping[str, int] | None = None,
) -> list[tuple[str, str]]:
    """Start URLs a crawl would refuse before fetching them, found without a request and without
    resolving a name: a host outside ``allowed_domains`` (Scrapy filters it as offsite) and an
    IP literal or ``localhost`` on a private, loopback or link-local address that
    ``allow_private`` does not allow (a host name that resolves to one is only found by the
    crawl, whose log then names ``allow_private``)."""
    from crawler.addresses import AddressPolicy, host_port

    policy = AddressPolicy(*allow_private)
    out: list[tuple[str, str]] = []
    for i, url in enumerate(start_urls):
        key = f"start_urls[{(index or {}).get(url, i)}]"
        host, port = host_port(url)
        if not host_in_domains(host, tuple(domains)):
            out.append(
                (
                    key,
                    f"{url} is outside allowed_domains ({', '.join(domains)}): the crawl would "
                    f"skip it as offsite; add {host} to allowed_domains",
                )
            )
        if policy.refuses(url):
            out.append(
                (
                    key,
                    f"{url} is a private, loopback or link-local address, which the crawl "
                    f"refuses: allow it with allow_private = true, or only it with "
                    f'allow_private = ["{host}:{port}"] (demo, test and intranet portals)',
                )
            )
    return out


def load_site_file(path: str | Path, *, check_start_urls: bool = False) -> SiteConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), "(file)", f"cannot be read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(p), "(file)", "expected UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), "(syntax)", f"expected valid TOML ({exc})") from None
    except RecursionError:
        # Python's TOML parser recurses once per level of ``[[[…`` or ``{a = {…``.
        data = None
    if data is None or _nesting(data) > MAX_NESTING:
        raise ConfigError(str(p), "(syntax)", _TOO_DEEP) from None
    return parse_site(data, str(p), check_start_urls=check_start_urls)


#: Levels of tables and arrays a config may nest (the file itself is one): a site config needs
#: three (``[urls]``, its lists); a file nested thousands deep broke the TOML parser and every
#: message naming a value with a RecursionError.
MAX_NESTING = 8
_TOO_DEEP = f"expected tables and arrays nested at most {MAX_NESTING} levels deep"


def _nesting(data: Any) -> int:
    """How deep tables and arrays nest in parsed TOML (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def default_sites_dirs() -> list[Path]:
    """Where site names are looked up: ./sites, then the sites/ folder shipped beside the code."""
    here = Path(__file__).resolve().parent
    dirs = [Path.cwd() / "sites", here.parent / "sites", here / "demo"]
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def resolve_site(
    site_or_path: str, sites_dirs: list[Path] | None = None, *, check_start_urls: bool = False
) -> SiteConfig:
    """A site by name (``fazhi``) or by path (``sites/fazhi.toml``)."""
    if site_or_path.endswith(".toml") or "/" in site_or_path or "\\" in site_or_path:
        return load_site_file(site_or_path, check_start_urls=check_start_urls)
    if not NAME_RE.match(site_or_path):
        raise ConfigError(site_or_path, "(site)", "expected a site name or a path to a .toml file")
    for d in sites_dirs if sites_dirs is not None else default_sites_dirs():
        candidate = d / f"{site_or_path}.toml"
        if candidate.is_file():
            return load_site_file(candidate, check_start_urls=check_start_urls)
    where = ", ".join(str(d) for d in (sites_dirs or default_sites_dirs()))
    raise ConfigError(
        site_or_path, "(site)", f"no such site config; looked for {site_or_path}.toml in {where}"
    )
