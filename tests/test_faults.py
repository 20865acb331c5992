"""Faults of the web (issue 7): one real crawl of the fault portal (tests/fault_portal.py) over
HTTP on 127.0.0.1 into real SQLite and Parquet, then one test per fault kind.

Each test checks what was recorded for its fault (a stats key, the run record's counter in SQL,
the log line and its level) and that the rest of the portal was archived all the same. The
crawl runs once for the module (about half a minute): ``scrapy crawl portal`` in a subprocess,
with a short download timeout and backoff so the never-answering page costs seconds, not
minutes. Times are only checked as lower bounds (a retry waited *at least* its backoff), which
a busy machine cannot break.

docs/reliability.md shows the table of these faults.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler import settings as defaults
from crawler.demo.content import ArticleTruth, Portal
from storage.check import check_archive
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.fault_portal import (
    RETRY_AFTER,
    Fault,
    RunningFaults,
    private_hostname,
    resolves_private,
    serve_faults,
    site_toml,
)
from tests.test_crawl_e2e import run

REPO = Path(__file__).resolve().parent.parent
N_ARTICLES = 30
#: Long enough that no page of a loopback server times out on a busy machine (a normal page
#: retried for a timeout would make the counts below wrong), short enough for a 35 s crawl.
TIMEOUT = 10.0
BACKOFF = 0.5
MAX_DEPTH = 6
SIZE_LIMIT = defaults.DOWNLOAD_MAXSIZE
LOG_LINE = re.compile(r"^\S+ \S+ \[(?P<logger>[^\]]+)\] (?P<level>[A-Z]+): (?P<msg>.*)$")
STAT_LINE = re.compile(r"'(?P<key>[^']+)': (?P<value>\d+),?\}?$")


@dataclass(frozen=True)
class Crawl:
    faults: RunningFaults
    portal: Portal
    returncode: int
    stderr: str
    status: str
    counters: dict[str, Any]
    """The run record's counters, as stored in SQL (crawl_runs)."""
    stats: dict[str, int]
    """Scrapy's stats as dumped at the end of the log (integer values)."""
    log: list[tuple[str, str, str]]
    """(level, logger, message) of every log line."""
    stored: dict[str, Any]
    """Articles in SQL by URL."""
    parquet_urls: set[str]
    differences: list[str]
    """What `zhengwen check-archive` finds between SQL, Parquet and the raw archive."""

    def url(self, path: str) -> str:
        return self.faults.url + path

    def fault(self, kind: str) -> Fault:
        return self.faults.state.fault(kind)

    def logged(self, level: str, *parts: str) -> list[str]:
        return [m for lv, _, m in self.log if lv == level and all(p in m for p in parts)]

    def attempts(self, fault: Fault) -> list[float]:
        return self.faults.state.seen(fault.path)


#: Fault pages on portal article URLs that can never be archived.
LOST = ("timeout", "connection_reset", "truncated_body", "empty_article")
#: Fault pages on portal article URLs that must be archived, intact, in the end.
RECOVERED = (
    "http_500_transient",
    "http_502_transient",
    "http_503_transient",
    "http_429_retry_after",
    "gb2312_declared_utf8_sent",
    "utf8_declared_gb2312_sent",
    "long_line",
)


def _crawl_cmd(config: Path, archive: Path, log_file: Path) -> list[str]:
    settings = {
        "ZHENGWEN_ARCHIVE_DIR": archive,
        "LOG_FILE": log_file,
        "LOG_LEVEL": "INFO",
        "DOWNLOAD_TIMEOUT": TIMEOUT,
        "ZHENGWEN_RETRY_BACKOFF_BASE": BACKOFF,
    }
    args = [sys.executable, "-m", "scrapy", "crawl", "portal", "-a", f"site={config}"]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    return args


def _parse_log(text: str) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    log: list[tuple[str, str, str]] = []
    stats: dict[str, int] = {}
    in_stats = False
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            log.append((m["level"], m["logger"], m["msg"]))
            in_stats = "Dumping Scrapy stats" in m["msg"]
            continue
        s = STAT_LINE.search(line.strip()) if in_stats else None
        if s:
            stats[s["key"]] = int(s["value"])
    return log, stats


def _crawl(tmp: Path, faults: RunningFaults, portal: Portal, config_text: str) -> Crawl:
    """Crawl the running fault portal with this config; what the run left behind."""
    config = tmp / "faults.toml"
    config.write_text(config_text, encoding="utf-8")
    archive, log_file = tmp / "archive", tmp / "crawl.log"
    result = run(_crawl_cmd(config, archive, log_file), REPO)
    log, stats = _parse_log(log_file.read_text(encoding="utf-8"))
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        runs = db.runs("faults")
        stored = {a.url: a for a in db.iter_articles("faults")}
    dataset = ParquetDataset(paths.parquet_dir)
    urls = set(dataset.read_table("faults").column("url").to_pylist()) if stored else set()
    with Database(paths.default_db_url) as db:
        checked = check_archive(db, dataset, paths.raw_dir)
    return Crawl(
        faults=faults,
        portal=portal,
        returncode=result.returncode,
        stderr=result.stderr,
        status=runs[0].status if runs else "none",
        counters=runs[0].counters if runs else {},
        stats=stats,
        log=log,
        stored=stored,
        parquet_urls=urls,
        differences=[d.line() for d in checked.differences],
    )


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    portal = Portal.generate(n_articles=N_ARTICLES, seed=424242)
    with serve_faults(portal, SIZE_LIMIT) as faults:
        text = site_toml(faults.url, hostname=private_hostname(), max_depth=MAX_DEPTH)
        yield _crawl(tmp_path_factory.mktemp("faults"), faults, portal, text)


def assert_rest_archived(crawl: Crawl) -> None:
    """Every portal article that carries no fault, and every recovered one, is in SQL and in
    Parquet; the run finished ok with one run record."""
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert crawl.status == "ok"
    faulty = {f.path for f in crawl.faults.state.faults if f.kind not in RECOVERED}
    expected = {a.url(crawl.faults.url) for a in crawl.portal.articles() if a.path not in faulty}
    assert len(expected) == N_ARTICLES - len(LOST) - 1  # and the nested page
    assert expected <= set(crawl.stored)
    assert expected <= crawl.parquet_urls
    # Nothing but portal articles was archived (no fault page, no trap page).
    portal_urls = {a.url(crawl.faults.url) for a in crawl.portal.articles()}
    assert set(crawl.stored) <= portal_urls
    assert crawl.counters["articles_new"] == len(crawl.stored)
    # The stores agree (zhengwen check-archive): 0 differences.
    assert crawl.differences == []


def _truth(crawl: Crawl, kind: str) -> ArticleTruth:
    art = crawl.fault(kind).article
    assert art is not None
    return art


# --- transient errors: retried with backoff, then archived ------------------------------------


@pytest.mark.parametrize(
    ("kind", "failures"),
    [("http_500_transient", 1), ("http_502_transient", 1), ("http_503_transient", 2)],
)
def test_transient_5xx_is_retried_with_backoff_and_archived(
    crawl: Crawl, kind: str, failures: int
) -> None:
    fault = crawl.fault(kind)
    status = kind.split("_")[1]
    times = crawl.attempts(fault)
    assert len(times) == failures + 1
    # Retry n waits BACKOFF * 2**(n-1) after the failed answer.
    for n, (before, after) in enumerate(itertools.pairwise(times), start=1):
        assert after - before >= BACKOFF * 2 ** (n - 1)
    assert crawl.counters["retries"][f"http_{status}"] >= failures
    assert crawl.stats[f"zhengwen/retries/http_{status}"] >= failures
    assert crawl.logged("INFO", "Retrying", fault.path, f"http_{status}")
    stored = crawl.stored[crawl.url(fault.path)]
    assert stored.title == _truth(crawl, kind).title
    assert_rest_archived(crawl)


def test_429_waits_retry_after_then_archived(crawl: Crawl) -> None:
    fault = crawl.fault("http_429_retry_after")
    first, second = crawl.attempts(fault)
    assert second - first >= RETRY_AFTER
    assert crawl.counters["retries"]["http_429"] >= 1
    assert crawl.logged("INFO", "Retrying", fault.path, "as Retry-After asks")
    assert crawl.url(fault.path) in crawl.stored
    assert_rest_archived(crawl)


def test_429_with_a_day_long_retry_after_is_given_up_at_once(crawl: Crawl) -> None:
    fault = crawl.fault("http_429_retry_after_too_long")
    assert len(crawl.attempts(fault)) == 1
    assert crawl.stats["zhengwen/retry/retry_after_too_long"] == 1
    assert crawl.counters["errors"]["http_429"] == 1
    assert crawl.logged("INFO", "Not retrying", fault.path, "Retry-After 86400")
    assert crawl.logged("WARNING", "Fetch failed (http_429)", fault.path)
    assert_rest_archived(crawl)


def test_permanent_503_is_retried_then_recorded(crawl: Crawl) -> None:
    fault = crawl.fault("http_503_permanent")
    times = crawl.attempts(fault)
    assert len(times) == 1 + defaults.RETRY_TIMES
    assert times[1] - times[0] >= BACKOFF and times[2] - times[1] >= 2 * BACKOFF
    assert crawl.counters["errors"]["http_503"] == 1
    assert crawl.stats["zhengwen/errors/http_503"] == 1
    assert crawl.logged("WARNING", "Fetch failed (http_503)", fault.path)
    assert_rest_archived(crawl)


# --- connection faults: retried, then skipped with their reason --------------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("timeout", "timeout"),
        ("connection_reset", "connection_reset"),
        ("truncated_body", "data_loss"),
    ],
)
def test_connection_fault_is_retried_then_recorded(crawl: Crawl, kind: str, reason: str) -> None:
    fault = crawl.fault(kind)
    times = crawl.attempts(fault)
    assert len(times) == 1 + defaults.RETRY_TIMES
    assert all(b - a >= BACKOFF for a, b in itertools.pairwise(times))
    assert crawl.counters["retries"][reason] == defaults.RETRY_TIMES
    assert crawl.counters["errors"][reason] == 1
    assert crawl.stats[f"zhengwen/errors/{reason}"] == 1
    assert crawl.logged("WARNING", f"Fetch failed ({reason})", fault.path)
    # A partial body is never archived as if it were the article.
    assert crawl.url(fault.path) not in crawl.stored
    assert_rest_archived(crawl)


# --- limits: size and decompression -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["too_large_declared", "too_large_streamed"])
def test_page_50x_the_size_limit_is_cut_off_and_recorded(crawl: Crawl, kind: str) -> None:
    fault = crawl.fault(kind)
    assert len(crawl.attempts(fault)) == 1  # not retried: it would be as large again
    assert crawl.counters["errors"]["too_large"] == 2
    assert crawl.logged("WARNING", "Fetch failed (too_large)", fault.path)
    assert crawl.logged("WARNING", "larger than download max size", fault.path)
    # The crawler read at most about the limit, not the 500 MB on offer.
    assert crawl.counters["bytes"] < 3 * SIZE_LIMIT
    assert_rest_archived(crawl)


def test_gzip_bomb_stops_at_the_decompression_limit(crawl: Crawl) -> None:
    fault = crawl.fault("gzip_bomb")
    assert len(crawl.faults.state.bomb) < SIZE_LIMIT // 10  # small on the wire
    assert crawl.counters["errors"]["decompressed_too_large"] == 1
    assert crawl.stats["zhengwen/errors/decompressed_too_large"] == 1
    assert crawl.logged("WARNING", "Fetch failed (decompressed_too_large)", fault.path)
    assert crawl.logged("WARNING", "exceeded DOWNLOAD_MAXSIZE", "during decompression")
    assert_rest_archived(crawl)


# --- redirects ------------------------------------------------------------------------------------


def test_redirect_loop_is_cut_and_recorded(crawl: Crawl) -> None:
    a, b = crawl.fault("redirect_loop"), crawl.fault("redirect_loop_back")
    assert len(crawl.attempts(a)) == 1 and len(crawl.attempts(b)) == 1
    assert crawl.counters["errors"]["redirect_loop"] == 1
    assert crawl.logged("WARNING", "Redirect not followed (redirect_loop)", b.path, a.path)
    assert_rest_archived(crawl)


def test_endless_redirect_chain_stops_at_redirect_max_times(crawl: Crawl) -> None:
    fault = crawl.fault("redirect_endless")
    hops = [p for p, _ in crawl.faults.state.hits if p.startswith(fault.path)]
    assert len(hops) == 1 + defaults.REDIRECT_MAX_TIMES
    assert crawl.counters["errors"]["too_many_redirects"] == 1
    assert crawl.logged("WARNING", "Redirect not followed (too_many_redirects)", fault.path)
    assert_rest_archived(crawl)


def test_redirect_to_another_domain_is_not_followed(crawl: Crawl) -> None:
    fault = crawl.fault("redirect_offsite")
    assert crawl.counters["skipped"]["offsite_redirect"] == 1
    assert crawl.stats["zhengwen/skipped/offsite_redirect"] == 1
    assert crawl.logged("INFO", "Redirect not followed (offsite_redirect)", fault.path)
    # Not even looked up: a followed redirect to this unresolvable name would be a dns error.
    assert "dns" not in crawl.counters["errors"]
    assert_rest_archived(crawl)


def test_redirects_to_private_addresses_are_refused_before_any_connection(crawl: Crawl) -> None:
    """The portal itself is on loopback and allowed (its own host:port only); redirects to the
    cloud metadata address, to 10.x, to another port of 127.0.0.1 and to a host name that
    resolves to loopback are all refused. The last two point at a live server (the canary),
    which must have seen no request at all."""
    kinds = ["redirect_link_local", "redirect_private_10", "redirect_loopback_other_port"]
    hostname = private_hostname()
    if resolves_private(hostname):
        kinds.append("redirect_hostname_private")
    for kind in kinds:
        assert len(crawl.attempts(crawl.fault(kind))) == 1
    assert crawl.counters["errors"]["private_address"] == len(kinds)
    assert crawl.stats["zhengwen/errors/private_address"] == len(kinds)
    assert crawl.logged("WARNING", "Redirect not followed (private_address)", "169.254.169.254")
    assert crawl.logged("WARNING", "Redirect not followed (private_address)", "http://10.0.0.1/")
    if "redirect_hostname_private" in kinds:
        assert crawl.logged("WARNING", "Refused request to a private address", hostname)
    assert crawl.logged(
        "WARNING", "Redirect not followed (private_address)", crawl.faults.canary.url
    )
    assert crawl.faults.canary.requests == []
    assert_rest_archived(crawl)


# --- traps and robots.txt -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "prefix"), [("calendar_trap", "/trap/cal/"), ("pagination_trap", "/trap/list/")]
)
def test_trap_is_bounded_by_depth(crawl: Crawl, kind: str, prefix: str) -> None:
    fetched = crawl.faults.state.count(prefix)
    # /fault/ is a start page (depth 0): the trap's pages sit at depth 1..MAX_DEPTH, and the
    # calendar grows both ways (a day before and a day after).
    bound = MAX_DEPTH if kind == "pagination_trap" else 2 * MAX_DEPTH - 1
    assert 2 <= fetched <= bound
    assert crawl.counters["skipped"]["depth"] >= 1
    assert crawl.stats["depth/request_ignored_count"] == crawl.counters["skipped"]["depth"]
    assert_rest_archived(crawl)


def test_traps_are_bounded_by_the_page_budget_too(tmp_path: Path) -> None:
    """A second, small crawl: only the two traps as start pages, a depth limit they never reach
    (100) and a budget of 12 pages. The budget holds exactly, and the skips are recorded."""
    budget = 12
    portal = Portal.generate(n_articles=N_ARTICLES, seed=424242)
    with serve_faults(portal, SIZE_LIMIT) as faults:
        text = site_toml(
            faults.url,
            hostname=private_hostname(),
            max_depth=100,
            start_paths=("/trap/list/index_1.html", "/trap/cal/2024-01-01.html"),
            max_pages=budget,
        )
        result = _crawl(tmp_path, faults, portal, text)
        assert result.returncode == 0, result.stderr[-3000:]
        # Sitemaps and feeds count against the budget too (the default sitemap paths are
        # probed when the crawl first runs out of requests, if the budget is not spent).
        probes = faults.state.count("/sitemap")
        assert faults.state.count("/trap/") + probes == budget
    assert result.status == "ok"
    assert result.counters["pages_fetched"] == budget  # robots.txt is fetched, not counted
    assert result.counters["skipped"]["max_pages"] >= 1
    assert result.stats["zhengwen/spider/skipped/max_pages"] >= 1
    assert "depth" not in result.counters["skipped"]
    assert len(result.logged("INFO", f"Page budget of {budget} reached")) == 1


def test_robots_txt_disallowed_section_is_never_fetched(crawl: Crawl) -> None:
    fault = crawl.fault("robots_disallowed")
    assert crawl.attempts(fault) == []
    assert crawl.faults.state.count("/fault/members/") == 0
    # /admin/ (the demo portal's own rule) and /fault/members/.
    assert crawl.counters["skipped"]["robots"] == 2
    assert crawl.logged("INFO", "Skipped", fault.path, "robots.txt")
    assert_rest_archived(crawl)


# --- hostile bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gb2312_declared_utf8_sent", "utf8_declared_gb2312_sent"])
def test_page_whose_declared_charset_lies_is_read_right(crawl: Crawl, kind: str) -> None:
    truth = _truth(crawl, kind)
    stored = crawl.stored[crawl.url(truth.path)]
    assert stored.title == truth.title
    assert stored.body.splitlines() == list(truth.body)
    assert_rest_archived(crawl)


def test_binary_served_as_html_is_dropped_as_undecodable(crawl: Crawl) -> None:
    fault = crawl.fault("binary_as_html")
    assert crawl.counters["dropped"]["undecodable"] == 1
    assert crawl.stats["zhengwen/dropped/undecodable"] == 1
    assert crawl.logged("INFO", "Dropped", fault.path, "undecodable")
    assert_rest_archived(crawl)


def test_empty_article_is_dropped_with_a_reason(crawl: Crawl) -> None:
    truth = _truth(crawl, "empty_article")
    assert crawl.url(truth.path) not in crawl.stored
    lines = crawl.logged("INFO", "Dropped", truth.path)
    assert len(lines) == 1
    reason = lines[0].split(": ", 2)[1]
    assert reason in ("not_article", "no_body", "too_short")
    assert crawl.counters["dropped"][reason] >= 1
    assert_rest_archived(crawl)


def test_deeply_nested_malformed_page_is_archived_or_dropped_with_a_reason(crawl: Crawl) -> None:
    """5,000 open elements (libxml2 stops the tree at 256) with misnested and stray tags: the
    text may be out of the parser's reach, but the page is never lost without a word."""
    truth = _truth(crawl, "nested_malformed")
    url = crawl.url(truth.path)
    if url in crawl.stored:
        assert crawl.stored[url].title == truth.title
    else:
        lines = crawl.logged("INFO", "Dropped", truth.path)
        assert len(lines) == 1
        assert crawl.counters["dropped"][lines[0].split(": ", 2)[1]] >= 1
    assert_rest_archived(crawl)


def test_page_with_a_5mb_single_line_is_archived(crawl: Crawl) -> None:
    truth = _truth(crawl, "long_line")
    stored = crawl.stored[crawl.url(truth.path)]
    assert stored.title == truth.title
    assert stored.body.splitlines() == list(truth.body)
    assert "__STATE__" not in stored.body
    assert_rest_archived(crawl)


def test_every_fault_kind_has_a_test() -> None:
    """The fault portal and this file stay in step: a new fault kind needs its test here."""
    source = Path(__file__).read_text(encoding="utf-8")
    state_kinds = {
        "http_500_transient", "http_502_transient", "http_503_transient",
        "http_429_retry_after", "http_429_retry_after_too_long", "http_503_permanent",
        "timeout", "connection_reset", "truncated_body", "too_large_declared",
        "too_large_streamed", "gzip_bomb", "redirect_loop", "redirect_loop_back",
        "redirect_endless", "redirect_offsite", "redirect_link_local", "redirect_private_10",
        "redirect_loopback_other_port", "redirect_hostname_private", "robots_disallowed",
        "gb2312_declared_utf8_sent", "utf8_declared_gb2312_sent", "binary_as_html",
        "empty_article", "nested_malformed", "long_line", "calendar_trap", "pagination_trap",
    }  # fmt: skip
    from tests.fault_portal import FaultState, build

    state = FaultState(Portal.generate(n_articles=N_ARTICLES, seed=424242), 1024, "http://x:1", "h")
    build(state)
    assert {f.kind for f in state.faults} == state_kinds
    for kind in state_kinds:
        assert source.count(f'"{kind}"') >= 2, kind


# --- the pieces, without a crawl ------------------------------------------------------------------


def test_allow_private_list_allows_only_the_listed_host_and_port() -> None:
    from crawler.config import ConfigError, parse_site
    from crawler.middlewares import AddressPolicy

    base = {"name": "x", "start_urls": ["http://127.0.0.1:8765/"], "urls": {"article": ["a"]}}
    site = parse_site({**base, "allow_private": ["127.0.0.1:8765", "Intranet.Local"]})
    assert site.allow_private is False
    assert site.private_hosts == ("127.0.0.1:8765", "intranet.local")
    policy = AddressPolicy.of_site(site)
    assert not policy.refuses("http://127.0.0.1:8765/a.html")
    assert policy.refuses("http://127.0.0.1:8766/a.html")
    assert policy.refuses("http://169.254.169.254/latest/meta-data/")
    assert not policy.refuses("http://intranet.local:81/")
    assert not AddressPolicy.of_site(parse_site({**base, "allow_private": True})).refuses(
        "http://10.0.0.1/"
    )
    with pytest.raises(ConfigError, match=r"allow_private\[0\]: expected a host or host:port"):
        parse_site({**base, "allow_private": ["http://10.0.0.1/"]})
    with pytest.raises(ConfigError, match="allow_private: expected true, false or a list"):
        parse_site({**base, "allow_private": []})


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from crawler.middlewares import retry_after_seconds

    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(b"soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    wait = retry_after_seconds(later.encode())
    assert wait is not None and 500 < wait <= 600
    past = format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds(past.encode()) == 0.0


def test_every_skip_scrapy_counts_reaches_the_run_record() -> None:
    """Scrapy's own counters of what it did not fetch or could not parse become named entries
    of the run record, next to zhengwen's."""
    from crawler.extensions import RunCounters

    counters = RunCounters.from_stats(
        {
            "robotstxt/forbidden": 2,
            "offsite/filtered": 1,
            "depth/request_ignored_count": 3,
            "urllength/request_ignored_count": 4,
            "spider_exceptions/count": 1,
            "spider_exceptions/ValueError": 1,
            "zhengwen/skipped/offsite_redirect": 5,
            "zhengwen/errors/too_large": 6,
            "zhengwen/retries/http_503": 7,
        }
    )
    assert counters.skipped == {
        "robots": 2,
        "offsite": 1,
        "depth": 3,
        "url_too_long": 4,
        "offsite_redirect": 5,
    }
    assert counters.errors == {"too_large": 6, "spider_exception": 1}
    assert counters.retries == {"http_503": 7}
